import CHFShare
import Foundation
import Glibc

/// `ROOT/.hfshare`: the tool's own state (config, probe record, repair lock, verify records, pins).
///
/// ROOT is group-writable without the sticky bit (members must manage `hub/` and the rest), so a member
/// can rename `.hfshare` away and put a directory of their own in its place. Nothing in it is therefore
/// trusted by path: the directory is opened O_NOFOLLOW relative to the verified ROOT descriptor, and is
/// trusted only if that very inode is a root-owned directory that nobody else can write (0755, or 2750
/// with `--other none`). Its files are opened O_NOFOLLOW, must be root-owned regular files, and are read
/// with a size cap. A wrong state dir is a refusal (exit 2) that says why, never an instruction.
public final class StateDir: @unchecked Sendable {
    public let root: String
    public let fd: FD
    public var path: String { fd.path }

    init(root: String, fd: FD) { self.root = root; self.fd = fd }

    /// The verified state dir of ROOT; `create` (root only) makes it when missing. Throws `UsageError`
    /// when it is missing (and not created), not a directory, a symlink, not root's or writable by others.
    public static func open(root: String, rootFD: FD? = nil, create: Bool = false, mode: UInt32 = 0o755) throws -> StateDir {
        if let s = try openIfPresent(root: root, rootFD: rootFD) { return s }
        let path = FD.join(root, Paths.stateDirectory)
        guard create else {
            throw UsageError("\(Escape.text(path)): missing (not made by hfshare init, or moved away); run: sudo hfshare init \(Shell.quote(root)) --group NAME")
        }
        guard Posix.isRoot() else { throw UsageError("\(Escape.text(path)): only root can create the state directory") }
        let rootFD = try rootFD ?? Paths.openVerifiedDirectory(root)
        try rootFD.mkdir(Paths.stateDirectory, mode: 0o700)
        guard let s = try openIfPresent(root: root, rootFD: rootFD, expectFresh: true) else {
            throw UsageError("\(Escape.text(path)): vanished right after it was made; somebody is racing hfshare, look at \(Escape.text(root))")
        }
        try s.fd.chown(uid: 0, gid: try s.fd.stat().gid)
        try s.fd.chmod(mode)
        return s
    }

    /// nil when ROOT has no `.hfshare` at all (a bare hub cache); throws when it is there but not trustworthy.
    public static func openIfPresent(root: String, rootFD: FD? = nil, expectFresh: Bool = false) throws -> StateDir? {
        let rootFD = try rootFD ?? Paths.openVerifiedDirectory(root)
        let path = FD.join(root, Paths.stateDirectory)
        let fd: FD
        do {
            fd = try rootFD.openat(Paths.stateDirectory, flags: FD.directoryFlags)
        } catch let e as SystemError where e.errno == ENOENT {
            return nil
        } catch let e as SystemError where e.errno == ELOOP || e.errno == ENOTDIR {
            throw UsageError("\(Escape.text(path)): is a symlink or not a directory (a member may have replaced it); refusing to use it. Inspect and remove it, then run: sudo hfshare init \(Shell.quote(root)) --group NAME")
        }
        let st = try fd.stat()
        if st.uid != 0 {
            throw UsageError("\(Escape.text(path)): owned by uid \(st.uid), not root (a member may have replaced it); refusing to trust it. Inspect and remove it, then run: sudo hfshare init \(Shell.quote(root)) --group NAME")
        }
        if st.permissions & 0o022 != 0 && !expectFresh {
            throw UsageError("\(Escape.text(path)): mode \(String(st.permissions, radix: 8)) lets others write it; refusing to trust it. Fix: sudo chmod 755 \(Shell.quote(path)) and inspect its files")
        }
        return StateDir(root: root, fd: fd)
    }

    /// A root-owned regular file of the state dir, at most `maxBytes`; nil if there is none.
    public func read(_ name: String, maxBytes: Int = 1 << 20) throws -> Data? {
        let shown = Escape.text(FD.join(path, name))
        do {
            return try fd.readRootFile(name, maxBytes: maxBytes).map { Data($0) }
        } catch let refusal as RootFileRefusal {
            switch refusal {
            case .symlink:
                throw UsageError("\(shown): is a symlink; refusing to read it. Remove it and re-run: sudo hfshare init \(Shell.quote(root))")
            case .notRegular:
                throw UsageError("\(shown): not a regular file; refusing to read it. Remove it and re-run: sudo hfshare init \(Shell.quote(root))")
            case .notRoot(let uid):
                throw UsageError("\(shown): owned by uid \(uid), not root; refusing to trust it. Remove it and re-run: sudo hfshare init \(Shell.quote(root))")
            case .tooBig(let size):
                throw UsageError("\(shown): \(size) bytes, more than the \(maxBytes) this file may have; refusing to read it")
            case .grew:
                throw UsageError("\(shown): grew past \(maxBytes) bytes while read")
            }
        }
    }

