import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `hfshare migrate` through the built binary on hub caches laid out as huggingface_hub lays them out,
/// blob names computed by sha256sum / git hash-object (not by the code under test), owned by temp users.
@Suite(.serialized) struct MigrateTests {
    /// Shell helpers: `put CACHE REPO COMMIT PATH lfs|git FILE` stores FILE as a blob named like the
    /// client names it and links it from the snapshot; `ref CACHE REPO NAME COMMIT`.
    static let helpers = #"""
        set -e
        put() {
            c=$1 r=$2 commit=$3 p=$4 kind=$5 f=$6
            if [ "$kind" = lfs ]; then h=$(sha256sum < "$f" | cut -c1-64); else h=$(git hash-object --no-filters "$f"); fi
            mkdir -p "$c/$r/blobs" "$c/$r/snapshots/$commit/$(dirname "$p")" "$c/.locks/$r"
            cp "$f" "$c/$r/blobs/$h"
            touch "$c/.locks/$r/$h.lock"
            depth=$(printf %s "$p" | tr -cd / | wc -c); up=../..; j=0
            while [ $j -lt $depth ]; do up="../$up"; j=$((j+1)); done
            ln -sfn "$up/blobs/$h" "$c/$r/snapshots/$commit/$p"
        }
        ref() { mkdir -p "$1/$2/refs/$(dirname "$3")"; printf %s "$4" > "$1/$2/refs/$3"; }
        data() { head -c "$2" /dev/zero | tr '\0' "$3" > "$1"; }   # data FILE SIZE CHAR
        """#

    static let repo = "models--org--m"
    static let c1 = String(repeating: "1", count: 40), c2 = String(repeating: "2", count: 40)

    /// Every symlink under `dir` resolves to an existing file (no dangling snapshot link anywhere).
    func dangling(_ dir: String) -> [String] {
        let r = TestEnv.sh("find '\(dir)' -type l ! -exec test -e {} \\; -print")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func sha256(_ path: String) -> String {
        String(TestEnv.sh("sha256sum < '\(path)'").stdout.prefix(64))
    }

    func bytesSaved(_ out: String) -> UInt64? {
        guard let r = out.range(of: #"saved (\d+) bytes"#, options: .regularExpression) else { return nil }
        return UInt64(out[r].split(separator: " ")[1])
    }

    struct Fixture {
        let box = Sandbox(), acc = TempAccounts()
        let g: TempAccounts.Group
        let alice: TempAccounts.User, bob: TempAccounts.User
        let root: String
        init() {
            g = acc.group()
            alice = acc.user(supplementary: [g])
            bob = acc.user(primary: g)
            root = box.path("cache")
        }
        func cleanup() { box.cleanup(); acc.cleanup() }
    }

    @Test func mergesTwoCachesWithDedupRefConflictsOwnersAndPolicy() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("alice-hub"), b = f.box.path("bob-hub"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d)
            data \(d)/weights 300000 w; data \(d)/cfg1 40 a; data \(d)/cfg2 41 b; data \(d)/readme 30 r; data \(d)/extra 70000 x
            data \(d)/ds 120000 d
            R=\(MigrateTests.repo)
            put \(a) $R \(MigrateTests.c1) model.bin lfs \(d)/weights
            put \(a) $R \(MigrateTests.c1) config.json git \(d)/cfg1
            put \(a) $R \(MigrateTests.c1) docs/README.md git \(d)/readme
            ref \(a) $R main \(MigrateTests.c1)
            touch -d '2024-01-01' \(a)/$R/refs/main
            put \(b) $R \(MigrateTests.c2) model.bin lfs \(d)/weights
            put \(b) $R \(MigrateTests.c2) config.json git \(d)/cfg2
            put \(b) $R \(MigrateTests.c2) docs/README.md git \(d)/readme
            put \(b) $R \(MigrateTests.c2) extra.bin lfs \(d)/extra
            put \(b) $R \(MigrateTests.c1) model.bin lfs \(d)/weights
            ref \(b) $R main \(MigrateTests.c2)
            ref \(b) $R v1 \(MigrateTests.c1)
            ref \(b) $R pr/7 \(MigrateTests.c2)
            put \(b) datasets--org--d \(MigrateTests.c1) data/train.parquet lfs \(d)/ds
            ref \(b) datasets--org--d main \(MigrateTests.c1)
            mkdir -p \(b)/datasets--org--d/.no_exist/\(MigrateTests.c1) && touch \(b)/datasets--org--d/.no_exist/\(MigrateTests.c1)/missing.json
            echo 'Signature: 8a477f597d28d172789f06886806bc55' > \(b)/CACHEDIR.TAG
            touch \(b)/$R/blobs/deadbeef.incomplete
            chown -R \(f.alice.uid):\(f.alice.gid) \(a); chown -R \(f.bob.uid):\(f.bob.gid) \(b)
            chmod -R go-w \(a) \(b); chmod 600 \(a)/$R/blobs/*
            touch -d '2025-06-01' \(b)/$R/refs/main
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let blobA = sha256(d + "/weights")

        let ma = f.box.hfshare(["migrate", a, f.root])
        #expect(ma.status == 0, "\(ma.stdout)\(ma.stderr)")
        #expect(bytesSaved(ma.stdout) == 0, "\(ma.stdout)")
        // --json, dry run first: what scripts get, the same numbers as the real run's text below.
        let plan = f.box.hfshare(["migrate", b, f.root, "--dry-run", "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planned = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect(planned["bytesSaved"] as? Int == 300_030 && planned["dryRun"] as? Bool == true && planned["complete"] as? Bool == true, "\(plan.stdout)")
        #expect((planned["repos"] as? [[String: Any]])?.contains { ($0["refConflicts"] as? [String])?.count == 1 } == true, "\(plan.stdout)")
        let mb = f.box.hfshare(["migrate", b, f.root])
        #expect(mb.status == 0, "\(mb.stdout)\(mb.stderr)")
        // bob's copies of the weights (300000) and README (30) were already shared: not copied twice.
        #expect(bytesSaved(mb.stdout) == 300_030, "\(mb.stdout)")
        #expect(mb.stdout.contains("ref conflict \(MigrateTests.repo) main: now \(MigrateTests.c2) (the private ref was newer); the shared cache had \(MigrateTests.c1)"), "\(mb.stdout)")
        #expect(mb.stdout.contains("1 unfinished download(s) dropped"))

        let hub = f.root + "/hub/" + MigrateTests.repo
        #expect(try String(contentsOfFile: hub + "/refs/main", encoding: .utf8) == MigrateTests.c2)
        #expect(try String(contentsOfFile: hub + "/refs/v1", encoding: .utf8) == MigrateTests.c1)
        #expect(try String(contentsOfFile: hub + "/refs/pr/7", encoding: .utf8) == MigrateTests.c2)
        #expect(FileManager.default.fileExists(atPath: f.root + "/hub/datasets--org--d/.no_exist/\(MigrateTests.c1)/missing.json"))
        let blobs = try FileManager.default.contentsOfDirectory(atPath: hub + "/blobs").sorted()
        #expect(blobs.count == 5, "\(blobs)") // weights, cfg1, cfg2, readme, extra: one copy each
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") || $0.hasPrefix(".hfshare") })
        // Owners kept: the shared weights came from alice (first), extra.bin from bob; group and modes by policy.
        let weights = try #require(fileStat(hub + "/blobs/" + blobA))
        #expect(weights.uid == f.alice.uid && weights.gid == f.g.gid && weights.permissions == 0o660 && weights.nlink == 1,
                "\(String(weights.permissions, radix: 8)) \(weights.uid)")
        let extra = try #require(fileStat(hub + "/blobs/" + sha256(d + "/extra")))
        #expect(extra.uid == f.bob.uid && extra.permissions == 0o664)
        #expect(fileStat(hub + "/snapshots/\(MigrateTests.c2)/extra.bin")?.uid == f.bob.uid, "snapshot links keep their owner too")
        #expect(fileStat(hub)?.uid == f.alice.uid && fileStat(hub)?.permissions == 0o2775)
        #expect(readACL(hub + "/snapshots", .default)?[.group(f.g.gid)] == .rwx)
        // Every snapshot file resolves, with the right bytes, for both users.
        #expect(dangling(f.root).isEmpty && dangling(a).isEmpty && dangling(b).isEmpty)
        for (commit, path, src) in [(MigrateTests.c1, "model.bin", "weights"), (MigrateTests.c1, "docs/README.md", "readme"),
                                    (MigrateTests.c1, "config.json", "cfg1"), (MigrateTests.c2, "config.json", "cfg2"),
                                    (MigrateTests.c2, "extra.bin", "extra"), (MigrateTests.c2, "model.bin", "weights")] {
            for u in [f.alice, f.bob] {
                let read = TestEnv.run(["/usr/bin/setpriv", "--reuid=\(u.uid)", "--regid=\(u.gid)", "--init-groups", "/bin/sh", "-c",
                                        "sha256sum < \(hub)/snapshots/\(commit)/\(path)"])
                #expect(read.status == 0 && read.stdout.prefix(64) == sha256(d + "/" + src), "\(u.name) \(commit)/\(path): \(read.stderr)")
            }
        }
        // Sources: no repo left, still a (now empty) hub cache; the shared cache is healthy.
        #expect(try FileManager.default.contentsOfDirectory(atPath: a).filter { $0.hasPrefix("models--") }.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: b).sorted() == [".locks", "CACHEDIR.TAG"])
        let audit = f.box.hfshare(["audit", f.root])
        #expect(audit.status == 0, "\(audit.stdout)")
        // A second run finds nothing to do.
        let again = f.box.hfshare(["migrate", b, f.root])
        #expect(again.status == 0 && again.stdout.contains("moved 0 blob(s)"), "\(again.stdout)")
    }

    @Test func olderPrivateRefLosesAndIsReported() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("a"), b = f.box.path("b"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/x 10 x; data \(d)/y 11 y
            put \(a) \(MigrateTests.repo) \(MigrateTests.c2) f.txt git \(d)/x; ref \(a) \(MigrateTests.repo) main \(MigrateTests.c2)
            put \(b) \(MigrateTests.repo) \(MigrateTests.c1) f.txt git \(d)/y; ref \(b) \(MigrateTests.repo) main \(MigrateTests.c1)
            touch -d '2023-01-01' \(b)/\(MigrateTests.repo)/refs/main
            chown -R \(f.alice.uid) \(a); chown -R \(f.bob.uid) \(b)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        #expect(f.box.hfshare(["migrate", a, f.root]).status == 0)
        let mb = f.box.hfshare(["migrate", b, f.root])
        #expect(mb.status == 0, "\(mb.stdout)")
        #expect(mb.stdout.contains("main: kept \(MigrateTests.c2) (the shared ref is newer); the private cache had \(MigrateTests.c1)"), "\(mb.stdout)")
        let hub = f.root + "/hub/" + MigrateTests.repo
        #expect(try String(contentsOfFile: hub + "/refs/main", encoding: .utf8) == MigrateTests.c2)
        #expect(FileManager.default.fileExists(atPath: hub + "/snapshots/\(MigrateTests.c1)/f.txt"), "the other commit's snapshot stays")
    }

    @Test func corruptBlobStaysInTheSourceWithItsLinks() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("a"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/good 5000 g; data \(d)/bad 6000 b; data \(d)/small 12 s
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) good.bin lfs \(d)/good
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) bad.bin lfs \(d)/bad
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) small.txt git \(d)/small
            ref \(a) \(MigrateTests.repo) main \(MigrateTests.c1)
            printf X | dd of=\(a)/\(MigrateTests.repo)/blobs/$(sha256sum < \(d)/bad | cut -c1-64) bs=1 seek=100 conv=notrunc 2>/dev/null
            printf Z | dd of=\(a)/\(MigrateTests.repo)/blobs/$(git hash-object \(d)/small) bs=1 seek=3 conv=notrunc 2>/dev/null
            chown -R \(f.alice.uid) \(a)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let m = f.box.hfshare(["migrate", a, f.root])
        #expect(m.status == 1, "\(m.stdout)\(m.stderr)")
        #expect(m.stdout.contains("content does not match its name"), "\(m.stdout)")
        let badName = sha256(d + "/bad")
        let src = a + "/" + MigrateTests.repo
        let dst = f.root + "/hub/" + MigrateTests.repo
        #expect(FileManager.default.fileExists(atPath: src + "/blobs/" + badName))
        #expect(FileManager.default.fileExists(atPath: src + "/snapshots/\(MigrateTests.c1)/bad.bin"))
        #expect(FileManager.default.fileExists(atPath: src + "/snapshots/\(MigrateTests.c1)/small.txt"))
        #expect(!FileManager.default.fileExists(atPath: dst + "/blobs/" + badName))
        #expect(sha256(dst + "/snapshots/\(MigrateTests.c1)/good.bin") == sha256(d + "/good"))
        #expect(!FileManager.default.fileExists(atPath: src + "/snapshots/\(MigrateTests.c1)/good.bin"))
        #expect(dangling(a).isEmpty && dangling(f.root).isEmpty, "\(dangling(a)) \(dangling(f.root))")
        let rm = f.box.hfshare(["migrate", a, f.root, "--remove-source"])
        #expect(rm.status == 1)
        #expect(rm.stdout.contains("not removed (--remove-source)"))
        #expect(FileManager.default.fileExists(atPath: a))
    }

    @Test func acrossFilesystemsCopiesVerifiesAndDeletes() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        var template = Array("/dev/shm/hfshare-migrate.XXXXXX".utf8CString)
        let shm = String(cString: mkdtemp(&template)!)
        defer { TestEnv.sh("rm -rf '\(shm)'") }
        try #require(fileStat(shm)!.dev != fileStat(f.root)!.dev, "/dev/shm must be another filesystem")
        let a = shm + "/hub", d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/w 200000 w; data \(d)/c 20 c
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) w.bin lfs \(d)/w
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) c.json git \(d)/c
            ref \(a) \(MigrateTests.repo) main \(MigrateTests.c1)
            touch -d '2024-02-03 04:05:06' \(a)/\(MigrateTests.repo)/blobs/*
            chown -R \(f.alice.uid) \(a)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let m = f.box.hfshare(["migrate", shm, f.root, "--remove-source"])
        #expect(m.status == 0, "\(m.stdout)\(m.stderr)")
        #expect(m.stdout.contains("copied across filesystems"), "\(m.stdout)")
        #expect(m.stdout.contains("\(a): removed"), "\(m.stdout)")
        #expect(!FileManager.default.fileExists(atPath: a))
        let blob = f.root + "/hub/\(MigrateTests.repo)/blobs/" + sha256(d + "/w")
        let st = try #require(fileStat(blob))
        #expect(st.uid == f.alice.uid && st.gid == f.g.gid && st.nlink == 1)
        #expect(TestEnv.sh("stat -c %y '\(blob)'").stdout.hasPrefix("2024-02-03 04:05:06"), "mtime kept")
        #expect(sha256(f.root + "/hub/\(MigrateTests.repo)/snapshots/\(MigrateTests.c1)/w.bin") == sha256(d + "/w"))
        #expect(TestEnv.sh("ls -a '\(f.root)/hub/\(MigrateTests.repo)/blobs' | grep -c hfshare").stdout.hasPrefix("0"))
    }

    /// The states a killed run can leave (blob linked but private name still there, temp copy and
    /// temp directory left, private links gone but blobs not yet), then a real kill -9 mid-run: a rerun
    /// finishes the job, counts nothing twice and leaves no dangling link or temp file.
    @Test func finishesWhatAKilledRunLeft() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("a"), d = f.box.path("data"), dst = f.root + "/hub/" + MigrateTests.repo
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/w 100000 w; data \(d)/v 90000 v
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) w.bin lfs \(d)/w
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) v.bin lfs \(d)/v
            ref \(a) \(MigrateTests.repo) main \(MigrateTests.c1)
            chown -R \(f.alice.uid) \(a)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let w = sha256(d + "/w"), v = sha256(d + "/v")
        // Crash states: the repo and blobs dir exist, w is linked, a temp copy of v and a temp dir linger.
        let s = TestEnv.sh("""
            set -e
            mkdir -p \(dst)/blobs && chown -R \(f.alice.uid):\(f.g.gid) \(dst)
            ln \(a)/\(MigrateTests.repo)/blobs/\(w) \(dst)/blobs/\(w)
            head -c 500 \(d)/v > \(dst)/blobs/.hfshare-repair-migrate-\(v)
            mkdir \(dst)/.hfshare-repair-migrate-dir-snapshots
            mkdir -p \(dst)/snapshots/\(MigrateTests.c1) && chown -R \(f.alice.uid):\(f.g.gid) \(dst)/snapshots
            ln -s ../../blobs/\(w) \(dst)/snapshots/\(MigrateTests.c1)/w.bin   # made, killed before its chown
            """)
        try #require(s.status == 0, "\(s.stderr)")
        let m = f.box.hfshare(["migrate", a, f.root])
        #expect(m.status == 0, "\(m.stdout)\(m.stderr)")
        #expect(bytesSaved(m.stdout) == 0, "a blob linked by the killed run is not a duplicate: \(m.stdout)")
        #expect(m.stdout.contains("moved 2 blob(s) (190000 bytes)"), "\(m.stdout)")
        #expect(TestEnv.sh("find '\(f.root)' -name '.hfshare-repair-*'").stdout.isEmpty)
        #expect(fileStat(dst + "/blobs/" + w)?.nlink == 1)
        #expect(fileStat(dst + "/snapshots/\(MigrateTests.c1)/w.bin")?.uid == f.alice.uid, "the killed run's chown is finished")
        #expect(sha256(dst + "/snapshots/\(MigrateTests.c1)/v.bin") == v)

        // A private cache whose links were already pruned but whose blobs were not.
        let b = f.box.path("b")
        let t = TestEnv.sh(MigrateTests.helpers + """

