import ArgumentParser
import Foundation
import HFShareCore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every blob's bytes against its name and say which repo@revision loads offline.",
        discussion: """
        Reads every blob of the hub cache once (offline: no network) and checks it against its name: \
        sha256 for 64-hex (LFS) blobs, the git blob id sha1("blob <size>\\0" + bytes) for 40-hex ones; \
        a file whose name promises no hash it can compute (a shared-store payload is checked through the \
        repo blob name that links to it) is 'unverified', never 'ok'. With HF_HUB_DISABLE_SYMLINKS \
        snapshots (regular files) the client's trees/<commit>.json says what each file must hold.

        Then, for every repo@revision: 'ok'; 'partial' (the snapshot has fewer files than its \
        trees/<commit>.json listing: a download with allow_patterns, normal, the rest comes online); \
        'unverified' (some bytes could not be checked, e.g. unreadable without root); or 'broken' with \
        the reason: a ref that is not a 40-hex commit id (a trailing newline), a ref to a commit whose \
        snapshot was never downloaded, a snapshot link whose blob is missing, a blob with other bytes \
        than its name says.

        Hashing runs on every core, one file per core at a time (sha256 cannot be split within a file), \
        largest files first, in 4 MiB reads with O_NOATIME where allowed; memory stays flat. On a \
        terminal, a progress bar (bytes/s, ETA) goes to stderr. As root it remembers what it verified \
        (dev, inode, size, mtime, ctime) in ROOT/.hfshare/verified.bin, so a nightly run hashes only new \
        or changed blobs; --full hashes everything again. Not as root it still verifies, and says the \
        cache is not saved.

        --fix (root): a blob whose bytes do not match its name is moved (never deleted) to the root-only \
        ROOT/.hfshare/quarantine/, and the affected repo@revisions are named: their snapshot link then \
        dangles, and the client downloads the file again on its next online load. Everything is opened \
        O_NOFOLLOW relative to verified directory descriptors; names may be any bytes.

        EXIT STATUS: 0 every revision ok, partial or unverified; 1 some revision is broken (still so after \
        --fix, until the client downloads it again); 2 could not verify (bad arguments, ROOT missing, no \
        such repo).

        EXAMPLES:
          hfshare verify /shared/huggingface_cache
          hfshare verify /shared/huggingface_cache meta-llama/Llama-3.2-1B@main --full
          sudo hfshare verify --fix --json | jq '.revisions[] | select(.status == "broken")'
        """
    )

    @Argument(help: ArgumentHelp("The cache root (default: the roots registered by 'hfshare init'), then repos to check: org/name, model/org/name, datasets/org/name or models--org--name, each optionally @REV (a ref name or a commit prefix).",
                                 valueName: "root-and-repos"),
              completion: .directory)
    var arguments: [String] = []

    @Flag(name: .long, help: "Hash every blob again, ignoring what earlier runs verified.")
    var full = false

    @Flag(name: .long, help: "Move blobs whose bytes do not match their name to ROOT/.hfshare/quarantine/ (root only).")
    var fix = false

    @Flag(name: .long, help: "Print the result as one JSON object.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Files hashed at once. Default: one per CPU.", valueName: "n"))
    var threads: Int?

    @Flag(name: .shortAndLong, help: "Print only revisions that are not ok.")
    var quiet = false

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads \(threads): use 1 to 256") }
        if fix && !Posix.isRoot() { throw UsageError("--fix must run as root (it moves blobs out of the shared cache); without --fix verify only reads") }
    }

    func run() throws {
        var args = arguments
        var roots: [String] = []
        if let first = args.first, first.hasPrefix("/") || first.hasPrefix(".") || first.hasPrefix("~") {
            roots = [first]
            args.removeFirst()
        } else {
            roots = Registry.roots()
            if roots.isEmpty { throw UsageError("no ROOT given and none registered in \(Registry.file); pass the cache root as the first argument") }
        }
        var reports: [VerifyReport] = []
        for given in roots {
            let root = try SharedCache.resolvePath(given)
            var options = VerifyOptions(root: root, selectors: args, full: full, fix: fix)
            if let threads { options.threads = threads }
            let start = Posix.now()
            let report = try Verify.run(options, progress: VerifyCommand.progressBar(start: start))
            Output.clearProgress()
            reports.append(report)
            if !json { Output.out(VerifyText.render(report, quiet: quiet)) }
        }
        if json {
            let object: Any = reports.count == 1 ? VerifyText.json(reports[0]) : ["roots": reports.map { VerifyText.json($0) }] as [String: Any]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            Output.out(String(decoding: data, as: UTF8.self) + "\n")
        }
        if reports.contains(where: \.broken) { throw OutcomeStatus.findings }
    }

    /// `[#####.....]  45%  1.2/2.0 GiB  850 MiB/s  ETA 1s` on stderr, only on a terminal.
    static func progressBar(start: Double) -> ((UInt64, UInt64) -> Void)? {
        guard Output.stderrIsTerminal, ProcessInfo.processInfo.environment["CI"] == nil else { return nil }
        return { done, total in
            let elapsed = max(0.001, Posix.now() - start)
            let rate = Double(done) / elapsed
            let frac = total == 0 ? 1 : Double(done) / Double(total)
            let width = 30
            let filled = Int(frac * Double(width))
            let eta = rate > 0 ? Double(total - min(done, total)) / rate : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let pct = String(Int(frac * 100)).leftPadded(3)
            Output.rawErr("\r\u{1B}[K[\(bar)] \(pct)%  \(VerifyText.bytes(done))/\(VerifyText.bytes(total))  \(VerifyText.bytes(UInt64(rate)))/s  ETA \(VerifyText.seconds(eta))")
        }
    }
}

