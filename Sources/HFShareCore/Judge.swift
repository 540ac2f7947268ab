import Foundation

/// What the walker found out about one entry: its stat and ACLs (in `entry`) plus the few answers that
/// needed the filesystem or NSS, asked by the walker so that the judge asks nothing.
public struct Facts: Sendable {
    public var entry: Policy.Entry
    /// Absolute path, for findings only.
    public var path: String
    /// The uid's membership of G; nil for entries `init` makes as root (the skeleton), whose owner is no finding.
    public var membership: MembershipCache.Membership?
    /// For a symlink: escapes or dangling (nil: fine, or not a symlink).
    public var symlink: FindingKind?
    /// For a stale-lock candidate: nobody holds it (a non-blocking flock succeeded).
    public var lockFree: Bool = false
    /// For an old `*.incomplete`: its download lock is held (a live slow download, not stale).
    public var downloadHeld: Bool = false
    /// The inode has a name outside ROOT (hard links, known after the walk).
    public var outsideLink: Bool = false

    public init(entry: Policy.Entry, path: String, membership: MembershipCache.Membership? = .member) {
        self.entry = entry; self.path = path; self.membership = membership
    }
}

/// What repair is to do to one entry, decided by the judge and carried out by the Actor.
public struct Plan: Sendable, Equatable {
    /// Delete the entry (lock-stale or incomplete-old), and nothing else.
    public var remove: FindingKind?
    /// Give the file its own inode first (file-hardlink-outside).
    public var breakLink = false
    /// Kinds that the attribute change fixes.
    public var attributeKinds: [FindingKind] = []
    /// init's `group:G:` on directories, with no finding behind it.
    public var namedGroupOnly = false
}

/// The judge: facts of one entry in, findings and the plan out. Pure (no system call; user names for
/// messages come from the cached NSS names), so it is tested against tables without a disk.
public struct Judge: Sendable {
    public let policy: Policy
    public let root: String
    public let fix: FixMode?

    public init(policy: Policy, root: String, fix: FixMode?) { self.policy = policy; self.root = root; self.fix = fix }

    public struct Verdict: Sendable {
        /// Every kind the entry breaks, sorted.
        public var kinds: [FindingKind] = []
        /// What to report now: audit's findings, repair's report-only kinds, a dry run's would-fix.
        public var reports: [(Finding, Outcome)] = []
        /// Dry run: changes no finding names (init's named group entry).
        public var extraChanges = 0
        /// Real fix: what the actor is to do.
        public var plan: Plan?
    }

    public func kinds(_ f: Facts) -> [FindingKind] {
        var kinds = policy.violations(f.entry)
        switch f.membership {
        case .unknownUID?: kinds.append(.ownerUnknownUID)
        case .notMember?: kinds.append(.ownerNotMember)
        default: break
        }
        if let s = f.symlink { kinds.append(s) }
        if policy.isStaleLockCandidate(f.entry) && f.lockFree { kinds.append(.lockStale) }
        if f.downloadHeld { kinds.removeAll { $0 == .incompleteOld } }
        if f.outsideLink { kinds.append(.fileHardlinkOutside) }
        return kinds.sorted()
    }

    public func judge(_ f: Facts) -> Verdict {
        var v = Verdict()
        let e = f.entry
        v.kinds = kinds(f)
        guard let fix else {
            v.reports = v.kinds.map { (finding($0, f), .found) }
            return v
        }
        let wantsNamedGroup = (fix.addNamedGroupToDirectories && e.stat.type == .directory
            && policy.wantedAccessACL(e, addNamedGroup: true) != nil) || policy.hasRevoked(e)
        if v.kinds.isEmpty && !wantsNamedGroup { return v }
        let attributeKinds = v.kinds.filter { $0.fixable && $0 != .lockStale && $0 != .incompleteOld && $0 != .fileHardlinkOutside }
        v.reports = v.kinds.filter { !$0.fixable }.map { (finding($0, f), .left) }
        if f.outsideLink && !fix.breakOutsideLinks {
            let note = "inode also has a name outside \(root); not changed"
            v.reports += v.kinds.filter(\.fixable).map { (finding($0, f, detail: note), .left) }
            return v
        }
        if fix.dryRun {
            v.reports += v.kinds.filter(\.fixable).map { (finding($0, f), .wouldFix) }
            if wantsNamedGroup && attributeKinds.isEmpty { v.extraChanges = 1 }
            return v
        }
        var plan = Plan()
        if v.kinds.contains(.lockStale) { plan.remove = .lockStale } else if v.kinds.contains(.incompleteOld) { plan.remove = .incompleteOld }
        plan.breakLink = f.outsideLink
        plan.attributeKinds = attributeKinds
        plan.namedGroupOnly = wantsNamedGroup && attributeKinds.isEmpty
        v.plan = plan
        return v
    }

