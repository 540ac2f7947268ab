import CHFShare
import Foundation
import Glibc

// What a filesystem really does, found out by trying in a scratch directory (never by its name): the
// one place hfshare decides whether ACLs, setgid inheritance and locks can be relied on. `init` runs it
// (and records the answers), `hfshare probe` prints it, audit/repair follow what init recorded.

/// One thing the probe tried.
public enum ProbeCheckID: String, Codable, CaseIterable, Sendable {
    case aclAccess = "acl-access"
    case aclDefaultFile = "acl-default-file"
    case aclDefaultDir = "acl-default-dir"
    case setgidGroupFile = "setgid-group-file"
    case setgidGroupDir = "setgid-group-dir"
    case setgidBitDir = "setgid-bit-dir"
    case flockExclusive = "flock-exclusive"
    case flockShared = "flock-shared"
    case flockNonblocking = "flock-nonblocking"
    case fcntlLock = "fcntl-lock"
    case symlink
    case hardlink
    case tmpfile = "o-tmpfile"
    case renameOver = "rename-over"
    case rootChown = "root-chown"
    case peerVisible = "peer-visible"
    case peerFlock = "peer-flock"
    case peerFcntl = "peer-fcntl"
    case peerGroup = "peer-group"
    case peerACL = "peer-acl"

    /// What was tried, in a few words.
    public var title: String {
        switch self {
        case .aclAccess: return "POSIX access ACL (g:GID:rwx) is kept"
        case .aclDefaultFile: return "default ACL is inherited by new files"
        case .aclDefaultDir: return "default ACL is inherited by new dirs"
        case .setgidGroupFile: return "new file gets the setgid dir's group"
        case .setgidGroupDir: return "new dir gets the setgid dir's group"
        case .setgidBitDir: return "new dir inherits the setgid bit"
        case .flockExclusive: return "flock(LOCK_EX|LOCK_NB) works"
        case .flockShared: return "flock(LOCK_SH|LOCK_NB) works"
        case .flockNonblocking: return "a held flock blocks a second open (EWOULDBLOCK)"
        case .fcntlLock: return "fcntl record locks (F_SETLK, F_OFD_SETLK) work"
        case .symlink: return "symlinks"
        case .hardlink: return "hard links"
        case .tmpfile: return "open(O_TMPFILE)"
        case .renameOver: return "rename over an existing file"
        case .rootChown: return "root can chown (no root_squash)"
        case .peerVisible: return "a file written here is seen through the peer"
        case .peerFlock: return "a flock held here blocks the peer"
        case .peerFcntl: return "an fcntl lock held here blocks the peer"
        case .peerGroup: return "owner and group are the same through both mounts"
        case .peerACL: return "ACLs are the same through both mounts"
        }
    }

    /// What a "no" means for a shared Hugging Face cache.
    public var meaning: String {
        switch self {
        case .aclAccess, .aclDefaultFile, .aclDefaultDir:
            return "files get their group bits from each user's umask; a user with umask 022 or 077 makes blobs, refs and .lock files the group cannot write (PermissionError for the next user)"
        case .setgidGroupFile, .setgidGroupDir, .setgidBitDir:
            return "new repo dirs, blobs and .lock files get the creator's primary group, so other members cannot write into them (PermissionError on download)"
        case .flockExclusive, .flockShared, .flockNonblocking:
            return "huggingface_hub locks every download with filelock (flock): ENOSYS makes it fall back to SoftFileLock, whose .lock files block every later download of that file forever after a crash; EIO/ENOLCK or any other error make hf_hub_download fail with that OSError; a lock that does not block lets two processes write the same blob"
        case .fcntlLock:
            return "tools that use fcntl locks on the cache (sqlite, some dataset backends) fail or do not exclude each other"
        case .symlink:
            return "the hub cache layout needs symlinks (snapshots/ -> blobs/); huggingface_hub falls back to copies and duplicates every file"
        case .hardlink:
            return "nothing in huggingface_hub needs hard links; only hfshare's outside-link check is moot"
        case .tmpfile:
            return "none for huggingface_hub (it writes *.incomplete and renames); hfshare repair uses a temp name + rename too"
        case .renameOver:
            return "refs and finished downloads are moved into place with rename; downloads fail"
        case .rootChown:
            return "root is squashed: hfshare init/repair cannot change groups here"
        case .peerVisible:
            return "the two mounts do not show the same files: the peer is not the same filesystem, or its caches are stale"
        case .peerFlock, .peerFcntl:
            return "locks are local to one node: two nodes can download the same blob at the same time into the same *.incomplete file"
        case .peerGroup:
            return "uids/gids differ between the nodes (id mapping, squashing or different NSS): a member on the other node is not a member there"
        case .peerACL:
            return "the other node does not see the ACLs: members there get the mode bits only"
        }
    }

