import CHFShare
import Glibc

// The system calls only the filesystem probe makes (locks of every kind, links, O_TMPFILE, chown to
// another uid), wrapped once like those in Syscalls.swift; kept in their own file so the probe's
// additions stay apart from the walker's descriptor layer.

/// The lock APIs a cache client may use: `flock` (huggingface_hub through filelock), classic POSIX
/// record locks (per process) and open-file-description record locks (per open, so two opens in one
/// process conflict like two processes would).
public enum LockAPI: String, Sendable, Codable {
    case flock, posix, ofd
}

public enum LockMode: Sendable { case exclusive, shared }

extension LockAPI {
    var code: Int32 { self == .flock ? 0 : (self == .posix ? 1 : 2) }
    var call: String { self == .flock ? "flock" : (self == .posix ? "fcntl(F_SETLK)" : "fcntl(F_OFD_SETLK)") }
}

/// What one process got when it tried a lock.
public enum LockAttempt: Equatable, Sendable {
    case taken
    /// Somebody else holds it (EWOULDBLOCK, EAGAIN, EACCES).
    case held
    case failed(SystemError)

    init(_ code: Int32, _ api: LockAPI, _ path: String) {
        if code == 0 { self = .taken; return }
        let e = SystemError(api.call, path, code)
        self = e.isLockContention ? .held : .failed(e)
    }

    /// "taken", "held" or the errno's name, for counting.
    public var label: String {
        switch self {
        case .taken: return "taken"
        case .held: return "held"
        case .failed(let e): return e.errnoName
        }
    }
}

/// A lock held by a child process until `release()` (or until this object goes).
public final class ChildLock {
    var batch = ChildLock.emptyBatch()

    static func emptyBatch() -> hf_lock_batch {
        var b = hf_lock_batch()
        b.control = -1
        return b
    }

    public func release() { hf_lock_batch_end(&batch) }
    deinit { hf_lock_batch_end(&batch) }
}

/// What statfs says about a mounted filesystem.
public struct FilesystemStat: Sendable, Equatable {
    public var magic: Int
    public var flags: UInt
}

extension SystemError {
    /// The errno's symbolic name (EIO, ENOSYS, ...), for reports that people paste into bug trackers.
    public var errnoName: String { Errno.name(errno) }
    public var isLockContention: Bool { errno == EWOULDBLOCK || errno == EAGAIN || errno == EACCES }
    public var isNotSupported: Bool { errno == EOPNOTSUPP || errno == ENOTSUP || errno == ENOSYS }
}

public enum Errno {
    static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN", EACCES: "EACCES",
        EEXIST: "EEXIST", EXDEV: "EXDEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL",
        EROFS: "EROFS", EMLINK: "EMLINK", ENOSPC: "ENOSPC", ENOSYS: "ENOSYS", ENOLCK: "ENOLCK",
        EOPNOTSUPP: "EOPNOTSUPP", ENODATA: "ENODATA", ESTALE: "ESTALE", EDEADLK: "EDEADLK",
        ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", ETIMEDOUT: "ETIMEDOUT",
    ]

    public static func name(_ code: Int32) -> String { names[code] ?? "errno \(code)" }
}

extension FD {
    /// Non-blocking lock attempts on `name` in this directory by `count` child processes, each
    /// releasing at once (a separate process is what another client is; some filesystems answer per
    /// process). Errors other than "somebody holds it" (ENOSYS, EIO, ENOLCK, ...) are results, not
    /// throws: they are what the probe is looking for.
    public func lockAttemptsByChildren(_ name: String, _ api: LockAPI, _ mode: LockMode, count: Int) throws -> [LockAttempt] {
        var batch = ChildLock.emptyBatch()
        defer { hf_lock_batch_end(&batch) }
        var results = [Int32](repeating: 0, count: count)
        let n = hf_lock_batch_run(raw, name, api.code, mode == .exclusive ? 1 : 0, 0, Int32(count), &results, &batch)
        guard n > 0 else { throw SystemError("fork", FD.join(path, name)) }
        return results[0..<Int(n)].map { LockAttempt($0, api, FD.join(path, name)) }
    }

    /// Child processes try to take `name` exclusively, up to `tries` of them; the first that gets it
    /// holds it until `release()`. Also returns what the others got.
    public func holdLockInChild(_ name: String, _ api: LockAPI, tries: Int) throws -> (ChildLock?, [LockAttempt]) {
        let lock = ChildLock()
        var results = [Int32](repeating: 0, count: tries)
        let n = hf_lock_batch_run(raw, name, api.code, 1, 1, Int32(tries), &results, &lock.batch)
        guard n > 0 else { throw SystemError("fork", FD.join(path, name)) }
        let attempts = results[0..<Int(n)].map { LockAttempt($0, api, FD.join(path, name)) }
        if attempts.last == .taken { return (lock, Array(attempts.dropLast())) }
        lock.release()
        return (nil, attempts)
    }

    /// Creates a new regular file `name` here (O_EXCL, never following a symlink).
    public func createFile(_ name: String, mode: UInt32) throws -> FD {
        try openat(name, flags: O_RDWR | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: mode_t(mode))
    }

    /// An unnamed file in this directory (`O_TMPFILE`).
    public func openTemporaryFile(mode: UInt32) throws -> FD {
        let fd = hf_open(raw, ".", O_RDWR | HF_O_TMPFILE | HF_O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open(O_TMPFILE)", path) }
        return FD(raw: fd, path: path + "/(O_TMPFILE)")
    }




    public func write(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Glibc.pwrite(raw, $0.baseAddress, bytes.count, 0) }
        guard n == bytes.count else { throw SystemError("write", path) }
    }

    /// Up to `limit` bytes from the start of the file.
    public func readAll(limit: Int = 4096) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: limit)
        let n = buf.withUnsafeMutableBytes { Glibc.pread(raw, $0.baseAddress, limit, 0) }
        guard n >= 0 else { throw SystemError("read", path) }
        return Array(buf[0..<n])
    }

    public func statfs() throws -> FilesystemStat {
        var s = hf_statfs()
        guard hf_fstatfs(raw, &s) == 0 else { throw SystemError("statfs", path) }
        return FilesystemStat(magic: s.type, flags: s.flags)
    }

    /// The mount id statx reports (0 where the kernel does not), to find our line in mountinfo.
    public var mountID: UInt64 {
        var s = hf_stat()
        guard hf_statx(raw, "", HF_AT_EMPTY_PATH | HF_AT_SYMLINK_NOFOLLOW, &s) == 0 else { return 0 }
        return s.mnt_id
    }

    /// Removes `name` and, if it is a directory, everything under it (never following symlinks).
    public func removeTree(_ name: String) throws {
        let st = try stat(name)
        if st.type == .directory {
            let dir = try openDirectory(name)
            for entry in try dir.entries() { try dir.removeTree(entry.name) }
        }
        try unlink(name, directory: st.type == .directory)
    }
}

extension Posix {
    public static var egid: UInt32 { getegid() }
    /// The caller's supplementary groups.
    public static func groups() -> [UInt32] {
        let n = getgroups(0, nil)
        guard n > 0 else { return [] }
        var list = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &list)
        return got > 0 ? Array(list[0..<Int(got)]) : []
    }
    public static var pid: Int32 { getpid() }
}
