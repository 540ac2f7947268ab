import Glibc

/// What `o::` may be on the cache: `r-x` (2775 dirs) or nothing (2770 dirs, `--other none`).
public enum OtherAccess: String, Codable, Sendable {
    case readExecute = "rx"
    case none = "none"

    public var perms: ACLPerms { self == .readExecute ? .rx : [] }
}

/// The sharing policy as data plus pure functions from (what an entry is) to (what is wrong) and
/// (what it should become). Like git's `adjust_shared_perm`, it only ever adds what sharing needs and
/// removes what is dangerous; it never loosens stricter bits and never picks an owner.
public struct Policy: Sendable {
    public var gid: UInt32
    public var groupName: String
    public var other: OtherAccess
    /// False on filesystems without POSIX ACLs: then only setgid + mode bits are the policy.
    public var aclSupported: Bool
    public var staleAge: Double
    public var now: Double
    /// Who is a member (NSS, cached). The ACL can treat the owner and each named user differently from
    /// "any other member"; the rules ask the kernel's access decision (Access) for each member that
    /// matters. nil: only "any member" is judged (no NSS at hand).
    public var members: MembershipCache?
    /// Reader groups and restricted repos (issue #17, ROOT/.hfshare/curated.json; CuratedPolicy.swift).
    public var curated = CuratedRules()
    /// Membership of the licensed groups of restricted repos (NSS, cached); nil: owners are not judged.
    public var groups: GroupMemberships?

    public init(gid: UInt32, groupName: String, other: OtherAccess = .readExecute, aclSupported: Bool = true,
                staleAge: Double = 2 * 86400, now: Double = Posix.now()) {
        self.gid = gid; self.groupName = groupName; self.other = other
        self.aclSupported = aclSupported; self.staleAge = staleAge; self.now = now
    }

    /// What an entry is, as far as the pure rules need to know.
    public struct Entry: Sendable {
        public var name: String
        public var stat: FileStat
        public var access: PosixACL?
        public var defaultACL: PosixACL?
        /// Some ancestor inside ROOT is named `.locks`.
        public var underLocks: Bool

        /// Inside ROOT/modules (HF_MODULES_CACHE when HF_HOME is the cache): Python that `trust_remote_code`
        /// imports into every process loading the model. No member but its owner may write it.
        public var isCode: Bool = false

        /// Inside a restricted repo (its dir, everything below it, its `.locks` dir): the licensed group's GID.
        public var restrictedTo: UInt32?

        public init(name: String, stat: FileStat, access: PosixACL? = nil, defaultACL: PosixACL? = nil, underLocks: Bool = false,
                    isCode: Bool = false, restrictedTo: UInt32? = nil) {
            self.name = name; self.stat = stat; self.access = access; self.defaultACL = defaultACL; self.underLocks = underLocks
            self.isCode = isCode; self.restrictedTo = restrictedTo
        }

        public var isToken: Bool { name == "token" || name == "stored_tokens" }
        public var isLock: Bool { underLocks && name.hasSuffix(".lock") && stat.type == .regular }
        public var isIncomplete: Bool { name.hasSuffix(".incomplete") && stat.type == .regular }
    }

    // MARK: rules

    /// The kinds an entry breaks that need nothing but its stat and ACLs. The walker adds the rest
    /// (owners through NSS, symlink targets, held locks, hard links).
    public func violations(_ e: Entry) -> [FindingKind] {
        var kinds: [FindingKind] = []
        let mode = e.stat.mode
        if e.isCode && (e.stat.type == .directory || e.stat.type == .regular) {
            // The sharing rules are turned around: nobody but the owner may write shared code.
            if mode & UInt32(S_ISUID | S_ISGID) != 0 && e.stat.type == .regular { kinds.append(.fileSetid) }
            if codeWritableByOthers(e) { kinds.append(.sharedCodeWritable) }
            return kinds
        }
        switch e.stat.type {
        case .directory:
            if e.stat.gid != gid { kinds.append(.dirWrongGroup) }
            if mode & UInt32(S_ISGID) == 0 { kinds.append(.dirNoSetgid) }
            if mode & UInt32(S_ISVTX) != 0 { kinds.append(.dirSticky) }
            if mode & 0o002 != 0 { kinds.append(.dirWorldWritable) }
            if mode & 0o700 != 0o700 { kinds.append(.dirOwnerPerms) }
            if let k = groupRightsViolation(e, need: .rwx, perms: .dirGroupPerms, mask: .dirACLMask) { kinds.append(k) }
            if !memberDenials(e, need: .rwx).isEmpty { kinds.append(.aclDeniesMember) }
            if aclSupported {
                kinds += defaultACLViolations(e.defaultACL, licensed: e.restrictedTo)
                if !defaultDenials(e).isEmpty { kinds.append(.defaultACLDeniesMember) }
            }
            kinds += curatedViolations(e)
        case .regular:
            if e.isToken {
                if mode & 0o044 != 0 { kinds.append(.tokenReadable) }
            } else {
                if e.stat.gid != gid { kinds.append(.fileWrongGroup) }
                let permsKind: FindingKind = e.isLock ? .lockNotGroupWritable : .fileGroupPerms
                if let k = groupRightsViolation(e, need: .rw, perms: permsKind, mask: .fileACLMask) { kinds.append(k) }
                if !memberDenials(e, need: .rw).isEmpty { kinds.append(.aclDeniesMember) }
                kinds += curatedViolations(e)
            }
            if mode & 0o002 != 0 { kinds.append(.fileWorldWritable) }
            if mode & UInt32(S_ISUID | S_ISGID) != 0 { kinds.append(.fileSetid) }
            if isOld(e) && e.isIncomplete { kinds.append(.incompleteOld) }
        case .fifo, .socket, .blockDevice, .charDevice, .unknown:
            kinds.append(.specialFile)
        case .symlink:
            break
        }
        return kinds
    }

