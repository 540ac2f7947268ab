import CHFShare
import Foundation
import Glibc

/// The repo check fed by the walker: while the walker lists and stats a repo's refs/, blobs/ and
/// snapshots/ for the permission rules, it hands each entry to the repo's `RepoFacts`, which assembles
/// the same `RepoIntegrity.Layout` that `readLayout` reads on its own (verify still does). When the
/// last directory of the repo has been walked, the layout is judged once (`RepoIntegrity.findings`).
/// One listing, one stat and one readlink per entry for both checks: before, the repo check listed
/// and read every repo a second time (a third of audit's time).
final class RepoFacts: @unchecked Sendable {
    /// What a directory inside a repo is to the repo check. Directories with no role (`.no_exist`,
    /// `trees`, anything foreign) are walked for permissions only.
    enum Role {
        case repo
        /// `refs/` and below: the path below `refs/` so far (nested refs such as `refs/pr/1`).
        case refs(prefix: [UInt8], depth: Int)
        case blobs
        case snapshots
        /// `snapshots/<commit>/` and below: the path inside the snapshot so far, and how many
        /// subdirectories deep it is (a link's `../` count depends on it).
        case snapshot(commit: [UInt8], prefix: [UInt8], depth: Int)

        var isSnapshot: Bool { if case .snapshot = self { return true } else { return false } }
        var isBlobs: Bool { if case .blobs = self { return true } else { return false } }
        /// Directories root's link index records: snapshots, and a repo's `blobs/` when it holds links
        /// (the 2.x shared store: each blob a link into `hub/blobs/<2 hex>/`).
        var isRecorded: Bool { isSnapshot || isBlobs }
    }

    let repoDir: FD
    let hubDir: FD?
    let name: String
    let path: String
    /// Root's record of the repo's snapshot directories, when there is one to use (LinkIndex).
    let index: LinkIndex?

    private let lock = NSLock()
    private var pending = 1
    private var layout = RepoIntegrity.Layout()
    private var files: [[UInt8]: [RepoIntegrity.SnapshotFile]] = [:]
    private var commits: [[UInt8]] = []
    private var snapshotsState: SnapshotsState = .absent
    /// Something inside the repo was excluded (`--exclude`): the layout is not whole, so the repo is
    /// read again on its own at the end (`RepoIntegrity.readLayout`), as before.
    private var excluded = false

    fileprivate enum SnapshotsState { case absent, notDirectory, unreadable, read }

    init(repoDir: FD, hubDir: FD?, name: String, path: String, index: LinkIndex? = nil) {
        self.repoDir = repoDir; self.hubDir = hubDir; self.name = name; self.path = path; self.index = index
    }

    private func locked(_ body: () -> Void) { lock.lock(); body(); lock.unlock() }

    /// A directory of the repo is queued for the walker.
    func enter() { locked { pending += 1 } }

    /// A directory of the repo has been walked; true for the last one (then `events` may run).
    func leave() -> Bool {
        lock.lock(); defer { lock.unlock() }
        pending -= 1
        return pending == 0
    }

    func markExcluded() { locked { excluded = true } }

    /// A role directory could not be opened or listed.
    func unreadable(_ role: Role, reason: String) {
        locked {
            switch role {
            case .snapshots: snapshotsState = .unreadable
            case .snapshot: layout.foreignSnapshotEntries += 1 // its links unknown: no orphans
            default: break
            }
            layout.problems.append(("\(role)", reason))
        }
    }

