import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare user add/remove/list` through the built binary, with temporary users and groups.
@Suite(.serialized) struct UserTests {
    /// Runs a shell command as `user` with the groups a fresh login would give it.
    func asUser(_ u: TempAccounts.User, _ script: String) -> RunResult {
        TestEnv.run(["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/bin/sh", "-c", script])
    }

    @Test func addMakesUsersRealMembersAndRemoveTakesItBack() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let alice = acc.user(), bob = acc.user()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        // Before: not a member, the kernel says so too.
        #expect(asUser(alice, "mkdir \(root)/hub/models--a--x").status != 0)

        let add = box.hfshare(["user", "add", alice.name, bob.name, root])
        #expect(add.status == 0, "\(add.stdout)\(add.stderr)")
        #expect(add.stdout.contains("\(alice.name): added to \(g.name)"), "\(add.stdout)")
        #expect(add.stdout.contains("must log out and in again"), "\(add.stdout)")
        #expect(add.stdout.contains("newgrp \(g.name)"))
        #expect(!add.stdout.contains("Adding user"), "gpasswd chatter leaked: \(add.stdout)")
        for u in [alice, bob] {
            let rec = try #require(NSS.user(named: u.name))
            #expect(NSS.groups(of: rec).contains(g.gid), "\(u.name) not in \(g.name) through NSS")
        }
        let line = try String(contentsOfFile: "/etc/group", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix(g.name + ":") }
        #expect(line.map(String.init) == "\(g.name):x:\(g.gid):\(alice.name),\(bob.name)")
        // A fresh login (setpriv --init-groups) really gets the group: alice downloads, bob reads and writes.
        let write = asUser(alice, "mkdir -p \(root)/hub/models--a--x/blobs && head -c 4096 /dev/urandom > \(root)/hub/models--a--x/blobs/b1")
        #expect(write.status == 0, "\(write.stderr)")
        #expect(asUser(bob, "cat \(root)/hub/models--a--x/blobs/b1 >/dev/null && touch \(root)/hub/models--a--x/blobs/b2").status == 0)

        // Idempotent.
        let again = box.hfshare(["user", "add", alice.name, root])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already a member of \(g.name); nothing changed"), "\(again.stdout)")

        // list: both members, alice owns the 4 KiB blob and the dirs, bob the empty file.
        let list = box.hfshare(["user", "list", root])
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        let aliceRow = try #require(rows.first { $0.first == alice.name }, "\(list.stdout)")
        #expect(aliceRow[1] == String(alice.uid) && aliceRow[2] == "list")
        #expect(aliceRow.suffix(3) == ["4.0", "KiB", "1"], "\(aliceRow)")
        let bobRow = try #require(rows.first { $0.first == bob.name })
        #expect(bobRow.suffix(3) == ["0", "B", "1"], "\(bobRow)")
        #expect(!list.stdout.contains("not members"), "\(list.stdout)")
        let asJSON = box.hfshare(["user", "list", root, "--json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(asJSON.stdout.utf8)) as? [String: Any], "\(asJSON.stdout)")
        let members = try #require(parsed["members"] as? [[String: Any]])
        let aliceJSON = try #require(members.first { $0["name"] as? String == alice.name })
        #expect(aliceJSON["bytes"] as? Int == 4096 && aliceJSON["files"] as? Int == 1 && aliceJSON["memberBy"] as? String == "list", "\(aliceJSON)")
        #expect(parsed["group"] as? String == g.name && (parsed["others"] as? [Any])?.isEmpty == true)

        // remove: out of the group through NSS, the kernel refuses again, files stay and are counted.
        let rm = box.hfshare(["user", "remove", alice.name, root])
        #expect(rm.status == 0, "\(rm.stdout)\(rm.stderr)")
        #expect(rm.stdout.contains("\(alice.name): removed from \(g.name)"))
        #expect(rm.stdout.contains("still owns 3 entries (1 files, 4.0 KiB)"), "\(rm.stdout)")
        #expect(!NSS.groups(of: try #require(NSS.user(named: alice.name))).contains(g.gid))
        #expect(asUser(alice, "mkdir \(root)/hub/models--a--y").status != 0)
        #expect(fileStat(root + "/hub/models--a--x/blobs/b1")?.uid == alice.uid)
        let audit = box.hfshare(["audit", root, "--all"])
        #expect(audit.status == 1)
        #expect(audit.stdout.contains("owner-not-member: 3"), "\(audit.stdout)")
        let after = box.hfshare(["user", "list", root])
        #expect(after.stdout.contains("not members, but own data"), "\(after.stdout)")
        #expect(after.stdout.split(separator: "\n").contains { $0.hasPrefix(alice.name + " ") })
        let rmAgain = box.hfshare(["user", "remove", alice.name, root])
        #expect(rmAgain.status == 0)
        #expect(rmAgain.stdout.contains("not a member of \(g.name); nothing changed"))
    }

    @Test func refusesWhatItCannotDoAndSaysWhy() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let primary = acc.user(primary: g)
        let outsider = acc.user()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        // Only our lines: other test runs may add and remove their own groups meanwhile.
        let ours = { () throws -> [Substring] in
            try String(contentsOfFile: "/etc/group", encoding: .utf8).split(separator: "\n").filter {
                $0.hasPrefix(g.name + ":") || $0.contains(primary.name) || $0.contains(outsider.name)
            }
        }
        let groupBefore = try ours()

        let notRoot = box.hfshare(as: outsider, ["user", "add", outsider.name, root])
        #expect(notRoot.status == 2)
        #expect(notRoot.stderr.contains("must run as root"), "\(notRoot.stderr)")

        let unknown = box.hfshare(["user", "add", "nosuchuser-hfs", root])
        #expect(unknown.status == 1)
        #expect(unknown.stdout.contains("nosuchuser-hfs: no such user"))

        let primaryRemove = box.hfshare(["user", "remove", primary.name, root])
        #expect(primaryRemove.status == 1)
        #expect(primaryRemove.stdout.contains("usermod -g OTHERGROUP \(primary.name)"), "\(primaryRemove.stdout)")
        let primaryAdd = box.hfshare(["user", "add", primary.name, root])
        #expect(primaryAdd.status == 0)
        #expect(primaryAdd.stdout.contains("already a member"))

        let twoRoots = box.hfshare(["user", "add", outsider.name, root, box.path("other")])
        #expect(twoRoots.status == 2, "\(twoRoots.stderr)")
        let noName = box.hfshare(["user", "add", root])
        #expect(noName.status == 2)
        let listWithName = box.hfshare(["user", "list", outsider.name])
        #expect(listWithName.status == 2)
        #expect(listWithName.stderr.contains("must contain a '/'"), "\(listWithName.stderr)")

        #expect(try ours() == groupBefore)

        // Without a ROOT argument the registered root is used (the sandbox's /etc/hfshare/roots).
        let list = box.hfshare(["user", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("\(root): group \(g.name)"))
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix(primary.name + " ") && $0.contains("primary") })
    }

    /// A group that NSS sees but /etc/group does not hold (as with LDAP/SSSD): served here by
    /// libnss-extrausers inside a private mount namespace with a copy of /etc.
    @Test func directoryManagedGroupIsLeftAloneWithWhatToAskFor() throws {
        try #require(TestEnv.run(["/usr/bin/dpkg", "-s", "libnss-extrausers"]).status == 0,
                     "libnss-extrausers is needed for this test (scripts/deps.sh installs it)")
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let user = acc.user()
        let probe = acc.group() // its name, prefixed, names the directory group
        var gid: UInt32 = 63500 // a gid nobody has, so that only the directory can answer for it
        while NSS.group(gid: gid) != nil { gid += 1 }
        let env = box.env.map { "\($0.key)=\(Shell.quote($0.value))" }.joined(separator: " ")
        let root = box.path("cache")
        let r = TestEnv.sh("""
            unshare -m --propagation private sh -c '
            set -e
            cp -a /etc \(box.dir)/etc-copy && mount --bind \(box.dir)/etc-copy /etc
            sed -i "s/^group:.*/group: files extrausers/" /etc/nsswitch.conf
            mkdir \(box.dir)/extra && mount --bind \(box.dir)/extra /var/lib/extrausers
            echo "ldap\(probe.name):x:\(gid):" > /var/lib/extrausers/group
            \(env) \(TestEnv.binary) init \(root) --group ldap\(probe.name) -q
            set +e
            \(env) \(TestEnv.binary) user add \(user.name) \(root); echo "add-status=$?"
            \(env) \(TestEnv.binary) user remove \(user.name) \(root); echo "remove-status=$?"
            id -G \(user.name)
            '
            """)
        #expect(r.stdout.contains("add-status=1"), "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("is not in /etc/group: it is managed by a directory service"))
        #expect(r.stdout.contains("Ask the directory admin to add \(user.name) to group ldap\(probe.name) (gid \(gid))"), "\(r.stdout)")
        #expect(r.stdout.contains("remove-status=0"), "not a member: nothing to remove \(r.stdout)")
        #expect(!r.stdout.split(separator: "\n").contains { $0.split(separator: " ").contains(Substring(String(gid))) })
        #expect(NSS.group(gid: gid) == nil, "the namespace's group leaked out")
    }
}
