import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// Issue #17 without a disk: reader groups and restricted repos judged as the kernel decides, and
/// repair's wanted state judged clean; the list, patterns, the shared store and the environment.
/// (With real members and the real client: Tests/e2e/e2e_curated.sh.)
@Suite struct CuratedTests {
    static let g: UInt32 = 4242, r: UInt32 = 4343, l: UInt32 = 4444
    static let alice: UInt32 = 5001, bob: UInt32 = 5002
    static let members = MembershipCache(gid: g, known: [alice: .member, bob: .member])

    static func policy(other: OtherAccess = .none) -> Policy {
        var p = Policy(gid: g, groupName: "hf", other: other, now: 1_000_000)
        p.members = members
        p.curated = CuratedRules(readers: [r], restricted: [RestrictRule(pattern: "models--meta-llama--*", group: "llama", gid: l)])
        let groups = GroupMemberships()
        groups.preset(l, known: [alice: .member, bob: .notMember])
        p.groups = groups
        return p
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var what: String
        var dir: Bool
        var mode: UInt32
        var owner: UInt32 = alice
        var access: String?
        var def: String?
        var restricted = false
        var kinds: Set<FindingKind>
        var testDescription: String { what }
    }

    static let shared = "u::rwx,g::rwx,g:4242:rwx,g:4343:r-x,m::rwx,o::---"
    static let locked = "u::rwx,g::---,g:4444:rwx,m::rwx,o::---"
    static let rows: [Row] = [
        Row(what: "reader entries on dir and default: compliant", dir: true, mode: 0o2770, access: shared, def: shared, kinds: []),
        Row(what: "file readable by readers through g:R:r-x masked to r--", dir: false, mode: 0o660,
            access: "u::rw-,g::rwx,g:4242:rwx,g:4343:r-x,m::rw-,o::---", kinds: []),
        Row(what: "no reader entry, other ---: readers cannot read", dir: true, mode: 0o2770,
            access: "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::---", def: shared, kinds: [.readerCannotRead]),
        Row(what: "default without the reader entry: new downloads unreadable", dir: true, mode: 0o2770, access: shared,
            def: "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::---", kinds: [.readerCannotRead]),
        Row(what: "g:R:rwx on a dir: readers can write", dir: true, mode: 0o2770,
            access: "u::rwx,g::rwx,g:4242:rwx,g:4343:rwx,m::rwx,o::---", def: shared, kinds: [.readerCanWrite]),
        Row(what: "default g:R:rwx: readers could write new dirs", dir: true, mode: 0o2770, access: shared,
            def: "u::rwx,g::rwx,g:4242:rwx,g:4343:rwx,m::rwx,o::---", kinds: [.readerCanWrite]),
        Row(what: "the client's 0600 trees json: mask --- denies members and readers", dir: false, mode: 0o600,
            access: "u::rw-,g::rwx,g:4242:rwx,g:4343:r-x,m::---,o::---", kinds: [.fileACLMask, .readerCannotRead]),
        Row(what: "restricted dir as restrict makes it", dir: true, mode: 0o2770, access: locked, def: locked, restricted: true, kinds: []),
        Row(what: "restricted file a licensed download makes", dir: false, mode: 0o660,
            access: "u::rw-,g::---,g:4444:rwx,m::rw-,o::---", restricted: true, kinds: []),
        Row(what: "restricted repo dir with the hub's ACL (downloaded before the rule)", dir: true, mode: 0o2770,
            access: shared, def: shared, restricted: true, kinds: [.restrictedReadable, .dirNoDefaultACL]),
        Row(what: "restricted file with group::r-- (unlicensed members read it)", dir: false, mode: 0o660,
            access: "u::rw-,g::r--,g:4444:rw-,m::rw-,o::---", restricted: true, kinds: [.restrictedReadable]),
        Row(what: "restricted file readable by others", dir: false, mode: 0o664,
            access: "u::rw-,g::---,g:4444:rw-,m::rw-,o::r--", restricted: true, kinds: [.restrictedReadable]),
        Row(what: "restricted dir only searchable (x) by members: still readable", dir: true, mode: 0o2770,
            access: "u::rwx,g::--x,g:4444:rwx,m::rwx,o::---", def: locked, restricted: true, kinds: [.restrictedReadable]),
        Row(what: "restricted dir whose default lets readers read new files", dir: true, mode: 0o2770, access: locked,
            def: "u::rwx,g::---,g:4343:r-x,g:4444:rwx,m::rwx,o::---", restricted: true, kinds: [.restrictedReadable]),
        Row(what: "restricted dir without the licensed group: dir-group-perms (for licensed writers)", dir: true, mode: 0o2770,
            access: "u::rwx,g::---,m::rwx,o::---", def: locked, restricted: true, kinds: [.dirGroupPerms]),
        Row(what: "restricted file owned by an unlicensed member", dir: false, mode: 0o660, owner: bob,
            access: "u::rw-,g::---,g:4444:rw-,m::rw-,o::---", restricted: true, kinds: [.restrictedOwnerUnlicensed]),
    ]

