import CHFShare
import Foundation
import Glibc

// `hfshare du`: what a shared cache holds, counted once per inode, per repo, per revision and per
// owner, with the last use of each revision. It is also the model `prune` plans on: one walk, the same
// numbers, so what a dry run promises is what du said.

/// What `fstatat` says about an entry, with the times and sizes du needs (the walker's `FileStat`
/// has no atime or allocated blocks).
public struct UsageStat: Sendable, Equatable {
    public var type: FileType
    public var size: UInt64
    /// Bytes allocated on disk (`st_blocks * 512`): what `du` counts and what frees space.
    public var allocated: UInt64
    public var dev: UInt64
    public var ino: UInt64
    public var nlink: UInt64
    public var uid: UInt32
    public var atime: Double
    public var mtime: Double

    public init(type: FileType, size: UInt64, allocated: UInt64, dev: UInt64 = 0, ino: UInt64 = 0, nlink: UInt64 = 1,
                uid: UInt32 = 0, atime: Double = 0, mtime: Double = 0) {
        self.type = type; self.size = size; self.allocated = allocated; self.dev = dev; self.ino = ino
        self.nlink = nlink; self.uid = uid; self.atime = atime; self.mtime = mtime
    }
}

extension FD {
    /// `fstatat(AT_SYMLINK_NOFOLLOW)` relative to this directory; reading an inode's metadata never
    /// changes its atime.
    public func usageStat(_ name: String) throws -> UsageStat {
        var st = Glibc.stat()
        guard ByteName.withCString(name, { fstatat(raw, $0, &st, HF_AT_SYMLINK_NOFOLLOW) }) == 0 else {
            throw SystemError("stat", FD.join(path, name))
        }
        return UsageStat(st)
    }

    public func usageStat() throws -> UsageStat {
        var st = Glibc.stat()
        guard Glibc.fstat(raw, &st) == 0 else { throw SystemError("stat", path) }
        return UsageStat(st)
    }

    /// Size, free and available bytes of the filesystem (statvfs).
    public func filesystemSpace() throws -> FilesystemSpace {
        var v = statvfs()
        guard fstatvfs(raw, &v) == 0 else { throw SystemError("statvfs", path) }
        let unit = UInt64(v.f_frsize)
        return FilesystemSpace(size: UInt64(v.f_blocks) * unit, free: UInt64(v.f_bfree) * unit, available: UInt64(v.f_bavail) * unit)
    }

    /// A small file's bytes (a ref: a commit hash), opened O_NOFOLLOW and O_NOATIME.
    func readSmall(_ name: String, limit: Int = 4096) throws -> [UInt8] {
        let f = try openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
        return try f.readAll(limit: limit)
    }
}

extension UsageStat {
    init(_ st: stat) {
        self.init(type: FileType(mode: UInt32(st.st_mode)), size: UInt64(max(0, st.st_size)), allocated: UInt64(max(0, st.st_blocks)) * 512,
                  dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), nlink: UInt64(st.st_nlink), uid: st.st_uid,
                  atime: Double(st.st_atim.tv_sec) + Double(st.st_atim.tv_nsec) / 1e9,
                  mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }
}

public struct FilesystemSpace: Codable, Sendable, Equatable {
    public var size: UInt64
    public var free: UInt64
    /// What a non-root user may still write (`f_bavail`); what the watermarks use.
    public var available: UInt64

    public init(size: UInt64, free: UInt64, available: UInt64) { self.size = size; self.free = free; self.available = available }
}

/// Whether the filesystem keeps access times well enough to tell when a model was last read.
public struct LastUseSource: Codable, Sendable, Equatable {
    /// true: atime (relatime/strictatime/lazytime, or no option: the kernel default is relatime).
    public var atime: Bool
    public var mountOptions: String
    public var note: String

    enum CodingKeys: String, CodingKey { case atime, note; case mountOptions = "mount_options" }

    /// Pure: from the mount options in /proc/self/mountinfo.
    public static func from(mountOptions: String) -> LastUseSource {
        let opts = Set(mountOptions.split(separator: ",").map(String.init))
        if opts.contains("noatime") {
            return LastUseSource(atime: false, mountOptions: mountOptions,
                                 note: "mounted noatime: reads are not recorded; last use is the newest snapshot-link or blob mtime (download time), marked 'last use unknown'")
        }
        let how = opts.contains("strictatime") ? "strictatime" : "relatime"
        return LastUseSource(atime: true, mountOptions: mountOptions,
                             note: "\(how): last use from blob atimes (relatime: updated at most once a day)")
    }
}

/// One revision (commit) of a repo.
public struct RevisionUsage: Codable, Sendable, Equatable {
    public var commit: String
    /// Refs (branches, tags, `pr/N`) that point to it; empty: detached.
    public var refs: [String]
    public var files: Int
    /// Bytes of every blob the snapshot uses (each blob once).
    public var size: UInt64
    /// Bytes only this revision uses (freed if it alone were removed).
    public var exclusive: UInt64
    /// Bytes it shares with other revisions of the repo.
    public var shared: UInt64
    /// Epoch seconds of the last read (atime) or, without atimes, of the download.
    public var lastUse: Double
    public var lastUseKnown: Bool

    enum CodingKeys: String, CodingKey {
        case commit, refs, files, size, exclusive, shared
        case lastUse = "last_use", lastUseKnown = "last_use_known"
    }

    public var detached: Bool { refs.isEmpty }
}

public struct RepoUsage: Codable, Sendable, Equatable {
    /// The cache directory name, e.g. `models--org--name`.
    public var name: String
    /// model, dataset or space.
    public var type: String
    /// The repo id as the Hub spells it (`org/name`).
    public var id: String
    /// Sum of its blobs (each inode once): what `hf cache ls` shows as size.
    public var size: UInt64
    /// Everything under the repo dir plus its `.locks`, allocated bytes (what `du` counts).
    public var allocated: UInt64
    public var blobs: Int
    /// Blobs no snapshot uses (left behind by deletions or interrupted downloads).
    public var unreferenced: UInt64
    /// Bytes of blobs that live in the client's shared store (`hub/blobs/`), counted there.
    public var inSharedStore: UInt64
    public var revisions: [RevisionUsage]
    public var lastUse: Double
    public var lastUseKnown: Bool
    /// Bytes `prune --unused-for AGE` would free here (pins honoured; in-use checks are prune's).
    public var prunable: UInt64?

