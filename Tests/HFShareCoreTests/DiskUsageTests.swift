import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// The pure parts of du/prune/pin: parsing, the LRU planner, pins, /proc/maps lines.
@Suite struct DiskUsageParsingTests {
    @Test func sizes() {
        #expect(ByteSize.parse("500G") == 500 << 30)
        #expect(ByteSize.parse("1.5T") == 3 << 39)
        #expect(ByteSize.parse("10GiB") == 10 << 30)
        #expect(ByteSize.parse("2048m") == 2 << 30)
        #expect(ByteSize.parse("123456") == 123456)
        #expect(ByteSize.parse("7B") == 7)
        for bad in ["", "G", "-1G", "1..5G", ".5G", "5.G", "1e9", "12X", "nanG", "99999999P"] { #expect(ByteSize.parse(bad) == nil, "\(bad)") }
    }

    @Test func freeTargets() {
        #expect(FreeTarget.parse("15%") == .percent(15))
        #expect(FreeTarget.parse("200G") == .bytes(200 << 30))
        #expect(FreeTarget.parse("100%") == nil)
        #expect(FreeTarget.parse("-5%") == nil)
        #expect(FreeTarget.parse("x%") == nil)
        #expect(FreeTarget.percent(15).bytes(of: 1000) == 150)
        #expect(FreeTarget.percent(10).bytes(of: 1001) == 101) // rounded up: never under the asked share
        #expect(FreeTarget.bytes(42).bytes(of: 1000) == 42)
    }

    @Test func durations() {
        #expect(Validate.duration("30d") == 2_592_000.0)
        #expect(Validate.duration("2w") == 1_209_600.0)
        #expect(Validate.duration("0") == 0)
        #expect(Validate.duration("1.5h") == 5400)
        #expect(Validate.duration("30x") == nil)
        #expect(Validate.duration("-1d") == nil)
    }

    @Test func lastUseFromMountOptions() {
        #expect(LastUseSource.from(mountOptions: "rw,relatime").atime)
        #expect(LastUseSource.from(mountOptions: "rw,strictatime").atime)
        #expect(LastUseSource.from(mountOptions: "rw").atime) // kernel default: relatime
        #expect(!LastUseSource.from(mountOptions: "rw,noatime,nodiratime").atime)
        #expect(LastUseSource.from(mountOptions: "rw,noatime").note.contains("last use unknown"))
    }

    @Test func repoNames() {
        #expect(RepoName.dirName("org/name") == "models--org--name")
        #expect(RepoName.dirName("datasets/org/name") == "datasets--org--name")
        #expect(RepoName.dirName("spaces/org/name") == "spaces--org--name")
        #expect(RepoName.dirName("models--org--name") == "models--org--name")
        #expect(RepoName.dirName("gpt2") == "models--gpt2")
        #expect(RepoName.dirName("") == nil)
        #expect(RepoName.dirName("a--b") == nil)
        #expect(RepoName.parse(dirName: "datasets--org--name") == ("dataset", "org/name"))
    }

    @Test func linkTargets() {
        #expect(UsageScanner.blobName("../../blobs/abc") == "abc")
        #expect(UsageScanner.blobName("../../../blobs/abc") == "abc") // a file in a subdirectory
        #expect(UsageScanner.blobName("/etc/passwd") == nil)
        #expect(UsageScanner.blobName("../../x/abc") == nil)
        #expect(UsageScanner.blobName("../blobs/../../abc") == nil)
        #expect(UsageScanner.storeKey("../../blobs/ab/abcdef") == "ab/abcdef")
        #expect(UsageScanner.storeKey("../../blobs/abcdef") == nil)
    }

    @Test func mapsLines() {
        let l = "7f1c2a000000-7f1c2a300000 r--s 00000000 08:01 1234567                    /srv/hf/hub/models--a--b/blobs/abc"
        let m = OpenFiles.parseMapsLine(l)
        #expect(m?.key == InodeKey(dev: OpenFiles.makeDev(8, 1), ino: 1234567))
        #expect(m?.path == "/srv/hf/hub/models--a--b/blobs/abc")
        #expect(OpenFiles.parseMapsLine("7ffd-7ffe rw-p 00000000 00:00 0                          [stack]") == nil)
        #expect(OpenFiles.parseMapsLine("garbage") == nil)
        // glibc makedev for a large minor and major (as stat reports them)
        #expect(OpenFiles.makeDev(259, 3) == 0x10303)
        #expect(OpenFiles.makeDev(8, 300) == (300 & 0xff) | (8 << 8) | ((300 & ~0xff) << 12))
    }

    @Test func pinsParseAndMatch() throws {
        let p = try Pin.parse("org/model@main")
        #expect(p.repo == "models--org--model" && p.revision == "main")
        #expect(p.keeps(repo: "models--org--model", commit: "c1", refs: ["main"]))
        #expect(!p.keeps(repo: "models--org--model", commit: "c2", refs: ["v1"]))
        let byCommit = try Pin.parse("datasets/org/d@0123456789")
        #expect(byCommit.keeps(repo: "datasets--org--d", commit: "0123456789abcdef", refs: []))
        #expect(!(try Pin.parse("org/d@012345")).keeps(repo: "models--org--d", commit: "0123456789", refs: [])) // < 7 chars: no prefix match
        #expect((try Pin.parse("org/model")).keeps(repo: "models--org--model", commit: "anything", refs: []))
        #expect(throws: UsageError.self) { try Pin.parse("org/model@") }
        #expect(throws: UsageError.self) { try Pin.parse("a--b") }
        #expect(throws: UsageError.self) { try Pin.parse("org/m@../x") }
    }

    @Test func pinFileAddRemove() throws {
        var f = PinFile()
        var results: [Bool] = []
        results.append(f.add(Pin(repo: "models--b")))
        results.append(f.add(Pin(repo: "models--a", revision: "main")))
        results.append(f.add(Pin(repo: "models--a", revision: "main")))
        results.append(f.add(Pin(repo: "models--a", revision: "v2")))
        #expect(results == [true, true, false, true])
        #expect(f.pins.map(\.label) == ["models--a@main", "models--a@v2", "models--b"])
        var removed: [Int] = []
        removed.append(f.remove(Pin(repo: "models--a", revision: "v2")))
        removed.append(f.remove(Pin(repo: "models--a")))
        removed.append(f.remove(Pin(repo: "models--zzz")))
        #expect(removed == [1, 1, 0])
        let back = try PinFile.decode(f.encoded(), path: "x")
        #expect(back == f)
        #expect(throws: UsageError.self) { try PinFile.decode(Data("{".utf8), path: "x") }
    }
}

@Suite struct PrunePlannerTests {
    static let day = 86400.0
    static let now = 1_800_000_000.0