    /// What hfshare does about a "no", or what it recommends.
    public var action: String {
        switch self {
        case .aclAccess, .aclDefaultFile, .aclDefaultDir:
            return "init falls back to setgid + group mode bits, writes umask 002 into the profile, and audit does not ask for ACLs"
        case .setgidGroupFile, .setgidGroupDir, .setgidBitDir:
            return "run 'hfshare repair' on a timer (hfshare init --enable-timer), and give members the shared group as primary group (or newgrp/sg)"
        case .flockExclusive, .flockShared, .flockNonblocking:
            return "mount with working locks (Lustre -o flock, NFS without local_lock/nolock, a JuiceFS metadata engine with lock support); until then download from one job and run the others with HF_HUB_OFFLINE=1 (reads take no lock); hfshare cannot tell held from stale locks there and leaves *.lock files alone"
        case .fcntlLock:
            return "keep such tools' databases off this filesystem"
        case .symlink:
            return "use another filesystem for the cache"
        case .hardlink, .tmpfile:
            return "nothing needed"
        case .renameOver:
            return "use another filesystem for the cache"
        case .rootChown:
            return "run hfshare init/repair on the file server or a node without root_squash, or fix groups as the owners"
        case .peerVisible:
            return "pass another mount of the same filesystem root as --peer; lower attribute caching (e.g. actimeo) if it shows up late"
        case .peerFlock, .peerFcntl:
            return "mount with cluster-wide locks (Lustre -o flock, BeeGFS tuneUseGlobalFileLocks, NFS without local_lock); or download on one node and use HF_HUB_OFFLINE=1 elsewhere"
        case .peerGroup:
            return "give the group the same GID on every node (hfshare audit reports group-gid-mismatch on a node where it differs)"
        case .peerACL:
            return "mount without ACL-stripping options on every node, or use the no-ACL policy"
        }
    }
}

public enum ProbeAnswer: String, Codable, Sendable {
    case yes, no
    /// Could not be tried here (not root, no peer, an earlier step failed): no claim either way.
    case untested
}

public struct ProbeCheck: Codable, Equatable, Sendable {
    public var id: ProbeCheckID
    public var answer: ProbeAnswer
    /// What happened, e.g. "EIO on 9 of 16 tries".
    public var detail: String

    public init(_ id: ProbeCheckID, _ answer: ProbeAnswer, _ detail: String = "") {
        self.id = id; self.answer = answer; self.detail = detail
    }
}

/// The mount a path lives on, from statfs and /proc/self/mountinfo.
public struct MountInfo: Codable, Equatable, Sendable {
    /// Name for the statfs magic (ext4, xfs, btrfs, tmpfs, nfs, fuse, lustre, ...).
    public var type: String
    public var magic: String
    /// The type mountinfo shows (e.g. fuse.juicefs, nfs4), the source and the mount point.
    public var mountType: String = ""
    public var source: String = ""
    public var mountPoint: String = ""
    /// Root of the mount within its filesystem (a bind mount's subdirectory).
    public var mountRoot: String = "/"
    public var mountOptions: String = ""
    public var superOptions: String = ""
}

public struct ProbeResult: Codable, Sendable {
    public var path: String
    public var filesystem: MountInfo
    public var gid: UInt32?
    public var peer: String?
    public var peerFilesystem: MountInfo?
    public var checks: [ProbeCheck]
    /// The median time of one metadata round trip here (create and remove an empty file), in seconds.
    public var metadataRoundTrip: Double?
    /// How many directory walkers audit, repair and du use on this filesystem by default (Walkers.choose).
    public var walkers: Int?

    enum CodingKeys: String, CodingKey {
        case path, filesystem, gid, peer, checks, walkers
        case peerFilesystem = "peer_filesystem", metadataRoundTrip = "metadata_round_trip"
    }

    public subscript(id: ProbeCheckID) -> ProbeAnswer { checks.first { $0.id == id }?.answer ?? .untested }

    public func check(_ id: ProbeCheckID) -> ProbeCheck? { checks.first { $0.id == id } }

