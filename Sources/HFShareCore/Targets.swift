import Foundation

/// Turns the ROOT arguments (or the registered roots) plus flags into scan options: the shared front
/// half of `audit` and `repair`.
public struct TargetOptions: Sendable {
    public var roots: [String]
    public var group: String?
    public var staleAge: Double
    public var rootIsMember: Bool
    public var excludes: [String]
    /// Accept a home dir as ROOT, a system group, or a --group other than the recorded one.
    public var force: Bool

    public init(roots: [String], group: String?, staleAge: Double, rootIsMember: Bool, excludes: [String], force: Bool = false) {
        self.roots = roots; self.group = group; self.staleAge = staleAge; self.rootIsMember = rootIsMember; self.excludes = excludes
        self.force = force
    }

    public func resolve() throws -> [ScanOptions] {
        var roots = self.roots
        if roots.isEmpty {
            roots = Registry.roots()
            if roots.isEmpty {
                throw UsageError("no ROOT given and none registered in \(Registry.file); pass a ROOT or run: sudo hfshare init ROOT --group NAME")
            }
        }
        return try roots.map { try resolve(root: $0) }
    }

    func resolve(root given: String) throws -> ScanOptions {
        let (root, exists) = try Paths.resolveTrusted(try Validate.root(given, force: force))
        _ = try Validate.root(root, force: force)
        var isDir: ObjCBool = false
        guard exists, FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else {
            throw UsageError("\(Escape.text(given)): no such directory; pass the cache root (the directory that holds hub/)")
        }
        guard isDir.boolValue else { throw UsageError("\(Escape.text(given)): not a directory; pass the cache root") }
        let cache = try SharedCacheRecord.resolve(root: root)
        // Root's copy (/etc/hfshare/roots) wins over ROOT/.hfshare, which members could once replace.
        let recordedGroup = cache.registered?.group ?? cache.config?.group
        if let group, let recordedGroup, group != recordedGroup, NSS.resolveGroup(group)?.name != recordedGroup, !force {
            throw UsageError("\(Escape.text(root)) belongs to group \(recordedGroup) (recorded by init); refusing --group \(Escape.text(group)). Pass --force to check or move it against another group")
        }
        guard let groupName = group ?? recordedGroup else {
            throw UsageError("\(Escape.text(root)): no \(Paths.stateDirectory)/config.json (not made by hfshare init); pass --group NAME")
        }
        guard let g = NSS.resolveGroup(groupName) else {
            throw UsageError("group '\(Escape.text(groupName))' does not exist on this machine (NSS); check the name or create it")
        }
        try Validate.sharingGroup(g, force: force)
        let config = cache.config
        // init recorded what its probe found; a bare cache gets the read-only guess (audit creates nothing).
        let acl = config?.acl ?? FilesystemProbe.answersACLReads(root)
        // On a node where NSS gives the group another GID than init recorded (group-gid-mismatch, see
        // GroupGIDCheck) the tree's truth is the recorded GID: repair must not move a cluster's cache to
        // one node's local GID.
        let recordedGID = cache.registered?.gid ?? config?.gid
        let gid = (recordedGroup == g.name ? recordedGID : nil) ?? g.gid
        var policy = Policy(gid: gid, groupName: g.name, other: config?.other ?? .readExecute, aclSupported: acl, staleAge: staleAge)
        // issue #17: reader groups and restricted repos (root's curated.json); none for a bare cache.
        let curated = try CuratedFile.load(root: root)
        policy.curated = curated.rules
        policy.curated.store = StoreUse.restricted(root: root, rules: policy.curated)
        var o = ScanOptions(root: root, policy: policy, rootIsMember: rootIsMember || (config?.rootIsMember ?? false))
        // The walker count probe measured for this filesystem (issue #18); --threads overrides it.
        if let walkers = ProbeRecord.walkers(root: root) { o.threads = walkers }
        // `restrict` makes an exact repo's dirs as root ahead of its first download: not owner findings.
        for repo in curated.premadeRepos { o.skeleton.formUnion(Restrictions.premade(repo)) }
        o.excludes = excludes
        o.recordMismatch = cache.mismatch
        return o
    }
}

/// What is recorded about a root: root's own line in /etc/hfshare/roots and the config in the
/// verified state dir, and how they disagree (a finding, never an instruction).
public struct SharedCacheRecord: Sendable {
    public var registered: Registry.Entry?
    public var config: RootConfig?
    public var mismatch: Finding?

    public static func resolve(root: String) throws -> SharedCacheRecord {
        let registered = Registry.entry(for: root)
        let config = try RootConfig.load(root: root)
        var mismatch: Finding?
        if let r = registered, let rg = r.group, let c = config, rg != c.group || r.gid != c.gid {
            mismatch = Finding(kind: .stateMismatch, path: RootConfig.path(root),
                               detail: "it says \(Escape.text(c.group)) = gid \(c.gid); \(Registry.file) says \(rg) = gid \(r.gid ?? 0), which is used",
                               fix: "sudo hfshare init \(Shell.quote(root)) --group \(rg)   (rewrites the config from root's record)")
        }
        return SharedCacheRecord(registered: registered, config: config, mismatch: mismatch)
    }
}

/// `group-gid-mismatch`: on a cluster, `init` ran on one node and recorded the group's GID in
/// ROOT/.hfshare/config.json; a node whose NSS gives the same group name another GID sees every file's
/// group as foreign, and its members are not members on the shared filesystem. Report-only: the fix is
/// in NSS (or the recorded config), never in the tree.
public enum GroupGIDCheck {
    /// Pure: the finding for a recorded config and what NSS says here, or nil when they agree.
    public static func finding(root: String, config: RootConfig?, local: GroupRecord?) -> Finding? {
        guard let config else { return nil }
        let here = local.map { "gid \($0.gid)" } ?? "no such group"
        if let local, local.gid == config.gid { return nil }
        return Finding(kind: .groupGIDMismatch, path: root,
                       detail: "\(RootConfig.path(root)) records \(config.group) = gid \(config.gid); NSS on this node says \(here)",
                       fix: "give \(config.group) gid \(config.gid) on this node (groupmod -g \(config.gid) \(config.group), or fix LDAP/SSSD) so that every node agrees")
    }

    /// The events `audit` (and `repair`, which leaves it) adds for ROOT before its walk: at most one.
    public static func events(root: String, fix: Bool = false) -> [Event] {
        guard let config = try? RootConfig.load(root: root),
              let f = finding(root: root, config: config, local: NSS.group(named: config.group)) else { return [] }
        return [Event(finding: f, outcome: fix ? .left : .found, error: nil)]
    }
}
