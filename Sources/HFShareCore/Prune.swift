import CHFShare
import Foundation
import Glibc

// `hfshare prune`: removes whole revisions, least recently used first, and never one a job is using.
// The plan is a pure function of du's model (UsageScanner's RepoDetail), the pins and what is in use;
// the deletion then goes ref -> snapshot -> blobs no remaining snapshot uses, under the repo's download
// locks, through descriptors opened O_NOFOLLOW relative to verified parents.

public struct RevisionID: Hashable, Sendable, Comparable {
    public var repo: String
    public var commit: String
    public init(_ repo: String, _ commit: String) { self.repo = repo; self.commit = commit }
    public static func < (a: RevisionID, b: RevisionID) -> Bool { (a.repo, a.commit) < (b.repo, b.commit) }
}

public struct PruneCriteria: Sendable, Equatable {
    /// Remove every revision not used for this long.
    public var unusedFor: Double?
    /// Watermark: the cache's blob bytes at most this.
    public var maxSize: UInt64?
    /// Watermark: at least this much free (available) space on the filesystem.
    public var keepFree: FreeTarget?
    /// Only revisions no ref points to.
    public var detachedOnly = false
    /// fnmatch patterns on repo dir names; empty: every repo.
    public var repoPatterns: [String] = []
    /// A revision used more recently than this is never chosen (a job may be about to load it).
    public var minAge: Double = 3600

    public init() {}

    public var hasWatermark: Bool { maxSize != nil || keepFree != nil }

    /// What says which revisions go: at least one of these, or prune would remove everything.
    public var selects: Bool { unusedFor != nil || hasWatermark || detachedOnly }
}

public struct PlannedRevision: Codable, Sendable, Equatable {
    public var repo: String
    public var commit: String
    public var refs: [String]
    public var lastUse: Double
    public var lastUseKnown: Bool
    /// `unused-for`, `watermark`, `detached`.
    public var why: String
    /// Apparent bytes this removal frees given the ones chosen before it (blobs no remaining snapshot uses).
    public var bytes: UInt64
    public var allocated: UInt64

    enum CodingKeys: String, CodingKey {
        case repo, commit, refs, why, bytes, allocated
        case lastUse = "last_use", lastUseKnown = "last_use_known"
    }
}

public struct KeptRevision: Codable, Sendable, Equatable {
    public var repo: String
    public var commit: String
    /// `pinned (PIN)`, `download lock held (FILE)`, `open by pid N`, `used within MIN-AGE`.
    public var reason: String
}

public struct PrunePlan: Sendable, Equatable {
    public var chosen: [PlannedRevision] = []
    /// Revisions the criteria would have taken but that are in use or pinned.
    public var kept: [KeptRevision] = []
    /// Blob names (per repo) that the chosen revisions leave unused: what is deleted.
    public var blobs: [String: [String]] = [:]
    /// Repos left with no snapshot: removed whole.
    public var emptied: Set<String> = []
    public var bytes: UInt64 = 0
    public var allocated: UInt64 = 0
    /// The watermark could not be reached with what may be removed.
    public var watermarkUnreachable = false
    public var watermark: String?
}

