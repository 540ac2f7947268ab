import ArgumentParser
import Foundation
import HFShareCore

enum DuGrouping: String, ExpressibleByArgument, CaseIterable {
    case repo, revision, user
}

enum DuFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, prometheus
}

struct Du: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du",
        abstract: "Show what a cache holds: per repo, per revision, per user, and the free space (read-only).",
        discussion: """
        Walks ROOT once (getdents64 and fstatat relative to directory descriptors, directories opened \
        O_NOFOLLOW|O_NOATIME, one thread per CPU over repos) and counts every inode once: blobs shared \
        by several revisions, hard links, and the client's shared blob store (hub/blobs/XX/HASH, linked \
        from each repo's blobs/) are counted once. Blobs are never opened, so reading them for du never \
        changes their access time.

        Per repo: its blob bytes (what 'hf cache ls' shows), revisions, blobs no snapshot uses, last \
        use. Per revision (--by revision): the refs pointing to it ('detached' if none), its bytes, the \
        bytes only it holds (freed if it were pruned alone) and those it shares with other revisions. \
        Per user (--by user): allocated bytes of the inodes each uid owns (who downloaded what). Also \
        the datasets/, xet/, assets/ areas and the filesystem's size and free space (statvfs).

        LAST USE comes from blob access times where the mount keeps them (relatime, the default, or \
        strictatime: /proc/self/mountinfo). Under noatime nothing records reads: du says so, uses the \
        newest snapshot-link or blob mtime (the download) and marks those revisions 'last use unknown'.

        Root is not required: du reads what it can and lists what it could not (the totals are then a \
        lower bound). --format prometheus prints metrics for node_exporter's textfile collector, \
        including the bytes 'hfshare prune --unused-for AGE' would free (--unused-for, default 30d).

        EXIT STATUS: 0 everything was read; 1 some paths could not be read (listed); 2 usage error or \
        ROOT unreadable.

        EXAMPLES:
          hfshare du
          hfshare du /shared/huggingface_cache --by revision
          hfshare du --by user --json | jq '.owners'
          hfshare du --format prometheus --textfile /var/lib/node_exporter/hfshare_du.prom
        """
    )

    @Argument(help: "The cache root (HF_HOME-style, or a hub cache itself). Default: the one registered root.", completion: .directory)
    var root: String?

    @Option(name: .long, help: "Rows: repo (default), revision or user.")
    var by: DuGrouping = .repo

    @Option(name: .long, help: "Output format: text, json or prometheus.")
    var format: DuFormat = .text

    @Flag(name: .long, help: "Same as --format json.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Age for the prunable-bytes metric and the 'prunable' mark: 30d, 2w, 36h.", valueName: "duration"))
    var unusedFor: String = "30d"

    @Option(name: .long, help: ArgumentHelp("With --format prometheus: write the metrics to this file atomically.", valueName: "path"),
            completion: .file())
    var textfile: String?

    @Option(name: .long, help: ArgumentHelp("Repos walked at once. Default: what 'hfshare probe' measured for ROOT's filesystem (ROOT/.hfshare/probe.json), else 8, or one per CPU if more.", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if Validate.duration(unusedFor) == nil { throw ValidationError("--unused-for \(unusedFor): not a duration; use e.g. 30d, 2w, 36h") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads \(threads): use 1 to 256") }
        if textfile != nil && effectiveFormat != .prometheus { throw ValidationError("--textfile needs --format prometheus") }
    }

    var effectiveFormat: DuFormat { json ? .json : format }

    func run() throws {
        let rootPath = try SharedCache.resolvePath(root)
        var o = UsageOptions(root: rootPath)
        o.threads = threads ?? ProbeRecord.walkers(root: rootPath) ?? o.threads
        let age = Validate.duration(unusedFor)!
        let pins = (try? PinFile.load(root: rootPath)) ?? PinFile()
        o.prunableAge = age
        o.pins = pins
        // JSON and the per-repo table take each repo as it is walked, so memory stays flat at any repo count.
        let spool = effectiveFormat == .json ? RepoSpool() : nil
        let rows = effectiveFormat == .text && by == .repo ? RepoRows() : nil
        if let spool { o.onRepo = { spool.add($0) } } else if let rows { o.onRepo = { rows.add($0) } }
        let (report, _) = try UsageScanner.run(o)
        let prunable = report.prunable ?? 0
        switch effectiveFormat {
        case .json:
            // In pieces of about 64 KiB: never a second copy of the whole report in memory.
            var chunk = ""
            let emit = { (piece: String) in
                chunk += piece
                if chunk.utf8.count >= 1 << 16 { Output.out(chunk); chunk = "" }
            }
            var spooled = true
            if let spool { report.writeJSON(emit) { spooled = spool.replay($0) } } else { report.writeJSON(emit) }
            Output.out(chunk)
            guard spooled else { throw UsageError("du --json: the temporary file holding the repos failed (is /tmp full?); the output above is incomplete") }
        case .prometheus:
            let text = report.prometheus(unusedFor: unusedFor)
            if let textfile {
                try Files.writeAtomically(Paths.absolute(textfile), Data(text.utf8), mode: 0o644)
            } else {
                Output.out(text)
            }
        case .text:
            Output.out(DuText.render(report, rows: rows?.rows ?? report.repos.map(RepoRow.init), by: by, pins: pins, prunable: prunable,
                                     unusedFor: unusedFor, age: age, now: o.now))
        }
        if !report.unreadable.isEmpty { throw OutcomeStatus.findings }
    }
}

enum DuText {
    static func when(_ t: Double, known: Bool, now: Double) -> String {
        guard t > 0 else { return "never" }
        let days = (now - t) / 86400
        let ago = days >= 1 ? "\(Int(days))d ago" : (now - t >= 3600 ? "\(Int((now - t) / 3600))h ago" : "\(max(0, Int((now - t) / 60)))m ago")
        return known ? ago : "unknown (downloaded \(ago))"
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

    static func render(_ r: UsageReport, rows: [RepoRow], by: DuGrouping, pins: PinFile, prunable: UInt64, unusedFor: String, age: Double, now: Double) -> String {
        var out = "\(Escape.text(r.root)): \(Format.bytes(r.allocated)) allocated (\(Format.bytes(r.size)) in files, each inode once), \(r.entries) entries, \(String(format: "%.2f", r.duration)) s\n"
        if let fs = r.filesystem {
            let pct = fs.size > 0 ? Double(fs.available) * 100 / Double(fs.size) : 0
            out += "filesystem: \(Format.bytes(fs.size)), \(Format.bytes(fs.available)) available (\(String(format: "%.1f", pct))%)\n"
        }
        out += "last use: \(r.lastUseSource.note)\n"
        out += "areas: " + r.areas.map { "\($0.area) \(Format.bytes($0.allocated))" }.joined(separator: ", ") + "\n"
        out += "prunable: \(Format.bytes(prunable)) in revisions unused for \(unusedFor) (not pinned; prune also keeps what is in use)\n\n"
        switch by {
        case .repo:
            let w = max(4, rows.map { Escape.text($0.name).count }.max() ?? 4)
            out += pad("REPO", w) + "  " + lpad("SIZE", 10) + "  REVS  " + lpad("UNUSED BLOBS", 12) + "  LAST USE\n"
            for repo in rows.sorted(by: { $0.size > $1.size || ($0.size == $1.size && $0.name < $1.name) }) {
                let pinned = pins.pins.contains { $0.repo == repo.name && $0.revision == nil } ? "  [pinned]" : ""
                out += pad(Escape.text(repo.name), w) + "  " + lpad(Format.bytes(repo.size), 10) + "  " + lpad("\(repo.revisions)", 4) + "  "
                    + lpad(Format.bytes(repo.unreferenced), 12) + "  " + when(repo.lastUse, known: repo.lastUseKnown, now: now) + pinned + "\n"
            }
        case .revision:
            out += pad("REPO", 40) + "  " + pad("REVISION", 12) + "  " + lpad("SIZE", 10) + "  " + lpad("ONLY HERE", 10) + "  " + lpad("SHARED", 10) + "  REFS / LAST USE\n"
            for repo in r.repos {
                for rev in repo.revisions.sorted(by: { $0.lastUse < $1.lastUse }) {
                    var marks: [String] = []
                    if pins.keeps(repo: repo.name, commit: rev.commit, refs: rev.refs) != nil { marks.append("pinned") }
                    if rev.lastUse <= now - age && !marks.contains("pinned") { marks.append("prunable") }
                    out += pad(Escape.text(repo.name), 40) + "  " + pad(String(Escape.text(rev.commit).prefix(12)), 12) + "  " + lpad(Format.bytes(rev.size), 10)
                        + "  " + lpad(Format.bytes(rev.exclusive), 10) + "  " + lpad(Format.bytes(rev.shared), 10) + "  "
                        + (rev.refs.isEmpty ? "(detached)" : rev.refs.map { Escape.text($0) }.joined(separator: ",")) + " / "
                        + when(rev.lastUse, known: rev.lastUseKnown, now: now) + (marks.isEmpty ? "" : "  [" + marks.joined(separator: ", ") + "]") + "\n"
                }
            }
        case .user:
            out += pad("USER", 16) + "  " + lpad("ALLOCATED", 10) + "  " + lpad("ENTRIES", 8) + "\n"
            for o in r.owners {
                out += pad(Escape.text(o.user), 16) + "  " + lpad(Format.bytes(o.allocated), 10) + "  " + lpad("\(o.files)", 8) + "\n"
            }
        }
        if !r.unreadable.isEmpty {
            out += "\ncould not read \(r.unreadable.count) path(s) (numbers are a lower bound; run as root to see all):\n"
            for p in r.unreadable.prefix(10) { out += "  \(Escape.text(p))\n" }
            if r.unreadable.count > 10 { out += "  ... and \(r.unreadable.count - 10) more\n" }
        }
        return out
    }
}
