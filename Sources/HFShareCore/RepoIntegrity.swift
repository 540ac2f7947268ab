import CHFShare
import Foundation
import Glibc

/// Structural integrity of one Hugging Face hub repo directory (`models--org--name`, `datasets--…`,
/// `spaces--…`, `kernels--…`), judged from names, symlinks and stats only (refs, which are tiny, are
/// the only contents read): will the real client load every revision offline?
///
/// huggingface_hub 2.x (file_download.py, utils/_cache_manager.py, utils/_shared_blobs.py,
/// _tree_cache.py) lays a repo out as
///
///     refs/<name>                 the commit id, written without newline and read without strip()
///     refs/refs/pr/1              nested refs (a revision named `refs/pr/1`)
///     snapshots/<commit>/<path>   relative symlink to ../../blobs/<etag> (one ../ more per subdir);
///                                 a regular file with HF_HUB_DISABLE_SYMLINKS (the blob moved there)
///     blobs/<etag>                sha256 (LFS) or git blob id; with the shared store a symlink to
///                                 ../../blobs/<2 hex>/<xet hash> (hub/blobs, marked by
///                                 .huggingface-shared-blobs, manifests <xet hash>.refs)
///     blobs/<etag>.incomplete     a download in progress, guarded by .locks/<repo>/<etag>.lock
///     .no_exist/<commit>/<path>   "the Hub said 404" markers
///     trees/<commit>.json         the commit's full file listing (snapshot_download)
///
/// Four findings come out of it: `ref-malformed` (fixable), `ref-dangling`, `snapshot-link-broken`,
/// `blob-orphan` (report-only).
public enum RepoIntegrity {
    public static let repoPrefixes: [[UInt8]] = ["models--", "datasets--", "spaces--", "kernels--"].map { Array($0.utf8) }

    public static func isRepoDirName<S: Collection>(_ name: S) -> Bool where S.Element == UInt8 {
        repoPrefixes.contains { p in name.count > p.count && name.starts(with: p) }
    }

    /// `rel` (relative to ROOT) is a repo dir directly under a hub cache: `hub/<repo>` under an
    /// HF_HOME-style ROOT, or `<repo>` in a bare hub cache.
    public static func isRepoDirectory(rel: String) -> Bool {
        let parts = rel.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = parts.last, isRepoDirName(last.utf8) else { return false }
        return parts.count == 1 || (parts.count == 2 && parts[0] == "hub")
    }

    // MARK: refs

    /// What a ref file holds, judged like the client reads it (`open(ref).read()`, no strip).
    public enum RefValue: Equatable, Sendable {
        /// Exactly 40 lowercase hex characters.
        case commit(String)
        /// Anything else; `trimmed` is the commit id it becomes once ASCII whitespace is trimmed (and
        /// the hex lowercased), nil if even that is not one (then repair cannot fix it).
        case malformed(trimmed: String?)
    }

    public static let maxRefBytes = 256

