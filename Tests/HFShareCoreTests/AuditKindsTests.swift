import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// A tree with every finding kind of SPEC.md plus decoys that must not be reported, owned by several
/// temporary users, audited in all three output formats; then repaired.
@Suite(.serialized) struct AuditKindsTests {
    struct Fixture {
        let box: Sandbox
        let acc: TempAccounts
        let root: String
        let group: TempAccounts.Group
        let expected: Set<String> // "kind path"
        let holder: Process
    }

    static func makeFixture() throws -> Fixture {
        let box = Sandbox(), acc = TempAccounts()
        let g = acc.group()
        let a = acc.user(primary: g), b = acc.user(supplementary: [g]), c = acc.user()
        var unknown: UInt32 = 70123
        while NSS.user(uid: unknown) != nil { unknown += 1 }
        let root = box.path("p/cache")
        let made = box.hfshare(["init", root, "--group", g.name, "--root-is-member", "--no-profile"])
        precondition(made.status == 0, made.stderr)
        let m = root + "/hub/models--a--m"
        let locks = root + "/hub/.locks/models--a--m"
        let setup = TestEnv.sh("""
            set -e
            cd '\(root)/hub'
            mkdir -p '\(m)/blobs' '\(m)/snapshots/s1' '\(locks)' ../../cache.outside
            echo secret > ../../cache.outside/secret; chgrp \(g.gid) ../../cache.outside/secret; chmod 664 ../../cache.outside/secret
            cd '\(m)/blobs'
            for f in good legacy strict pair1 private wronggrp masked worldw setid unknown byC x.incomplete y.incomplete; do echo $f > $f; done
            ln pair1 pair2
            ln ../../../../cache.outside/secret outside
            setfacl -b legacy private; chmod 664 legacy; chmod 600 private
            chmod 660 strict; chgrp \(c.gid) wronggrp; setfacl -m m::r-- masked; chmod 666 worldw; chmod 2664 setid
            touch -d '3 days ago' x.incomplete
            echo partial > held.1a2b3c4d.incomplete; touch -d '3 days ago' held.1a2b3c4d.incomplete
            mkfifo ../fifo
            cd ../snapshots/s1
            ln -s ../../blobs/good ok; ln -s ../../../../../cache.outside/secret esc; ln -s /etc/passwd abs; ln -s ../../blobs/missing dang
            ln -s ../../../../../cache/hub inside_abs_ok
            cd '\(locks)'
            touch old.lock held.lock fresh.lock ro.lock; chmod 664 old.lock held.lock fresh.lock
            setfacl -b ro.lock; chmod 644 ro.lock
            touch -d '3 days ago' old.lock held.lock
            cd '\(root)/hub'
            echo hf_xxx > token; chmod 644 token
            for d in d-wronggrp d-nosgid d-sticky d-ow d-owner d-gperm d-mask d-nodef d-defbad d-strict; do mkdir $d; done
            chgrp \(c.gid) d-wronggrp; chmod g-s d-nosgid; chmod +t d-sticky; chmod o+w d-ow; chmod 2770 d-strict
            setfacl -x g:\(g.gid) d-gperm; setfacl -m g::r-x d-gperm; setfacl -m m::r-x d-mask; setfacl -k d-nodef
            setfacl -d -m m::r-x d-defbad
            chown -R \(a.uid) '\(m)' '\(root)/hub/.locks'
            chown -R \(b.uid) d-*
            chown \(c.uid) '\(m)/blobs/byC'; chown \(unknown) '\(m)/blobs/unknown'
            chmod 2575 d-owner
            chmod 750 '\(box.path("p"))'
            """)
        precondition(setup.status == 0, setup.stderr)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(300)",
                            locks + "/held.lock"]
        try holder.run()
        usleep(200_000)
        let expected: [(FindingKind, String)] = [
            (.dirWrongGroup, "hub/d-wronggrp"), (.dirNoSetgid, "hub/d-nosgid"), (.dirSticky, "hub/d-sticky"),
            (.dirWorldWritable, "hub/d-ow"), (.dirOwnerPerms, "hub/d-owner"), (.dirGroupPerms, "hub/d-gperm"),
            (.dirACLMask, "hub/d-mask"), (.dirNoDefaultACL, "hub/d-nodef"), (.dirDefaultACLBad, "hub/d-defbad"),
            (.fileWrongGroup, "hub/models--a--m/blobs/wronggrp"), (.fileGroupPerms, "hub/models--a--m/blobs/private"),
            (.fileACLMask, "hub/models--a--m/blobs/masked"), (.lockNotGroupWritable, "hub/.locks/models--a--m/ro.lock"),
            (.fileWorldWritable, "hub/models--a--m/blobs/worldw"), (.fileSetid, "hub/models--a--m/blobs/setid"),
            (.fileHardlinkOutside, "hub/models--a--m/blobs/outside"), (.tokenReadable, "hub/token"),
            (.symlinkEscapes, "hub/models--a--m/snapshots/s1/esc"), (.symlinkEscapes, "hub/models--a--m/snapshots/s1/abs"),
            (.symlinkDangling, "hub/models--a--m/snapshots/s1/dang"), (.ownerUnknownUID, "hub/models--a--m/blobs/unknown"),
            (.ownerNotMember, "hub/models--a--m/blobs/byC"), (.specialFile, "hub/models--a--m/fifo"),
            (.lockStale, "hub/.locks/models--a--m/old.lock"), (.incompleteOld, "hub/models--a--m/blobs/x.incomplete"),
        ]
        var set = Set(expected.map { "\($0.0.rawValue) \(root)/\($0.1)" })
        set.insert("parent-not-traversable \(box.path("p"))")
        return Fixture(box: box, acc: acc, root: root, group: g, expected: set, holder: holder)
    }

    static func tearDown(_ f: Fixture) {
        kill(f.holder.processIdentifier, SIGKILL)
        f.holder.waitUntilExit()
        f.box.cleanup()
        f.acc.cleanup()
    }

    @Test func reportsExactlyTheExpectedFindingsInAllFormats() throws {
        let f = try Self.makeFixture()
        defer { Self.tearDown(f) }
        let jsonl = f.box.hfshare(["audit", f.root, "--format", "jsonl"])
        #expect(jsonl.status == 1, "\(jsonl.stderr)")
        var got = Set<String>()
        for line in jsonl.stdout.split(separator: "\n") {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let kind = try #require(obj["kind"] as? String), path = try #require(obj["path"] as? String)
            #expect(path.hasPrefix("/"))
            #expect(obj["fixable"] as? Bool == FindingKind(rawValue: kind)?.fixable)
            #expect((obj["message"] as? String)?.isEmpty == false)
            got.insert("\(kind) \(path)")
        }
        #expect(got == f.expected, "missing: \(f.expected.subtracting(got)) extra: \(got.subtracting(f.expected))")

        let text = f.box.hfshare(["audit", f.root, "--all"])
        #expect(text.status == 1)
        var fromText = Set<String>()
        var kind = ""
        for line in text.stdout.split(separator: "\n").map(String.init) {
            if !line.hasPrefix(" "), let colon = line.firstIndex(of: ":"), FindingKind(rawValue: String(line[..<colon])) != nil {
                kind = String(line[..<colon])
            } else if line.hasPrefix("  /") {
                fromText.insert("\(kind) \(line.dropFirst(2).components(separatedBy: "  ")[0])")
            }
        }
        #expect(fromText == f.expected)

        let prom = f.box.hfshare(["audit", f.root, "--format", "prometheus", "--textfile", f.box.path("m.prom")])
        #expect(prom.status == 1)
        for k in FindingKind.allCases {
            let n = f.expected.filter { $0.hasPrefix(k.rawValue + " ") }.count
            #expect(prom.stdout.contains("kind=\"\(k.rawValue)\",fixable=\"\(k.fixable)\"} \(n)\n"), "\(k)")
        }
        #expect(prom.stdout.contains("hfshare_audit_last_success_timestamp_seconds"))
        #expect(try String(contentsOfFile: f.box.path("m.prom"), encoding: .utf8) == prom.stdout)

        // Quiet in cron: nothing at all when healthy, and the audit changed nothing.
        let before = TreeSnapshot.take(f.root)
        _ = f.box.hfshare(["audit", f.root, "--quiet"])
        #expect(TreeSnapshot.take(f.root) == before)
    }

    /// `--exclude` drops paths (glob on the path under ROOT or on the name, subtrees included) and
    /// `--stale-age` moves the line between an old lock and a stale one.
    @Test func excludeAndStaleAge() throws {
        let f = try Self.makeFixture()
        defer { Self.tearDown(f) }
        func kinds(_ extra: [String]) throws -> Set<String> {
            let r = f.box.hfshare(["audit", f.root, "--format", "jsonl"] + extra)
            #expect(r.status == 1, "\(r.stderr)")
            return Set(try r.stdout.split(separator: "\n").map { line in
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return "\(o["kind"]!) \(o["path"]!)"
            })
        }
        let excluded = try kinds(["--exclude", "hub/d-*", "--exclude", "*.incomplete", "--exclude", "snapshots"])
        let dropped: (String) -> Bool = { $0.contains("/hub/d-") || $0.hasSuffix(".incomplete") || $0.contains("/snapshots/") }
        #expect(excluded == f.expected.filter { !dropped($0) }, "extra: \(excluded.subtracting(f.expected)) missing: \(f.expected.filter { !dropped($0) }.subtracting(excluded))")
        let patient = try kinds(["--stale-age", "5d"])
        #expect(patient == f.expected.filter { !$0.hasPrefix("lock-stale ") && !$0.hasPrefix("incomplete-old ") })
        // One walker thread or many: the same findings.
        #expect(try kinds(["--threads", "1"]) == f.expected && (try kinds(["--threads", "16"])) == f.expected)
        #expect(f.box.hfshare(["audit", f.root, "--threads", "0"]).status == 2)
        let bad = f.box.hfshare(["audit", f.root, "--stale-age", "soon"])
        #expect(bad.status == 2 && bad.stderr.contains("--stale-age soon"))
    }

    /// Read-only down to access times: directories are listed and lock files probed through O_NOATIME
    /// descriptors (root may use it on anyone's files), so even relatime's "atime older than mtime"
    /// update does not happen.
    @Test func auditLeavesAccessTimes() throws {
        let f = try Self.makeFixture()
        defer { Self.tearDown(f) }
        let dirs = ["/hub", "/hub/models--a--m/blobs", "/hub/.locks/models--a--m"].map { f.root + $0 }
        let old = f.root + "/hub/.locks/models--a--m/old.lock"
        for p in dirs + [old] { #expect(TestEnv.run(["/usr/bin/touch", "-a", "-h", "-d", "@978307200", p]).status == 0) }
        let atimes = { (dirs + [old]).map { TestEnv.run(["/usr/bin/stat", "-c", "%X", $0]).stdout } }
        let before = atimes()
        #expect(before.allSatisfy { $0 == "978307200\n" }, "\(before)")
        #expect(f.box.hfshare(["audit", f.root, "--quiet"]).status == 1)
        #expect(atimes() == before)
    }

    @Test func quietHealthyAuditPrintsNothing() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        #expect(box.hfshare(["init", box.path("c"), "--group", g.name, "--no-profile"]).status == 0)
        let r = box.hfshare(["audit", "--quiet"])
        #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.isEmpty)
        let missing = box.hfshare(["audit", box.path("nope"), "--group", g.name])
        #expect(missing.status == 2 && missing.stderr.contains("no such directory"))
        let bare = box.hfshare(["audit", box.path("p")])
        #expect(bare.status == 2)
    }

    /// Big directories need several getdents64 reads; where a short read ends the listing (tmpfs,
    /// the filesystem under /var/tmp) none may be lost.
    @Test func bigDirectoriesAreListedWhole() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { TestEnv.sh("umount '\(box.path("t"))' 2>/dev/null"); box.cleanup(); acc.cleanup() }
        let g = acc.group()
        #expect(TestEnv.sh("mkdir '\(box.path("t"))' && mount -t tmpfs -o size=64m hft '\(box.path("t"))'").status == 0)
        for root in [box.path("t/c"), box.path("c")] {
            // 7000 names of 40-90 bytes: ~600 KiB of records, ten 64 KiB reads, in varied sizes.
            let made = TestEnv.run(["/usr/bin/python3", "-c", """
                import os, sys
                d = sys.argv[1] + "/hub/models--a--b/blobs"; os.makedirs(d)
                for i in range(7000): open(os.path.join(d, "%d-" % i + "x" * (40 + i % 50)), "w").close()
                """, root])
            #expect(made.status == 0, "\(made.stderr)")
            // 16 walkers print at once (the lines are formatted in parallel, written in 64 KiB pieces):
            // every line whole, each file once.
            let r = TestEnv.run([TestEnv.binary, "audit", root, "--group", g.name, "--format", "jsonl", "--root-is-member", "--threads", "16"])
            var paths = Set<String>()
            for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let o = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a whole JSON line: \(line)")
                if o["kind"] as? String == "file-wrong-group", let p = o["path"] as? String { paths.insert(p) }
            }
            #expect(r.stdout.hasSuffix("\n"))
            #expect(paths.count == 7000, "\(root): \(paths.count) of 7000 files seen")
        }
    }

    /// A long walk shows "N entries, R/s  DIR" on a terminal's stderr, and nothing in a pipe or cron.
    @Test func progressLineOnlyOnATerminal() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = box.path("big")
        #expect(TestEnv.run(["/usr/bin/python3", TestEnv.packageRoot + "/bench/gen_tree.py", root, "--entries", "60000"]).status == 0)
        let cmd = "\(TestEnv.binary) audit \(root) --group \(g.name) >/dev/null"
        // script(1) gives the command a pseudo-terminal; CI=1 (set by TestEnv.run) also turns progress off.
        let tty = TestEnv.run(["/usr/bin/env", "-u", "CI", "/usr/bin/script", "-qec", cmd, "/dev/null"])
        #expect(tty.stdout.contains(" entries, ") && tty.stdout.contains("/s  ") && (tty.stdout.contains("/s  /var/tmp/") || tty.stdout.contains("/s  ...")), "\(tty.stdout.suffix(300))")
        let pipe = TestEnv.run(["/usr/bin/env", "-u", "CI", "/bin/sh", "-c", cmd])
        #expect(!pipe.stderr.contains("entries"), "\(pipe.stderr)")
    }

    @Test func repairFixesEveryFixableKindAndKeepsBytes() throws {
        let f = try Self.makeFixture()
        defer { Self.tearDown(f) }
        let outside = f.box.path("p/cache.outside/secret")
        let outsideBefore = try #require(fileStat(outside))
        let sums = TestEnv.sh("cd '\(f.root)' && find . -type f ! -path './.hfshare/*' ! -name '*.incomplete' ! -name 'old.lock' -exec sha256sum {} + | sort").stdout
        let links = TestEnv.sh("cd '\(f.root)' && find . -type l -printf '%p %l\\n' | sort").stdout

        let before = TreeSnapshot.take(f.root)
        let dry = f.box.hfshare(["repair", f.root, "--dry-run"])
        #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("would-fix dir-sticky \(f.root)/hub/d-sticky"))
        #expect(TreeSnapshot.take(f.root) == before)

        let r = f.box.hfshare(["repair", f.root, "--format", "prometheus"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let fixable = f.expected.filter { FindingKind(rawValue: String($0.split(separator: " ")[0]))!.fixable }.count
        #expect(r.stdout.contains("hfshare_repair_findings{root=\"\(f.root)\",outcome=\"fixed\"} \(fixable)\n"), "\(r.stdout)")
        #expect(r.stdout.contains("outcome=\"failed\"} 0\n") && r.stdout.contains("hfshare_repair_last_success_timestamp_seconds"))
        let after = f.box.hfshare(["audit", f.root, "--format", "jsonl"])
        let left = Set(after.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return "\(o["kind"]!) \(o["path"]!)"
        })
        let reportOnly = f.expected.filter { !FindingKind(rawValue: String($0.split(separator: " ")[0]))!.fixable }
        #expect(left == reportOnly, "left: \(left.subtracting(reportOnly))")
        #expect(TestEnv.sh("cd '\(f.root)' && find . -type f ! -path './.hfshare/*' ! -name '*.incomplete' ! -name 'old.lock' -exec sha256sum {} + | sort").stdout == sums)
        #expect(TestEnv.sh("cd '\(f.root)' && find . -type l -printf '%p %l\\n' | sort").stdout == links)
        #expect(!FileManager.default.fileExists(atPath: f.root + "/hub/.locks/models--a--m/old.lock"))
        #expect(FileManager.default.fileExists(atPath: f.root + "/hub/.locks/models--a--m/held.lock"))
        #expect(FileManager.default.fileExists(atPath: f.root + "/hub/models--a--m/blobs/y.incomplete"))
        // Old, but its download's lock is held: a slow transfer, not a leftover.
        #expect(FileManager.default.fileExists(atPath: f.root + "/hub/models--a--m/blobs/held.1a2b3c4d.incomplete"))
        // The outside name keeps its inode, mode, owner and bytes; the inside name got its own inode.
        let outsideAfter = try #require(fileStat(outside))
        #expect(outsideAfter.ino == outsideBefore.ino && outsideAfter.permissions == outsideBefore.permissions && outsideAfter.uid == outsideBefore.uid)
        #expect(outsideAfter.nlink == 1)
        #expect(fileStat(f.root + "/hub/models--a--m/blobs/outside")?.ino != outsideBefore.ino)
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "secret\n")
        // Inside pairs stay one inode; stricter modes stay stricter; no temp files remain.
        #expect(fileStat(f.root + "/hub/models--a--m/blobs/pair1")?.ino == fileStat(f.root + "/hub/models--a--m/blobs/pair2")?.ino)
        #expect(fileStat(f.root + "/hub/models--a--m/blobs/strict")?.permissions == 0o660)
        #expect(fileStat(f.root + "/hub/d-strict")?.permissions == 0o2770)
        #expect(TestEnv.sh("find '\(f.root)' -name '.hfshare-repair-*'").stdout.isEmpty)

        // A second run changes nothing (but its own lock records in .hfshare/).
        let tree = { TreeSnapshot.take(f.root).filter { !$0.key.hasPrefix(f.root + "/.hfshare") } }
        let snap = tree()
        let again = f.box.hfshare(["repair", f.root, "--format", "jsonl"])
        #expect(again.status == 0)
        #expect(!again.stdout.contains("\"outcome\":\"fixed\""))
        #expect(tree() == snap)
    }
}