    enum CodingKeys: String, CodingKey {
        case name, type, id, size, allocated, blobs, unreferenced, revisions, prunable
        case inSharedStore = "in_shared_store", lastUse = "last_use", lastUseKnown = "last_use_known"
    }
}

/// A repo as prune needs it: which blob each revision uses, each blob's inode and size.
public struct RepoDetail: Sendable {
    public struct Blob: Sendable, Equatable {
        public var size: UInt64
        public var allocated: UInt64
        public var dev: UInt64
        public var ino: UInt64
        public var nlink: UInt64
        /// A symlink into the client's shared store: removing it frees nothing here.
        public var inStore: Bool
        public init(size: UInt64, allocated: UInt64, dev: UInt64 = 0, ino: UInt64 = 0, nlink: UInt64 = 1, inStore: Bool = false) {
            self.size = size; self.allocated = allocated; self.dev = dev; self.ino = ino; self.nlink = nlink; self.inStore = inStore
        }
        /// Bytes that removing this name gives back.
        public var freeable: Bool { !inStore && nlink <= 1 }
    }

    public struct Revision: Sendable, Equatable {
        public var commit: String
        public var refs: [String]
        public var blobs: Set<String>
        /// Regular files in the snapshot itself (a cache written without symlinks), as (size, allocated, dev, ino).
        public var ownBytes: UInt64
        public var ownAllocated: UInt64
        public var ownInodes: Set<InodeKey>
        public var lastUse: Double
        public init(commit: String, refs: [String] = [], blobs: Set<String>, ownBytes: UInt64 = 0, ownAllocated: UInt64 = 0,
                    ownInodes: Set<InodeKey> = [], lastUse: Double) {
            self.commit = commit; self.refs = refs; self.blobs = blobs; self.ownBytes = ownBytes; self.ownAllocated = ownAllocated
            self.ownInodes = ownInodes; self.lastUse = lastUse
        }
    }

    public var name: String
    public var blobs: [String: Blob]
    public var revisions: [Revision]
    /// Refs whose commit has no snapshot here.
    public var danglingRefs: [String]

    public init(name: String, blobs: [String: Blob], revisions: [Revision], danglingRefs: [String] = []) {
        self.name = name; self.blobs = blobs; self.revisions = revisions; self.danglingRefs = danglingRefs
    }
}

public struct InodeKey: Hashable, Sendable {
    public var dev: UInt64
    public var ino: UInt64
    public init(dev: UInt64, ino: UInt64) { self.dev = dev; self.ino = ino }
}

public struct OwnerUsage: Codable, Sendable, Equatable {
    public var uid: UInt32
    public var user: String
    public var allocated: UInt64
    public var files: Int
}

public struct AreaUsage: Codable, Sendable, Equatable {
    /// `hub`, `datasets`, `xet`, `assets`, `hub/blobs (shared store)`, `other`.
    public var area: String
    public var allocated: UInt64
    public var size: UInt64
    public var files: Int
}

public struct UsageReport: Codable, Sendable {
    public var root: String
    public var hub: String?
    public var filesystem: FilesystemSpace?
    public var lastUseSource: LastUseSource
    /// Every inode under ROOT once (`.hfshare` included), allocated bytes: comparable to `du -s ROOT`.
    public var allocated: UInt64
    /// Apparent size of every inode once.
    public var size: UInt64
    public var entries: Int
    public var areas: [AreaUsage]
    public var repos: [RepoUsage]
    public var owners: [OwnerUsage]
    /// Paths that could not be read (permission), so the numbers are a lower bound.
    public var unreadable: [String]
    public var duration: Double
    /// Bytes of revisions unused for the options' prunable age (nil when not asked), over every repo.
    public var prunable: UInt64? = nil

    enum CodingKeys: String, CodingKey {
        case root, hub, filesystem, allocated, size, entries, areas, repos, owners, unreadable, duration
        case lastUseSource = "last_use"
    }

    /// One JSON object, keys sorted, one repo per line. Written by hand: JSONEncoder took longer than the
    /// walk itself on a 250,000-entry cache and doubled the peak memory.
    public func json() -> Data {
        var text = ""
        writeJSON { text += $0 }
        return Data(text.utf8)
    }

    /// The same JSON in pieces (a repo per piece), so that printing it never holds a second copy of
    /// the report: memory stays the report's own.
    public func writeJSON(_ emit: (String) -> Void) {
        writeJSON(emit) { piece in
            for (i, r) in repos.enumerated() { piece(UsageReport.json(r) + (i == repos.count - 1 ? "" : ",\n")) }
        }
    }

    /// The JSON with the repos written by `writeRepos` (pieces joined by ",\n", as `RepoSpool` keeps them).
    public func writeJSON(_ emit: (String) -> Void, repos writeRepos: ((String) -> Void) -> Void) {
        var o = JSONObject()
        o.number("allocated", allocated)
        o.raw("areas", "[" + areas.map { a in
            var x = JSONObject(); x.number("allocated", a.allocated); x.string("area", a.area); x.number("files", UInt64(a.files)); x.number("size", a.size); return x.text
        }.joined(separator: ",") + "]")
        o.raw("duration", String(format: "%.3f", duration))
        o.number("entries", UInt64(entries))
        if let fs = filesystem {
            var x = JSONObject(); x.number("available", fs.available); x.number("free", fs.free); x.number("size", fs.size)
            o.raw("filesystem", x.text)
        }
        if let hub { o.name("hub", hub) }
        var lu = JSONObject(); lu.bool("atime", lastUseSource.atime); lu.string("mount_options", lastUseSource.mountOptions); lu.string("note", lastUseSource.note)
        o.raw("last_use", lu.text)
        o.raw("owners", "[" + owners.map { w in
            var x = JSONObject(); x.number("allocated", w.allocated); x.number("files", UInt64(w.files)); x.number("uid", UInt64(w.uid)); x.name("user", w.user); return x.text
        }.joined(separator: ",") + "]")
        if let p = prunable { o.number("prunable", p) }
        o.raw("repos", "[\n")
        emit(o.open)
        withoutActuallyEscaping(emit) { writeRepos($0) }
        var tail = JSONObject()
        tail.name("root", root)
        tail.number("size", size)
        tail.raw("unreadable", "[" + unreadable.map { JSON.string(Escape.text($0)) }.joined(separator: ",") + "]")
        emit("\n]," + tail.fields + "}\n")
    }

