import CHFShare
import Foundation
import Glibc

public struct MigrateOptions: Sendable {
    /// A private hub cache (`~/.cache/huggingface/hub`), or an HF_HOME-style directory holding `hub/`.
    public var source: String
    public var dryRun = false
    public var removeSource = false

    public init(source: String) { self.source = source }
}

/// What happened to one repo directory (`models--org--name`).
public struct RepoMigration: Sendable, Codable {
    public var name: String
    public var blobsMoved = 0
    public var bytesMoved: UInt64 = 0
    /// Blobs the shared cache already had (same name = same content): not copied, the private copy goes.
    public var blobsShared = 0
    public var bytesSaved: UInt64 = 0
    /// Blobs whose bytes were hashed and matched their name.
    public var verified = 0
    /// Snapshot links, refs and other entries added to the shared repo.
    public var entriesAdded = 0
    public var refsMerged: [String] = []
    /// A ref that pointed elsewhere in the shared cache: which commit was kept and which was not.
    public var refConflicts: [String] = []
    /// Unfinished downloads (`*.incomplete`) dropped from the source.
    public var incompleteDropped = 0
    /// Entries left in the source, each with the reason.
    public var problems: [String] = []
    /// Crossed filesystems: copied, verified, then deleted.
    public var copied = false
    public var complete: Bool { problems.isEmpty }
}

public struct MigrateReport: Sendable {
    public var source: String
    public var destination: String
    public var dryRun: Bool
    public var repos: [RepoMigration] = []
    /// Problems not tied to one repo (source removal, unknown entries, policy fixes that failed).
    public var problems: [String] = []
    public var notes: [String] = []
    public var sourceRemoved = false
    /// What the policy pass (the repair engine over each merged repo) changed.
    public var policyFixed = 0

    public var bytesSaved: UInt64 { repos.reduce(0) { $0 + $1.bytesSaved } }
    public var bytesMoved: UInt64 { repos.reduce(0) { $0 + $1.bytesMoved } }
    public var blobsShared: Int { repos.reduce(0) { $0 + $1.blobsShared } }
    public var blobsMoved: Int { repos.reduce(0) { $0 + $1.blobsMoved } }
    public var complete: Bool { problems.isEmpty && repos.allSatisfy(\.complete) }

    /// `migrate --json`: the report with its totals, for scripts (Ansible registers it).
    public func json() -> Data {
        struct Out: Encodable {
            var source, destination: String
            var dryRun, complete, sourceRemoved: Bool
            var blobsMoved, blobsShared, policyFixed: Int
            var bytesMoved, bytesSaved: UInt64
            var repos: [RepoMigration]
            var problems, notes: [String]
        }
        let out = Out(source: source, destination: destination, dryRun: dryRun, complete: complete, sourceRemoved: sourceRemoved,
                      blobsMoved: blobsMoved, blobsShared: blobsShared, policyFixed: policyFixed,
                      bytesMoved: bytesMoved, bytesSaved: bytesSaved, repos: repos, problems: problems, notes: notes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(out)) ?? Data("{}".utf8)
    }
}

/// `hfshare migrate`: merges a private hub cache into the shared one.
///
/// Per repo: blobs first (a hard link into the shared `blobs/` on the same filesystem, else a copy to a
/// temp name that is hashed again before it is renamed into place), each LFS blob's sha256 and each
/// small file's git blob id checked against its name before it is placed; then snapshot links, refs and
/// the rest. Only then are the private names removed, links before blobs, so no snapshot link points
/// at a missing blob at any moment in either cache. Every step looks at what is already there, so a
/// run that was killed is finished by running it again. The merged repo then goes through the repair
/// engine (Scanner in fix mode) so that moved files get the shared group, modes and ACLs; owners stay.
public final class Migrator {
    let options: MigrateOptions
    let shared: SharedCache
    var report: MigrateReport
    let gid: UInt32
    var dryRun: Bool { options.dryRun }
    let members: MembershipCache
    var movedOwners: [UInt32: Int] = [:]
    /// Blobs this migration copied across filesystems (`repo/blob` lines in ROOT/.hfshare), so that a
    /// rerun after a crash counts them as moved, not as already shared. Same-filesystem moves need no
    /// record: the shared name is then the same inode as the private one.
    var journal: FD?
    var journaled = Set<String>()

