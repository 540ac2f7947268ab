import CHFShare
import Foundation
import Glibc

/// What happened to one finding.
public enum Outcome: String, Sendable, Codable {
    /// audit: reported only.
    case found
    /// repair/init: changed, and the entry now follows the policy for this kind.
    case fixed
    /// `--dry-run`: would have been fixed.
    case wouldFix = "would-fix"
    /// repair/init: tried and failed (the event carries the error).
    case failed
    /// repair/init: a report-only kind, or one this command must not touch (init never breaks links).
    case left
}

public struct Event: Sendable {
    public var finding: Finding
    public var outcome: Outcome
    public var error: String?
}

/// How a scan may change things. nil in `ScanOptions.fix` means a read-only audit.
public struct FixMode: Sendable {
    public var dryRun: Bool
    /// repair breaks a hard link whose inode has a name outside ROOT; init only reports it.
    public var breakOutsideLinks: Bool
    /// init gives every directory `group:G:rwx` in its access ACL.
    public var addNamedGroupToDirectories: Bool

    public init(dryRun: Bool, breakOutsideLinks: Bool, addNamedGroupToDirectories: Bool) {
        self.dryRun = dryRun; self.breakOutsideLinks = breakOutsideLinks; self.addNamedGroupToDirectories = addNamedGroupToDirectories
    }
}

public struct ScanOptions: Sendable {
    public var root: String
    public var policy: Policy
    public var rootIsMember: Bool
    public var fix: FixMode?
    public var excludes: [String]
    public var threads: Int
    /// Entries `init` itself makes as root; their owner is not a finding.
    public var skeleton: Set<String> = ["", "hub", "datasets", "xet", "assets"]
    /// The config in ROOT/.hfshare disagrees with /etc/hfshare/roots: reported once for ROOT.
    public var recordMismatch: Finding?

    public init(root: String, policy: Policy, rootIsMember: Bool = false, fix: FixMode? = nil, excludes: [String] = [],
                threads: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) {
        self.root = root; self.policy = policy; self.rootIsMember = rootIsMember; self.fix = fix
        self.excludes = excludes; self.threads = threads
    }
}

public struct ScanSummary: Sendable {
    public var root: String
    public var entries: Int = 0
    public var counts: [FindingKind: Int] = [:]
    public var outcomes: [Outcome: Int] = [:]
    /// Attribute changes made (or, with --dry-run, planned) that no finding named: init's `group:G:` entries.
    public var extraChanges: Int = 0
    public var duration: Double = 0

    public var findings: Int { counts.values.reduce(0, +) }
    public func count(_ o: Outcome) -> Int { outcomes[o] ?? 0 }
}

/// Receives events as they happen, one at a time (calls are serialized by the scanner).
public typealias EventSink = (Event) -> Void

/// The one engine behind audit, repair and init: a parallel walk over ROOT with directory file
/// descriptors (getdents64 + statx relative to the parent fd, never a path re-resolved, never a symlink
/// followed), the pure policy on every entry, and — in fix mode — changes made through descriptors
/// opened O_NOFOLLOW relative to the verified parent. Memory stays flat: only inodes with more than one
/// link are remembered (to find names outside ROOT).
public final class Scanner: @unchecked Sendable {
    let options: ScanOptions
    let policy: Policy
    let members: MembershipCache
    let sink: EventSink
    let rootComponents: [String]
    var progress: ((Int, String) -> Void)?

    private let lock = NSLock()
    private var summary: ScanSummary
    private var links: [LinkKey: LinkRecord] = [:]
    private var rootFD: FD?
    private var rootDev: UInt64 = 0
    private var rootReaddirFills = false

    // Work queue (LIFO: depth first keeps the number of open directory fds near depth x threads).
    private let cond = NSCondition()
    private var stack: [DirWork] = []
    private var active = 0
    private var scanned = 0
    private var currentDir = ""

    struct LinkKey: Hashable { var dev: UInt64; var ino: UInt64 }
    struct LinkRecord { var nlink: UInt32; var rels: [String] }

