import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare init` through the built binary, on temp trees, with temporary groups and users.
@Suite(.serialized) struct InitCLITests {
    @Test func createsTheLayoutWithGroupModesAndACLs() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        let r = box.hfshare(["init", root, "--group", g.name])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for rel in ["", "/hub", "/datasets", "/xet", "/assets"] {
            let st = try #require(fileStat(root + rel))
            #expect(st.type == .directory)
            #expect(st.gid == g.gid, "\(rel) group")
            #expect(st.permissions == 0o2775, "\(rel) mode \(String(st.permissions, radix: 8))")
            #expect(readACL(root + rel)?[.group(g.gid)] == .rwx, "\(rel) access ACL")
            #expect(readACL(root + rel, .default)?.description == "u::rwx,g::rwx,g:\(g.gid):rwx,m::rwx,o::r-x", "\(rel) default ACL")
        }
        let config = try #require(try RootConfig.load(root: root))
        #expect(config.group == g.name && config.gid == g.gid && config.acl)
        #expect(fileStat(RootConfig.path(root))?.permissions == 0o644)
        let registry = try String(contentsOfFile: box.path("etc/roots"), encoding: .utf8)
        // root's own copy of the group (members can rename .hfshare, never /etc)
        #expect(registry.split(separator: "\n").contains(Substring("\(root)\t\(g.name)\t\(g.gid)")))
        let state = try #require(fileStat(root + "/.hfshare"))
        #expect(state.uid == 0 && state.permissions & 0o022 == 0, "state dir must be root's and not group-writable")
        let profile = try String(contentsOfFile: box.path("profile.d/hfshare.sh"), encoding: .utf8)
        for v in ["HF_HUB_CACHE=\(root)/hub", "HF_DATASETS_CACHE=\(root)/datasets", "HF_XET_CACHE=\(root)/xet",
                  "HF_ASSETS_CACHE=\(root)/assets", "HF_TOKEN_PATH=\"${HOME}/.cache/huggingface/token\""] {
            #expect(profile.contains("export \(v)"), "profile lacks \(v)")
        }
        #expect(!profile.contains("HF_HOME="))
        #expect(!profile.contains("umask"))
        // The snippet is valid sh and sets the variables for a member only.
        let member = acc.user(primary: g)
        let other = acc.user()
        let show = ". \(box.path("profile.d/hfshare.sh")); echo \"[$HF_HUB_CACHE]\""
        let asMember = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(member.uid)", "--regid=\(member.gid)", "--init-groups", "/bin/sh", "-c", show])
        #expect(asMember.stdout == "[\(root)/hub]\n", "\(asMember)")
        let asOther = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(other.uid)", "--regid=\(other.gid)", "--init-groups", "/bin/sh", "-c", show])
        #expect(asOther.stdout == "[]\n")
        // And audit, which needs no --group now, is clean (root-owned skeleton is not owner-not-member).
        let audit = box.hfshare(["audit"])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
    }

    @Test func secondRunChangesNothingNotEvenCtime() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name]).status == 0)
        let before = TreeSnapshot.take(root)
        let profileBefore = fileStat(box.path("profile.d/hfshare.sh"))
        usleep(20_000)
        let r = box.hfshare(["init", root, "--group", g.name])
        #expect(r.status == 0)
        #expect(r.stdout.contains("nothing changed"), "\(r.stdout)")
        #expect(TreeSnapshot.take(root) == before)
        #expect(fileStat(box.path("profile.d/hfshare.sh")) == profileBefore)
    }

    @Test func dryRunCreatesNothingAndPrintsThePlan() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        let r = box.hfshare(["init", root, "--group", g.name, "--dry-run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("would create \(root)/hub"))
        #expect(r.stdout.contains("would write \(box.path("profile.d/hfshare.sh"))"))
        #expect(!FileManager.default.fileExists(atPath: root))
        #expect(!FileManager.default.fileExists(atPath: box.path("etc")))
        #expect(!FileManager.default.fileExists(atPath: box.path("profile.d")))
    }

    @Test func adoptsAnExistingTreeWithTheRepairRules() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let alice = acc.user(primary: g)
        let root = box.path("cache")
        let blobs = root + "/hub/models--a--b/blobs"
        TestEnv.sh("""
            set -e
            mkdir -p '\(blobs)' '\(box.path("outside"))'
            echo secret > '\(box.path("outside/private"))'; chmod 600 '\(box.path("outside/private"))'
            echo weights > '\(blobs)/aaaa'; chmod 600 '\(blobs)/aaaa'
            echo other > '\(blobs)/bbbb'; chmod 4666 '\(blobs)/bbbb'
            ln '\(box.path("outside/private"))' '\(blobs)/cccc'
            ln -s '\(box.path("outside/private"))' '\(blobs)/link'
            chown -R \(alice.uid) '\(root)/hub'
            """)
        let outsideBefore = fileStat(box.path("outside/private"))
        let r = box.hfshare(["init", root, "--group", g.name, "--root-is-member"])
        // The hard link to a file outside ROOT is reported, not touched, so init exits 1.
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("file-hardlink-outside"))
        #expect(r.stdout.contains("\(blobs)/cccc"))
        #expect(fileStat(box.path("outside/private")) == outsideBefore)
        let a = try #require(fileStat(blobs + "/aaaa"))
        #expect(a.gid == g.gid && a.permissions == 0o660 && a.uid == alice.uid)
        let b = try #require(fileStat(blobs + "/bbbb"))
        #expect(b.permissions == 0o664)
        #expect(fileStat(blobs)?.permissions == 0o2775)
        #expect(readACL(blobs, .default)?[.group(g.gid)] == .rwx)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: blobs + "/link") == box.path("outside/private"))
    }

    @Test func refusesBadInputAndChangesNothing() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let user = acc.user(primary: g)
        TestEnv.sh("mkdir -p '\(box.path("real"))'; echo x > '\(box.path("file"))'; ln -s real '\(box.path("link"))'; chown -h \(user.uid) '\(box.path("link"))'")
        let before = TreeSnapshot.take(box.dir)
        let cases: [([String], String)] = [
            (["init", "/", "--group", g.name], "refusing"),
            (["init", "/etc/hfshare-cache", "--group", g.name], "system tree /etc"),
            (["init", "/usr/share/hf", "--group", g.name], "system tree /usr"),
            (["init", "/home", "--group", g.name], "refusing"),
            (["init", box.path("file"), "--group", g.name], "not a directory"),
            (["init", box.path("new"), "--group", "no-such-group-hfs"], "does not exist"),
            (["init", box.path("link"), "--group", g.name], "symlink owned by uid \(user.uid)"),
            (["init", box.path("link") + "/sub", "--group", g.name], "symlink owned by uid \(user.uid)"),
            (["init", box.path("new"), "--group", g.name, "--other", "some"], "other"),
        ]
        for (args, message) in cases {
            let r = box.hfshare(args)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stdout)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let asUser = box.hfshare(as: user, ["init", box.path("new"), "--group", g.name])
        #expect(asUser.status == 2)
        #expect(asUser.stderr.contains("must run as root"))
        #expect(TreeSnapshot.take(box.dir) == before)
        #expect(!FileManager.default.fileExists(atPath: "/etc/hfshare-cache"))
    }

    @Test func createGroupOtherNoneAndPrintEnv() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let probe = acc.group() // reserve a free gid, then free the name for init to create
        let name = probe.name + "n"
        let root = box.path("cache")
        let r = box.hfshare(["init", root, "--group", name, "--create-group", "--gid", "61999", "--other", "none", "--print-env", "--no-profile"])
        defer { TestEnv.run(["/usr/sbin/groupdel", name]) }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(NSS.group(named: name)?.gid == 61999)
        #expect(fileStat(root + "/hub")?.permissions == 0o2770)
        #expect(readACL(root + "/hub", .default)?[.other] == [])
        #expect(r.stdout.contains("export HF_HUB_CACHE=\(root)/hub"))
        #expect(!r.stdout.contains("HF_HOME="))
        #expect(!FileManager.default.fileExists(atPath: box.path("profile.d/hfshare.sh")))
    }

    @Test func reportsTheAncestorMembersCannotSearch() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        TestEnv.sh("mkdir -p '\(box.path("locked"))' && chmod 700 '\(box.path("locked"))'")
        let r = box.hfshare(["init", box.path("locked/cache"), "--group", g.name])
        #expect(r.status == 0)
        #expect(r.stdout.contains("parent-not-traversable"))
        #expect(r.stdout.contains("setfacl -m g:\(g.name):x \(box.path("locked"))"), "\(r.stdout)")
        #expect(!r.stdout.contains("\(box.dir)  [mode"), "only the blocking ancestor is named")
    }

    @Test func membersWithUmask077StillShare() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let a = acc.user(primary: g)
        let b = acc.user(supplementary: [g])
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name]).status == 0)
        func asUser(_ u: TempAccounts.User, _ script: String) -> RunResult {
            TestEnv.run(["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/bin/sh", "-c", "umask 077; " + script])
        }
        #expect(asUser(a, "mkdir -p \(root)/hub/models--x/blobs && echo hi > \(root)/hub/models--x/blobs/f").status == 0)
        let r = asUser(b, "echo more >> \(root)/hub/models--x/blobs/f && touch \(root)/hub/models--x/blobs/g && rm \(root)/hub/models--x/blobs/f"
                      // the snapshot link the client makes, so the blob is no orphan (#14's integrity check)
                      + " && mkdir -p \(root)/hub/models--x/snapshots/\(String(repeating: "ab", count: 20))"
                      + " && ln -s ../../blobs/g \(root)/hub/models--x/snapshots/\(String(repeating: "ab", count: 20))/g")
        #expect(r.status == 0, "\(r.stderr)")
        let audit = box.hfshare(["audit"])
        #expect(audit.status == 0, "\(audit.stdout)")
    }
}