            put \(b) \(MigrateTests.repo) \(MigrateTests.c1) w.bin lfs \(d)/w
            rm -r \(b)/\(MigrateTests.repo)/snapshots
            chown -R \(f.bob.uid) \(b)
            """)
        try #require(t.status == 0, "\(t.stderr)")
        let mb = f.box.hfshare(["migrate", b, f.root, "--remove-source"])
        #expect(mb.status == 0, "\(mb.stdout)")
        #expect(bytesSaved(mb.stdout) == 100_000)
        #expect(!FileManager.default.fileExists(atPath: b))

        // kill -9 at some moment of a run over many blobs on another filesystem, then rerun.
        var template = Array("/dev/shm/hfshare-kill.XXXXXX".utf8CString)
        let shm = String(cString: mkdtemp(&template)!)
        defer { TestEnv.sh("rm -rf '\(shm)'") }
        let many = "models--org--many"
        let k = TestEnv.sh(MigrateTests.helpers + """

            i=0; while [ $i -lt 120 ]; do
                head -c $((20000 + i)) /dev/zero > \(d)/m$i
                printf %d $i >> \(d)/m$i
                put \(shm) \(many) \(MigrateTests.c2) f$i.bin lfs \(d)/m$i
                i=$((i+1))
            done
            ref \(shm) \(many) main \(MigrateTests.c2)
            chown -R \(f.alice.uid) \(shm)
            """)
        try #require(k.status == 0, "\(k.stderr)")
        // Killed again and again, later each time, each run continuing the last; never a dangling link.
        let killed = TestEnv.sh("""
            for delay in 0.1 0.2 0.3 0.4 0.6 0.8; do
                HFSHARE_SYSCONFDIR='\(f.box.env["HFSHARE_SYSCONFDIR"]!)' '\(TestEnv.binary)' migrate '\(shm)' '\(f.root)' >/dev/null 2>&1 &
                pid=$!; sleep $delay
                if kill -9 $pid 2>/dev/null; then echo "killed after $delay"; fi
                wait $pid
                find '\(shm)' '\(f.root)' -xtype l | sed 's/^/dangling /'
            done
            """)
        #expect(killed.stdout.contains("killed after 0.1"), "no run was interrupted: \(killed.stdout)")
        #expect(!killed.stdout.contains("dangling"), "\(killed.stdout)")
        let rerun = f.box.hfshare(["migrate", shm, f.root])
        #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
        #expect(bytesSaved(rerun.stdout) == 0, "\(rerun.stdout)")
        let files = TestEnv.sh("ls \(f.root)/hub/\(many)/snapshots/\(MigrateTests.c2) | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(files == "120")
        #expect(TestEnv.sh("cd \(f.root)/hub/\(many)/snapshots/\(MigrateTests.c2) && for i in $(seq 0 119); do cmp -s f$i.bin \(d)/m$i || echo bad $i; done").stdout.isEmpty)
        #expect(TestEnv.sh("find '\(f.root)' '\(shm)' -name '.hfshare-repair-*' -o -name 'migrate-*.journal'").stdout.isEmpty)
        let audit = f.box.hfshare(["audit", f.root])
        #expect(audit.status == 0, "\(audit.stdout)")
    }

    @Test func dryRunAndRefusalsChangeNothing() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("home/.cache/huggingface"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/w 3000 w
            put \(a)/hub \(MigrateTests.repo) \(MigrateTests.c1) w.bin lfs \(d)/w
            ref \(a)/hub \(MigrateTests.repo) main \(MigrateTests.c1)
            chown -R \(f.alice.uid) \(f.box.path("home"))
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let before = [TreeSnapshot.take(f.root), TreeSnapshot.take(f.box.path("home"))]
        let dry = f.box.hfshare(["migrate", a, f.root, "--dry-run"]) // HF_HOME-style dir: finds hub/
        #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("would move 1 blob(s) (3000 bytes)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: \(a)/hub -> \(f.root)/hub"))
        let asUser = f.box.hfshare(as: f.alice, ["migrate", a, f.root])
        #expect(asUser.status == 2 && asUser.stderr.contains("must run as root"), "\(asUser.stderr)")
        let inside = f.box.hfshare(["migrate", f.root + "/hub", f.root])
        #expect(inside.status == 2 && inside.stderr.contains("inside the shared cache"), "\(inside.stderr)")
        let missing = f.box.hfshare(["migrate", f.box.path("nope"), f.root])
        #expect(missing.status == 2)
        TestEnv.sh("ln -s \(a) \(f.box.path("link")) && chown -h \(f.alice.uid) \(f.box.path("link"))")
        let viaLink = f.box.hfshare(["migrate", f.box.path("link"), f.root])
        #expect(viaLink.status == 2 && viaLink.stderr.contains("symlink owned by uid \(f.alice.uid)"), "\(viaLink.stderr)")
        TestEnv.sh("rm \(f.box.path("link"))")
        let after = [TreeSnapshot.take(f.root), TreeSnapshot.take(f.box.path("home"))]
        #expect(after == before, "changed: \(after[0].filter { before[0][$0.key] != $0.value }.keys) \(after[1].filter { before[1][$0.key] != $0.value }.keys)")
    }

    @Test func skipsARepoWhileAClientDownloadsIntoIt() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("a"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/w 3000 w
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) w.bin lfs \(d)/w
            chown -R \(f.alice.uid) \(a)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let lock = TestEnv.sh("ls \(a)/.locks/\(MigrateTests.repo)/*.lock").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Held the way the client holds it: flock on its own open file description.
        let fd = open(lock, O_RDONLY)
        try #require(fd >= 0 && flock(fd, LOCK_EX) == 0)
        defer { close(fd) }
        let m = f.box.hfshare(["migrate", a, f.root])
        #expect(m.status == 1, "\(m.stdout)")
        #expect(m.stdout.contains("a client is downloading into this repo right now"), "\(m.stdout)")
        #expect(FileManager.default.fileExists(atPath: a + "/" + MigrateTests.repo + "/snapshots/\(MigrateTests.c1)/w.bin"))
        #expect(!FileManager.default.fileExists(atPath: f.root + "/hub/" + MigrateTests.repo + "/blobs"))
        flock(fd, LOCK_UN)
        let again = f.box.hfshare(["migrate", a, f.root])
        #expect(again.status == 0, "\(again.stdout)")
    }

    /// The digests that decide whether a blob may move, against coreutils, across chunk boundaries.
    @Test func digestsAgreeWithCoreutils() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        for size in [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65_537, 1_048_576 + 3] {
            let path = box.path("f\(size)")
            TestEnv.sh("head -c \(size) /dev/urandom > '\(path)'")
            let fd = try FD.open(path, flags: O_RDONLY)
            for name in [BlobName.sha256(""), .gitBlob("")] {
                let d = try Migrator.hash(fd, size: UInt64(size), for: name)
                #expect(d.sha256 == String(TestEnv.sh("sha256sum < '\(path)'").stdout.prefix(64)), "sha256 of \(size) bytes")
                if case .gitBlob = name {
                    #expect(d.gitBlob == TestEnv.sh("git hash-object --no-filters '\(path)'").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "git blob id of \(size) bytes")
                } else {
                    #expect(d.gitBlob == nil)
                }
            }
            // Fed in uneven pieces, as reads may return them.
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            var h = SHA256()
            var i = 0, step = 1
            while i < bytes.count { let j = min(bytes.count, i + step); h.update(Array(bytes[i..<j])); i = j; step = step * 3 % 97 + 1 }
            #expect(h.finalize() == String(TestEnv.sh("sha256sum < '\(path)'").stdout.prefix(64)))
        }
    }

    @Test func aBlobWithAnotherHardLinkIsNotMoved() throws {
        let f = Fixture()
        defer { f.cleanup() }
        #expect(f.box.hfshare(["init", f.root, "--group", f.g.name, "-q"]).status == 0)
        let a = f.box.path("a"), d = f.box.path("data")
        let r = TestEnv.sh(MigrateTests.helpers + """

            mkdir -p \(d); data \(d)/secret 100 s; chmod 600 \(d)/secret
            put \(a) \(MigrateTests.repo) \(MigrateTests.c1) s.bin lfs \(d)/secret
            h=$(sha256sum < \(d)/secret | cut -c1-64)
            rm \(a)/\(MigrateTests.repo)/blobs/$h && ln \(d)/secret \(a)/\(MigrateTests.repo)/blobs/$h
            chown -R \(f.alice.uid) \(a)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let m = f.box.hfshare(["migrate", a, f.root])
        #expect(m.status == 1, "\(m.stdout)")
        #expect(m.stdout.contains("has 2 hard links"), "\(m.stdout)")
        #expect(fileStat(d + "/secret")?.permissions == 0o600 && fileStat(d + "/secret")?.nlink == 2)
        #expect(!FileManager.default.fileExists(atPath: f.root + "/hub/\(MigrateTests.repo)/blobs/" + sha256(d + "/secret")))
        #expect(dangling(a).isEmpty && dangling(f.root).isEmpty)
    }
}
