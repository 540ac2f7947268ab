import Foundation
import Testing
@testable import HFShareCore

/// `hfshare env`'s renderers and quoting, and `doctor --pid`'s reading of a process (pure parts).
@Suite struct EnvTests {
    static let hostile = ["/srv/a b", "/srv/it's", "/srv/\"q\"", "/srv/$(touch /tmp/pwned)", "/srv/`id`", "/srv/back\\slash",
                          "/srv/100%", "/srv/${HOME}", "/srv/semi;colon", "/srv/ünïcødé"]

    @Test func shellQuotingSurvivesARealShell() throws {
        // bash: a control character gets $'...' quoting, which dash (/bin/sh) does not read; env's
        // renderers refuse such a ROOT (renderRefusesWhatNoFormatCarries).
        for s in Self.hostile + ["/srv/new\nline"] {
            let out = TestEnv.run(["/bin/bash", "-c", "printf %s " + Quote.shell(s)])
            #expect(out.status == 0)
            #expect(out.stdout == s, "sh read back \(out.stdout.debugDescription) for \(s.debugDescription)")
        }
    }

    @Test func dockerFlagsParseBackInAShell() throws {
        for s in Self.hostile {
            let flags = try EnvRenderer(root: s, group: "hf", gid: 4200, acl: true).docker()
            // The flags as a shell reads them: the lines joined, comments dropped.
            let text = flags.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
            let out = TestEnv.run(["/bin/sh", "-c", "set -- " + text + "\nprintf '%s\\n' \"$@\""])
            let args = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(args.prefix(4) == ["-v", s + ":" + s, "--group-add", "4200"], "\(s.debugDescription): \(args)")
            #expect(args.contains("HF_HUB_CACHE=" + s + "/hub"))
            #expect(args.contains("HF_TOKEN_PATH=~/.cache/huggingface/token"))
        }
        #expect(throws: UsageError.self) { try EnvRenderer(root: "/srv/a:b", group: "hf", gid: 1, acl: true).docker() }
        #expect(throws: UsageError.self) { try EnvRenderer(root: "/srv/a\nb", group: "hf", gid: 1, acl: true).docker() }
    }

    @Test func systemdQuoting() throws {
        #expect(try Quote.systemdAssignment("HF_HUB_CACHE", "/srv/hf/hub") == "\"HF_HUB_CACHE=/srv/hf/hub\"")
        #expect(try Quote.systemdAssignment("X", "/a b/\"q\"\\%i$(id)") == "\"X=/a b/\\\"q\\\"\\\\%%i$(id)\"")
        for bad in ["/a\nb", "/a\rb", "/a\u{7}b", "/a\u{85}b"] {
            #expect(throws: UsageError.self) { try Quote.systemdAssignment("X", bad) }
        }
        #expect(throws: UsageError.self) { try Quote.systemdAssignment("X Y", "/a") }
        #expect(throws: UsageError.self) { try EnvRenderer(root: "/srv/new\nline", group: "hf", gid: 1, acl: true).systemd() }
    }

    @Test func systemdDropIn() throws {
        let acl = try EnvRenderer(root: "/srv/hf", group: "hf-users", gid: 4200, acl: true).systemd()
        #expect(acl.contains("\n[Service]\n"))
        #expect(acl.contains("Environment=\"HF_HUB_CACHE=/srv/hf/hub\"\n"))
        #expect(acl.contains("Environment=\"HF_TOKEN_PATH=~/.cache/huggingface/token\"\n"))
        #expect(acl.contains("SupplementaryGroups=hf-users\n"))
        #expect(!acl.contains("UMask"))
        let noACL = try EnvRenderer(root: "/srv/hf", group: "domain users", gid: 4200, acl: false).systemd()
        #expect(noACL.contains("UMask=0002\n"))
        #expect(noACL.contains("SupplementaryGroups=4200\n"), "a name with a space is written as its gid")
        // Nothing but comments, [Service] and known keys: a hostile ROOT cannot add a directive.
        for s in Self.hostile {
            let text = try EnvRenderer(root: s, group: "hf", gid: 1, acl: false).systemd()
            for line in text.split(separator: "\n") {
                #expect(line.hasPrefix("#") || line == "[Service]" || line.hasPrefix("Environment=\"") || line.hasPrefix("SupplementaryGroups=") || line.hasPrefix("UMask="), "\(line)")
            }
        }
    }

    @Test func composeQuoting() {
        #expect(Quote.compose("/srv/hf") == "\"/srv/hf\"")
        #expect(Quote.compose("/a \"b\" \\ $(id) ${HOME}") == "\"/a \\\"b\\\" \\\\ $$(id) $${HOME}\"")
        #expect(Quote.compose("/a\nb\tc\u{7F}") == "\"/a\\x0Ab\\x09c\\x7F\"")
        for s in Self.hostile + ["/srv/new\nline"] {
            let q = Quote.compose(s)
            #expect(!q.contains("\n"))
            // Every $ is doubled: compose interpolates nothing.
            #expect(q.replacingOccurrences(of: "$$", with: "").contains("$") == false)
        }
    }