public enum PrunePlanner {
    /// Pure. `inUse`: revisions that must stay, with the reason (locks, open files, pins resolved by the
    /// caller); `openBlobs`: blob names per repo that a process has open or mapped (never deleted);
    /// `totalSize`: the cache's blob bytes (for --max-size); `space`: the filesystem (for --keep-free).
    public static func plan(_ repos: [RepoDetail], criteria c: PruneCriteria, inUse: [RevisionID: String],
                            openBlobs: [String: Set<String>] = [:], totalSize: UInt64, space: FilesystemSpace?,
                            lastUseKnown: Bool = true, now: Double) -> PrunePlan {
        var plan = PrunePlan()
        // Per repo: how many remaining revisions use each blob.
        var users: [String: [String: Int]] = [:]
        var remaining: [String: Int] = [:]
        var byID: [RevisionID: RepoDetail.Revision] = [:]
        var detail: [String: RepoDetail] = [:]
        for r in repos {
            detail[r.name] = r
            remaining[r.name] = r.revisions.count
            var u: [String: Int] = [:]
            for rev in r.revisions { for b in rev.blobs { u[b, default: 0] += 1 }; byID[RevisionID(r.name, rev.commit)] = rev }
            users[r.name] = u
        }
        var freedBlobs: [String: Set<String>] = [:]

        func matches(_ repo: String, _ rev: RepoDetail.Revision) -> Bool {
            if !c.repoPatterns.isEmpty && !c.repoPatterns.contains(where: { fnmatch($0, repo, 0) == 0 }) { return false }
            if c.detachedOnly && !rev.refs.isEmpty { return false }
            return true
        }

        // Candidates, least recently used first.
        var candidates: [(RevisionID, RepoDetail.Revision)] = []
        for r in repos {
            for rev in r.revisions where matches(r.name, rev) {
                let id = RevisionID(r.name, rev.commit)
                if let why = inUse[id] {
                    plan.kept.append(KeptRevision(repo: r.name, commit: rev.commit, reason: why))
                    continue
                }
                candidates.append((id, rev))
            }
        }
        candidates.sort { $0.1.lastUse < $1.1.lastUse || ($0.1.lastUse == $1.1.lastUse && $0.0 < $1.0) }

        func choose(_ id: RevisionID, _ rev: RepoDetail.Revision, why: String) {
            let repo = detail[id.repo]!
            var bytes = rev.ownBytes, allocated = rev.ownAllocated
            var gone: [String] = []
            for b in rev.blobs {
                users[id.repo]![b, default: 1] -= 1
                if users[id.repo]![b] == 0 { gone.append(b) }
            }
            if freedBlobs[id.repo] == nil {
                // The first revision of a repo to go also takes the blobs no snapshot used before.
                gone += repo.blobs.keys.filter { users[id.repo]![$0] == nil }
                freedBlobs[id.repo] = []
            }
            for b in gone.sorted() {
                guard let blob = repo.blobs[b], !(openBlobs[id.repo]?.contains(b) ?? false) else { continue }
                guard freedBlobs[id.repo]!.insert(b).inserted else { continue }
                plan.blobs[id.repo, default: []].append(b)
                if blob.freeable { bytes += blob.size; allocated += blob.allocated }
            }
            remaining[id.repo]! -= 1
            if remaining[id.repo] == 0 { plan.emptied.insert(id.repo) }
            plan.chosen.append(PlannedRevision(repo: id.repo, commit: id.commit, refs: rev.refs, lastUse: rev.lastUse,
                                               lastUseKnown: lastUseKnown, why: why, bytes: bytes, allocated: allocated))
            plan.bytes += bytes
            plan.allocated += allocated
        }

        var taken = Set<RevisionID>()
        let recentCut = now - c.minAge
        var tooRecent: [RevisionID] = []
        for (id, rev) in candidates where rev.lastUse > recentCut { tooRecent.append(id) }

        if let unused = c.unusedFor {
            let cut = min(now - unused, recentCut)
            for (id, rev) in candidates where rev.lastUse <= cut {
                choose(id, rev, why: "unused-for")
                taken.insert(id)
            }
        }
        if c.hasWatermark {
            func satisfied() -> Bool {
                if let max = c.maxSize, totalSize > max && totalSize - max > plan.bytes { return false }
                if let keep = c.keepFree, let space {
                    let want = keep.bytes(of: space.size)
                    if space.available < want && want - space.available > plan.allocated { return false }
                }
                return true
            }
            var parts: [String] = []
            if let max = c.maxSize { parts.append("cache at most \(Format.bytes(max)) (now \(Format.bytes(totalSize)))") }
            if let keep = c.keepFree, let space {
                parts.append("at least \(Format.bytes(keep.bytes(of: space.size))) free (now \(Format.bytes(space.available)))")
            }
            plan.watermark = parts.joined(separator: ", ")
            for (id, rev) in candidates where !satisfied() && !taken.contains(id) && rev.lastUse <= recentCut {
                choose(id, rev, why: "watermark")
                taken.insert(id)
            }
            plan.watermarkUnreachable = !satisfied()
        } else if c.unusedFor == nil {
            // --detached (and/or --repo) alone: every matching revision not used recently.
            for (id, rev) in candidates where rev.lastUse <= recentCut {
                choose(id, rev, why: c.detachedOnly ? "detached" : "repo")
                taken.insert(id)
            }
        }
        // Recent revisions that the criteria would otherwise have reached are reported as kept.
        if c.hasWatermark && plan.watermarkUnreachable || c.unusedFor == nil && !c.hasWatermark {
            for id in tooRecent where !taken.contains(id) {
                plan.kept.append(KeptRevision(repo: id.repo, commit: id.commit, reason: "used within --min-age \(Int(c.minAge))s"))
            }
        }
        plan.kept.sort { ($0.repo, $0.commit) < ($1.repo, $1.commit) }
        return plan
    }
}

