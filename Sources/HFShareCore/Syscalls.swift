import CHFShare
import Foundation
import Glibc

/// A failed system call: which call, on which path, and the errno. Raw C calls are wrapped here
/// once; nothing above this file looks at `errno`.
public struct SystemError: Failure, Equatable {
    public let call: String
    public let path: String
    public let errno: Int32

    public init(_ call: String, _ path: String, _ code: Int32 = Glibc.errno) {
        self.call = call
        self.path = path
        self.errno = code
    }

    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(path): \(call): \(reason)" }
    public var exitStatus: Int32 { 2 }
}

/// What statx told us about one inode.
public struct FileStat: Equatable, Sendable {
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var nlink: UInt32
    public var ino: UInt64
    public var dev: UInt64
    public var size: UInt64
    public var mtime: Double
    public var mtimeSec: Int64 = 0
    public var mtimeNsec: UInt32 = 0
    public var ctimeSec: Int64
    public var ctimeNsec: UInt32

    public init(mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, nlink: UInt32 = 1, ino: UInt64 = 0,
                dev: UInt64 = 0, size: UInt64 = 0, mtime: Double = 0, ctimeSec: Int64 = 0, ctimeNsec: UInt32 = 0) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.nlink = nlink; self.ino = ino
        self.dev = dev; self.size = size; self.mtime = mtime; self.ctimeSec = ctimeSec; self.ctimeNsec = ctimeNsec
    }

    init(_ s: hf_stat) {
        self.init(mode: s.mode, uid: s.uid, gid: s.gid, nlink: s.nlink, ino: s.ino, dev: s.dev, size: s.size,
                  mtime: Double(s.mtime_sec) + Double(s.mtime_nsec) / 1e9, ctimeSec: s.ctime_sec, ctimeNsec: s.ctime_nsec)
        mtimeSec = s.mtime_sec
        mtimeNsec = s.mtime_nsec
    }

    public var type: FileType { FileType(mode: mode) }
    public var permissions: UInt32 { mode & 0o7777 }
}

public enum FileType: String, Sendable {
    case directory, regular, symlink, fifo, socket, blockDevice, charDevice, unknown

    public init(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFREG): self = .regular
        case UInt32(S_IFLNK): self = .symlink
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFBLK): self = .blockDevice
        case UInt32(S_IFCHR): self = .charDevice
        default: self = .unknown
        }
    }

    init(direntType: UInt8) {
        switch Int32(direntType) {
        case Int32(DT_DIR): self = .directory
        case Int32(DT_REG): self = .regular
        case Int32(DT_LNK): self = .symlink
        case Int32(DT_FIFO): self = .fifo
        case Int32(DT_SOCK): self = .socket
        case Int32(DT_BLK): self = .blockDevice
        case Int32(DT_CHR): self = .charDevice
        default: self = .unknown
        }
    }
}

/// An owned file descriptor, closed when the last reference goes. Directory handles are shared by the
/// walker between the work items of their children, so their lifetime is reference-counted.
public final class FD: @unchecked Sendable {
    public let raw: Int32
    /// Path for messages only; never used to reach the file again.
    public let path: String

    /// Opened with O_PATH: fchmod/fsetxattr refuse it (EBADF), so those go through /proc/self/fd.
    public let isPathOnly: Bool

    public init(raw: Int32, path: String, pathOnly: Bool = false) {
        self.raw = raw
        self.path = path
        self.isPathOnly = pathOnly
    }

    deinit { Glibc.close(raw) }

    public static let directoryFlags = O_RDONLY | HF_O_DIRECTORY | HF_O_NOFOLLOW | HF_O_CLOEXEC

    /// Opens `name` relative to this directory, never following a symlink in the last component.
    /// `noatime` is tried first and dropped where the kernel refuses it (not the owner, no CAP_FOWNER).
    public func openat(_ name: String, flags: Int32, mode: mode_t = 0, noatime: Bool = false) throws -> FD {
        let childPath = FD.join(path, name)
        if noatime {
            let fd = Posix.retrying { ByteName.withCString(name) { hf_open(raw, $0, flags | HF_O_NOATIME, UInt32(mode)) } }
            if fd >= 0 { return FD(raw: fd, path: childPath) }
            if Glibc.errno != EPERM { throw SystemError("open", childPath) }
        }
        let fd = Posix.retrying { ByteName.withCString(name) { hf_open(raw, $0, flags, UInt32(mode)) } }
        guard fd >= 0 else { throw SystemError("open", childPath) }
        return FD(raw: fd, path: childPath, pathOnly: flags & HF_O_PATH != 0)
    }

