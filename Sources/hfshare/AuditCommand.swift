import ArgumentParser
import Foundation
import HFShareCore

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, prometheus
}

/// Flags `audit` and `repair` share.
struct ScanArguments: ParsableArguments {
    @Argument(help: "Cache roots. Default: every root registered by 'hfshare init' in /etc/hfshare/roots.",
              completion: .directory)
    var roots: [String] = []

    @Option(name: .long, help: ArgumentHelp("The shared group, for a ROOT that 'hfshare init' did not make (a bare hub cache).", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String?

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Age after which an unheld lock or an *.incomplete file is stale: 36h, 2d, 90m, 3600s.", valueName: "duration"))
    var staleAge: String = "2d"

    @Flag(name: .long, help: "Accept a ROOT inside a user's home, a system group (gid < 100), or a --group other than the one init recorded.")
    var force = false

    @Flag(name: .long, help: "Count uid 0 as a member of the group.")
    var rootIsMember = false

    @Option(name: .long, help: ArgumentHelp("Skip entries whose path relative to ROOT, or name, matches this glob (repeatable).", valueName: "pattern"))
    var exclude: [String] = []

    @Option(name: .long, help: ArgumentHelp("Directories walked at once. Default: what 'hfshare probe' measured for ROOT's filesystem (ROOT/.hfshare/probe.json: 8 on a local disk, or one per CPU if more; more where each call is a round trip), else as on a local disk.", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: "Output format: text, jsonl (one JSON object per finding on stdout) or prometheus.")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "List every path (text format), not only the first 10 of each kind.")
    var all = false

    @Flag(name: .shortAndLong, help: "No output at all when healthy (for cron).")
    var quiet = false

    func targets() throws -> [ScanOptions] {
        guard let age = Validate.duration(staleAge) else {
            throw UsageError("--stale-age \(Escape.text(staleAge)): not a duration; use a non-negative number with s, m, h, d or w (at most 100 years), e.g. 36h, 2d, 90m")
        }
        if let threads, !(1...256).contains(threads) { throw UsageError("--threads \(threads): use 1 to 256") }
        var targets = try TargetOptions(roots: roots, group: group, staleAge: age, rootIsMember: rootIsMember, excludes: exclude, force: force).resolve()
        if let threads { for i in targets.indices { targets[i].threads = threads } }
        return targets
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check shared cache roots against the policy (read-only).",
        discussion: """
        Walks each ROOT in parallel (getdents64 + statx relative to directory descriptors, no symlink \
        followed, O_NOATIME where permitted) and reports every violation of the policy, each with its \
        path, kind, whether 'hfshare repair' fixes it and the command that would. Changes nothing and \
        never creates a lock file. An unreadable directory is a finding ('unreadable') and the walk goes on.

        Kinds (docs/POLICY.md describes each): \(FindingKind.allCases.map(\.rawValue).joined(separator: " ")).

        Rights are decided as the kernel decides them, for every member an ACL can treat differently \
        (any member, the owner if a member, each named-user member), and default ACLs by what members' \
        new files would get. Names are shown escaped (\\n, \\xff); jsonl adds path_b64 with the exact \
        bytes when a path had to be escaped.

        EXIT STATUS: 0 healthy; 1 findings; 2 could not audit (bad arguments, unknown group, ROOT missing \
        or unreadable).

        EXAMPLES:
          hfshare audit --quiet                       # cron: mails only problems
          hfshare audit /shared/hf --format jsonl | jq .kind
          hfshare audit --format prometheus --textfile /var/lib/node_exporter/hfshare.prom
          hfshare audit ~/old_hub_cache --group hf-users
        """
    )

    @OptionGroup var scan: ScanArguments

    @Option(name: .long, help: ArgumentHelp("Write Prometheus metrics to this file (atomically, for node_exporter's textfile collector).", valueName: "path"),
            completion: .file())
    var textfile: String?

    @Flag(name: .long, help: "Repair what is fixable (the same as 'hfshare repair').")
    var fix = false

    @Flag(name: .long, help: "With --fix: print what would change and change nothing.")
    var dryRun = false

    func run() throws {
        if fix {
            try Repair.perform(scan: scan, dryRun: dryRun)
            return
        }
        if dryRun { throw ValidationError("--dry-run goes with --fix (audit itself never changes anything)") }
        let targets = try scan.targets()
        var summaries: [ScanSummary] = []
        var findings = 0
        for target in targets {
            let digest = EventDigest(limit: scan.all ? nil : 10)
            let start = Posix.now()
            let format = scan.format // read once: the property wrapper's getter is not free per event
            // Walkers call the sink at once: jsonl lines are formatted in parallel, the digest is locked.
            let lines = SharedOutput(), digestLock = NSLock()
            let scanner = Scanner(target, progress: format == .text && !scan.quiet ? Output.progress(start: start) : nil, concurrentSink: true) { e in
                switch format {
                case .jsonl: lines.line(Report.jsonLine(e, root: target.root) + "\n")
                case .text: digestLock.lock(); digest.add(e); digestLock.unlock()
                case .prometheus: break
                }
            }
            let summary: ScanSummary
            defer { lines.flush() } // before the next root's lines, also when this one throws
            do { summary = try scanner.run() } catch let e as SystemError {
                Output.clearProgress()
                throw UsageError("\(target.root): cannot audit: \(e.reason); run as root or a member of \(target.policy.groupName)")
            }
            Output.clearProgress()
            summaries.append(summary)
            findings += summary.findings
            if scan.format == .text && (summary.findings > 0 || !scan.quiet) {
                Output.out("\(target.root): \(summary.findings) finding(s) in \(summary.entries) entries (\(String(format: "%.2f", summary.duration))s)\n")
                Output.out(Report.text(digest))
            }
        }
        let metrics = Report.prometheus(summaries, success: true)
        if scan.format == .prometheus { Output.out(metrics) }
        if let textfile { try Files.writeAtomically(textfile, Data(metrics.utf8), mode: 0o644) }
        if findings > 0 { throw OutcomeStatus.findings }
    }
}

struct Repair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Restore the policy on shared cache roots, safely, as root.",
        discussion: """
        Runs the audit walk and fixes every fixable finding as it goes: group (fchown with uid -1), mode \
        bits (only adding what sharing needs; clearing o+w, sticky, setuid/setgid on files), ACL mask and \
        group entries, default ACLs; removes stale unheld locks and old *.incomplete files; gives a file \
        whose inode also has a name outside ROOT its own copy (temp name, fsync, rename over) before \
        fixing it. Every change goes through a descriptor opened O_NOFOLLOW relative to a verified parent \
        directory; it never chowns an owner and never loosens stricter bits. Report-only findings are \
        listed with the command an admin would run.

        EXIT STATUS: 0 every fixable finding fixed (report-only ones may remain, listed); 1 something \
        could not be fixed; 2 could not run.

        EXAMPLES:
          sudo hfshare repair --dry-run
          sudo hfshare repair /shared/huggingface_cache --format jsonl
        """
    )