/// What processes on this node have open or mapped: `/proc/*/fd` (stat through the magic link:
/// the real device and inode) and `/proc/*/maps` (safetensors are mmapped and the fd may be closed).
public struct OpenFiles: Sendable {
    public var inodes: [InodeKey: Int32] = [:]
    /// Mapped inodes by number alone, for maps lines whose path is under ROOT (btrfs shows the
    /// superblock's device in maps but a per-subvolume device in stat).
    public var mappedUnderRoot: [UInt64: Int32] = [:]
    public var unreadablePids = 0

    public func holder(_ key: InodeKey) -> Int32? { inodes[key] ?? mappedUnderRoot[key.ino] }

    public static func scan(root: String) -> OpenFiles {
        var r = OpenFiles()
        let me = getpid()
        guard let proc = try? FD.openDirectory("/proc"), let list = try? proc.entries() else { return r }
        for (name, _) in list {
            guard let pid = Int32(name), pid != me else { continue }
            if let fdDir = try? proc.openBeneath("\(pid)/fd", flags: FD.directoryFlags), let fds = try? fdDir.entries() {
                for (n, _) in fds {
                    var st = stat()
                    if fstatat(fdDir.raw, n, &st, 0) == 0, st.st_mode & S_IFMT == S_IFREG {
                        r.inodes[InodeKey(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))] = pid
                    }
                }
            } else {
                r.unreadablePids += 1
            }
            if let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) {
                for line in maps.split(separator: "\n") {
                    guard let m = parseMapsLine(line) else { continue }
                    r.inodes[m.key] = pid
                    if let p = m.path, p == root || p.hasPrefix(root.hasSuffix("/") ? root : root + "/") { r.mappedUnderRoot[m.key.ino] = pid }
                }
            }
        }
        return r
    }

    /// Pure: `start-end perms offset MAJ:MIN inode [path]` -> the inode (nil for anonymous maps).
    public static func parseMapsLine<S: StringProtocol>(_ line: S) -> (key: InodeKey, path: String?)? {
        let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard f.count >= 5, let ino = UInt64(f[4]), ino != 0 else { return nil }
        let dev = f[3].split(separator: ":")
        guard dev.count == 2, let major = UInt64(dev[0], radix: 16), let minor = UInt64(dev[1], radix: 16) else { return nil }
        let path = f.count > 5 ? String(f[5]).trimmingCharacters(in: .whitespaces) : nil
        return (InodeKey(dev: makeDev(major, minor), ino: ino), path)
    }

    /// glibc's makedev, which Swift does not import.
    public static func makeDev(_ major: UInt64, _ minor: UInt64) -> UInt64 {
        (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
    }
}