    public func openDirectory(_ name: String, noatime: Bool = false) throws -> FD {
        try openat(name, flags: FD.directoryFlags, noatime: noatime)
    }

    /// Opens a path of several components beneath this directory with no symlink anywhere on the way
    /// (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or one O_NOFOLLOW openat per component).
    public func openBeneath(_ relative: String, flags: Int32) throws -> FD {
        let childPath = FD.join(path, relative)
        let fd = ByteName.withCString(relative) { hf_openat_beneath(raw, $0, flags | HF_O_NOFOLLOW | HF_O_CLOEXEC, 0) }
        if fd >= 0 { return FD(raw: fd, path: childPath) }
        guard Glibc.errno == ENOSYS else { throw SystemError("openat2", childPath) }
        let parts = relative.split(separator: "/").map(String.init)
        var dir = self
        for (i, part) in parts.enumerated() {
            if part == ".." { throw SystemError("open", childPath, EXDEV) }
            if i == parts.count - 1 { return try dir.openat(part, flags: flags | HF_O_NOFOLLOW | HF_O_CLOEXEC) }
            dir = try dir.openDirectory(part)
        }
        return self
    }

    public func stat() throws -> FileStat {
        var s = hf_stat()
        guard hf_statx(raw, "", HF_AT_EMPTY_PATH | HF_AT_SYMLINK_NOFOLLOW, &s) == 0 else { throw SystemError("statx", path) }
        return FileStat(s)
    }

    public func stat(_ name: String, follow: Bool = false) throws -> FileStat {
        var s = hf_stat()
        guard ByteName.withCString(name, { hf_statx(raw, $0, follow ? 0 : HF_AT_SYMLINK_NOFOLLOW, &s) }) == 0 else {
            throw SystemError("statx", FD.join(path, name))
        }
        return FileStat(s)
    }

    /// Reads the whole directory with getdents64, skipping `.` and `..`.
    /// `shortReadIsEOF`: on filesystems whose readdir fills the buffer until the directory ends
    /// (ext4, xfs, btrfs, tmpfs), a read that left room for another record was the last one, which
    /// saves the empty getdents64 call per directory. Never for FUSE or NFS, which return pages.
    public func entries(shortReadIsEOF: Bool = false) throws -> [(name: String, type: FileType)] {
        var result: [(String, FileType)] = []
        try forEachEntry(shortReadIsEOF: shortReadIsEOF) { name, type, _ in result.append((ByteName.decode(name), type)) }
        return result
    }

    /// Reads the directory from where the descriptor's offset is, one getdents64 call at a time,
    /// until at least `atLeast` entries were added to `result` or the directory ended. Returns whether
    /// entries remain (the descriptor keeps its place: the next call goes on from there), so a walker
    /// never needs more than a buffer's worth of a very wide directory in memory.
    public func readEntries(into result: inout [(name: String, type: FileType)], atLeast: Int, shortReadIsEOF: Bool = false) throws -> Bool {
        let goal = result.count + atLeast
        var more = true
        while more && result.count < goal {
            more = try forEachEntry(shortReadIsEOF: shortReadIsEOF, once: true) { name, type, _ in result.append((ByteName.decode(name), type)) }
        }
        return more
    }

    /// The same listing with the names as their exact bytes.
    func entryBytes() throws -> [(name: [UInt8], type: FileType)] {
        var result: [([UInt8], FileType)] = []
        try forEachEntry { name, type, _ in
            result.append((Array(UnsafeRawBufferPointer(start: name, count: strlen(name))), type))
        }
        return result
    }

