import Testing
@testable import HFShareCore

@Suite struct PolicyTests {
    let g: UInt32 = 4242
    var policy: Policy { Policy(gid: g, groupName: "hf", now: 1_000_000) }

    func dir(_ mode: UInt32, gid: UInt32? = nil, access: String? = nil, def: String? = nil) -> Policy.Entry {
        Policy.Entry(name: "d", stat: FileStat(mode: 0o040000 | mode, gid: gid ?? g),
                     access: access.flatMap(PosixACL.parse), defaultACL: def.flatMap(PosixACL.parse))
    }

    @Test func compliantDirectoryHasNoFindings() {
        let e = dir(0o2775, access: "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::r-x", def: "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::r-x")
        #expect(policy.violations(e) == [])
        #expect(policy.wantedMode(e) == 0o2775)
        #expect(policy.wantedAccessACL(e) == nil)
        #expect(policy.wantedDefaultACL(e) == nil)
    }

    @Test func stricterOtherIsCompliantAndKept() {
        let e = dir(0o2770, def: "u::rwx,g::rwx,m::rwx,o::---")
        #expect(policy.violations(e) == [])
        #expect(policy.wantedMode(e) == 0o2770)
    }

    @Test func plainDirectoryBreaksEveryDirectoryRule() {
        let e = dir(0o1757, gid: 7)
        #expect(Set(policy.violations(e)) == [.dirWrongGroup, .dirNoSetgid, .dirSticky, .dirWorldWritable, .dirGroupPerms, .dirNoDefaultACL])
        #expect(policy.wantedMode(e) == 0o2775)
        let d = policy.wantedDefaultACL(e)
        #expect(d?.description == "u::rwx,g::rwx,g:4242:rwx,m::rwx,o::r-x")
    }

    @Test func maskOnlyIsACLMaskNeverBoth() {
        let e = dir(0o2755, access: "u::rwx,g::rwx,m::r-x,o::r-x", def: "u::rwx,g::rwx,m::rwx,o::r-x")
        #expect(policy.violations(e) == [.dirACLMask])
        let f = dir(0o2775, access: "u::rwx,g::r-x,m::rwx,o::r-x", def: "u::rwx,g::rwx,m::rwx,o::r-x")
        #expect(policy.violations(f) == [.dirGroupPerms])
        #expect(policy.wantedAccessACL(f)?[.groupObj] == .rwx)
    }

    @Test func namedGroupEntryCountsForG() {
        let e = dir(0o2775, gid: 7, access: "u::rwx,g::r-x,g:4242:rwx,m::rwx,o::r-x", def: "u::rwx,g::r-x,g:4242:rwx,m::rwx,o::r-x")
        #expect(policy.violations(e) == [.dirWrongGroup])
    }

    @Test func defaultACLRules() {
        #expect(policy.violations(dir(0o2775, def: "u::rwx,g::rwx,m::r-x,o::r-x")) == [.dirDefaultACLBad])
        #expect(policy.violations(dir(0o2775, def: "u::rwx,g::rwx,m::rwx,o::rwx")) == [.dirDefaultACLBad])
        #expect(policy.violations(dir(0o2775, def: "u::rwx,g::r-x,m::r-x,o::r-x")) == [.dirNoDefaultACL, .dirDefaultACLBad])
        var noACL = policy
        noACL.aclSupported = false
        #expect(noACL.violations(dir(0o2775)) == [])
    }

    func file(_ name: String, _ mode: UInt32, gid: UInt32? = nil, locks: Bool = false, mtime: Double = 999_000, access: String? = nil) -> Policy.Entry {
        Policy.Entry(name: name, stat: FileStat(mode: 0o100000 | mode, gid: gid ?? g, mtime: mtime), access: access.flatMap(PosixACL.parse), underLocks: locks)
    }

    @Test func fileRules() {
        #expect(policy.violations(file("blob", 0o664)) == [])
        #expect(policy.violations(file("blob", 0o660)) == [])
        #expect(policy.violations(file("blob", 0o600)) == [.fileGroupPerms])
        #expect(policy.violations(file("blob", 0o6666, gid: 1)) == [.fileWrongGroup, .fileWorldWritable, .fileSetid])
        #expect(policy.wantedMode(file("blob", 0o6646)) == 0o664)
        #expect(policy.wantedMode(file("blob", 0o600)) == 0o660)
        #expect(policy.violations(file("blob", 0o644, access: "u::rw-,g::rw-,m::r--,o::r--")) == [.fileACLMask])
    }

    @Test func lockRules() {
        #expect(policy.violations(file("x.lock", 0o644, locks: true)) == [.lockNotGroupWritable])
        #expect(policy.violations(file("x.lock", 0o644, locks: false)) == [.fileGroupPerms])
        #expect(policy.isStaleLockCandidate(file("x.lock", 0o664, locks: true, mtime: 0)))
        #expect(!policy.isStaleLockCandidate(file("x.lock", 0o664, locks: true, mtime: 999_000)))
        #expect(policy.violations(file("b.incomplete", 0o664, mtime: 0)) == [.incompleteOld])
        #expect(policy.violations(file("b.incomplete", 0o664)) == [])
    }

    @Test func tokensAreExemptFromGroupRules() {
        #expect(policy.violations(file("token", 0o600, gid: 1)) == [])
        #expect(policy.violations(file("stored_tokens", 0o640, gid: 1)) == [.tokenReadable])
    }

    @Test func specialFiles() {
        let fifo = Policy.Entry(name: "p", stat: FileStat(mode: 0o010644, gid: g))
        #expect(policy.violations(fifo) == [.specialFile])
    }
}
