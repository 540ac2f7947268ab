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

        public init(name: String, stat: FileStat, access: PosixACL? = nil, defaultACL: PosixACL? = nil, underLocks: Bool = false) {
            self.name = name; self.stat = stat; self.access = access; self.defaultACL = defaultACL; self.underLocks = underLocks
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
        switch e.stat.type {
        case .directory:
            if e.stat.gid != gid { kinds.append(.dirWrongGroup) }
            if mode & UInt32(S_ISGID) == 0 { kinds.append(.dirNoSetgid) }
            if mode & UInt32(S_ISVTX) != 0 { kinds.append(.dirSticky) }
            if mode & 0o002 != 0 { kinds.append(.dirWorldWritable) }
            if mode & 0o700 != 0o700 { kinds.append(.dirOwnerPerms) }
            if let k = groupRightsViolation(e, need: .rwx, perms: .dirGroupPerms, mask: .dirACLMask) { kinds.append(k) }
            if aclSupported { kinds += defaultACLViolations(e.defaultACL) }
        case .regular:
            if e.isToken {
                if mode & 0o044 != 0 { kinds.append(.tokenReadable) }
            } else {
                if e.stat.gid != gid { kinds.append(.fileWrongGroup) }
                let permsKind: FindingKind = e.isLock ? .lockNotGroupWritable : .fileGroupPerms
                if let k = groupRightsViolation(e, need: .rw, perms: permsKind, mask: .fileACLMask) { kinds.append(k) }
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

    /// G's rights: `group::` (the owning group, which the group rule makes G) and `group:G:`, each ANDed
    /// with the mask when the ACL is extended. Unmasked entries short: group-perms; only the mask: acl-mask.
    public func groupRights(_ e: Entry) -> (unmasked: ACLPerms, effective: ACLPerms) {
        guard let acl = e.access, acl.isExtended else {
            let g = ACLPerms(rawValue: e.stat.mode >> 3)
            return (g, g)
        }
        let unmasked = (acl[.groupObj] ?? []).union(acl[.group(gid)] ?? [])
        return (unmasked, unmasked.intersection(acl[.mask] ?? .rwx))
    }

    func groupRightsViolation(_ e: Entry, need: ACLPerms, perms: FindingKind, mask: FindingKind) -> FindingKind? {
        let rights = groupRights(e)
        if !rights.unmasked.isSuperset(of: need) { return perms }
        if !rights.effective.isSuperset(of: need) { return mask }
        return nil
    }

    func defaultACLViolations(_ d: PosixACL?) -> [FindingKind] {
        guard let d else { return [.dirNoDefaultACL] }
        var kinds: [FindingKind] = []
        let grants = (d[.group(gid)] ?? []).isSuperset(of: .rwx) || (d[.groupObj] ?? []).isSuperset(of: .rwx)
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
        switch e.stat.type {
        case .directory:
            return (mode | UInt32(S_ISGID) | 0o770) & ~UInt32(S_ISVTX | 0o002)
        case .regular:
            if e.isToken { return mode & ~UInt32(0o002 | S_ISUID | S_ISGID) }
            return (mode | 0o060) & ~UInt32(0o002 | S_ISUID | S_ISGID)
        default:
            return mode
        }
    }

    /// The access ACL an entry should have, or nil where the mode alone carries the policy (no extended
    /// ACL, or one whose entries already grant G; chmod then fixes mask and other).
    /// `addNamedGroup` adds `group:G:` (init does so on directories).
    public func wantedAccessACL(_ e: Entry, addNamedGroup: Bool = false) -> PosixACL? {
        guard aclSupported, e.stat.type == .directory || (e.stat.type == .regular && !e.isToken) else { return nil }
        let need: ACLPerms = e.stat.type == .directory ? .rwx : .rw
        var acl = e.access ?? PosixACL(mode: e.stat.mode)
        let before = acl
        if !acl.isExtended && !addNamedGroup { return nil }
        if addNamedGroup || acl[.group(gid)] != nil {
            acl[.group(gid)] = (acl[.group(gid)] ?? []).union(need)
        }
        if !(acl[.groupObj] ?? []).union(acl[.group(gid)] ?? []).isSuperset(of: need) {
            acl[.groupObj] = (acl[.groupObj] ?? []).union(need)
        }
        let wanted = wantedMode(e)
        acl[.userObj] = ACLPerms(rawValue: wanted >> 6)
        acl[.mask] = (acl[.mask] ?? ACLPerms(rawValue: wanted >> 3)).union(need)
        acl[.other] = ACLPerms(rawValue: wanted)
        return acl == before ? nil : acl
    }

    /// The default ACL a directory should have, or nil if it already grants what the policy needs.
    /// Named entries an admin added stay; a stricter `other::` stays.
    public func wantedDefaultACL(_ e: Entry) -> PosixACL? {
        guard aclSupported, e.stat.type == .directory else { return nil }
        if defaultACLViolations(e.defaultACL).isEmpty { return nil }
        var acl = e.defaultACL ?? PosixACL([])
        acl[.userObj] = (acl[.userObj] ?? []).union(.rwx)
        acl[.groupObj] = (acl[.groupObj] ?? []).union(.rwx)
        acl[.group(gid)] = (acl[.group(gid)] ?? []).union(.rwx)
        acl[.mask] = .rwx
        let o = e.defaultACL?[.other].map { $0.intersection(self.other.perms) } ?? self.other.perms
        acl[.other] = o.subtracting(.write)
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