    /// One entry of a directory whose role is `role`, as the walker stat'ed it. Returns the role of the
    /// entry if it is a directory the repo check needs walked, nil otherwise. `target` is the link's
    /// target for symlinks (read once, by the walker), `followedType` the type of what it leads to if the
    /// walker looked (nil: look here where needed).
    /// What is learnt goes into `batch` (the walker's own, one per directory), handed over by `commit`.
    func add(_ role: Role, name: [UInt8], stat st: FileStat, in dir: FD, target: [UInt8]?, followedType: FileType?, into batch: inout Batch) -> Role? {
        switch role {
        case .repo:
            switch (name, st.type) {
            case (Self.refsName, .directory): return .refs(prefix: [], depth: 0)
            case (Self.blobsName, .directory): return .blobs
            case (Self.snapshotsName, .directory):
                batch.snapshotsState = .read
                return .snapshots
            case (Self.snapshotsName, _):
                batch.snapshotsState = .notDirectory
                return nil
            default: return nil
            }
        case .refs(let prefix, let depth):
            if name == Self.dsStore || RepoIntegrity.isClientTemp(name) || name.starts(with: Self.tempPrefix) { return nil }
            let full = prefix.isEmpty ? name : prefix + [0x2F] + name
            if st.type == .directory { return depth + 1 < 8 ? .refs(prefix: full, depth: depth + 1) : nil }
            guard st.type == .regular else { return nil }
            var raw: [UInt8] = []
            let cap = RepoIntegrity.maxRefBytes
            if st.size <= UInt64(cap), let fd = try? dir.open(bytes: name, flags: O_RDONLY | HF_O_NONBLOCK, noatime: true) {
                raw = (try? fd.readAll(max: cap + 1)) ?? []
            }
            let value: RepoIntegrity.RefValue = st.size > UInt64(cap) ? .malformed(trimmed: nil) : RepoIntegrity.parseRef(raw)
            batch.refs.append(.init(name: full, value: value, raw: raw, stat: st))
            return nil
        case .blobs:
            if name.count > Self.incomplete.count && name.suffix(Self.incomplete.count).elementsEqual(Self.incomplete) {
                let blob = Array(name.dropLast(Self.incomplete.count))
                batch.incompletes.append(blob)
                return nil
            }
            switch st.type {
            case .regular:
                batch.blobs.append(.init(name: name, stat: st, target: nil, present: true))
            case .symlink:
                let present = (followedType ?? (try? dir.stat(bytes: name, follow: true))?.type) == .regular
                batch.blobs.append(.init(name: name, stat: st, target: target ?? [], present: present))
            default: break
            }
            return nil
        case .snapshots:
            // The client names snapshot dirs by commit; anything else is not its layout, and since it
            // might link to blobs, no blob can then be called an orphan.
            guard RepoIntegrity.isCommitID(name), st.type == .directory else {
                batch.foreignSnapshotEntries += 1
                return nil
            }
            batch.commits.append(name)
            return .snapshot(commit: name, prefix: [], depth: 0)
        case .snapshot(let commit, let prefix, let depth):
            let full = prefix.isEmpty ? name : prefix + [0x2F] + name
            let file: RepoIntegrity.SnapshotFile
            switch st.type {
            case .directory:
                return depth + 1 < 64 ? .snapshot(commit: commit, prefix: full, depth: depth + 1) : nil
            case .symlink:
                let target = target ?? []
                if let blob = RepoIntegrity.blobName(linkTarget: target, depth: depth) {
                    // Present iff that blob is: decided when the repo is complete (no stat per link).
                    file = .init(path: full, kind: .blobLink(target: target, blob: blob), present: false)
                } else {
                    file = .init(path: full, kind: .otherLink(target: target), present: (try? dir.stat(bytes: name, follow: true)) != nil)
                }
            case .regular: file = .init(path: full, kind: .regular(st), present: true)
            default: file = .init(path: full, kind: .other, present: false)
            }
            batch.files.append(file); batch.filesCommit = commit
            return nil
        }
    }

    /// What one directory's entries told the repo check, gathered by the walker without the lock.
    struct Batch {
        fileprivate var refs: [RepoIntegrity.Ref] = []
        fileprivate var incompletes: [[UInt8]] = []
        fileprivate var blobs: [RepoIntegrity.Blob] = []
        fileprivate var foreignSnapshotEntries = 0
        fileprivate var commits: [[UInt8]] = []
        fileprivate var snapshotsState: SnapshotsState?
        /// A directory's entries all belong to one snapshot (its role's commit).
        fileprivate var files: [RepoIntegrity.SnapshotFile] = []
        fileprivate var filesCommit: [UInt8]?
    }

    /// Hands a directory's batch over: one lock per directory instead of one per entry.
    func commit(_ b: Batch) {
        locked {
            layout.refs += b.refs
            layout.incompletes.formUnion(b.incompletes)
            layout.blobs += b.blobs
            layout.foreignSnapshotEntries += b.foreignSnapshotEntries
            commits += b.commits
            if let state = b.snapshotsState { snapshotsState = state }
            if let commit = b.filesCommit { files[commit, default: []] += b.files }
        }
    }

    /// The repo's findings (and, with `fix`, ref rewrites), once every directory of it was walked.
    func events(root: String, fix: FixMode?) -> [Event] {
        lock.lock()
        var layout = self.layout
        let wasExcluded = excluded
        let commits = self.commits, files = self.files, state = snapshotsState
        lock.unlock()
        if wasExcluded { layout = RepoIntegrity.readLayout(repoDir) } else {
            var blobPresent: [NameKey: Bool] = [:]
            for b in layout.blobs { blobPresent[NameKey(b.name)] = b.present }
            layout.snapshots = commits.map { commit in
                var list = files[commit] ?? []
                for i in list.indices {
                    if case .blobLink(_, let blob) = list[i].kind { list[i].present = blobPresent[NameKey(blob)] ?? false }
                }
                return RepoIntegrity.Snapshot(commit: commit, files: list)
            }
            switch state {
            case .absent, .read: layout.snapshotsReadable = true // none: nothing links to a blob
            case .notDirectory, .unreadable: layout.snapshotsReadable = false
            }
        }
        return RepoIntegrity.events(layout: layout, repoDir: repoDir, repoName: name, repoPath: path, hubDir: hubDir, root: root, fix: fix)
    }

    private static let refsName = Array("refs".utf8)
    private static let blobsName = Array("blobs".utf8)
    private static let snapshotsName = Array("snapshots".utf8)
    private static let dsStore = Array(".DS_Store".utf8)
    private static let tempPrefix = Array(Scanner.tempPrefix.utf8)
    private static let incomplete = Array(".incomplete".utf8)
}