    struct DirWork {
        var parent: FD?
        var name: String
        var rel: String
        var stat: FileStat
        var underLocks: Bool
        /// Components of `rel`: how many `..` a relative symlink in it may use before leaving ROOT.
        var depth: Int
    }

    /// Where an entry is, as its parent's path and its name: most entries need no path string at all
    /// (only findings, excludes and hard links do), so it is joined only when asked for.
    struct Place {
        var parentRel: String
        var name: String
        var depth: Int
        var rel: String { parentRel.isEmpty ? name : (name.isEmpty ? parentRel : parentRel + "/" + name) }
    }

    static let tempPrefix = ".hfshare-repair-"
    static let tempMarker = "trusted.hfshare.repair-copy"

    public init(_ options: ScanOptions, progress: ((Int, String) -> Void)? = nil, sink: @escaping EventSink) {
        self.options = options
        let members = MembershipCache(gid: options.policy.gid, rootIsMember: options.rootIsMember)
        var policy = options.policy
        policy.members = members
        self.policy = policy
        self.members = members
        self.sink = sink
        self.progress = progress
        self.rootComponents = options.root.split(separator: "/").map(String.init)
        self.summary = ScanSummary(root: options.root)
    }

    /// Walks ROOT. Throws only if ROOT itself cannot be opened (exit 2); everything below is a finding.
    public func run() throws -> ScanSummary {
        let start = Posix.now()
        let root = try Paths.openVerifiedDirectory(options.root)
        rootFD = root
        checkAncestors()
        // The recorded GID against this node's NSS (clusters): one finding for ROOT, report-only.
        for e in GroupGIDCheck.events(root: options.root, fix: options.fix != nil) { emit(e.finding, e.outcome) }
        if let m = options.recordMismatch { emit(m, options.fix == nil ? .found : .left) }
        let rootStat = try root.stat()
        rootDev = rootStat.dev
        rootReaddirFills = FD.fillingReaddirMagics.contains(root.filesystemMagic)
        stack.append(DirWork(parent: nil, name: "", rel: "", stat: rootStat, underLocks: false, depth: 0))

        let done = DispatchSemaphore(value: 0)
        var reporter: Thread?
        if let progress {
            reporter = Thread { [weak self] in
                while let self, !Thread.current.isCancelled {
                    usleep(250_000)
                    self.cond.lock(); let n = self.scanned; let dir = self.currentDir; self.cond.unlock()
                    if !Thread.current.isCancelled { progress(n, dir) }
                }
            }
            reporter?.start()
        }
        for _ in 0..<max(1, options.threads) {
            let t = Thread { [self] in
                self.worker()
                done.signal()
            }
            t.stackSize = 1 << 20
            t.start()
        }
        for _ in 0..<max(1, options.threads) { done.wait() }
        reporter?.cancel()
        finishLinks()
        lock.lock()
        summary.entries = scanned
        summary.duration = Posix.now() - start
        let result = summary
        lock.unlock()
        return result
    }

    // MARK: work queue

    private func worker() {
        while true {
            cond.lock()
            while stack.isEmpty && active > 0 { cond.wait() }
            guard let work = stack.popLast() else {
                cond.broadcast()
                cond.unlock()
                return
            }
            active += 1
            cond.unlock()

            let children = process(work)

            cond.lock()
            active -= 1
            stack.append(contentsOf: children)
            if !children.isEmpty || active == 0 { cond.broadcast() }
            cond.unlock()
        }
    }

    // MARK: one directory

    private func absolute(_ rel: String) -> String {
        rel.isEmpty ? options.root : (options.root == "/" ? "/" + rel : options.root + "/" + rel)
    }

