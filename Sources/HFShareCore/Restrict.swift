import CHFShare
import Foundation
import Glibc

/// What `hfshare readers add/remove` and `hfshare restrict/unrestrict` do to a cache: change the root-owned
/// list (CuratedFile), make an exactly named restricted repo's dirs ahead of its first download, then
/// bring the tree to the new rules with repair's own engine (the same walk, judge and actor, under the
/// repair lock). Bad input (unknown group, the shared group itself, no ACLs) changes nothing.
public enum Restrictions {
    /// The dirs `restrict` makes for an exact repo: the repo dir and its `.locks` dir, under `hub/`.
    public static func premade(_ repoDir: String) -> Set<String> { ["hub/" + repoDir, "hub/.locks", "hub/.locks/" + repoDir] }

    /// The group for `--group` / a reader group: must exist, must not be G or a system group.
    public static func group(_ name: String, shared: Policy, what: String) throws -> GroupRecord {
        guard Validate.isPortableName(name) || name.allSatisfy(\.isNumber) else {
            throw UsageError("group name \(Escape.text(name)): use letters, digits, '.', '_' and '-' only")
        }
        guard let g = NSS.resolveGroup(name) else {
            throw UsageError("group '\(Escape.text(name))' does not exist (NSS); create it first (groupadd \(Escape.text(name))); nothing changed")
        }
        if g.gid == shared.gid {
            throw UsageError("\(g.name) is the cache's own group (writers); a \(what) group must be another group; nothing changed")
        }
        if g.gid < 100 { throw UsageError("\(g.name) is a system group (gid \(g.gid)); refusing to make it a \(what) group; nothing changed") }
        return g
    }

    /// The shared cache, with the ACL support the curated rules need.
    public static func target(root: String) throws -> ScanOptions {
        let target = ScanOptions(try SharedCache.resolve(root: root))
        guard target.policy.aclSupported else {
            throw UsageError("\(Escape.text(target.root)): the filesystem has no POSIX ACLs (recorded by init); reader groups and restricted repos need them; nothing changed")
        }
        guard (try StateDir.openIfPresent(root: target.root)) != nil else {
            throw UsageError("\(Escape.text(target.root)): not made by hfshare init (no \(Paths.stateDirectory)); run: sudo hfshare init \(Shell.quote(target.root)) --group NAME")
        }
        return target
    }

    /// Makes `hub/<repo>` and `hub/.locks/<repo>` (root-owned, group G, 2770, access and default ACL
    /// `u::rwx,g::---,g:L:rwx,m::rwx,o::---`) when missing, so the first download by a licensed member
    /// lands restricted. Through descriptors from ROOT, never following a symlink. Returns what it made.
    public static func premake(root: String, repoDir: String, licensed: UInt32, policy: Policy, dryRun: Bool) throws -> [String] {
        let rootFD = try Paths.openVerifiedDirectory(root)
        var made: [String] = []
        guard let hub = try? rootFD.openDirectory("hub") else { return [] }
        var restricted = PosixACL([ACLEntry(.userObj, .rwx), ACLEntry(.groupObj, []), ACLEntry(.group(licensed), .rwx),
                                   ACLEntry(.mask, .rwx), ACLEntry(.other, [])])
        func make(_ parent: FD, _ name: String, acl: PosixACL, mode: UInt32, rel: String) throws {
            if (try? parent.stat(name)) != nil { return }
            made.append(FD.join(root, rel))
            if dryRun { return }
            try parent.mkdir(name, mode: 0o700)
            let dir = try parent.openDirectory(name)
            let st = try dir.stat()
            guard st.uid == 0, st.type == .directory else { throw SystemError("mkdir", dir.path, EEXIST) }
            try dir.chown(gid: policy.gid)
            try ACLStore.write(acl, to: dir, .access)
            try ACLStore.write(acl, to: dir, .default)
            try dir.chmod(mode)
        }
        try make(hub, repoDir, acl: restricted, mode: 0o2770, rel: "hub/" + repoDir)
        // hub/.locks is the group's (the client makes it on the first download otherwise).
        if (try? hub.stat(".locks")) == nil {
            try make(hub, ".locks", acl: policy.defaultACL, mode: policy.newDirectoryMode, rel: "hub/.locks")
        }
        if dryRun && (try? hub.stat(".locks")) == nil {
            made.append(FD.join(root, "hub/.locks/" + repoDir))
            return made
        }
        let locks = try hub.openDirectory(".locks")
        restricted[.mask] = .rwx
        try make(locks, repoDir, acl: restricted, mode: 0o2770, rel: "hub/.locks/" + repoDir)
        return made
    }