public struct PruneOptions: Sendable {
    public var root: String
    public var criteria: PruneCriteria
    public var dryRun = false
    public var now: Double = Posix.now()
    public init(root: String, criteria: PruneCriteria) { self.root = root; self.criteria = criteria }
}

public struct PruneReport: Codable, Sendable {
    public var root: String
    public var dryRun: Bool
    public var lastUseSource: LastUseSource
    public var chosen: [PlannedRevision]
    public var kept: [KeptRevision]
    /// What was planned (dry run: what would be freed).
    public var plannedBytes: UInt64
    /// What was actually removed (0 in a dry run).
    public var freedBytes: UInt64
    public var freedAllocated: UInt64
    public var removedRevisions: Int
    public var removedBlobs: Int
    public var watermark: String?
    public var watermarkReached: Bool
    public var spaceBefore: FilesystemSpace?
    public var spaceAfter: FilesystemSpace?
    public var failures: [String]
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case root, chosen, kept, watermark, failures, notes
        case dryRun = "dry_run", lastUseSource = "last_use", plannedBytes = "planned_bytes", freedBytes = "freed_bytes"
        case freedAllocated = "freed_allocated", removedRevisions = "removed_revisions", removedBlobs = "removed_blobs"
        case watermarkReached = "watermark_reached", spaceBefore = "space_before", spaceAfter = "space_after"
    }

    public var complete: Bool { failures.isEmpty && watermarkReached }

    public func json() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try! enc.encode(self)) + Data("\n".utf8)
    }
}