    /// One repo's JSON object (keys sorted).
    public static func json(_ r: RepoUsage) -> String {
        var x = JSONObject()
        x.number("allocated", r.allocated); x.number("blobs", UInt64(r.blobs)); x.name("id", r.id); x.number("in_shared_store", r.inSharedStore)
        x.raw("last_use", String(format: "%.3f", r.lastUse)); x.bool("last_use_known", r.lastUseKnown); x.name("name", r.name)
        if let p = r.prunable { x.number("prunable", p) }
        x.raw("revisions", "[" + r.revisions.map { v in
            var y = JSONObject()
            y.string("commit", v.commit); y.number("exclusive", v.exclusive); y.number("files", UInt64(v.files))
            y.raw("last_use", String(format: "%.3f", v.lastUse)); y.bool("last_use_known", v.lastUseKnown)
            y.raw("refs", "[" + v.refs.map { JSON.string(Escape.text($0)) }.joined(separator: ",") + "]")
            if v.refs.contains(where: { Escape.jsonName($0).b64 != nil }) {
                y.raw("refs_b64", "[" + v.refs.map { JSON.string(Data(ByteName.bytes($0)).base64EncodedString()) }.joined(separator: ",") + "]")
            }
            y.number("shared", v.shared); y.number("size", v.size)
            return y.text
        }.joined(separator: ",") + "]")
        x.number("size", r.size); x.string("type", r.type); x.number("unreferenced", r.unreferenced)
        return x.text
    }
}

/// What `du --by repo` shows of a repo, and nothing else: a few words per repo, however many revisions.
public struct RepoRow: Sendable {
    public var name: String
    public var size: UInt64
    public var revisions: Int
    public var unreferenced: UInt64
    public var lastUse: Double
    public var lastUseKnown: Bool

    public init(_ r: RepoUsage) {
        name = r.name; size = r.size; revisions = r.revisions.count; unreferenced = r.unreferenced; lastUse = r.lastUse; lastUseKnown = r.lastUseKnown
    }
}

/// Rows collected from `UsageOptions.onRepo` (called under the scanner's lock).
public final class RepoRows: @unchecked Sendable {
    public private(set) var rows: [RepoRow] = []
    public init() {}
    public func add(_ r: RepoUsage) { rows.append(RepoRow(r)) }
}

/// Repos' JSON kept in an unlinked temporary file while du walks (`UsageOptions.onRepo`), then
/// replayed between the report's head and tail: the report's fields come first, sorted, and are
/// known only at the end, so without it every repo row stayed in memory (77 MiB at 58k repos).
public final class RepoSpool: @unchecked Sendable {
    private let file: UnsafeMutablePointer<FILE>
    private var count = 0

    /// Nil if no temporary file can be made (then du keeps the rows in memory).
    public init?() {
        guard let f = tmpfile() else { return nil }
        file = f
    }

    deinit { fclose(file) }

    /// Called under the scanner's lock, one repo at a time, in name order.
    public func add(_ r: RepoUsage) {
        let text = (count == 0 ? "" : ",\n") + UsageReport.json(r)
        count += 1
        _ = text.withCString { fputs($0, file) }
    }

    /// Everything added, in pieces of 64 KiB; false if the temporary file failed.
    public func replay(_ emit: (String) -> Void) -> Bool {
        guard fflush(file) == 0, ferror(file) == 0 else { return false }
        rewind(file)
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var carry: [UInt8] = []
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            // Pieces end at a line break so that no UTF-8 sequence is cut.
            let chunk = carry + buf[0..<n]
            if let nl = chunk.lastIndex(of: 0x0A) {
                emit(String(decoding: chunk[...nl], as: UTF8.self))
                carry = Array(chunk[(nl + 1)...])
            } else { carry = chunk }
        }
        if !carry.isEmpty { emit(String(decoding: carry, as: UTF8.self)) }
        return ferror(file) == 0
    }
}

/// Builds a JSON object in the order fields are added (callers add them sorted).
struct JSONObject {
    private var body = ""
    mutating func raw(_ key: String, _ value: String) {
        if !body.isEmpty { body += "," }
        body += "\"" + key + "\":" + value
    }
    /// Names as du's table shows them (Escape.text: a non-UTF-8 byte as `\xff`, controls escaped), so
    /// that the output stays valid JSON after the terminal filter every line goes through.
    mutating func string(_ key: String, _ value: String) { raw(key, JSON.string(Escape.text(value))) }
    /// A name or path: as `string`, and when that is not its exact bytes, `<key>_b64` with them (as
    /// audit's `path_b64`). The caller's next key must sort after `<key>_b64`.
    mutating func name(_ key: String, _ value: String) {
        let name = Escape.jsonName(value)
        raw(key, JSON.string(name.shown))
        if let b64 = name.b64 { raw(key + "_b64", JSON.string(b64)) }
    }
    mutating func number(_ key: String, _ value: UInt64) { raw(key, String(value)) }
    mutating func bool(_ key: String, _ value: Bool) { raw(key, value ? "true" : "false") }
    var text: String { "{" + body + "}" }
    /// The object so far, not closed (a caller streams the last field's value after it).
    var open: String { "{" + body }
    /// The fields alone, to continue an object opened elsewhere.
    var fields: String { body }
}

/// Sizes as admins type them: `500G`, `1.5T`, `2048M`, `10GiB`, `123456` (bytes). K/M/G/T/P are
/// powers of 1024 (like `du -h`, `df -h`), with or without `B`/`iB`.
public enum ByteSize {
    public static func parse(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let k = 1024.0
        let units: [(String, Double)] = [("KIB", k), ("MIB", k * k), ("GIB", k * k * k), ("TIB", k * k * k * k), ("PIB", k * k * k * k * k),
                                         ("KB", k), ("MB", k * k), ("GB", k * k * k), ("TB", k * k * k * k), ("PB", k * k * k * k * k),
                                         ("K", k), ("M", k * k), ("G", k * k * k), ("T", k * k * k * k), ("P", k * k * k * k * k), ("B", 1)]
        let upper = t.uppercased()
        var number = Substring(upper)
        var unit = 1.0
        for (suffix, mult) in units where upper.hasSuffix(suffix) {
            number = upper.dropLast(suffix.count)
            unit = mult
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, number.first != ".", number.last != ".",
              let n = Double(number), n.isFinite, n >= 0 else { return nil }
        let bytes = n * unit
        return bytes < 9.2e18 ? UInt64(bytes) : nil
    }
}

/// `--keep-free 15%` or `--keep-free 200G`.
public enum FreeTarget: Equatable, Sendable {
    case percent(Double)
    case bytes(UInt64)