    /// Brings ROOT to `file`'s rules: the repair walk with them (dry run: what it would change).
    public static func apply(_ target: ScanOptions, _ file: CuratedFile, revoked: [UInt32] = [], dryRun: Bool, sink: @escaping EventSink) throws -> ScanSummary {
        var target = target
        target.policy.curated = file.rules
        target.policy.curated.revoked = revoked
        target.policy.curated.store = StoreUse.restricted(root: target.root, rules: target.policy.curated)
        for repo in file.premadeRepos { target.skeleton.formUnion(premade(repo)) }
        target.fix = FixMode(dryRun: dryRun, breakOutsideLinks: true, addNamedGroupToDirectories: false)
        let scanner = Scanner(target, sink: sink)
        return try RepairLock.with(root: target.root, skip: dryRun) { try scanner.run() }
    }

    /// Repo dirs under `hub/` that a pattern matches now.
    public static func matching(root: String, pattern: String) -> [String] {
        guard let rootFD = try? Paths.openVerifiedDirectory(root), let hub = try? rootFD.openDirectory("hub"),
              let names = try? hub.entries(shortReadIsEOF: false) else { return [] }
        return names.filter { $0.type == .directory && fnmatch(pattern, $0.name, 0) == 0 }.map(\.name).sorted()
    }

    /// Members of L who are not members of G: they get a writer's rights inside the restricted repos
    /// (one `group:L:rwx` entry serves both), which a reader must not have. Said by `restrict`.
    public static func licensedNonWriters(_ l: GroupRecord, sharedGID: UInt32) -> [String] {
        NSS.members(of: l).filter { u in u.gid != sharedGID && !NSS.groups(of: u).contains(sharedGID) }.map(\.name)
    }

    /// For `namei --user`: a path inside a restricted repo, and the user is not in its group: one line.
    public static func explain(path: String, userName: String, gids: [UInt32]) -> String? {
        for root in Registry.roots() where path == root || path.hasPrefix(root + "/") {
            guard let file = try? CuratedFile.load(root: root), !file.restricted.isEmpty else { continue }
            let rel = String(path.dropFirst(root.count)).drop { $0 == "/" }
            var parts = rel.split(separator: "/").map(String.init)
            if parts.first == "hub" { parts.removeFirst() } else { continue }
            if parts.first == ".locks" { parts.removeFirst() }
            guard let repo = parts.first, let rule = file.rules.rule(repoDir: repo) else { continue }
            if gids.contains(rule.gid) { return nil }
            return "\(Escape.text(repo)) is restricted to group \(rule.group) (gated model, 'hfshare restrict --list') and \(userName) is not in it: once they accepted the licence, sudo gpasswd -a \(userName) \(rule.group)"
        }
        return nil
    }
}

/// One change of the curated list and its application, for the `readers` and `restrict` commands.
public struct CuratedChange: Sendable {
    public var root: String
    public var dryRun: Bool
    /// Run repair with the new rules afterwards (the default).
    public var repair: Bool = true

    public init(root: String, dryRun: Bool, repair: Bool = true) { self.root = root; self.dryRun = dryRun; self.repair = repair }

    public struct Outcome: Sendable {
        /// One line per step (recorded, made, profile), already worded for the dry run.
        public var steps: [String] = []
        public var file = CuratedFile()
        public var summary: ScanSummary?
    }

    /// Changes the list (`change` returns lines saying what it did), makes premade dirs, refreshes the
    /// profile, and repairs with `revoked` groups' entries removed.
    public func run(revoked: (CuratedFile, CuratedFile) -> [UInt32] = { _, _ in [] },
                    sink: @escaping EventSink, _ change: (inout CuratedFile, Policy) throws -> [String]) throws -> Outcome {
        let target = try Restrictions.target(root: root)
        var out = Outcome()
        let before = try CuratedFile.load(root: target.root)
        var lines: [String] = []
        out.file = try CuratedFile.update(root: target.root, dryRun: dryRun) { file in lines = try change(&file, target.policy) }
        out.steps += lines
        let would = dryRun ? "would " : ""
        for rule in out.file.restricted where rule.isExact {
            let made = try Restrictions.premake(root: target.root, repoDir: rule.pattern, licensed: rule.gid, policy: target.policy, dryRun: dryRun)
            if !made.isEmpty && !(out.file.premade ?? []).contains(rule.pattern) {
                out.file.premade = ((out.file.premade ?? []) + [rule.pattern]).sorted()
                if !dryRun { out.file = try CuratedFile.update(root: target.root) { $0.premade = out.file.premade } }
            }
            for path in made {
                out.steps.append(path.hasSuffix("/hub/.locks") ? "\(would)make \(Escape.text(path))"
                    : "\(would)make \(Escape.text(path)) (restricted to \(rule.group), so the first download lands restricted)")
            }
        }
        if out.file.readers != before.readers, Profile.refresh(root: target.root, policy: target.policy, readers: out.file.readers.map(\.group), dryRun: dryRun) {
            out.steps.append("\(would)rewrite \(Paths.profilePath) (readers' branch)")
        }
        if !dryRun { try StateAccess.share(root: target.root, readers: out.file.readers.map(\.gid), revoked: revoked(before, out.file)) }
        if !out.file.restricted.isEmpty {
            let shared = StoreUse.use(root: target.root, rules: out.file.rules).shared
            if !shared.isEmpty {
                out.steps.append("note: \(shared.count) blob(s) of the shared store \(Escape.text(target.root))/hub/blobs are used by a restricted repo and by an unrestricted one (or another licensed group's): the same bytes that repo serves, left readable by the group")
            }
        }
        if repair {
            out.summary = try Restrictions.apply(target, out.file, revoked: revoked(before, out.file), dryRun: dryRun, sink: sink)
        }
        return out
    }
}

