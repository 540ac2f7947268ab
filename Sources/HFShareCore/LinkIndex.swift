import CHFShare
import Foundation
import Glibc

/// Root's record of what the snapshot directories of a repo hold: every entry's name, type and inode,
/// and each symlink's target. A third of a hub cache is snapshot links, and their targets
/// (`../../blobs/<64 hex>`, 76 bytes and more) are too long to live in an ext4 inode: each readlink is
/// a block lookup (cold: a random read). With the record, audit, du and verify read a link only once
/// in its life.
///
/// Why a record can be trusted (the rules are in docs/POLICY.md, "The link index"):
/// - It is keyed by the directory's inode, mtime and ctime. No entry can be added, removed, renamed or
///   replaced without the directory's mtime and ctime changing, and a symlink's target cannot change at
///   all, so a directory whose key is unchanged holds exactly the recorded entries. mtime can be set
///   by the owner (utimensat), ctime cannot: setting mtime changes ctime.
/// - Timestamps are coarse (a tick of a few ms, a second on some filesystems): a change in the same
///   tick as the recorded state would keep the key. So a directory is recorded only when its ctime is
///   at least `settle` seconds older than the walk; any later change carries a later ctime.
/// - The record is root's: files in `ROOT/.hfshare/links/` (root-only 0700), root-owned, 0600, ending
///   in a sha256 of their content (a torn or edited file reads as empty). It is used only by root
///   (other users could not read it, and nothing they run may rely on it). `--exclude` walks neither
///   use nor write it (their listings are not whole).
/// - A file is per repo (memory stays flat) and names the repo's (dev, ino): a repo deleted and
///   made again starts empty. Deleting the directory is always safe (everything is read again).
public final class LinkIndex: @unchecked Sendable {
    public struct DirKey: Hashable, Sendable {
        var ino: UInt64
        var mtimeSec: Int64
        var mtimeNsec: UInt32
        var ctimeSec: Int64
        var ctimeNsec: UInt32

        init(_ st: FileStat) {
            ino = st.ino; mtimeSec = st.mtimeSec; mtimeNsec = st.mtimeNsec; ctimeSec = st.ctimeSec; ctimeNsec = st.ctimeNsec
        }
        init(ino: UInt64, mtimeSec: Int64, mtimeNsec: UInt32, ctimeSec: Int64, ctimeNsec: UInt32) {
            self.ino = ino; self.mtimeSec = mtimeSec; self.mtimeNsec = mtimeNsec; self.ctimeSec = ctimeSec; self.ctimeNsec = ctimeNsec
        }
    }

    public struct Entry: Equatable, Sendable {
        public var name: [UInt8]
        public var type: FileType
        public var ino: UInt64
        /// For a symlink, its target.
        public var target: [UInt8]?

        public init(name: [UInt8], type: FileType, ino: UInt64, target: [UInt8]?) {
            self.name = name; self.type = type; self.ino = ino; self.target = target
        }
    }

    /// A directory's entries and, when the walk that recorded it read them, its access and default
    /// ACL values (an xattr change moves ctime, so they hold as long as the key does).
    public struct Record: Equatable, Sendable {
        public var entries: [Entry]
        public var access: ACLValue?
        public var defaultACL: ACLValue?

        public init(entries: [Entry], access: ACLValue? = nil, defaultACL: ACLValue? = nil) {
            self.entries = entries; self.access = access; self.defaultACL = defaultACL
        }

        public var hasACL: Bool { access != nil && defaultACL != nil }
    }

    let store: LinkIndexStore
    let file: String
    let repoDev: UInt64
    let repoIno: UInt64
    private let recorded: [DirKey: Record]
    private let lock = NSLock()
    private var seen: [DirKey: Record] = [:]
    private var added = 0

    init(store: LinkIndexStore, file: String, repo: FileStat, recorded: [DirKey: Record]) {
        self.store = store; self.file = file; self.repoDev = repo.dev; self.repoIno = repo.ino; self.recorded = recorded
    }

    /// The record of a snapshot directory whose stat is `dir`, if recorded under exactly this key.
    public func record(of dir: FileStat) -> Record? {
        guard dir.dev == repoDev, dir.type == .directory else { return nil }
        let key = DirKey(dir)
        guard let r = recorded[key] else { return nil }
        lock.lock(); if seen[key] == nil { seen[key] = r }; lock.unlock()
        return r
    }

    /// The entries of a snapshot directory whose stat is `dir`, if recorded under exactly this key.
    public func entries(of dir: FileStat) -> [Entry]? { record(of: dir)?.entries }

    /// Keeps the record of a directory this walk reads without using it (verify and du read every
    /// link of a `blobs/`), so that saving does not drop it as gone.
    public func keep(_ dir: FileStat) { _ = record(of: dir) }