    public static func parse(_ text: String) -> FreeTarget? {
        if text.hasSuffix("%") {
            guard let p = Double(text.dropLast()), p.isFinite, p >= 0, p < 100 else { return nil }
            return .percent(p)
        }
        return ByteSize.parse(text).map { .bytes($0) }
    }

    /// The free bytes this asks for on a filesystem of `size` bytes.
    public func bytes(of size: UInt64) -> UInt64 {
        switch self {
        case .percent(let p): return UInt64((Double(size) * p / 100).rounded(.up))
        case .bytes(let b): return b
        }
    }
}

public struct UsageOptions: Sendable {
    public var root: String
    public var threads: Int = Walkers.unmeasured
    /// Keep each repo's blob/revision map (prune); du keeps only aggregates.
    public var keepDetail = false
    /// Compute each repo's prunable bytes for `prune --unused-for` this age, honouring `pins`.
    public var prunableAge: Double?
    public var pins = PinFile()
    public var now: Double = Posix.now()
    /// Called with each repo in name order as soon as it and every repo before it are walked; the
    /// report then holds no repos (its `prunable` still sums them). Memory stays flat at any repo count.
    public var onRepo: (@Sendable (RepoUsage) -> Void)?

    public init(root: String) { self.root = root }
}

/// The walk. Repos are the unit of work (threads take one repo or one top-level area at a time); inside
/// each, getdents64 and fstatat relative to directory descriptors opened O_NOFOLLOW|O_NOATIME, never a
/// path resolved again, never a symlink followed. Only inodes with more than one link are remembered
/// across the walk, plus per-repo aggregates.
public final class UsageScanner: @unchecked Sendable {
    let options: UsageOptions
    private let lock = NSLock()
    private var linked: Set<InodeKey> = []
    private var owners: [UInt32: (UInt64, Int)] = [:]
    private var areas: [String: AreaUsage] = [:]
    private var unreadable: [String] = []
    private var repos: [RepoUsage] = []
    /// Repos walked but not yet handed to `onRepo` (one before them is still being walked).
    private var finished: [Int: RepoUsage?] = [:]
    private var nextToHand = 0
    private var prunableSum: UInt64?
    public private(set) var details: [String: RepoDetail] = [:]
    private var totalAllocated: UInt64 = 0
    private var totalSize: UInt64 = 0
    private var entries = 0
    /// Shared store (`hub/blobs/XX/<hash>`): relative name -> size; and how many repo blobs point at each.
    private var store: [String: (size: UInt64, allocated: UInt64)] = [:]
    private var storeRefs: [String: Int] = [:]
    private var lastUse = LastUseSource.from(mountOptions: "")
    private var rootDev: UInt64 = 0
    private var rootFills = false
    /// Root's record of snapshot directories (LinkIndex), and the hub's path under ROOT ("" or "hub/").
    private var linkStore: LinkIndexStore?
    private var hubRel = ""

    public init(_ options: UsageOptions) { self.options = options }

    public static func run(_ options: UsageOptions) throws -> (UsageReport, [String: RepoDetail]) {
        let s = UsageScanner(options)
        let r = try s.run()
        return (r, s.details)
    }

    enum Work {
        case repo(hub: FD, name: String, locks: FD?, seq: Int)
        case tree(parent: FD, name: String, area: String)
    }

    public func run() throws -> UsageReport {
        let start = Posix.now()
        let root: FD
        do { root = try Paths.openVerifiedDirectory(options.root) } catch let e as SystemError {
            throw UsageError("\(Escape.text(options.root)): cannot open: \(e.reason)")
        }
        lastUse = LastUseSource.from(mountOptions: FilesystemProbe.mountInfo(of: root).mountOptions)
        let space = try? root.filesystemSpace()

        // ROOT is an HF_HOME-style root (hub/ inside) or itself a hub cache (models--* inside).
        let rootStat = try root.usageStat()
        rootDev = rootStat.dev
        rootFills = FD.fillingReaddirMagics.contains(root.filesystemMagic)
        linkStore = LinkIndexStore.open(root: options.root, rootFD: root)
        count(rootStat, area: "other")
        let top = try listing(root, dev: rootDev)
        var work: [Work] = []
        var hubPath: String?
        var hubFD: FD?
        if top.contains(where: { $0.type == .directory && $0.name == "hub" }) {
            hubFD = try? root.openDirectory("hub", noatime: true)
            hubRel = "hub/"
            if let h = hubFD { hubPath = h.path; count(try h.usageStat(), area: "hub") } else { noteUnreadable(FD.join(root.path, "hub")) }
        } else if top.contains(where: { isRepoDir($0.name) }) {
            hubFD = root
            hubPath = root.path
        }
        if let hub = hubFD {
            // In name order: repos are numbered so that `onRepo` gets them in that order.
            let hubEntries = (hub === root ? top : ((try? listing(hub, dev: (try? hub.usageStat().dev) ?? 0)) ?? [])).sorted { $0.name < $1.name }
            let locks = hubEntries.contains { $0.name == ".locks" } ? try? hub.openDirectory(".locks", noatime: true) : nil
            if let locks {
                count(try locks.usageStat(), area: "hub")
                // Lock dirs of repos that no longer exist are walked as part of the hub.
                let hubNames = Set(hubEntries.map(\.name))
                for e in (try? listing(locks, dev: (try? locks.usageStat().dev) ?? 0)) ?? [] where !hubNames.contains(e.name) {
                    work.append(.tree(parent: locks, name: e.name, area: "hub"))
                }
            }
            var seq = 0
            for e in hubEntries {
                if isRepoDir(e.name) && e.type == .directory {
                    work.append(.repo(hub: hub, name: e.name, locks: locks, seq: seq))
                    seq += 1
                } else if e.name == ".locks" {
                    continue
                } else if hub === root, ["datasets", "xet", "assets", Paths.stateDirectory].contains(e.name) {
                    continue // handled below as areas
                } else if e.name == "blobs" && e.type == .directory {
                    work.append(.tree(parent: hub, name: e.name, area: "hub/blobs"))
                } else {
                    work.append(.tree(parent: hub, name: e.name, area: "hub"))
                }
            }
        }
        for e in top where hubFD !== root || !isRepoDir(e.name) {
            if e.name == "hub" && hubFD != nil && hubFD !== root { continue }
            if hubFD === root && (e.name == ".locks" || e.name == "blobs") { continue }
            if hubFD === root && !["datasets", "xet", "assets", Paths.stateDirectory].contains(e.name) { continue }
            let area = ["hub", "datasets", "xet", "assets"].contains(e.name) ? e.name : "other"
            work.append(.tree(parent: root, name: e.name, area: area))
        }
        // The shared store first: repo blobs that link into it are then attributed by name.
        let storeWork = work.filter { if case .tree(_, "blobs", "hub/blobs") = $0 { return true }; return false }
        for w in storeWork { process(w) }
        work.removeAll { if case .tree(_, "blobs", "hub/blobs") = $0 { return true }; return false }
        work.reverse() // taken from the end: repos in name order
        runParallel(&work)

        lock.lock()
        defer { lock.unlock() }
        let ownerList = owners.map { OwnerUsage(uid: $0.key, user: Names.shared.user($0.key), allocated: $0.value.0, files: $0.value.1) }
            .sorted { $0.allocated > $1.allocated || ($0.allocated == $1.allocated && $0.uid < $1.uid) }
        return UsageReport(root: options.root, hub: hubPath, filesystem: space, lastUseSource: lastUse, allocated: totalAllocated,
                           size: totalSize, entries: entries, areas: areas.values.sorted { $0.area < $1.area },
                           repos: repos.sorted { $0.name < $1.name }, owners: ownerList, unreadable: unreadable.sorted(),
                           duration: Posix.now() - start, prunable: prunableSum)
    }