    @Test(arguments: rows) func judgedAsTheKernelDecides(_ row: Row) {
        let policy = Self.policy()
        let type: UInt32 = row.dir ? UInt32(S_IFDIR) : UInt32(S_IFREG)
        let e = Policy.Entry(name: row.dir ? "d" : "f", stat: FileStat(mode: type | row.mode, uid: row.owner, gid: Self.g),
                             access: row.access.flatMap(PosixACL.parse), defaultACL: row.def.flatMap(PosixACL.parse),
                             restrictedTo: row.restricted ? Self.l : nil)
        let judge = Judge(policy: policy, root: "/c", fix: nil)
        let facts = Facts(entry: e, path: "/c/x", membership: .member)
        #expect(Set(judge.kinds(facts)) == row.kinds)
        // Repair's wanted state (access ACL, then chmod, then default ACL, as Actor does) judges clean.
        var fixed = e
        if let acl = policy.wantedAccessACL(e) { fixed.access = acl; fixed.stat.mode = (fixed.stat.mode & ~0o070) | ((acl[.mask] ?? acl[.groupObj] ?? []).rawValue << 3) }
        let wanted = policy.wantedMode(e)
        fixed.stat.mode = type | wanted
        if var acl = fixed.access, acl.isExtended {
            acl[.mask] = ACLPerms(rawValue: wanted >> 3); acl[.userObj] = ACLPerms(rawValue: wanted >> 6); acl[.other] = ACLPerms(rawValue: wanted)
            fixed.access = acl
        }
        if let d = policy.wantedDefaultACL(e) { fixed.defaultACL = d }
        let after = judge.kinds(Facts(entry: fixed, path: "/c/x", membership: .member))
        #expect(after.allSatisfy { !$0.fixable }, "after the planned fix: \(after) (access \(fixed.access.map(\.description) ?? "-"), default \(fixed.defaultACL.map(\.description) ?? "-"))")
        if row.restricted {
            // Nobody outside the licensed group reads the fixed entry, and a licensed writer writes it.
            #expect(policy.restrictedReaders(fixed).isEmpty)
            let licensed = Credentials(uid: 7777, gids: [Self.g, Self.l])
            #expect(Access.permissionCheck(licensed, stat: fixed.stat, acl: fixed.access, want: row.dir ? .rwx : .rw).allowed)
        }
    }

