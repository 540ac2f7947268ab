import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// The pure parts of issue #14: how a ref, a snapshot link and a blob name are read, the verified-cache
/// record, the tree listing, and the findings a repo layout makes.
@Suite struct VerifyTests {
    let c = String(repeating: "a", count: 40)

    @Test func refsAreReadLikeTheClientReadsThem() {
        #expect(RepoIntegrity.parseRef(Array(c.utf8)) == .commit(c))
        #expect(RepoIntegrity.parseRef(Array((c + "\n").utf8)) == .malformed(trimmed: c))
        #expect(RepoIntegrity.parseRef(Array((" \t" + c + "\r\n").utf8)) == .malformed(trimmed: c))
        #expect(RepoIntegrity.parseRef(Array(c.uppercased().utf8)) == .malformed(trimmed: c))
        #expect(RepoIntegrity.parseRef(Array(c.dropLast().utf8)) == .malformed(trimmed: nil))
        #expect(RepoIntegrity.parseRef([]) == .malformed(trimmed: nil))
        #expect(RepoIntegrity.parseRef(Array((c + "\n" + c).utf8)) == .malformed(trimmed: nil))
        #expect(RepoIntegrity.parseRef(Array(("g" + c.dropFirst()).utf8)) == .malformed(trimmed: nil))
        #expect(RepoIntegrity.isClientTemp(Array("main.1a2b3c4d.tmp".utf8)))
        #expect(!RepoIntegrity.isClientTemp(Array("main".utf8)))
        #expect(!RepoIntegrity.isClientTemp(Array("main.zzzzzzzz.tmp".utf8)))
    }

    @Test func repoDirectoriesAndSnapshotLinks() {
        #expect(RepoIntegrity.isRepoDirectory(rel: "hub/models--org--name"))
        #expect(RepoIntegrity.isRepoDirectory(rel: "datasets--org--name"))
        #expect(RepoIntegrity.isRepoDirectory(rel: "hub/kernels--org--k"))
        #expect(RepoIntegrity.isRepoDirectory(rel: "hub/spaces--org--s"))
        #expect(!RepoIntegrity.isRepoDirectory(rel: "hub/models--"))
        #expect(!RepoIntegrity.isRepoDirectory(rel: "hub/blobs"))
        #expect(!RepoIntegrity.isRepoDirectory(rel: "other/models--org--name"))
        #expect(!RepoIntegrity.isRepoDirectory(rel: "hub/models--a--b/snapshots"))
    }

