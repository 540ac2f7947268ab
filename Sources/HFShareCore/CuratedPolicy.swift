import Glibc

/// The curated-cache rules (issue #17), pure like the rest of Policy: reader groups get r-x on
/// directories and r-- on files, nothing more; a restricted repo is readable and writable by its
/// licensed group L (members of G who are in L) and by nobody else. Every answer comes from the
/// kernel's access decision (Access) for the credentials that matter:
///
/// - "any licensed writer": gids {G, L}; "any unlicensed member": gids {G}; "any reader": gids {R};
///   "anybody else": no group at all (the `other` entry).
///
/// How a restricted entry's ACL works with the kernel's first-matching-group-entry rule: the owning
/// group stays G (setgid), `group::---` and no `group:G:` entry, so an unlicensed member matches
/// `group::` only and is denied (the kernel does not fall through to `other` once a group entry
/// matched); a licensed writer matches `group::` (denies) and `group:L:rwx` (grants), and the first
/// entry that grants everything asked decides; `other::---`; reader entries removed.
extension Policy {
    func isRestricted(_ e: Entry) -> Bool { aclSupported && e.restrictedTo != nil }

    /// Who must have the sharing rights on this entry: any member, or in a restricted repo any member
    /// who is also in the licensed group.
    func writer(_ e: Entry) -> Credentials {
        guard isRestricted(e), let l = e.restrictedTo else { return .anyMember(of: gid) }
        return Credentials(uid: UInt32.max - 1, gids: [gid, l])
    }

    /// Credentials that must not read a restricted entry, with how to name them.
    func outsiders(licensed l: UInt32) -> [(who: Credentials, name: String)] {
        var list: [(Credentials, String)] = [(.anyMember(of: gid), "members of \(groupName) not in \(Names.shared.group(l))")]
        for r in curated.readers where r != l { list.append((Credentials(uid: UInt32.max - 1, gids: [r]), "readers (group \(Names.shared.group(r)))")) }
        list.append((Credentials(uid: UInt32.max - 1, gids: []), "everybody else (other)"))
        return list
    }

    /// Reading: a file's bytes; a directory's names (r) or what is below it (x).
    static func reads(_ who: Credentials, _ st: FileStat, _ acl: PosixACL?) -> Bool {
        if st.type == .directory {
            return Access.permissionCheck(who, stat: st, acl: acl, want: .read).allowed
                || Access.permissionCheck(who, stat: st, acl: acl, want: .execute).allowed
        }
        return Access.permissionCheck(who, stat: st, acl: acl, want: .read).allowed
    }

    /// The kinds the curated rules add for a directory or regular file (not tokens, not shared code).
    func curatedViolations(_ e: Entry) -> [FindingKind] {
        guard aclSupported, !curated.isEmpty, !e.isToken, !e.isCode,
              e.stat.type == .directory || e.stat.type == .regular else { return [] }
        var kinds: [FindingKind] = []
        if let l = e.restrictedTo {
            if !restrictedReaders(e).isEmpty { kinds.append(.restrictedReadable) }
            if let owner = restrictedOwnerProblem(e, licensed: l), !owner.isEmpty { kinds.append(.restrictedOwnerUnlicensed) }
        } else if !curated.readers.isEmpty {
            let p = readerProblems(e)
            if !p.cannotRead.isEmpty { kinds.append(.readerCannotRead) }
            if !p.canWrite.isEmpty { kinds.append(.readerCanWrite) }
        }
        return kinds
    }

    /// The default-ACL half of the curated kinds (what repair's default ACL must change).
    func curatedDefaultViolations(_ e: Entry) -> [String] {
        guard aclSupported, !curated.isEmpty, !e.isCode, e.stat.type == .directory, let d = e.defaultACL else { return [] }
        if let l = e.restrictedTo { return newEntryReaders(d, licensed: l) }
        let p = newEntryReaderProblems(d)
        return p.cannotRead + p.canWrite
    }