    /// Repo R: revisions a (oldest), b, c (newest). a and b share blob "s" (10 bytes); each has its own
    /// blob (100, 200, 400 bytes); "o" (7 bytes) is used by no snapshot.
    static func repo(_ name: String = "models--org--r", ages: [Double] = [40, 20, 1]) -> RepoDetail {
        let blob = { (n: UInt64) in RepoDetail.Blob(size: n, allocated: n * 2) }
        return RepoDetail(name: name, blobs: ["s": blob(10), "a1": blob(100), "b1": blob(200), "c1": blob(400), "o": blob(7)],
                          revisions: [
                              .init(commit: "a", refs: [], blobs: ["s", "a1"], lastUse: now - ages[0] * day),
                              .init(commit: "b", refs: ["v1"], blobs: ["s", "b1"], lastUse: now - ages[1] * day),
                              .init(commit: "c", refs: ["main"], blobs: ["c1"], lastUse: now - ages[2] * day),
                          ])
    }

    func plan(_ repos: [RepoDetail], _ c: PruneCriteria, inUse: [RevisionID: String] = [:], open: [String: Set<String>] = [:],
              total: UInt64 = 717, space: FilesystemSpace? = nil) -> PrunePlan {
        PrunePlanner.plan(repos, criteria: c, inUse: inUse, openBlobs: open, totalSize: total, space: space, now: Self.now)
    }