    /// Records a directory listed whole (and its ACL values, when read), if it has settled. `before` is
    /// the stat the listing started from, `after` the directory's own fstat once every entry (and the
    /// ACLs) were read: the two must agree.
    public func record(before: FileStat, after: FileStat, entries: [Entry], access: ACLValue? = nil, defaultACL: ACLValue? = nil) {
        guard before.dev == repoDev, DirKey(before) == DirKey(after), after.ctimeSec < store.settledBefore else { return }
        lock.lock(); seen[DirKey(before)] = Record(entries: entries, access: access, defaultACL: defaultACL); added += 1; lock.unlock()
    }

    /// Writes the record back if this walk changed it (new directories, or recorded ones gone).
    public func save() {
        lock.lock()
        let changed = added > 0 || seen.count != recorded.count
        let dirs = seen
        lock.unlock()
        store.touched(file)
        guard changed else { return }
        store.write(file, LinkIndexFile.encode(repoDev: repoDev, repoIno: repoIno, dirs: dirs))
    }
}

/// `ROOT/.hfshare/links/`: one file per repo, named by the sha256 of the repo's path under ROOT.
public final class LinkIndexStore: @unchecked Sendable {
    static let directoryName = "links"
    /// How much older than the walk a directory's ctime must be to be recorded (coarse timestamps).
    static let settle: Int64 = 2
    /// One repo's record at most (a repo of 100k files is about 12 MiB).
    static let maxBytes = 64 << 20

    let dir: FD
    let settledBefore: Int64
    private let lock = NSLock()
    /// The records this walk used, by the first 64 bits of their name (8 bytes a repo, not a String).
    private var used: Set<UInt64> = []

    init(dir: FD, now: Double) {
        self.dir = dir
        self.settledBefore = Int64(now.rounded(.down)) - LinkIndexStore.settle
    }

    /// The store of ROOT, made when missing; nil when not running as root, when ROOT has no trusted
    /// state dir (a bare cache, or one a member replaced: then everything is read as before).
    public static func open(root: String, rootFD: FD) -> LinkIndexStore? {
        guard Posix.isRoot(), let state = try? StateDir.openIfPresent(root: root, rootFD: rootFD),
              let dir = try? state.subdirectory(directoryName) else { return nil }
        return LinkIndexStore(dir: dir, now: Posix.now())
    }

    static func fileName(repoRel: String) -> String {
        var h = SHA256()
        h.update(ByteName.bytes(repoRel))
        return h.finalize()
    }

    /// The index of the repo at `repoRel` (its path under ROOT) whose directory's stat is `repo`.
    public func index(repoRel: String, repo: FileStat) -> LinkIndex {
        let file = LinkIndexStore.fileName(repoRel: repoRel)
        var recorded: [LinkIndex.DirKey: LinkIndex.Record] = [:]
        if let bytes = read(file), let decoded = LinkIndexFile.decode(bytes), decoded.repoDev == repo.dev, decoded.repoIno == repo.ino {
            recorded = decoded.dirs
        }
        return LinkIndex(store: self, file: file, repo: repo, recorded: recorded)
    }

    func touched(_ file: String) {
        guard let key = LinkIndexStore.key(file) else { return }
        lock.lock(); used.insert(key); lock.unlock()
    }

    static func key(_ file: String) -> UInt64? { file.utf8.count == 64 ? UInt64(file.prefix(16), radix: 16) : nil }

    /// Root-owned regular file, opened O_NOFOLLOW, size-capped; nil for anything else.
    private func read(_ name: String) -> [UInt8]? {
        (try? dir.readRootFile(name, maxBytes: LinkIndexStore.maxBytes)) ?? nil
    }

    /// Atomically, without fsync: a record lost in a crash is only read again (the checksum rejects a torn one).
    func write(_ name: String, _ data: [UInt8]) {
        guard data.count <= LinkIndexStore.maxBytes else { try? dir.unlink(name); return }
        try? dir.placeFile(name, Data(data), mode: 0o600, uid: 0, gid: 0, durable: false)
    }

    /// After a whole walk of ROOT: drops the records of repos that are gone.
    public func removeUntouched() {
        lock.lock(); let keep = used; lock.unlock()
        // A chunk at a time: one record per repo, and a cache may hold tens of thousands of repos.
        guard let list = try? dir.openat(".", flags: FD.directoryFlags) else { return } // its own offset
        var batch: [(name: String, type: FileType)] = []
        var more = true
        while more {
            batch.removeAll(keepingCapacity: true)
            guard let m = try? list.readEntries(into: &batch, atLeast: 1024) else { return }
            more = m
            for (name, type) in batch where type == .regular && !name.hasPrefix(".") && !(LinkIndexStore.key(name).map(keep.contains) ?? false) {
                try? dir.unlink(name)
            }
        }
    }
}

/// The on-disk form: magic line, repo dev and ino, directories with their entries, then the sha256 of
/// all that. Integers little-endian; names and targets as their bytes.
enum LinkIndexFile {
    /// Version 2 added the ACL values; a version 1 file reads as no record (everything is read once more).
    static let magic = Array("hfshare-links 2\n".utf8)
    static let types: [FileType] = [.directory, .regular, .symlink, .fifo, .socket, .blockDevice, .charDevice, .unknown]