    static let repoPrefixes = ["models--", "datasets--", "spaces--"]

    func isRepoDir(_ name: String) -> Bool { UsageScanner.repoPrefixes.contains { name.hasPrefix($0) } }

    private var pending: [Work] = []

    private func nextWork() -> Work? {
        lock.lock(); defer { lock.unlock() }
        return pending.popLast()
    }

    /// Hands `work` over (emptied) to the walkers: one copy of it only, however many repos.
    private func runParallel(_ work: inout [Work]) {
        let count = work.count
        pending = work
        work = []
        let group = DispatchGroup()
        for _ in 0..<max(1, min(options.threads, count)) {
            group.enter()
            let t = Thread { [self] in
                while let w = self.nextWork() { self.process(w) }
                group.leave()
            }
            t.stackSize = 1 << 20
            t.start()
        }
        group.wait()
    }

    private func process(_ w: Work) {
        switch w {
        case .repo(let hub, let name, let locks, let seq):
            let usage = scanRepo(hub: hub, name: name, locks: locks)
            lock.lock()
            defer { lock.unlock() }
            if let p = usage?.prunable { prunableSum = (prunableSum ?? 0) + p }
            guard let hand = options.onRepo else { if let usage { repos.append(usage) }; return }
            finished[seq] = usage
            while let next = finished.removeValue(forKey: nextToHand) { if let next { hand(next) }; nextToHand += 1 }
        case .tree(let parent, let name, let area):
            guard let st = try? parent.usageStat(name) else { return }
            var acc = Accumulator()
            walk(parent, name, st, area: area, acc: &acc, storePrefix: area == "hub/blobs" ? "" : nil, storeTop: area == "hub/blobs")
            merge(acc, area: area)
        }
    }

    // MARK: counting

    /// Per-thread sums, merged once per unit of work.
    struct Accumulator {
        var allocated: UInt64 = 0
        var size: UInt64 = 0
        var files = 0
        var entries = 0
        var owners: [UInt32: (UInt64, Int)] = [:]
        var unreadable: [String] = []
        var store: [String: (size: UInt64, allocated: UInt64)] = [:]
    }

    /// Counts an inode once: nlink > 1 inodes are remembered (shared lock), the rest are unique.
    private func firstSight(_ st: UsageStat) -> Bool {
        guard st.nlink > 1 && st.type != .directory else { return true }
        lock.lock(); defer { lock.unlock() }
        return linked.insert(InodeKey(dev: st.dev, ino: st.ino)).inserted
    }

    private func add(_ st: UsageStat, to acc: inout Accumulator) {
        acc.entries += 1
        guard firstSight(st) else { return }
        acc.allocated += st.allocated
        acc.size += st.type == .regular ? st.size : 0
        if st.type == .regular { acc.files += 1 }
        acc.owners[st.uid, default: (0, 0)].0 += st.allocated
        acc.owners[st.uid, default: (0, 0)].1 += 1
    }

    private func count(_ st: UsageStat, area: String) {
        var acc = Accumulator()
        add(st, to: &acc)
        merge(acc, area: area)
    }

    private func merge(_ acc: Accumulator, area: String) {
        lock.lock(); defer { lock.unlock() }
        totalAllocated += acc.allocated
        totalSize += acc.size
        entries += acc.entries
        var a = areas[area] ?? AreaUsage(area: area, allocated: 0, size: 0, files: 0)
        a.allocated += acc.allocated; a.size += acc.size; a.files += acc.files
        areas[area] = a
        for (uid, v) in acc.owners {
            owners[uid, default: (0, 0)].0 += v.0
            owners[uid, default: (0, 0)].1 += v.1
        }
        unreadable += acc.unreadable
        for (k, v) in acc.store { store[k] = v }
    }

    private func noteUnreadable(_ path: String) {
        lock.lock(); unreadable.append(path); lock.unlock()
    }

    /// On ROOT's own filesystem, when it is one whose readdir fills the buffer, a short read ends the
    /// listing (one getdents64 per directory instead of two); anything mounted below is read to the end.
    private func listing(_ dir: FD, dev: UInt64) throws -> [(name: String, type: FileType)] {
        try dir.entries(shortReadIsEOF: rootFills && dev == rootDev)
    }

    /// Every inode below `parent/name` once. `storePrefix` (inside the shared store `hub/blobs`): the
    /// store-relative directory of `name`'s children is recorded for each regular file (`ab/<hash>`).
    private func walk(_ parent: FD, _ name: String, _ st: UsageStat, area: String, acc: inout Accumulator,
                      storePrefix: String? = nil, storeTop: Bool = false) {
        add(st, to: &acc)
        if let storePrefix, !storeTop, st.type == .regular, !name.hasSuffix(".refs"), !name.hasSuffix(".lock"), !name.hasPrefix(".") {
            acc.store[storePrefix + name] = (st.size, st.allocated)
        }
        guard st.type == .directory else { return }
        let dir: FD
        do { dir = try parent.openDirectory(name, noatime: true) } catch {
            // Root's own subdirectories of the state dir (the link index, verify's quarantine) are
            // root-only by design: for anyone else their size is not a gap in what du could read.
            if !Posix.isRoot(), parent.path == FD.join(options.root, Paths.stateDirectory) { return }
            acc.unreadable.append(FD.join(parent.path, name))
            return
        }
        let childPrefix = storePrefix.map { storeTop ? "" : $0 + name + "/" }
        // A wide directory (ROOT/.hfshare/links holds a record per repo) is read a batch at a time.
        var batch: [(name: String, type: FileType)] = []
        var more = true
        while more {
            batch.removeAll(keepingCapacity: true)
            do { more = try dir.readEntries(into: &batch, atLeast: 1024, shortReadIsEOF: rootFills && st.dev == rootDev) } catch {
                acc.unreadable.append(dir.path); return
            }
            for e in batch {
                guard let cst = try? dir.usageStat(e.name) else { continue }
                walk(dir, e.name, cst, area: area, acc: &acc, storePrefix: childPrefix)
            }
        }
    }

