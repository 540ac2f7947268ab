import Foundation

/// One shared cache as a command knows it: resolved once per command (from the ROOT argument or
/// /etc/hfshare/roots, what init recorded, --group) and passed down to everything that works on it
/// (issue #13). Per-run choices (fix mode, excludes, threads) are not here: they are `ScanOptions`'.
public struct SharedCache: Sendable {
    /// The cache root: absolute, resolved by a trusted walk, checked to be a directory.
    public var root: String
    /// The shared group as NSS shows it (the name from --group or from init's record). From
    /// `resolve(_:group:)` (doctor, env, user, migrate) it is NSS's entry for the recorded gid.
    public var group: GroupRecord
    /// The rules for this cache: the recorded gid (which wins over this node's NSS), the group name,
    /// `other`, ACL support, the stale age and the curated rules (curated.json).
    public var policy: Policy
    /// root counts as a member (--root-is-member, or recorded by init).
    public var rootIsMember: Bool
    /// Entries init (and `restrict`) made as root, relative to ROOT ("" is ROOT itself): their owner
    /// is not a finding.
    public var skeleton: Set<String>
    /// How many directory walkers probe measured for this filesystem (ROOT/.hfshare/probe.json).
    public var walkers: Int?
    /// The config in ROOT/.hfshare disagrees with /etc/hfshare/roots: reported once for ROOT.
    public var recordMismatch: Finding?

    /// ROOT and the subdirectories init makes.
    public static let initLayout: Set<String> = Set([""] + Initializer.skeleton)

    public init(root: String, group: GroupRecord, policy: Policy, rootIsMember: Bool = false,
                skeleton: Set<String> = SharedCache.initLayout, walkers: Int? = nil, recordMismatch: Finding? = nil) {
        self.root = root; self.group = group; self.policy = policy; self.rootIsMember = rootIsMember
        self.skeleton = skeleton; self.walkers = walkers; self.recordMismatch = recordMismatch
    }

    /// A cache from values the caller already has (init, tests): the group as the policy names it.
    public init(root: String, policy: Policy, rootIsMember: Bool = false) {
        self.init(root: root, group: GroupRecord(name: policy.groupName, gid: policy.gid, members: []), policy: policy,
                  rootIsMember: rootIsMember)
    }

    /// One ROOT as audit and repair check it: the directory, then the group (--group, else the
    /// recorded one; a --group other than the recorded one only with `force`), the recorded gid and
    /// config, the curated rules and the probe's walker count.
    public static func resolve(root given: String, group: String? = nil, staleAge: Double = 2 * 86400,
                               rootIsMember: Bool = false, force: Bool = false) throws -> SharedCache {
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
        var result = SharedCache(root: root, group: g, policy: policy, rootIsMember: rootIsMember || (config?.rootIsMember ?? false))
        // The walker count probe measured for this filesystem (issue #18); --threads overrides it.
        result.walkers = ProbeRecord.walkers(root: root)
        // `restrict` makes an exact repo's dirs as root ahead of its first download: not owner findings.
        for repo in curated.premadeRepos { result.skeleton.formUnion(Restrictions.premade(repo)) }
        result.recordMismatch = cache.mismatch
        return result
    }

    /// The cache a member-facing command (doctor, env, user, migrate) works on: ROOT, or the one root
    /// registered in /etc/hfshare/roots; resolved as audit does, and its recorded gid must be visible
    /// through NSS (`group` is that entry).
    public static func resolve(_ given: String?, group: String? = nil) throws -> SharedCache {
        let root = try given ?? registeredRoot(
            none: "pass the cache root (e.g. /shared/huggingface_cache)", shown: { $0 })
        var cache = try resolve(root: root, group: group)
        guard let g = NSS.group(gid: cache.policy.gid) else {
            throw UsageError("group \(cache.policy.groupName) (gid \(cache.policy.gid)) is not visible through NSS")
        }
        cache.group = g
        return cache
    }

    /// Only the path, for the commands that also work on any cache, a private or bare one too, with no
    /// group (du, pin, prune, verify, readers/restrict): ROOT as given, or the one registered root,
    /// absolute, resolved by a trusted walk, and existing.
    public static func resolvePath(_ given: String?) throws -> String {
        let root = try given ?? registeredRoot(
            none: "pass the cache root (e.g. /shared/huggingface_cache or ~/.cache/huggingface/hub)", shown: { Escape.text($0) })
        try Validate.pathText(root)
        let (path, exists) = try Paths.resolveTrusted(Paths.absolute(root))
        guard exists else { throw UsageError("\(Escape.text(root)): no such directory; pass the cache root (the directory that holds hub/)") }
        return path
    }

    /// The one root in /etc/hfshare/roots; none or several is a usage error (`none` says what to pass).
    static func registeredRoot(none: String, shown: (String) -> String) throws -> String {
        let registered = Registry.roots()
        guard !registered.isEmpty else {
            throw UsageError("no ROOT given and none registered in \(Registry.file); \(none)")
        }
        guard registered.count == 1 else {
            throw UsageError("several roots are registered in \(Registry.file) (\(registered.map(shown).joined(separator: ", "))); pass the one you mean")
        }
        return registered[0]
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
