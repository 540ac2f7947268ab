import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare doctor` through the built binary, its verdicts compared with what the kernel really lets
/// the user do (the same operations tried through setpriv with the same credentials).
@Suite(.serialized) struct DoctorTests {
    /// A home in the sandbox whose ~/.profile is `profile`, so the user's login shell is predictable.
    func giveHome(_ u: TempAccounts.User, _ box: Sandbox, profile: String) -> String {
        let home = box.path("home-\(u.name)")
        TestEnv.accountsLock.lock()
        TestEnv.run(["/usr/sbin/usermod", "-d", home, "-s", "/bin/sh", u.name])
        TestEnv.accountsLock.unlock()
        TestEnv.sh("mkdir -p '\(home)' && chmod 700 '\(home)'")
        try? profile.write(toFile: home + "/.profile", atomically: true, encoding: .utf8)
        TestEnv.sh("chown -R \(u.uid):\(u.gid) '\(home)'")
        return home
    }

    func checks(_ r: RunResult) -> [String: DoctorCheck] {
        var out: [String: DoctorCheck] = [:]
        for line in r.stdout.split(separator: "\n") {
            if let c = try? JSONDecoder().decode(DoctorCheck.self, from: Data(line.utf8)) { out[c.id] = c }
        }
        return out
    }

    /// What doctor's write-hub probe does, done by hand with `setpriv` credentials: 0 if all of it works.
    func realAttempt(_ setpriv: [String], _ root: String) -> Int32 {
        TestEnv.run(["/usr/bin/setpriv"] + setpriv + ["/bin/sh", "-c", """
            d=\(root)/hub/.real-attempt-$$ && mkdir "$d" && echo x > "$d/f.incomplete" && mv "$d/f.incomplete" "$d/f" &&
            flock -n "$d/f" true && rm -r "$d"
            """]).status
    }

    @Test func verdictsMatchWhatTheKernelLetsEachUserDo() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let member = acc.user(supplementary: [g]), outsider = acc.user()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        let snippet = ". \(box.path("profile.d/hfshare.sh"))\n"
        _ = giveHome(member, box, profile: snippet)
        _ = giveHome(outsider, box, profile: snippet)
        let creds = { (u: TempAccounts.User) in ["--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups"] }

        let ok = box.hfshare(["doctor", "--user", member.name, root, "--format", "jsonl"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let okChecks = checks(ok)
        #expect(Set(okChecks.keys) == ["member", "session", "env", "token", "umask", "write-hub", "write-locks", "flock"], "\(okChecks.keys)")
        #expect(okChecks.values.allSatisfy { $0.status == .ok }, "\(ok.stdout)")
        #expect(realAttempt(creds(member), root) == 0)
        #expect(TestEnv.sh("ls -A '\(root)/hub'").stdout.isEmpty, "the probe cleaned up")

        let bad = box.hfshare(["doctor", "--user", outsider.name, root, "--format", "jsonl"])
        #expect(bad.status == 1, "\(bad.stdout)")
        let badChecks = checks(bad)
        #expect(badChecks["member"]?.status == .fail)
        #expect(badChecks["member"]?.fix == "sudo hfshare user add \(outsider.name) \(root)")
        #expect(badChecks["write-hub"]?.status == .fail)
        #expect(badChecks["write-hub"]?.message.contains("Permission denied") == true, "\(String(describing: badChecks["write-hub"]))")
        #expect(badChecks["env"]?.status == .fail, "the snippet sets the variables for members only: \(bad.stdout)")
        #expect(realAttempt(creds(outsider), root) != 0)

        // The fix it names works: after 'user add' the same doctor run passes, and so does the real attempt.
        #expect(box.hfshare(["user", "add", outsider.name, root]).status == 0)
        let fixed = box.hfshare(["doctor", "--user", outsider.name, root])
        #expect(fixed.status == 0, "\(fixed.stdout)")
        #expect(fixed.stdout.contains("all checks passed"))
        #expect(realAttempt(creds(outsider), root) == 0)

        // A directory that lost its default ACL and setgid: writes work, but the result is not shareable.
        TestEnv.sh("setfacl -k '\(root)/hub' && chmod g-s '\(root)/hub'")
        let broken = box.hfshare(["doctor", "--user", member.name, root, "--format", "jsonl"])
        #expect(broken.status == 1)
        let wh = checks(broken)["write-hub"]
        #expect(wh?.status == .fail && wh?.fix == "sudo hfshare repair \(root)", "\(String(describing: wh))")
        #expect(box.hfshare(["repair", root]).status == 0)
        #expect(box.hfshare(["doctor", "--user", member.name, root]).status == 0)
    }

    @Test func aSessionOlderThanTheMembershipIsCaught() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let u = acc.user()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        _ = giveHome(u, box, profile: ". \(box.path("profile.d/hfshare.sh"))\n")
        // A login session started before 'user add'.
        let old = Process()
        old.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        old.arguments = ["--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/bin/sleep", "60"]
        try old.run()
        // SIGKILL: a child of Foundation's Process may have SIGTERM blocked.
        defer { kill(old.processIdentifier, SIGKILL); old.waitUntilExit() }
        #expect(box.hfshare(["user", "add", u.name, root]).stdout.contains("1 running process(es) without group \(g.name) (\(old.processIdentifier) sleep)"))

        let asRoot = box.hfshare(["doctor", "--user", u.name, root, "--format", "jsonl"])
        #expect(asRoot.status == 1, "\(asRoot.stdout)")
        let s = checks(asRoot)["session"]
        #expect(s?.status == .fail && s?.message.contains("\(old.processIdentifier) sleep") == true, "\(String(describing: s))")
        #expect(checks(asRoot)["write-hub"]?.status == .ok, "a fresh login works")

        // The user's own view from inside such a session (groups without G), against the real attempt.
        let env = ["HF_HUB_CACHE=\(root)/hub", "HF_DATASETS_CACHE=\(root)/datasets", "HF_XET_CACHE=\(root)/xet", "HF_ASSETS_CACHE=\(root)/assets"]
        let stale = ["--reuid=\(u.uid)", "--regid=\(u.gid)", "--clear-groups"]
        let mine = TestEnv.run(["/usr/bin/setpriv"] + stale + ["/usr/bin/env"] + env + box.env.map { "\($0.key)=\($0.value)" }
                               + [TestEnv.binary, "doctor", root, "--format", "jsonl"])
        #expect(mine.status == 1)
        let mc = checks(mine)
        #expect(mc["member"]?.status == .ok)
        #expect(mc["session"]?.status == .fail && mc["session"]?.fix == "log out and in again, or run: newgrp \(g.name)", "\(mine.stdout)")
        #expect(mc["write-hub"]?.status == .fail)
        #expect(realAttempt(stale, root) != 0)
        // newgrp's effect (the group in the session): everything passes, as does the real attempt.
        let newgrp = ["--reuid=\(u.uid)", "--regid=\(u.gid)", "--groups=\(g.gid)"]
        let fresh = TestEnv.run(["/usr/bin/setpriv"] + newgrp + ["/usr/bin/env"] + env + box.env.map { "\($0.key)=\($0.value)" }
                                + [TestEnv.binary, "doctor", root])
        #expect(fresh.status == 0, "\(fresh.stdout)")
        #expect(realAttempt(newgrp, root) == 0)
        kill(old.processIdentifier, SIGKILL); old.waitUntilExit()
        #expect(box.hfshare(["doctor", "--user", u.name, root]).status == 0)
    }

    @Test func overridesAndTokenLeaksAreTracedToTheLineThatSetsThem() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let u = acc.user(supplementary: [g]), plain = acc.user(supplementary: [g])
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        _ = giveHome(u, box, profile: """
            . \(box.path("profile.d/hfshare.sh"))
            # export HF_HUB_CACHE=/commented/out
            export HF_HUB_CACHE=/var/tmp/elsewhere
            export HF_HOME=\(root)/home-of-u

            """)
        let r = box.hfshare(["doctor", "--user", u.name, root, "--format", "jsonl"])
        #expect(r.status == 1)
        let c = checks(r)
        #expect(c["env"]?.status == .fail)
        #expect(c["env"]?.message.contains("HF_HUB_CACHE=/var/tmp/elsewhere") == true)
        #expect(c["env"]?.fix?.contains("remove the HF_HUB_CACHE line from ~/.profile:3") == true, "\(String(describing: c["env"]))")
        #expect(c["token"]?.status == .fail)
        #expect(c["token"]?.message.contains("saved tokens to \(root)/home-of-u/stored_tokens") == true, "\(String(describing: c["token"]))")
        #expect(c["token"]?.fix?.contains("remove the HF_HOME line from ~/.profile:4") == true)

        // Without the snippet in the login: not set, and the fix names the snippet.
        _ = giveHome(plain, box, profile: "true\n")
        let p = box.hfshare(["doctor", "--user", plain.name, root, "--format", "jsonl"])
        #expect(p.status == 1)
        #expect(checks(p)["env"]?.message.contains("not set") == true)
        #expect(checks(p)["env"]?.fix?.contains(box.path("profile.d/hfshare.sh")) == true)
    }

    @Test func refusalsAndPureVerdicts() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let a = acc.user(supplementary: [g]), b = acc.user(supplementary: [g])
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name, "-q"]).status == 0)
        let other = box.hfshare(as: a, ["doctor", "--user", b.name, root])
        #expect(other.status == 2 && other.stderr.contains("needs root"), "\(other.stderr)")
        let unknown = box.hfshare(["doctor", "--user", "nosuchuser-hfs", root])
        #expect(unknown.status == 2)

        #expect(Doctor.umaskCheck(0o077, acl: true).status == .ok)
        #expect(Doctor.umaskCheck(0o022, acl: false).status == .fail)
        #expect(Doctor.umaskCheck(0o022, acl: false).fix?.hasPrefix("umask 002") == true)
        #expect(Doctor.umaskCheck(0o002, acl: false).status == .ok)
        #expect(Doctor.flockTrap(magic: 0x0BD0_0BD0)?.contains("-o flock") == true)
        #expect(Doctor.flockTrap(magic: 0x1983_0326)?.contains("tuneUseGlobalFileLocks") == true)
        #expect(Doctor.flockTrap(magic: 0xEF53) == nil) // ext4
    }
}
