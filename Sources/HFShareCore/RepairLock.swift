import CHFShare
import Glibc

/// One repair per ROOT at a time: an exclusive flock on `ROOT/.hfshare/repair.lock`.
public enum RepairLock {
    public static func with<T>(root: String, skip: Bool, _ body: () throws -> T) throws -> T {
        if skip { return try body() }
        let rootFD = try Paths.openVerifiedDirectory(root)
        if (try? rootFD.stat(Paths.stateDirectory)) == nil { try rootFD.mkdir(Paths.stateDirectory, mode: 0o755) }
        let state = try rootFD.openDirectory(Paths.stateDirectory)
        let lock = try state.openat("repair.lock", flags: O_RDWR | O_CREAT | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o644)
        guard flock(lock.raw, LOCK_EX | LOCK_NB) == 0 else {
            throw UsageError("\(root): another hfshare repair holds \(lock.path); wait for it to finish")
        }
        defer { flock(lock.raw, LOCK_UN) }
        return try body()
    }
}