    /// The ACL policy needs all three: an access ACL, and its inheritance by new files and dirs.
    public var aclPolicyWorks: Bool { self[.aclAccess] == .yes && self[.aclDefaultFile] == .yes && self[.aclDefaultDir] == .yes }
    /// False only on a tried and failed inheritance (untested is no claim).
    public var setgidInherits: Bool { ![.setgidGroupFile, .setgidGroupDir, .setgidBitDir].contains { self[$0] == .no } }
    public var flockWorks: Bool { ![.flockExclusive, .flockShared, .flockNonblocking].contains { self[$0] == .no } }
    public var failed: [ProbeCheck] { checks.filter { $0.answer == .no } }

    /// Sentences init prints about what this filesystem means for the cache.
    public var notes: [String] {
        var notes: [String] = []
        if !aclPolicyWorks {
            notes.append("\(path) has no POSIX ACLs (tried); policy is setgid + group mode bits, and the profile sets umask 002 for members")
        }
        if !setgidInherits {
            notes.append("\(path) does not pass the setgid group on (tried): new dirs and files get their creator's group, not the shared group. Recommended: run 'hfshare repair' on a timer (hfshare init --enable-timer) and make the shared group the members' primary group")
        }
        if !flockWorks {
            let what = [ProbeCheckID.flockExclusive, .flockShared, .flockNonblocking].compactMap { id in
                check(id).flatMap { $0.answer == .no ? "\(id.rawValue): \($0.detail)" : nil }
            }.joined(separator: "; ")
            notes.append("flock is broken on \(path) (\(what)). huggingface_hub locks each download with flock: on ENOSYS it falls back to SoftFileLock (a leftover .lock then blocks that file forever), on EIO/ENOLCK hf_hub_download fails with that error. Mount with working locks, or download from one job and set HF_HUB_OFFLINE=1 for the others")
        }
        if self[.rootChown] == .no {
            notes.append("root cannot chown on \(path) (root_squash): run hfshare on the file server or a node without root_squash")
        }
        return notes
    }

    public func encoded() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try! enc.encode(self)) + Data("\n".utf8)
    }
}

public struct ProbeOptions: Sendable {
    /// The gid the setgid and ACL checks use; nil: the path's config, else its group, else nogroup.
    public var gid: UInt32?
    /// Another mount of the same filesystem (another node's view).
    public var peer: String?
    /// Lock attempts per check: JuiceFS < 1.0 with an SQL engine fails some of them (random lock owner ids).
    public var lockTries = 16
    /// How long to wait for the peer to show what was written here (attribute caches).
    public var peerWait: Double = 5

    public init(gid: UInt32? = nil, peer: String? = nil) { self.gid = gid; self.peer = peer }
}

public enum FilesystemProbe {
    /// Probes the directory at `path` (creates and removes a scratch dir in it).
    public static func run(path given: String, _ options: ProbeOptions = ProbeOptions()) throws -> ProbeResult {
        let (path, exists) = try Paths.resolveTrusted(Paths.absolute(given))
        guard exists else { throw UsageError("\(given): no such directory; pass a directory on the filesystem to probe") }
        let dir: FD
        do { dir = try Paths.openVerifiedDirectory(path) } catch let e as SystemError {
            throw UsageError("\(path): cannot open: \(e.reason)")
        }
        var o = options
        if o.gid == nil { o.gid = (try? RootConfig.load(root: path))??.gid }
        return try run(in: dir, options: o)
    }

    /// Probes in a scratch dir made inside `parent`, removed again before returning.
    public static func run(in parent: FD, options: ProbeOptions) throws -> ProbeResult {
        let mount = mountInfo(of: parent)
        var result = ProbeResult(path: parent.path, filesystem: mount, gid: nil, peer: options.peer, checks: [])
        let name: String
        do { name = try makeScratch(in: parent) } catch let e as SystemError {
            throw UsageError("\(parent.path): cannot create a scratch directory to probe in (\(e.reason)); probe a directory you can write, or run as root")
        }
        defer { try? parent.removeTree(name) }
        let scratch = try parent.openDirectory(name)
        var trial = Trial(scratch: scratch, options: options)
        result.gid = trial.pickGID(parentGID: (try? parent.stat().gid) ?? 0)
        result.checks += trial.setgid()
        result.checks += trial.acls()
        result.checks += trial.links()
        result.checks += trial.locks()
        result.checks.append(trial.rootChown())
        if let t = trial.metadataRoundTrip() {
            result.metadataRoundTrip = t
            result.walkers = Walkers.choose(roundTrip: t)
        }
        if let peer = options.peer {
            result.peerFilesystem = (try? FD.openDirectory(peer)).map { mountInfo(of: $0) }
            result.checks += try trial.peer(peer, local: mount, scratchName: name, parent: parent)
        }
        return result
    }