    public static func parseRef(_ bytes: [UInt8]) -> RefValue {
        if isCommitID(bytes) { return .commit(String(decoding: bytes, as: UTF8.self)) }
        let ws: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C]
        var lo = 0, hi = bytes.count
        while lo < hi && ws.contains(bytes[lo]) { lo += 1 }
        while hi > lo && ws.contains(bytes[hi - 1]) { hi -= 1 }
        let lowered = bytes[lo..<hi].map { ($0 >= 0x41 && $0 <= 0x46) ? $0 + 0x20 : $0 }
        return .malformed(trimmed: isCommitID(lowered) ? String(decoding: lowered, as: UTF8.self) : nil)
    }

    public static func isCommitID<S: Collection>(_ b: S) -> Bool where S.Element == UInt8 {
        b.count == 40 && isLowerHex(b)
    }

    public static func isLowerHex<S: Collection>(_ b: S) -> Bool where S.Element == UInt8 {
        b.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The client's own temp names for a ref being replaced (`main.1a2b3c4d.tmp`): not refs.
    static func isClientTemp(_ name: [UInt8]) -> Bool {
        guard name.count > 13, name.suffix(4) == Array(".tmp".utf8), name[name.count - 13] == 0x2E else { return false }
        return name[(name.count - 12)..<(name.count - 4)].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    // MARK: layout of one repo (no file contents)

    public struct Ref: Sendable {
        /// Path below `refs/`, components joined by `/` (e.g. `main`, `refs/pr/1`).
        public var name: [UInt8]
        public var value: RefValue
        public var raw: [UInt8]
        public var stat: FileStat
    }

    public enum SnapshotFileKind: Sendable {
        /// A symlink resolving to `blobs/<name>` of this repo.
        case blobLink(target: [UInt8], blob: [UInt8])
        /// A symlink pointing anywhere else (kept as is, existence checked by following).
        case otherLink(target: [UInt8])
        /// A regular file (HF_HUB_DISABLE_SYMLINKS layout).
        case regular(FileStat)
        case other
    }

    public struct SnapshotFile: Sendable {
        /// Path inside the snapshot, components joined by `/`.
        public var path: [UInt8]
        public var kind: SnapshotFileKind
        /// For links: the target exists (followed; a blob that is itself a link into the shared store
        /// must reach a file too).
        public var present: Bool
    }

    public struct Snapshot: Sendable {
        public var commit: [UInt8]
        public var files: [SnapshotFile]
    }

    public struct Blob: Sendable {
        public var name: [UInt8]
        public var stat: FileStat
        /// For a symlink into the shared store: its target.
        public var target: [UInt8]?
        /// For a symlink: whether it reaches a file.
        public var present: Bool
    }

    public struct Layout: Sendable {
        public var refs: [Ref] = []
        public var snapshots: [Snapshot] = []
        public var snapshotsReadable = false
        /// Entries of snapshots/ that are not a commit-named directory (not the client's).
        public var foreignSnapshotEntries = 0
        public var blobs: [Blob] = []
        /// `readLayout`'s index of `blobs` by name (verify looks every snapshot link's blob up in it).
        var blobIndex: [NameKey: Int] = [:]
        public var incompletes: Set<[UInt8]> = []
        /// Directories that could not be read (path inside the repo, reason).
        public var problems: [(String, String)] = []

        public var snapshotCommits: Set<[UInt8]> { Set(snapshots.map(\.commit)) }
    }

    /// Reads refs/, snapshots/ and blobs/ of one repo through descriptors (O_NOFOLLOW, names as bytes).
    /// Blobs first: a snapshot link to `blobs/<name>` is present iff that blob is (no stat per link).
    /// `index`: root's record of the repo's snapshot directories (LinkIndex), used and kept up to date.
    public static func readLayout(_ repo: FD, index: LinkIndex? = nil) -> Layout {
        var layout = Layout()
        if let refs = try? repo.openDirectory(bytes: Array("refs".utf8), noatime: true) {
            readRefs(refs, prefix: [], into: &layout, depth: 0)
        }
        if let blobs = try? repo.openDirectory(bytes: Array("blobs".utf8), noatime: true), let list = try? blobs.entryBytes() {
            // audit's record of a `blobs/` of links is kept (not used here: this reads every link).
            if let index, let st = try? blobs.stat() { index.keep(st) }
            let incompleteSuffix = Array(".incomplete".utf8)
            for (name, _) in list {
                if name.count > incompleteSuffix.count && name.suffix(incompleteSuffix.count).elementsEqual(incompleteSuffix) {
                    layout.incompletes.insert(Array(name.dropLast(incompleteSuffix.count)))
                    continue
                }
                guard let st = try? blobs.stat(bytes: name) else { continue }
                switch st.type {
                case .regular:
                    layout.blobIndex[NameKey(name)] = layout.blobs.count
                    layout.blobs.append(Blob(name: name, stat: st, target: nil, present: true))
                case .symlink:
                    let target = (try? blobs.readlink(bytes: name)) ?? []
                    let present = (try? blobs.stat(bytes: name, follow: true))?.type == .regular
                    layout.blobIndex[NameKey(name)] = layout.blobs.count
                    layout.blobs.append(Blob(name: name, stat: st, target: target, present: present))
                default: continue
                }
            }
        }
        if let snaps = try? repo.openDirectory(bytes: Array("snapshots".utf8), noatime: true) {
            do {
                for (name, type) in try snaps.entryBytes() {
                    // The client names snapshot dirs by commit; anything else is not its layout, and
                    // since it might link to blobs, no blob can then be called an orphan.
                    guard isCommitID(name), type == .directory || type == .unknown,
                          let dir = try? snaps.openDirectory(bytes: name, noatime: true) else { layout.foreignSnapshotEntries += 1; continue }
                    var files: [SnapshotFile] = []
                    readSnapshot(dir, prefix: [], depth: 0, blobs: layout, index: index, into: &files)
                    layout.snapshots.append(Snapshot(commit: name, files: files))
                }
                layout.snapshotsReadable = true
            } catch { layout.problems.append(("snapshots", "\(error)")) }
        } else {
            layout.snapshotsReadable = (try? repo.stat(bytes: Array("snapshots".utf8))) == nil // none: nothing to link
        }
        return layout
    }

    private static func readRefs(_ dir: FD, prefix: [UInt8], into layout: inout Layout, depth: Int) {
        guard depth < 8, let list = try? dir.entryBytes() else { return }
        for (name, _) in list {
            if name == Array(".DS_Store".utf8) || isClientTemp(name) || name.starts(with: Array(Scanner.tempPrefix.utf8)) { continue }
            let full = prefix.isEmpty ? name : prefix + [0x2F] + name
            guard let st = try? dir.stat(bytes: name) else { continue }
            if st.type == .directory {
                if let sub = try? dir.openDirectory(bytes: name, noatime: true) { readRefs(sub, prefix: full, into: &layout, depth: depth + 1) }
                continue
            }
            guard st.type == .regular else { continue }
            var raw: [UInt8] = []
            if st.size <= UInt64(maxRefBytes), let fd = try? dir.open(bytes: name, flags: O_RDONLY | HF_O_NONBLOCK, noatime: true) {
                raw = (try? fd.readAll(max: maxRefBytes + 1)) ?? []
            }
            let value: RefValue = st.size > UInt64(maxRefBytes) ? .malformed(trimmed: nil) : parseRef(raw)
            layout.refs.append(Ref(name: full, value: value, raw: raw, stat: st))
        }
    }

    /// `blobs`: the layout read so far (its blobs, by name), for whether a link's blob is there.
    private static func readSnapshot(_ dir: FD, prefix: [UInt8], depth: Int, blobs: Layout, index: LinkIndex?, into files: inout [SnapshotFile]) {
        guard depth < 64 else { return }
        // Unchanged since root recorded it (LinkIndex): names, types and link targets without getdents or readlink.
        let before = index == nil ? nil : try? dir.stat()
        let recorded = before.flatMap { index?.entries(of: $0) }
        var recording: [LinkIndex.Entry]? = before != nil && recorded == nil ? [] : nil
        let list: [(name: [UInt8], type: FileType, ino: UInt64)]
        if let recorded {
            list = recorded.map { ($0.name, $0.type, $0.ino) }
        } else {
            guard let l = try? dir.entryRecords() else { return }
            list = l
        }
        for (i, (name, direntType, ino)) in list.enumerated() {
            let full = prefix.isEmpty ? name : prefix + [0x2F] + name
            // getdents' d_type spares the lstat of every link (a third of a cache); unknown on some filesystems.
            var type = direntType
            var st: FileStat?
            if type == .unknown || type == .regular {
                st = try? dir.stat(bytes: name)
                guard let t = st?.type else { recording = nil; continue }
                type = t
            }
            var target: [UInt8]?
            if type == .symlink {
                target = recorded?[i].target ?? (try? dir.readlink(bytes: name))
                if target == nil { recording = nil }
            }
            recording?.append(LinkIndex.Entry(name: name, type: type, ino: st?.ino ?? ino, target: target))
            switch type {
            case .directory:
                if let sub = try? dir.openDirectory(bytes: name, noatime: true) {
                    readSnapshot(sub, prefix: full, depth: depth + 1, blobs: blobs, index: index, into: &files)
                }
            case .symlink:
                let target = target ?? []
                if let blob = blobName(linkTarget: target, depth: depth) {
                    files.append(SnapshotFile(path: full, kind: .blobLink(target: target, blob: blob), present: blobs.blobIndex[NameKey(blob)].map { blobs.blobs[$0].present } ?? false))
                } else {
                    files.append(SnapshotFile(path: full, kind: .otherLink(target: target), present: (try? dir.stat(bytes: name, follow: true)) != nil))
                }
            case .regular:
                files.append(SnapshotFile(path: full, kind: .regular(st!), present: true))
            default:
                files.append(SnapshotFile(path: full, kind: .other, present: false))
            }
        }
        if let recording, let before, let index, let after = try? dir.stat() { index.record(before: before, after: after, entries: recording) }
    }

    /// The blob a snapshot link names, if its relative target, applied from
    /// `snapshots/<commit>/<depth subdirs>/`, lands on `blobs/<name>` of the same repo.
    public static func blobName(linkTarget: [UInt8], depth: Int) -> [UInt8]? {
        guard linkTarget.first != 0x2F else { return nil }
        // The link's directory is `snapshots/<commit>/<depth dirs>` (2 + depth components, none named
        // `blobs`); only the components the target pushes are kept, as ranges (this runs for every link).
        var base = 2 + depth
        var pushed: [Range<Int>] = []
        pushed.reserveCapacity(4)
        var start = 0
        let n = linkTarget.count
        while start <= n {
            var end = start
            while end < n && linkTarget[end] != 0x2F { end += 1 }
            let len = end - start
            if len == 2 && linkTarget[start] == 0x2E && linkTarget[start + 1] == 0x2E {
                if !pushed.isEmpty { pushed.removeLast() } else if base > 0 { base -= 1 } else { return nil } // leaves the repo
            } else if len > 0 && !(len == 1 && linkTarget[start] == 0x2E) {
                pushed.append(start..<end)
            }
            start = end + 1
        }
        guard base == 0, pushed.count == 2, linkTarget[pushed[0]].elementsEqual(blobsBytes) else { return nil }
        return Array(linkTarget[pushed[1]])
    }

    private static let blobsBytes = Array("blobs".utf8)

    // MARK: the check

    /// What one repo dir breaks, as events ready for the scanner's `emit`: `found` in an audit; with
    /// `fix`, `ref-malformed` is rewritten (or would be, `dryRun`) and the report-only kinds are `left`.
    /// `hubDir` is the directory holding the repo (for `.locks/<repo>`), `repoPath` its absolute path
    /// (messages only), `root` the cache root (for printed commands).
    public static func events(repoDir: FD, repoName: String, repoPath: String, hubDir: FD?, root: String, fix: FixMode?) -> [Event] {
        events(layout: readLayout(repoDir), repoDir: repoDir, repoName: repoName, repoPath: repoPath, hubDir: hubDir, root: root, fix: fix)
    }

    /// The same, for a layout already read (the walker assembles it while it walks: RepoFacts).
    static func events(layout: Layout, repoDir: FD, repoName: String, repoPath: String, hubDir: FD?, root: String, fix: FixMode?) -> [Event] {
        var out: [Event] = []
        for f in findings(layout, repoName: repoName, repoPath: repoPath, root: root, lockHeld: { lockHeld(hubDir: hubDir, repo: repoName, blob: $0) }) {
            guard let fix, f.kind == .refMalformed else {
                out.append(Event(finding: f, outcome: fix == nil ? .found : .left, error: nil))
                continue
            }
            let ref = layout.refs.first { repoPath + "/refs/" + display($0.name) == f.path }!
            guard case .malformed(let trimmed?) = ref.value else {
                out.append(Event(finding: f, outcome: .failed, error: "not a commit id even once trimmed; delete it or write the commit id into it"))
                continue
            }
            if fix.dryRun { out.append(Event(finding: f, outcome: .wouldFix, error: nil)); continue }
            do {
                try rewriteRef(repoDir: repoDir, ref: ref, commit: trimmed)
                out.append(Event(finding: f, outcome: .fixed, error: nil))
            } catch {
                out.append(Event(finding: f, outcome: .failed, error: "\(error)"))
            }
        }
        return out
    }

    /// Pure: the findings a layout makes (lockHeld answers "is a download of this blob running?").
    public static func findings(_ layout: Layout, repoName: String, repoPath: String, root: String,
                                lockHeld: ([UInt8]) -> Bool = { _ in false }) -> [Finding] {
        var out: [Finding] = []
        let commits = Set(layout.snapshots.map { NameKey($0.commit) })
        // Details and paths stay exact (lossless); the output layer escapes them where it prints.
        func shown<S: Sequence>(_ b: S) -> String where S.Element == UInt8 { RepoIntegrity.display(b) }
        // Names for messages only when there is a message (most repos have none).
        lazy var repoID = RepoID(dirName: repoName)
        lazy var repair = "hfshare repair \(Shell.quote(root))"
        for ref in layout.refs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            let name = shown(ref.name)
            let path = repoPath + "/refs/" + display(ref.name)
            var commit: String?
            switch ref.value {
            case .commit(let c): commit = c
            case .malformed(let trimmed):
                commit = trimmed
                let why = trimmed == nil ? "not a commit id, even trimmed" : "not exactly 40 lowercase hex characters; the client reads it verbatim"
                out.append(Finding(kind: .refMalformed, path: path,
                                   detail: "\(repoID.rawDisplay)@\(name): content \(ref.stat.size > UInt64(maxRefBytes) ? "(\(ref.stat.size) bytes)" : "\"" + display(ref.raw) + "\" (\(ref.raw.count) bytes)"): \(why)",
                                   fix: trimmed == nil ? "rm \(Shell.quote(path))   (the client writes it again on the next online load)" : repair))
            }
            if let commit, !commits.contains(NameKey(Array(commit.utf8))) {
                out.append(Finding(kind: .refDangling, path: path,
                                   detail: "\(repoID.rawDisplay)@\(name) -> \(commit): no snapshots/\(commit); offline loads of this revision fail",
                                   fix: "\(repoID.downloadCommand(revision: name))   (online), or: rm \(Shell.quote(path))"))
            }
        }
        var referenced = Set<NameKey>()
        lazy var refsOf: [[UInt8]: [String]] = {
            var refsOf: [[UInt8]: [String]] = [:]
            for ref in layout.refs {
                if case .commit(let c) = ref.value { refsOf[Array(c.utf8), default: []].append(shown(ref.name)) }
                if case .malformed(let c?) = ref.value { refsOf[Array(c.utf8), default: []].append(shown(ref.name)) }
            }
            return refsOf
        }()
        for snap in layout.snapshots.sorted(by: { $0.commit.lexicographicallyPrecedes($1.commit) }) {
            // Only the broken links are sorted (for a stable order), not every file of every snapshot.
            var broken: [SnapshotFile] = []
            for file in snap.files {
                if case .blobLink(_, let blob) = file.kind { referenced.insert(NameKey(blob)) }
                if !file.present { broken.append(file) }
            }
            if broken.isEmpty { continue }
            let commit = display(snap.commit)
            let rev = refsOf[snap.commit].map { $0.sorted().joined(separator: ",") } ?? commit
            for file in broken.sorted(by: { $0.path.lexicographicallyPrecedes($1.path) }) {
                switch file.kind {
                case .blobLink(let target, _):
                    if !file.present {
                        out.append(Finding(kind: .snapshotLinkBroken, path: repoPath + "/snapshots/" + commit + "/" + display(file.path),
                                           detail: "\(repoID.rawDisplay)@\(rev) file \(shown(file.path)) -> \(shown(target)): blob missing",
                                           fix: "\(repoID.downloadCommand(revision: commit))   (online: the client fetches the blob again)"))
                    }
                case .otherLink(let target):
                    if !file.present {
                        out.append(Finding(kind: .snapshotLinkBroken, path: repoPath + "/snapshots/" + commit + "/" + display(file.path),
                                           detail: "\(repoID.rawDisplay)@\(rev) file \(shown(file.path)) -> \(shown(target)): target missing",
                                           fix: "\(repoID.downloadCommand(revision: commit))   (online)"))
                    }
                case .regular, .other: continue
                }
            }
        }
        // Orphans only when every snapshot could be read: otherwise "nobody links to it" is unknown.
        if layout.snapshotsReadable && layout.foreignSnapshotEntries == 0 {
            for blob in layout.blobs.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) })
            where !referenced.contains(NameKey(blob.name)) && !layout.incompletes.contains(blob.name) && !lockHeld(blob.name) {
                let what = blob.target == nil ? "\(blob.stat.size) bytes" : "link to the shared store \(shown(blob.target!))"
                out.append(Finding(kind: .blobOrphan, path: repoPath + "/blobs/" + display(blob.name),
                                   detail: "\(repoID.rawDisplay): \(what); no snapshot links to it",
                                   fix: "rm \(Shell.quote(repoPath + "/blobs/" + display(blob.name)))   (or: hf cache prune)"))
            }
        }
        return out
    }

    /// A download holds `.locks/<repo>/<blob>.lock` from before the blob appears until its snapshot
    /// link exists: while it is held, an unlinked blob is not an orphan.
    static func lockHeld(hubDir: FD?, repo: String, blob: [UInt8]) -> Bool {
        guard let hubDir, let locks = try? hubDir.openDirectory(bytes: Array(".locks".utf8)),
              let dir = try? locks.openDirectory(bytes: ByteName.bytes(repo)),
              let fd = try? dir.open(bytes: blob + Array(".lock".utf8), flags: O_RDONLY | HF_O_NONBLOCK) else { return false }
        return (try? fd.tryExclusiveLockAndRelease()) == false
    }

    // MARK: repair

    /// Rewrites a ref with `commit` (no newline, as the client writes it): a temp file in the ref's own
    /// directory, same owner/group/mode, fsync, renamed over the ref. Every step through descriptors
    /// opened O_NOFOLLOW from the repo dir; the ref must still be the inode that was judged.
    public static func rewriteRef(repoDir: FD, ref: Ref, commit: String) throws {
        var dir = try repoDir.openDirectory(bytes: Array("refs".utf8))
        let parts = ref.name.split(separator: 0x2F).map(Array.init)
        for p in parts.dropLast() { dir = try dir.openDirectory(bytes: p) }
        let name = parts.last!
        let now = try dir.stat(bytes: name)
        guard now.dev == ref.stat.dev, now.ino == ref.stat.ino, now.type == .regular else {
            throw SystemError("open", dir.path + "/" + display(name), ESTALE)
        }
        let tmp = Array((Scanner.tempPrefix + "ref-\(ref.stat.ino).tmp").utf8)
        if let old = try? dir.stat(bytes: tmp), old.type == .regular, old.uid == 0 || dir.hasXattr(String(decoding: tmp, as: UTF8.self), Scanner.tempMarker) {
            try? dir.unlink(bytes: tmp) // ours, from a killed run
        }
        let fd = try dir.open(bytes: tmp, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        do {
            try? fd.setXattr(Scanner.tempMarker, "1")
            try Array(commit.utf8).withUnsafeBytes { try fd.writeAll($0) }
            guard Glibc.fchmod(fd.raw, mode_t(now.permissions)) == 0 else { throw SystemError("chmod", fd.path) }
            try fd.fsync()
            guard fchown(fd.raw, now.uid, now.gid) == 0 else { throw SystemError("chown", fd.path) }
            fd.removeXattr(Scanner.tempMarker)
            guard (try? dir.stat(bytes: name))?.ino == ref.stat.ino else { throw SystemError("rename", dir.path, ESTALE) }
            try dir.rename(bytes: tmp, to: name)
            try? dir.fsync()
        } catch {
            try? dir.unlink(bytes: tmp)
            throw error
        }
    }

    // MARK: names for people

    /// Bytes as a lossless String (ByteName); printing goes through Escape.text.
    public static func display<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 { ByteName.decode(Array(bytes)) }

    static func quoted(_ raw: [UInt8], cap: UInt64) -> String {
        if cap > UInt64(maxRefBytes) { return "(\(cap) bytes)" }
        var s = "\""
        for b in raw {
            switch b {
            case 0x0A: s += "\\n"
            case 0x0D: s += "\\r"
            case 0x09: s += "\\t"
            case 0x22: s += "\\\""
            case 0x5C: s += "\\\\"
            case 0x20...0x7E: s += String(UnicodeScalar(b))
            default: s += String(format: "\\x%02x", b)
            }
        }
        return s + "\" (\(raw.count) bytes)"
    }
}