    // Per repo state.
    var repo = RepoMigration(name: "")
    /// Blob names the shared repo has now (placed by us or already there).
    var available = Set<String>()
    /// Source paths (relative to the repo dir) that the shared repo now represents: deletable.
    var migrated = Set<String>()
    /// Blob names that entries left in the source still point at: they stay.
    var stillNeeded = Set<String>()

    static let tempPrefix = Scanner.tempPrefix + "migrate-"
    static let repoPrefixes = ["models--", "datasets--", "spaces--"]
    /// Entries of a hub cache that are not repos and that a removed source may contain.
    static let cacheFiles: Set<String> = ["CACHEDIR.TAG", "version.txt", ".locks"]

    init(_ options: MigrateOptions, _ shared: SharedCache, source: String) {
        self.options = options
        self.shared = shared
        self.gid = shared.policy.gid
        self.members = MembershipCache(gid: shared.policy.gid, rootIsMember: shared.rootIsMember)
        self.report = MigrateReport(source: source, destination: shared.root + "/hub", dryRun: options.dryRun)
    }

    public static func run(_ options: MigrateOptions, into shared: SharedCache) throws -> MigrateReport {
        if !options.dryRun && !Posix.isRoot() {
            throw UsageError("migrate must run as root (it moves another user's files and keeps their owner); try: sudo hfshare migrate \(options.source), or --dry-run")
        }
        try Validate.pathText(options.source, what: "SRC")
        let given = Paths.absolute(options.source)
        var (source, exists) = try Paths.resolveTrusted(given)
        guard exists else { throw UsageError("\(Escape.text(given)): no such directory; pass a private hub cache such as ~NAME/.cache/huggingface/hub") }
        if !isHubCache(source) && isHubCache(source + "/hub") { source += "/hub" }
        if !isHubCache(source), let names = try? FileManager.default.contentsOfDirectory(atPath: source),
           names.contains(where: { !cacheFiles.contains($0) }) {
            throw UsageError("\(Escape.text(source)): not a hub cache (no models--*, datasets--* or spaces--* directories); pass a private hub cache such as ~NAME/.cache/huggingface/hub")
        }
        let destination = shared.root + "/hub"
        let rootParts = shared.root.split(separator: "/")
        let sourceParts = source.split(separator: "/")
        if sourceParts.starts(with: rootParts) {
            throw UsageError("\(source) is inside the shared cache \(shared.root); pass a private cache outside it")
        }
        if rootParts.starts(with: sourceParts) {
            throw UsageError("the shared cache \(shared.root) is inside \(source); pass the private hub directory itself")
        }
        let m = Migrator(options, shared, source: source)
        try RepairLock.with(root: shared.root, skip: options.dryRun) { try m.migrateAll(source: source, destination: destination) }
        return m.report
    }