    /// Only the lock checks (flock exclusive/shared/blocking, fcntl), in a scratch dir in `parent`:
    /// what `doctor` asks, tried the same way (separate processes) as the full probe.
    public static func lockChecks(in parent: FD, options: ProbeOptions = ProbeOptions()) throws -> [ProbeCheck] {
        let name = try makeScratch(in: parent)
        defer { try? parent.removeTree(name) }
        return Trial(scratch: try parent.openDirectory(name), options: options).locks()
    }

    /// A new private directory to try things in; the caller removes it.
    static func makeScratch(in parent: FD) throws -> String {
        let name = ".hfshare-probe.\(Posix.pid).\(UInt32.random(in: 0...UInt32.max))"
        try parent.mkdir(name, mode: 0o700)
        return name
    }

    /// Read-only first guess, for `init --dry-run` and a bare cache with no probe record: does the
    /// filesystem answer ACL reads at all.
    public static func answersACLReads(_ path: String) -> Bool {
        guard let fd = try? FD.openDirectory(path) else { return true }
        return ACLStore.filesystemAnswers(fd)
    }

    // MARK: mount

    static let magicNames: [Int: String] = [
        0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x01021994: "tmpfs", 0x6969: "nfs",
        0x65735546: "fuse", 0x0BD00BD0: "lustre", 0x00C36400: "ceph", 0x47504653: "gpfs", 0x19830326: "beegfs",
        0x2FC12FC1: "zfs", 0x794C7630: "overlay", 0xFF534D42: "cifs", 0xFE534D42: "smb2", 0x5346414F: "afs",
        0x73717368: "squashfs", 0x858458F6: "ramfs", 0x4D44: "vfat", 0x5346544E: "ntfs", 0xF2F52010: "f2fs",
    ]