    struct Decoded { var repoDev: UInt64; var repoIno: UInt64; var dirs: [LinkIndex.DirKey: LinkIndex.Record] }

    static func encode(repoDev: UInt64, repoIno: UInt64, dirs: [LinkIndex.DirKey: LinkIndex.Record]) -> [UInt8] {
        var out = magic
        func u64(_ v: UInt64) { for s in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(s)))) } }
        func u32(_ v: UInt32) { for s in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(s)))) } }
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        u64(repoDev); u64(repoIno); u32(UInt32(dirs.count))
        // An ACL value: 0 not read, 1 none, 2 and a u16 length: the xattr's bytes.
        func acl(_ v: ACLValue?) {
            guard let v else { out.append(0); return }
            guard let b = v.bytes else { out.append(1); return }
            out.append(2); u16(b.count); out += b
        }
        for (key, record) in dirs {
            u64(key.ino); u64(UInt64(bitPattern: key.mtimeSec)); u32(key.mtimeNsec); u64(UInt64(bitPattern: key.ctimeSec)); u32(key.ctimeNsec)
            acl(record.access); acl(record.defaultACL)
            let entries = record.entries
            u32(UInt32(entries.count))
            for e in entries {
                out.append(UInt8(types.firstIndex(of: e.type) ?? types.count - 1))
                u64(e.ino)
                u16(e.name.count); out += e.name
                if let t = e.target { u16(t.count); out += t } else { u16(0xFFFF) }
            }
        }
        var h = SHA256()
        h.update(out)
        out += h.digest()
        return out
    }

    /// nil for anything but a well-formed file with a matching checksum.
    static func decode(_ bytes: [UInt8]) -> Decoded? {
        // Read through a buffer pointer (every offset is checked by `need` first): one record per repo,
        // every audit, and the checked subscripts were most of the decoding.
        bytes.withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer b: UnsafeBufferPointer<UInt8>) -> Decoded? {
        guard b.count >= magic.count + 20 + 32, b.prefix(magic.count).elementsEqual(magic) else { return nil }
        let body = b.count - 32
        var h = SHA256()
        h.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[0..<body])))
        guard h.digest().elementsEqual(b[body...]) else { return nil }
        var i = magic.count
        func need(_ n: Int) -> Bool { i + n <= body }
        func u64() -> UInt64 { var v: UInt64 = 0; for s in 0..<8 { v |= UInt64(b[i + s]) << (8 * UInt64(s)) }; i += 8; return v }
        func u32() -> UInt32 { var v: UInt32 = 0; for s in 0..<4 { v |= UInt32(b[i + s]) << (8 * UInt32(s)) }; i += 4; return v }
        func u16() -> Int { let v = Int(b[i]) | Int(b[i + 1]) << 8; i += 2; return v }
        guard need(20) else { return nil }
        let dev = u64(), ino = u64()
        let count = Int(u32())
        var dirs: [LinkIndex.DirKey: LinkIndex.Record] = [:]
        func acl() -> ACLValue?? {
            guard need(1) else { return nil }
            let tag = b[i]; i += 1
            switch tag {
            case 0: return .some(nil)
            case 1: return .some(ACLValue(bytes: nil))
            case 2:
                guard need(2) else { return nil }
                let n = u16()
                guard n <= 4096, need(n) else { return nil }
                defer { i += n }
                return .some(ACLValue(bytes: Array(b[i..<(i + n)])))
            default: return nil
            }
        }
        for _ in 0..<count {
            guard need(32) else { return nil }
            let key = LinkIndex.DirKey(ino: u64(), mtimeSec: Int64(bitPattern: u64()), mtimeNsec: u32(), ctimeSec: Int64(bitPattern: u64()), ctimeNsec: u32())
            guard let access = acl(), let defaultACL = acl(), need(4) else { return nil }
            let n = Int(u32())
            var entries: [LinkIndex.Entry] = []
            entries.reserveCapacity(min(n, 4096))
            for _ in 0..<n {
                guard need(11) else { return nil }
                let t = Int(b[i]); i += 1
                guard t < types.count else { return nil }
                let eino = u64()
                let nameLen = u16()
                guard nameLen > 0, nameLen <= 255, need(nameLen + 2) else { return nil }
                let name = Array(b[i..<(i + nameLen)]); i += nameLen
                guard !name.contains(0), !name.contains(0x2F) else { return nil }
                let targetLen = u16()
                var target: [UInt8]?
                if targetLen != 0xFFFF {
                    guard need(targetLen) else { return nil }
                    target = Array(b[i..<(i + targetLen)]); i += targetLen
                }
                entries.append(LinkIndex.Entry(name: name, type: types[t], ino: eino, target: target))
            }
            dirs[key] = LinkIndex.Record(entries: entries, access: access, defaultACL: defaultACL)
        }
        guard i == body else { return nil }
        return Decoded(repoDev: dev, repoIno: ino, dirs: dirs)
    }
}