extension Profile {
    /// Rewrites `/etc/profile.d/hfshare.sh` with the readers' branch when init wrote it for this ROOT.
    /// Returns whether it changed (or, dry run, would).
    public static func refresh(root: String, policy: Policy, readers: [String], dryRun: Bool) -> Bool {
        guard let data = FileManager.default.contents(atPath: Paths.profilePath),
              let text = String(data: data, encoding: .utf8), text.hasPrefix("# Written by hfshare init"),
              text.contains("# Shared Hugging Face cache \(Escape.text(root)) for members") else { return false }
        let new = render(root: root, group: policy.groupName, acl: policy.aclSupported, readers: readers)
        if new == text { return false }
        if dryRun { return true }
        return (try? Files.writeAtomically(Paths.profilePath, Data(new.utf8), mode: 0o644)) ?? false
    }
}

/// Which role `hfshare env` renders: a reader group's, or nil for a writer's.
public enum ReaderRole {
    public static func resolve(root: String, sharedGID: UInt32, asked: String?, uid: UInt32 = getuid()) throws -> ReaderGroup? {
        let readers = try CuratedFile.load(root: root).readers
        if let asked {
            guard let r = readers.first(where: { $0.group == asked || String($0.gid) == asked }) else {
                throw UsageError("\(Escape.text(asked)) is not a reader group of \(Escape.text(root)) (hfshare readers list)")
            }
            return r
        }
        guard !readers.isEmpty, let me = NSS.user(uid: uid) else { return nil }
        let gids = NSS.groups(of: me)
        if gids.contains(sharedGID) { return nil }
        return readers.first { gids.contains($0.gid) }
    }
}

/// Reader groups need the state dir's public files (config.json, curated.json: `hfshare env`,
/// `readers list`) on an `--other none` cache, whose state dir is 2750 for G. They get `group:R:r-x`
/// on the dir (a default entry too, so files rewritten later keep it) and `group:R:r--` on its
/// group-readable files: read only, so the dir stays unwritable by anybody but root (StateDir's trust).
public enum StateAccess {
    public static func share(root: String, readers: [UInt32], revoked: [UInt32]) throws {
        guard !readers.isEmpty || !revoked.isEmpty, let state = try StateDir.openIfPresent(root: root) else { return }
        func adjust(_ acl: inout PosixACL, _ perms: ACLPerms) {
            for r in revoked where !readers.contains(r) { acl[.group(r)] = nil }
            for r in readers { acl[.group(r)] = perms }
            if acl.isExtended { acl[.mask] = (acl[.groupObj] ?? []).union(perms).subtracting(.write) }
        }
        let st = try state.fd.stat()
        var access = try ACLStore.read(state.fd, .access) ?? PosixACL(mode: st.mode)
        let before = access
        adjust(&access, .rx)
        if access != before { try ACLStore.write(access, to: state.fd, .access) }
        var dflt = try ACLStore.read(state.fd, .default) ?? PosixACL(mode: st.mode)
        let beforeDefault = try ACLStore.read(state.fd, .default)
        adjust(&dflt, .rx)
        if dflt != beforeDefault {
            if dflt.isExtended { try ACLStore.write(dflt, to: state.fd, .default) } else { state.fd.removeXattr("system.posix_acl_default") }
        }
        for (name, type) in try state.fd.entries() where type == .regular {
            guard let f = try? state.fd.openat(name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC) else { continue }
            let fst = try f.stat()
            guard fst.type == .regular, fst.uid == 0, fst.nlink == 1 else { continue }
            var acl = try ACLStore.read(f, .access) ?? PosixACL(mode: fst.mode)
            let was = acl
            // Private files (locks, verify records) only lose entries (a default entry gave them one, masked to ---).
            if fst.permissions & 0o040 != 0 { adjust(&acl, .read) } else { for r in revoked { acl[.group(r)] = nil } }
            if acl != was { try ACLStore.write(acl, to: f, .access) }
        }
    }
}