    /// A lock the walker must then test with a non-blocking flock before calling it stale.
    public func isStaleLockCandidate(_ e: Entry) -> Bool { e.isLock && isOld(e) }

    func isOld(_ e: Entry) -> Bool { now - e.stat.mtime > staleAge }

    /// What "any other member" gets, decided as the kernel decides (Access): the first single group-class
    /// entry that grants everything asked, through the mask; never the union of two entries. The owning
    /// group is taken to be G (a wrong group is its own finding, fixed first). `effective` is the real
    /// answer, `unmasked` the answer with the mask opened (to tell dir-group-perms from dir-acl-mask).
    public func groupRights(_ e: Entry, need: ACLPerms) -> (unmasked: Bool, effective: Bool) {
        var st = e.stat
        st.gid = gid
        let who = writer(e)
        let effective = Access.permissionCheck(who, stat: st, acl: e.access, want: need).allowed
        // The common case (every entry of a healthy cache) costs one check, no ACL copy.
        if effective { return (true, true) }
        guard var open = e.access, open.isExtended else { return (effective, effective) }
        open[.mask] = .rwx
        st.mode |= 0o070
        return (Access.permissionCheck(who, stat: st, acl: open, want: need).allowed, effective)
    }

    func groupRightsViolation(_ e: Entry, need: ACLPerms, perms: FindingKind, mask: FindingKind) -> FindingKind? {
        let rights = groupRights(e, need: need)
        if !rights.unmasked { return perms }
        if !rights.effective { return mask }
        return nil
    }

    func isMember(_ uid: UInt32) -> Bool { members?.membership(of: uid) == .member }

    /// Some member other than the owner (any member through the group class or other, or a named
    /// member) may write this piece of shared code, as the kernel decides.
    public func codeWritableByOthers(_ e: Entry) -> Bool {
        let write: ACLPerms = e.stat.type == .directory ? [.write, .execute] : .write
        if Access.permissionCheck(Credentials.anyMember(of: gid), stat: e.stat, acl: e.access, want: write).allowed { return true }
        guard let acl = e.access, acl.isExtended else { return false }
        for entry in acl.entries {
            if case .user(let uid) = entry.tag, uid != e.stat.uid,
               Access.permissionCheck(Credentials(uid: uid, gids: [gid]), stat: e.stat, acl: acl, want: write).allowed { return true }
        }
        return false
    }

    /// Members the ACL singles out and denies what the group gets: the owner if a member (files: `u::`
    /// must have rw; directories have dir-owner-perms) and each member with a named-user entry. One line
    /// each, naming the member and the entry.
    public func memberDenials(_ e: Entry, need: ACLPerms) -> [String] {
        // In a restricted repo named entries are the curated rules' business (restricted-readable).
        if e.restrictedTo != nil && aclSupported { return [] }
        var out: [String] = []
        var st = e.stat
        st.gid = gid
        if e.stat.type == .regular, !ACLPerms(rawValue: st.mode >> 6).isSuperset(of: need), isMember(e.stat.uid) {
            out.append("owner \(Names.shared.user(e.stat.uid)): user::\(ACLPerms(rawValue: st.mode >> 6)) lacks \(need)")
        }
        guard let acl = e.access, acl.isExtended else { return out }
        for entry in acl.entries {
            guard case .user(let uid) = entry.tag, uid != e.stat.uid, !entry.perms.intersection(acl[.mask] ?? .rwx).isSuperset(of: need) || st.mode & 0o070 == 0,
                  isMember(uid) else { continue }
            let d = Access.permissionCheck(Credentials(uid: uid, gids: [gid]), stat: st, acl: acl, want: need)
            if !d.allowed {
                out.append("\(Names.shared.user(uid)): user:\(Names.shared.user(uid)):\(entry.perms)\(d.maskLimited ? " (mask \(acl[.mask] ?? []))" : "") lacks \(need)")
            }
        }
        return out
    }