    /// One line per outsider who can read a restricted entry (or would read what is created in it).
    public func restrictedReaders(_ e: Entry) -> [String] {
        guard let l = e.restrictedTo, aclSupported else { return [] }
        var st = e.stat
        st.gid = gid // a wrong group is its own finding, fixed first
        var out: [String] = []
        for (who, name) in outsiders(licensed: l) where Policy.reads(who, st, e.access) {
            let via = Access.permissionCheck(who, stat: st, acl: e.access, want: st.type == .directory ? .execute : .read).via
            out.append("\(name) can \(st.type == .directory ? "list or enter it" : "read it") (\(Policy.viaWords(via, st, e.access)))")
        }
        if e.stat.type == .directory, let d = e.defaultACL { out += newEntryReaders(d, licensed: l) }
        return out
    }

    /// Outsiders who could read a new file (0666) or directory (0777) made here by a licensed writer.
    func newEntryReaders(_ d: PosixACL, licensed l: UInt32) -> [String] {
        var out: [String] = []
        for (mode, type) in [(UInt32(0o666), UInt32(S_IFREG)), (0o777, UInt32(S_IFDIR))] {
            let (acl, m) = Policy.aclCreate(d, mode: mode)
            let st = FileStat(mode: type | m, uid: UInt32.max - 2, gid: gid)
            for (who, name) in outsiders(licensed: l) where Policy.reads(who, st, acl) {
                out.append("\(name) could read new \(type == UInt32(S_IFDIR) ? "directories" : "files") made here (default \(d))")
            }
        }
        return out
    }

    /// The owner of a restricted entry who is not in the licensed group: the owner bits apply to them
    /// whatever the ACL says, and they may chmod it. Only `chown` (never done by repair) fixes it.
    /// nil or empty: no problem.
    func restrictedOwnerProblem(_ e: Entry, licensed l: UInt32) -> String? {
        guard let groups, e.stat.uid != 0, members?.membership(of: e.stat.uid) != .unknownUID else { return nil }
        if groups.isMember(e.stat.uid, of: l) { return nil }
        return "owner \(Names.shared.user(e.stat.uid)) is not in \(Names.shared.group(l))"
    }

    /// What each reader group lacks (r-x dirs, r-- files) or has too much of (any write), here and on
    /// what writers create here next.
    public func readerProblems(_ e: Entry) -> (cannotRead: [String], canWrite: [String]) {
        var cannot: [String] = [], can: [String] = []
        let dir = e.stat.type == .directory
        let read: ACLPerms = dir ? .rx : .read
        let write: ACLPerms = dir ? [.write, .execute] : .write
        for r in curated.readers where r != gid {
            let who = Credentials(uid: UInt32.max - 1, gids: [r])
            let name = Names.shared.group(r)
            var st = e.stat
            st.gid = gid
            let d = Access.permissionCheck(who, stat: st, acl: e.access, want: read)
            if !d.allowed { cannot.append("readers \(name) lack \(read) (\(Policy.viaWords(d.via, st, e.access)))") }
            let w = Access.permissionCheck(who, stat: st, acl: e.access, want: write)
            if w.allowed { can.append("readers \(name) can write (\(Policy.viaWords(w.via, st, e.access)))") }
        }
        if dir, let d = e.defaultACL {
            let p = newEntryReaderProblems(d)
            cannot += p.cannotRead
            can += p.canWrite
        }
        return (cannot, can)
    }

    func newEntryReaderProblems(_ d: PosixACL) -> (cannotRead: [String], canWrite: [String]) {
        var cannot: [String] = [], can: [String] = []
        for (mode, type) in [(UInt32(0o666), UInt32(S_IFREG)), (0o777, UInt32(S_IFDIR))] {
            let (acl, m) = Policy.aclCreate(d, mode: mode)
            let st = FileStat(mode: type | m, uid: UInt32.max - 2, gid: gid)
            let isDir = type == UInt32(S_IFDIR)
            for r in curated.readers where r != gid {
                let who = Credentials(uid: UInt32.max - 1, gids: [r])
                let what = isDir ? "directories" : "files"
                if !Access.permissionCheck(who, stat: st, acl: acl, want: isDir ? .rx : .read).allowed {
                    cannot.append("readers \(Names.shared.group(r)) could not read new \(what) made here (default \(d))")
                }
                if Access.permissionCheck(who, stat: st, acl: acl, want: isDir ? [.write, .execute] : .write).allowed {
                    can.append("readers \(Names.shared.group(r)) could write new \(what) made here (default \(d))")
                }
            }
        }
        return (cannot, can)
    }