    @OptionGroup var scan: ScanArguments

    @Flag(name: .long, help: "Print what would change and change nothing.")
    var dryRun = false

    func run() throws { try Repair.perform(scan: scan, dryRun: dryRun) }

    static func perform(scan: ScanArguments, dryRun: Bool) throws {
        if !dryRun && !Posix.isRoot() {
            throw UsageError("repair must run as root (it changes groups and ACLs of other users' files); try: sudo hfshare repair, or --dry-run")
        }
        var failed = 0
        var summaries: [ScanSummary] = []
        for var target in try scan.targets() {
            target.fix = FixMode(dryRun: dryRun, breakOutsideLinks: true, addNamedGroupToDirectories: false)
            // Changes are printed as they happen (one line each); what is left is summed up at the end.
            let left = EventDigest(limit: scan.all ? nil : 10)
            let failures = EventDigest(limit: scan.all ? nil : 10)
            let format = scan.format, quiet = scan.quiet
            let scanner = Scanner(target) { e in
                switch format {
                case .jsonl: Output.out(Report.jsonLine(e, root: target.root) + "\n")
                case .text:
                    if e.outcome == .left { left.add(e); return }
                    if e.outcome == .failed { failures.add(e) }
                    if !quiet || e.outcome == .failed {
                        Output.out("\(e.outcome.rawValue) \(e.finding.kind.rawValue) \(Escape.text(e.finding.path))\(e.error.map { ": \(Escape.text($0))" } ?? "")\n")
                    }
                case .prometheus: break
                }
            }
            let summary = try RepairLock.with(root: target.root, skip: dryRun) { try scanner.run() }
            failed += summary.count(.failed)
            summaries.append(summary)
            guard scan.format == .text else { continue }
            if summary.findings == 0 && scan.quiet { continue }
            let verb = dryRun ? "would fix" : "fixed"
            Output.out("\(target.root): \(verb) \(summary.count(dryRun ? .wouldFix : .fixed)), failed \(summary.count(.failed)), left \(summary.count(.left)) (report-only) in \(summary.entries) entries\n")
            if !left.isEmpty { Output.out(Report.text(left)) }
        }
        if scan.format == .prometheus { Output.out(Report.prometheusRepair(summaries, dryRun: dryRun)) }
        if failed > 0 { throw OutcomeStatus.findings }
    }
}