    static func isHubCache(_ path: String) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        return names.contains { n in repoPrefixes.contains { n.hasPrefix($0) } }
    }

    // MARK: the whole cache

    func migrateAll(source: String, destination: String) throws {
        let srcHub = try Paths.openVerifiedDirectory(source)
        let dstHub: FD
        do { dstHub = try Paths.openVerifiedDirectory(destination) } catch {
            throw UsageError("\(destination): the shared hub cache is missing; run: sudo hfshare init \(shared.root) --group \(shared.group.name)")
        }
        if !dryRun { try openJournal(source) }
        let names = try srcHub.entries().map(\.name).sorted()
        for name in names {
            let isRepo = Migrator.repoPrefixes.contains { name.hasPrefix($0) }
            if !isRepo {
                if !Migrator.cacheFiles.contains(name) { report.notes.append("\(source)/\(name): not a repo directory of a hub cache; left where it is") }
                continue
            }
            guard (try? srcHub.stat(name))?.type == .directory else {
                report.notes.append("\(source)/\(name): not a directory; left where it is")
                continue
            }
            repo = RepoMigration(name: name)
            available = []; migrated = []; stillNeeded = []
            do {
                try migrateRepo(name, srcHub: srcHub, dstHub: dstHub)
            } catch {
                repo.problems.append("\(name): \(error); nothing of this repo was removed from the source, run migrate again")
            }
            report.repos.append(repo)
        }
        for (uid, count) in movedOwners.sorted(by: { $0.key < $1.key }) where members.membership(of: uid) != .member {
            let name = NSS.user(uid: uid)?.name
            report.notes.append("\(name ?? "uid \(uid)") owns \(count) moved entries but is not a member of \(shared.group.name) (audit: owner-not-member); "
                                + (name.map { "run: sudo hfshare user add \($0)" } ?? "give them to a member: chown MEMBER ..."))
        }
        if report.complete, let journal {
            try? StateDir.open(root: shared.root).remove((journal.path as NSString).lastPathComponent)
        }
        if options.removeSource && !dryRun {
            if report.complete { try removeSource(srcHub, source) } else {
                report.problems.append("\(source): not removed (--remove-source) because something was left in it; see above")
            }
        }
    }

    // MARK: one repo

    func migrateRepo(_ name: String, srcHub: FD, dstHub: FD) throws {
        let src = try srcHub.openDirectory(name)
        let srcStat = try src.stat()
        let locks = try holdLocks(srcHub, repo: name)
        defer { for l in locks { l.fd.unlock() } }
        let dst = try ensureDirectory(dstHub, name, owner: srcStat.uid)
        let entries = try src.entries().map(\.name).sorted()

        if entries.contains("blobs") {
            let st = try src.stat("blobs")
            guard st.type == .directory else { throw SystemError("open", src.path + "/blobs", ENOTDIR) }
            let srcBlobs = try src.openDirectory("blobs")
            let dstBlobs = try ensureDirectory(dst, "blobs", owner: st.uid)
            if let dstBlobs, !dryRun { cleanTemps(dstBlobs) }
            for (blob, _) in try srcBlobs.entries().sorted(by: { $0.name < $1.name }) {
                placeBlob(blob, from: srcBlobs, to: dstBlobs)
            }
        }
        for entry in entries where entry != "blobs" && entry != "refs" {
            merge(entry, rel: entry, from: src, to: dst)
        }
        if entries.contains("refs") { mergeRefs("refs", rel: "refs", from: src, to: dst) }
        if dryRun { return }

        // The shared repo now holds everything migrated: drop the private names, links before blobs.
        if let dst { try? dst.fsync() }
        for entry in entries where entry != "blobs" { prune(entry, rel: entry, in: src) }
        if entries.contains("blobs") { prune("blobs", rel: "blobs", in: src) }
        if (try? src.entries().isEmpty) == true {
            try? srcHub.unlink(name, directory: true)
            for l in locks { try? l.dir.unlink(l.name) }
            if let locksDir = try? srcHub.openDirectory(".locks") { try? locksDir.unlink(name, directory: true) }
        }
        try applyPolicy(to: report.destination + "/" + name)
    }

    /// The client's download locks of this repo in the source, held (flock) for the whole repo, so a
    /// download running from the private cache cannot race the move. A held lock means: not now.
    func holdLocks(_ srcHub: FD, repo name: String) throws -> [(fd: FD, dir: FD, name: String)] {
        guard let locksDir = try? srcHub.openDirectory(".locks"), let dir = try? locksDir.openDirectory(name) else { return [] }
        var held: [(FD, FD, String)] = []
        for (lock, type) in try dir.entries() where type == .regular || type == .unknown {
            guard lock.hasSuffix(".lock"), let fd = try? dir.openat(lock, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC) else { continue }
            guard try fd.tryExclusiveLock() else {
                for h in held { h.0.unlock() }
                throw UsageError("a client is downloading into this repo right now (it holds \(fd.path))")
            }
            held.append((fd, dir, lock))
        }
        return held
    }

    // MARK: blobs

    func placeBlob(_ name: String, from srcDir: FD, to dstDir: FD?) {
        let rel = "blobs/" + name
        guard let st = try? srcDir.stat(name) else { return }
        if name.hasSuffix(".incomplete") {
            repo.incompleteDropped += 1
            migrated.insert(rel)
            return
        }
        if name.hasPrefix(Migrator.tempPrefix) { return }
        guard st.type == .regular else {
            repo.problems.append("\(srcDir.path)/\(name): a blob that is not a regular file; left in the source")
            return
        }
        let linkedByUs = dstDir.flatMap { try? $0.stat(name) }.map { $0.dev == st.dev && $0.ino == st.ino } ?? false
        if st.nlink > 1 && !linkedByUs {
            // A private cache never hard-links its blobs; a second name may be a file from outside the
            // cache that the policy pass would then make group-readable.
            repo.problems.append("\(srcDir.path)/\(name): has \(st.nlink) hard links (another name outside this cache?); not moved, left in the source")
            return
        }
        if let dstDir, let there = try? dstDir.stat(name) {
            if (there.dev == st.dev && there.ino == st.ino) || journaled.contains(repo.name + "/" + name) {
                // Linked or copied by a run that was interrupted before it removed the private name.
                repo.blobsMoved += 1
                repo.bytesMoved += st.size
            } else if there.type == .regular && there.size == st.size {
                repo.blobsShared += 1
                repo.bytesSaved += st.size
            } else {
                repo.problems.append("\(srcDir.path)/\(name): the shared cache has a different \(there.type == .regular ? "\(there.size)-byte file" : there.type.rawValue) under this name; left in the source (check both, e.g. sha256sum)")
                return
            }
            available.insert(name)
            migrated.insert(rel)
            return
        }
        do {
            let fd = try srcDir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
            let now = try fd.stat()
            guard now.ino == st.ino, now.dev == st.dev, now.type == .regular else { throw SystemError("open", fd.path, ESTALE) }
            let expected = BlobName(name)
            if dryRun || dstDir == nil {
                let digests = try Migrator.hash(fd, size: now.size, for: expected)
                guard digests.match(expected) else { throw BlobMismatch(digests: digests) }
            } else {
                try moveFile(name, fd: fd, stat: now, from: srcDir, to: dstDir!, expected: expected, journalKey: repo.name + "/" + name)
            }
            if case .other = expected {} else { repo.verified += 1 }
            repo.blobsMoved += 1
            repo.bytesMoved += st.size
            available.insert(name)
            migrated.insert(rel)
            movedOwners[st.uid, default: 0] += 1
        } catch let e as BlobMismatch {
            repo.problems.append("\(srcDir.path)/\(name): content does not match its name (sha256 \(e.digests.sha256)); a corrupt or partial download, left in the source")
        } catch {
            repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
        }
    }

    struct BlobMismatch: Error { var digests: BlobHasher.Digests }

    /// Puts `name` into `dstDir` under the same name: a hard link on the same filesystem (after
    /// checking the bytes against the name), else a copy to a temp name that is fsynced, read back
    /// and hashed again, then renamed into place. Owner, mode and mtime are kept; the group becomes G.
    /// A private file may be moved only while it has no other name: a member could have linked a file
    /// from elsewhere in (or out) at any moment since it was listed. Checked on the open descriptor.
    static func requireSingleLink(_ fd: FD, _ st: FileStat) throws {
        let now = try fd.stat()
        guard now.dev == st.dev, now.ino == st.ino, now.type == .regular else { throw SystemError("open", fd.path, ESTALE) }
        guard now.nlink == 1 else {
            throw UsageError("has \(now.nlink) hard links (another name outside this cache?); not moved")
        }
    }

    func moveFile(_ name: String, fd: FD, stat st: FileStat, from srcDir: FD, to dstDir: FD, expected: BlobName, journalKey: String? = nil) throws {
        try Migrator.requireSingleLink(fd, st)
        do {
            if case .other = expected {} else {
                let digests = try Migrator.hash(fd, size: st.size, for: expected)
                guard digests.match(expected) else { throw BlobMismatch(digests: digests) }
            }
            try srcDir.link(name, to: dstDir, name)
            try conform(name, in: dstDir, links: 2)
            return
        } catch let e as SystemError where e.errno == EXDEV {
            repo.copied = true
        }
        let tmp = Migrator.tempPrefix + name
        try? dstDir.unlink(tmp)
        let out = try dstDir.openat(tmp, flags: O_RDWR | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        do {
            guard lseek(fd.raw, 0, SEEK_SET) == 0 else { throw SystemError("lseek", fd.path) }
            var hasher = BlobHasher(size: st.size, for: expected)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = try fd.read(into: buffer)
                if n == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                hasher.update(chunk)
                try out.writeAll(chunk)
            }
            let digests = hasher.finish()
            guard digests.match(expected) else { throw BlobMismatch(digests: digests) }
            try out.fsync()
            let reread = try Migrator.hash(out, size: st.size, for: .other)
            guard reread.sha256 == digests.sha256 else {
                throw UsageError("the copy in \(dstDir.path) reads back different bytes (sha256 \(reread.sha256), want \(digests.sha256)); the destination filesystem is failing")
            }
            try out.chown(uid: st.uid, gid: gid)
            guard Glibc.fchmod(out.raw, mode_t(st.permissions & ~UInt32(S_ISUID | S_ISGID))) == 0 else { throw SystemError("chmod", out.path) }
            try conform(tmp, in: dstDir)
            try out.setMtime(sec: st.mtimeSec, nsec: st.mtimeNsec)
            try out.fsync()
            if let journalKey { try record(journalKey) }
            try dstDir.rename(tmp, to: name)
        } catch {
            try? dstDir.unlink(tmp)
            throw error
        }
    }

    func openJournal(_ source: String) throws {
        let state = try StateDir.open(root: shared.root, create: true).fd
        var h = SHA256()
        h.update(Array(source.utf8))
        let name = "migrate-" + h.finalize().prefix(16) + ".journal"
        let fd = try state.openat(name, flags: O_RDWR | O_CREAT | O_APPEND | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        let text = String(decoding: try Migrator.readAll(fd), as: UTF8.self)
        journaled = Set(text.split(separator: "\n").map(String.init))
        journal = fd
    }

    func record(_ key: String) throws {
        guard let journal else { return }
        try Array((key + "\n").utf8).withUnsafeBytes { try journal.writeAll($0) }
        try journal.fsync()
    }

    static func hash(_ fd: FD, size: UInt64, for name: BlobName) throws -> BlobHasher.Digests {
        guard lseek(fd.raw, 0, SEEK_SET) == 0 else { throw SystemError("lseek", fd.path) }
        var hasher = BlobHasher(size: size, for: name)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try fd.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finish()
    }

    // MARK: snapshots and the rest

    func merge(_ name: String, rel: String, from srcDir: FD, to dstDir: FD?) {
        guard let st = try? srcDir.stat(name) else { return }
        let there = dstDir.flatMap { try? $0.stat(name) }
        func added() {
            repo.entriesAdded += 1
            migrated.insert(rel)
            movedOwners[st.uid, default: 0] += 1
        }
        switch st.type {
        case .directory:
            do {
                let s = try srcDir.openDirectory(name)
                let d = try ensureDirectory(dstDir, name, owner: st.uid)
                for (child, _) in try s.entries().sorted(by: { $0.name < $1.name }) { merge(child, rel: rel + "/" + child, from: s, to: d) }
            } catch {
                repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
            }
        case .symlink:
            guard let target = try? srcDir.readlink(name) else { return }
            switch Migrator.resolve(link: rel, target: target) {
            case nil:
                repo.problems.append("\(srcDir.path)/\(name): symlink to \(target), outside the repo; left in the source")
                return
            case let inside?:
                if inside.count == 2 && inside[0] == "blobs" && !available.contains(inside[1]) {
                    stillNeeded.insert(inside[1])
                    repo.problems.append("\(srcDir.path)/\(name): its blob \(inside[1]) was not moved (see above); link left in the source")
                    return
                }
            }
            if let there {
                if there.type != .symlink || (try? dstDir!.readlink(name)) != target {
                    repo.refConflicts.append("\(rel): the shared cache already has a different entry here; kept the shared one")
                } else if there.uid == 0 && st.uid != 0 && !dryRun {
                    // Made by a run killed between symlink() and its chown: finish the chown.
                    try? dstDir!.chownEntry(name, uid: st.uid, gid: gid)
                }
                migrated.insert(rel)
                return
            }
            if !dryRun, let dstDir {
                do {
                    try dstDir.symlink(target, name)
                    try dstDir.chownEntry(name, uid: st.uid, gid: gid)
                } catch let e as SystemError where e.errno == EEXIST {
                    // A client in the shared cache made the same snapshot entry meanwhile.
                    migrated.insert(rel)
                    return
                } catch {
                    repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
                    return
                }
            }
            added()
        case .regular:
            if name.hasPrefix(Migrator.tempPrefix) { return }
            if there != nil {
                migrated.insert(rel) // the shared cache's copy wins (same commit, same path)
                return
            }
            if !dryRun, let dstDir {
                do {
                    let fd = try srcDir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
                    try moveFile(name, fd: fd, stat: st, from: srcDir, to: dstDir, expected: .other)
                } catch {
                    repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
                    return
                }
            }
            added()
        default:
            repo.problems.append("\(srcDir.path)/\(name): a \(st.type.rawValue) has no place in a cache; left in the source")
        }
    }

    /// Where a link at `rel` (inside the repo dir) points, as path components inside the repo dir, or
    /// nil if it leaves the repo (absolute, or too many `..`).
    static func resolve(link rel: String, target: String) -> [String]? {
        if target.hasPrefix("/") { return nil }
        var parts = rel.split(separator: "/").dropLast().map(String.init)
        for p in target.split(separator: "/") {
            if p == "." { continue }
            if p == ".." {
                if parts.isEmpty { return nil }
                parts.removeLast()
                continue
            }
            parts.append(String(p))
        }
        return parts
    }

    /// refs/NAME holds a commit id. Same in both: nothing to do. Different: the newer ref file wins (it
    /// was written by the later download), the other commit is reported; both snapshots stay.
    func mergeRefs(_ name: String, rel: String, from srcDir: FD, to dstDir: FD?) {
        guard let st = try? srcDir.stat(name) else { return }
        if st.type == .directory {
            do {
                let s = try srcDir.openDirectory(name)
                let d = try ensureDirectory(dstDir, name, owner: st.uid)
                for (child, _) in try s.entries() { mergeRefs(child, rel: rel + "/" + child, from: s, to: d) }
            } catch {
                repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
            }
            return
        }
        guard st.type == .regular, !name.hasPrefix(Migrator.tempPrefix) else { return }
        let refName = rel.split(separator: "/").dropFirst().joined(separator: "/")
        do {
            let fd = try srcDir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC)
            let commit = try Migrator.readSmall(fd)
            if let dstDir, let there = try? dstDir.stat(name) {
                let theirs = try Migrator.readSmall(try dstDir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC))
                if theirs != commit {
                    let sourceNewer = (st.mtimeSec, st.mtimeNsec) > (there.mtimeSec, there.mtimeNsec)
                    if sourceNewer {
                        if !dryRun {
                            let tmp = Migrator.tempPrefix + name
                            try? dstDir.unlink(tmp)
                            try moveFile(tmp, fd: fd, stat: st, from: srcDir, to: dstDir, expected: .other, sourceName: name)
                            try dstDir.rename(tmp, to: name)
                        }
                        repo.refConflicts.append("\(refName): now \(commit) (the private ref was newer); the shared cache had \(theirs), its snapshot stays")
                    } else {
                        repo.refConflicts.append("\(refName): kept \(theirs) (the shared ref is newer); the private cache had \(commit), its snapshot was merged and stays reachable by commit id")
                    }
                }
                migrated.insert(rel)
                return
            }
            if !dryRun, let dstDir { try moveFile(name, fd: fd, stat: st, from: srcDir, to: dstDir, expected: .other) }
            repo.refsMerged.append(refName)
            migrated.insert(rel)
            movedOwners[st.uid, default: 0] += 1
        } catch {
            repo.problems.append("\(srcDir.path)/\(name): \(error); left in the source")
        }
    }

    /// moveFile with a different name in the destination.
    func moveFile(_ dstName: String, fd: FD, stat st: FileStat, from srcDir: FD, to dstDir: FD, expected: BlobName, sourceName: String) throws {
        try Migrator.requireSingleLink(fd, st)
        do {
            try srcDir.link(sourceName, to: dstDir, dstName)
            try conform(dstName, in: dstDir, links: 2)
            return
        } catch let e as SystemError where e.errno == EXDEV {}
        let out = try dstDir.openat(dstName, flags: O_RDWR | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        let data = try Migrator.readAll(fd)
        try data.withUnsafeBytes { try out.writeAll($0) }
        try out.chown(uid: st.uid, gid: gid)
        try out.chmod(st.permissions & ~UInt32(S_ISUID | S_ISGID))
        try conform(dstName, in: dstDir)
        try out.setMtime(sec: st.mtimeSec, nsec: st.mtimeNsec)
        try out.fsync()
    }

    static func readAll(_ fd: FD) throws -> [UInt8] {
        guard lseek(fd.raw, 0, SEEK_SET) == 0 else { throw SystemError("lseek", fd.path) }
        var data: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try fd.read(into: buffer)
            if n == 0 { return data }
            data += buffer[0..<n]
        }
    }

    static func readSmall(_ fd: FD) throws -> String {
        let st = try fd.stat()
        guard st.type == .regular, st.size < 4096 else { throw SystemError("read", fd.path, EFBIG) }
        return String(decoding: try readAll(fd), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: directories, cleanup, policy

    /// Opens `name` in `parent`, creating it first if missing: made under a temp name with the whole
    /// policy (group, setgid, mode, access and default ACL, as init makes directories) and the source
    /// owner, then renamed into place, so a killed run never leaves a half-made directory behind.
    /// nil with --dry-run when it does not exist yet.
    func ensureDirectory(_ parent: FD?, _ name: String, owner: UInt32) throws -> FD? {
        guard let parent else { return nil }
        let tmp = Migrator.tempPrefix + "dir-" + name
        if !dryRun { try? parent.unlink(tmp, directory: true) } // left by a killed run (empty: renamed before use)
        if let st = try? parent.stat(name) {
            guard st.type == .directory else { throw SystemError("open", parent.path + "/" + name, ENOTDIR) }
            return try parent.openDirectory(name)
        }
        if dryRun { return nil }
        try parent.mkdir(tmp, mode: 0o700)
        do {
            let fd = try parent.openDirectory(tmp)
            try Initializer.makePolicyDirectory(fd, shared.policy)
            try fd.chown(uid: owner, gid: gid)
            try parent.rename(tmp, to: name)
        } catch {
            try? parent.unlink(tmp, directory: true)
            throw error
        }
        movedOwners[owner, default: 0] += 1
        return try parent.openDirectory(name)
    }

    /// Temp files a killed run left in a shared blobs dir (root-owned, our prefix).
    func cleanTemps(_ dir: FD) {
        guard let list = try? dir.entries() else { return }
        for (name, _) in list where name.hasPrefix(Migrator.tempPrefix) {
            if let st = try? dir.stat(name), st.type == .regular { try? dir.unlink(name) }
        }
    }

    /// Removes the source names that the shared repo now represents, depth first; directories only if
    /// they end up empty. Blobs that a link left in the source still needs stay.
    func prune(_ name: String, rel: String, in dir: FD) {
        guard let st = try? dir.stat(name) else { return }
        if st.type == .directory {
            guard let sub = try? dir.openDirectory(name), let list = try? sub.entries() else { return }
            for (child, _) in list { prune(child, rel: rel + "/" + child, in: sub) }
            try? dir.unlink(name, directory: true) // fails (ENOTEMPTY) if something stays
            return
        }
        guard migrated.contains(rel) else { return }
        if rel.hasPrefix("blobs/") && stillNeeded.contains(name) { return }
        try? dir.unlink(name)
    }

    /// Gives a file just placed in the shared cache the policy's group, mode and ACL at once (the
    /// Policy functions repair uses), so that a run killed before the final pass leaves nothing
    /// unshareable behind. The file's other name in the source is the same inode; it goes soon.
    /// The policy on a file just placed in the shared cache, which has exactly `links` names (ours:
    /// the private one and the shared one after a link, 1 after a copy), re-checked on the descriptor
    /// around the change (LinkGuard).
    func conform(_ name: String, in dir: FD, links: UInt32 = 1) throws {
        let fd = try dir.openat(name, flags: HF_O_PATH | HF_O_NOFOLLOW | HF_O_CLOEXEC)
        var st = try fd.stat()
        guard st.type == .regular else { return }
        guard st.nlink <= links else {
            throw UsageError("has \(st.nlink) hard links, expected \(links) (a link was made meanwhile); policy not applied")
        }
        st.nlink = links
        let policy = shared.policy
        let acl = policy.aclSupported ? (try ACLStore.read(fd, .access)) : nil
        let e = Policy.Entry(name: name, stat: st, access: acl)
        // The repair engine's actor, so a moved file gets exactly what repair would give it.
        let actor = Actor(policy: policy, root: dir, addNamedGroup: false)
        try LinkGuard.change(e, through: fd, path: FD.join(dir.path, name)) { try actor.applyAttributes(e, to: fd) }
    }

    /// Then the whole merged repo goes through the repair engine: what was already there, directories,
    /// and anything the per-file step could not do.
    func applyPolicy(to repoPath: String) throws {
        // The repo dir is the walk's root: nothing in it is init's skeleton.
        var o = ScanOptions(root: repoPath, policy: shared.policy, rootIsMember: shared.rootIsMember)
        o.skeleton = []
        o.fix = FixMode(dryRun: false, breakOutsideLinks: true, addNamedGroupToDirectories: false)
        var failed: [String] = []
        let summary = try Scanner(o) { e in
            if e.outcome == .failed { failed.append("\(e.finding.path): \(e.finding.kind.rawValue): \(e.error ?? "")") }
        }.run()
        report.policyFixed += summary.count(.fixed)
        for f in failed { report.problems.append("policy not applied to \(f); run: sudo hfshare repair \(shared.root)") }
    }

    /// --remove-source: what is left is the cache's own files (.locks, CACHEDIR.TAG, version.txt) and
    /// empty directories; anything else stops the removal.
    func removeSource(_ srcHub: FD, _ source: String) throws {
        let left = try srcHub.entries().map(\.name).filter { !Migrator.cacheFiles.contains($0) }
        guard left.isEmpty else {
            report.problems.append("\(source): not removed (--remove-source): it still holds \(left.sorted().joined(separator: ", "))")
            return
        }
        for name in Migrator.cacheFiles { removeTree(name, in: srcHub) }
        guard (try? srcHub.entries().isEmpty) == true else {
            report.problems.append("\(source): not removed: could not empty it")
            return
        }
        let parent = try Paths.openVerifiedDirectory((source as NSString).deletingLastPathComponent)
        try parent.unlink((source as NSString).lastPathComponent, directory: true)
        report.sourceRemoved = true
    }

    /// Deletes a tree of directories, lock files and small files, never following a link.
    func removeTree(_ name: String, in dir: FD) {
        guard let st = try? dir.stat(name) else { return }
        if st.type == .directory, let sub = try? dir.openDirectory(name) {
            for (child, _) in (try? sub.entries()) ?? [] { removeTree(child, in: sub) }
            try? dir.unlink(name, directory: true)
        } else {
            try? dir.unlink(name)
        }
    }
}