    /// What a member's new file (0666, and 0600 for its creator) or directory (0777) in this directory
    /// would get, the kernel's `posix_acl_create`: members singled out by the default ACL (its `u::`
    /// for the creator, named users) who would be denied. "Any member" is the default-acl kinds' job.
    public func defaultDenials(_ e: Entry) -> [String] {
        guard e.stat.type == .directory, let d = e.defaultACL else { return [] }
        // Nothing singles anybody out: a default ACL with rwx owner entry and no named users (the usual).
        if (d[.userObj] ?? []).isSuperset(of: .rwx) && !d.entries.contains(where: { if case .user = $0.tag { return true } else { return false } }) {
            return []
        }
        var out: [String] = []
        let creator: UInt32 = UInt32.max - 2
        for (mode, type, need) in [(UInt32(0o666), UInt32(S_IFREG), ACLPerms.rw), (0o777, UInt32(S_IFDIR), .rwx)] {
            let (acl, m) = Policy.aclCreate(d, mode: mode)
            let st = FileStat(mode: type | m, uid: creator, gid: gid)
            if !Access.permissionCheck(Credentials(uid: creator, gids: [gid]), stat: st, acl: acl, want: need).allowed {
                out.append("every member's new \(type == UInt32(S_IFDIR) ? "directory" : "file") is denied to its creator: default:user::\(d[.userObj] ?? []) lacks \(need)")
            }
            for entry in d.entries {
                guard case .user(let uid) = entry.tag, isMember(uid), e.restrictedTo == nil || !aclSupported else { continue }
                let dec = Access.permissionCheck(Credentials(uid: uid, gids: [gid]), stat: st, acl: acl, want: need)
                if !dec.allowed {
                    out.append("\(Names.shared.user(uid)) would be denied \(need) on other members' new \(type == UInt32(S_IFDIR) ? "directories" : "files"): default:user:\(Names.shared.user(uid)):\(entry.perms)")
                }
            }
        }
        return Array(Set(out)).sorted()
    }

    /// `posix_acl_create`: the access ACL and mode bits a new inode gets from a default ACL and its create mode.
    public static func aclCreate(_ d: PosixACL, mode: UInt32) -> (PosixACL, UInt32) {
        var acl = d
        let u = (d[.userObj] ?? []).intersection(ACLPerms(rawValue: mode >> 6))
        acl[.userObj] = u
        let o = (d[.other] ?? []).intersection(ACLPerms(rawValue: mode))
        acl[.other] = o
        let g: ACLPerms
        if let mask = d[.mask] {
            g = mask.intersection(ACLPerms(rawValue: mode >> 3))
            acl[.mask] = g
        } else {
            g = (d[.groupObj] ?? []).intersection(ACLPerms(rawValue: mode >> 3))
            acl[.groupObj] = g
        }
        return (acl, u.rawValue << 6 | g.rawValue << 3 | o.rawValue)
    }

    func defaultACLViolations(_ d: PosixACL?, licensed: UInt32? = nil) -> [FindingKind] {
        guard let d else { return [.dirNoDefaultACL] }
        var kinds: [FindingKind] = []
        // A restricted repo's writers are the licensed group (G's own entries are --- there).
        let grants = licensed.map { (d[.group($0)] ?? []).isSuperset(of: .rwx) }
            ?? ((d[.group(gid)] ?? []).isSuperset(of: .rwx) || (d[.groupObj] ?? []).isSuperset(of: .rwx))
        if !grants { kinds.append(.dirNoDefaultACL) }
        let maskBad = !(d[.mask] ?? d[.groupObj] ?? []).isSuperset(of: .rwx)
        if maskBad || (d[.other] ?? []).contains(.write) { kinds.append(.dirDefaultACLBad) }
        return kinds
    }

    // MARK: wanted state

    /// The mode an entry should have: adds exactly what sharing needs, clears what is dangerous, keeps
    /// every stricter bit.
    public func wantedMode(_ e: Entry) -> UInt32 {
        let mode = e.stat.permissions
        if e.isCode { return mode & ~UInt32(S_ISUID | S_ISGID) }
        switch e.stat.type {
        case .directory:
            return (mode | UInt32(S_ISGID) | 0o770) & ~UInt32(S_ISVTX | (isRestricted(e) ? 0o007 : 0o002))
        case .regular:
            if e.isToken { return mode & ~UInt32(0o002 | S_ISUID | S_ISGID) }
            // The owner, when a member, must be able to rewrite the file too (a lock it made read-only).
            let owner: UInt32 = isMember(e.stat.uid) ? 0o600 : 0
            return (mode | 0o060 | owner) & ~UInt32((isRestricted(e) ? 0o007 : 0o002) | S_ISUID | S_ISGID)
        default:
            return mode
        }
    }