enum VerifyText {
    static func render(_ r: VerifyReport, quiet: Bool) -> String {
        var out = ""
        let counts = Dictionary(grouping: r.revisions, by: \.status).mapValues(\.count)
        let summary = [RevisionStatus.ok, .partial, .unverified, .broken].map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
        let repos = Set(r.revisions.map(\.repo.dirName)).count
        out += "\(Escape.text(r.root)): \(r.revisions.count) revision(s) in \(repos) repo(s): \(summary); "
        out += "hashed \(r.blobsHashed) blob(s), \(bytes(r.bytesHashed)) in \(String(format: "%.2f", r.duration))s"
        if r.duration > 0 && r.bytesHashed > 0 { out += " (\(bytes(UInt64(Double(r.bytesHashed) / r.duration)))/s)" }
        out += ", \(r.blobsCached) unchanged since verified\n"
        for rev in r.revisions.sorted(by: { ($0.status > $1.status) || ($0.status == $1.status && $0.label < $1.label) }) {
            if quiet && rev.status == .ok { continue }
            let short = rev.commit.count == 40 ? " (\(rev.commit.prefix(12)))" : ""
            var line = rev.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + rev.label + short
            if rev.status == .ok || rev.status == .partial { line += " \(rev.files) file(s)" }
            out += line + "\n"
            for reason in rev.reasons.prefix(20) { out += "    " + reason + "\n" } // reasons are escaped where they are made
            if rev.reasons.count > 20 { out += "    ... and \(rev.reasons.count - 20) more\n" }
        }
        for q in r.quarantined {
            out += "quarantined \(Escape.text(q.from)) -> \(Escape.text(q.to)); affects \(q.affects.joined(separator: " ")) (the client downloads it again online)\n"
        }
        for e in r.quarantineErrors { out += "not quarantined: \(Escape.text(e))\n" }
        out += r.stateNote + "\n"
        return out
    }

    static func json(_ r: VerifyReport) -> [String: Any] {
        [
            "root": r.root,
            "revisions": r.revisions.map { rev -> [String: Any] in
                var o: [String: Any] = ["repo": rev.repo.display, "dir": rev.repo.dirName, "type": rev.repo.type, "id": rev.repo.id,
                                        "commit": rev.commit, "refs": rev.refs, "revision": rev.label, "status": rev.status.rawValue,
                                        "reasons": rev.reasons, "files": rev.files]
                if let l = rev.listed { o["listed"] = l }
                return o
            },
            "blobs": ["hashed": r.blobsHashed, "cached": r.blobsCached, "bytes_hashed": r.bytesHashed, "mismatched": r.mismatched,
                      "unverified": r.unverified],
            "quarantined": r.quarantined.map { ["from": $0.from, "to": $0.to, "affects": $0.affects] },
            "quarantine_errors": r.quarantineErrors,
            "state_saved": r.stateSaved,
            "state": r.stateNote,
            "duration_seconds": r.duration,
            "broken": r.broken,
        ]
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f ", v) + units[i]
    }

    static func seconds(_ s: Double) -> String {
        s < 60 ? "\(Int(s.rounded()))s" : s < 3600 ? "\(Int(s / 60))m\(Int(s) % 60)s" : "\(Int(s / 3600))h\(Int(s) % 3600 / 60)m"
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