    // MARK: findings

    public func finding(_ k: FindingKind, _ f: Facts, detail: String = "") -> Finding {
        Finding(kind: k, path: f.path, detail: detail.isEmpty ? Judge.detail(k, f.entry, policy) : detail, fix: fixCommand(k, path: f.path, f.entry))
    }

    static func detail(_ k: FindingKind, _ e: Policy.Entry, _ policy: Policy) -> String {
        let mode = String(e.stat.permissions, radix: 8)
        switch k {
        case .dirWrongGroup, .fileWrongGroup: return "group \(Names.shared.group(e.stat.gid)), want \(policy.groupName)"
        case .ownerUnknownUID: return "uid \(e.stat.uid)"
        case .ownerNotMember: return "owner \(Names.shared.user(e.stat.uid))"
        case .dirACLMask, .fileACLMask, .dirGroupPerms, .fileGroupPerms, .lockNotGroupWritable:
            return e.access.map { "acl \($0)" } ?? "mode \(mode)"
        case .dirNoDefaultACL, .dirDefaultACLBad: return e.defaultACL.map { "default \($0)" } ?? "no default acl"
        case .aclDeniesMember: return policy.memberDenials(e, need: e.stat.type == .directory ? .rwx : .rw).joined(separator: "; ")
        case .defaultACLDeniesMember: return policy.defaultDenials(e).joined(separator: "; ")
        case .readerCannotRead: return policy.readerProblems(e).cannotRead.joined(separator: "; ")
        case .readerCanWrite: return policy.readerProblems(e).canWrite.joined(separator: "; ")
        case .restrictedReadable: return policy.restrictedReaders(e).joined(separator: "; ")
        case .restrictedOwnerUnlicensed: return e.restrictedTo.flatMap { policy.restrictedOwnerProblem(e, licensed: $0) } ?? ""
        case .lockStale, .incompleteOld: return "modified \(Int((policy.now - e.stat.mtime) / 3600))h ago"
        default: return "mode \(mode)"
        }
    }

    func fixCommand(_ k: FindingKind, path: String, _ e: Policy.Entry) -> String {
        let q = Shell.quote(path)
        switch k {
        case .ownerNotMember:
            let name = Names.shared.user(e.stat.uid)
            return "usermod -aG \(policy.groupName) \(name)   (or give the file to a member: chown MEMBER \(q))"
        case .ownerUnknownUID: return "chown MEMBER \(q)   (uid \(e.stat.uid) has no account)"
        case .symlinkEscapes, .symlinkDangling: return "rm \(q)   (the client re-creates it on the next download)"
        case .tokenReadable: return "chmod 600 \(q)"
        case .restrictedOwnerUnlicensed:
            let l = e.restrictedTo.map { Names.shared.group($0) } ?? "LICENSED"
            return "chown -R MEMBER_OF_\(l) \(q)   (or remove the repo and let a member of \(l) download it again)"
        case .sharedCodeWritable: return "chmod -R go-w \(q)   (and keep HF_MODULES_CACHE per user: the profile snippet and 'hfshare env' set it)"
        case .specialFile: return "rm \(q)"
        default: return "hfshare repair \(Shell.quote(root))"
        }
    }
}
