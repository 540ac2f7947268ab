import CHFShare
import Foundation
import Glibc

public struct InitOptions: Sendable {
    public var root: String
    public var group: String
    public var createGroup: Bool = false
    public var gid: UInt32?
    public var other: OtherAccess = .readExecute
    public var rootIsMember: Bool = false
    public var writeProfile: Bool = true
    public var dryRun: Bool = false
    /// Install and enable the nightly `hfshare repair` (systemd timer, else cron.d).
    public var enableTimer: Bool = false
    /// Accept a home directory as ROOT, a system group, or a group other than the recorded one.
    public var force: Bool = false
    /// Reader groups to add (issue #17): read-only use, recorded in ROOT/.hfshare/curated.json.
    public var readers: [String] = []

    public init(root: String, group: String) { self.root = root; self.group = group }
}

/// What `init` did (or, with --dry-run, would do).
public struct InitReport: Sendable {
    public var root: String
    public var group: GroupRecord?
    public var plan: [String] = []
    public var aclSupported = true
    /// What the filesystem did when init tried it (this run, or recorded by the first run).
    public var probe: ProbeResult?
    public var scan: ScanSummary?
    /// What init changed (or would), and what it could not or must not fix: counts per kind plus the
    /// first paths of each, so adopting a tree of millions of entries keeps memory flat.
    public var changed = EventDigest(limit: 10)
    public var unfixed = EventDigest(limit: 20)
    /// Something left that repair could fix, or a change that failed: init exits 1.
    public var needsAttention = false
    public var profile: String = ""

    /// Changes made to the tree and the files init owns; 0 on a second run.
    public var changes: Int { plan.count + (scan.map { $0.count(.fixed) + $0.extraChanges } ?? 0) }
    /// What the filesystem means for the cache, in sentences for the admin.
    public var notes: [String] {
        if let probe { return probe.notes }
        return aclSupported ? [] : ["\(root) has no POSIX ACLs (read-only guess for --dry-run); policy is setgid + group mode bits, and the profile sets umask 002 for members"]
    }
}

/// `hfshare init`: creates or adopts ROOT and brings it to the policy with the same engine repair uses.
public enum Initializer {
    public static let skeleton = ["hub", "datasets", "xet", "assets"]

