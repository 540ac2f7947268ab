import Foundation

/// Turns the ROOT arguments (or the registered roots) plus flags into scan options: the shared front
/// half of `audit` and `repair`.
public struct TargetOptions: Sendable {
    public var roots: [String]
    public var group: String?
    public var staleAge: Double
    public var rootIsMember: Bool
    public var excludes: [String]

    public init(roots: [String], group: String?, staleAge: Double, rootIsMember: Bool, excludes: [String]) {
        self.roots = roots; self.group = group; self.staleAge = staleAge; self.rootIsMember = rootIsMember; self.excludes = excludes
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
        let (root, exists) = try Paths.resolveTrusted(Paths.absolute(given))
        var isDir: ObjCBool = false
        guard exists, FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else {
            throw UsageError("\(given): no such directory; pass the cache root (the directory that holds hub/)")
        }
        guard isDir.boolValue else { throw UsageError("\(given): not a directory; pass the cache root") }
        let config = try RootConfig.load(root: root)
        guard let groupName = group ?? config?.group else {
            throw UsageError("\(root): no \(Paths.stateDirectory)/config.json (not made by hfshare init); pass --group NAME")
        }
        guard let g = NSS.resolveGroup(groupName) else {
            throw UsageError("group '\(groupName)' does not exist on this machine (NSS); check the name or create it")
        }
        let acl = config?.acl ?? ((try? ACLProbe.supportsACL(in: root, dryRun: true)) ?? true)
        let policy = Policy(gid: g.gid, groupName: g.name, other: config?.other ?? .readExecute, aclSupported: acl, staleAge: staleAge)
        var o = ScanOptions(root: root, policy: policy, rootIsMember: rootIsMember || (config?.rootIsMember ?? false))
        o.excludes = excludes
        return o
    }
}
