import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare namei`: the util-linux output byte for byte against the real `namei`, and every verdict of
/// the hfshare view against what the kernel does when that user really tries (`setpriv ... test`).
@Suite(.serialized) struct NameiTests {
    /// Runs argv in `cwd` through /bin/sh (arguments as "$@", never re-quoted), as `user` if given.
    static func run(_ argv: [String], in cwd: String, as user: TempAccounts.User? = nil) -> RunResult {
        var cmd: [String] = []
        if let u = user { cmd = ["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups"] }
        return TestEnv.run(cmd + ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", cwd] + argv)
    }

    /// Both programs, same arguments, same directory, same user: stdout, stderr and status must agree.
    static func compare(_ args: [String], in cwd: String, as user: TempAccounts.User? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) -> RunResult {
        let real = run(["/usr/bin/namei"] + args, in: cwd, as: user)
        let ours = run([TestEnv.binary, "namei"] + args, in: cwd, as: user)
        let who = user?.name ?? "root"
        #expect(ours.stdout == real.stdout, "stdout differs for namei \(args) as \(who):\n--- namei\n\(real.stdout)--- hfshare\n\(ours.stdout)", sourceLocation: sourceLocation)
        #expect(ours.stderr == real.stderr, "stderr differs for namei \(args) as \(who)", sourceLocation: sourceLocation)
        #expect(ours.status == real.status, "status \(ours.status) != \(real.status) for namei \(args) as \(who)", sourceLocation: sourceLocation)
        return real
    }

    @Test func utilLinuxOutputIsByteForByteTheSame() throws {
        let box = Sandbox(), acc = TempAccounts()
        let mnt = box.path("mnt")
        defer { TestEnv.sh("umount '\(mnt)' 2>/dev/null"); box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let longGroup = acc.group()
        let u = acc.user(primary: g)
        let b = box.dir
        let setup = """
        set -e
        cd '\(b)'
        mkdir -p d/sub/deeper closed/inner noread sticky sgid acl mnt
        echo x > d/file; echo x > 'sp ace'; echo x > closed/inner/f; echo x > sgid/f
        ln -s chain2 chain1; ln -s d/../abs chain2; ln -s '\(b)/d/file' abs
        ln -s ../.. d/sub/back; ln -s sub/deeper/../../file d/rel
        ln -s loop2 loop1; ln -s loop1 loop2
        ln -s nowhere/x dangling
        ln -s '\(b)/d//sub/' slashy
        ln -s /proc/1/cwd proccwd
        ln -s /dev/shm shm; ln -s /dev/null null; ln -s closed/inner lclosed; echo x > 'h\u{e9}llo'; ln -s 'h\u{e9}llo' hl
        i=0; while [ $i -lt 21 ]; do ln -s l$((i+1)) l$i; i=$((i+1)); done; echo x > l21
        chmod 700 closed; chmod 711 noread; chmod 1777 sticky; chmod 2775 sgid
        chown \(u.uid):\(longGroup.gid) sgid sgid/f
        touch unknown; chown 4242424:4242425 unknown
        setfacl -m g:\(g.gid):rwx,u:\(u.uid):r-x acl; echo x > acl/f; setfacl -m u:\(u.uid):rw acl/f
        echo x > suid; chmod 4755 suid; mkfifo fifo
        mount -t tmpfs -o size=1m hfshare-namei-test mnt
        mkdir mnt/inner; ln -s ../inner mnt/inner/up
        """
        let r = TestEnv.sh(setup)
        try #require(r.status == 0, "setup: \(r.stderr)")

        // Absolute and relative, through symlink chains and `..`, ending in missing, looping, special,
        // unreadable, mount point, sticky, setgid and ACL entries. Several per run, as admins pass them.
        let paths = [
            "\(b)/chain1", "chain1", "d/rel", "d/sub/back/d/file", "\(b)/d/./sub/../file", "d//sub///deeper/",
            "loop1", "dangling", "\(b)/nope/x", "d/file/x", "closed/inner/f", "noread/x", "noread",
            "sticky", "\(b)/sgid/f", "acl/f", "unknown", "suid", "fifo", "sp ace", "slashy", "l0",
            "mnt/inner/up/up/..", "\(b)/mnt", "shm", "null", "/proc/1", "/dev/shm/", "/", ".", "..", "",
        ]
        let flagSets: [[String]] = [
            ["-l"], ["-m"], ["-o"], ["-n"], ["-v"], ["-x"], ["-mo"], ["-lx"], ["-ln"], ["-l", "-n", "-x"],
            ["--modes", "--owners"], ["-vo"], ["--nolinks", "-m"], ["--long", "--mountpoints"], ["-mvx"],
        ]
        var runs = 0
        for user in [nil, u] {
            for flags in flagSets {
                let real = Self.compare(flags + paths, in: b, as: user)
                #expect(real.status == 1 && real.stdout.contains("f: ") && real.stdout.contains(" - "), "\(flags): the set has failing paths")
                runs += 1
            }
            for p in paths {
                _ = Self.compare(["-l", p], in: b, as: user)
                _ = Self.compare(["-nx", "--", p], in: b, as: user)
                runs += 2
            }
        }
        // Owner and group columns are as wide as every name seen so far in the run, earlier PATHs too.
        let widths = Self.compare(["-o", "sgid/f", "d/file", "unknown", "d/file"], in: b)
        #expect(widths.stdout.contains("\(u.name) \(longGroup.name)") && widths.stdout.contains(" 4242424"))
        // The root user's view of /proc/1/cwd is a readable link; for others it is namei's fatal error.
        let fatal = Self.compare(["-l", "proccwd", "d/file"], in: b, as: u)
        #expect(fatal.status == 1 && fatal.stderr.contains("failed to read symlink"))
        // -x stats DIR/.. after a symlink; in a directory the user cannot search that is namei's fatal error.
        let dotdot = Self.compare(["-x", "lclosed", "d/file"], in: b, as: u)
        #expect(dotdot.status == 1 && dotdot.stderr.contains("stat of closed/.. failed"), "\(dotdot.stderr)")
        _ = Self.compare(["-lx", "lclosed", "hl", "h\u{e9}llo"], in: b)
        let loop = Self.compare(["-l", "loop1"], in: b)
        #expect(loop.stderr == "namei: loop1: exceeded limit of symlinks\n")
        let ok = Self.compare(["-l", "d/file", "\(b)/mnt/inner"], in: b)
        #expect(ok.status == 0)
        // -x marks the tmpfs mounted here, and / itself, with a D.
        let mountShown = Self.compare(["-lx", "\(b)/mnt/inner"], in: b)
        let dLines = mountShown.stdout.split(separator: "\n").filter { $0.hasPrefix("D") }
        #expect(dLines.count == 2 && dLines.last!.hasSuffix(" mnt") && dLines.first!.hasSuffix(" /"), "\(dLines)")
        #expect(runs == 2 * (flagSets.count + 2 * paths.count))
    }

    @Test func nameiFlagsAndTheHfshareViewDoNotMix() {
        let r = TestEnv.run([TestEnv.binary, "namei", "-l", "--user", "root", "/"])
        #expect(r.status == 2 && r.stderr.contains("--user"))
        let none = TestEnv.run([TestEnv.binary, "namei"])
        #expect(none.status == 2 && none.stderr.contains("pathname argument is missing"))
        let unknown = TestEnv.run([TestEnv.binary, "namei", "--user", "no-such-user-hfshare", "/"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no-such-user-hfshare"))
        let want = TestEnv.run([TestEnv.binary, "namei", "--want", "q", "/"])
        #expect(want.status == 2)
    }

    struct VerdictCase {
        var dirMode: String
        var dirACL: String?
        var fileMode: String
        var fileACL: String?
    }

    /// Every right the hfshare view shows, for users whose access comes through each class, is what
    /// `test -r/-w/-x` gets as that user; reaching the file is what `test -e` gets.
    @Test func everyVerdictIsWhatTheKernelDoes() throws {
        let box = Sandbox(), acc = TempAccounts()
        let ro = box.path("ro")
        defer { TestEnv.sh("umount '\(ro)' 2>/dev/null"); box.cleanup(); acc.cleanup() }
        let g1 = acc.group(), g2 = acc.group()
        let owner = acc.user()
        let primary = acc.user(primary: g1)
        let supplementary = acc.user(supplementary: [g1])
        let named = acc.user()
        let namedGroup = acc.user(supplementary: [g2])
        let stranger = acc.user()
        let rootUser = TempAccounts.User(name: "root", uid: 0, gid: 0)
        let users = [owner, primary, supplementary, named, namedGroup, stranger, rootUser]
        let N = named.uid, G2 = g2.gid
        let cases: [VerdictCase] = [
            VerdictCase(dirMode: "750", fileMode: "640"),
            VerdictCase(dirMode: "705", fileMode: "604"),          // group bits 0: the owning group gets nothing, other gets in
            VerdictCase(dirMode: "770", fileMode: "660"),
            VerdictCase(dirMode: "701", fileMode: "601"),
            VerdictCase(dirMode: "070", fileMode: "070"),          // the owner is in the group, but the owner bits decide
            VerdictCase(dirMode: "000", fileMode: "000"),          // only root, through its capabilities
            VerdictCase(dirMode: "755", fileMode: "744"),          // root may execute: some x bit is set
            VerdictCase(dirMode: "750", dirACL: "u::rwx,g::r-x,g:\(G2):rwx,m::rwx,o::---",
                        fileMode: "640", fileACL: "u::rw-,g::r--,g:\(G2):rw-,m::rw-,o::---"),
            VerdictCase(dirMode: "750", dirACL: "u::rwx,u:\(N):rwx,g::r-x,g:\(G2):rwx,m::r--,o::--x",
                        fileMode: "640", fileACL: "u::rw-,u:\(N):rwx,g::rw-,g:\(G2):rw-,m::r--,o::r--"),
            VerdictCase(dirMode: "705", dirACL: "u::rwx,u:\(N):rwx,g::---,g:\(G2):rwx,m::---,o::r-x",
                        fileMode: "604", fileACL: "u::rw-,u:\(N):rw-,g::---,m::---,o::r--"),   // empty mask: the kernel skips the ACL
            VerdictCase(dirMode: "755", dirACL: "u::rwx,u:\(N):---,g::r-x,g:\(G2):--x,m::r-x,o::r-x",
                        fileMode: "644", fileACL: "u::rw-,u:\(N):---,g::r--,g:\(G2):-w-,m::rw-,o::r--"),
            VerdictCase(dirMode: "3770", dirACL: "u::rwx,g::rwx,g:\(G2):r-x,m::rwx,o::---",
                        fileMode: "660", fileACL: "u::rw-,g::rw-,g:\(G2):r--,m::rw-,o::---"),
        ]
        var paths: [String] = []
        for (i, c) in cases.enumerated() {
            let d = box.path("v\(i)")
            var script = "set -e; mkdir '\(d)'; echo x > '\(d)/f'; chown \(owner.uid):\(g1.gid) '\(d)' '\(d)/f'; chmod \(c.fileMode) '\(d)/f'; chmod \(c.dirMode) '\(d)'"
            if let a = c.dirACL { script += "; setfacl --set '\(a)' '\(d)'" }
            if let a = c.fileACL { script += "; setfacl --set '\(a)' '\(d)/f'" }
            let r = TestEnv.sh(script)
            try #require(r.status == 0, "setup \(c): \(r.stderr)")
            paths += [d + "/f", d]
        }
        // A read-only mount: nobody writes there, root included.
        let r = TestEnv.sh("set -e; mkdir '\(ro)'; mount -t tmpfs -o size=1m hfshare-namei-ro '\(ro)'; echo x > '\(ro)/f'; chmod 666 '\(ro)/f'; chmod 777 '\(ro)'; mount -o remount,ro '\(ro)'")
        try #require(r.status == 0, "ro mount: \(r.stderr)")
        paths += [ro + "/f", ro]
        // A symlink on the way, and `..` out of a directory only some can search.
        TestEnv.sh("ln -s v7 '\(box.path("link"))'")
        paths += [box.path("link/f"), box.path("v8/../v2/f")]

        let args = [TestEnv.binary, "namei", "--json"] + users.flatMap { ["--user", $0.name] } + paths
        let result = TestEnv.run(args)
        #expect(result.status == 1, "some users are stopped: \(result.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let reports = try #require(doc["paths"] as? [[String: Any]])
        try #require(reports.count == paths.count)

        func real(_ u: TempAccounts.User, _ flag: String, _ path: String) -> Bool {
            TestEnv.run(["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/usr/bin/test", flag, path]).status == 0
        }
        var checked = 0
        for (p, report) in zip(paths, reports) {
            let steps = try #require(report["steps"] as? [[String: Any]])
            let outcomes = try #require(report["users"] as? [[String: Any]])
            for user in users {
                let outcome = try #require(outcomes.first { $0["name"] as? String == user.name })
                // Reaching the path is what stat(2) as that user does.
                #expect(outcome["ok"] as? Bool == real(user, "-e", p), "\(p) \(user.name) reach")
                checked += 1
                var reachable = true
                for step in steps {
                    guard let path = step["path"] as? String, let byUser = step["users"] as? [String: Any],
                          let v = byUser[user.name] as? [String: Any], let rights = v["rights"] as? String else { continue }
                    // Only entries the user can get to can be tried.
                    if reachable && step["type"] as? String != "symlink" && path.hasPrefix(box.dir + "/") {
                        for (i, flag) in ["-r", "-w", "-x"].enumerated() {
                            let shown = Array(rights)[i] != "-"
                            #expect(shown == real(user, flag, path), "\(p): \(path) \(user.name) \(flag): shown \(rights) mode \(step["mode"] ?? "") acl \(step["acl"] ?? "-")")
                            checked += 1
                        }
                    }
                    if step["role"] as? String == "searched", v["allowed"] as? Bool == false { reachable = false }
                }
            }
        }
        // 16 paths x 7 users reach checks, plus r/w/x on every reachable entry under the sandbox.
        #expect(checked > paths.count * users.count * 4)

        // --want: exit 0 only when every asked user can also do that on the final path.
        for (p, flag, want) in [(box.path("v2/f"), "-w", "write"), (box.path("v1/f"), "-r", "r"), (ro + "/f", "-w", "w")] {
            for user in users {
                let status = TestEnv.run([TestEnv.binary, "namei", "--user", user.name, "--want", want, p]).status
                #expect(status == (real(user, flag, p) ? 0 : 1), "\(p) \(user.name) --want \(want)")
            }
        }
    }

    /// The suggested command, run as printed, lets the stopped users through (and the view then says so).
    @Test func theSuggestedFixWorks() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group(), other = acc.group()
        let owner = acc.user(primary: other)
        let member = acc.user(supplementary: [g])
        let primaryMember = acc.user(primary: other)
        let named = acc.user()
        let cases: [(name: String, script: String, user: TempAccounts.User, group: String?, expectFix: String)] = [
            ("other-group", "chmod 750 D", member, g.name, "setfacl -m g:\(g.name):x"),
            ("other user's", "chmod 750 D", named, nil, "chmod o+x"),   // a name the shell must quote
            ("mask", "chmod 750 D; setfacl -m g:\(g.gid):rwx D; setfacl -m m::r-- D", member, g.name, "setfacl -m m::rx"),
            ("owner", "chmod 070 D", owner, nil, "chmod u+x"),
            ("owning-group", "chmod 740 D", primaryMember, nil, "chmod g+x"),
            ("owning-group-acl", "chmod 740 D; setfacl -m u:\(named.uid):rwx D; setfacl -m g::r-- D", primaryMember, nil, "setfacl -m g::rx"),
            ("named-user", "chmod 750 D; setfacl -m u:\(named.uid):r-- D", named, nil, "setfacl -m u:\(named.name):rx"),
        ]
        for c in cases {
            let d = box.path(c.name)
            let file = d + "/f"
            let (qd, qf) = (Shell.quote(d), Shell.quote(file))
            let setup = TestEnv.sh("set -e; mkdir \(qd); echo x > \(qf); chmod 644 \(qf); chown \(owner.uid):\(other.gid) \(qd); cd '\(box.dir)'; " + c.script.replacingOccurrences(of: "D", with: Shell.quote(c.name)))
            try #require(setup.status == 0, "\(c.name): \(setup.stderr)")
            var args = [TestEnv.binary, "namei", "--json", "--user", c.user.name, file]
            if let group = c.group { args += ["--group", group] }
            let before = TestEnv.run(args)
            #expect(before.status == 1, "\(c.name): stopped")
            let doc = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any]
            let report = (doc?["paths"] as? [[String: Any]])?.first
            let outcome = (report?["users"] as? [[String: Any]])?.first { $0["name"] as? String == c.user.name }
            let fix = try #require(outcome?["fix"] as? String, "\(c.name): a fix")
            #expect(outcome?["stopped_at"] as? String == d)
            #expect(fix.hasPrefix(c.expectFix + " "), "\(c.name): \(fix)")
            let command = fix.components(separatedBy: "   (or").first!
            let applied = TestEnv.sh(command)
            #expect(applied.status == 0, "\(c.name): \(command): \(applied.stderr)")
            let real = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(c.user.uid)", "--regid=\(c.user.gid)", "--init-groups", "/usr/bin/test", "-r", file])
            #expect(real.status == 0, "\(c.name): after \(command) the user still cannot get there")
            let after = TestEnv.run(Array(args.filter { $0 != "--json" }))
            #expect(after.status == 0, "\(c.name): \(after.stdout)")
        }
    }

    /// The table: the stopping component is marked, the reason and fix are printed, exit 1; --group
    /// judges every member, primary and listed.
    @Test func textViewMarksTheStoppingComponent() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let primary = acc.user(primary: g)
        let listed = acc.user(supplementary: [g])
        TestEnv.sh("mkdir -p '\(box.path("data/hf"))' && chmod 750 '\(box.path("data"))' && ln -s data/hf '\(box.path("hf"))'")
        let r = TestEnv.run([TestEnv.binary, "namei", "--group", g.name, box.path("hf")])
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "f: \(box.path("hf"))")
        #expect(lines[1].contains(primary.name) && lines[1].contains(listed.name), "one column per member: \(lines[1])")
        let marked = try #require(lines.first { $0.contains("<-") })
        #expect(marked.contains(" data ") && marked.hasSuffix("<- \(primary.name), \(listed.name)"), "\(marked)")
        #expect(lines.contains { $0.hasPrefix("lrwxrwxrwx") && $0.contains("hf -> data/hf") })
        #expect(r.stdout.contains("\(primary.name), \(listed.name): stopped at \(box.path("data")): search (x) refused: other is ---"))
        #expect(r.stdout.contains("  fix: setfacl -m g:\(g.name):x \(box.path("data"))   (or: chmod o+x \(box.path("data")))"))
        let root = TestEnv.run([TestEnv.binary, "namei", "--user", "root", box.path("hf")])
        #expect(root.status == 0 && root.stdout.hasSuffix("root can reach \(box.path("hf"))\n"), "\(root.stdout)")
        let missing = TestEnv.run([TestEnv.binary, "namei", "--user", "root", box.path("nope/x")])
        #expect(missing.status == 1 && missing.stdout.contains("nope - No such file or directory"))
        // Run by a user, without --user: that user is judged. Asked about root, whom this process cannot
        // follow past data/, the answer is not known: exit 2.
        let mine = box.hfshare(as: primary, ["namei", box.path("hf")])
        #expect(mine.status == 1 && mine.stdout.split(separator: "\n")[1].hasSuffix(primary.name), "\(mine.stdout)")
        let notKnown = box.hfshare(as: primary, ["namei", "--user", "root", box.path("hf")])
        #expect(notKnown.status == 2 && notKnown.stdout.contains("root: not known"), "\(notKnown.stdout)")
    }

    /// audit's parent-not-traversable and namei stop at the same ancestors: one access algorithm.
    @Test func auditAndNameiAgreeOnAncestors() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let member = acc.user(primary: g)
        // outer: other ---; mid: the group's own entry lacks x although other has it; inner: an empty
        // mask, so the kernel ignores the ACL and other's x lets members through.
        let root = box.path("outer/mid/inner/cache")
        let r = TestEnv.sh("""
            set -e; cd '\(box.dir)'; mkdir -p outer/mid/inner/cache/.locks
            chmod 750 outer; chmod 751 outer/mid; setfacl -m g:\(g.gid):r-- outer/mid
            chmod 705 outer/mid/inner; setfacl -m g:\(g.gid):rwx,m::--- outer/mid/inner
            chgrp \(g.gid) outer/mid/inner/cache outer/mid/inner/cache/.locks; chmod 2775 outer/mid/inner/cache outer/mid/inner/cache/.locks
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let audit = box.hfshare(["audit", root, "--group", g.name, "--format", "jsonl"])
        let parents = audit.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["kind"] as? String == "parent-not-traversable" else { return nil }
            return o["path"] as? String
        }
        let namei = TestEnv.run([TestEnv.binary, "namei", "--json", "--group", g.name, root])
        #expect(namei.status == 1)
        let doc = try JSONSerialization.jsonObject(with: Data(namei.stdout.utf8)) as? [String: Any]
        let steps = ((doc?["paths"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
        let refused = steps.filter { (($0["users"] as? [String: Any])?[member.name] as? [String: Any])?["allowed"] as? Bool == false }.compactMap { $0["path"] as? String }
        #expect(parents == [box.path("outer"), box.path("outer/mid")], "audit: \(audit.stdout)")
        #expect(refused == parents, "namei refuses \(refused)")
    }

    /// A big --group gets one summary column instead of a column per member.
    @Test func manyUsersGetOneColumn() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        TestEnv.sh("mkdir -p '\(box.path("d/e"))' && chmod 750 '\(box.path("d"))' && chgrp 4242 '\(box.path("d"))'")
        let users = (0..<10).map { i in AskedUser(name: "u\(i)", credentials: Credentials(uid: 70000 + UInt32(i), gids: i < 3 ? [4242] : [70000])) }
        let report = NameiReport(walk: PathWalk.walk(box.path("d/e")), query: NameiQuery(users: users))
        #expect(!report.ok)
        #expect(report.outcomes.filter(\.ok).count == 3)
        let text = report.text()
        #expect(text.contains("10 users"))
        #expect(text.split(separator: "\n").contains { $0.contains(" d ") && $0.contains("7 refused") && $0.hasSuffix("<- 7 users") }, "\(text)")
        #expect(report.blockers.count == 1 && report.blockers[0].users.count == 7)
        #expect(report.blockers[0].fix == "chmod o+x \(box.path("d"))   (or, for these users only: setfacl -m \((3..<10).map { "u:u\($0):x" }.joined(separator: ",")) \(box.path("d")))")
    }

    @Test func protectedSymlinksFollowTheKernelRule() {
        let sticky = FileStat(mode: 0o41777, uid: 0)
        let plain = FileStat(mode: 0o40777, uid: 0)
        let link = FileStat(mode: 0o120777, uid: 1000)
        #expect(NameiReport.protectedSymlinkRefusal(link: link, dir: sticky, uid: 1000) == nil)   // own link
        #expect(NameiReport.protectedSymlinkRefusal(link: link, dir: sticky, uid: 0) != nil)      // root too
        #expect(NameiReport.protectedSymlinkRefusal(link: link, dir: plain, uid: 2000) == nil)    // not sticky
        #expect(NameiReport.protectedSymlinkRefusal(link: FileStat(mode: 0o120777, uid: 0), dir: sticky, uid: 2000) == nil) // dir owner's link
    }
}