    private func process(_ work: DirWork) -> [DirWork] {
        let path = absolute(work.rel)
        let dir: FD
        do {
            if let parent = work.parent {
                dir = try parent.openDirectory(work.name, noatime: true)
                // Swapped between the listing and the open (a user replaced it): skip, never follow.
                // O_NOFOLLOW already keeps a read-only audit inside ROOT; a fix must also be sure
                // that the inode it changes is the one it judged.
                if options.fix != nil {
                    let now = try dir.stat()
                    guard now.dev == work.stat.dev, now.ino == work.stat.ino else {
                        throw SystemError("open", path, ESTALE)
                    }
                }
            } else {
                dir = rootFD!
            }
        } catch let error as SystemError {
            if let parent = work.parent {
                let acl = options.policy.aclSupported ? (try? ACLStore.readEntry(in: parent, work.name)) ?? nil : nil
                let entry = Policy.Entry(name: work.name, stat: work.stat, access: acl, defaultACL: nil, underLocks: work.underLocks)
                evaluateDirectoryWithoutDescriptor(entry, rel: work.rel)
            }
            emit(Finding(kind: .unreadable, path: path, detail: error.reason, fix: "run the audit as root, or: hfshare repair \(options.root)"), .found)
            return []
        } catch {
            return []
        }

        // The directory itself.
        let access = policy.aclSupported ? (try? ACLStore.read(dir, .access)) ?? nil : nil
        let defaultACL = policy.aclSupported ? (try? ACLStore.read(dir, .default)) ?? nil : nil
        let entry = Policy.Entry(name: work.name, stat: work.stat, access: access, defaultACL: defaultACL, underLocks: work.underLocks)
        handle(entry, at: Place(parentRel: work.rel, name: "", depth: work.depth), in: work.parent, selfFD: dir)

        let listing: [(name: String, type: FileType)]
        do {
            listing = try dir.entries(shortReadIsEOF: rootReaddirFills && work.stat.dev == rootDev)
        } catch let error as SystemError {
            emit(Finding(kind: .unreadable, path: path, detail: error.reason, fix: "hfshare repair \(options.root)"), .found)
            return []
        } catch { return [] }

        var children: [DirWork] = []
        let childUnderLocks = work.underLocks || work.name == ".locks"
        var count = 0
        for (name, _) in listing {
            let place = Place(parentRel: work.rel, name: name, depth: work.depth)
            if !options.excludes.isEmpty && isExcluded(place.rel, name) { continue }
            count += 1
            let st: FileStat
            do { st = try dir.stat(name) } catch { continue } // vanished since the listing
            // The state dir is skipped only when it is what StateDir trusts: a member's `.hfshare`
            // (ROOT is group-writable) must not hide a subtree from the audit.
            if work.rel.isEmpty && name == Paths.stateDirectory && st.type == .directory && st.uid == 0 && st.permissions & 0o022 == 0 {
                count -= 1
                continue
            }
            if st.type == .directory {
                children.append(DirWork(parent: dir, name: name, rel: place.rel, stat: st, underLocks: childUnderLocks, depth: work.depth + 1))
                continue
            }
            if let fix = options.fix, !fix.dryRun, st.type == .regular, name.hasPrefix(Scanner.tempPrefix),
               dir.hasXattr(name, Scanner.tempMarker) || (st.uid == 0 && st.nlink == 1) {
                // Left by a repair killed mid-copy (the marker is a trusted.* xattr only root can set;
                // where the filesystem has none, the copy stays root-owned until just before the rename).
                try? dir.unlink(name)
                CrashPoint.changed()
                continue
            }
            if st.type != .directory && st.nlink > 1 {
                remember(st, rel: place.rel)
                if options.fix != nil { continue } // fixed after the walk, once we know where its names are
            }
            var acl: PosixACL?
            if st.type == .regular && policy.aclSupported { acl = (try? ACLStore.readEntry(in: dir, name)) ?? nil }
            let e = Policy.Entry(name: name, stat: st, access: acl, underLocks: childUnderLocks)
            handle(e, at: place, in: dir, selfFD: nil)
        }
        cond.lock()
        scanned += count + (work.parent == nil ? 1 : 0)
        currentDir = path
        cond.unlock()
        return children
    }

    private func isExcluded(_ rel: String, _ name: String) -> Bool {
        guard !options.excludes.isEmpty else { return false }
        return options.excludes.contains { fnmatch($0, rel, 0) == 0 || fnmatch($0, name, 0) == 0 }
    }

    // MARK: rules that need the filesystem or NSS