/// A name as a dictionary key, hashed in one call over its bytes (an `[UInt8]` key is hashed byte by byte).
struct NameKey: Hashable {
    let bytes: [UInt8]
    init(_ b: [UInt8]) { bytes = b }
    func hash(into h: inout Hasher) { bytes.withUnsafeBytes { h.combine(bytes: $0) } }
}

/// A repo as people name it: `models--org--name` is `model/org/name` (as `hf cache ls` shows it).
public struct RepoID: Sendable, Equatable {
    public var type: String
    public var id: String
    public var dirName: String

    public init(dirName: String) {
        self.dirName = dirName
        let parts = dirName.components(separatedBy: "--")
        let plural = parts.first ?? ""
        type = plural.hasSuffix("s") ? String(plural.dropLast()) : plural
        id = parts.dropFirst().joined(separator: "/")
    }

    /// For people: escaped (a member chose the name).
    public var display: String { Escape.text(rawDisplay) }
    /// Exact (for finding details, which the output layer escapes).
    public var rawDisplay: String { "\(type)/\(id)" }

    public func downloadCommand(revision: String) -> String {
        "hf download \(Shell.quote(id))\(type == "model" ? "" : " --repo-type \(type)") --revision \(Shell.quote(revision))"
    }

    /// Whether a REPO argument names this repo: `org/name`, `type/org/name`, or the cache dir name.
    public func matches(_ arg: String) -> Bool {
        arg == dirName || arg == id || arg == "\(type)/\(id)" || arg == "\(type)s/\(id)"
    }
}

