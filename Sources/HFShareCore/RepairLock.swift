import CHFShare
import Foundation
import Glibc

/// One repair per ROOT at a time, also across nodes of a shared filesystem.
///
/// Two layers, because `flock` cannot be trusted everywhere a cache lives: an exclusive `flock` on
/// `ROOT/.hfshare/repair.lock` (exact and crash-proof where it works), plus an owner record
/// `ROOT/.hfshare/repair.owner` made with O_EXCL, which every node sees even where `flock` is missing
/// (ENOSYS/ENOLCK/EIO: Lustre without `-o flock`) or node-local (BeeGFS). A record left by a killed
/// repair is taken over when its process is gone (same host) or when it is older than `staleAfter`
/// (another host, whose processes we cannot see).
public enum RepairLock {
    public static let staleAfter: Double = 12 * 3600

    public static func with<T>(root: String, skip: Bool, _ body: () throws -> T) throws -> T {
        if skip { return try body() }
        // Root-only state (see StateDir): the lock is 0600 in a dir only root can write, so neither a
        // member nor a stranger can open it to hold repair off, or plant a link in its place.
        let stateDir = try StateDir.open(root: root, create: true)
        let state = stateDir.fd
        let lock = try stateDir.lockFile("repair.lock")
        var flockHeld = false
        if flock(lock.raw, LOCK_EX | LOCK_NB) == 0 {
            flockHeld = true
        } else if Glibc.errno == EWOULDBLOCK {
            throw UsageError("\(root): another hfshare repair holds \(lock.path); wait for it to finish")
        } // else: this filesystem has no working flock; the owner record alone decides.
        defer { if flockHeld { flock(lock.raw, LOCK_UN) } }
        try acquireOwner(stateDir, root: root, flockHeld: flockHeld)
        defer { try? state.unlink(ownerFile) }
        return try body()
    }

    static let ownerFile = "repair.owner"

    public struct Owner: Equatable {
        public var host: String
        public var pid: Int32

        public static var current: Owner { Owner(host: ProcessInfo.processInfo.hostName, pid: getpid()) }
        var line: String { "\(host) \(pid)\n" }

        init(host: String, pid: Int32) { self.host = host; self.pid = pid }
        init?(_ text: String) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard parts.count >= 2, let pid = Int32(parts[1]) else { return nil }
            self.init(host: String(parts[0]), pid: pid)
        }
    }

    static func acquireOwner(_ stateDir: StateDir, root: String, flockHeld: Bool) throws {
        let state = stateDir.fd
        for _ in 0..<3 {
            if let fd = try? state.openat(ownerFile, flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600) {
                let line = Owner.current.line
                _ = line.withCString { Glibc.write(fd.raw, $0, strlen($0)) }
                try? fd.fsync()
                return
            }
            guard Glibc.errno == EEXIST else { throw SystemError("create", FD.join(state.path, ownerFile)) }
            let st = try state.stat(ownerFile)
            // Read like every state file: no symlink followed, root's regular file only, a few bytes.
            let text = ((try? stateDir.read(ownerFile, maxBytes: 512)) ?? nil).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let owner = Owner(text)
            let age = Posix.now() - st.mtime
            let sameHost = owner?.host == Owner.current.host
            // Same host: the process tells. Holding the flock on the same host also proves the other
            // repair is gone. Another host: only age can tell.
            let alive: Bool
            if let owner, sameHost {
                alive = !flockHeld && owner.pid != getpid() && (kill(owner.pid, 0) == 0 || Glibc.errno == EPERM)
            } else {
                alive = age < staleAfter
            }
            if alive {
                let who = owner.map { "pid \($0.pid) on \(Escape.text($0.host))" } ?? "an unknown process"
                throw UsageError("\(root): another hfshare repair (\(who), started \(Int(age / 60)) min ago) holds \(FD.join(state.path, ownerFile)); wait for it, or if it is gone: rm \(FD.join(state.path, ownerFile))")
            }
            try? state.unlink(ownerFile) // stale: left by a killed repair
        }
        throw UsageError("\(root): could not take \(FD.join(state.path, ownerFile)): another repair keeps racing for it")
    }
}
