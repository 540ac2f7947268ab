import CHFShare
import Foundation
import Glibc

/// `hfshare verify`: reads every blob of a hub cache once and checks its bytes against its name
/// (sha256 for 64-hex LFS blobs, the git blob id for 40-hex names), then says for every repo@revision
/// whether the client will load it offline: ok, partial (fewer files than its tree listing, normal),
/// unverified (some bytes could not be checked) or broken (and why).
///
/// Hashing runs on one thread per core, one file per thread at a time (sha256 and sha1 are sequential:
/// a single file cannot be split), largest files first, 4 MiB buffers, O_NOATIME where allowed.
/// Inodes verified before and unchanged since (dev, ino, size, mtime, ctime) are not read again
/// (`ROOT/.hfshare/verified.bin`, root only), unless `full`.
public struct VerifyOptions: Sendable {
    public var root: String
    /// `REPO` or `REPO@REV` (REPO: `org/name`, `model/org/name`, `datasets/org/name` or the cache dir name).
    public var selectors: [String]
    public var full: Bool
    public var fix: Bool
    public var threads: Int

    public init(root: String, selectors: [String] = [], full: Bool = false, fix: Bool = false,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.root = root; self.selectors = selectors; self.full = full; self.fix = fix; self.threads = max(1, threads)
    }
}

public enum RevisionStatus: String, Sendable, Codable, Comparable {
    case ok, partial, unverified, broken

    var rank: Int { [.ok: 0, .partial: 1, .unverified: 2, .broken: 3][self]! }
    public static func < (a: RevisionStatus, b: RevisionStatus) -> Bool { a.rank < b.rank }
}

public struct RevisionReport: Sendable {
    public var repo: RepoID
    /// The commit, or for a ref that names no snapshot, what it says.
    public var commit: String
    public var refs: [String]
    public var status: RevisionStatus = .ok
    public var reasons: [String] = []
    public var files = 0
    /// Files in `trees/<commit>.json`, when the client wrote one.
    public var listed: Int?

    /// `model/org/name@main,v1` (or `@<commit>` when no ref names it).
    public var label: String { "\(repo.display)@\(refs.isEmpty ? Escape.text(commit) : refs.map(Escape.text).joined(separator: ","))" }

    mutating func mark(_ s: RevisionStatus, _ reason: String) {
        if s > status { status = s }
        reasons.append(reason)
    }
}

public struct Quarantined: Sendable {
    public var from: String
    public var to: String
    public var affects: [String]
}

public struct VerifyReport: Sendable {
    public var root: String
    public var revisions: [RevisionReport] = []
    public var blobsHashed = 0
    public var blobsCached = 0
    public var bytesHashed: UInt64 = 0
    public var mismatched = 0
    public var unverified = 0
    public var quarantined: [Quarantined] = []
    public var quarantineErrors: [String] = []
    public var stateSaved = false
    public var stateNote = ""
    public var duration = 0.0

    public var broken: Bool { revisions.contains { $0.status == .broken } }
}

/// One inode to hash, and what its name promises.
final class BlobJob: @unchecked Sendable {
    let dir: FD
    let name: [UInt8]
    let path: String
    let stat: FileStat
    let expect: BlobName
    /// Revision indices and the file in each that reaches this inode.
    var users: [(Int, String)] = []
    var result: Result = .pending

    enum Result { case pending, ok([UInt8]), mismatch(String), unreadable(String), changed }

    let key: Verify.JobKey

    init(dir: FD, name: [UInt8], path: String, stat: FileStat, expect: BlobName, key: Verify.JobKey) {
        self.dir = dir; self.name = name; self.path = path; self.stat = stat; self.expect = expect; self.key = key
    }
}

public enum Verify {
    public static let bufferSize = 4 << 20