    static func viaWords(_ via: Access.Via, _ st: FileStat, _ acl: PosixACL?) -> String {
        let extended = acl?.isExtended ?? false
        switch via {
        case .owner: return "owner bits"
        case .namedUser: return "a named-user entry"
        case .groups(let tags):
            return tags.map { tag -> String in
                switch tag {
                case .groupObj: return "group::\(extended ? (acl?[.groupObj] ?? []) : ACLPerms(rawValue: st.mode >> 3))"
                case .group(let g): return "group:\(Names.shared.group(g)):\(acl?[.group(g)] ?? [])"
                default: return ""
                }
            }.joined(separator: ", ") + (extended ? ", mask \(acl?[.mask] ?? [])" : "")
        case .other: return "other::\(ACLPerms(rawValue: st.mode))"
        case .capability: return "capability"
        }
    }

    /// An entry still carrying a named entry of a revoked group (access or default ACL): repair
    /// removes it, a change no finding names (like init's `group:G:`).
    public func hasRevoked(_ e: Entry) -> Bool {
        guard aclSupported, !curated.revoked.isEmpty else { return false }
        return curated.revoked.contains { e.access?[.group($0)] != nil || e.defaultACL?[.group($0)] != nil }
    }

    /// Repair's access ACL for the curated rules (after the sharing rules made theirs).
    func curateAccessACL(_ acl: inout PosixACL, _ e: Entry, need: ACLPerms) {
        for r in curated.revoked where r != e.restrictedTo && !curated.readers.contains(r) { acl[.group(r)] = nil }
        if isRestricted(e), let l = e.restrictedTo {
            acl[.groupObj] = []
            acl[.group(gid)] = nil
            for r in curated.readers where r != l { acl[.group(r)] = nil }
            acl[.group(l)] = (acl[.group(l)] ?? []).union(need)
            for entry in acl.entries {
                if case .user(let uid) = entry.tag, uid != e.stat.uid, !(groups?.isMember(uid, of: l) ?? false) { acl[.user(uid)] = [] }
            }
            acl[.mask] = (acl[.mask] ?? []).union(need)
            acl[.other] = []
            return
        }
        let dir = e.stat.type == .directory
        var st = e.stat
        st.gid = gid
        for r in curated.readers where r != gid {
            let who = Credentials(uid: UInt32.max - 1, gids: [r])
            let reads = Access.permissionCheck(who, stat: st, acl: e.access, want: dir ? .rx : .read).allowed
            let writes = Access.permissionCheck(who, stat: st, acl: e.access, want: dir ? [.write, .execute] : .write).allowed
            if !reads || writes || acl[.group(r)] != nil { acl[.group(r)] = dir ? .rx : .read }
        }
        if acl.isExtended, acl[.mask] == nil { acl[.mask] = .rwx }
    }

    /// Repair's default ACL for the curated rules.
    func curateDefaultACL(_ acl: inout PosixACL, _ e: Entry) {
        for r in curated.revoked where r != e.restrictedTo && !curated.readers.contains(r) { acl[.group(r)] = nil }
        if isRestricted(e), let l = e.restrictedTo {
            acl[.groupObj] = []
            acl[.group(gid)] = nil
            for r in curated.readers where r != l { acl[.group(r)] = nil }
            acl[.group(l)] = .rwx
            for entry in acl.entries {
                if case .user(let uid) = entry.tag, !(groups?.isMember(uid, of: l) ?? false) { acl[.user(uid)] = [] }
            }
            acl[.other] = []
            return
        }
        for r in curated.readers where r != gid { acl[.group(r)] = .rx }
    }
}
