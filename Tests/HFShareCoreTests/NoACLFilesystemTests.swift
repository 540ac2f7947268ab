import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// A loop-mounted btrfs with `noacl`: init must find out by trying that ACLs do not work, fall back to
/// setgid + mode bits + `umask 002` in the profile, and say so; audit must not ask for ACLs there.
@Suite(.serialized) struct NoACLFilesystemTests {
    @Test func initFallsBackToSetgidAndUmask() throws {
        let box = Sandbox(), acc = TempAccounts()
        let mnt = box.path("mnt")
        defer {
            TestEnv.run(["/usr/bin/umount", mnt])
            box.cleanup(); acc.cleanup()
        }
        let made = TestEnv.sh("""
            set -e
            truncate -s 130M '\(box.path("fs.img"))'
            mkfs.btrfs -q -f '\(box.path("fs.img"))' >/dev/null 2>&1
            mkdir '\(mnt)'
            mount -o loop,noacl '\(box.path("fs.img"))' '\(mnt)'
            """)
        try #require(made.status == 0, "loop mount failed: \(made.stderr)")
        let g = acc.group()
        let root = mnt + "/cache"
        let r = box.hfshare(["init", root, "--group", g.name])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("has no POSIX ACLs"))
        #expect(try RootConfig.load(root: root)?.acl == false)
        let st = try #require(fileStat(root + "/hub"))
        #expect(st.permissions == 0o2775 && st.gid == g.gid)
        let profile = try String(contentsOfFile: box.path("profile.d/hfshare.sh"), encoding: .utf8)
        #expect(profile.contains("umask 002"))
        // A member with the profile's umask creates group-writable files; audit is clean with no ACL kinds.
        let member = acc.user(primary: g)
        let w = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(member.uid)", "--regid=\(member.gid)", "--init-groups", "/bin/sh", "-c",
                             "umask 077; . \(box.path("profile.d/hfshare.sh")); mkdir \(root)/hub/m && echo x > \(root)/hub/m/f"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(fileStat(root + "/hub/m/f")?.permissions == 0o664)
        let audit = box.hfshare(["audit", "--format", "jsonl"])
        #expect(audit.status == 0, "\(audit.stdout)")
        #expect(!audit.stdout.contains("acl"))
    }
}