    /// The listing with names as bytes and each entry's inode number (d_ino).
    func entryRecords() throws -> [(name: [UInt8], type: FileType, ino: UInt64)] {
        var result: [([UInt8], FileType, UInt64)] = []
        try forEachEntry { name, type, ino in
            result.append((Array(UnsafeRawBufferPointer(start: name, count: strlen(name))), type, ino))
        }
        return result
    }

    /// The one getdents64 loop: every entry but `.` and `..`, its NUL-terminated name valid only
    /// during the call. `once`: a single getdents64 call; the result says whether entries remain.
    @discardableResult
    private func forEachEntry(shortReadIsEOF: Bool = false, once: Bool = false, _ body: (UnsafePointer<CChar>, FileType, UInt64) -> Void) throws -> Bool {
        let size = DirentBuffers.size
        let buf = DirentBuffers.take()
        defer { DirentBuffers.give(buf) }
        while true {
            let n = hf_getdents64(raw, buf, size)
            if n < 0 { throw SystemError("getdents64", path) }
            if n == 0 { return false }
            var off = 0
            var namePtr: UnsafePointer<CChar>?
            var type: UInt8 = 0
            var ino: UInt64 = 0
            while hf_dirent_next(buf, n, &off, &namePtr, &type, &ino) == 1 {
                guard let namePtr else { continue }
                if namePtr[0] == 0x2E && (namePtr[1] == 0 || (namePtr[1] == 0x2E && namePtr[2] == 0)) { continue }
                body(namePtr, FileType(direntType: type), ino)
            }
            if shortReadIsEOF && n <= size - 512 { return false } // a record is at most 19 + 256 bytes
            if once { return true }
        }
    }

    public func readlink(_ name: String) throws -> String {
        // On the stack: the walk reads every symlink (a third of a hub cache), and a zeroed 4 KiB
        // array per link showed up in profiles.
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(PATH_MAX)) { buf in
            let n = ByteName.withCString(name) { readlinkat(raw, $0, buf.baseAddress!, buf.count) }
            guard n >= 0 else { throw SystemError("readlink", FD.join(path, name)) }
            return ByteName.decode(UnsafeBufferPointer(rebasing: buf[..<n]))
        }
    }

    public func chown(gid: UInt32) throws {
        guard fchownat(raw, "", UInt32.max, gid, HF_AT_EMPTY_PATH) == 0 else { throw SystemError("chgrp", path) }
    }

    /// chmod that also works on O_PATH descriptors.
    public func chmod(_ mode: UInt32) throws {
        if !isPathOnly && Glibc.fchmod(raw, mode_t(mode)) == 0 { return }
        guard isPathOnly || Glibc.errno == EBADF, hf_fchmod_path_fd(raw, mode) == 0 else { throw SystemError("chmod", path) }
    }

    /// `flock(LOCK_EX|LOCK_NB)` tried 5 times over ~80 ms, kept until `unlock` or close: false if
    /// somebody holds it all that time. Another walker of this same run may hold that lock for a moment
    /// (probing it, or deleting the `.incomplete` it guards), while a download holds it for its whole
    /// transfer. Probing once made a repair now and then leave a stale lock, or fail on a lock it held itself.
    public func lockBriefly() throws -> Bool {
        for attempt in 0..<5 {
            if flock(raw, LOCK_EX | LOCK_NB) == 0 { return true }
            guard Glibc.errno == EWOULDBLOCK else { throw SystemError("flock", path) }
            if attempt < 4 { usleep(20_000) }
        }
        return false
    }

    /// `lockBriefly`, released again at once: true if nobody holds the lock.
    public func tryExclusiveLockAndRelease() throws -> Bool {
        guard try lockBriefly() else { return false }
        flock(raw, LOCK_UN)
        return true
    }

    public func unlink(_ name: String, directory: Bool = false) throws {
        guard ByteName.withCString(name, { unlinkat(raw, $0, directory ? HF_AT_REMOVEDIR : 0) }) == 0 else { throw SystemError("unlink", FD.join(path, name)) }
    }

    public func mkdir(_ name: String, mode: UInt32) throws {
        guard ByteName.withCString(name, { mkdirat(raw, $0, mode_t(mode)) }) == 0 else { throw SystemError("mkdir", FD.join(path, name)) }
    }

    public func rename(_ from: String, to: String) throws {
        guard ByteName.withCString(from, { f in ByteName.withCString(to) { renameat(raw, f, raw, $0) } }) == 0 else { throw SystemError("rename", FD.join(path, to)) }
    }

    public func fsync() throws {
        guard Posix.retrying({ Glibc.fsync(raw) }) == 0 else { throw SystemError("fsync", path) }
    }

    /// Sets an extended attribute on this inode (`trusted.*` needs CAP_SYS_ADMIN: users cannot forge it).
    public func setXattr(_ name: String, _ value: String) throws {
        let r = value.withCString { fsetxattr(raw, name, $0, strlen($0), 0) }
        guard r == 0 else { throw SystemError("setxattr", path) }
    }

    public func removeXattr(_ name: String) { _ = fremovexattr(raw, name) }

    /// Whether `name` in this directory carries the extended attribute (read without following a symlink).
    public func hasXattr(_ entry: String, _ name: String) -> Bool {
        ByteName.withCString("/proc/self/fd/\(raw)/\(entry)") { lgetxattr($0, name, nil, 0) } >= 0
    }

    /// `/proc/self/fd/N`: names exactly this inode, for the libacl calls that only take a path.
    public var procPath: String { "/proc/self/fd/\(raw)" }

    public var filesystemMagic: Int { hf_fstatfs_type(raw) }

    /// ext4/ext3/ext2, xfs, btrfs, tmpfs: local filesystems whose readdir fills the buffer until the end.
    public static let fillingReaddirMagics: Set<Int> = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994]

    /// The mount (or the whole filesystem) is read-only: nobody may write files or directories on it.
    public var isOnReadOnlyMount: Bool {
        var v = statvfs()
        return fstatvfs(raw, &v) == 0 && v.f_flag & UInt(ST_RDONLY) != 0
    }

    public static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws -> FD {
        let fd = Glibc.open(path, flags | HF_O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path) }
        return FD(raw: fd, path: path)
    }

    public static func openDirectory(_ path: String) throws -> FD {
        try open(path, flags: directoryFlags)
    }

    static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }
}