public enum Pruner {
    public static func run(_ o: PruneOptions) throws -> PruneReport {
        guard Posix.isRoot() else {
            throw UsageError("prune must run as root: it deletes other users' files and must see every process's open files (try: hfshare du for a read-only view)")
        }
        guard o.criteria.selects else {
            throw UsageError("say what to prune: --unused-for DURATION, --max-size SIZE, --keep-free PERCENT|SIZE and/or --detached")
        }
        let rootFD = try Paths.openVerifiedDirectory(o.root)
        // One prune per ROOT at a time (state dir present: a root-only lock file there).
        var pruneLock: FD?
        if let state = try StateDir.openIfPresent(root: o.root, rootFD: rootFD) {
            let l = try state.lockFile("prune.lock")
            if flock(l.raw, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK {
                throw UsageError("\(Escape.text(l.path)): another hfshare prune is running on \(Escape.text(o.root)); wait for it")
            }
            pruneLock = l
        }
        defer { if let l = pruneLock { flock(l.raw, LOCK_UN) } }

        var uo = UsageOptions(root: o.root)
        uo.keepDetail = true
        uo.now = o.now
        let (usage, details) = try UsageScanner.run(uo)
        guard let hubPath = usage.hub else {
            throw UsageError("\(Escape.text(o.root)): no hub cache here (neither hub/ nor models--*/datasets--* dirs)")
        }
        let hub = hubPath == o.root ? rootFD : try rootFD.openDirectory("hub")
        let pins = try PinFile.load(root: o.root)
        var notes: [String] = []
        if !usage.lastUseSource.atime { notes.append(usage.lastUseSource.note) }
        if !usage.unreadable.isEmpty { notes.append("could not read \(usage.unreadable.count) path(s), e.g. \(Escape.text(usage.unreadable[0]))") }

        // What is in use: pins, held download locks, open or mapped blobs.
        var inUse: [RevisionID: String] = [:]
        let repos = details.values.sorted { $0.name < $1.name }
        let locksDir = try? hub.openDirectory(".locks")
        for r in repos {
            for rev in r.revisions {
                if let pin = pins.keeps(repo: r.name, commit: rev.commit, refs: rev.refs) { inUse[RevisionID(r.name, rev.commit)] = "pinned (\(pin.label))" }
            }
            if let held = heldLock(locksDir, repo: r.name) {
                for rev in r.revisions where inUse[RevisionID(r.name, rev.commit)] == nil {
                    inUse[RevisionID(r.name, rev.commit)] = "download lock held (\(Escape.text(held)))"
                }
            }
        }
        let open = OpenFiles.scan(root: o.root)
        var openBlobs: [String: Set<String>] = [:]
        for r in repos {
            for (name, blob) in r.blobs where !blob.inStore {
                guard let pid = open.holder(InodeKey(dev: blob.dev, ino: blob.ino)) else { continue }
                openBlobs[r.name, default: []].insert(name)
                for rev in r.revisions where rev.blobs.contains(name) && inUse[RevisionID(r.name, rev.commit)] == nil {
                    inUse[RevisionID(r.name, rev.commit)] = "open by pid \(pid) (\(name.prefix(16)))"
                }
            }
            for rev in r.revisions {
                if let key = rev.ownInodes.first(where: { open.holder($0) != nil }), inUse[RevisionID(r.name, rev.commit)] == nil {
                    inUse[RevisionID(r.name, rev.commit)] = "open by pid \(open.holder(key)!)"
                }
            }
        }
        let totalSize = usage.repos.reduce(UInt64(0)) { $0 + $1.size }
        let plan = PrunePlanner.plan(repos, criteria: o.criteria, inUse: inUse, openBlobs: openBlobs, totalSize: totalSize,
                                     space: usage.filesystem, lastUseKnown: usage.lastUseSource.atime, now: o.now)
        var report = PruneReport(root: o.root, dryRun: o.dryRun, lastUseSource: usage.lastUseSource, chosen: plan.chosen, kept: plan.kept,
                                 plannedBytes: plan.bytes, freedBytes: 0, freedAllocated: 0, removedRevisions: 0, removedBlobs: 0,
                                 watermark: plan.watermark, watermarkReached: !plan.watermarkUnreachable, spaceBefore: usage.filesystem,
                                 spaceAfter: nil, failures: [], notes: notes)
        if o.dryRun || plan.chosen.isEmpty {
            report.spaceAfter = usage.filesystem
            return report
        }
        let byRepo = Dictionary(grouping: plan.chosen, by: \.repo)
        for repo in byRepo.keys.sorted() {
            let d = details[repo]!
            var ctx = RepoDeletion(hub: hub, locksDir: locksDir, detail: d, open: open)
            ctx.delete(revisions: byRepo[repo]!, blobs: plan.blobs[repo] ?? [], emptied: plan.emptied.contains(repo))
            report.freedBytes += ctx.freedBytes
            report.freedAllocated += ctx.freedAllocated
            report.removedRevisions += ctx.removedRevisions
            report.removedBlobs += ctx.removedBlobs
            report.failures += ctx.failures
        }
        report.spaceAfter = try? rootFD.filesystemSpace()
        if report.watermarkReached, let keep = o.criteria.keepFree, let after = report.spaceAfter, after.available < keep.bytes(of: after.size) {
            // Planned from du's numbers; the filesystem has the last word (others may have written meanwhile).
            report.watermarkReached = false
            report.notes.append("free space after pruning is \(Format.bytes(after.available)), still under the \(Format.bytes(keep.bytes(of: after.size))) asked for")
        }
        return report
    }

    /// The first `.locks/<repo>/*.lock` somebody holds (tried on a fresh O_RDONLY descriptor, never created).
    static func heldLock(_ locksDir: FD?, repo: String) -> String? {
        guard let locksDir, let dir = try? locksDir.openDirectory(repo), let list = try? dir.entries() else { return nil }
        for (name, type) in list where name.hasSuffix(".lock") && (type == .regular || type == .unknown) {
            guard let fd = try? dir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true) else { continue }
            if (try? fd.tryExclusiveLockAndRelease()) == false { return FD.join(dir.path, name) }
        }
        return nil
    }
}