    /// The audit collects each repo's layout from its own walk (RepoFacts); `readLayout` reads a repo on
    /// its own (verify uses it). Both must make exactly the same findings, on every corner of the layout.
    @Test func walkerCollectedRepoChecksEqualTheStandaloneRead() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let root = try box.initRoot("cache", group: g)
        let c1 = String(repeating: "1", count: 40), c2 = String(repeating: "2", count: 40), c3 = String(repeating: "3", count: 40)
        let setup = TestEnv.sh("""
            set -e
            cd '\(root)/hub'
            mkdir -p blobs/ab && echo shared > blobs/ab/hash
            m=models--o--r; mkdir -p $m/refs/refs/pr $m/blobs $m/snapshots/\(c1)/sub/deeper $m/snapshots/\(c2) $m/.no_exist/\(c1)
            printf \(c1) > $m/refs/main; printf '\(c2)\\n' > $m/refs/dev; printf \(c3) > $m/refs/refs/pr/1; printf zzz > $m/refs/bad
            printf \(c1) > $m/refs/main.1a2b3c4d.tmp
            for b in b1 b2 b4 orphan1 b3; do echo $b > $m/blobs/$b; done; echo part > $m/blobs/b3.incomplete
            ln -s ../../blobs/ab/hash $m/blobs/shared; ln -s ../../blobs/ab/gone $m/blobs/sharedgone
            cd $m/snapshots/\(c1)
            ln -s ../../blobs/b1 a; ln -s ../../../blobs/b2 sub/x; ln -s ../../../blobs/missing sub/y; echo r > reg
            ln -s ../../../../blobs/b4 sub/deeper/z; ln -s ../../../../elsewhere other; ln -s ../../blobs/sharedgone sg
            cd ../\(c2); ln -s ../../blobs/b1 a
            cd '\(root)/hub'
            d=datasets--o--d; mkdir -p $d/refs $d/blobs; printf \(c1) > $d/refs/main; echo x > $d/blobs/lonely; echo notadir > $d/snapshots
            x=models--o--x; mkdir -p $x/refs $x/blobs $x/snapshots/notacommit; echo y > $x/blobs/lonely
            k=kernels--o--k; mkdir -p $k/blobs; echo z > $k/blobs/orphan
            """)
        try #require(setup.status == 0, "\(setup.stderr)")
        let repoKinds: Set<String> = ["ref-malformed", "ref-dangling", "snapshot-link-broken", "blob-orphan"]
        let audit = box.hfshare(["audit", root, "--format", "jsonl"])
        try #require(audit.status == 1, "\(audit.stderr)")
        var walked = Set<String>()
        for line in audit.stdout.split(separator: "\n") {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let kind = obj["kind"] as? String, repoKinds.contains(kind) { walked.insert("\(kind) \(obj["path"] as? String ?? "")") }
        }
        var standalone = Set<String>()
        let hub = try FD.openDirectory(root + "/hub")
        for name in ["models--o--r", "datasets--o--d", "models--o--x", "kernels--o--k"] {
            let dir = try FD.openDirectory(root + "/hub/" + name)
            for e in RepoIntegrity.events(repoDir: dir, repoName: name, repoPath: root + "/hub/" + name, hubDir: hub, root: root, fix: nil) {
                standalone.insert("\(e.finding.kind.rawValue) \(e.finding.path)")
            }
        }
        #expect(walked == standalone)
        // And they are the findings this layout makes (so that both being empty cannot pass).
        let m = root + "/hub/models--o--r"
        #expect(standalone == [
            "ref-malformed \(m)/refs/dev", "ref-malformed \(m)/refs/bad", "ref-dangling \(m)/refs/refs/pr/1",
            "snapshot-link-broken \(m)/snapshots/\(c1)/sub/y", "snapshot-link-broken \(m)/snapshots/\(c1)/other",
            "snapshot-link-broken \(m)/snapshots/\(c1)/sg",
            "blob-orphan \(m)/blobs/orphan1", "blob-orphan \(m)/blobs/shared", "blob-orphan \(root)/hub/kernels--o--k/blobs/orphan",
            "ref-dangling \(root)/hub/datasets--o--d/refs/main",
        ])
    }

    @Test func snapshotLinksResolveToTheirBlob() {
        let b = Array("abc".utf8)
        #expect(RepoIntegrity.blobName(linkTarget: Array("../../blobs/abc".utf8), depth: 0) == b)
        #expect(RepoIntegrity.blobName(linkTarget: Array("../../../blobs/abc".utf8), depth: 1) == b)
        #expect(RepoIntegrity.blobName(linkTarget: Array("../../blobs/abc".utf8), depth: 1) == nil) // lands in snapshots/
        #expect(RepoIntegrity.blobName(linkTarget: Array("/abs/blobs/abc".utf8), depth: 0) == nil)
        #expect(RepoIntegrity.blobName(linkTarget: Array("../../../other/blobs/abc".utf8), depth: 0) == nil)
        #expect(RepoIntegrity.blobName(linkTarget: Array(".././../blobs/./abc".utf8), depth: 0) == b)
        // repo blob -> shared store: ../../blobs/<2 hex>/<hash> from <hub>/<repo>/blobs/
        let h = "ab" + String(repeating: "0", count: 62)
        let t = Verify.storeTarget(Array("../../blobs/ab/\(h)".utf8))
        #expect(t?.0 == Array("ab".utf8) && t?.1 == Array(h.utf8))
        #expect(Verify.storeTarget(Array("../../blobs/cd/\(h)".utf8)) == nil) // prefix must match
        #expect(Verify.storeTarget(Array("../../../blobs/ab/\(h)".utf8)) == nil)
    }

    @Test func blobNamesSayWhichHashToCheck() throws {
        let data = Array("hello\n".utf8)
        var s = HFShareCore.SHA256()
        s.update(data)
        #expect(s.finalize() == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        var g = SHA1()
        g.update(Array("blob \(data.count)\0".utf8))
        g.update(data)
        #expect(g.finalize() == "ce013625030ba8dba906f756967f9e9ca394464a") // git hash-object
        if case .sha256 = BlobName(String(repeating: "0", count: 64)) {} else { Issue.record("64 hex is sha256") }
        if case .gitBlob = BlobName(String(repeating: "0", count: 40)) {} else { Issue.record("40 hex is a git blob id") }
        if case .other = BlobName(String(repeating: "A", count: 64)) {} else { Issue.record("uppercase is no hash name") }
        #expect(Verify.hexBytes("00ff10") == [0, 255, 16])
    }

    @Test func stateRecordsRoundTripAndVouchOnlyForUnchangedInodes() throws {
        var st = FileStat(mode: 0o100644, ino: 42, dev: 7, size: 1234, ctimeSec: 1_700_000_000, ctimeNsec: 5)
        st.mtimeSec = 1_690_000_000
        st.mtimeNsec = 99
        let digest = Verify.hexBytes(String(repeating: "ab", count: 32))
        let r = VerifiedRecord(stat: st, digest: digest)
        let git = VerifiedRecord(stat: st, digest: Verify.hexBytes(String(repeating: "cd", count: 20)))
        let data = VerifiedStore.encode([r, git])
        #expect(data.count == 19 + 2 * 88)
        #expect(VerifiedStore.decode(data) == [r, git])
        #expect(r.vouches(for: st, digest: digest))
        #expect(git.vouches(for: st, digest: Verify.hexBytes(String(repeating: "cd", count: 20))))
        var changed = st
        changed.ctimeNsec = 6
        #expect(!r.vouches(for: changed, digest: digest))
        changed = st
        changed.size += 1
        #expect(!r.vouches(for: changed, digest: digest))
        #expect(!r.vouches(for: st, digest: Verify.hexBytes(String(repeating: "ac", count: 32))))
        #expect(VerifiedStore.decode(Data("junk".utf8)) == nil)
        #expect(VerifiedStore.decode(data.dropLast()) == nil)
        // The rerun compares a blob's name (hex bytes) with the record directly.
        for _ in 0..<50 {
            for n in [40, 64] {
                let hex = String((0..<n).map { _ in "0123456789abcdef".randomElement()! })
                #expect(Digest32(hex: Array(hex.utf8)) == Digest32(Verify.hexBytes(hex)), "\(hex)")
                let rec = VerifiedRecord(stat: st, digest: Verify.hexBytes(hex))
                #expect(rec.vouches(for: st, hex: Array(hex.utf8)))
                var other = Array(hex.utf8)
                other[Int.random(in: 0..<n)] = other[0] == 0x30 ? 0x31 : 0x30
                if other != Array(hex.utf8) { #expect(!rec.vouches(for: st, hex: other)) }
            }
        }
        #expect(git.vouches(for: st, hex: Array((String(repeating: "cd", count: 20) + "00").utf8))) // the record's zero padding
        #expect(!git.vouches(for: changedSize(st), hex: Array(String(repeating: "cd", count: 20).utf8)))
    }

    private func changedSize(_ st: FileStat) -> FileStat { var c = st; c.size += 1; return c }

    @Test func treeListingIsTheClientFormat() {
        let json = #"{"format_version": 1, "files": {"config.json": {"size": 5, "blob_id": "x"}, "w.bin": {"size": 9, "blob_id": "y", "lfs_sha256": "s", "lfs_size": 9}}}"#
        let t = TreeListing.parse(Data(json.utf8))
        #expect(t?.count == 2)
        #expect(t?["w.bin"]?.lfsSHA256 == "s")
        #expect(t?["config.json"]?.blobID == "x")
        #expect(TreeListing.parse(Data(#"{"format_version": 2, "files": {}}"#.utf8)) == nil)
    }

    @Test func findingsOfALayout() {
        let st = FileStat(mode: 0o100644, size: 7)
        let d = String(repeating: "d", count: 40)
        var l = RepoIntegrity.Layout()
        l.refs = [RepoIntegrity.Ref(name: Array("main".utf8), value: RepoIntegrity.parseRef(Array((c + "\n").utf8)), raw: Array((c + "\n").utf8), stat: st),
                  RepoIntegrity.Ref(name: Array("refs/pr/1".utf8), value: .commit(d), raw: Array(d.utf8), stat: st)]
        l.snapshots = [RepoIntegrity.Snapshot(commit: Array(c.utf8), files: [
            RepoIntegrity.SnapshotFile(path: Array("ok".utf8), kind: .blobLink(target: Array("../../blobs/b1".utf8), blob: Array("b1".utf8)), present: true),
            RepoIntegrity.SnapshotFile(path: Array("sub/gone".utf8), kind: .blobLink(target: Array("../../../blobs/b2".utf8), blob: Array("b2".utf8)), present: false),
        ])]
        l.snapshotsReadable = true
        l.blobs = [RepoIntegrity.Blob(name: Array("b1".utf8), stat: st, target: nil, present: true),
                   RepoIntegrity.Blob(name: Array("b3".utf8), stat: st, target: nil, present: true),
                   RepoIntegrity.Blob(name: Array("b4".utf8), stat: st, target: nil, present: true),
                   RepoIntegrity.Blob(name: Array("b5".utf8), stat: st, target: nil, present: true)]
        l.incompletes = [Array("b4".utf8)]
        let f = RepoIntegrity.findings(l, repoName: "models--o--r", repoPath: "/R/hub/models--o--r", root: "/R",
                                       lockHeld: { $0 == Array("b5".utf8) })
        #expect(f.map { "\($0.kind.rawValue) \($0.path)" } == [
            "ref-malformed /R/hub/models--o--r/refs/main",
            "ref-dangling /R/hub/models--o--r/refs/refs/pr/1",
            "snapshot-link-broken /R/hub/models--o--r/snapshots/\(c)/sub/gone",
            "blob-orphan /R/hub/models--o--r/blobs/b3",
        ])
        #expect(f[0].fixable && !f[1].fixable && !f[2].fixable && !f[3].fixable)
        #expect(f[0].detail.contains("\n\" (41 bytes)")) // exact; the output layer escapes it
        #expect(f[2].detail.contains("model/o/r@main"))
        // A snapshots/ entry not named by a commit (not the client's), or unreadable snapshots: no orphan can be proven.
        l.foreignSnapshotEntries = 1
        #expect(!RepoIntegrity.findings(l, repoName: "models--o--r", repoPath: "/R/x", root: "/R").contains { $0.kind == .blobOrphan })
        l.foreignSnapshotEntries = 0
        l.snapshotsReadable = false
        #expect(!RepoIntegrity.findings(l, repoName: "models--o--r", repoPath: "/R/x", root: "/R").contains { $0.kind == .blobOrphan })
    }

    @Test func repoIDsAsPeopleWriteThem() {
        let r = RepoID(dirName: "datasets--org--name")
        #expect(r.display == "dataset/org/name")
        #expect(r.matches("org/name") && r.matches("dataset/org/name") && r.matches("datasets/org/name") && r.matches("datasets--org--name"))
        #expect(!r.matches("org/other"))
        #expect(r.downloadCommand(revision: "main") == "hf download org/name --repo-type dataset --revision main")
        #expect(RepoID(dirName: "models--a--b").downloadCommand(revision: "v1") == "hf download a/b --revision v1")
    }
}