    public static func mountInfo(of fd: FD) -> MountInfo {
        let magic = (try? fd.statfs().magic) ?? -1
        let unsigned = UInt32(truncatingIfNeeded: magic)
        var info = MountInfo(type: magicNames[Int(unsigned)] ?? "unknown", magic: "0x" + String(unsigned, radix: 16))
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return info }
        let lines = text.split(separator: "\n").map { parseMountinfo(String($0)) }.compactMap { $0 }
        let id = fd.mountID
        let line = lines.last { $0.id == id && id != 0 } ?? lines.filter { isUnder(fd.path, $0.info.mountPoint) }
            .max { $0.info.mountPoint.count < $1.info.mountPoint.count }
        if let l = line {
            let t = info.type, m = info.magic
            info = l.info
            info.type = t
            info.magic = m
            if t == "fuse", let sub = l.info.mountType.split(separator: ".").dropFirst().first { info.type = "fuse." + sub }
        }
        return info
    }

    static func isUnder(_ path: String, _ mountPoint: String) -> Bool {
        mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
    }

    /// One line: `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`.
    public static func parseMountinfo(_ line: String) -> (id: UInt64, info: MountInfo)? {
        let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 10, let id = UInt64(f[0]), let dash = f.firstIndex(of: "-"), dash + 3 < f.count + 1, dash >= 6 else { return nil }
        var m = MountInfo(type: "", magic: "")
        m.mountRoot = unescape(f[3])
        m.mountPoint = unescape(f[4])
        m.mountOptions = f[5]
        m.mountType = f[dash + 1]
        m.source = dash + 2 < f.count ? unescape(f[dash + 2]) : ""
        m.superOptions = dash + 3 < f.count ? f[dash + 3] : ""
        return (id, m)
    }

    /// mountinfo writes space, tab, newline and backslash as \040 \011 \012 \134.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = [UInt8](), bytes = Array(s.utf8), i = 0
        while i < bytes.count {
            if bytes[i] == 0x5C, i + 3 < bytes.count, let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else { out.append(bytes[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The trying itself, in one scratch directory.
struct Trial {
    let scratch: FD
    let options: ProbeOptions
    /// The gid the setgid dir gets; nil when this caller cannot give a dir another group.
    var gid: UInt32?
    var gidNote = ""

    init(scratch: FD, options: ProbeOptions) { self.scratch = scratch; self.options = options }

    /// A gid other than our own egid (else setgid inheritance proves nothing). Root may use any gid;
    /// others need one of their supplementary groups.
    mutating func pickGID(parentGID: UInt32) -> UInt32? {
        let egid = Posix.egid
        if Posix.isRoot() {
            let candidates = [options.gid, parentGID, 65534, 65533].compactMap { $0 }
            gid = candidates.first { $0 != egid }
        } else {
            let mine = Posix.groups().filter { $0 != egid }
            gid = [options.gid, parentGID].compactMap { $0 }.first { mine.contains($0) } ?? mine.first
            if gid == nil { gidNote = "not root and in no group besides the primary one" }
        }
        return gid
    }

    /// The median of 32 tries of creating and removing an empty file: a round trip to whatever keeps
    /// the metadata (the local disk's journal in memory, a FUSE daemon, an NFS or metadata server).
    func metadataRoundTrip() -> Double? {
        var times: [Double] = []
        for i in 0..<32 {
            let name = "rt.\(i)"
            let t0 = Posix.now()
            guard (try? scratch.openat(name, flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)) != nil else { return nil }
            try? scratch.unlink(name)
            times.append(Posix.now() - t0)
        }
        return times.sorted()[times.count / 2]
    }

    static func describe(_ e: Error) -> String {
        if let s = e as? SystemError { return "\(s.call): \(s.errnoName)" }
        return "\(e)"
    }

    // MARK: setgid

    func setgid() -> [ProbeCheck] {
        let ids: [ProbeCheckID] = [.setgidGroupFile, .setgidGroupDir, .setgidBitDir]
        guard let gid else { return ids.map { ProbeCheck($0, .untested, gidNote) } }
        do {
            try scratch.mkdir("sg", mode: 0o700)
            let sg = try scratch.openDirectory("sg")
            try sg.chown(gid: gid)
            try sg.chmod(0o2770)
            let st = try sg.stat()
            guard st.gid == gid, st.mode & UInt32(S_ISGID) != 0 else {
                return ids.map { ProbeCheck($0, .untested, "could not make a setgid dir of gid \(gid) (got gid \(st.gid), mode \(String(st.permissions, radix: 8)))") }
            }
            _ = try sg.createFile("f", mode: 0o660)
            try sg.mkdir("d", mode: 0o770)
            let f = try sg.stat("f"), d = try sg.stat("d")
            let creator = Posix.egid
            return [
                ProbeCheck(.setgidGroupFile, f.gid == gid ? .yes : .no, "new file in a setgid dir of gid \(gid) got gid \(f.gid)\(f.gid == creator ? " (the creator's)" : "")"),
                ProbeCheck(.setgidGroupDir, d.gid == gid ? .yes : .no, "new dir got gid \(d.gid)\(d.gid == creator ? " (the creator's)" : "")"),
                ProbeCheck(.setgidBitDir, d.mode & UInt32(S_ISGID) != 0 ? .yes : .no, "new dir mode \(String(d.permissions, radix: 8))"),
            ]
        } catch {
            return ids.map { ProbeCheck($0, .untested, "setup failed: \(Trial.describe(error))") }
        }
    }

    // MARK: ACLs

    func acls() -> [ProbeCheck] {
        let g = gid ?? Posix.egid
        let acl = PosixACL([ACLEntry(.userObj, .rwx), ACLEntry(.groupObj, .rx), ACLEntry(.group(g), .rwx),
                            ACLEntry(.mask, .rwx), ACLEntry(.other, [])])
        var checks: [ProbeCheck] = []
        let dir: FD
        do {
            try scratch.mkdir("acl", mode: 0o700)
            dir = try scratch.openDirectory("acl")
        } catch {
            return [.aclAccess, .aclDefaultFile, .aclDefaultDir].map { ProbeCheck($0, .untested, "setup failed: \(Trial.describe(error))") }
        }
        do {
            try ACLStore.write(acl, to: dir, .access)
            let back = try ACLStore.read(dir, .access)
            checks.append(back == acl ? ProbeCheck(.aclAccess, .yes, "set and read back \(acl)")
                                      : ProbeCheck(.aclAccess, .no, "set \(acl), read back \(back.map(\.description) ?? "no ACL")"))
        } catch {
            checks.append(ProbeCheck(.aclAccess, .no, Trial.describe(error)))
        }
        do {
            try ACLStore.write(acl, to: dir, .default)
        } catch {
            let why = "setting a default ACL failed: \(Trial.describe(error))"
            return checks + [ProbeCheck(.aclDefaultFile, .no, why), ProbeCheck(.aclDefaultDir, .no, why)]
        }
        do {
            let f = try dir.createFile("f", mode: 0o664)
            let facl = try ACLStore.read(f, .access)
            let ok = facl?[.group(g)] == .rwx && facl?[.mask] == .rw
            checks.append(ProbeCheck(.aclDefaultFile, ok ? .yes : .no, "new file (mode 0664) got \(facl.map(\.description) ?? "no ACL")"))
        } catch {
            checks.append(ProbeCheck(.aclDefaultFile, .no, Trial.describe(error)))
        }
        do {
            try dir.mkdir("d", mode: 0o775)
            let d = try dir.openDirectory("d")
            let def = try ACLStore.read(d, .default), access = try ACLStore.read(d, .access)
            let ok = def == acl && access?[.group(g)] == .rwx
            checks.append(ProbeCheck(.aclDefaultDir, ok ? .yes : .no, "new dir got default \(def.map(\.description) ?? "none"), access \(access.map(\.description) ?? "none")"))
        } catch {
            checks.append(ProbeCheck(.aclDefaultDir, .no, Trial.describe(error)))
        }
        return checks
    }

    // MARK: names

    func links() -> [ProbeCheck] {
        var checks: [ProbeCheck] = []
        do {
            try scratch.symlink("target-of-link", "sl")
            let back = try scratch.readlink("sl")
            checks.append(ProbeCheck(.symlink, back == "target-of-link" ? .yes : .no, "readlink gave \(back)"))
        } catch { checks.append(ProbeCheck(.symlink, .no, Trial.describe(error))) }
        do {
            _ = try scratch.createFile("h1", mode: 0o600)
            try scratch.link("h1", to: scratch, "h2")
            let a = try scratch.stat("h1"), b = try scratch.stat("h2")
            let ok = a.ino == b.ino && a.nlink == 2
            checks.append(ProbeCheck(.hardlink, ok ? .yes : .no, ok ? "two names, one inode, nlink 2" : "inodes \(a.ino)/\(b.ino), nlink \(a.nlink)"))
        } catch { checks.append(ProbeCheck(.hardlink, .no, Trial.describe(error))) }
        do {
            let t = try scratch.openTemporaryFile(mode: 0o600)
            try t.write(Array("tmp".utf8))
            checks.append(ProbeCheck(.tmpfile, .yes, "unnamed file created and written"))
        } catch { checks.append(ProbeCheck(.tmpfile, .no, Trial.describe(error))) }
        do {
            try scratch.createFile("r1", mode: 0o600).write(Array("new".utf8))
            try scratch.createFile("r2", mode: 0o600).write(Array("old".utf8))
            try scratch.rename("r1", to: "r2")
            let content = String(decoding: try scratch.openat("r2", flags: O_RDONLY).readAll(), as: UTF8.self)
            let gone = (try? scratch.stat("r1")) == nil
            let ok = content == "new" && gone
            checks.append(ProbeCheck(.renameOver, ok ? .yes : .no, ok ? "target replaced atomically" : "target has \"\(content)\", source \(gone ? "gone" : "still there")"))
        } catch { checks.append(ProbeCheck(.renameOver, .no, Trial.describe(error))) }
        return checks
    }

    // MARK: locks

    /// `lockTries` processes each try once: counts per outcome ("taken", "held", or an errno name).
    func attempts(_ name: String, _ api: LockAPI, _ mode: LockMode, in dir: FD? = nil) -> [String: Int] {
        do {
            return try (dir ?? scratch).lockAttemptsByChildren(name, api, mode, count: options.lockTries)
                .reduce(into: [:]) { $0[$1.label, default: 0] += 1 }
        } catch {
            return [Trial.describe(error): options.lockTries]
        }
    }

    /// "taken by 9, EIO on 7 of 16 processes"
    func summary(_ counts: [String: Int]) -> String {
        var parts = counts["taken"].map { ["taken by \($0)"] } ?? []
        parts += counts.filter { $0.key != "taken" }.sorted { $0.key < $1.key }.map { "\($0.key) on \($0.value)" }
        return parts.joined(separator: ", ") + " of \(counts.values.reduce(0, +)) processes"
    }

    static func onlyTaken(_ counts: [String: Int]) -> Bool { counts.keys.allSatisfy { $0 == "taken" } && !counts.isEmpty }

    /// Holds the lock in one process and has `lockTries` others try it through `contender` (here or
    /// the peer). Only "every other process found it held" is a yes.
    func blocking(_ api: LockAPI, _ id: ProbeCheckID, contender: FD, what: String) -> ProbeCheck {
        let holder: ChildLock?, failures: [LockAttempt]
        do { (holder, failures) = try scratch.holdLockInChild("lock", api, tries: options.lockTries) } catch {
            return ProbeCheck(id, .untested, Trial.describe(error))
        }
        guard let holder else {
            let counts = failures.reduce(into: [String: Int]()) { $0[$1.label, default: 0] += 1 }
            // No lock to contend for: a local check says no (locks do not work), a peer check cannot tell.
            return ProbeCheck(id, id.rawValue.hasPrefix("peer") ? .untested : .no, "no process could take the lock to hold it (\(summary(counts)))")
        }
        defer { holder.release() }
        let counts = attempts("lock", api, .exclusive, in: contender)
        let held = counts["held"] ?? 0, total = counts.values.reduce(0, +)
        var detail = "held by one process\(failures.isEmpty ? "" : " (after \(summary(failures.reduce(into: [:]) { $0[$1.label, default: 0] += 1 })))"); \(what): "
        detail += summary(counts)
        return ProbeCheck(id, held == total && total > 0 ? .yes : .no, detail)
    }

    func locks() -> [ProbeCheck] {
        do {
            try scratch.createFile("lock", mode: 0o664).write(Array("lock".utf8))
        } catch {
            return [.flockExclusive, .flockShared, .flockNonblocking, .fcntlLock].map { ProbeCheck($0, .untested, "setup failed: \(Trial.describe(error))") }
        }
        var checks: [ProbeCheck] = []
        let ex = attempts("lock", .flock, .exclusive)
        checks.append(ProbeCheck(.flockExclusive, Trial.onlyTaken(ex) ? .yes : .no, summary(ex)))
        let sh = attempts("lock", .flock, .shared)
        checks.append(ProbeCheck(.flockShared, Trial.onlyTaken(sh) ? .yes : .no, summary(sh)))
        checks.append(blocking(.flock, .flockNonblocking, contender: scratch, what: "other processes"))
        let posix = attempts("lock", .posix, .exclusive)
        let held = blocking(.posix, .fcntlLock, contender: scratch, what: "other processes")
        checks.append(ProbeCheck(.fcntlLock, Trial.onlyTaken(posix) && held.answer == .yes ? .yes : .no,
                                 "F_SETLK alone: \(summary(posix)); \(held.detail)"))
        return checks
    }

    // MARK: root_squash

    func rootChown() -> ProbeCheck {
        guard Posix.isRoot() else { return ProbeCheck(.rootChown, .untested, "not running as root") }
        let uid: UInt32 = 65534, g = gid ?? 65534
        do {
            let f = try scratch.createFile("own", mode: 0o600)
            try f.chown(uid: uid, gid: g)
            let st = try f.stat()
            let ok = st.uid == uid && st.gid == g
            return ProbeCheck(.rootChown, ok ? .yes : .no, "chown \(uid):\(g) gave \(st.uid):\(st.gid)")
        } catch {
            return ProbeCheck(.rootChown, .no, Trial.describe(error))
        }
    }

    // MARK: peer

    func peer(_ peerMount: String, local: MountInfo, scratchName: String, parent: FD) throws -> [ProbeCheck] {
        // The scratch dir as the peer shows it: same path relative to the mount point.
        let rel = String(parent.path.dropFirst(local.mountPoint == "/" ? 0 : local.mountPoint.count))
        let peerParent = Paths.absolute(peerMount + "/" + rel)
        let peerScratchPath = peerParent + "/" + scratchName
        var peerDir: FD?
        let deadline = Posix.now() + options.peerWait
        repeat {
            peerDir = try? FD.openDirectory(peerScratchPath)
            if peerDir == nil { usleep(100_000) }
        } while peerDir == nil && Posix.now() < deadline
        guard let peerDir else {
            throw UsageError("--peer \(peerMount): \(peerScratchPath) does not appear there; --peer must be another mount of the filesystem that holds \(parent.path), mounted at the same root")
        }
        if let a = try? scratch.stat(), let b = try? peerDir.stat(), a.dev == b.dev, a.ino == b.ino, peerDir.mountID == scratch.mountID {
            // Same mount: the answers would say nothing about another node.
            throw UsageError("--peer \(peerMount) is the same mount as \(parent.path); pass another mount of the same filesystem")
        }
        var checks: [ProbeCheck] = []

        // Visible, with the same content.
        let token = "hfshare-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try scratch.createFile("peer-v", mode: 0o664).write(Array(token.utf8))
            var seen = ""
            let until = Posix.now() + options.peerWait
            repeat {
                seen = (try? peerDir.openat("peer-v", flags: O_RDONLY).readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
                if seen != token { usleep(100_000) }
            } while seen != token && Posix.now() < until
            checks.append(ProbeCheck(.peerVisible, seen == token ? .yes : .no, seen == token ? "written here, read back through the peer" : "not seen through the peer within \(Int(options.peerWait))s"))
        } catch { checks.append(ProbeCheck(.peerVisible, .no, Trial.describe(error))) }

        // Locks held here, tried there.
        checks.append(blocking(.flock, .peerFlock, contender: peerDir, what: "processes through the peer"))
        checks.append(blocking(.posix, .peerFcntl, contender: peerDir, what: "processes through the peer"))

        // Owner and group of files made on either side, seen from the other.
        do {
            let here = try scratch.stat("sg/f")
            let there = try peerDir.stat("sg/f")
            try peerDir.openDirectory("sg").mkdir("from-peer", mode: 0o770)
            let madeThere = try peerDir.stat("sg/from-peer")
            var madeSeenHere: FileStat?
            let until = Posix.now() + options.peerWait
            repeat {
                madeSeenHere = try? scratch.stat("sg/from-peer")
                if madeSeenHere == nil { usleep(100_000) }
            } while madeSeenHere == nil && Posix.now() < until
            let same = here.uid == there.uid && here.gid == there.gid && madeSeenHere.map { $0.uid == madeThere.uid && $0.gid == madeThere.gid } == true
            checks.append(ProbeCheck(.peerGroup, same ? .yes : .no,
                                     "file made here: \(here.uid):\(here.gid) here, \(there.uid):\(there.gid) there; dir made there: \(madeThere.uid):\(madeThere.gid) there, \(madeSeenHere.map { "\($0.uid):\($0.gid)" } ?? "not seen") here"))
        } catch {
            checks.append(ProbeCheck(.peerGroup, .untested, "the setgid step made nothing to compare: \(Trial.describe(error))"))
        }

        // ACLs seen through both.
        if let d = try? scratch.openDirectory("acl"), let here = try? ACLStore.read(d, .access) {
            let there = (try? peerDir.openDirectory("acl")).flatMap { try? ACLStore.read($0, .access) } ?? nil
            checks.append(ProbeCheck(.peerACL, here == there ? .yes : .no, "here \(here), there \(there.map(\.description) ?? "no ACL")"))
        } else {
            checks.append(ProbeCheck(.peerACL, .untested, "no ACL here to compare"))
        }
        return checks
    }
}

/// How many directories the walker works on at once. A walker spends most of its time in system calls
/// that can wait: on a local disk for a directory block or an inode not in the cache (the nightly run
/// meets a cold cache), elsewhere (FUSE, NFS, Lustre, JuiceFS) for a round trip on every call. Waiting
/// walkers cost nothing, and more of them keep more requests in flight. The round trip is measured by
/// `probe` (and init's probe), never guessed from the filesystem's name; the answer is recorded in
/// ROOT/.hfshare/probe.json and used as the default of `--threads`.
public enum Walkers {
    public static var cores: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }

    /// At most this many walkers.
    public static let maximum = 64
    /// On a local disk (round trip under 50 µs): 8, or one per core where there are more. Measured on
    /// a 2-core VM, 250k entries on ext4, cold: 2 walkers took 0.79 of `find -printf`'s time, 8 took
    /// 0.43-0.52, 16 took 0.37-0.43; warm, 8 and 16 were no slower than 2 (the walkers that wait leave
    /// the cores to the others). Memory grows with the repos walked at once, each with its link-index
    /// record: on 20 repos of 8k files (few-huge) 31 MiB with 2 walkers, 43 with 8, 57-66 with 16.
    public static let local = 8

    /// Local: `local`, at least one per core. Slower: one walker per 25 µs of round trip (a walker
    /// spends about that much CPU per entry), never fewer than on a local disk, at most `maximum`.
    public static func choose(roundTrip: Double, cores: Int = Walkers.cores) -> Int {
        let onLocalDisk = min(maximum, max(local, cores))
        guard roundTrip > 50e-6 else { return onLocalDisk }
        return min(maximum, max(onLocalDisk, Int((roundTrip / 25e-6).rounded(.up))))
    }

    /// Where nothing was measured (no probe.json): as on a local disk.
    public static var unmeasured: Int { choose(roundTrip: 0) }
}

extension FilesystemProbe {
    /// As root, on a ROOT that init made (a trusted state dir with its config): keeps `result` in
    /// ROOT/.hfshare/probe.json, where audit, repair and du find their walker count. Returns that
    /// path, or nil when nothing was recorded (not root, not a cache root, state dir not trusted).
    public static func record(_ result: ProbeResult, root given: String) throws -> String? {
        guard Posix.isRoot() else { return nil }
        let (root, exists) = try Paths.resolveTrusted(Paths.absolute(given))
        guard exists, let state = try? StateDir.openIfPresent(root: root),
              let config = try? RootConfig.load(root: root, state: state) else { return nil }
        _ = try state.write("probe.json", result.encoded(), mode: config.other == .none ? 0o640 : 0o644, gid: config.gid)
        return ProbeRecord.path(root)
    }
}