/// Deleting the chosen revisions of one repo, under its download locks.
struct RepoDeletion {
    let hub: FD
    let locksDir: FD?
    let detail: RepoDetail
    let open: OpenFiles
    var freedBytes: UInt64 = 0
    var freedAllocated: UInt64 = 0
    var removedRevisions = 0
    var removedBlobs = 0
    var failures: [String] = []
    /// Lock files of the repo we hold (name -> fd), so no client downloads into it meanwhile.
    var held: [String: FD] = [:]

    init(hub: FD, locksDir: FD?, detail: RepoDetail, open: OpenFiles) {
        self.hub = hub; self.locksDir = locksDir; self.detail = detail; self.open = open
    }

    /// Takes every lock file of the repo not yet held; false if a client holds one (a download started).
    mutating func holdLocks() -> String? {
        guard let locksDir, let dir = try? locksDir.openDirectory(detail.name), let list = try? dir.entries() else { return nil }
        for (name, type) in list where name.hasSuffix(".lock") && held[name] == nil && (type == .regular || type == .unknown) {
            guard let fd = try? dir.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true) else { continue }
            guard (try? fd.tryExclusiveLock()) == true else { return FD.join(dir.path, name) }
            held[name] = fd
        }
        return nil
    }

    mutating func delete(revisions: [PlannedRevision], blobs: [String], emptied: Bool) {
        defer { for fd in held.values { fd.unlock() } }
        let repoPath = FD.join(hub.path, detail.name)
        if let busy = holdLocks() {
            failures.append("\(Escape.text(repoPath)): a download started (\(Escape.text(busy)) held); left as it was")
            return
        }
        let repo: FD
        do { repo = try hub.openDirectory(detail.name) } catch {
            failures.append("\(error)")
            return
        }
        var snapshotsGone = Set<String>()
        for rev in revisions {
            let r = detail.revisions.first { $0.commit == rev.commit }!
            // 1. refs: no ref may name a snapshot that is going (re-read: a client may have moved it).
            var refsOK = true
            for ref in rev.refs {
                do {
                    let parts = ref.split(separator: "/").map(String.init)
                    let dir = parts.count > 1 ? try repo.openBeneath("refs/" + parts.dropLast().joined(separator: "/"), flags: FD.directoryFlags)
                                              : try repo.openDirectory("refs")
                    let now = UsageScanner.refText(try dir.readSmall(parts.last!, limit: 256))
                    if now != rev.commit {
                        failures.append("\(Escape.text(repoPath))/refs/\(Escape.text(ref)): now points to \(Escape.text(now)), not \(rev.commit); kept \(rev.commit)")
                        refsOK = false
                        continue
                    }
                    try dir.unlink(parts.last!)
                } catch let e as SystemError where e.errno == ENOENT {
                    continue
                } catch {
                    failures.append("\(error)")
                    refsOK = false
                }
            }
            guard refsOK else { continue }
            // 2. the snapshot, never following a symlink.
            do {
                let snaps = try repo.openDirectory("snapshots")
                let problems = snaps.removeTreeCollecting(rev.commit)
                if !problems.isEmpty { failures += problems; continue }
                snapshotsGone.insert(rev.commit)
                removedRevisions += 1
                freedBytes += r.ownBytes
                freedAllocated += r.ownAllocated
            } catch let e as SystemError where e.errno == ENOENT {
                snapshotsGone.insert(rev.commit)
            } catch {
                failures.append("\(error)")
                continue
            }
            // 3. what the client remembered as missing in that commit.
            if let noExist = try? repo.openDirectory(".no_exist"), (try? noExist.stat(rev.commit)) != nil {
                failures += noExist.removeTreeCollecting(rev.commit)
            }
        }
        // 4. blobs no remaining snapshot uses: looked at again now, and only under all the repo's locks.
        if let busy = holdLocks() {
            failures.append("\(Escape.text(repoPath)): a download started (\(Escape.text(busy)) held); its blobs were left")
            return
        }
        let stillUsed = RepoDeletion.blobsInUse(repo)
        let blobsDir = try? repo.openDirectory("blobs")
        let planned = Set(revisions.map(\.commit))
        let allGone = planned.isSubset(of: snapshotsGone)
        for name in blobs where !stillUsed.contains(name) {
            guard allGone || detail.revisions.filter({ $0.blobs.contains(name) }).allSatisfy({ snapshotsGone.contains($0.commit) }) else { continue }
            guard let blobsDir, let blob = detail.blobs[name] else { continue }
            do {
                let st = try blobsDir.usageStat(name)
                guard blob.inStore ? st.type == .symlink : (st.ino == blob.ino && st.dev == blob.dev) else { continue } // replaced meanwhile
                if !blob.inStore, let pid = open.holder(InodeKey(dev: st.dev, ino: st.ino)) {
                    failures.append("\(Escape.text(blobsDir.path))/\(name): opened by pid \(pid) meanwhile; kept"); continue
                }
                try blobsDir.unlink(name)
                removedBlobs += 1
                if blob.freeable { freedBytes += blob.size; freedAllocated += blob.allocated }
                // Its download lock goes with it (we hold it: nobody can be inside).
                if let lockFD = held[name + ".lock"], let ldir = try? locksDir?.openDirectory(detail.name),
                   let lst = try? ldir.stat(name + ".lock"), let hst = try? lockFD.stat(), lst.ino == hst.ino {
                    try? ldir.unlink(name + ".lock")
                }
            } catch let e as SystemError where e.errno == ENOENT {
                continue
            } catch {
                failures.append("\(error)")
            }
        }
        // 5. a repo with no snapshot left goes whole, with its lock dir (still holding the locks).
        if emptied && allGone, let snaps = try? repo.openDirectory("snapshots"), (try? snaps.entries())?.isEmpty ?? false {
            let problems = hub.removeTreeCollecting(detail.name)
            failures += problems
            if problems.isEmpty, let locksDir, (try? locksDir.stat(detail.name)) != nil {
                failures += locksDir.removeTreeCollecting(detail.name)
            }
        }
    }

    /// Blob names the snapshots now in `repo` link to.
    static func blobsInUse(_ repo: FD) -> Set<String> {
        var used = Set<String>()
        guard let snaps = try? repo.openDirectory("snapshots") else { return used }
        func walk(_ dir: FD) {
            for (name, _) in (try? dir.entries()) ?? [] {
                guard let st = try? dir.stat(name) else { continue }
                if st.type == .directory, let sub = try? dir.openDirectory(name) { walk(sub) }
                else if st.type == .symlink, let t = try? dir.readlink(name), let b = UsageScanner.blobName(t) { used.insert(b) }
            }
        }
        walk(snaps)
        return used
    }
}

extension FD {
    /// Removes `name` and everything under it, never following a symlink (each directory opened
    /// O_NOFOLLOW|O_DIRECTORY relative to its parent), going on past failures; returns them.
    func removeTreeCollecting(_ name: String) -> [String] {
        var problems: [String] = []
        let st: FileStat
        do { st = try stat(name) } catch let e as SystemError { return e.errno == ENOENT ? [] : ["\(e)"] } catch { return ["\(error)"] }
        if st.type == .directory {
            do {
                let dir = try openDirectory(name)
                let now = try dir.stat()
                guard now.ino == st.ino, now.dev == st.dev else { return ["\(Escape.text(FD.join(path, name))): replaced while removing; left"] }
                for e in try dir.entries() { problems += dir.removeTreeCollecting(e.name) }
            } catch {
                return ["\(error)"]
            }
        }
        if !problems.isEmpty { return problems }
        do { try unlink(name, directory: st.type == .directory) } catch let e as SystemError where e.errno == ENOENT {} catch {
            problems.append("\(error)")
        }
        return problems
    }
}
