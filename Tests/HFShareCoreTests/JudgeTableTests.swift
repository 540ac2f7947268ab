import Glibc
import Testing
@testable import HFShareCore

/// The judge without a disk: facts in, kinds and plan out, against a table. The same decisions are
/// checked against the real kernel, with real members trying, by Tests/attacks/access_property.sh.
@Suite struct JudgeTableTests {
    static let g: UInt32 = 4242
    static let alice: UInt32 = 5001, bob: UInt32 = 5002, stranger: UInt32 = 6001
    static let members = MembershipCache(gid: g, known: [alice: .member, bob: .member, stranger: .notMember])

    struct Row: CustomTestStringConvertible, Sendable {
        var what: String
        var dir: Bool
        var mode: UInt32
        var owner: UInt32 = alice
        var access: String?
        var def: String?
        var kinds: Set<FindingKind>
        var testDescription: String { what }
    }

    static let good = "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::r-x"
    static let rows: [Row] = [
        Row(what: "compliant dir", dir: true, mode: 0o2775, access: good, def: good, kinds: []),
        Row(what: "compliant file", dir: false, mode: 0o664, access: "u::rw-,g::rw-,g:4242:rw-,m::rw-,o::r--", kinds: []),
        // issue #13's examples, each judged "healthy" by 0.1.0
        Row(what: "group::rw- + group:G:--x: no single entry grants rwx", dir: true, mode: 0o2775,
            access: "u::rwx,g::rw-,g:4242:--x,m::rwx,o::r-x", def: good, kinds: [.dirGroupPerms]),
        Row(what: "user:bob:r-x on a dir denies bob, a member", dir: true, mode: 0o2775,
            access: "u::rwx,u:5002:r-x,g::rwx,g:4242:rwx,m::rwx,o::r-x", def: good, kinds: [.aclDeniesMember]),
        Row(what: "user:bob:--- on a file", dir: false, mode: 0o664,
            access: "u::rw-,u:5002:---,g::rw-,m::rw-,o::r--", kinds: [.aclDeniesMember]),
        Row(what: "a named non-member may be denied", dir: false, mode: 0o664,
            access: "u::rw-,u:6001:---,g::rw-,m::rw-,o::r--", kinds: []),
        Row(what: "a lock whose member owner has u::r--", dir: false, mode: 0o464, access: nil, kinds: [.aclDeniesMember]),
        Row(what: "a non-member owner's u::r-- is no member's problem", dir: false, mode: 0o464, owner: stranger,
            access: nil, kinds: [.ownerNotMember]),
        Row(what: "group::r-- + group:G:-w-: nobody gets rw", dir: false, mode: 0o664,
            access: "u::rw-,g::r--,g:4242:-w-,m::rw-,o::r--", kinds: [.fileGroupPerms]),
        Row(what: "default:user:bob:r-x: bob cannot write what others create", dir: true, mode: 0o2775, access: good,
            def: "u::rwx,u:5002:r-x,g::rwx,g:4242:rwx,m::rwx,o::r-x", kinds: [.defaultACLDeniesMember]),
        Row(what: "default group::r-x and group:G:r-x", dir: true, mode: 0o2775, access: good,
            def: "u::rwx,g::r-x,g:4242:r-x,m::rwx,o::r-x", kinds: [.dirNoDefaultACL]),
        Row(what: "default:user::r-x: the creator cannot rewrite its own new file", dir: true, mode: 0o2775, access: good,
            def: "u::r-x,g::rwx,g:4242:rwx,m::rwx,o::r-x", kinds: [.defaultACLDeniesMember]),
        Row(what: "mask alone takes w away: acl-mask, never both", dir: false, mode: 0o644,
            access: "u::rw-,g::rw-,m::r--,o::r--", kinds: [.fileACLMask]),
        Row(what: "mask --- : the kernel ignores the ACL and the mode's group bits are ---", dir: false, mode: 0o604,
            access: "u::rw-,g::rw-,m::---,o::r--", kinds: [.fileACLMask]),
    ]