    @Test func unusedForTakesOldOnesAndCountsSharedBlobsOnce() {
        var c = PruneCriteria()
        c.unusedFor = 10 * Self.day
        let p = plan([Self.repo()], c)
        #expect(p.chosen.map(\.commit) == ["a", "b"])
        // a frees its own blob and the unreferenced "o"; "s" goes only with b.
        #expect(p.chosen.map(\.bytes) == [107, 210])
        #expect(p.bytes == 317 && p.allocated == 634)
        #expect(p.blobs["models--org--r"]?.sorted() == ["a1", "b1", "o", "s"])
        #expect(!p.emptied.contains("models--org--r"))
    }

    @Test func watermarkLRUStopsWhenMet() {
        var c = PruneCriteria()
        c.maxSize = 600 // 717 now: 117 to free
        c.minAge = 0
        let p = plan([Self.repo()], c)
        #expect(p.chosen.map(\.commit) == ["a", "b"]) // a alone frees 107 < 117
        #expect(!p.watermarkUnreachable)
        c.maxSize = 0
        let all = plan([Self.repo()], c)
        #expect(all.chosen.map(\.commit) == ["a", "b", "c"])
        #expect(all.bytes == 717 && all.emptied == ["models--org--r"])
        #expect(!all.watermarkUnreachable) // everything went: 0 bytes left
    }

    @Test func keepFreeUsesAllocatedBytes() {
        var c = PruneCriteria()
        c.keepFree = .bytes(1000)
        c.minAge = 0
        // 800 available: 200 allocated bytes to free; a frees 214 allocated.
        let p = plan([Self.repo()], c, space: FilesystemSpace(size: 10000, free: 900, available: 800))
        #expect(p.chosen.map(\.commit) == ["a"])
        c.keepFree = .percent(50)
        let q = plan([Self.repo()], c, space: FilesystemSpace(size: 10000, free: 900, available: 800))
        #expect(q.watermarkUnreachable && q.chosen.count == 3)
    }

    @Test func pinnedAndInUseAreKeptAndSkipped() {
        var c = PruneCriteria()
        c.maxSize = 0
        c.minAge = 0
        let p = plan([Self.repo()], c, inUse: [RevisionID("models--org--r", "a"): "pinned (x)", RevisionID("models--org--r", "c"): "open by pid 9"])
        #expect(p.chosen.map(\.commit) == ["b"])
        #expect(p.kept.map(\.commit) == ["a", "c"])
        // b's own blob only: "s" is still used by the kept a; "o" goes with the repo's first removal.
        #expect(p.chosen[0].bytes == 207)
        #expect(p.watermarkUnreachable)
        #expect(p.emptied.isEmpty)
    }

    @Test func openBlobIsNeverDeleted() {
        var c = PruneCriteria()
        c.unusedFor = 0
        c.minAge = 0
        let p = plan([Self.repo()], c, open: ["models--org--r": ["o"]])
        #expect(!(p.blobs["models--org--r"] ?? []).contains("o"))
        #expect(p.bytes == 710)
    }

    @Test func minAgeProtectsRecentRevisions() {
        var c = PruneCriteria()
        c.maxSize = 0
        c.minAge = 2 * Self.day
        let p = plan([Self.repo()], c)
        #expect(p.chosen.map(\.commit) == ["a", "b"])
        #expect(p.kept.map(\.commit) == ["c"] && p.kept[0].reason.contains("min-age"))
        #expect(p.watermarkUnreachable)
    }

    @Test func detachedAndRepoPatternNarrow() {
        var c = PruneCriteria()
        c.detachedOnly = true
        c.minAge = 0
        let other = Self.repo("datasets--org--d")
        #expect(plan([Self.repo(), other], c).chosen.map { "\($0.repo)@\($0.commit)" } == ["datasets--org--d@a", "models--org--r@a"])
        c.repoPatterns = ["models--*"]
        #expect(plan([Self.repo(), other], c).chosen.map { "\($0.repo)@\($0.commit)" } == ["models--org--r@a"])
    }