    /// The access ACL an entry should have, or nil where the mode alone carries the policy (no extended
    /// ACL, or one whose entries already grant G; chmod then fixes mask and other).
    /// `addNamedGroup` adds `group:G:` (init does so on directories).
    public func wantedAccessACL(_ e: Entry, addNamedGroup: Bool = false) -> PosixACL? {
        if e.isCode && hasRevoked(e), var acl = e.access {
            for r in curated.revoked { acl[.group(r)] = nil }
            return acl
        }
        guard aclSupported, !e.isCode, e.stat.type == .directory || (e.stat.type == .regular && !e.isToken) else { return nil }
        let need: ACLPerms = e.stat.type == .directory ? .rwx : .rw
        var acl = e.access ?? PosixACL(mode: e.stat.mode)
        let before = acl
        let curatedApplies = isRestricted(e) || !curated.readers.isEmpty || !curated.revoked.isEmpty
        if !acl.isExtended && !addNamedGroup && !curatedApplies { return nil }
        if (addNamedGroup && !isRestricted(e)) || acl[.group(gid)] != nil {
            acl[.group(gid)] = (acl[.group(gid)] ?? []).union(need)
        }
        // The kernel takes the first single entry that grants everything: one must (never a union).
        if !(acl[.groupObj] ?? []).isSuperset(of: need) && !(acl[.group(gid)] ?? []).isSuperset(of: need) {
            acl[.groupObj] = (acl[.groupObj] ?? []).union(need)
        }
        // Members named in the ACL get what the group gets: their entry is raised, never lowered.
        for entry in acl.entries {
            if case .user(let uid) = entry.tag, uid != e.stat.uid, isMember(uid), !entry.perms.isSuperset(of: need) {
                acl[.user(uid)] = entry.perms.union(need)
            }
        }
        let wanted = wantedMode(e)
        acl[.userObj] = ACLPerms(rawValue: wanted >> 6)
        acl[.mask] = (acl[.mask] ?? ACLPerms(rawValue: wanted >> 3)).union(need)
        acl[.other] = ACLPerms(rawValue: wanted)
        if curatedApplies { curateAccessACL(&acl, e, need: need) }
        // Only the three mode entries left: the mode carries it (chmod), no extended ACL to write.
        if acl == before || (!acl.isExtended && e.access == nil) { return nil }
        return acl
    }

    /// The default ACL a directory should have, or nil if it already grants what the policy needs.
    /// Named entries an admin added stay; a stricter `other::` stays.
    public func wantedDefaultACL(_ e: Entry) -> PosixACL? {
        if e.isCode && hasRevoked(e), var acl = e.defaultACL {
            for r in curated.revoked { acl[.group(r)] = nil }
            return acl
        }
        guard aclSupported, !e.isCode, e.stat.type == .directory else { return nil }
        if defaultACLViolations(e.defaultACL, licensed: e.restrictedTo).isEmpty && defaultDenials(e).isEmpty
            && curatedDefaultViolations(e).isEmpty && !hasRevoked(e) { return nil }
        var acl = e.defaultACL ?? PosixACL([])
        for entry in acl.entries {
            if case .user(let uid) = entry.tag, isMember(uid) { acl[.user(uid)] = entry.perms.union(.rwx) }
        }
        acl[.userObj] = (acl[.userObj] ?? []).union(.rwx)
        acl[.groupObj] = (acl[.groupObj] ?? []).union(.rwx)
        acl[.group(gid)] = (acl[.group(gid)] ?? []).union(.rwx)
        acl[.mask] = .rwx
        let o = e.defaultACL?[.other].map { $0.intersection(self.other.perms) } ?? self.other.perms
        acl[.other] = o.subtracting(.write)
        curateDefaultACL(&acl, e)
        return acl
    }

    /// The default ACL `init` gives a new directory: `u::rwx,g::rwx,g:G:rwx,m::rwx,o::r-x` (or `o::---`).
    public var defaultACL: PosixACL {
        PosixACL([ACLEntry(.userObj, .rwx), ACLEntry(.groupObj, .rwx), ACLEntry(.group(gid), .rwx),
                  ACLEntry(.mask, .rwx), ACLEntry(.other, other.perms)])
    }

    /// Mode for directories `init` creates: 2775, or 2770 with `--other none`.
    public var newDirectoryMode: UInt32 { other == .none ? 0o2770 : 0o2775 }
}