// MARK: byte-named entries (names may be any bytes but `/` and NUL)

extension FD {
    // The listing by bytes is FD.entryBytes (Syscalls.swift), on the one getdents64 loop.

    private func child(_ name: [UInt8]) -> String { FD.join(path, RepoIntegrity.display(name)) }

    func open(bytes name: [UInt8], flags: Int32, mode: UInt32 = 0, noatime: Bool = false) throws -> FD {
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        if noatime {
            let fd = hf_open(raw, cname, flags | HF_O_NOFOLLOW | HF_O_CLOEXEC | HF_O_NOATIME, mode)
            if fd >= 0 { return FD(raw: fd, path: child(name)) }
            if Glibc.errno != EPERM { throw SystemError("open", child(name)) }
        }
        let fd = hf_open(raw, cname, flags | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", child(name)) }
        return FD(raw: fd, path: child(name))
    }

    func openDirectory(bytes name: [UInt8], noatime: Bool = false) throws -> FD {
        try open(bytes: name, flags: FD.directoryFlags, noatime: noatime)
    }

    func stat(bytes name: [UInt8], follow: Bool = false) throws -> FileStat {
        var s = hf_stat()
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        guard hf_statx(raw, cname, follow ? 0 : HF_AT_SYMLINK_NOFOLLOW, &s) == 0 else { throw SystemError("statx", child(name)) }
        return FileStat(s)
    }

    func readlink(bytes name: [UInt8]) throws -> [UInt8] {
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(PATH_MAX)) { buf in
            let n = readlinkat(raw, cname, buf.baseAddress!, buf.count)
            guard n >= 0 else { throw SystemError("readlink", child(name)) }
            return Array(buf[..<n])
        }
    }

    func unlink(bytes name: [UInt8]) throws {
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        guard unlinkat(raw, cname, 0) == 0 else { throw SystemError("unlink", child(name)) }
    }

    func rename(bytes from: [UInt8], to: [UInt8], in dir: FD? = nil) throws {
        let a = from.map { CChar(bitPattern: $0) } + [0], b = to.map { CChar(bitPattern: $0) } + [0]
        guard renameat(raw, a, (dir ?? self).raw, b) == 0 else { throw SystemError("rename", (dir ?? self).child(to)) }
    }

    /// At most `max` bytes from the current offset.
    func readAll(max: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        var got = 0
        while got < max {
            let n = try out.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        return Array(out[..<got])
    }
}