    // MARK: one repo

    /// The repo's row (nil when it cannot be opened at all).
    private func scanRepo(hub: FD, name: String, locks: FD?) -> RepoUsage? {
        var acc = Accumulator()
        guard let st = try? hub.usageStat(name) else { return nil }
        add(st, to: &acc)
        let repoFD: FD
        do { repoFD = try hub.openDirectory(name, noatime: true) } catch {
            acc.unreadable.append(FD.join(hub.path, name))
            merge(acc, area: "hub")
            return nil
        }
        var blobs: [String: RepoDetail.Blob] = [:]
        var blobTimes: [String: Double] = [:]
        var revisions: [RepoDetail.Revision] = []
        var refs: [String: [String]] = [:]
        let index = linkStore.flatMap { store in (try? repoFD.stat()).map { store.index(repoRel: hubRel + name, repo: $0) } }
        defer { index?.save() }
        let top = (try? listing(repoFD, dev: st.dev)) ?? []
        if top.isEmpty, (try? repoFD.entries()) == nil { acc.unreadable.append(repoFD.path) }
        for e in top {
            guard let cst = try? repoFD.usageStat(e.name) else { continue }
            switch e.name {
            case "blobs" where cst.type == .directory:
                add(cst, to: &acc)
                guard let bdir = try? repoFD.openDirectory("blobs", noatime: true), let list = try? listing(bdir, dev: cst.dev) else {
                    acc.unreadable.append(FD.join(repoFD.path, "blobs")); continue
                }
                // audit's record of a `blobs/` of links is kept (not used here: du reads every link).
                if let index, let bst = try? bdir.stat() { index.keep(bst) }
                for b in list {
                    guard let bst = try? bdir.usageStat(b.name) else { continue }
                    let first = firstSight(bst)
                    acc.entries += 1
                    if first {
                        acc.allocated += bst.allocated
                        acc.owners[bst.uid, default: (0, 0)].0 += bst.allocated
                        acc.owners[bst.uid, default: (0, 0)].1 += 1
                        if bst.type == .regular { acc.size += bst.size; acc.files += 1 }
                    }
                    if b.name.utf8.first == UInt8(ascii: ".") || UsageScanner.endsWith(b.name, ".incomplete") { continue }
                    if bst.type == .regular {
                        blobs[b.name] = RepoDetail.Blob(size: bst.size, allocated: first ? bst.allocated : 0, dev: bst.dev, ino: bst.ino, nlink: bst.nlink)
                        blobTimes[b.name] = max(lastUse.atime ? bst.atime : 0, bst.mtime)
                    } else if bst.type == .symlink, let target = try? bdir.readlink(b.name), let key = UsageScanner.storeKey(target) {
                        lock.lock()
                        let s = store[key]
                        storeRefs[key, default: 0] += 1
                        lock.unlock()
                        blobs[b.name] = RepoDetail.Blob(size: s?.size ?? 0, allocated: s?.allocated ?? 0, inStore: true)
                        blobTimes[b.name] = bst.mtime
                    }
                }
            case "snapshots" where cst.type == .directory:
                add(cst, to: &acc)
                guard let sdir = try? repoFD.openDirectory("snapshots", noatime: true), let list = try? listing(sdir, dev: cst.dev) else {
                    acc.unreadable.append(FD.join(repoFD.path, "snapshots")); continue
                }
                for s in list {
                    guard let sst = try? sdir.usageStat(s.name) else { continue }
                    var rev = RepoDetail.Revision(commit: s.name, blobs: [], lastUse: sst.mtime)
                    if sst.type == .directory {
                        snapshotWalk(sdir, s.name, sst, rev: &rev, acc: &acc, index: index)
                    } else {
                        add(sst, to: &acc)
                    }
                    revisions.append(rev)
                }
            case "refs" where cst.type == .directory:
                add(cst, to: &acc)
                refWalk(repoFD, "refs", dev: cst.dev, prefix: "", acc: &acc, refs: &refs)
            default:
                walk(repoFD, e.name, cst, area: "hub", acc: &acc)
            }
        }
        // The repo's lock dir belongs to it.
        if let locks, let lst = try? locks.usageStat(name) { walk(locks, name, lst, area: "hub", acc: &acc) }

        for i in revisions.indices {
            revisions[i].refs = (refs[revisions[i].commit] ?? []).sorted()
            for b in revisions[i].blobs { if let t = blobTimes[b] { revisions[i].lastUse = max(revisions[i].lastUse, t) } }
        }
        let detail = RepoDetail(name: name, blobs: blobs, revisions: revisions.sorted { $0.commit < $1.commit },
                                danglingRefs: refs.filter { r in !revisions.contains { $0.commit == r.key } }.flatMap { $0.value }.sorted())
        var usage = UsageScanner.summarize(detail, allocated: acc.allocated, lastUseKnown: lastUse.atime)
        if let age = options.prunableAge { usage.prunable = UsageScanner.prunable(detail, pins: options.pins, unusedFor: age, now: options.now) }
        merge(acc, area: "hub")
        if options.keepDetail { lock.lock(); details[name] = detail; lock.unlock() }
        return usage
    }

    /// `../../blobs/<etag>` (the client's per-repo link) or, into the shared store, `../../blobs/ab/<hash>`.
    static func storeKey(_ target: String) -> String? {
        guard let (dir, hash) = linkTail(target, parts: 2) else { return nil }
        return dir + "/" + hash
    }

    /// The blob a snapshot link names: the last component of a `../../blobs/<name>` target.
    static func blobName(_ target: String) -> String? { linkTail(target, parts: 1).map { $0.1 } }