    @Test func revokedGroupEntriesGo() {
        var policy = Self.policy()
        policy.curated.readers = []
        policy.curated.revoked = [Self.r]
        let e = Policy.Entry(name: "d", stat: FileStat(mode: UInt32(S_IFDIR) | 0o2770, uid: Self.alice, gid: Self.g),
                             access: PosixACL.parse(Self.shared), defaultACL: PosixACL.parse(Self.shared))
        #expect(policy.hasRevoked(e))
        #expect(policy.wantedAccessACL(e)?[.group(Self.r)] == nil && policy.wantedAccessACL(e) != nil)
        #expect(policy.wantedDefaultACL(e)?[.group(Self.r)] == nil && policy.wantedDefaultACL(e) != nil)
        let v = Judge(policy: policy, root: "/c", fix: FixMode(dryRun: false, breakOutsideLinks: true, addNamedGroupToDirectories: false))
            .judge(Facts(entry: e, path: "/c/d", membership: .member))
        #expect(v.plan?.namedGroupOnly == true)
    }

    @Test func listPatternsAndWhereRulesApply() throws {
        var file = CuratedFile()
        let added = file.addReader(ReaderGroup(group: "ro", gid: 9)), again = file.addReader(ReaderGroup(group: "ro", gid: 9))
        #expect(added && !again)
        let r1 = file.restrict(RestrictRule(pattern: "models--meta-llama--*", group: "llama", gid: 10))
        let r2 = file.restrict(RestrictRule(pattern: "models--meta-llama--*", group: "llama", gid: 10))
        let r3 = file.restrict(RestrictRule(pattern: "models--meta-llama--*", group: "llama2", gid: 11))
        #expect(r1 && !r2 && r3 && file.restricted.count == 1)
        #expect(try CuratedFile.decode(file.encoded(), path: "x") == file)
        let u1 = file.unrestrict(pattern: "models--meta-llama--*"), u2 = file.unrestrict(pattern: "models--meta-llama--*")
        let removed = file.removeReader(gid: 9)
        #expect(u1 && !u2 && removed && file.isEmpty)

        #expect(try RestrictRule.parsePattern("models--meta-llama--*") == "models--meta-llama--*")
        #expect(try RestrictRule.parsePattern("meta-llama/Llama-3.1-8B") == "models--meta-llama--Llama-3.1-8B")
        #expect(try RestrictRule.parsePattern("datasets/org/gated") == "datasets--org--gated")
        for bad in ["meta-*", "", "models--a/b", "x\ny", "../etc"] { #expect(throws: UsageError.self) { try RestrictRule.parsePattern(bad) } }
        #expect(RestrictRule(pattern: "models--a--b", group: "x", gid: 1).isExact)
        #expect(!RestrictRule(pattern: "models--a--*", group: "x", gid: 1).isExact)

        let rules = CuratedRules(restricted: [RestrictRule(pattern: "models--meta-llama--*", group: "llama", gid: 10)])
        #expect(rules.restrictedGID(parentRel: "hub", name: "models--meta-llama--Llama-3") == 10)
        #expect(rules.restrictedGID(parentRel: "hub/.locks", name: "models--meta-llama--Llama-3") == 10)
        #expect(rules.restrictedGID(parentRel: "hub", name: "models--other--x") == nil)
        #expect(rules.restrictedGID(parentRel: "hub/models--a--b", name: "models--meta-llama--Llama-3") == nil)
        #expect(rules.restrictedGID(rel: "hub/models--meta-llama--L/blobs/abc") == 10)
        #expect(rules.restrictedGID(rel: "hub/.locks/models--meta-llama--L/abc.lock") == 10)
        #expect(rules.restrictedGID(rel: "hub/models--x--y/blobs/abc") == nil)
        #expect(StoreUse.storeKey("../../blobs/ab/abcdef") == "ab/abcdef")
        #expect(StoreUse.storeKey("../../blobs/abc/abcdef") == nil && StoreUse.storeKey("../blobs/ab/x") == nil)
    }

    /// The shared store: a blob only restricted repos of one group use is restricted; one an
    /// unrestricted repo also uses stays shared.
    @Test func sharedStoreBlobs() throws {
        let box = Sandbox()
        defer { box.cleanup() }
        let root = box.path("c")
        _ = TestEnv.sh("""
            set -e; mkdir -p '\(root)/hub/blobs/aa' '\(root)/hub/blobs/bb' '\(root)/hub/models--meta-llama--L/blobs' '\(root)/hub/models--meta-llama--M/blobs' '\(root)/hub/models--open--x/blobs'
            echo a > '\(root)/hub/blobs/aa/hashA'; echo b > '\(root)/hub/blobs/bb/hashB'
            ln -s ../../blobs/aa/hashA '\(root)/hub/models--meta-llama--L/blobs/e1'
            ln -s ../../blobs/aa/hashA '\(root)/hub/models--meta-llama--M/blobs/e1'
            ln -s ../../blobs/bb/hashB '\(root)/hub/models--meta-llama--L/blobs/e2'
            ln -s ../../blobs/bb/hashB '\(root)/hub/models--open--x/blobs/e2'
            """)
        var rules = CuratedRules(restricted: [RestrictRule(pattern: "models--meta-llama--*", group: "llama", gid: 10)])
        rules.store = StoreUse.restricted(root: root, rules: rules)
        #expect(rules.store == ["aa/hashA": 10])
        #expect(StoreUse.use(root: root, rules: rules).shared == ["bb/hashB"])
        // The walker hands the store blob (and only it) its licensed group: its 0644 is restricted-readable.
        var policy = Policy(gid: 4242, groupName: "hf", now: Posix.now())
        policy.curated = rules
        let found = Locked<[Finding]>([])
        _ = try Scanner(ScanOptions(root: root, policy: policy)) { e in found.mutate { $0.append(e.finding) } }.run()
        let restricted = Set(found.value.filter { $0.kind == .restrictedReadable }.map(\.path))
        #expect(restricted.contains(root + "/hub/blobs/aa/hashA"))
        #expect(!restricted.contains(root + "/hub/blobs/bb/hashB") && !restricted.contains(root + "/hub/blobs/aa"))
        #expect(rules.storeGID(dirRel: "hub/blobs/aa", name: "hashA") == 10)
        #expect(rules.storeGID(dirRel: "hub/blobs/aa", name: "hashA.refs") == 10)
        #expect(rules.storeGID(dirRel: "hub/blobs/bb", name: "hashB") == nil)
    }

    @Test func readersEnvironment() throws {
        var r = EnvRenderer(root: "/srv/hf", group: "hf", gid: 4242, acl: true)
        r.reader = ReaderGroup(group: "hf-ro", gid: 4343)
        let sh = r.shell()
        for line in ["export HF_HUB_CACHE=/srv/hf/hub", "export HF_HUB_OFFLINE=1", "export HF_DATASETS_CACHE=\"${HOME}/.cache/huggingface/datasets\"",
                     "export HF_XET_CACHE=\"${HOME}/.cache/huggingface/xet\"", "export HF_ASSETS_CACHE=\"${HOME}/.cache/huggingface/assets\"",
                     "export HF_MODULES_CACHE=\"${HOME}/.cache/huggingface/modules\""] {
            #expect(sh.contains(line + "\n"), "\(line)")
        }
        #expect(try r.systemd().contains("SupplementaryGroups=hf-ro\n"))
        #expect(try r.docker().contains("-v /srv/hf:/srv/hf:ro"))
        #expect(try r.compose().contains("read_only: true"))
        let profile = Profile.render(root: "/srv/hf", group: "hf", acl: true, readers: ["hf-ro"])
        #expect(profile.contains("*\" \"hf-ro\" \"*)\n    export HF_HUB_CACHE=/srv/hf/hub\n    export HF_HUB_OFFLINE=1\n"))
        #expect(TestEnv.sh("printf '%s' '\(profile.replacingOccurrences(of: "'", with: "'\\''"))' | sh -n").status == 0)
    }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&v); lock.unlock() }
}