    @Test(arguments: rows) func judgedAsTheKernelDecides(_ row: Row) {
        var policy = Policy(gid: Self.g, groupName: "hf", now: 1_000_000)
        policy.members = Self.members
        let type: UInt32 = row.dir ? UInt32(S_IFDIR) : UInt32(S_IFREG)
        let e = Policy.Entry(name: row.dir ? "d" : "f.lock", stat: FileStat(mode: type | row.mode, uid: row.owner, gid: Self.g),
                             access: row.access.flatMap(PosixACL.parse), defaultACL: row.def.flatMap(PosixACL.parse), underLocks: !row.dir)
        let judge = Judge(policy: policy, root: "/c", fix: nil)
        let facts = Facts(entry: e, path: "/c/x", membership: Self.members.membership(of: row.owner))
        #expect(Set(judge.kinds(facts)) == row.kinds.map { $0 == .fileGroupPerms && !row.dir ? .lockNotGroupWritable : $0 }.reduce(into: Set()) { $0.insert($1) })
        // Repair's plan fixes what it finds: the wanted state judges clean for every member.
        var fixed = e
        fixed.stat.mode = type | policy.wantedMode(e)
        if let acl = policy.wantedAccessACL(e) { fixed.access = acl; fixed.stat.mode = (fixed.stat.mode & ~0o070) | ((acl[.mask] ?? []).rawValue << 3) }
        if let d = policy.wantedDefaultACL(e) { fixed.defaultACL = d }
        let after = judge.kinds(Facts(entry: fixed, path: "/c/x", membership: Self.members.membership(of: row.owner)))
        #expect(after.allSatisfy { !$0.fixable }, "after the planned fix: \(after)")
    }

    @Test func sharedCodeIsJudgedTheOtherWayAround() {
        var policy = Policy(gid: Self.g, groupName: "hf", now: 1_000_000)
        policy.members = Self.members
        let judge = Judge(policy: policy, root: "/c", fix: nil)
        func kinds(_ mode: UInt32, dir: Bool = false, acl: String? = nil) -> [FindingKind] {
            let e = Policy.Entry(name: "x.py", stat: FileStat(mode: (dir ? UInt32(S_IFDIR) : UInt32(S_IFREG)) | mode, uid: Self.alice, gid: Self.g),
                                 access: acl.flatMap(PosixACL.parse), isCode: true)
            return judge.kinds(Facts(entry: e, path: "/c/modules/x.py", membership: .member))
        }
        #expect(kinds(0o664) == [.sharedCodeWritable])
        #expect(kinds(0o2775, dir: true) == [.sharedCodeWritable])
        #expect(kinds(0o644) == [])
        #expect(kinds(0o755, dir: true) == [])
        #expect(kinds(0o644, acl: "u::rw-,u:5002:rw-,g::r--,m::rw-,o::r--") == [.sharedCodeWritable])
        #expect(!FindingKind.sharedCodeWritable.fixable)
    }

    @Test func repairPlansWithoutTouchingDisk() {
        var policy = Policy(gid: Self.g, groupName: "hf", now: 1_000_000)
        policy.members = Self.members
        let e = Policy.Entry(name: "f", stat: FileStat(mode: UInt32(S_IFREG) | 0o4666, uid: Self.alice, gid: 7))
        let v = Judge(policy: policy, root: "/c", fix: FixMode(dryRun: false, breakOutsideLinks: true, addNamedGroupToDirectories: false))
            .judge(Facts(entry: e, path: "/c/f", membership: .member))
        #expect(v.plan?.attributeKinds == [.fileWrongGroup, .fileWorldWritable, .fileSetid])
        #expect(v.plan?.remove == nil && v.plan?.breakLink == false)
        let dry = Judge(policy: policy, root: "/c", fix: FixMode(dryRun: true, breakOutsideLinks: true, addNamedGroupToDirectories: false))
            .judge(Facts(entry: e, path: "/c/f", membership: .member))
        #expect(dry.plan == nil && dry.reports.map(\.1) == [.wouldFix, .wouldFix, .wouldFix])
    }
}
