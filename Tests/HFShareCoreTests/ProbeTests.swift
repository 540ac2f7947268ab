import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare probe` on real filesystems, loop-mounted (ext4, xfs, btrfs), tmpfs, and a real JuiceFS
/// mounted twice (two clients, as on two nodes). Every answer is checked against what the filesystem
/// did for `Tests/fs/truth.sh` (ordinary tools: setfacl, flock(1), python's fcntl, ...), and `init`
/// must work on each, with the policy adapted where the probe says so.
@Suite(.serialized) struct ProbeTests {
    /// A mounted filesystem plus what to undo, in reverse order, whatever the test did.
    final class Mounted {
        let box = Sandbox()
        var mountPoint = ""
        var peer: String?
        var undo: [String] = []

        func sh(_ script: String) throws {
            let r = TestEnv.sh("set -e\n" + script)
            try #require(r.status == 0, "\(script)\nfailed: \(r.stderr)\(r.stdout)")
        }

        func cleanup() {
            for step in undo.reversed() { TestEnv.sh(step) }
            box.cleanup()
        }
    }

    static func mount(_ fs: String) throws -> Mounted {
        let m = Mounted()
        m.mountPoint = m.box.path("mnt")
        let img = m.box.path("fs.img")
        let mnt = m.mountPoint
        try m.sh("mkdir '\(mnt)'")
        switch fs {
        case "tmpfs":
            try m.sh("mount -t tmpfs -o size=64m,mode=755 hfshare-probe-test '\(mnt)'")
        case "ext4":
            try m.sh("truncate -s 64M '\(img)'; mkfs.ext4 -q -F '\(img)' >/dev/null; mount -o loop '\(img)' '\(mnt)'")
        case "xfs":
            try m.sh("truncate -s 320M '\(img)'; mkfs.xfs -q -f '\(img)' >/dev/null; mount -o loop '\(img)' '\(mnt)'")
        case "btrfs":
            try m.sh("truncate -s 130M '\(img)'; mkfs.btrfs -q -f '\(img)' >/dev/null 2>&1; mount -o loop '\(img)' '\(mnt)'")
        default:
            Issue.record("unknown filesystem \(fs)")
        }
        m.undo.append("umount '\(mnt)' || umount -l '\(mnt)'")
        // A second mount of the same filesystem as the "peer" (on one kernel a bind mount is what a
        // second client mount is: same inodes, same locks).
        let peer = m.box.path("peer")
        try m.sh("mkdir '\(peer)'; mount --bind '\(mnt)' '\(peer)'")
        m.undo.append("umount '\(peer)' || umount -l '\(peer)'")
        m.peer = peer
        return m
    }

    static func juicefs() throws -> Mounted {
        let m = Mounted()
        let dir = m.box.path("jfs")
        m.undo.append("bash '\(TestEnv.packageRoot)/Tests/fs/juicefs.sh' down '\(dir)'")
        let r = TestEnv.run(["/bin/bash", TestEnv.packageRoot + "/Tests/fs/juicefs.sh", "up", dir])
        try #require(r.status == 0, "JuiceFS could not be set up, so the JuiceFS probe test cannot run: \(r.stderr)")
        m.mountPoint = dir + "/m1"
        m.peer = dir + "/m2"
        return m
    }

    /// What truth.sh found in a fresh dir `rel` under the mount (and the same dir through the peer).
    static func truth(_ m: Mounted, rel: String, gid: UInt32, peer: Bool) throws -> [ProbeCheckID: ProbeAnswer] {
        let dir = m.mountPoint + "/" + rel
        try m.sh("mkdir '\(dir)'")
        var args = ["/bin/bash", TestEnv.packageRoot + "/Tests/fs/truth.sh", dir, String(gid)]
        if peer, let p = m.peer { args.append(p + "/" + rel) }
        let r = TestEnv.run(args)
        try #require(r.status == 0, "truth.sh: \(r.stderr)")
        var answers: [ProbeCheckID: ProbeAnswer] = [:]
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            let id = try #require(ProbeCheckID(rawValue: f[0]), "truth.sh printed unknown id \(f[0])")
            answers[id] = ProbeAnswer(rawValue: f[1])
        }
        return answers
    }

    /// Runs `hfshare probe --json` in a fresh dir and checks each answer against truth.sh.
    @discardableResult
    /// `randomLockFailures`: JuiceFS 0.14 fails a lock with EIO for some lock owners and not others
    /// (owner ids that do not fit its SQL column), so two samples of 16 processes can disagree. There a
    /// lock "no" is true if the probe saw the failure itself (EIO in its detail) or truth.sh saw one.
    static func probeMatchesTruth(_ m: Mounted, gid: UInt32, peer: Bool = true, randomLockFailures: Bool = false) throws -> ProbeResult {
        let target = m.mountPoint + "/probed"
        try m.sh("mkdir '\(target)'")
        var args = ["probe", target, "--json", "--gid", String(gid)]
        if peer, let p = m.peer { args += ["--peer", p] }
        let r = m.box.hfshare(args)
        let result = try JSONDecoder().decode(ProbeResult.self, from: Data(r.stdout.utf8))
        #expect(r.status == (result.failed.isEmpty ? 0 : 1), "exit \(r.status): \(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "scratch dir left behind")
        let truth = try truth(m, rel: "truth", gid: gid, peer: peer)
        let expectedIDs = Set(ProbeCheckID.allCases.filter { peer || !$0.rawValue.hasPrefix("peer-") })
        // peer-acl is only comparable where ACLs work; truth.sh does not try it.
        #expect(Set(truth.keys).union([.peerACL]).isSuperset(of: expectedIDs), "truth.sh lacks \(expectedIDs.subtracting(truth.keys))")
        let lockIDs: Set<ProbeCheckID> = [.flockExclusive, .flockShared, .flockNonblocking, .fcntlLock]
        for id in expectedIDs where id != .peerACL {
            if randomLockFailures && lockIDs.contains(id) && result[id] == .no {
                #expect(truth[id] == .no || (result.check(id)?.detail ?? "").contains("EIO"), "\(id.rawValue): probe says no without a failure it saw: \(result.check(id)?.detail ?? "")")
                continue
            }
            #expect(result[id] == truth[id], "\(id.rawValue): probe says \(result[id].rawValue) (\(result.check(id)?.detail ?? "")), the filesystem did \(truth[id]?.rawValue ?? "?")")
        }
        if peer {
            #expect(result[.peerACL] == (result[.aclAccess] == .yes ? .yes : .untested), "peer-acl: \(result.check(.peerACL)?.detail ?? "")")
        }
        return result
    }

    /// `init` on the filesystem: exit 0, policy adapted to the probe, audit clean afterwards.
    static func initAdapts(_ m: Mounted, group g: TempAccounts.Group, extraArgs: [String] = [], env: [String: String] = [:]) throws -> (RunResult, ProbeResult) {
        let root = m.mountPoint + "/cache"
        let r = m.box.hfshare(["init", root, "--group", g.name] + extraArgs, extraEnv: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let probe = try #require(ProbeRecord.load(root: root), "init did not record its probe")
        let config = try #require(try RootConfig.load(root: root))
        #expect(config.acl == probe.aclPolicyWorks)
        #expect(r.stdout.contains("has no POSIX ACLs") == !probe.aclPolicyWorks, "\(r.stdout)")
        #expect(r.stdout.contains("does not pass the setgid group on") == !probe.setgidInherits, "\(r.stdout)")
        #expect(r.stdout.contains("flock is broken") == !probe.flockWorks, "\(r.stdout)")
        for rel in ["", "/hub", "/datasets", "/xet", "/assets"] {
            let st = try #require(fileStat(root + rel))
            #expect(st.gid == g.gid && st.permissions == 0o2775, "\(rel): gid \(st.gid) mode \(String(st.permissions, radix: 8))")
        }
        let audit = m.box.hfshare(["audit", root])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
        let again = m.box.hfshare(["init", root, "--group", g.name] + extraArgs, extraEnv: env)
        #expect(again.status == 0 && again.stdout.contains("nothing changed"), "\(again.stdout)")
        return (r, probe)
    }

    @Test(arguments: ["ext4", "xfs", "btrfs", "tmpfs"])
    func localFilesystem(_ fs: String) throws {
        let acc = TempAccounts()
        var mounted: Mounted?
        defer { mounted?.cleanup(); acc.cleanup() }
        let m = try Self.mount(fs)
        mounted = m
        let g = acc.group()
        let result = try Self.probeMatchesTruth(m, gid: g.gid)
        #expect(result.filesystem.type == fs && result.filesystem.mountType == fs, "\(result.filesystem)")
        #expect(result.filesystem.mountPoint == m.mountPoint)
        // These kernels' local filesystems do everything the cache needs: a "no" here is a probe bug.
        #expect(result.failed.isEmpty, "\(result.failed)")
        let (_, probe) = try Self.initAdapts(m, group: g)
        #expect(probe.aclPolicyWorks && probe.setgidInherits && probe.flockWorks)
        #expect(readACL(m.mountPoint + "/cache/hub", .default)?[.group(g.gid)] == .rwx)
    }

    /// JuiceFS 0.14.2 (sqlite3 metadata) through two client mounts. What it does, measured: no POSIX
    /// ACLs, no setgid inheritance, no O_TMPFILE, and flock/fcntl locks that fail with EIO in some
    /// processes (its SQL engine cannot store FUSE lock owner ids with the high bit set) but, where
    /// they work, are seen through the other client.
    @Test func juicefsTwoClients() throws {
        let acc = TempAccounts()
        var mounted: Mounted?
        defer { mounted?.cleanup(); acc.cleanup() }
        let m = try Self.juicefs()
        mounted = m
        let g = acc.group()
        let result = try Self.probeMatchesTruth(m, gid: g.gid, randomLockFailures: true)
        #expect(result.filesystem.type == "fuse.juicefs" && result.filesystem.magic == "0x65735546", "\(result.filesystem)")
        for id in [ProbeCheckID.aclAccess, .aclDefaultFile, .aclDefaultDir, .setgidGroupFile, .setgidGroupDir, .setgidBitDir, .tmpfile] {
            #expect(result[id] == .no, "\(id.rawValue): \(result.check(id)?.detail ?? "")")
        }
        #expect(result[.peerVisible] == .yes && result[.peerGroup] == .yes)
        let human = m.box.hfshare(["probe", m.mountPoint + "/probed", "--gid", String(g.gid)])
        #expect(human.status == 1)
        #expect(human.stdout.contains("setgid-group-dir") && human.stdout.contains("PermissionError") && human.stdout.contains("hfshare repair"), "\(human.stdout)")

        // init falls back and says so; with --enable-timer (no systemd here) it writes the cron file.
        let cronDir = m.box.path("cron.d")
        let env = ["HFSHARE_CRONDIR": cronDir, "HFSHARE_SYSTEMD_RUNNING": "0"]
        let (r, probe) = try Self.initAdapts(m, group: g, extraArgs: ["--enable-timer"], env: env)
        #expect(!probe.aclPolicyWorks && !probe.setgidInherits)
        #expect(r.stdout.contains("hfshare init --enable-timer"), "\(r.stdout)")
        let cron = try String(contentsOfFile: cronDir + "/hfshare", encoding: .utf8)
        let binary = URL(fileURLWithPath: TestEnv.binary).resolvingSymlinksInPath().path
        #expect(cron.contains("42 3 * * * root \(binary) repair --quiet"), "\(cron)")
        #expect(!cron.contains("/usr/local/bin/hfshare"), "the cron file runs the hfshare that set it up")
        let profile = try String(contentsOfFile: m.box.path("profile.d/hfshare.sh"), encoding: .utf8)
        #expect(profile.contains("umask 002"))

        // Why the timer: a member's new dir gets the member's group there; repair brings it back,
        // and the other client sees the repaired tree.
        let member = acc.user(supplementary: [g])
        let root = m.mountPoint + "/cache"
        let w = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(member.uid)", "--regid=\(member.gid)", "--init-groups", "/bin/sh", "-c",
                             "umask 002; mkdir \(root)/hub/models--x && echo x > \(root)/hub/models--x/f"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(fileStat(root + "/hub/models--x")?.gid == member.gid)
        let audit = m.box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(audit.status == 1 && audit.stdout.contains("dir-wrong-group") && !audit.stdout.contains("acl"), "\(audit.stdout)")
        let repair = m.box.hfshare(["repair", root])
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        let peerRoot = m.peer! + "/cache"
        var seen: FileStat?
        for _ in 0..<50 {
            seen = fileStat(peerRoot + "/hub/models--x")
            if seen?.gid == g.gid { break }
            usleep(100_000)
        }
        #expect(seen?.gid == g.gid && seen.map { $0.mode & UInt32(S_ISGID) != 0 } == true, "peer sees \(String(describing: seen))")
        let peerAudit = m.box.hfshare(["audit", peerRoot])
        #expect(peerAudit.status == 0, "\(peerAudit.stdout)\(peerAudit.stderr)")
    }

    /// With systemd running, --enable-timer installs the repair units (with this binary's path) and
    /// enables the timer; a second run changes nothing.
    @Test func enableTimerWithSystemd() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let log = box.path("systemctl.log")
        let fake = box.path("systemctl")
        // Records its arguments; "is-enabled" succeeds once "enable" was called.
        try """
            #!/bin/sh
            echo "$*" >> '\(log)'
            [ "$1" != is-enabled ] || grep -q '^enable' '\(log)'
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let env = ["HFSHARE_SYSTEMD_RUNNING": "1", "HFSHARE_SYSTEMD_UNITDIR": box.path("units"), "HFSHARE_SYSTEMCTL": fake]
        let r = box.hfshare(["init", box.path("cache"), "--group", g.name, "--enable-timer"], extraEnv: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let service = try String(contentsOfFile: box.path("units/hfshare-repair.service"), encoding: .utf8)
        let timer = try String(contentsOfFile: box.path("units/hfshare-repair.timer"), encoding: .utf8)
        #expect(service.contains("ExecStart=/") && service.contains("hfshare repair --quiet") && !service.contains("/usr/local/bin"), "\(service)")
        #expect(timer == RepairTimer.timer)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "daemon-reload\nenable --now hfshare-repair.timer\n")
        let again = box.hfshare(["init", box.path("cache"), "--group", g.name, "--enable-timer"], extraEnv: env)
        #expect(again.status == 0 && again.stdout.contains("nothing changed"), "\(again.stdout)")
        #expect(try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: "enable --now").count == 2)
    }

    /// The unit and cron texts init writes are the ones shipped in dist/.
    @Test func timerTextsMatchDist() throws {
        for (file, text) in [("hfshare-repair.service", RepairTimer.service), ("hfshare-repair.timer", RepairTimer.timer), ("hfshare.cron", RepairTimer.cron)] {
            #expect(try String(contentsOfFile: TestEnv.packageRoot + "/dist/" + file, encoding: .utf8) == text, "dist/\(file)")
        }
    }

    /// A node where the group has another GID than init recorded: one report-only finding, and the
    /// policy keeps the recorded GID (repair must not move the cluster's tree to this node's GID).
    @Test func groupGIDMismatch() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("cache")
        #expect(box.hfshare(["init", root, "--group", g.name]).status == 0)
        #expect(GroupGIDCheck.events(root: root).isEmpty)
        var config = try #require(try RootConfig.load(root: root))
        config.gid = g.gid + 100_000
        try config.encoded().write(to: URL(fileURLWithPath: RootConfig.path(root)))
        let events = GroupGIDCheck.events(root: root)
        #expect(events.count == 1)
        let f = try #require(events.first?.finding)
        #expect(f.kind == .groupGIDMismatch && !f.fixable && f.path == root)
        #expect(f.detail.contains("gid \(g.gid + 100_000)") && f.detail.contains("gid \(g.gid)"), "\(f.detail)")
        #expect(GroupGIDCheck.events(root: root, fix: true).first?.outcome == .left)
        let target = try TargetOptions(roots: [root], group: nil, staleAge: 86400, rootIsMember: false, excludes: []).resolve()
        #expect(target.first?.policy.gid == g.gid + 100_000)
        #expect(GroupGIDCheck.finding(root: root, config: config, local: nil)?.detail.contains("no such group") == true)

        // Through the CLI: audit reports it (exit 1, jsonl and Prometheus); repair leaves it (report-only).
        let audit = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(audit.status == 1)
        #expect(audit.stdout.contains("\"kind\":\"group-gid-mismatch\"") && audit.stdout.contains("\"path\":\"\(root)\""), "\(audit.stdout)")
        let prom = box.hfshare(["audit", root, "--format", "prometheus"])
        #expect(prom.stdout.contains("kind=\"group-gid-mismatch\",fixable=\"false\"} 1"))
        let repair = box.hfshare(["repair", root, "--format", "jsonl"])
        #expect(repair.stdout.contains("\"kind\":\"group-gid-mismatch\"") && repair.stdout.contains("\"outcome\":\"left\""), "\(repair.stdout)")
    }

    @Test func mountinfoLines() {
        let line = "36 35 98:0 /sub /mnt/with\\040space rw,noatime master:1 - fuse.juicefs JuiceFS:vol rw,user_id=0,allow_other"
        let parsed = FilesystemProbe.parseMountinfo(line)
        #expect(parsed?.id == 36)
        #expect(parsed?.info.mountPoint == "/mnt/with space" && parsed?.info.mountRoot == "/sub")
        #expect(parsed?.info.mountType == "fuse.juicefs" && parsed?.info.source == "JuiceFS:vol")
        #expect(parsed?.info.mountOptions == "rw,noatime" && parsed?.info.superOptions == "rw,user_id=0,allow_other")
        #expect(FilesystemProbe.parseMountinfo("garbage") == nil)
    }

    /// Not root: the root_squash check is not tried (and says why), and nothing is left behind.
    @Test func probeAsUserDoesNotClaimWhatItCannotTry() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let user = acc.user()
        let dir = box.path("mine")
        mkdir(dir, 0o755)
        chown(dir, user.uid, user.gid)
        let r = box.hfshare(as: user, ["probe", dir, "--json"])
        let result = try JSONDecoder().decode(ProbeResult.self, from: Data(r.stdout.utf8))
        #expect(result[.rootChown] == .untested && result.check(.rootChown)?.detail == "not running as root")
        #expect(result[.setgidGroupDir] == .untested, "a user in no other group cannot make a setgid dir of another group")
        #expect(result[.flockExclusive] == .yes && result[.aclAccess] == .yes)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        let refused = box.hfshare(as: user, ["probe", "/"])
        #expect(refused.status == 2 && refused.stderr.contains("cannot create a scratch directory"), "\(refused.stderr)")
    }

    /// Issue #18: the walker count comes from a measured round trip, never from the filesystem's name.
    @Test func walkersFollowTheMeasuredRoundTrip() {
        #expect(Walkers.choose(roundTrip: 12e-6, cores: 2) == 8)     // a local disk: enough to wait for a cold cache
        #expect(Walkers.choose(roundTrip: 40e-6, cores: 32) == 32)   // at least one per core
        #expect(Walkers.choose(roundTrip: 40e-6, cores: 128) == 64)  // capped
        #expect(Walkers.choose(roundTrip: 500e-6, cores: 2) == 20)   // a FUSE daemon or a LAN server
        #expect(Walkers.choose(roundTrip: 80e-6, cores: 8) == 8)     // never fewer than on a local disk
        #expect(Walkers.choose(roundTrip: 100e-6, cores: 2) == 8)
        #expect(Walkers.choose(roundTrip: 5e-3, cores: 2) == 64)     // capped
        #expect(Walkers.unmeasured == Walkers.choose(roundTrip: 0))
    }

    /// Root's probe of a cache root made by init records its answers (and the walker count audit then
    /// uses) in the state dir; a plain directory gets nothing written.
    @Test func probeRecordsWalkersForAnInitRoot() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = try box.initRoot("cache", group: g)
        try FileManager.default.removeItem(atPath: root + "/.hfshare/probe.json")
        let r = box.hfshare(["probe", root])
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        #expect(r.stdout.contains("metadata round trip") && r.stdout.contains("recorded in \(root)/.hfshare/probe.json"), "\(r.stdout)")
        let data = try #require(FileManager.default.contents(atPath: root + "/.hfshare/probe.json"))
        let recorded = try JSONDecoder().decode(ProbeResult.self, from: data)
        let rt = try #require(recorded.metadataRoundTrip)
        #expect(recorded.walkers == Walkers.choose(roundTrip: rt))
        #expect(ProbeRecord.load(root: root)?.walkers == recorded.walkers)
        #expect(ProbeRecord.walkers(root: root) == recorded.walkers)
        let st = try #require(fileStat(root + "/.hfshare/probe.json"))
        #expect(st.uid == 0 && st.permissions & 0o022 == 0)
        let plain = box.path("plain")
        mkdir(plain, 0o755)
        let p = box.hfshare(["probe", plain])
        #expect(!p.stdout.contains("recorded in"), "\(p.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain).isEmpty)

        // A count recorded under an older rule: the measured round trip decides; without one, the count.
        var stale = recorded
        stale.metadataRoundTrip = 12e-6; stale.walkers = 2
        try JSONEncoder().encode(stale).write(to: URL(fileURLWithPath: root + "/.hfshare/probe.json"))
        #expect(ProbeRecord.walkers(root: root) == Walkers.choose(roundTrip: 12e-6))
        stale.metadataRoundTrip = nil; stale.walkers = 5
        try JSONEncoder().encode(stale).write(to: URL(fileURLWithPath: root + "/.hfshare/probe.json"))
        #expect(ProbeRecord.walkers(root: root) == 5)
    }
}