public enum Posix {
    /// Repeats a call interrupted by a signal (EINTR), as NFS and FUSE calls can be.
    @inline(__always)
    public static func retrying(_ call: () -> Int32) -> Int32 {
        while true {
            let r = call()
            if r >= 0 || Glibc.errno != EINTR { return r }
        }
    }

    public static var euid: UInt32 { geteuid() }
    public static func isRoot() -> Bool { geteuid() == 0 }

    /// At most `arenas` malloc arenas, before any thread starts. glibc gives threads up to 8 per core,
    /// each keeping what its thread freed: with 16 walkers over wide directories (the few-huge shape)
    /// peak RSS was 65-70 MiB with glibc's arenas, 54-64 with 2. Small allocations stay per thread (tcache).
    public static func limitMallocArenas(_ arenas: Int) { _ = hf_limit_malloc_arenas(Int32(arenas)) }
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

// MARK: placing a file

extension FD {
    /// Places `name` in this directory atomically: a fresh random temp name (O_EXCL|O_NOFOLLOW, so
    /// nothing planted is followed or reused), the bytes, owner/group and mode (each result checked),
    /// fsync, rename over, fsync of the directory. Readers see the old file or the new one, never half.
    /// `durable: false` skips both fsyncs, for a cache whose loss in a crash costs only a re-read.
    public func placeFile(_ name: String, _ data: Data, mode: UInt32, uid: UInt32? = nil, gid: UInt32? = nil, durable: Bool = true) throws {
        let tmp = ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try openat(tmp, flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        do {
            try data.withUnsafeBytes { try fd.writeAll($0) }
            if uid != nil || gid != nil { try fd.chown(uid: uid ?? UInt32.max, gid: gid ?? UInt32.max) }
            try fd.chmod(mode)
            if durable { try fd.fsync() }
            try rename(tmp, to: name)
        } catch {
            try? unlink(tmp)
            throw error
        }
        if durable { try? fsync() }
    }
}

// MARK: used by user/doctor/migrate (onboarding)

extension FD {
    /// `symlinkat(target, self, name)`: the link itself, never its target.
    public func symlink(_ target: String, _ name: String) throws {
        guard ByteName.withCString(target, { t in ByteName.withCString(name) { symlinkat(t, raw, $0) } }) == 0 else { throw SystemError("symlink", FD.join(path, name)) }
    }