    /// Runs the whole verification. `progress(bytesDone, bytesTotal)` is called from a reporter
    /// thread while hashing. Throws UsageError/SystemError only when ROOT cannot be verified at all.
    public static func run(_ options: VerifyOptions, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> VerifyReport {
        let start = Posix.now()
        var report = VerifyReport(root: options.root)
        let rootFD = try Paths.openVerifiedDirectory(options.root)
        var hub = rootFD
        var hubRel = ""
        if let st = try? rootFD.stat("hub"), st.type == .directory {
            hub = try rootFD.openDirectory("hub")
            hubRel = "hub/"
        }
        let hubPath = FD.join(options.root, String(hubRel.dropLast()))
        var stateProblem = "\(Escape.text(options.root))/.hfshare does not exist (not made by hfshare init)"
        var state: StateDir?
        do { state = try StateDir.openIfPresent(root: options.root, rootFD: rootFD) } catch { stateProblem = "\(error)" }

        // Selectors: REPO[@REV].
        let selectors = options.selectors.map { s -> (repo: String, rev: String?) in
            if let at = s.lastIndex(of: "@"), at != s.startIndex { return (String(s[..<at]), String(s[s.index(after: at)...])) }
            return (s, nil)
        }
        var matched = Set<Int>()

        // 1. What the verified cache vouches for (read first: a rerun checks every blob against it as
        // the repo is read, and keeps nothing of a vouched blob but its key).
        var known: [VerifiedRecord.Key: VerifiedRecord] = [:]
        if let state, let data = try? state.read(VerifiedStore.fileName, maxBytes: VerifiedStore.maxBytes),
           let records = VerifiedStore.decode(data) {
            known.reserveCapacity(records.count)
            for r in records { known[r.key] = r }
        }

        // 2. The selected repos.
        var selected: [Selected] = []
        for nameBytes in try hub.entryBytes().map(\.name).filter({ RepoIntegrity.isRepoDirName($0) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let repoID = RepoID(dirName: ByteName.decode(nameBytes))
            var revFilter: [String]? = nil
            if !selectors.isEmpty {
                let hits = selectors.enumerated().filter { repoID.matches($0.element.repo) }
                if hits.isEmpty { continue }
                for h in hits { matched.insert(h.offset) }
                if !hits.contains(where: { $0.element.rev == nil }) { revFilter = hits.compactMap { $0.element.rev } }
            }
            selected.append(Selected(name: nameBytes, id: repoID, revFilter: revFilter))
        }
        for (i, s) in selectors.enumerated() where !matched.contains(i) {
            throw UsageError("\(s.repo): no such repo in \(Escape.text(hubPath)) (use org/name, model/org/name or the cache dir name, e.g. models--org--name)")
        }

        // 3. Each repo read and planned in parallel (the syscall-bound part of a rerun): its revisions,
        // and a job for every inode the verified cache does not vouch for. A repo's layout is dropped
        // as soon as it is planned, so memory follows the widest repo, not the cache.
        let plans = PlanBox(count: selected.count)
        let linkStore = LinkIndexStore.open(root: options.root, rootFD: rootFD)
        let context = PlanContext(hub: hub, hubPath: hubPath, hubRel: hubRel, linkStore: linkStore, known: options.full ? [:] : known,
                                  storeFD: try? hub.openDirectory(bytes: Array("blobs".utf8)))
        DispatchQueue.concurrentPerform(iterations: selected.count) { i in
            plans.set(i, plan(selected[i], context))
        }
        var jobs: [BlobJob] = []
        var jobIndex: [JobKey: BlobJob] = [:]
        var cachedKeys: [VerifiedRecord.Key] = []
        for i in selected.indices {
            let p = plans.take(i)
            let offset = report.revisions.count
            report.revisions.append(contentsOf: p.revisions)
            cachedKeys.append(contentsOf: p.cached)
            for j in p.jobs {
                let users = j.users.map { ($0.0 + offset, $0.1) }
                if let same = jobIndex[j.key] { same.users.append(contentsOf: users); continue }
                j.users = users
                jobIndex[j.key] = j
                jobs.append(j)
            }
        }
        var toHash: [BlobJob] = []
        for j in jobs {
            if case .other = j.expect { j.result = .unreadable("its name \(Escape.text(ByteName.decode(j.name))) is no hash hfshare can check"); continue }
            toHash.append(j)
        }

        // 3. Hash, in parallel, largest first.
        toHash.sort { $0.stat.size > $1.stat.size }
        let total = toHash.reduce(UInt64(0)) { $0 + $1.stat.size }
        let counter = ByteCounter()
        hashAll(toHash, threads: options.threads, counter: counter, total: total, progress: progress)

        // 4. Results per revision.
        var records: [VerifiedRecord] = []
        var touched = Set<VerifiedRecord.Key>(minimumCapacity: jobs.count + cachedKeys.count)
        records.reserveCapacity(jobs.count + cachedKeys.count)
        for k in cachedKeys where touched.insert(k).inserted {
            report.blobsCached += 1
            records.append(known[k]!)
        }
        for j in jobs {
            touched.insert(VerifiedRecord.Key(dev: j.stat.dev, ino: j.stat.ino))
            switch j.result {
            case .ok(let d):
                report.blobsHashed += 1
                report.bytesHashed += j.stat.size
                records.append(VerifiedRecord(stat: j.stat, digest: d))
            case .mismatch(let got):
                report.blobsHashed += 1
                report.bytesHashed += j.stat.size
                report.mismatched += 1
                for (i, file) in j.users { let file = Escape.text(file);
                    report.revisions[i].mark(.broken, "\(file): blob \(Escape.text(j.path)) holds other bytes than its name says (\(got)); the client would load them as they are")
                }
            case .unreadable(let why):
                report.unverified += 1
                for (i, file) in j.users { let file = Escape.text(file); report.revisions[i].mark(.unverified, "\(file): not checked: \(why)") }
            case .changed:
                report.unverified += 1
                for (i, file) in j.users { let file = Escape.text(file); report.revisions[i].mark(.unverified, "\(file): changed while it was read; run verify again") }
            case .pending:
                report.unverified += 1
            }
        }

        // 5. --fix: bad bytes go to the root-only quarantine, so the next online load fetches them again.
        if options.fix {
            let bad = jobs.filter { if case .mismatch = $0.result { return true } else { return false } }
            if !bad.isEmpty {
                do {
                    guard Posix.isRoot() else { throw UsageError("--fix must run as root (it moves blobs out of the shared cache)") }
                    let sd = try state ?? StateDir.open(root: options.root, rootFD: rootFD)
                    guard let q = try sd.subdirectory("quarantine") else { throw UsageError("cannot make the quarantine directory") }
                    for j in bad {
                        let affects = Array(Set(j.users.map { report.revisions[$0.0].label })).sorted()
                        do {
                            let to = try quarantine(j, into: q)
                            report.quarantined.append(Quarantined(from: j.path, to: FD.join(q.path, ByteName.decode(to)), affects: affects))
                        } catch {
                            report.quarantineErrors.append("\(Escape.text(j.path)): \(error)")
                        }
                    }
                } catch {
                    report.quarantineErrors.append("\(error)")
                }
            }
        }

        // 6. Remember what is good (records of repos not looked at this time are kept).
        if let state {
            for (k, r) in known where !touched.contains(k) { records.append(r) }
            if report.blobsHashed == 0 && !known.isEmpty && records.count == known.count {
                // Every record was vouched for as it is (a nightly rerun with nothing new): the file stays.
                report.stateSaved = true
                report.stateNote = "\(records.count) verified blob(s) remembered in \(Escape.text(FD.join(state.path, VerifiedStore.fileName))) (unchanged)"
            } else if Posix.isRoot() {
                do {
                    try state.write(VerifiedStore.fileName, VerifiedStore.encode(records), mode: 0o600)
                    report.stateSaved = true
                    report.stateNote = "\(records.count) verified blob(s) remembered in \(Escape.text(FD.join(state.path, VerifiedStore.fileName)))"
                } catch { report.stateNote = "verified cache not saved: \(error)" }
            } else {
                report.stateNote = "verified cache not saved (not root): the next run hashes these blobs again"
            }
        } else {
            report.stateNote = "verified cache not saved: \(stateProblem)"
        }
        report.duration = Posix.now() - start
        return report
    }

    struct Selected { var name: [UInt8]; var id: RepoID; var revFilter: [String]? }
    struct JobKey: Hashable { var dev: UInt64; var ino: UInt64; var sha256: Bool; var want: String }

    struct PlanContext: @unchecked Sendable {
        let hub: FD
        let hubPath: String
        let hubRel: String
        let linkStore: LinkIndexStore?
        let known: [VerifiedRecord.Key: VerifiedRecord]
        let storeFD: FD?
    }

    /// One repo's revisions (their indices local to the repo), the inodes to hash with the files
    /// that reach them, and the keys of the blobs the verified cache vouched for.
    struct RepoPlan { var revisions: [RevisionReport] = []; var jobs: [BlobJob] = []; var cached: [VerifiedRecord.Key] = [] }

    final class PlanBox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [RepoPlan]
        init(count: Int) { items = Array(repeating: RepoPlan(), count: count) }
        func set(_ i: Int, _ p: RepoPlan) { lock.lock(); items[i] = p; lock.unlock() }
        func take(_ i: Int) -> RepoPlan { lock.lock(); defer { lock.unlock() }; let p = items[i]; items[i] = RepoPlan(); return p }
    }

    enum Found { case cached, job(BlobJob) }

    /// Reads one repo (through root's link index) and plans its verification.
    static func plan(_ sel: Selected, _ cx: PlanContext) -> RepoPlan {
        var out = RepoPlan()
        let dirName = ByteName.decode(sel.name)
        let repoID = sel.id
        guard let repoFD = try? cx.hub.openDirectory(bytes: sel.name, noatime: true) else {
            var r = RevisionReport(repo: repoID, commit: "?", refs: [])
            r.mark(.unverified, "cannot open \(Escape.text(dirName))")
            out.revisions.append(r)
            return out
        }
        let index = (try? repoFD.stat()).flatMap { cx.linkStore?.index(repoRel: cx.hubRel + dirName, repo: $0) }
        let layout = RepoIntegrity.readLayout(repoFD, index: index)
        index?.save()

        var jobIndex: [JobKey: BlobJob] = [:]
        var storeDirs: [[UInt8]: FD] = [:]
        let repoPath = FD.join(cx.hubPath, dirName)
        /// `known`: the stat the layout read already (else one statx). Nil: not a regular file.
        /// `digest`: the hex the name promises (as bytes), compared with the record without decoding to an array.
        func job(dir: FD, name: [UInt8], path: @autoclosure () -> String, expect: BlobName, digest: @autoclosure () -> [UInt8],
                 known: FileStat? = nil) -> Found? {
            guard let st = known ?? (try? dir.stat(bytes: name)), st.type == .regular else { return nil }
            if case .other = expect {} else if let r = cx.known[VerifiedRecord.Key(dev: st.dev, ino: st.ino)], r.vouches(for: st, hex: digest()) {
                out.cached.append(r.key)
                return .cached
            }
            let key: JobKey
            switch expect {
            case .sha256(let h): key = JobKey(dev: st.dev, ino: st.ino, sha256: true, want: h)
            case .gitBlob(let h): key = JobKey(dev: st.dev, ino: st.ino, sha256: false, want: h)
            case .other: key = JobKey(dev: st.dev, ino: st.ino, sha256: false, want: "")
            }
            if let j = jobIndex[key] { return .job(j) }
            let j = BlobJob(dir: dir, name: name, path: path(), stat: st, expect: expect, key: key)
            jobIndex[key] = j
            out.jobs.append(j)
            return .job(j)
        }
        func use(_ found: Found?, _ index: Int, _ fileName: @autoclosure () -> String) -> Bool {
            switch found {
            case .none: return false
            case .cached: return true
            case .job(let j): j.users.append((index, fileName())); return true
            }
        }

        let blobsFD = try? repoFD.openDirectory(bytes: Array("blobs".utf8), noatime: true)
        let commits = layout.snapshotCommits
        var refsOf: [[UInt8]: [String]] = [:]
        var candidates: [(RevisionReport, RepoIntegrity.Snapshot?)] = []
        for ref in layout.refs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            let refName = ByteName.decode(ref.name)
            switch ref.value {
            case .commit(let c):
                if commits.contains(Array(c.utf8)) { refsOf[Array(c.utf8), default: []].append(refName); continue }
                var r = RevisionReport(repo: repoID, commit: c, refs: [refName])
                r.mark(.broken, "refs/\(Escape.text(refName)) points at commit \(c), whose snapshot was never downloaded (offline loads fail; online the client downloads it)")
                candidates.append((r, nil))
            case .malformed(let trimmed):
                var r = RevisionReport(repo: repoID, commit: trimmed ?? "?", refs: [refName])
                r.mark(.broken, "refs/\(Escape.text(refName)) holds \(RepoIntegrity.quoted(ref.raw, cap: ref.stat.size)), not a 40-hex commit id (the client reads it verbatim)\(trimmed == nil ? "" : "; hfshare repair rewrites it")")
                if let t = trimmed, !commits.contains(Array(t.utf8)) { r.reasons.append("and commit \(t) has no snapshot") }
                candidates.append((r, nil))
            }
        }
        for snap in layout.snapshots.sorted(by: { $0.commit.lexicographicallyPrecedes($1.commit) }) {
            let commit = ByteName.decode(snap.commit)
            candidates.append((RevisionReport(repo: repoID, commit: commit, refs: (refsOf[snap.commit] ?? []).sorted()), snap))
        }
        if let revFilter = sel.revFilter {
            candidates = candidates.filter { r, _ in revFilter.contains { rev in r.refs.contains(rev) || (rev.count >= 7 && r.commit.hasPrefix(rev)) } }
        }
        let treesFD = try? repoFD.openDirectory(bytes: Array("trees".utf8))
        for (r, snapshot) in candidates {
            let index = out.revisions.count
            out.revisions.append(r)
            guard let snap = snapshot else { continue }
            let commit = r.commit
            let tree = treesFD.flatMap { TreeListing.read($0, commit: snap.commit) }
            out.revisions[index].files = snap.files.count
            out.revisions[index].listed = tree?.count
            // Files in the order they were listed (sorting every snapshot cost a tenth of a rerun); a
            // revision's reasons are put in path order at the end (there are few, or none).
            var marks: [(path: [UInt8], status: RevisionStatus, why: String)] = []
            for file in snap.files {
                func mark(_ s: RevisionStatus, _ why: String) { marks.append((file.path, s, why)) }
                let fileName = { ByteName.decode(file.path) }
                switch file.kind {
                case .blobLink(_, let blob):
                    guard file.present, let blobsFD, let b = layout.blobIndex[NameKey(blob)].map({ layout.blobs[$0] }) else {
                        mark(.broken, "\(Escape.text(fileName())): blob \(Verify.shown(blob)) is missing (the client downloads it again online)")
                        continue
                    }
                    let expect = Verify.blobName(blob)
                    if b.target == nil {
                        if !use(job(dir: blobsFD, name: blob, path: repoPath + "/blobs/" + ByteName.decode(blob), expect: expect,
                                    digest: blob, known: b.stat), index, fileName()) {
                            mark(.unverified, "\(Escape.text(fileName())): blob \(Verify.shown(blob)) is not a regular file")
                        }
                    } else if let (prefix, leaf) = storeTarget(b.target!), let storeFD = cx.storeFD {
                        let dir = storeDirs[prefix] ?? (try? storeFD.openDirectory(bytes: prefix))
                        storeDirs[prefix] = dir
                        if let dir, use(job(dir: dir, name: leaf, path: cx.hubPath + "/blobs/" + ByteName.decode(prefix) + "/" + ByteName.decode(leaf),
                                            expect: expect, digest: blob), index, fileName()) {
                        } else { mark(.broken, "\(Escape.text(fileName())): shared-store blob \(Verify.shown(b.target!)) is missing") }
                    } else {
                        mark(.unverified, "\(Escape.text(fileName())): blob links to \(Verify.shown(b.target!)), outside the known layout")
                    }
                case .otherLink(let target):
                    if file.present { mark(.unverified, "\(Escape.text(fileName())): links to \(Verify.shown(target)), not a blob of this repo") }
                    else { mark(.broken, "\(Escape.text(fileName())): link target \(Verify.shown(target)) is missing") }
                case .regular:
                    // HF_HUB_DISABLE_SYMLINKS: the bytes live in the snapshot; the tree listing says what they must be.
                    let name = fileName()
                    let expect: BlobName = tree?[name].map { e in e.lfsSHA256.map { BlobName.sha256($0) } ?? .gitBlob(e.blobID) } ?? .other
                    let want: String
                    switch expect {
                    case .other:
                        mark(.unverified, "\(Escape.text(name)): a regular file (HF_HUB_DISABLE_SYMLINKS) and no trees/\(commit).json says what it must hold")
                        continue
                    case .sha256(let h), .gitBlob(let h): want = h
                    }
                    if case .regular(let st) = file.kind, let (dir, leaf) = parentDir(repoFD, snapshot: snap.commit, path: file.path),
                       use(job(dir: dir, name: leaf, path: repoPath + "/snapshots/" + commit + "/" + name, expect: expect,
                               digest: Array(want.utf8), known: st), index, name) {
                    } else { mark(.unverified, "\(Escape.text(name)): could not be opened") }
                case .other:
                    mark(.unverified, "\(Escape.text(fileName())): not a file or symlink")
                }
            }
            marks.sort { $0.path.lexicographicallyPrecedes($1.path) }
            for m in marks { out.revisions[index].mark(m.status, m.why) }
            if let tree, tree.count > snap.files.count {
                out.revisions[index].mark(.partial, "\(snap.files.count) of \(tree.count) files in the snapshot (a partial download: the rest comes online)")
            }
        }
        return out
    }