    @Test func lruAcrossRepos() {
        var c = PruneCriteria()
        c.maxSize = 717 * 2 - 300
        c.minAge = 0
        let r1 = Self.repo("models--x", ages: [40, 20, 1])
        let r2 = Self.repo("models--y", ages: [30, 25, 2])
        let p = plan([r1, r2], c, total: 717 * 2)
        #expect(p.chosen.map { "\($0.repo)@\($0.commit)" } == ["models--x@a", "models--y@a", "models--y@b"])
    }

    @Test func hardLinkedAndStoreBlobsFreeNothing() {
        var r = Self.repo()
        r.blobs["a1"]!.nlink = 2
        r.blobs["o"]!.inStore = true
        var c = PruneCriteria()
        c.unusedFor = 30 * Self.day
        let p = plan([r], c)
        #expect(p.chosen.map(\.commit) == ["a"] && p.chosen[0].bytes == 0)
        #expect(p.blobs["models--org--r"]?.sorted() == ["a1", "o"]) // names go, bytes stay with their other names
    }
}

/// du and prune on a real temp tree laid out like the client's cache (root: prune deletes).
@Suite(.serialized) struct DiskUsageTreeTests {
    static func sh(_ script: String) -> RunResult { TestEnv.run(["/bin/sh", "-c", script]) }