    /// Pure, on bytes (runs for every snapshot link): `(../)+blobs/` followed by exactly `parts`
    /// non-empty components (no `..`); returns the last two (or the last one twice).
    static func linkTail(_ target: String, parts: Int) -> (String, String)? {
        let b = Array(target.utf8)
        var i = 0
        var ups = 0
        while i + 3 <= b.count, b[i] == 0x2E, b[i + 1] == 0x2E, b[i + 2] == 0x2F { i += 3; ups += 1 }
        let blobs: [UInt8] = Array("blobs/".utf8)
        guard ups >= 1, i + blobs.count < b.count, Array(b[i..<(i + blobs.count)]) == blobs else { return nil }
        let rest = b[(i + blobs.count)...].split(separator: 0x2F, omittingEmptySubsequences: false)
        guard rest.count == parts, rest.allSatisfy({ !$0.isEmpty && !($0.count == 2 && $0.first == 0x2E && $0.last == 0x2E) && !($0.count == 1 && $0.first == 0x2E) }) else { return nil }
        let last = ByteName.decode(Array(rest[rest.count - 1]))
        return (parts == 2 ? ByteName.decode(Array(rest[0])) : last, last)
    }

    /// A ref file's commit: its bytes without surrounding whitespace (no Foundation: once per ref).
    static func refText(_ bytes: [UInt8]) -> String {
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return ByteName.decode(Array(bytes[first...last]))
    }

    static func endsWith(_ s: String, _ suffix: String) -> Bool {
        let a = s.utf8, b = suffix.utf8
        return a.count >= b.count && a.suffix(b.count).elementsEqual(b)
    }

    /// One entry of a snapshot. A directory that root recorded unchanged (LinkIndex) is not listed and
    /// its links are not read (`known`: the recorded target); one that is not is recorded as it is read.
    /// Returns a symlink's target.
    @discardableResult
    private func snapshotWalk(_ parent: FD, _ name: String, _ st: UsageStat, rev: inout RepoDetail.Revision, acc: inout Accumulator,
                              index: LinkIndex?, known: [UInt8]? = nil) -> [UInt8]? {
        add(st, to: &acc)
        rev.lastUse = max(rev.lastUse, st.mtime)
        switch st.type {
        case .directory:
            guard let dir = try? parent.openDirectory(name, noatime: true) else {
                acc.unreadable.append(FD.join(parent.path, name)); return nil
            }
            let before = index == nil ? nil : try? dir.stat()
            let recorded = before.flatMap { index?.entries(of: $0) }
            var recording: [LinkIndex.Entry]? = before != nil && recorded == nil ? [] : nil
            let names: [String]
            if let recorded {
                names = recorded.map { ByteName.decode($0.name) }
            } else {
                guard let list = try? listing(dir, dev: st.dev) else { acc.unreadable.append(FD.join(parent.path, name)); return nil }
                names = list.map(\.name)
            }
            for (i, n) in names.enumerated() {
                guard let cst = try? dir.usageStat(n) else { recording = nil; continue }
                let target = snapshotWalk(dir, n, cst, rev: &rev, acc: &acc, index: index,
                                          known: recorded.flatMap { $0[i].ino == cst.ino ? $0[i].target : nil })
                if cst.type == .symlink && target == nil { recording = nil }
                recording?.append(LinkIndex.Entry(name: ByteName.bytes(n), type: cst.type, ino: cst.ino, target: target))
            }
            if let recording, let before, let index, let after = try? dir.stat() { index.record(before: before, after: after, entries: recording) }
        case .symlink:
            let target = known ?? (try? parent.readlink(name)).map(ByteName.bytes)
            if let target, let blob = UsageScanner.blobName(ByteName.decode(target)) { rev.blobs.insert(blob) }
            return target
        case .regular:
            // A snapshot written without symlinks: its files are its own bytes.
            let key = InodeKey(dev: st.dev, ino: st.ino)
            if rev.ownInodes.insert(key).inserted {
                rev.ownBytes += st.size
                rev.ownAllocated += st.nlink <= 1 ? st.allocated : 0
            }
            rev.lastUse = max(rev.lastUse, lastUse.atime ? st.atime : 0)
        default: break
        }
        return nil
    }

    private func refWalk(_ parent: FD, _ name: String, dev: UInt64, prefix: String, acc: inout Accumulator, refs: inout [String: [String]]) {
        guard let dir = try? parent.openDirectory(name, noatime: true), let list = try? listing(dir, dev: dev) else {
            acc.unreadable.append(FD.join(parent.path, name)); return
        }
        for e in list {
            guard let st = try? dir.usageStat(e.name) else { continue }
            add(st, to: &acc)
            if st.type == .directory {
                refWalk(dir, e.name, dev: st.dev, prefix: prefix + e.name + "/", acc: &acc, refs: &refs)
            } else if st.type == .regular, let bytes = try? dir.readSmall(e.name, limit: 256) {
                let commit = UsageScanner.refText(bytes)
                if !commit.isEmpty { refs[commit, default: []].append(prefix + e.name) }
            }
        }
    }

    /// Pure: the per-revision numbers of a repo from its blob map.
    public static func summarize(_ d: RepoDetail, allocated: UInt64, lastUseKnown: Bool) -> RepoUsage {
        var users: [String: Int] = [:]
        for r in d.revisions { for b in r.blobs where d.blobs[b] != nil { users[b, default: 0] += 1 } }
        var revs: [RevisionUsage] = []
        for r in d.revisions {
            var size = r.ownBytes, exclusive = r.ownBytes, shared: UInt64 = 0
            for b in r.blobs {
                guard let blob = d.blobs[b] else { continue }
                size += blob.size
                if users[b] == 1 && blob.freeable { exclusive += blob.size } else { shared += blob.size }
            }
            revs.append(RevisionUsage(commit: r.commit, refs: r.refs, files: r.blobs.count + r.ownInodes.count, size: size,
                                      exclusive: exclusive, shared: shared, lastUse: r.lastUse, lastUseKnown: lastUseKnown))
        }
        let size = d.blobs.values.reduce(UInt64(0)) { $0 + ($1.inStore ? 0 : $1.size) } + d.revisions.reduce(0) { $0 + $1.ownBytes }
        let unreferenced = d.blobs.filter { users[$0.key] == nil && !$0.value.inStore }.values.reduce(UInt64(0)) { $0 + $1.size }
        let inStore = d.blobs.values.filter(\.inStore).reduce(UInt64(0)) { $0 + $1.size }
        let (type, id) = RepoName.parse(dirName: d.name)
        return RepoUsage(name: d.name, type: type, id: id, size: size, allocated: allocated, blobs: d.blobs.count,
                         unreferenced: unreferenced, inSharedStore: inStore, revisions: revs,
                         lastUse: revs.map(\.lastUse).max() ?? 0, lastUseKnown: lastUseKnown)
    }