    public static func run(_ o: InitOptions, sink: EventSink? = nil) throws -> InitReport {
        let given = try Validate.root(o.root, force: o.force)
        guard Validate.isPortableName(o.group) || (o.group.allSatisfy(\.isNumber) && !o.createGroup) else {
            throw UsageError("group name \(Escape.text(o.group)): use letters, digits, '.', '_' and '-' only (POSIX portable names), not starting with '-'")
        }
        if !o.dryRun && !Posix.isRoot() {
            throw UsageError("init must run as root (it changes groups, modes and ACLs and writes \(Paths.sysconfDirectory)); try: sudo hfshare init \(o.root) --group \(o.group)")
        }
        let (rootPath, exists) = try Paths.resolveTrusted(given)
        _ = try Validate.root(rootPath, force: o.force)
        var report = InitReport(root: rootPath)

        // The group.
        var group = NSS.resolveGroup(o.group)
        if let g = group, let want = o.gid, g.gid != want {
            throw UsageError("group \(o.group) exists with gid \(g.gid), not \(want); drop --gid or pick another name")
        }
        if group == nil {
            guard o.createGroup else {
                throw UsageError("group '\(o.group)' does not exist; create it first (groupadd \(o.group)) or pass --create-group")
            }
            report.plan.append("create group \(o.group)" + (o.gid.map { " with gid \($0)" } ?? ""))
            if !o.dryRun {
                var args = ["/usr/sbin/groupadd"]
                if let gid = o.gid { args += ["-g", String(gid)] }
                args.append(o.group)
                try Command.run(args)
                group = NSS.group(named: o.group)
                guard group != nil else { throw UsageError("groupadd \(o.group) succeeded but NSS does not see the group") }
            }
        }
        report.group = group
        if let group { try Validate.sharingGroup(group, force: o.force) }
        let gid = group?.gid ?? o.gid ?? 0
        // A re-run must not quietly move a cache to another group: root's record says which one it is.
        if let recorded = Registry.entry(for: rootPath), let rg = recorded.group, rg != (group?.name ?? o.group), !o.force {
            throw UsageError("\(Escape.text(rootPath)) is registered for group \(rg) (\(Registry.file)); refusing to switch it to \(Escape.text(o.group)). Pass --force to move the cache to the new group")
        }

        // Reader groups: checked before anything changes.
        let readerGroups = try o.readers.map { try Restrictions.group($0, shared: Policy(gid: gid, groupName: o.group), what: "reader") }

        // ROOT itself.
        var st = stat()
        if exists {
            guard lstat(rootPath, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                throw UsageError("\(rootPath): exists and is not a directory; pass a directory (or remove the file)")
            }
        } else {
            report.plan.append("create \(rootPath)")
        }
        let probeTarget = exists ? rootPath : nearestExisting(rootPath)
        if o.dryRun {
            report.probe = exists ? ProbeRecord.load(root: rootPath) : nil
            report.aclSupported = (try? RootConfig.load(root: rootPath))??.acl ?? FilesystemProbe.answersACLReads(probeTarget)
            for sub in skeleton where !exists || !FileManager.default.fileExists(atPath: rootPath + "/" + sub) {
                report.plan.append("create \(rootPath)/\(sub)")
            }
        } else {
            var policy = Policy(gid: gid, groupName: o.group, other: o.other)
            if !exists {
                let parent = (rootPath as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
                let parentFD = try Paths.openVerifiedDirectory(parent)
                try parentFD.mkdir((rootPath as NSString).lastPathComponent, mode: 0o700)
            }
            let rootFD = try Paths.openVerifiedDirectory(rootPath)
            let stateMode: UInt32 = o.other == .none ? 0o2750 : 0o2755
            let stateDir: StateDir
            if let existing = try StateDir.openIfPresent(root: rootPath, rootFD: rootFD) {
                stateDir = existing
            } else {
                stateDir = try StateDir.open(root: rootPath, rootFD: rootFD, create: true, mode: 0o700)
                // ROOT's default ACL would make it group-writable: the state dir has mode bits only.
                stateDir.fd.removeXattr("system.posix_acl_default")
                stateDir.fd.removeXattr("system.posix_acl_access")
                try stateDir.fd.chmod(0o700)
                report.plan.append("create \(rootPath)/\(Paths.stateDirectory)")
            }
            let state = stateDir.fd
            // Probed once, by trying; a re-run trusts the record so that it changes nothing (not even
            // the mtime of .hfshare).
            if let recorded = try RootConfig.load(root: rootPath, state: stateDir) {
                report.aclSupported = recorded.acl
                report.probe = ProbeRecord.load(root: rootPath, state: stateDir)
            } else {
                var probe = try FilesystemProbe.run(in: state, options: ProbeOptions(gid: gid))
                probe.path = rootPath
                report.probe = probe
                report.aclSupported = probe.aclPolicyWorks
            }
            policy.aclSupported = report.aclSupported
            // New dirs get the readers' entries at once (recorded ones and --readers), not from the walk.
            let recordedReaders = (try? CuratedFile.load(root: rootPath, state: stateDir).readers.map(\.gid)) ?? []
            policy.curated.readers = report.aclSupported ? Array(Set(recordedReaders + readerGroups.map(\.gid))).sorted() : []
            // Readable by members (the config), writable by root only.
            if try state.stat().gid != gid { try state.chown(gid: gid) }
            if try state.stat().permissions != stateMode { try state.chmod(stateMode) }
            if !exists { try makePolicyDirectory(rootFD, policy) }
            for sub in skeleton where (try? rootFD.stat(sub)) == nil {
                try rootFD.mkdir(sub, mode: 0o700)
                try makePolicyDirectory(try rootFD.openDirectory(sub), policy)
                report.plan.append("create \(rootPath)/\(sub)")
            }
        }

        var policy = Policy(gid: gid, groupName: o.group, other: o.other, aclSupported: report.aclSupported)
        let config = RootConfig(group: group?.name ?? o.group, gid: gid, other: o.other, acl: report.aclSupported, rootIsMember: o.rootIsMember)
        if !readerGroups.isEmpty && !report.aclSupported {
            throw UsageError("\(rootPath): the filesystem has no POSIX ACLs; reader groups need them (--readers not recorded)")
        }
        // Readers and restricted repos (curated.json): recorded first, so the walk below applies them.
        var curated = CuratedFile()
        if let state = try? StateDir.openIfPresent(root: rootPath) { curated = try CuratedFile.load(root: rootPath, state: state) }
        if !readerGroups.isEmpty {
            let add = { (file: inout CuratedFile) in for g in readerGroups { _ = file.addReader(ReaderGroup(group: g.name, gid: g.gid)) } }
            let before = curated
            if o.dryRun { add(&curated) } else {
                curated = try CuratedFile.update(root: rootPath, add)
                try StateAccess.share(root: rootPath, readers: curated.readers.map(\.gid), revoked: [])
            }
            if curated != before { report.plan.append("record reader group(s) \(readerGroups.map(\.name).joined(separator: ", ")) in \(rootPath)/\(Paths.stateDirectory)/\(CuratedFile.name)") }
        }
        policy.curated = report.aclSupported ? curated.rules : CuratedRules()
        if exists { policy.curated.store = StoreUse.restricted(root: rootPath, rules: policy.curated) }
        report.profile = Profile.render(root: rootPath, group: config.group, acl: report.aclSupported, readers: curated.readers.map(\.group))

        // The tree: the same engine and rules as repair (never breaks a hard link to outside: reports it).
        if exists || !o.dryRun {
            var scanOptions = ScanOptions(root: rootPath, policy: policy, rootIsMember: o.rootIsMember)
            for repo in curated.premadeRepos { scanOptions.skeleton.formUnion(Restrictions.premade(repo)) }
            scanOptions.fix = FixMode(dryRun: o.dryRun, breakOutsideLinks: false, addNamedGroupToDirectories: true)
            let changed = report.changed, unfixed = report.unfixed
            var needsAttention = false
            let scanner = Scanner(scanOptions) { e in
                switch e.outcome {
                case .fixed, .wouldFix: changed.add(e)
                case .left, .failed:
                    unfixed.add(e)
                    if e.outcome == .failed || e.finding.fixable { needsAttention = true }
                case .found: break
                }
                sink?(e)
            }
            report.scan = try scanner.run()
            report.needsAttention = needsAttention
        }

        // The files init owns.
        let configPath = RootConfig.path(rootPath)
        if o.dryRun {
            if (try? StateDir.openIfPresent(root: rootPath)?.read("config.json")) ?? nil != config.encoded() { report.plan.append("write \(configPath)") }
            if Registry.entry(for: rootPath) != Registry.Entry(root: rootPath, group: config.group, gid: gid) { report.plan.append("register \(rootPath) in \(Registry.file)") }
            if o.writeProfile && FileManager.default.contents(atPath: Paths.profilePath) != Data(report.profile.utf8) {
                report.plan.append("write \(Paths.profilePath)")
            }
        } else {
            let state = try StateDir.open(root: rootPath)
            if try state.write("config.json", config.encoded(), mode: o.other == .none ? 0o640 : 0o644, gid: gid) { report.plan.append("write \(configPath)") }
            if let probe = report.probe,
               try state.write("probe.json", probe.encoded(), mode: o.other == .none ? 0o640 : 0o644, gid: gid) {
                report.plan.append("record the filesystem probe in \(ProbeRecord.path(rootPath))")
            }
            if try Registry.register(rootPath, group: config.group, gid: gid) { report.plan.append("register \(rootPath) in \(Registry.file)") }
            if o.writeProfile {
                let dir = (Paths.profilePath as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                if try Files.writeAtomically(Paths.profilePath, Data(report.profile.utf8), mode: 0o644) {
                    report.plan.append("write \(Paths.profilePath)")
                }
            }
        }
        if o.enableTimer { report.plan += try RepairTimer.enable(dryRun: o.dryRun) }
        return report
    }

    /// A directory init (or migrate) has just made, 0700 and root's, gets the whole policy before anyone
    /// can enter it: judged like any entry and changed by the same judge and actor as repair (group,
    /// mode, access ACL with init's `group:G:`, default ACL, readers' entries).
    static func makePolicyDirectory(_ dir: FD, _ policy: Policy) throws {
        // What a new directory starts as is init's decision (2775, or 2770 with --other none); the judge
        // only ever adds what sharing needs and never loosens, so it does not open `o::` by itself.
        try dir.chmod(policy.newDirectoryMode)
        let st = try dir.stat()
        let entry = Policy.Entry(name: (dir.path as NSString).lastPathComponent, stat: st,
                                 access: policy.aclSupported ? try ACLStore.read(dir, .access) : nil,
                                 defaultACL: policy.aclSupported ? try ACLStore.read(dir, .default) : nil)
        let judge = Judge(policy: policy, root: dir.path, fix: FixMode(dryRun: false, breakOutsideLinks: false, addNamedGroupToDirectories: true))
        // No membership: the skeleton is root's, and its owner is no finding.
        guard let plan = judge.judge(Facts(entry: entry, path: dir.path, membership: nil)).plan else { return }
        let actor = Actor(policy: policy, root: dir, addNamedGroup: true)
        for r in actor.carry(plan, entry, parentRel: "", in: dir, selfFD: dir, path: dir.path) where r.outcome == .failed {
            throw UsageError("\(Escape.text(dir.path)): cannot give the new directory the sharing policy: \(r.error ?? "unknown error")")
        }
    }

    static func nearestExisting(_ path: String) -> String {
        var p = path
        while !FileManager.default.fileExists(atPath: p) && p != "/" { p = (p as NSString).deletingLastPathComponent }
        return p
    }
}

/// The probe answers init acted on, kept in `ROOT/.hfshare/probe.json` so that a re-run can repeat its
/// notes without probing again (which would change .hfshare).
public enum ProbeRecord {
    public static func path(_ root: String) -> String { root + "/" + Paths.stateDirectory + "/probe.json" }

    public static func load(root: String, state: StateDir? = nil) -> ProbeResult? {
        guard let state = try? state ?? StateDir.openIfPresent(root: root),
              let data = try? state.read("probe.json", maxBytes: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(ProbeResult.self, from: data)
    }

    /// The walker count for ROOT's measured round trip (Walkers.choose, so that a rule changed since
    /// the probe applies), else the count recorded, if in range: the default of --threads.
    public static func walkers(root: String) -> Int? {
        guard let probe = load(root: root) else { return nil }
        if let t = probe.metadataRoundTrip, t.isFinite, t >= 0 { return Walkers.choose(roundTrip: t) }
        return probe.walkers.flatMap { (1...Walkers.maximum).contains($0) ? $0 : nil }
    }
}

/// `/etc/profile.d/hfshare.sh`: points the client at ROOT for members, tokens stay per user.
public enum Profile {
    public static func render(root: String, group: String, acl: Bool, readers: [String] = []) -> String {
        var lines = [
            "# Written by hfshare init; re-run it to change this file.",
            "# Shared Hugging Face cache \(Escape.text(root)) for members of group \(Escape.text(group)).",
            "# HF_HOME is deliberately not set to the cache: huggingface_hub chmods the token's directory",
            "# to 0700, which would lock every other user out. Tokens stay in each user's home.",
            "case \" $(id -Gn 2>/dev/null) \" in",
            "*\" \"\(Shell.quote(group))\" \"*)",
        ]
        lines += ClientEnvironment.shellLines(root: root, acl: acl).map { "    " + $0 }
        lines += ["    ;;"]
        if !readers.isEmpty {
            // Readers (issue #17): read the hub cache offline; what the client writes stays in their home.
            // A user in both groups is a writer (the first branch).
            lines.append(readers.map { "*\" \"\(Shell.quote($0))\" \"*" }.joined(separator: "|") + ")")
            lines += ClientEnvironment.shellLines(root: root, acl: acl, reader: true).map { "    " + $0 }
            lines += ["    ;;"]
        }
        lines += ["esac", ""]
        return lines.joined(separator: "\n")
    }
}

public enum Command {
    /// Runs a program (no shell) and throws with its stderr if it fails.
    public static func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(data: err.fileHandleForReading.readDataToEndOfFile(), encoding: .utf8) ?? ""
            throw UsageError("\(args.joined(separator: " ")) failed: \(msg.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
