import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// The libacl wrapper against the real kernel, and the access algorithm against `setpriv ... test`.
@Suite(.serialized) struct ACLTests {
    @Test func roundTripsThroughLibacl() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let dir = try FD.openDirectory(box.dir)
        let acl = try #require(PosixACL.parse("u::rwx,g::r-x,g:4321:rwx,u:1234:r--,m::rwx,o::---"))
        try ACLStore.write(acl, to: dir, .access)
        try ACLStore.write(acl, to: dir, .default)
        #expect(try ACLStore.read(dir, .access) == acl)
        #expect(try ACLStore.read(dir, .default) == acl)
        #expect(acl.description == "u::rwx,u:1234:r--,g::r-x,g:4321:rwx,m::rwx,o::---")
        // The mode shows the mask as group bits; getfacl (the acl package) agrees with what we wrote.
        #expect(try dir.stat().permissions & 0o777 == 0o770)
        let getfacl = TestEnv.run(["/usr/bin/getfacl", "-cpn", box.dir]).stdout
        #expect(getfacl.contains("group:4321:rwx") && getfacl.contains("default:user:1234:r--"))
    }

    /// The walk decodes the kernel's xattr itself (one syscall); it must read exactly what libacl reads,
    /// including many named entries (past the stack buffer: the libacl fallback) and a symlink name.
    @Test func fastXattrDecodeAgreesWithLibacl() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let many = (0..<40).map { "u:\(5000 + $0):r--" }.joined(separator: ",")
        let texts = ["u::rw-,g::r--,o::---", "u::rw-,g::r--,g:4321:rw-,m::rw-,o::r--",
                     "u::rwx,u:1234:--x,g::---,g:7:r-x,g:4321:rwx,m::r-x,o::-w-", "u::rw-,\(many),g::r--,m::r--,o::---"]
        let dir = try FD.openDirectory(box.dir)
        for (i, text) in texts.enumerated() {
            TestEnv.sh("echo x > '\(box.path("f\(i)"))'")
            #expect(TestEnv.run(["/usr/bin/setfacl", "--set", text, box.path("f\(i)")]).status == 0)
            // A minimal ACL is the mode alone (no xattr): every reader says nil for it.
            let viaLibacl = i == 0 ? nil : try ACLStore.read(path: box.path("f\(i)"), .access, display: "")
            let fast = try ACLStore.readEntry(in: dir, "f\(i)")
            // The path for kernels without getxattrat(2): lgetxattr on /proc/self/fd/DIR/NAME.
            ACLStore.haveGetxattrat = false
            let viaProc = try ACLStore.readEntry(in: dir, "f\(i)")
            ACLStore.haveGetxattrat = true
            #expect(viaProc == viaLibacl, "\(text) via /proc")
            let fastFD = try ACLStore.read(try dir.openat("f\(i)", flags: O_RDONLY), .access)
            #expect(fast == viaLibacl && fastFD == viaLibacl, "\(text)")
            #expect(i == 0 ? fast == nil : fast?.isExtended == true)
        }
        TestEnv.sh("ln -s f1 '\(box.path("link"))'")
        #expect(try ACLStore.readEntry(in: dir, "link") == nil) // the link itself, never its target
        ACLStore.haveGetxattrat = false
        #expect(try ACLStore.readEntry(in: dir, "link") == nil)
        ACLStore.haveGetxattrat = true
    }

    @Test func fileWithoutExtendedACLReadsAsNil() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        TestEnv.sh("echo x > '\(box.path("f"))'; chmod 640 '\(box.path("f"))'")
        let dir = try FD.openDirectory(box.dir)
        #expect(try ACLStore.readEntry(in: dir, "f") == nil)
        #expect(try ACLStore.read(dir, .default) == nil)
        TestEnv.sh("setfacl -m g:4321:rw '\(box.path("f"))'")
        #expect(try ACLStore.readEntry(in: dir, "f")?[.group(4321)] == .rw)
    }

    /// Every verdict of the access algorithm is compared with what the kernel does for a real user.
    @Test func accessAlgorithmMatchesTheKernel() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g1 = acc.group(), g2 = acc.group()
        let owner = acc.user()
        let primary = acc.user(primary: g1)
        let supplementary = acc.user(supplementary: [g2])
        let named = acc.user()
        let stranger = acc.user()
        let setups: [(mode: String, acl: String?)] = [
            ("750", nil), ("705", nil), ("770", nil), ("701", nil),
            ("750", "u::rwx,g::r-x,g:\(g2.gid):rwx,m::rwx,o::---"),
            ("750", "u::rwx,g::r-x,g:\(g2.gid):rwx,m::r--,o::--x"),
            ("700", "u::rwx,g::---,u:\(0):---,g:\(g2.gid):-wx,m::-wx,o::r-x"),
            ("755", "u::rwx,g::rwx,u:\(0):rwx,m::r-x,o::r-x"),
        ]
        var checked = 0
        for (i, s) in setups.enumerated() {
            let d = box.path("d\(i)")
            TestEnv.sh("mkdir '\(d)' && chown \(owner.uid):\(g1.gid) '\(d)' && chmod \(s.mode) '\(d)'")
            if let acl = s.acl {
                let fixed = acl.replacingOccurrences(of: "u:0:", with: "u:\(named.uid):")
                #expect(TestEnv.run(["/usr/bin/setfacl", "--set", fixed, d]).status == 0)
            }
            let fd = try FD.openDirectory(d)
            let st = try fd.stat()
            let acl = try ACLStore.read(fd, .access)
            for u in [owner, primary, supplementary, named, stranger] {
                let who = Credentials.of(try #require(NSS.user(uid: u.uid)))
                for (flag, perm) in [("-x", ACLPerms.execute), ("-r", .read), ("-w", .write)] {
                    let real = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/usr/bin/test", flag, d]).status == 0
                    #expect(Access.allows(who, stat: st, acl: acl, want: perm) == real, "\(d) \(s) \(u.name) \(flag)")
                    checked += 1
                }
            }
        }
        #expect(checked == setups.count * 15)
    }
}
