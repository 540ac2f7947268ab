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

/// One walk over a shared cache: the cache (resolved once per command) and what this run does.
public struct ScanOptions: Sendable {
    public var cache: SharedCache
    public var fix: FixMode?
    public var excludes: [String]
    public var threads: Int
    /// Entries of one directory walked per work item. A directory with more (a hub of 50k repos, its
    /// `.locks`) is walked in chunks, each chunk's subdirectories before the next chunk, so the queue
    /// holds at most a chunk of pending subdirectories per directory: memory stays flat however wide.
    var chunk = 512

    /// `threads` nil: the walker count probe measured for the cache's filesystem, else the default.
    public init(_ cache: SharedCache, fix: FixMode? = nil, excludes: [String] = [], threads: Int? = nil) {
        self.cache = cache; self.fix = fix; self.excludes = excludes
        self.threads = threads ?? cache.walkers ?? Walkers.unmeasured
    }

    public init(root: String, policy: Policy, rootIsMember: Bool = false, fix: FixMode? = nil, excludes: [String] = [],
                threads: Int = Walkers.unmeasured) {
        self.init(SharedCache(root: root, policy: policy, rootIsMember: rootIsMember), fix: fix, excludes: excludes, threads: threads)
    }


    public var root: String { get { cache.root } set { cache.root = newValue } }
    public var policy: Policy { get { cache.policy } set { cache.policy = newValue } }
    public var rootIsMember: Bool { get { cache.rootIsMember } set { cache.rootIsMember = newValue } }
    /// Entries `init` itself makes as root; their owner is not a finding.
    public var skeleton: Set<String> { get { cache.skeleton } set { cache.skeleton = newValue } }
    /// The config in ROOT/.hfshare disagrees with /etc/hfshare/roots: reported once for ROOT.
    public var recordMismatch: Finding? { get { cache.recordMismatch } set { cache.recordMismatch = newValue } }
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
    let concurrentSink: Bool
    let rootComponents: [String]
    var progress: ((Int, String) -> Void)?

    private let lock = NSLock()
    private var summary: ScanSummary
    private var links: [LinkKey: LinkRecord] = [:]
    private var rootFD: FD?
    private var rootDev: UInt64 = 0
    private var rootReaddirFills = false
    /// Root's record of snapshot directories (LinkIndex): nil unless root, with a trusted state dir, no excludes.
    private var linkStore: LinkIndexStore?

