import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// A lock held for a moment by another walker of the same run is not a download: every probe waits
/// it out (CI once saw repair leave a stale lock while the walker deleting its `.incomplete` held it).
@Suite struct LockProbeTests {
    @Test func aLockHeldForAMomentIsWaitedOutOneHeldLongerIsNot() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let path = box.path("x.lock")
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let holder = try FD.open(path, flags: O_RDONLY | O_CLOEXEC)
        let prober = try FD.open(path, flags: O_RDONLY | O_CLOEXEC)
        // Another open file description of the same process conflicts just like another process.
        #expect(flock(holder.raw, LOCK_EX | LOCK_NB) == 0)
        let released = DispatchSemaphore(value: 0)
        let raw = holder.raw
        Thread { // its own thread: the test pool's threads may all be busy with other tests
            usleep(15_000)
            flock(raw, LOCK_UN)
            released.signal()
        }.start()
        #expect(try prober.tryExclusiveLockAndRelease() == true)
        released.wait()
        #expect(flock(holder.raw, LOCK_EX | LOCK_NB) == 0)
        #expect(try prober.tryExclusiveLockAndRelease() == false)
        #expect(try prober.lockBriefly() == false)
        flock(holder.raw, LOCK_UN)
        #expect(try prober.lockBriefly() == true)
        #expect(flock(holder.raw, LOCK_EX | LOCK_NB) != 0)
        prober.unlock()
    }

    /// Hundreds of killed downloads (an old lock plus its old `.incomplete`), repaired by four walkers:
    /// every one is gone and a second audit is empty.
    @Test func repairRemovesEveryKilledDownloadWithManyWalkers() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        let made = box.hfshare(["init", root, "--group", g.name, "--root-is-member", "--no-profile"])
        try #require(made.status == 0, "\(made.stderr)")
        let setup = TestEnv.sh("""
            set -e
            cd '\(root)/hub'
            for r in $(seq 1 40); do
              mkdir -p .locks/models--o--r$r models--o--r$r/blobs
              for b in $(seq 1 12); do
                h=$(printf '%064d' $((r * 100 + b)))
                touch .locks/models--o--r$r/$h.lock models--o--r$r/blobs/$h.0a1b2c3d.incomplete
              done
            done
            find . -name '*.lock' -o -name '*.incomplete' | xargs touch -d '3 days ago'
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        for _ in 0..<2 {
            let repair = box.hfshare(["repair", root, "--threads", "4"])
            #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        }
        let left = TestEnv.sh("cd '\(root)/hub' && find . -name '*.lock' -o -name '*.incomplete' | wc -l")
        #expect(left.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(left.stdout)")
        let audit = box.hfshare(["audit", root])
        #expect(audit.status == 0, "\(audit.stdout)")
    }
}