    @Test func renderRefusesWhatNoFormatCarries() {
        let raw = ByteName.decode([0x2F, 0x73, 0x72, 0x76, 0x2F, 0xFF])
        for root in ["/srv/new\nline", "/srv/esc\u{1B}[2J", raw] {
            for f in EnvFormat.allCases {
                #expect(throws: UsageError.self, "\(f) \(root.debugDescription)") { try EnvRenderer(root: root, group: "hf", gid: 1, acl: true).render(f) }
            }
        }
    }

    @Test func composeSnippet() throws {
        let text = try EnvRenderer(root: "/srv/hf", group: "hf", gid: 4200, acl: false).compose()
        #expect(text.contains("    group_add:\n      - \"4200\"\n"))
        #expect(text.contains("        source: \"/srv/hf\"\n        target: \"/srv/hf\"\n"))
        #expect(text.contains("      HF_HUB_CACHE: \"/srv/hf/hub\"\n"))
        #expect(text.contains("umask 002"))
    }

    @Test func profileAndShFormatShareTheVariableList() {
        let profile = Profile.render(root: "/srv/hf", group: "hf", acl: false)
        let sh = EnvRenderer(root: "/srv/hf", group: "hf", gid: 1, acl: false).shell()
        for line in ClientEnvironment.shellLines(root: "/srv/hf", acl: false) {
            #expect(profile.contains("    " + line + "\n"))
            #expect(sh.contains(line + "\n"))
        }
        #expect(profile.contains("export HF_HUB_CACHE=/srv/hf/hub\n"))
        #expect(profile.contains("export HF_TOKEN_PATH=\"${HOME}/.cache/huggingface/token\"\n"))
        #expect(profile.contains("    umask 002\n"))
        #expect(ClientEnvironment.cacheVariables(root: "/r").map(\.name) == ["HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_XET_CACHE", "HF_ASSETS_CACHE"])
    }

    @Test func unitNames() throws {
        #expect(try UnitDropIn.validate("jupyterhub") == "jupyterhub.service")
        #expect(try UnitDropIn.validate("vllm@gpu0.service") == "vllm@gpu0.service")
        #expect(try UnitDropIn.validate("a-b_c:d.e.service") == "a-b_c:d.e.service")
        for bad in ["", ".service", "../etc/x", "a/b.service", "a b.service", "-x.service", ".hidden.service", "a\nb.service", "x;rm.service",
                    String(repeating: "a", count: 250) + ".service"] {
            #expect(throws: UsageError.self, "\(bad.debugDescription)") { try UnitDropIn.validate(bad) }
        }
    }

