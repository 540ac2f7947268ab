import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// The repair contract's hard parts: a repair killed at any moment converges when rerun, a user racing
/// symlinks into the tree cannot make root touch anything outside ROOT, and one repair per ROOT.
@Suite(.serialized) struct RepairSafetyTests {
    /// Everything a repair may change or must keep, per path relative to the tree: type, mode, owner,
    /// group, size, link count, file mtime, ACLs, bytes, symlink target. Not inode numbers or ctimes
    /// (a broken link gets a new inode) and not directory mtimes (unlink and rename touch them).
    static func state(_ top: String) -> [String: String] {
        var result: [String: String] = [:]
        for (path, snap) in TreeSnapshot.take(top) {
            let rel = String(path.dropFirst(top.count))
            if rel.contains("/.hfshare/") || rel.hasSuffix("/.hfshare") { continue }
            let st = snap.stat
            var line = "\(st.type) \(String(st.mode, radix: 8)) \(st.uid) \(st.gid) \(st.nlink)"
            if st.type == .regular {
                line += " \(st.size) \(st.mtime) " + TestEnv.run(["/usr/bin/sha256sum", path]).stdout.prefix(64)
            }
            if st.type == .symlink { line += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?") }
            line += " a=\(snap.access ?? "-") d=\(snap.defaultACL ?? "-")"
            result[rel] = line
        }
        return result
    }

    @Test func killedAtEveryChangeAndRerunConvergesWithNoStrayFiles() throws {
        let f = try AuditKindsTests.makeFixture()
        defer { AuditKindsTests.tearDown(f) }
        let top = f.box.path("p")
        // The reference: one uninterrupted repair of an identical copy (cp -a keeps owners, ACLs and
        // the hard link between cache/ and cache.outside/, since both are inside the copied tree).
        #expect(TestEnv.sh("cp -a '\(top)' '\(top)-ref'").status == 0)
        let ref = f.box.hfshare(["repair", top + "-ref/cache"])
        #expect(ref.status == 0, "\(ref.stdout)\(ref.stderr)")
        let wanted = Self.state(top + "-ref")

        var crashes = 0
        var n = 1
        while n < 500 {
            let copy = top + "-\(n)"
            #expect(TestEnv.sh("cp -a '\(top)' '\(copy)'").status == 0)
            let killed = f.box.hfshare(["repair", copy + "/cache"], extraEnv: ["HFSHARE_TEST_CRASH_AFTER": String(n)])
            if killed.status != SIGKILL {
                // No n-th change: the run went through, so every change point has been crashed at.
                #expect(killed.status == 0, "\(killed.stdout)\(killed.stderr)")
                #expect(Self.state(copy) == wanted)
                TestEnv.sh("rm -rf '\(copy)'")
                break
            }
            crashes += 1
            let rerun = f.box.hfshare(["repair", copy + "/cache"])
            #expect(rerun.status == 0, "after a kill at change \(n): \(rerun.stdout)\(rerun.stderr)")
            let got = Self.state(copy)
            let diff = Set(got.map { "\($0) \($1)" }).symmetricDifference(wanted.map { "\($0) \($1)" })
            #expect(diff.isEmpty, "kill at change \(n): \(diff.sorted())")
            #expect(TestEnv.sh("find '\(copy)' -name '.hfshare-repair-*'").stdout.isEmpty, "stray temp file after kill at \(n)")
            let third = f.box.hfshare(["repair", copy + "/cache", "--format", "jsonl"])
            #expect(third.status == 0 && !third.stdout.contains("\"outcome\":\"fixed\""), "kill at \(n): third run changed \(third.stdout)")
            TestEnv.sh("rm -rf '\(copy)'")
            n += 1
        }
        // The fixture needs dozens of changes; fewer would mean the hook is not wired in.
        #expect(crashes > 20, "only \(crashes) change points")
    }

    @Test func symlinkSwapsDuringRepairNeverReachOutsideRoot() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let attacker = acc.user(supplementary: [g]) // primary group is its own: it can chgrp away from G
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "--no-profile"]).status == 0)
        // Victims outside ROOT: what root would wreck by following one of the user's symlinks.
        let victim = box.path("victim")
        let setup = TestEnv.sh("""
            set -e
            mkdir -m 0700 '\(victim)'; echo private > '\(victim)/file'; chmod 0600 '\(victim)/file'
            echo private > '\(box.path("victimfile"))'; chmod 0600 '\(box.path("victimfile"))'
            d='\(root)/hub/models--race--r'
            mkdir -p "$d/blobs"; echo data > "$d/blobs/f"; echo data > "$d/f"
            ln -s '\(victim)' "$d/blobs.link"; ln -s '\(box.path("victimfile"))' "$d/f.link"
            chown -R -h \(attacker.uid):\(attacker.gid) "$d"
            """)
        #expect(setup.status == 0, "\(setup.stderr)")
        let before = TreeSnapshot.take(victim).merging(TreeSnapshot.take(box.path("victimfile"))) { a, _ in a }

        // The attacker, as a member: swaps the real dir/file with its symlink (renameat2 EXCHANGE) as
        // fast as it can and keeps the real ones wrong (mode, group), so repair always wants to act.
        let script = box.path("attack.py")
        try """
        import ctypes, os, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        os.chdir(sys.argv[1]); end = time.time() + float(sys.argv[2]); n = 0
        real = {"blobs": "blobs", "f": "f"}
        while time.time() < end:
            for a in ("blobs", "f"):
                if libc.renameat2(-100, a.encode(), -100, (a + ".link").encode(), 2) == 0:
                    real[a] = a + ".link" if real[a] == a else a
                    n += 1
                try:
                    os.chown(real[a], -1, os.getgid(), follow_symlinks=False)
                    os.chmod(real[a], 0o700 if a == "blobs" else 0o600)
                except OSError:
                    pass
            if n % 256 == 0:
                open(sys.argv[3], "w").write(str(n))
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o644)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=\(attacker.uid)", "--regid=\(attacker.gid)", "--init-groups", "/usr/bin/python3", script,
                       root + "/hub/models--race--r", "13", box.path("swaps")]
        #expect(TestEnv.sh("touch '\(box.path("swaps"))' && chown \(attacker.uid) '\(box.path("swaps"))'").status == 0)
        try p.run()
        var runs = 0, fixedSomething = 0
        let deadline = Posix.now() + 12
        while Posix.now() < deadline {
            let r = box.hfshare(["repair", root, "--format", "jsonl"])
            #expect(r.status == 0 || r.status == 1, "repair exited \(r.status): \(r.stderr)")
            if r.stdout.contains("\"outcome\":\"fixed\"") { fixedSomething += 1 }
            runs += 1
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let swaps = Int((try? String(contentsOfFile: box.path("swaps"), encoding: .utf8)) ?? "") ?? 0
        let after = TreeSnapshot.take(victim).merging(TreeSnapshot.take(box.path("victimfile"))) { a, _ in a }
        #expect(after == before, "root changed something outside ROOT")
        #expect(runs >= 10 && fixedSomething >= 5, "the race was not exercised: \(runs) runs, \(fixedSomething) with fixes")
        #expect(swaps > 1000, "only \(swaps) swaps")
    }

    @Test func oneRepairPerRootAlsoAcrossNodes() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "--no-profile"]).status == 0)
        let owner = root + "/.hfshare/repair.owner"

        // A repair elsewhere holds the flock.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('ok', flush=True); time.sleep(60)",
                            root + "/.hfshare/repair.lock"]
        let hout = Pipe()
        holder.standardOutput = hout
        try holder.run()
        _ = hout.fileHandleForReading.availableData
        let busy = box.hfshare(["repair", root])
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(busy.status == 2 && busy.stderr.contains("another hfshare repair"), "\(busy.stderr)")

        // Another node's repair, where flock is node-local: only the owner record shows it.
        try "othernode 4242\n".write(toFile: owner, atomically: false, encoding: .utf8)
        let other = box.hfshare(["repair", root])
        #expect(other.status == 2 && other.stderr.contains("pid 4242 on othernode"), "\(other.stderr)")
        // ... and once it is older than any repair runs, it was left by a killed one: taken over.
        #expect(TestEnv.sh("touch -d '13 hours ago' '\(owner)'").status == 0)
        let old = box.hfshare(["repair", root])
        #expect(old.status == 0, "\(old.stderr)")
        #expect(!FileManager.default.fileExists(atPath: owner))

        // Left on this host by a process that is gone (a kill -9): taken over at once.
        try "\(ProcessInfo.processInfo.hostName) 999999\n".write(toFile: owner, atomically: false, encoding: .utf8)
        let dead = box.hfshare(["repair", root])
        #expect(dead.status == 0, "\(dead.stderr)")
        #expect(!FileManager.default.fileExists(atPath: owner))
    }
}