    /// Shared store entries no repo blob links to (the client's own GC frees them).
    public var unreferencedStoreBytes: UInt64 {
        lock.lock(); defer { lock.unlock() }
        return store.filter { storeRefs[$0.key] == nil }.values.reduce(0) { $0 + $1.size }
    }
}

/// Repo ids and cache directory names: `org/name` (a model), `datasets/org/name`, `spaces/org/name`,
/// or the directory name itself (`models--org--name`).
public enum RepoName {
    public static func parse(dirName: String) -> (type: String, id: String) {
        for (prefix, type) in [("models--", "model"), ("datasets--", "dataset"), ("spaces--", "space")] where dirName.hasPrefix(prefix) {
            // `--` -> `/` on the bytes (NSString's replacingOccurrences showed up in profiles).
            let b = Array(dirName.utf8.dropFirst(prefix.utf8.count))
            var out: [UInt8] = []
            var i = 0
            while i < b.count {
                if i + 1 < b.count && b[i] == 0x2D && b[i + 1] == 0x2D { out.append(0x2F); i += 2 } else { out.append(b[i]); i += 1 }
            }
            return (type, String(decoding: out, as: UTF8.self))
        }
        return ("", dirName)
    }

    /// The cache directory name for what an admin typed.
    public static func dirName(_ text: String) -> String? {
        if UsageScanner.repoPrefixes.contains(where: { text.hasPrefix($0) }) { return text }
        var t = text
        var type = "models"
        for p in ["datasets/", "spaces/", "models/"] where t.hasPrefix(p) {
            type = String(p.dropLast())
            t = String(t.dropFirst(p.count))
        }
        guard !t.isEmpty, !t.contains("--"), !t.hasPrefix("/"), !t.hasSuffix("/") else { return nil }
        return type + "--" + t.replacingOccurrences(of: "/", with: "--")
    }
}

extension UsageScanner {
    /// Bytes `prune --unused-for AGE` would free in one repo, judged from du's model and the pins alone
    /// (locks and open files are prune's to check): an upper bound. Repos are independent for this
    /// criterion, so du computes it repo by repo and keeps no blob map.
    public static func prunable(_ d: RepoDetail, pins: PinFile, unusedFor: Double, now: Double) -> UInt64 {
        var inUse: [RevisionID: String] = [:]
        for r in d.revisions where pins.keeps(repo: d.name, commit: r.commit, refs: r.refs) != nil { inUse[RevisionID(d.name, r.commit)] = "pinned" }
        var c = PruneCriteria()
        c.unusedFor = unusedFor
        c.minAge = 0
        return PrunePlanner.plan([d], criteria: c, inUse: inUse, totalSize: 0, space: nil, now: now).bytes
    }
}

extension UsageReport {
    /// node_exporter textfile format: sizes, free space, prunable bytes.
    public func prometheus(unusedFor: String) -> String {
        let r = Report.escape(root)
        var out = "# HELP hfshare_cache_allocated_bytes Bytes allocated under the cache root, each inode once (like du -s).\n# TYPE hfshare_cache_allocated_bytes gauge\n"
        out += "hfshare_cache_allocated_bytes{root=\"\(r)\"} \(allocated)\n"
        out += "# HELP hfshare_cache_area_bytes Bytes allocated per area (hub, datasets, xet, assets, hub/blobs shared store, other).\n# TYPE hfshare_cache_area_bytes gauge\n"
        for a in areas { out += "hfshare_cache_area_bytes{root=\"\(r)\",area=\"\(Report.escape(a.area))\"} \(a.allocated)\n" }
        out += "# HELP hfshare_repo_bytes Blob bytes of a cached repo (what hf cache ls shows).\n# TYPE hfshare_repo_bytes gauge\n"
        for repo in repos { out += "hfshare_repo_bytes{root=\"\(r)\",repo=\"\(Report.escape(Escape.text(repo.name)))\"} \(repo.size)\n" }
        out += "# HELP hfshare_repo_revisions Revisions (snapshots) of a cached repo.\n# TYPE hfshare_repo_revisions gauge\n"
        for repo in repos { out += "hfshare_repo_revisions{root=\"\(r)\",repo=\"\(Report.escape(Escape.text(repo.name)))\"} \(repo.revisions.count)\n" }
        if let fs = filesystem {
            out += "# HELP hfshare_filesystem_size_bytes Size of the filesystem holding the cache (statvfs).\n# TYPE hfshare_filesystem_size_bytes gauge\n"
            out += "hfshare_filesystem_size_bytes{root=\"\(r)\"} \(fs.size)\n"
            out += "# HELP hfshare_filesystem_available_bytes Space available to non-root users on that filesystem (statvfs f_bavail).\n# TYPE hfshare_filesystem_available_bytes gauge\n"
            out += "hfshare_filesystem_available_bytes{root=\"\(r)\"} \(fs.available)\n"
        }
        if let prunable {
            out += "# HELP hfshare_prunable_bytes Bytes 'hfshare prune --unused-for AGE' would free (pins honoured; in-use checks are prune's).\n# TYPE hfshare_prunable_bytes gauge\n"
            out += "hfshare_prunable_bytes{root=\"\(r)\",unused_for=\"\(Report.escape(unusedFor))\"} \(prunable)\n"
        }
        out += "# HELP hfshare_last_use_known 1 if the filesystem records access times (last use is real), 0 under noatime.\n# TYPE hfshare_last_use_known gauge\n"
        out += "hfshare_last_use_known{root=\"\(r)\"} \(lastUseSource.atime ? 1 : 0)\n"
        out += "# HELP hfshare_du_unreadable_paths Paths du could not read (its numbers are then a lower bound).\n# TYPE hfshare_du_unreadable_paths gauge\n"
        out += "hfshare_du_unreadable_paths{root=\"\(r)\"} \(unreadable.count)\n"
        out += "# HELP hfshare_du_duration_seconds Wall time of the last du.\n# TYPE hfshare_du_duration_seconds gauge\n"
        out += "hfshare_du_duration_seconds{root=\"\(r)\"} \(String(format: "%.3f", duration))\n"
        return out
    }
}