    /// Writes atomically (temp name, fsync, rename, fsync of the dir). Returns false, writing nothing,
    /// when the file already holds exactly these bytes with this mode and group.
    @discardableResult
    public func write(_ name: String, _ data: Data, mode: UInt32 = 0o644, gid: UInt32? = nil) throws -> Bool {
        if let old = try? read(name, maxBytes: max(data.count, 1)), old == data,
           let st = try? fd.stat(name), st.permissions == mode, gid == nil || st.gid == gid! {
            return false
        }
        let owner = try fd.stat()
        try fd.placeFile(name, data, mode: mode, uid: 0, gid: gid ?? owner.gid)
        return true
    }

    public func exists(_ name: String) -> Bool { (try? fd.stat(name)) != nil }

    public func remove(_ name: String) throws {
        do { try fd.unlink(name) } catch let e as SystemError where e.errno == ENOENT {}
    }

    /// A lock file only root can open (0600): a member or a stranger cannot take it to block repair.
    public func lockFile(_ name: String) throws -> FD {
        let lock = try fd.openat(name, flags: O_RDWR | O_CREAT | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, mode: 0o600)
        let st = try lock.stat()
        guard st.type == .regular, st.uid == 0 else { throw UsageError("\(Escape.text(lock.path)): not a root-owned regular file; remove it") }
        if st.permissions != 0o600 { try lock.chmod(0o600) } // 0.1.0 made it 0644
        return lock
    }

    /// A root-only subdirectory (0700), made when missing, verified like the state dir itself. It carries
    /// no ACL: the state dir's default ACL (readers' and the group's entries) would otherwise be
    /// inherited by it and by every file made in it, and nobody but root is to read these.
    public func subdirectory(_ name: String, create: Bool = true) throws -> FD? {
        do {
            let d = try fd.openat(name, flags: FD.directoryFlags)
            let st = try d.stat()
            guard st.uid == 0, st.permissions & 0o077 == 0 else {
                throw UsageError("\(Escape.text(d.path)): not a root-only directory (owner \(st.uid), mode \(String(st.permissions, radix: 8))); refusing to use it")
            }
            return d
        } catch let e as SystemError where e.errno == ENOENT {
            guard create else { return nil }
            try fd.mkdir(name, mode: 0o700)
            if let d = try subdirectory(name, create: false) {
                d.removeXattr(ACLStore.xattrName(.default))
                d.removeXattr(ACLStore.xattrName(.access))
                try d.chmod(0o700)
                return d
            }
            return nil
        }
    }
}

/// Why a file root keeps for itself (state dir, link index) was not read: it must be a root-owned
/// regular file, reached without a symlink, of at most a given size.
enum RootFileRefusal: Error {
    case symlink, notRegular, notRoot(uid: UInt32), tooBig(size: UInt64), grew
}

extension FD {
    /// The bytes of `name` here: opened O_NOFOLLOW (and non-blocking: a FIFO put there must not hang
    /// root), a root-owned regular file of at most `maxBytes`. nil when there is no such name; throws
    /// `RootFileRefusal` for anything else there, `SystemError` when it cannot be read.
    func readRootFile(_ name: String, maxBytes: Int) throws -> [UInt8]? {
        let file: FD
        do {
            file = try openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC)
        } catch let e as SystemError where e.errno == ENOENT {
            return nil
        } catch let e as SystemError where e.errno == ELOOP {
            throw RootFileRefusal.symlink
        }
        let st = try file.stat()
        guard st.type == .regular else { throw RootFileRefusal.notRegular }
        guard st.uid == 0 else { throw RootFileRefusal.notRoot(uid: st.uid) }
        guard st.size <= UInt64(maxBytes) else { throw RootFileRefusal.tooBig(size: st.size) }
        // The size stat'ed, and one byte more to see whether it grew since (then read on to the end, in
        // pieces): one buffer no bigger than needed, the link index reads one small file per repo.
        var out = try file.readAll(max: Int(st.size) + 1)
        while out.count > Int(st.size) && out.count <= maxBytes {
            let more = try file.readAll(max: min(64 * 1024, maxBytes + 1 - out.count))
            if more.isEmpty { break }
            out += more
        }
        guard out.count <= maxBytes else { throw RootFileRefusal.grew }
        return out
    }
}