    @Test func installUnitIsIdempotent() throws {
        let dir = NSTemporaryDirectory() + "hfshare-env-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A systemctl that records what it was asked.
        let log = dir + "/systemctl.log", fake = dir + "/systemctl"
        try "#!/bin/sh\necho \"$@\" >>\(log)\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let systemd = UnitDropIn.Systemd(unitDirectory: dir + "/system", runs: true, systemctl: fake)
        let text = try EnvRenderer(root: "/srv/hf", group: "hf", gid: 1, acl: true).systemd()
        let dry = try UnitDropIn.install(unit: "app", text: text, dryRun: true, systemd: systemd)
        #expect(dry.changed && dry.plan == ["write \(dir)/system/app.service.d/hfshare.conf", "systemctl daemon-reload"])
        #expect(!FileManager.default.fileExists(atPath: dry.path) && !FileManager.default.fileExists(atPath: log))
        let first = try UnitDropIn.install(unit: "app", text: text, dryRun: false, systemd: systemd)
        #expect(first.changed && first.path == dir + "/system/app.service.d/hfshare.conf" && first.reloaded)
        #expect(FileManager.default.contents(atPath: first.path) == Data(text.utf8))
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "daemon-reload\n")
        var st = stat()
        #expect(stat(first.path, &st) == 0 && st.st_mode & 0o7777 == 0o644)
        let ctime = st.st_ctim
        let second = try UnitDropIn.install(unit: "app.service", text: text, dryRun: false, systemd: systemd)
        #expect(!second.changed && second.plan.isEmpty && !second.reloaded)
        #expect(stat(first.path, &st) == 0 && st.st_ctim.tv_sec == ctime.tv_sec && st.st_ctim.tv_nsec == ctime.tv_nsec)
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "daemon-reload\n", "no second reload")
        // Where systemd does not run: written, no reload.
        let offline = UnitDropIn.Systemd(unitDirectory: dir + "/offline", runs: false, systemctl: fake)
        let third = try UnitDropIn.install(unit: "app", text: text, dryRun: false, systemd: offline)
        #expect(third.changed && !third.reloaded && third.plan == ["write \(dir)/offline/app.service.d/hfshare.conf"])
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "daemon-reload\n")
    }

    // MARK: doctor --pid

    /// Each expectation is what huggingface_hub 2.4.0's constants.py printed for the same environment
    /// (env -i ... python -c 'from huggingface_hub import constants'), recorded here.
    @Test(arguments: [
        (["HOME": "/h"], "/h/.cache/huggingface", "/h/.cache/huggingface/hub", "/h/.cache/huggingface/token"),
        (["HOME": "/h/", "XDG_CACHE_HOME": ""], "huggingface", "huggingface/hub", "huggingface/token"),
        (["HOME": "/h", "HF_HOME": "~/x"], "/h/x", "/h/x/hub", "/h/x/token"),
        (["HOME": "/h", "HF_HOME": "$HOME/y", "HF_HUB_CACHE": ""], "/h/y", "", "/h/y/token"),
        (["HOME": "/h", "HF_HUB_CACHE": "${HOME}/a/$NOPE/${}"], "/h/.cache/huggingface", "/h/a/$NOPE/${}", "/h/.cache/huggingface/token"),
        (["HOME": ""], "/.cache/huggingface", "/.cache/huggingface/hub", "/.cache/huggingface/token"),
        (["HOME": "/h", "HUGGINGFACE_HUB_CACHE": "~/legacy"], "/h/.cache/huggingface", "/h/legacy", "/h/.cache/huggingface/token"),
        (["HOME": "/h", "HF_HOME": "~root/z"], "/root/z", "/root/z/hub", "/root/z/token"),
        (["HOME": "/h", "XDG_CACHE_HOME": "rel", "HUGGINGFACE_CO_STAGING": "yes"], "rel/huggingface", "rel/huggingface/hub", "/h/.cache/huggingface_staging/token"),
        (["HOME": "/h", "HF_TOKEN_PATH": "$HOME/$HOME"], "/h/.cache/huggingface", "/h/.cache/huggingface/hub", "/h//h"),
        ([:], "/pw/.cache/huggingface", "/pw/.cache/huggingface/hub", "/pw/.cache/huggingface/token"),
    ])
    func clientPathsLikeHuggingfaceHub(env: [String: String], home: String, hub: String, token: String) {
        let p = ClientPaths.resolve(env, passwdHome: "/pw", lookupHome: { $0 == "root" ? "/root" : nil })
        #expect(p.hfHome == home)
        #expect(p.hubCache == hub)
        #expect(p.tokenPath == token)
    }

    @Test func environBytes() {
        var bytes = Array("HF_HUB_CACHE=/srv/hf/hub\0A=b=c\0NOEQUALS\0BAD=".utf8) + [0xFF, 0xFE] + [0] + Array("A=last\0".utf8)
        bytes += Array("EMPTY=\0".utf8)
        let env = ProcessSnapshot.parseEnviron(bytes)
        #expect(env["HF_HUB_CACHE"] == "/srv/hf/hub")
        #expect(env["A"] == "last")
        #expect(env["EMPTY"] == "")
        #expect(env["NOEQUALS"] == nil)
        // Not UTF-8: kept, losslessly (the same bytes reach the kernel again).
        #expect(env["BAD"].map(ByteName.bytes) == [0xFF, 0xFE])
    }

    @Test func unitFromCgroup() {
        #expect(RunsIn.from(cgroup: "0::/system.slice/vllm.service\n") == .systemService("vllm.service"))
        #expect(RunsIn.from(cgroup: "1:name=systemd:/system.slice/jupyter@x.service\n0::/\n") == .systemService("jupyter@x.service"))
        #expect(RunsIn.from(cgroup: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/nb.service\n") == .userService("nb.service"))
        #expect(RunsIn.from(cgroup: "0::/user.slice/user-1000.slice/session-3.scope\n") == .other)
        #expect(RunsIn.from(cgroup: "0::/system.slice/docker-0123abcd.scope\n") == .container("docker-0123abcd.scope"))
        #expect(RunsIn.from(cgroup: "0::/\n") == .other)
    }

    @Test func processWithoutGroupOrVariablesFails() {
        let t = DoctorTarget(root: "/nonexistent-hfshare-root", gid: 4242_4242, groupName: "hfx", acl: false)
        let p = ProcessSnapshot(pid: 1, command: "python", environment: ["HOME": "/home/x"], uid: 4242_4243, fsuid: 4242_4243,
                                fsgid: 4242_4243, groups: [], umask: 0o022, cgroup: "0::/system.slice/app.service\n")
        let checks = ProcessDoctor.check(p, t)
        let failed = Set(checks.filter { $0.status == .fail }.map(\.id))
        #expect(failed.isSuperset(of: ["group", "cache", "umask"]))
        #expect(checks.first { $0.id == "cache" }?.fix?.contains("hfshare env /nonexistent-hfshare-root --install-unit app.service") == true)
        let good = ProcessSnapshot(pid: 1, command: "python", environment: ["HOME": "/home/x", "HF_HUB_CACHE": "/nonexistent-hfshare-root/hub"],
                                   uid: 4242_4243, fsuid: 4242_4243, fsgid: 4242_4243, groups: [4242_4242], umask: 0o002)
        let goodFailed = ProcessDoctor.check(good, t).filter { $0.status == .fail }.map(\.id)
        #expect(!goodFailed.contains("group") && !goodFailed.contains("cache") && !goodFailed.contains("umask"))
    }
}
