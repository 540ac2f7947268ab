import Foundation
import Glibc

/// A test hook for crash safety: in debug builds, `HFSHARE_TEST_CRASH_AFTER=N` makes the process
/// SIGKILL itself right after its N-th change to the tree, so tests can prove that a repair killed at
/// any moment and run again converges. Release builds compile it to nothing.
enum CrashPoint {
    #if DEBUG
    private static let limit: Int? = ProcessInfo.processInfo.environment["HFSHARE_TEST_CRASH_AFTER"].flatMap(Int.init)
    private static let lock = NSLock()
    nonisolated(unsafe) private static var changes = 0

    /// Call after every change made to the tree (chown, chmod, ACL write, unlink, create, rename).
    static func changed() {
        guard let limit else { return }
        lock.lock()
        changes += 1
        let reached = changes >= limit
        lock.unlock()
        if reached { raise(SIGKILL) }
    }
    #else
    @inline(__always) static func changed() {}
    #endif
}