    /// `linkat(self/name, dir/newName)` without following a symlink: a second name for the same inode.
    public func link(_ name: String, to dir: FD, _ newName: String) throws {
        guard ByteName.withCString(name, { n in ByteName.withCString(newName) { linkat(raw, n, dir.raw, $0, 0) } }) == 0 else { throw SystemError("link", FD.join(dir.path, newName)) }
    }

    /// `renameat` between two directories (same filesystem only; EXDEV otherwise).
    public func rename(_ from: String, to dir: FD, _ newName: String) throws {
        guard ByteName.withCString(from, { f in ByteName.withCString(newName) { renameat(raw, f, dir.raw, $0) } }) == 0 else { throw SystemError("rename", FD.join(dir.path, newName)) }
    }

    /// Owner and group of an entry of this directory, the entry itself if it is a symlink.
    public func chownEntry(_ name: String, uid: UInt32, gid: UInt32) throws {
        guard ByteName.withCString(name, { fchownat(raw, $0, uid, gid, HF_AT_SYMLINK_NOFOLLOW) }) == 0 else { throw SystemError("chown", FD.join(path, name)) }
    }

    /// Owner and group of the inode behind this descriptor (O_PATH included).
    public func chown(uid: UInt32, gid: UInt32) throws {
        guard fchownat(raw, "", uid, gid, HF_AT_EMPTY_PATH) == 0 else { throw SystemError("chown", path) }
    }

    /// Up to `count` bytes; 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(raw, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if Glibc.errno != EINTR { throw SystemError("read", path) }
        }
    }

    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < buffer.count {
            let n = Glibc.write(raw, buffer.baseAddress! + off, buffer.count - off)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemError("write", path)
            }
            off += n
        }
    }

    public func setMtime(sec: Int64, nsec: UInt32) throws {
        guard hf_set_mtime(raw, sec, Int(nsec)) == 0 else { throw SystemError("utimens", path) }
    }

    /// `flock(LOCK_EX|LOCK_NB)` kept until `unlock` or close: false if somebody else holds it.
    public func tryExclusiveLock() throws -> Bool {
        if flock(raw, LOCK_EX | LOCK_NB) == 0 { return true }
        if Glibc.errno == EWOULDBLOCK { return false }
        throw SystemError("flock", path)
    }

    public func unlock() { flock(raw, LOCK_UN) }
}

extension Posix {
    /// The process umask (read without changing it for longer than one call pair).
    public static func currentUmask() -> UInt32 {
        let old = umask(0o022)
        umask(old)
        return UInt32(old)
    }

    /// The gids of this process (`id -G` of the running session), primary included.
    public static func processGroups() -> [UInt32] {
        let n = getgroups(0, nil)
        var list = [gid_t](repeating: 0, count: Int(max(n, 0)))
        let got = list.withUnsafeMutableBufferPointer { getgroups(n, $0.baseAddress) }
        var result = Array(list.prefix(Int(max(got, 0))))
        if !result.contains(getegid()) { result.insert(getegid(), at: 0) }
        return result
    }
}

/// getdents64 buffers, reused: a 64 KiB malloc and free for every directory listed (87k in a 250k-entry
/// cache) made glibc consolidate its heap each time.
enum DirentBuffers {
    static let size = 64 * 1024
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [UnsafeMutableRawPointer] = []

    static func take() -> UnsafeMutableRawPointer {
        lock.lock()
        let buf = free.popLast()
        lock.unlock()
        return buf ?? .allocate(byteCount: size, alignment: 8)
    }

    /// Kept for the next listing, up to one per walker (64 at most), else freed.
    static func give(_ buf: UnsafeMutableRawPointer) {
        lock.lock()
        if free.count < Walkers.maximum { free.append(buf); lock.unlock() } else { lock.unlock(); buf.deallocate() }
    }
}