    private func contextualKinds(_ e: Policy.Entry, at place: Place, in dir: FD?) -> [FindingKind] {
        var kinds = policy.violations(e)
        if !(e.stat.uid == 0 && options.skeleton.contains(place.rel)) {
            switch members.membership(of: e.stat.uid) {
            case .unknownUID: kinds.append(.ownerUnknownUID)
            case .notMember: kinds.append(.ownerNotMember)
            case .member: break
            }
        }
        if e.stat.type == .symlink, let dir {
            if let k = symlinkKind(dir: dir, name: e.name, at: place) { kinds.append(k) }
        }
        if policy.isStaleLockCandidate(e), let dir {
            if let fd = try? dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true),
               (try? fd.tryExclusiveLockAndRelease()) == true {
                kinds.append(.lockStale)
            }
        }
        if let i = kinds.firstIndex(of: .incompleteOld), let lock = guardingLock(of: place), isHeld(lock) {
            // A slow download writes its .incomplete only every few MiB, so age alone would call a
            // live transfer stale: while its lock is held, it is not.
            kinds.remove(at: i)
        }
        if kinds.count > 1 { kinds.sort() }
        return kinds
    }

    /// The `.locks` file huggingface_hub holds while it writes an `.incomplete` blob:
    /// `X/models--o--r/blobs/<sha>[.<tag>].incomplete` is guarded by `X/.locks/models--o--r/<sha>.lock`.
    func guardingLock(of place: Place) -> String? {
        let dirs = place.parentRel.split(separator: "/")
        guard dirs.count >= 2, dirs[dirs.count - 1] == "blobs", let sha = place.name.split(separator: ".").first else { return nil }
        return (dirs.dropLast(2) + [".locks", dirs[dirs.count - 2], sha + ".lock"]).joined(separator: "/")
    }

    /// Somebody holds an flock on the file at `rel` (never created to find out).
    private func isHeld(_ rel: String) -> Bool {
        guard let root = rootFD,
              let fd = try? root.openBeneath(rel, flags: O_RDONLY | HF_O_NONBLOCK | HF_O_CLOEXEC) else { return false }
        return (try? fd.tryExclusiveLockAndRelease()) == false
    }

    private func symlinkKind(dir: FD, name: String, at place: Place) -> FindingKind? {
        guard let target = try? dir.readlink(name) else { return nil }
        // The common case, a relative link that stays inside ROOT (`../../blobs/<sha>`): judged by
        // counting components, and its target looked up from the link's own directory.
        if !target.hasPrefix("/") {
            var depth = place.depth
            var inside = true
            // One pass over the bytes (no array of components: this runs for every symlink).
            var length = 0, dots = 0
            func endComponent() {
                if length == 2 && dots == 2 {
                    depth -= 1
                    if depth < 0 { inside = false }
                } else if length > 0 && !(length == 1 && dots == 1) {
                    depth += 1
                }
                length = 0; dots = 0
            }
            for byte in target.utf8 where inside {
                if byte == UInt8(ascii: "/") { endComponent(); continue }
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
            if inside { endComponent() }
            if inside {
                if depth == 0 { return nil } // ROOT itself
                do { _ = try dir.stat(target, follow: true) } catch let e as SystemError where e.errno == ENOENT || e.errno == ENOTDIR {
                    return .symlinkDangling
                } catch { return nil }
                return nil
            }
        }
        let rel = place.rel
        var parts: [String] = target.hasPrefix("/") ? [] : rootComponents + rel.split(separator: "/").dropLast().map(String.init)
        for p in target.split(separator: "/") {
            if p == "." { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(String(p))
        }
        guard parts.count > rootComponents.count || parts == rootComponents,
              Array(parts.prefix(rootComponents.count)) == rootComponents else { return .symlinkEscapes }
        let inside = parts.dropFirst(rootComponents.count).joined(separator: "/")
        if inside.isEmpty { return nil }
        guard let root = rootFD else { return nil }
        do { _ = try root.stat(inside, follow: true) } catch let e as SystemError where e.errno == ENOENT || e.errno == ENOTDIR {
            return .symlinkDangling
        } catch { return nil }
        return nil
    }

    // MARK: findings and fixes

    private func handle(_ e: Policy.Entry, at place: Place, in dir: FD?, selfFD: FD?, outsideLink: Bool = false) {
        var kinds = contextualKinds(e, at: place, in: dir)
        if outsideLink { kinds.append(.fileHardlinkOutside); kinds.sort() }
        if kinds.isEmpty && !(options.fix?.addNamedGroupToDirectories ?? false) { return }
        let path = absolute(place.rel)
        guard let fix = options.fix else {
            for k in kinds { emit(finding(k, path: path, e), .found) }
            return
        }
        let attributeKinds = kinds.filter { $0.fixable && $0 != .lockStale && $0 != .incompleteOld && $0 != .fileHardlinkOutside }
        let wantsNamedGroup = fix.addNamedGroupToDirectories && e.stat.type == .directory
            && policy.wantedAccessACL(e, addNamedGroup: true) != nil
        for k in kinds where !k.fixable { emit(finding(k, path: path, e), .left) }

        if outsideLink && !fix.breakOutsideLinks {
            let note = "inode also has a name outside \(options.root); not changed"
            for k in kinds where k.fixable { emit(finding(k, path: path, e, detail: note), .left) }
            return
        }
        if fix.dryRun {
            for k in kinds where k.fixable { emit(finding(k, path: path, e), .wouldFix) }
            if wantsNamedGroup && attributeKinds.isEmpty { count(extra: 1) }
            return
        }
        guard let dir = dir ?? (selfFD != nil ? selfFD : nil) else { return }
        if kinds.contains(.lockStale) || kinds.contains(.incompleteOld) {
            let kind: FindingKind = kinds.contains(.lockStale) ? .lockStale : .incompleteOld
            do {
                try removeStale(e, at: place, in: dir, isLock: kind == .lockStale)
                emit(finding(kind, path: path, e), .fixed)
            } catch {
                emit(finding(kind, path: path, e), .failed, error: "\(error)")
            }
            if kind == .incompleteOld || kind == .lockStale { return }
        }
        var current = e
        if outsideLink {
            do {
                current = try breakLink(e, in: dir)
                emit(finding(.fileHardlinkOutside, path: path, e), .fixed)
            } catch {
                emit(finding(.fileHardlinkOutside, path: path, e), .failed, error: "\(error)")
                for k in attributeKinds { emit(finding(k, path: path, e, detail: "link not broken"), .left) }
                return
            }
        }
        guard !attributeKinds.isEmpty || wantsNamedGroup else { return }
        do {
            let target: FD
            if let selfFD { target = selfFD } else {
                target = try dir.openat(e.name, flags: HF_O_PATH | HF_O_NOFOLLOW | HF_O_CLOEXEC)
                let st = try target.stat()
                guard st.dev == current.stat.dev, st.ino == current.stat.ino, st.type == current.stat.type else {
                    throw SystemError("open", path, ESTALE)
                }
            }
            try LinkGuard.change(current, through: target, path: path) { try applyAttributes(current, to: target) }
            for k in attributeKinds { emit(finding(k, path: path, e), .fixed) }
            if attributeKinds.isEmpty { count(extra: 1) }
        } catch {
            for k in attributeKinds { emit(finding(k, path: path, e), .failed, error: "\(error)") }
        }
    }

    /// Group, ACLs, mode, default ACL: only what differs is written, so a compliant entry keeps its ctime.
    func applyAttributes(_ e: Policy.Entry, to fd: FD) throws {
        if e.stat.gid != policy.gid { try fd.chown(gid: policy.gid); CrashPoint.changed() }
        let isDir = e.stat.type == .directory
        if let acl = policy.wantedAccessACL(e, addNamedGroup: isDir && (options.fix?.addNamedGroupToDirectories ?? false)) {
            try ACLStore.write(acl, to: fd, .access)
            CrashPoint.changed()
        }
        let wanted = policy.wantedMode(e)
        if try fd.stat().permissions != wanted { try fd.chmod(wanted); CrashPoint.changed() }
        if isDir, let d = policy.wantedDefaultACL(e) { try ACLStore.write(d, to: fd, .default); CrashPoint.changed() }
    }

    private func removeStale(_ e: Policy.Entry, at place: Place, in dir: FD, isLock: Bool) throws {
        // An .incomplete goes only while we hold its download's lock, so no client can resume it meanwhile.
        var guardFD: FD?
        if !isLock, let rel = guardingLock(of: place), let root = rootFD,
           let g = try? root.openBeneath(rel, flags: O_RDONLY | HF_O_NONBLOCK | HF_O_CLOEXEC) {
            guard flock(g.raw, LOCK_EX | LOCK_NB) == 0 else { throw SystemError("flock", g.path, EWOULDBLOCK) }
            guardFD = g
        }
        defer { if let g = guardFD { flock(g.raw, LOCK_UN) } }
        let fd = try dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
        if isLock {
            // Hold the lock while unlinking, so nobody can take it between our check and the unlink.
            guard flock(fd.raw, LOCK_EX | LOCK_NB) == 0 else { throw SystemError("flock", fd.path, EWOULDBLOCK) }
        }
        let held = try fd.stat()
        let named = try dir.stat(e.name)
        guard held.ino == named.ino, held.dev == named.dev, held.ino == e.stat.ino else { throw SystemError("unlink", fd.path, ESTALE) }
        try dir.unlink(e.name)
        CrashPoint.changed()
    }

    /// Gives a file its own inode: copy to a temp name in the same directory, fsync, keep owner and
    /// mtime, rename over. The outside name keeps the old inode untouched.
    private func breakLink(_ e: Policy.Entry, in dir: FD) throws -> Policy.Entry {
        let src = try dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
        let st = try src.stat()
        guard st.ino == e.stat.ino, st.dev == e.stat.dev, st.type == .regular else { throw SystemError("open", src.path, ESTALE) }
        let tmp = Scanner.tempPrefix + String(st.ino) + ".tmp"
        if let old = try? dir.stat(tmp), old.type == .regular, dir.hasXattr(tmp, Scanner.tempMarker) || (old.uid == 0 && old.nlink == 1) {
            try dir.unlink(tmp) // ours, from a killed run; anything else at that name makes O_EXCL fail below
            CrashPoint.changed()
        }
        let dst = try dir.openat(tmp, flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        CrashPoint.changed()
        do {
            // Marked first, so a rerun after a kill recognises the copy whoever owns it by then.
            try? dst.setXattr(Scanner.tempMarker, "1")
            try copyBytes(from: src, to: dst)
            CrashPoint.changed()
            var copy = e
            copy.stat.gid = policy.gid
            copy.stat.nlink = 1
            if let acl = e.access { try ACLStore.write(acl, to: dst, .access); CrashPoint.changed() }
            guard Glibc.fchmod(dst.raw, mode_t(st.permissions & ~UInt32(S_ISUID | S_ISGID))) == 0 else { throw SystemError("chmod", dst.path) }
            CrashPoint.changed()
            guard hf_set_mtime(dst.raw, st.mtimeSec, Int(st.mtimeNsec)) == 0 else { throw SystemError("utimens", dst.path) }
            CrashPoint.changed()
            try dst.fsync()
            // The owner last: until here a killed run leaves a root-owned copy a rerun may delete.
            guard fchown(dst.raw, st.uid, policy.gid) == 0 else { throw SystemError("chown", dst.path) }
            CrashPoint.changed()
            dst.removeXattr(Scanner.tempMarker)
            try dir.rename(tmp, to: e.name)
            CrashPoint.changed()
            try? dir.fsync()
            let now = try dst.stat()
            copy.stat = now
            return copy
        } catch {
            try? dir.unlink(tmp)
            throw error
        }
    }

    private func copyBytes(from src: FD, to dst: FD) throws {
        while true {
            let n = hf_copy_file_range(src.raw, dst.raw, 1 << 30)
            if n == 0 { return }
            if n > 0 { continue }
            if errno == EXDEV || errno == ENOSYS || errno == EINVAL { break }
            throw SystemError("copy_file_range", dst.path)
        }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = Glibc.read(src.raw, &buf, buf.count)
            if n < 0 { throw SystemError("read", src.path) }
            if n == 0 { return }
            var off = 0
            while off < n {
                let w = buf[off..<n].withUnsafeBytes { Glibc.write(dst.raw, $0.baseAddress, n - off) }
                if w < 0 { throw SystemError("write", dst.path) }
                off += w
            }
        }
    }

    private func evaluateDirectoryWithoutDescriptor(_ e: Policy.Entry, rel: String) {
        // Default ACL unknown without a descriptor: judge the rest.
        var p = policy
        p.aclSupported = false
        for k in p.violations(e) { emit(finding(k, path: absolute(rel), e), options.fix == nil ? .found : .failed, error: options.fix == nil ? nil : "cannot open directory") }
    }

    // MARK: hard links

    private func remember(_ st: FileStat, rel: String) {
        lock.lock()
        links[LinkKey(dev: st.dev, ino: st.ino), default: LinkRecord(nlink: st.nlink, rels: [])].rels.append(rel)
        lock.unlock()
    }

    private func finishLinks() {
        let all = links
        links = [:]
        for (_, record) in all.sorted(by: { $0.value.rels[0] < $1.value.rels[0] }) {
            let outside = record.rels.count < record.nlink
            for rel in record.rels.sorted() {
                if options.fix == nil {
                    if outside { emit(Finding(kind: .fileHardlinkOutside, path: absolute(rel), detail: "\(record.nlink) links, \(record.rels.count) inside", fix: "hfshare repair \(options.root)"), .found) }
                    continue
                }
                let parentRel = rel.split(separator: "/").dropLast().joined(separator: "/")
                let name = String(rel.split(separator: "/").last!)
                do {
                    let dir = parentRel.isEmpty ? rootFD! : try rootFD!.openBeneath(parentRel, flags: FD.directoryFlags)
                    let st = try dir.stat(name)
                    var acl: PosixACL?
                    if st.type == .regular && policy.aclSupported { acl = try ACLStore.readEntry(in: dir, name) }
                    let underLocks = rel.split(separator: "/").dropLast().contains(".locks")
                    let e = Policy.Entry(name: name, stat: st, access: acl, underLocks: underLocks)
                    let depth = rel.split(separator: "/").count - 1
                    handle(e, at: Place(parentRel: parentRel, name: name, depth: depth), in: dir, selfFD: nil, outsideLink: outside && st.nlink > 1)
                } catch {
                    emit(Finding(kind: .unreadable, path: absolute(rel), detail: "\(error)", fix: "hfshare repair \(options.root)"), .found)
                }
            }
        }
    }

    // MARK: ancestors

    private func checkAncestors() {
        guard rootComponents.count > 0 else { return }
        guard let chain = try? Access.ancestors(of: options.root, for: .anyMember(of: policy.gid)) else { return }
        for c in chain where !c.searchable {
            let fixCmd = policy.aclSupported
                ? "setfacl -m g:\(policy.groupName):x \(c.path)   (or: chmod o+x \(c.path))"
                : "chmod o+x \(c.path)"
            emit(Finding(kind: .parentNotTraversable, path: c.path, detail: String(format: "mode %o, owner %d, group %d", c.stat.permissions, c.stat.uid, c.stat.gid), fix: fixCmd),
                 options.fix == nil ? .found : .left)
        }
    }

    // MARK: output

    private func finding(_ k: FindingKind, path: String, _ e: Policy.Entry, detail: String = "") -> Finding {
        Finding(kind: k, path: path, detail: detail.isEmpty ? Scanner.detail(k, e, policy) : detail, fix: fixCommand(k, path: path, e))
    }

    static func detail(_ k: FindingKind, _ e: Policy.Entry, _ policy: Policy) -> String {
        let mode = String(e.stat.permissions, radix: 8)
        switch k {
        case .dirWrongGroup, .fileWrongGroup: return "group \(Names.shared.group(e.stat.gid)), want \(policy.groupName)"
        case .ownerUnknownUID: return "uid \(e.stat.uid)"
        case .ownerNotMember: return "owner \(Names.shared.user(e.stat.uid))"
        case .dirACLMask, .fileACLMask, .dirGroupPerms, .fileGroupPerms, .lockNotGroupWritable:
            return e.access.map { "acl \($0)" } ?? "mode \(mode)"
        case .dirNoDefaultACL, .dirDefaultACLBad: return e.defaultACL.map { "default \($0)" } ?? "no default acl"
        case .aclDeniesMember: return policy.memberDenials(e, need: e.stat.type == .directory ? .rwx : .rw).joined(separator: "; ")
        case .defaultACLDeniesMember: return policy.defaultDenials(e).joined(separator: "; ")
        case .lockStale, .incompleteOld: return "modified \(Int((policy.now - e.stat.mtime) / 3600))h ago"
        default: return "mode \(mode)"
        }
    }

    private lazy var repairCommand = "hfshare repair \(Shell.quote(options.root))"

    private func fixCommand(_ k: FindingKind, path: String, _ e: Policy.Entry) -> String {
        let q = Shell.quote(path)
        switch k {
        case .ownerNotMember:
            let name = Names.shared.user(e.stat.uid)
            return "usermod -aG \(policy.groupName) \(name)   (or give the file to a member: chown MEMBER \(q))"
        case .ownerUnknownUID: return "chown MEMBER \(q)   (uid \(e.stat.uid) has no account)"
        case .symlinkEscapes, .symlinkDangling: return "rm \(q)   (the client re-creates it on the next download)"
        case .tokenReadable: return "chmod 600 \(q)"
        case .specialFile: return "rm \(q)"
        default: return repairCommand
        }
    }

    private func count(extra: Int) {
        lock.lock(); summary.extraChanges += extra; lock.unlock()
    }

    private func emit(_ f: Finding, _ outcome: Outcome, error: String? = nil) {
        lock.lock()
        summary.counts[f.kind, default: 0] += 1
        summary.outcomes[outcome, default: 0] += 1
        sink(Event(finding: f, outcome: outcome, error: error))
        lock.unlock()
    }
}

public enum Shell {
    /// Bytes a POSIX shell takes literally (quote() runs once per finding, millions of times).
    private static let safeBytes: [Bool] = (0..<256).map { b in
        let c = UInt8(b)
        return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || "-_./:=@%+,".utf8.contains(c)
    }

    /// Quotes for a POSIX shell only where needed, so printed commands can be pasted. A name with
    /// control characters or bytes that are not UTF-8 gets bash's `$'...'` quoting with `\xNN`
    /// escapes, so the command stays printable and still names exactly those bytes.
    public static func quote(_ s: String) -> String {
        if !s.isEmpty && s.utf8.allSatisfy({ safeBytes[Int($0)] }) { return s }
        let bytes = ByteName.bytes(s)
        let plain = !ByteName.hasRawBytes(s) && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }
        if plain { return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        var out = "$'"
        for b in bytes {
            switch b {
            case 0x27: out += "\\'"
            case 0x5C: out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += String(format: "\\x%02x", b)
            }
        }
        return out + "'"
    }
}

/// User and group names for messages, looked up through NSS once per id (a tree may hold millions of
/// entries of a handful of owners, or of uids NSS does not know, which are the slow lookups).
final class Names: @unchecked Sendable {
    static let shared = Names()
    private let lock = NSLock()
    private var users: [UInt32: String] = [:]
    private var groups: [UInt32: String] = [:]

    func user(_ uid: UInt32) -> String {
        lock.lock(); defer { lock.unlock() }
        if let n = users[uid] { return n }
        let n = NSS.user(uid: uid)?.name ?? String(uid)
        users[uid] = n
        return n
    }

    func group(_ gid: UInt32) -> String {
        lock.lock(); defer { lock.unlock() }
        if let n = groups[gid] { return n }
        let n = NSS.group(gid: gid)?.name ?? String(gid)
        groups[gid] = n
        return n
    }
}
