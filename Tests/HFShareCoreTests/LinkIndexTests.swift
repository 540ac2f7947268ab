import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// Root's record of snapshot directories (LinkIndex): its file format, that audit, verify and du take
/// link targets from it (a forged record shows through), and that no change to a snapshot gets past it.
@Suite(.serialized) struct LinkIndexTests {
    @Test func fileRoundTripsAndRejectsAnyDamage() throws {
        let key = LinkIndex.DirKey(ino: 42, mtimeSec: 1_700_000_000, mtimeNsec: 5, ctimeSec: 1_700_000_001, ctimeNsec: 7)
        let entries = [
            LinkIndex.Entry(name: Array("model.safetensors".utf8), type: .symlink, ino: 9, target: Array("../../blobs/abc".utf8)),
            LinkIndex.Entry(name: [0xFF, 0x41], type: .regular, ino: 10, target: nil),
            LinkIndex.Entry(name: Array("sub".utf8), type: .directory, ino: 11, target: nil),
        ]
        let key2 = LinkIndex.DirKey(ino: 43, mtimeSec: 1, mtimeNsec: 2, ctimeSec: 3, ctimeNsec: 4)
        let key3 = LinkIndex.DirKey(ino: 44, mtimeSec: 1, mtimeNsec: 2, ctimeSec: 3, ctimeNsec: 4)
        let records = [
            key: LinkIndex.Record(entries: entries, access: ACLValue(bytes: [2, 0, 0, 0, 1, 0, 7, 0]), defaultACL: ACLValue(bytes: nil)),
            key2: LinkIndex.Record(entries: []),
            key3: LinkIndex.Record(entries: Array(entries.prefix(1)), access: ACLValue(bytes: nil), defaultACL: nil),
        ]
        let bytes = LinkIndexFile.encode(repoDev: 3, repoIno: 4, dirs: records)
        let decoded = try #require(LinkIndexFile.decode(bytes))
        #expect(decoded.repoDev == 3 && decoded.repoIno == 4)
        #expect(decoded.dirs == records)
        // Every single flipped byte, and every truncation, reads as no record at all.
        for i in bytes.indices {
            var bad = bytes
            bad[i] ^= 0x01
            #expect(LinkIndexFile.decode(bad) == nil, "flipped byte \(i) was accepted")
        }
        for n in [0, 10, bytes.count / 2, bytes.count - 1] { #expect(LinkIndexFile.decode(Array(bytes.prefix(n))) == nil) }
    }

    /// A repo with two snapshots, audited once ctimes have settled, so the record is written.
    private func recordedRepo(_ box: Sandbox, _ g: TempAccounts.Group) throws -> (root: String, repo: String, file: String) {
        let root = try box.initRoot("cache", group: g)
        let c1 = String(repeating: "1", count: 40), c2 = String(repeating: "2", count: 40)
        let setup = TestEnv.sh("""
            set -e
            m='\(root)/hub/models--o--r'; mkdir -p $m/refs $m/blobs $m/snapshots/\(c1)/sub $m/snapshots/\(c2)
            printf \(c1) > $m/refs/main; printf \(c2) > $m/refs/dev
            echo one > $m/blobs/b1; echo two > $m/blobs/b2
            ln -s ../../blobs/b1 $m/snapshots/\(c1)/a; ln -s ../../../blobs/b2 $m/snapshots/\(c1)/sub/b
            ln -s ../../blobs/b1 $m/snapshots/\(c2)/a
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        // Only directories whose ctime is older than the settle time are recorded.
        Thread.sleep(forTimeInterval: Double(LinkIndexStore.settle) + 1.2)
        let first = box.hfshare(["audit", root])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let file = root + "/.hfshare/links/" + LinkIndexStore.fileName(repoRel: "hub/models--o--r")
        let st = try #require(fileStat(file), "audit as root wrote no record")
        #expect(st.uid == 0 && st.permissions == 0o600)
        let recorded = try #require(LinkIndexTests.load(file))
        #expect(recorded.dirs.count == 3) // both snapshot dirs and sub/
        #expect(recorded.dirs.values.allSatisfy { $0.hasACL }) // audit keeps each one's ACLs too
        return (root, root + "/hub/models--o--r", file)
    }

    /// A record file as decoded (nil: missing or not well-formed).
    static func load(_ file: String) -> LinkIndexFile.Decoded? {
        (try? Data(contentsOf: URL(fileURLWithPath: file))).flatMap { LinkIndexFile.decode(Array($0)) }
    }

    /// Writes a (forged) record as root would, 0600.
    static func store(_ d: LinkIndexFile.Decoded, _ file: String) throws {
        try Data(LinkIndexFile.encode(repoDev: d.repoDev, repoIno: d.repoIno, dirs: d.dirs)).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
    }

    /// Rewrites every recorded link target of the repo's record (as root would).
    private func forge(_ file: String, target: String) throws {
        var d = try #require(LinkIndexTests.load(file))
        for (k, r) in d.dirs { d.dirs[k]?.entries = r.entries.map { var e = $0; if e.target != nil { e.target = Array(target.utf8) }; return e } }
        try LinkIndexTests.store(d, file)
    }

    @Test func auditVerifyAndDuReadTargetsFromTheRecord() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let (root, repo, file) = try recordedRepo(box, acc.group())
        // A record that says every link escapes: if the walkers read it, they say so (nothing on disk changed).
        try forge(file, target: "/etc/passwd")
        let audit = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(audit.status == 1)
        #expect(audit.stdout.components(separatedBy: "\"symlink-escapes\"").count - 1 == 3, "\(audit.stdout)")
        let verify = box.hfshare(["verify", root])
        #expect(verify.stdout.contains("/etc/passwd"), "\(verify.stdout)")
        // du: with every link sent to b2, b1 is a blob no snapshot uses.
        try forge(file, target: "../../blobs/b2")
        let du = box.hfshare(["du", root, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(du.stdout.utf8)) as? [String: Any], "\(du.stdout)\(du.stderr)")
        let repos = try #require(json["repos"] as? [[String: Any]])
        let r = try #require(repos.first { ($0["name"] as? String) == "models--o--r" }, "\(repos)")
        #expect(r["unreferenced"] as? Int == 4, "\(r)") // the 4 bytes of b1
        // The same forged record owned by somebody else is not root's: ignored, everything read again.
        chown(file, 65534, 65534)
        let honest = box.hfshare(["audit", root])
        #expect(honest.status == 0, "\(honest.stdout)")
        // Nor is one reached through a symlink at the record's name (root's forged file elsewhere).
        let elsewhere = box.path("forged-record")
        try forge(file, target: "/etc/passwd")
        chown(file, 0, 0)
        #expect(rename(file, elsewhere) == 0 && symlink(elsewhere, file) == 0)
        let throughLink = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(!throughLink.stdout.contains("symlink-escapes"), "\(throughLink.stdout)")
        _ = repo
    }

    @Test func everyChangeToASnapshotIsSeenDespiteTheRecord() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let (root, repo, file) = try recordedRepo(box, acc.group())
        let before = try #require(fileStat(file))
        // The record of a repo that is gone (here: made up) is dropped by a whole audit.
        let stale = root + "/.hfshare/links/" + LinkIndexStore.fileName(repoRel: "hub/models--gone--repo")
        try Data("x".utf8).write(to: URL(fileURLWithPath: stale))
        // With --exclude the walk is not whole: records are neither used nor dropped.
        #expect(box.hfshare(["audit", root, "--exclude", "nothing-matches-this"]).status == 0)
        #expect(fileStat(stale) != nil)
        // A second audit with nothing changed keeps the record as it is (no rewrite).
        #expect(box.hfshare(["audit", root]).status == 0)
        #expect(fileStat(file)?.ino == before.ino)
        #expect(fileStat(stale) == nil, "the record of a repo that is gone was kept")
        let c1 = String(repeating: "1", count: 40)
        // Replace a link in place (rename over it: the directory's mtime and ctime move), at once.
        let swap = TestEnv.sh("cd '\(repo)/snapshots/\(c1)/sub' && ln -s /etc/shadow t && mv -T t b")
        try #require(swap.status == 0, "\(swap.stderr)")
        let audit = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(audit.status == 1)
        #expect(audit.stdout.contains("\"symlink-escapes\"") && audit.stdout.contains("/sub/b"), "\(audit.stdout)")
        // A new link in a recorded directory, and a removed one.
        let more = TestEnv.sh("cd '\(repo)/snapshots/\(c1)' && ln -s ../../blobs/missing new && rm sub/b")
        try #require(more.status == 0)
        let again = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(again.stdout.contains("snapshot-link-broken") && again.stdout.contains("/new"), "\(again.stdout)")
        #expect(!again.stdout.contains("/sub/b"), "\(again.stdout)")
    }
}

extension LinkIndexTests {
    /// The ACLs of a recorded snapshot directory come from the record (a forged one shows through)
    /// until the directory's ctime moves, which any ACL change does: then they are read again.
    @Test func recordedACLsAreUsedAndAnACLChangeIsSeen() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let (root, repo, file) = try recordedRepo(box, acc.group())
        let c2 = String(repeating: "2", count: 40)
        // Forged: every recorded directory has no default ACL (on disk they all have the right one).
        var d = try #require(LinkIndexTests.load(file))
        for k in d.dirs.keys { d.dirs[k]?.defaultACL = ACLValue(bytes: nil) }
        try LinkIndexTests.store(d, file)
        let forged = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(forged.stdout.components(separatedBy: "\"dir-no-default-acl\"").count - 1 == 3, "\(forged.stdout)")
        // The honest record again (a whole audit of a forged-but-valid record would keep it: drop it).
        unlink(file)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(box.hfshare(["audit", root]).status == 0)
        let again = try #require(LinkIndexTests.load(file))
        #expect(again.dirs.count == 3 && again.dirs.values.allSatisfy { $0.hasACL })
        // A member-visible ACL change on a recorded directory: seen at once.
        let change = TestEnv.sh("setfacl -k '\(repo)/snapshots/\(c2)'")
        try #require(change.status == 0, "\(change.stderr)")
        let audit = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(audit.status == 1)
        #expect(audit.stdout.contains("\"dir-no-default-acl\"") && audit.stdout.contains(c2), "\(audit.stdout)")
        #expect(audit.stdout.components(separatedBy: "\"dir-no-default-acl\"").count - 1 == 1, "\(audit.stdout)")
    }
}

extension LinkIndexTests {
    /// A snapshot directory wider than a chunk (walked by several walkers in parts) is recorded whole
    /// and its record used; a link replaced in it is seen at once.
    @Test func aWideSnapshotDirectoryIsRecordedAcrossItsChunks() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let root = try box.initRoot("cache", group: acc.group())
        let c1 = String(repeating: "1", count: 40)
        let m = root + "/hub/models--o--wide"
        let setup = TestEnv.sh("""
            set -e
            mkdir -p \(m)/refs \(m)/blobs \(m)/snapshots/\(c1); printf \(c1) > \(m)/refs/main
            cd \(m)/blobs; seq -f 'b%g' 1 1300 | xargs touch
            cd \(m)/snapshots/\(c1); for i in $(seq 1 1300); do ln -s ../../blobs/b$i f$i; done
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        Thread.sleep(forTimeInterval: Double(LinkIndexStore.settle) + 1.2)
        #expect(box.hfshare(["audit", root, "--threads", "4"]).status == 0)
        let file = root + "/.hfshare/links/" + LinkIndexStore.fileName(repoRel: "hub/models--o--wide")
        var d = try #require(LinkIndexTests.load(file), "no record written")
        #expect(d.dirs.count == 1)
        let entries = try #require(d.dirs.values.first?.entries)
        #expect(entries.count == 1300 && Set(entries.map(\.name)).count == 1300)
        #expect(entries.allSatisfy { $0.type == .symlink && $0.target == Array("../../blobs/b\(String(decoding: $0.name.dropFirst(), as: UTF8.self))".utf8) })
        // Forged: every link escapes. Read from the record, every chunk says so.
        for (k, r) in d.dirs { d.dirs[k]?.entries = r.entries.map { var e = $0; e.target = Array("/etc/passwd".utf8); return e } }
        try LinkIndexTests.store(d, file)
        let forged = box.hfshare(["audit", root, "--format", "jsonl", "--threads", "4"])
        #expect(forged.stdout.components(separatedBy: "\"symlink-escapes\"").count - 1 == 1300)
        unlink(file)
        #expect(box.hfshare(["audit", root, "--threads", "4"]).status == 0)
        #expect(LinkIndexTests.load(file)?.dirs.values.first?.entries.count == 1300)
        // One link replaced by rename: the directory's key moves, everything is read again.
        let swap = TestEnv.sh("cd '\(m)/snapshots/\(c1)' && ln -s /etc/shadow t && mv -T t f777")
        try #require(swap.status == 0)
        let audit = box.hfshare(["audit", root, "--format", "jsonl", "--threads", "4"])
        #expect(audit.stdout.components(separatedBy: "\"symlink-escapes\"").count - 1 == 1, "\(audit.stdout.prefix(2000))")
        #expect(audit.stdout.contains("/f777\""))
    }
}

extension LinkIndexTests {
    /// 2.x shared store: a repo's `blobs/` of links into `hub/blobs/<2 hex>/` is recorded (and used),
    /// a `blobs/` of regular files is not; verify and du keep the record.
    @Test func aBlobsDirectoryOfLinksIsRecorded() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let root = try box.initRoot("cache", group: acc.group())
        let c1 = String(repeating: "1", count: 40)
        let h = String(repeating: "ab", count: 32)
        let setup = TestEnv.sh("""
            set -e
            cd '\(root)/hub'; mkdir -p blobs/ab
            echo data > blobs/ab/\(h)
            for r in store plain; do mkdir -p models--o--$r/refs models--o--$r/blobs models--o--$r/snapshots/\(c1); printf \(c1) > models--o--$r/refs/main; done
            ln -s ../../blobs/ab/\(h) models--o--store/blobs/\(h); ln -s ../../blobs/\(h) models--o--store/snapshots/\(c1)/f
            echo data > models--o--plain/blobs/\(h); ln -s ../../blobs/\(h) models--o--plain/snapshots/\(c1)/f
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        Thread.sleep(forTimeInterval: Double(LinkIndexStore.settle) + 1.2)
        let first = box.hfshare(["audit", root])
        #expect(first.status == 0, "\(first.stdout)")
        func record(_ repo: String) throws -> LinkIndexFile.Decoded {
            let file = root + "/.hfshare/links/" + LinkIndexStore.fileName(repoRel: "hub/" + repo)
            return try #require(LinkIndexTests.load(file), "\(repo): no record")
        }
        #expect(try record("models--o--store").dirs.count == 2) // the snapshot and blobs/
        #expect(try record("models--o--plain").dirs.count == 1) // the snapshot only
        _ = box.hfshare(["verify", root]) // reports the blobs as broken (their bytes are not their names)
        _ = box.hfshare(["du", root])
        var d = try record("models--o--store")
        #expect(d.dirs.count == 2, "verify or du dropped the record of blobs/")
        // Forged: the blob link escapes. Read from the record, audit says so.
        for (k, r) in d.dirs where r.entries.first?.name == Array(h.utf8) {
            d.dirs[k]?.entries = r.entries.map { var e = $0; e.target = Array("/etc/passwd".utf8); return e }
        }
        let file = root + "/.hfshare/links/" + LinkIndexStore.fileName(repoRel: "hub/models--o--store")
        try LinkIndexTests.store(d, file)
        let forged = box.hfshare(["audit", root, "--format", "jsonl"])
        #expect(forged.stdout.contains("\"symlink-escapes\"") && forged.stdout.contains("models--o--store/blobs/\(h)"), "\(forged.stdout)")
    }
}

/// Wide directories are walked in chunks (ScanOptions.chunk) so the queue stays small: the findings and
/// the entry count must not depend on the chunk size, and each repo is judged exactly once.
@Suite struct WideDirectoryTests {
    @Test func chunkedWalkFindsWhatAWholeWalkFinds() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let root = box.path("c")
        let c1 = String(repeating: "1", count: 40)
        let setup = TestEnv.sh("""
            set -e; mkdir -p '\(root)/hub/.locks'
            cd '\(root)/hub'
            for r in $(seq 1 30); do mkdir -p models--o--r$r/blobs models--o--r$r/refs .locks/models--o--r$r; echo x > models--o--r$r/blobs/b; done
            m=models--o--wide; mkdir -p $m/refs $m/snapshots $m/blobs
            printf \(c1) > $m/refs/main
            for i in $(seq 1 25); do echo $i > $m/blobs/b$i; done; chmod 600 $m/blobs/b3
            for i in $(seq 1 20); do c=$(printf '%040d' $i); mkdir -p $m/snapshots/$c/sub; ln -s ../../blobs/b$i $m/snapshots/$c/f; done
            mkdir -p $m/snapshots/\(c1); ln -s ../../blobs/b21 $m/snapshots/\(c1)/f; ln -s ../../blobs/gone $m/snapshots/\(c1)/g
            # More names than one 64 KiB getdents64 buffer holds: the listing itself is read in parts.
            mkdir -p .locks/$m; cd .locks/$m; seq -f 'lock-number-%05g.lock' 1 3000 | xargs touch
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        let policy = Policy(gid: 4242, groupName: "hf", now: Posix.now())
        func walk(chunk: Int) throws -> (findings: [String], entries: Int) {
            var o = ScanOptions(root: root, policy: policy)
            o.chunk = chunk
            let found = Locked<[String]>([])
            let summary = try Scanner(o) { e in found.mutate { $0.append("\(e.finding.kind.rawValue) \(e.finding.path)") } }.run()
            return (found.value.sorted(), summary.entries)
        }
        let whole = try walk(chunk: 512)
        let chunked = try walk(chunk: 7)
        #expect(chunked.entries == whole.entries)
        #expect(chunked.findings == whole.findings)
        // The repo check ran once per repo: b22..b25 and the other repos' b are orphans, once each.
        let orphans = chunked.findings.filter { $0.hasPrefix("blob-orphan ") }
        #expect(orphans.count == 4 + 30, "\(orphans)")
        #expect(chunked.findings.filter { $0.hasPrefix("snapshot-link-broken ") }.count == 1)
        #expect(chunked.entries > 3000)
        // Every one of the 3000 lock files was judged (each is of the wrong group here).
        let locks = Set(chunked.findings.filter { $0.contains("/.locks/models--o--wide/lock-number-") }.map { $0.split(separator: " ").last! })
        #expect(locks.count == 3000)
    }
}