    // MARK: hashing

    final class ByteCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value: UInt64 = 0
        func add(_ n: Int) { lock.lock(); value += UInt64(n); lock.unlock() }
        var done: UInt64 { lock.lock(); defer { lock.unlock() }; return value }
    }

    final class Cursor: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        func take(below n: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard next < n else { return nil }
            next += 1
            return next - 1
        }
    }

    static func hashAll(_ jobs: [BlobJob], threads: Int, counter: ByteCounter, total: UInt64, progress: ((UInt64, UInt64) -> Void)?) {
        guard !jobs.isEmpty else { return }
        let cursor = Cursor()
        let n = min(threads, jobs.count)
        let done = DispatchSemaphore(value: 0)
        var reporter: Thread?
        if let progress {
            reporter = Thread {
                while !Thread.current.isCancelled {
                    usleep(200_000)
                    if !Thread.current.isCancelled { progress(counter.done, total) }
                }
            }
            reporter?.start()
        }
        for _ in 0..<n {
            let t = Thread {
                let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 4096)
                defer { buf.deallocate(); done.signal() }
                while true {
                    guard let i = cursor.take(below: jobs.count) else { return }
                    let j = jobs[i]
                    j.result = hash(j, buffer: buf, counter: counter)
                }
            }
            t.stackSize = 1 << 20
            t.start()
        }
        for _ in 0..<n { done.wait() }
        reporter?.cancel()
        if let progress { progress(counter.done, total) }
    }

    static func hash(_ j: BlobJob, buffer: UnsafeMutableRawBufferPointer, counter: ByteCounter) -> BlobJob.Result {
        let fd: FD
        do { fd = try j.dir.open(bytes: j.name, flags: O_RDONLY | HF_O_NONBLOCK, noatime: true) } catch let e as SystemError {
            return .unreadable(e.reason)
        } catch { return .unreadable("\(error)") }
        guard let before = try? fd.stat(), before.ino == j.stat.ino, before.dev == j.stat.dev, before.type == .regular else { return .changed }
        _ = posix_fadvise(fd.raw, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        var sha256: SHA256?
        var sha1: SHA1?
        switch j.expect {
        case .sha256: sha256 = SHA256()
        case .gitBlob:
            var h = SHA1()
            h.update(Array("blob \(before.size)\0".utf8))
            sha1 = h
        case .other: return .unreadable("no hash to check")
        }
        var size: UInt64 = 0
        while true {
            let n: Int
            do { n = try fd.read(into: buffer) } catch let e as SystemError { return .unreadable(e.reason) } catch { return .unreadable("\(error)") }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            sha256?.update(chunk)
            sha1?.update(chunk)
            size += UInt64(n)
            counter.add(n)
        }
        guard let after = try? fd.stat(), after.size == before.size, size == before.size, after.mtimeSec == before.mtimeSec,
              after.mtimeNsec == before.mtimeNsec, after.ctimeSec == j.stat.ctimeSec, after.ctimeNsec == j.stat.ctimeNsec else { return .changed }
        let got = sha256?.finalize() ?? sha1!.finalize()
        switch j.expect {
        case .sha256(let want): return got == want ? .ok(hexBytes(got)) : .mismatch("sha256 \(got)")
        case .gitBlob(let want): return got == want ? .ok(hexBytes(got)) : .mismatch("git blob id \(got)")
        case .other: return .unreadable("no hash to check")
        }
    }

    // MARK: quarantine

    /// Moves the inode out of the cache into `q` (renameat between descriptors; across filesystems a
    /// copy, fsync, then unlink). Returns its name in `q`.
    static func quarantine(_ j: BlobJob, into q: FD) throws -> [UInt8] {
        let now = try j.dir.stat(bytes: j.name)
        guard now.dev == j.stat.dev, now.ino == j.stat.ino, now.type == .regular else { throw SystemError("rename", j.path, ESTALE) }
        let stamp = Int(Posix.now())
        let parent = Array(j.dir.path.split(separator: "/").suffix(2).joined(separator: "--").utf8)
        var to = parent + Array("--".utf8) + j.name + Array(".\(stamp)".utf8)
        var i = 0
        while (try? q.stat(bytes: to)) != nil { i += 1; to = parent + Array("--".utf8) + j.name + Array(".\(stamp).\(i)".utf8) }
        do {
            try j.dir.rename(bytes: j.name, to: to, in: q)
        } catch let e as SystemError where e.errno == EXDEV {
            let src = try j.dir.open(bytes: j.name, flags: O_RDONLY, noatime: true)
            let dst = try q.open(bytes: to, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            var buf = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buf.withUnsafeMutableBytes { try src.read(into: $0) }
                if n == 0 { break }
                try buf.withUnsafeBytes { try dst.writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            try dst.fsync()
            guard (try? j.dir.stat(bytes: j.name))?.ino == j.stat.ino else { throw SystemError("unlink", j.path, ESTALE) }
            try j.dir.unlink(bytes: j.name)
        }
        try? j.dir.fsync()
        try? q.fsync()
        return to
    }

    // MARK: layout helpers

    /// A repo blob's link into the shared store, `../../blobs/<2 hex>/<hash>` (from `<hub>/<repo>/blobs/`),
    /// as (prefix dir, file name); nil for anything else.
    static func storeTarget(_ target: [UInt8]) -> ([UInt8], [UInt8])? {
        var stack: [[UInt8]] = ["r", "blobs"].map { Array($0.utf8) }
        for part in target.split(separator: 0x2F) {
            if part.elementsEqual([0x2E]) { continue }
            if part.elementsEqual([0x2E, 0x2E]) { if stack.isEmpty { return nil }; stack.removeLast(); continue }
            stack.append(Array(part))
        }
        guard target.first != 0x2F, stack.count == 3, stack[0] == Array("blobs".utf8), stack[1].count == 2,
              stack[2].starts(with: stack[1]) else { return nil }
        return (stack[1], stack[2])
    }

    static func parentDir(_ repo: FD, snapshot: [UInt8], path: [UInt8]) -> (FD, [UInt8])? {
        guard var dir = try? repo.openDirectory(bytes: Array("snapshots".utf8)), let s = try? dir.openDirectory(bytes: snapshot) else { return nil }
        dir = s
        let parts = path.split(separator: 0x2F).map(Array.init)
        for p in parts.dropLast() { guard let d = try? dir.openDirectory(bytes: p) else { return nil }; dir = d }
        return (dir, parts.last!)
    }

    /// What a blob's name promises, from its bytes (Digest's BlobName(String) asks Unicode per
    /// character: a tenth of a rerun's time).
    static func blobName(_ name: [UInt8]) -> BlobName {
        guard name.count == 64 || name.count == 40, RepoIntegrity.isLowerHex(name) else { return .other }
        let s = String(decoding: name, as: UTF8.self)
        return name.count == 64 ? .sha256(s) : .gitBlob(s)
    }

    /// Bytes of a name as a person reads them (escaped, one line).
    static func shown(_ bytes: [UInt8]) -> String { Escape.text(ByteName.decode(bytes)) }

    static func hexBytes(_ hex: String) -> [UInt8] { hexBytes(Array(hex.utf8)) }

    static func hexBytes(_ hex: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var hi: UInt8?
        for c in hex {
            let v: UInt8 = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        return out
    }
}

/// `trees/<commit>.json` as the client writes it (_tree_cache.py, format_version 1): path -> what
/// the file must be. Read with a size cap; anything unexpected means "no listing".
public enum TreeListing {
    public struct Entry: Sendable { public var size: UInt64; public var blobID: String; public var lfsSHA256: String? }
    public static let maxBytes = 64 << 20

    static func read(_ trees: FD, commit: [UInt8]) -> [String: Entry]? {
        guard let fd = try? trees.open(bytes: commit + Array(".json".utf8), flags: O_RDONLY | HF_O_NONBLOCK),
              let st = try? fd.stat(), st.type == .regular, st.size <= UInt64(maxBytes),
              let bytes = try? fd.readAll(max: Int(st.size) + 1) else { return nil }
        return parse(Data(bytes))
    }

    public static func parse(_ data: Data) -> [String: Entry]? {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              (obj["format_version"] as? Int) == 1, let files = obj["files"] as? [String: Any] else { return nil }
        var out: [String: Entry] = [:]
        for (path, v) in files {
            guard let e = v as? [String: Any], let blob = e["blob_id"] as? String else { return nil }
            out[path] = Entry(size: (e["size"] as? NSNumber)?.uint64Value ?? 0, blobID: blob, lfsSHA256: e["lfs_sha256"] as? String)
        }
        return out
    }
}
