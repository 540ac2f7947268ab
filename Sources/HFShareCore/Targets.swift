import Foundation

/// Turns the ROOT arguments (or the registered roots) plus flags into scan options, one `SharedCache`
/// each: the shared front half of `audit` and `repair`.
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
        return try roots.map {
            ScanOptions(try SharedCache.resolve(root: $0, group: group, staleAge: staleAge, rootIsMember: rootIsMember, force: force),
                        excludes: excludes)
        }
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