    /// ROOT/hub/models--o--r: c1 (detached) = f1->b1, f2->b2, a non-UTF-8 name -> b2, `evil` -> an outside
    /// dir; c2 (main) = f1->b1, f3->b3. b2 has a second name inside ROOT (datasets/copy).
    static func makeTree() -> (root: String, outside: String) {
        let base = FileManager.default.temporaryDirectory.path + "/hfdu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = sh("""
            set -e
            mkdir -p \(base)/root/hub/models--o--r/blobs \(base)/root/hub/models--o--r/snapshots/c1 \(base)/root/hub/models--o--r/snapshots/c2/sub \
                     \(base)/root/hub/models--o--r/refs \(base)/root/hub/.locks/models--o--r \(base)/root/datasets \(base)/outside
            cd \(base)/root/hub/models--o--r
            head -c 100000 /dev/urandom > blobs/b1; head -c 20000 /dev/urandom > blobs/b2; head -c 300000 /dev/urandom > blobs/b3
            ln blobs/b2 \(base)/root/datasets/copy
            ln -s ../../blobs/b1 snapshots/c1/f1; ln -s ../../blobs/b2 snapshots/c1/f2; ln -s ../../blobs/b2 "snapshots/c1/$(printf 'x\\377')"
            ln -s \(base)/outside snapshots/c1/evil
            ln -s ../../blobs/b1 snapshots/c2/f1; ln -s ../../../blobs/b3 snapshots/c2/sub/f3
            printf c2 > refs/main
            touch \(base)/root/hub/.locks/models--o--r/b3.lock \(base)/outside/keep
            """)
        #expect(r.status == 0, "\(r.stderr)")
        return (base + "/root", base + "/outside")
    }

    @Test func duCountsEachInodeOnceAndMatchesDu() throws {
        let (root, _) = Self.makeTree()
        defer { Self.sh("rm -rf \(root)/..") }
        let (report, _) = try UsageScanner.run(UsageOptions(root: root))
        let duOut = Self.sh("du -s --block-size=1 \(root) | cut -f1").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(report.allocated == UInt64(duOut), "du -s says \(duOut)")
        #expect(report.size == 420002) // the blobs and refs/main
        let repo = try #require(report.repos.first)
        #expect(repo.name == "models--o--r" && repo.size == 420000 && repo.blobs == 3)
        let c1 = try #require(repo.revisions.first { $0.commit == "c1" })
        let c2 = try #require(repo.revisions.first { $0.commit == "c2" })
        #expect(c1.refs.isEmpty && c2.refs == ["main"])
        #expect(c1.size == 120000 && c1.exclusive == 0 && c1.shared == 120000) // b2 has another name: freeing it frees nothing
        #expect(c2.size == 400000 && c2.exclusive == 300000)
        #expect(report.unreadable.isEmpty)
    }

    /// Repos handed over as they are walked (what `du --json` and `du --by repo` use) come in name
    /// order, each once, equal to the rows a kept report holds, with the same prunable total; and
    /// `du --json` built from the spool parses to the same repos.
    @Test func streamedReposEqualKeptOnesInNameOrder() throws {
        let base = FileManager.default.temporaryDirectory.path + "/hfdu-s-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.sh("rm -rf \(base)") }
        let made = Self.sh("""
            set -e
            mkdir -p \(base)/root/hub && cd \(base)/root/hub
            for i in $(seq 1 240); do
              r=models--o--r$(( (i * 7919) % 1000 )); mkdir -p $r/blobs $r/snapshots/c$i $r/refs
              head -c $((i * 13)) /dev/zero > $r/blobs/b$i; ln -s ../../blobs/b$i $r/snapshots/c$i/f; printf c$i > $r/refs/main
              [ $((i % 3)) = 0 ] && mkdir $r/snapshots/old$i && ln -s ../../blobs/b$i $r/snapshots/old$i/f
              [ $((i % 5)) = 0 ] && rm -rf $r/blobs # a repo that is not whole
            done
            find . -mindepth 1 -exec touch -h -d '40 days ago' {} +
            """)
        try #require(made.status == 0, "\(made.stderr)")
        var o = UsageOptions(root: base + "/root")
        o.threads = 4
        o.prunableAge = 30 * 86400
        let (kept, _) = try UsageScanner.run(o)
        let rows = RepoRows(), spool = try #require(RepoSpool())
        let seen = RepoRows()
        o.onRepo = { seen.add($0); rows.add($0); spool.add($0) }
        let (streamed, _) = try UsageScanner.run(o)
        #expect(streamed.repos.isEmpty)
        #expect(kept.repos.count == 240)
        #expect(seen.rows.map(\.name) == kept.repos.map(\.name))
        #expect(seen.rows.map(\.size) == kept.repos.map(\.size) && seen.rows.map(\.revisions) == kept.repos.map(\.revisions.count))
        #expect(streamed.prunable != nil && streamed.prunable == kept.prunable && (kept.prunable ?? 0) > 0)
        var text = ""
        var ok = false
        streamed.writeJSON({ text += $0 }) { ok = spool.replay($0) }
        #expect(ok)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let repos = try #require(parsed["repos"] as? [[String: Any]])
        #expect(repos.compactMap { $0["name"] as? String } == kept.repos.map(\.name))
        #expect(String(decoding: kept.json(), as: UTF8.self).contains(UsageReport.json(kept.repos[7])))
    }

    /// A hostile repo name (a newline, an escape sequence, a C1 control, a non-UTF-8 byte) and ref name
    /// still make valid JSON (names escaped as the table shows them), with no raw control byte in it.
    @Test func duJSONStaysValidWithHostileNames() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let root = box.path("c")
        let made = Self.sh("""
            set -e
            r='\(root)/hub/models--o--'"$(printf 'a\\nb\\033[31m\\302\\205\\377')"
            mkdir -p "$r/blobs" "$r/snapshots/c1" "$r/refs"; printf c1 > "$r/refs/$(printf 'x\\033]0;t\\007')"
            mkdir -p '\(root)/hub/models--o--plain/blobs'
            """)
        try #require(made.status == 0, "\(made.stderr)")
        let du = box.hfshare(["du", root, "--json"])
        #expect(!du.stdout.utf8.contains { $0 < 0x20 && $0 != 0x0A }, "raw control bytes in \(du.stdout)")
        let json = try #require(try? JSONSerialization.jsonObject(with: Data(du.stdout.utf8)) as? [String: Any], "not JSON: \(du.stdout)")
        let repos = try #require(json["repos"] as? [[String: Any]])
        let names = repos.compactMap { $0["name"] as? String }
        #expect(names.contains("models--o--a\\nb\\x1b[31m\\x85\\xff"), "\(names)")
        let refs = repos.compactMap { ($0["revisions"] as? [[String: Any]])?.first?["refs"] as? [String] }.flatMap { $0 }
        #expect(refs == ["x\\x1b]0;t\\x07"], "\(refs)")
        // The exact bytes too, where the text is escaped (as audit's path_b64); none for a plain name.
        let hostile = try #require(repos.first { ($0["name"] as? String)?.hasPrefix("models--o--a") == true })
        let exact = try #require((hostile["name_b64"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(Array(exact) == Array("models--o--a\nb\u{1b}[31m".utf8) + [0xC2, 0x85, 0xFF])
        let refsExact = ((hostile["revisions"] as? [[String: Any]])?.first?["refs_b64"] as? [String])?.compactMap { Data(base64Encoded: $0) }
        #expect(refsExact == [Data("x\u{1b}]0;t\u{07}".utf8)], "\(String(describing: refsExact))")
        let plain = try #require(repos.first { ($0["name"] as? String) == "models--o--plain" })
        #expect(plain["name_b64"] == nil && plain["id_b64"] == nil)
    }

    @Test func pruneDetachedNeverFollowsLinksAndKeepsOtherNames() throws {
        guard Posix.isRoot() else { return }
        let (root, outside) = Self.makeTree()
        defer { Self.sh("rm -rf \(root)/..") }
        var c = PruneCriteria()
        c.detachedOnly = true
        c.minAge = 0
        let r = try Pruner.run(PruneOptions(root: root, criteria: c))
        #expect(r.failures.isEmpty, "\(r.failures)")
        #expect(r.chosen.map(\.commit) == ["c1"] && r.removedRevisions == 1)
        #expect(r.freedBytes == 0 && r.plannedBytes == 0) // b1 still used by c2, b2 still named datasets/copy
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: root + "/hub/models--o--r/snapshots/c1"))
        #expect(!fm.fileExists(atPath: root + "/hub/models--o--r/blobs/b2"))
        #expect(fm.fileExists(atPath: root + "/hub/models--o--r/blobs/b1"))
        #expect(fm.fileExists(atPath: root + "/datasets/copy"))
        #expect(fm.fileExists(atPath: outside + "/keep")) // the `evil` link was removed, not followed
        #expect(fm.fileExists(atPath: root + "/hub/models--o--r/refs/main"))
    }

    @Test func heldDownloadLockKeepsTheRepo() throws {
        guard Posix.isRoot() else { return }
        let (root, _) = Self.makeTree()
        defer { Self.sh("rm -rf \(root)/..") }
        // Another open file description holds the lock, as a downloading client would.
        let fd = open(root + "/hub/.locks/models--o--r/b3.lock", O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        var c = PruneCriteria()
        c.maxSize = 0
        c.minAge = 0
        let r = try Pruner.run(PruneOptions(root: root, criteria: c))
        #expect(r.chosen.isEmpty && !r.watermarkReached)
        #expect(r.kept.count == 2 && r.kept.allSatisfy { $0.reason.hasPrefix("download lock held") })
        flock(fd, LOCK_UN)
        let r2 = try Pruner.run(PruneOptions(root: root, criteria: c))
        #expect(r2.failures.isEmpty, "\(r2.failures)")
        #expect(r2.removedRevisions == 2 && r2.freedBytes == 400000 && r2.plannedBytes == 400000)
        #expect(!FileManager.default.fileExists(atPath: root + "/hub/models--o--r"))
        #expect(!FileManager.default.fileExists(atPath: root + "/hub/.locks/models--o--r"))
        #expect(FileManager.default.fileExists(atPath: root + "/datasets/copy"))
    }
}