    // Work queue (LIFO: depth first keeps the number of open directory fds near depth x threads).
    // The shared blob store (`hub/blobs/`) has a stack of its own, taken first: every repo's `blobs/`
    // link into it is followed to its file, and with the store walked first (its directories listed,
    // its files stat'ed) that follow finds them cached instead of a random inode read on a cold cache.
    private let cond = NSCondition()
    private var stack: [DirWork] = []
    private var storeStack: [DirWork] = []
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
        var isCode = false
        /// issue #17: inside a restricted repo, the licensed group (CuratedRules).
        var restrictedTo: UInt32?
        /// Components of `rel`: how many `..` a relative symlink in it may use before leaving ROOT.
        var depth: Int
        /// Inside a hub repo: what the repo check collects from this directory's entries (RepoFacts).
        var repo: RepoFacts? = nil
        var role: RepoFacts.Role? = nil
        /// The rest of a wide directory's listing, walked as a work item of its own (`Scanner.chunk`).
        var resume: Resume? = nil
        /// The shared blob store or below (walked first: `storeStack`).
        var inStore = false
    }

    /// Where a wide directory's walk goes on: its descriptor (whose offset is where its listing was
    /// left: `unread`), the entries read and not yet walked (and root's record of them), the next one.
    struct Resume {
        var dir: FD
        var listing: [(name: String, type: FileType)]
        var recorded: [LinkIndex.Entry]?
        var next: Int
        var unread: Bool
        /// Collects the chunks' entries of a snapshot directory being recorded in the link index.
        var recorder: WideRecorder? = nil
    }

    /// A wide snapshot directory recorded although walked in chunks by several walkers at once: each
    /// chunk adds its entries; when the last chunk is done (none queued, none running) and none failed,
    /// the whole listing is recorded under the key the walk started from, re-read on the descriptor.
    final class WideRecorder: @unchecked Sendable {
        private let lock = NSLock()
        private let index: LinkIndex
        private let before: FileStat
        private let dir: FD
        private let acl: (access: ACLValue?, defaultACL: ACLValue?)
        private var entries: [LinkIndex.Entry] = []
        private let isBlobs: Bool
        /// Chunks queued or being walked.
        private var outstanding = 1
        private var failed = false

        init(index: LinkIndex, before: FileStat, dir: FD, acl: (access: ACLValue?, defaultACL: ACLValue?), isBlobs: Bool) {
            self.index = index; self.before = before; self.dir = dir; self.acl = acl; self.isBlobs = isBlobs
        }

        /// A `blobs/` directory is recorded only if it holds links (regular blobs gain nothing from it).
        static func worthRecording(_ entries: [LinkIndex.Entry], isBlobs: Bool) -> Bool {
            !isBlobs || entries.contains { $0.type == .symlink }
        }

        /// Another chunk was queued.
        func queued() { lock.lock(); outstanding += 1; lock.unlock() }

        /// A chunk is done: its entries, or nil if one could not be recorded (the directory is then not).
        func done(_ chunk: [LinkIndex.Entry]?) {
            lock.lock()
            if let chunk { entries += chunk } else { failed = true; entries = [] }
            outstanding -= 1
            let all = outstanding == 0 && !failed ? entries : []
            let last = outstanding == 0 && !failed && WideRecorder.worthRecording(all, isBlobs: isBlobs)
            lock.unlock()
            if last, let after = try? dir.stat() {
                index.record(before: before, after: after, entries: all, access: acl.access, defaultACL: acl.defaultACL)
            }
        }
    }


    /// What the walker learnt of a symlink: its target (read once for the permission rules and the
    /// repo check), the finding it makes, and the type of what it leads to where that was looked up.
    struct LinkFacts {
        var target: String?
        var kind: FindingKind?
        var followedType: FileType?
    }

    /// Where an entry is, as its parent's path and its name: most entries need no path string at all
    /// (only findings, excludes and hard links do), so it is joined only when asked for.
    struct Place {
        var parentRel: String
        var name: String
        var depth: Int
        /// The parent is a snapshot dir of a repo (`<repo>/snapshots/<commit>/...`): decided once per directory.
        var inSnapshot = false
        var rel: String { parentRel.isEmpty ? name : (name.isEmpty ? parentRel : parentRel + "/" + name) }
    }

    static let tempPrefix = Actor.tempPrefix
    static let tempMarker = Actor.tempMarker
    let judge: Judge
    private var actor: Actor!

    /// `concurrentSink`: the sink may be called by several walkers at once (it formats in parallel and
    /// serializes only what must be); otherwise it is called under the scanner's lock, one at a time.
    public init(_ options: ScanOptions, progress: ((Int, String) -> Void)? = nil, concurrentSink: Bool = false, sink: @escaping EventSink) {
        self.concurrentSink = concurrentSink
        self.options = options
        let members = MembershipCache(gid: options.policy.gid, rootIsMember: options.rootIsMember)
        var policy = options.policy
        policy.members = members
        if !policy.curated.isEmpty { policy.groups = GroupMemberships() }
        self.policy = policy
        self.members = members
        self.judge = Judge(policy: policy, root: options.root, fix: options.fix)
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
        actor = Actor(policy: policy, root: root, addNamedGroup: options.fix?.addNamedGroupToDirectories ?? false)
        checkAncestors()
        // The recorded GID against this node's NSS (clusters): one finding for ROOT, report-only.
        for e in GroupGIDCheck.events(root: options.root, fix: options.fix != nil) { emit(e.finding, e.outcome) }
        if let m = options.recordMismatch { emit(m, options.fix == nil ? .found : .left) }
        let rootStat = try root.stat()
        rootDev = rootStat.dev
        rootReaddirFills = FD.fillingReaddirMagics.contains(root.filesystemMagic)
        if options.excludes.isEmpty { linkStore = LinkIndexStore.open(root: options.root, rootFD: root) }
        stack.append(DirWork(parent: nil, name: "", rel: "", stat: rootStat, underLocks: false, depth: 0))

        let done = DispatchSemaphore(value: 0)
        var reporter: Thread?
        if let progress {
            reporter = Thread { [weak self] in
                while let self, !Thread.current.isCancelled {
                    usleep(250_000)
                    self.cond.lock(); let n = self.scanned; let dir = self.currentDir; self.cond.unlock()
                    if !Thread.current.isCancelled { progress(n, self.absolute(dir)) }
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
        linkStore?.removeUntouched()
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
            while stack.isEmpty && storeStack.isEmpty && active > 0 { cond.wait() }
            guard let work = storeStack.popLast() ?? stack.popLast() else {
                cond.broadcast()
                cond.unlock()
                return
            }
            active += 1
            cond.unlock()

            let children = process(work)

            cond.lock()
            active -= 1
            for child in children { if child.inStore { storeStack.append(child) } else { stack.append(child) } }
            if !children.isEmpty || active == 0 { cond.broadcast() }
            cond.unlock()
        }
    }

    // MARK: one directory

    private func absolute(_ rel: String) -> String {
        rel.isEmpty ? options.root : (options.root == "/" ? "/" + rel : options.root + "/" + rel)
    }

    private func process(_ work: DirWork) -> [DirWork] {
        lazy var path = absolute(work.rel) // joined only for messages
        // The repo this directory belongs to; the repo's findings come out when its last directory is done.
        var repo = work.repo
        defer {
            if let repo, repo.leave() {
                repo.index?.save()
                for e in repo.events(root: options.root, fix: options.fix) { emit(e.finding, e.outcome, error: e.error) }
            }
        }
        let dir: FD
        var role = work.role
        var listing: [(name: String, type: FileType)] = []
        let recorded: [LinkIndex.Entry]?
        var recording: [LinkIndex.Entry]?
        /// The directory's ACL values as read (kept with its record in the link index).
        var aclValues: (access: ACLValue?, defaultACL: ACLValue?) = (nil, nil)
        var aclWasRecorded = false
        var start = 0
        /// The directory has entries not read yet (a wide one is read a chunk at a time).
        var unread = false
        let shortReadIsEOF = rootReaddirFills && work.stat.dev == rootDev
        var recorder: WideRecorder?
        if let resume = work.resume {
            // The rest of a wide directory: opened, judged and partly listed by its first work item.
            dir = resume.dir; recorded = resume.recorded
            recorder = resume.recorder
            if recorder != nil { recording = [] }
            if resume.next < resume.listing.count {
                listing = resume.listing; start = resume.next; unread = resume.unread
            } else {
                do { unread = try dir.readEntries(into: &listing, atLeast: options.chunk, shortReadIsEOF: shortReadIsEOF) } catch let error as SystemError {
                    if let repo, let role { repo.unreadable(role, reason: error.reason) }
                    emit(Finding(kind: .unreadable, path: path, detail: error.reason, fix: "hfshare repair \(options.root)"), .found)
                    return []
                } catch { return [] }
            }
        } else {
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
                if let repo, let role = work.role { repo.unreadable(role, reason: error.reason) }
                if let parent = work.parent {
                    let acl = options.policy.aclSupported ? (try? ACLStore.readEntry(in: parent, work.name)) ?? nil : nil
                    let entry = Policy.Entry(name: work.name, stat: work.stat, access: acl, defaultACL: nil, underLocks: work.underLocks, restrictedTo: work.restrictedTo)
                    evaluateDirectoryWithoutDescriptor(entry, rel: work.rel)
                }
                emit(Finding(kind: .unreadable, path: path, detail: error.reason, fix: "run the audit as root, or: hfshare repair \(options.root)"), .found)
                return []
            } catch {
                return []
            }

            // The directory itself. A directory root recorded (LinkIndex: a snapshot, or a `blobs/` of
            // links) unchanged since (same inode, mtime and ctime; setting an ACL moves ctime) has the
            // recorded ACLs.
            // (A recorded role is given by the parent: the repo dir, whose role is set below, is never one.)
            let recordIndex = work.role?.isRecorded == true ? repo?.index : nil
            let known = recordIndex?.record(of: work.stat)
            var access: PosixACL?, defaultACL: PosixACL?
            if policy.aclSupported {
                if let known, let a = known.access, let d = known.defaultACL,
                   let decodedA = ACLStore.decode(a, .access), let decodedD = ACLStore.decode(d, .default) {
                    access = decodedA; defaultACL = decodedD; aclValues = (a, d); aclWasRecorded = true
                } else if recordIndex != nil {
                    if let (a, v) = try? ACLStore.readValue(dir, .access) { access = a; aclValues.access = v }
                    if let (d, v) = try? ACLStore.readValue(dir, .default) { defaultACL = d; aclValues.defaultACL = v }
                } else {
                    access = (try? ACLStore.read(dir, .access)) ?? nil
                    defaultACL = (try? ACLStore.read(dir, .default)) ?? nil
                }
            }
            let entry = Policy.Entry(name: work.name, stat: work.stat, access: access, defaultACL: defaultACL, underLocks: work.underLocks,
                                     isCode: work.isCode, restrictedTo: work.restrictedTo)
            handle(entry, at: Place(parentRel: work.rel, name: "", depth: work.depth), in: work.parent, selfFD: dir)
            // hfshare#14: refs, snapshots and blobs of a hub repo dir, collected from this walk (RepoFacts).
            if work.parent != nil, work.depth <= 2, RepoIntegrity.isRepoDirectory(rel: work.rel) {
                repo = RepoFacts(repoDir: dir, hubDir: work.parent, name: work.name, path: path,
                                 index: linkStore?.index(repoRel: work.rel, repo: work.stat))
                role = .repo
            }

            // Unchanged since root recorded it: its names and link targets are known (no getdents, no
            // readlink). Otherwise it is listed, and recorded as it is read.
            recorded = known?.entries
            recording = recordIndex != nil && recorded == nil ? [] : nil
            if let recorded {
                listing = recorded.map { (ByteName.decode($0.name), $0.type) }
            } else {
                do {
                    unread = try dir.readEntries(into: &listing, atLeast: options.chunk, shortReadIsEOF: shortReadIsEOF)
                } catch let error as SystemError {
                    if let repo, let role { repo.unreadable(role, reason: error.reason) }
                    emit(Finding(kind: .unreadable, path: path, detail: error.reason, fix: "hfshare repair \(options.root)"), .found)
                    return []
                } catch { return [] }
            }
        }
        // Whether this directory is (inside) a snapshot of a repo, once for all its entries.
        let inSnapshot = role?.isSnapshot == true
        var children: [DirWork] = []
        let childUnderLocks = work.underLocks || work.name == ".locks"
        var count = 0
        let end = min(listing.count, start + options.chunk)
        if end < listing.count || unread {
            // The rest is queued before this chunk is walked, so that another walker takes it meanwhile
            // (a directory of 8k blobs is walked by every walker at once); it lands under this chunk's
            // subdirectories (LIFO), so at most a chunk or two of them wait per directory. A snapshot
            // directory being recorded collects its chunks' entries (WideRecorder).
            if recording != nil, recorder == nil, work.resume == nil, let index = repo?.index {
                recorder = WideRecorder(index: index, before: work.stat, dir: dir, acl: aclValues, isBlobs: role?.isBlobs == true)
            }
            recorder?.queued()
            repo?.enter()
            var rest = work
            rest.repo = repo; rest.role = role
            rest.resume = end < listing.count ? Resume(dir: dir, listing: listing, recorded: recorded, next: end, unread: unread, recorder: recorder)
                                              : Resume(dir: dir, listing: [], recorded: nil, next: 0, unread: true, recorder: recorder)
            cond.lock()
            if rest.inStore { storeStack.append(rest) } else { stack.append(rest) }
            cond.signal()
            cond.unlock()
        }
        var repoBatch = RepoFacts.Batch()
        for i in start..<end {
            let name = listing[i].name
            let place = Place(parentRel: work.rel, name: name, depth: work.depth, inSnapshot: inSnapshot)
            if !options.excludes.isEmpty && isExcluded(place.rel, name) { repo?.markExcluded(); continue }
            count += 1
            let st: FileStat
            do { st = try dir.stat(name) } catch { recording = nil; continue } // vanished since the listing
            // The state dir is skipped only when it is what StateDir trusts: a member's `.hfshare`
            // (ROOT is group-writable) must not hide a subtree from the audit.
            if work.rel.isEmpty && name == Paths.stateDirectory && st.type == .directory && st.uid == 0 && st.permissions & 0o022 == 0 {
                count -= 1
                continue
            }
            var link: LinkFacts?
            var targetBytes: [UInt8]?
            if st.type == .symlink {
                targetBytes = recorded.flatMap { $0[i].ino == st.ino ? $0[i].target : nil }
                link = linkFacts(dir: dir, name: name, at: place, known: targetBytes.map(ByteName.decode))
                if targetBytes == nil { targetBytes = link?.target.map(ByteName.bytes) }
                if targetBytes == nil { recording = nil }
            }
            recording?.append(LinkIndex.Entry(name: ByteName.bytes(name), type: st.type, ino: st.ino, target: targetBytes))
            var childRole: RepoFacts.Role?
            if let repo, let role {
                childRole = repo.add(role, name: ByteName.bytes(name), stat: st, in: dir, target: targetBytes, followedType: link?.followedType, into: &repoBatch)
            }
            if st.type == .directory {
                if childRole != nil { repo!.enter() }
                children.append(DirWork(parent: dir, name: name, rel: place.rel, stat: st, underLocks: childUnderLocks,
                                        isCode: work.isCode || (work.rel.isEmpty && name == "modules"),
                                        restrictedTo: work.restrictedTo ?? policy.curated.restrictedGID(parentRel: work.rel, name: name), depth: work.depth + 1,
                                        repo: childRole == nil ? nil : repo, role: childRole,
                                        inStore: work.inStore || (name == "blobs" && (work.rel.isEmpty || work.rel == "hub"))))
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
            let e = Policy.Entry(name: name, stat: st, access: acl, underLocks: childUnderLocks, isCode: work.isCode,
                                 restrictedTo: work.restrictedTo ?? policy.curated.storeGID(dirRel: work.rel, name: name))
            handle(e, at: place, in: dir, selfFD: nil, link: link)
        }
        repo?.commit(repoBatch)
        // Recorded once listed whole; a record made without ACLs (by du or verify) gets them now.
        let addACL = recorded != nil && !aclWasRecorded && aclValues.access != nil && aclValues.defaultACL != nil
        if let recorder {
            recorder.done(recording)
        } else if start == 0, end == listing.count, !unread, work.resume == nil, let entries = recording ?? (addACL ? recorded : nil),
                  WideRecorder.worthRecording(entries, isBlobs: role?.isBlobs == true),
           let index = repo?.index, let after = try? dir.stat() {
            index.record(before: work.stat, after: after, entries: entries, access: aclValues.access, defaultACL: aclValues.defaultACL)
        }
        cond.lock()
        scanned += count + (work.parent == nil && work.resume == nil ? 1 : 0)
        currentDir = work.rel
        cond.unlock()
        return children
    }

    private func isExcluded(_ rel: String, _ name: String) -> Bool {
        guard !options.excludes.isEmpty else { return false }
        return options.excludes.contains { fnmatch($0, rel, 0) == 0 || fnmatch($0, name, 0) == 0 }
    }

    // MARK: facts that need the filesystem

    /// Somebody holds an flock on the file at `rel` (never created to find out).
    private func isHeld(_ rel: String) -> Bool {
        guard let root = rootFD,
              let fd = try? root.openBeneath(rel, flags: O_RDONLY | HF_O_NONBLOCK | HF_O_CLOEXEC) else { return false }
        return (try? fd.tryExclusiveLockAndRelease()) == false
    }

    /// A symlink's facts, its target read once. Inside a snapshot the target's existence is the repo
    /// check's (snapshot-link-broken), so it is not looked up here (a third of a hub cache is such links).
    /// `known`: the target root recorded (LinkIndex), if the link is the recorded inode.
    private func linkFacts(dir: FD, name: String, at place: Place, known: String? = nil) -> LinkFacts {
        guard let target = known ?? (try? dir.readlink(name)) else { return LinkFacts(target: nil, kind: nil, followedType: nil) }
        var followed: FileType?
        let kind = symlinkKind(dir: dir, target: target, at: place, checkTarget: !place.inSnapshot, followed: &followed)
        // hfshare#14: a broken snapshot link is the repo check's snapshot-link-broken, not also symlink-dangling.
        return LinkFacts(target: target, kind: kind == .symlinkDangling && place.inSnapshot ? nil : kind, followedType: followed)
    }

    private func symlinkKind(dir: FD, target: String, at place: Place, checkTarget: Bool, followed: inout FileType?) -> FindingKind? {
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
                if depth == 0 || !checkTarget { return nil } // ROOT itself, or judged by the repo check
                do { followed = try dir.stat(target, follow: true).type } catch let e as SystemError where e.errno == ENOENT || e.errno == ENOTDIR {
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
        do { followed = try root.stat(inside, follow: true).type } catch let e as SystemError where e.errno == ENOENT || e.errno == ENOTDIR {
            return .symlinkDangling
        } catch { return nil }
        return nil
    }

    // MARK: findings and fixes

    /// Walker -> judge -> actor for one entry: gather the facts that need the filesystem or NSS, let
    /// the pure judge decide, report, and have the actor carry out the plan through descriptors.
    private func handle(_ e: Policy.Entry, at place: Place, in dir: FD?, selfFD: FD?, outsideLink: Bool = false, link: LinkFacts? = nil) {
        // No path string until there is something to say about the entry (most entries: nothing).
        var facts = Facts(entry: e, path: "", membership: nil)
        if !(e.stat.uid == 0 && options.skeleton.contains(place.rel)) { facts.membership = members.membership(of: e.stat.uid) }
        if e.stat.type == .symlink, let dir { facts.symlink = (link ?? linkFacts(dir: dir, name: e.name, at: place)).kind }
        if policy.isStaleLockCandidate(e), let dir,
           let fd = try? dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true),
           (try? fd.tryExclusiveLockAndRelease()) == true {
            facts.lockFree = true
        }
        if e.isIncomplete && policy.isOld(e), let lock = Actor.guardingLock(of: place.parentRel, place.name), isHeld(lock) {
            // A slow download writes its .incomplete only every few MiB, so age alone would call a
            // live transfer stale: while its lock is held, it is not.
            facts.downloadHeld = true
        }
        facts.outsideLink = outsideLink
        if judge.kinds(facts).isEmpty && !(options.fix?.addNamedGroupToDirectories ?? false) && !policy.hasRevoked(e) { return }
        facts.path = absolute(place.rel)
        let verdict = judge.judge(facts)
        for (f, outcome) in verdict.reports { emit(f, outcome) }
        if verdict.extraChanges > 0 { count(extra: verdict.extraChanges) }
        guard let plan = verdict.plan, let dir = dir ?? selfFD else { return }
        let results = actor.carry(plan, e, parentRel: place.parentRel, in: dir, selfFD: selfFD, path: facts.path)
        for r in results {
            if let kind = r.kind { emit(judge.finding(kind, facts, detail: r.detail ?? ""), r.outcome, error: r.error) } else { count(extra: 1) }
        }
    }

    private func evaluateDirectoryWithoutDescriptor(_ e: Policy.Entry, rel: String) {
        // Default ACL unknown without a descriptor: judge the rest.
        var p = policy
        p.aclSupported = false
        let j = Judge(policy: p, root: options.root, fix: options.fix)
        for k in p.violations(e) { emit(j.finding(k, Facts(entry: e, path: absolute(rel))), options.fix == nil ? .found : .failed, error: options.fix == nil ? nil : "cannot open directory") }
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
                    let e = Policy.Entry(name: name, stat: st, access: acl, underLocks: underLocks, isCode: rel.hasPrefix("modules/"),
                                         restrictedTo: policy.curated.restrictedGID(rel: rel)
                                            ?? policy.curated.storeGID(dirRel: parentRel, name: name))
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

    private func count(extra: Int) {
        lock.lock(); summary.extraChanges += extra; lock.unlock()
    }

    private func emit(_ f: Finding, _ outcome: Outcome, error: String? = nil) {
        lock.lock()
        summary.counts[f.kind, default: 0] += 1
        summary.outcomes[outcome, default: 0] += 1
        if !concurrentSink { sink(Event(finding: f, outcome: outcome, error: error)) }
        lock.unlock()
        // A line per finding formatted while 16 walkers wait on this lock was most of a
        // finding-heavy audit's time (jsonl: 250k lines).
        if concurrentSink { sink(Event(finding: f, outcome: outcome, error: error)) }
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
