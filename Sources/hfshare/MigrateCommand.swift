import ArgumentParser
import Foundation
import HFShareCore

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move a private hub cache into the shared one (root only).",
        discussion: """
        Merges SRC (a private hub cache such as ~alice/.cache/huggingface/hub, or the HF_HOME-style \
        directory above it) into ROOT/hub, repo by repo:

        Blobs: a blob the shared cache already has (same name = same content) is not copied again; \
        the private copy is dropped and its size counted as saved. Every other blob is checked against \
        its name (sha256 for LFS files, the git blob id for small files) before it is placed: a hard \
        link on the same filesystem, else a copy to a temp name that is fsynced, read back and hashed \
        again, then renamed into place. A blob that does not match its name stays in SRC and is reported.

        Snapshots, refs, .no_exist and trees are merged. A ref that already points to another commit in \
        the shared cache keeps the newer of the two (the ref file written last) and the other commit is \
        reported; both snapshots stay. Entries keep their owner; the merged repo then goes through the \
        repair engine, so moved files get the shared group, modes and ACLs.

        Private names are removed only after the shared cache holds them, links before blobs, so no \
        snapshot link is ever dangling in either cache. A run that was killed is finished by running it \
        again. SRC is left as an empty hub cache, or removed with --remove-source. While a repo is moved \
        its download locks in SRC are held, so a download running from SRC makes migrate skip that repo.

        EXIT STATUS: 0 everything was merged; 1 something was left in SRC (listed, with the reason); 2 \
        usage error, not root, or ROOT/SRC unusable.

        EXAMPLES:
          sudo hfshare migrate ~alice/.cache/huggingface/hub --dry-run
          sudo hfshare migrate ~alice/.cache/huggingface/hub /shared/huggingface_cache
          sudo hfshare migrate /home/bob/.cache/huggingface --remove-source
        """
    )

    @Argument(help: "The private hub cache to move.", completion: .directory)
    var source: String

    @Argument(help: "The shared cache root. Default: the one root registered in /etc/hfshare/roots.", completion: .directory)
    var root: String?

    @Option(name: .long, help: ArgumentHelp("The shared group, for a ROOT that 'hfshare init' did not make.", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String?

    @Flag(name: .long, help: "Print what would be moved, shared and reported, and change nothing (blobs are still verified).")
    var dryRun = false

    @Flag(name: .long, help: "Remove SRC afterwards if nothing was left in it.")
    var removeSource = false

    @Flag(name: .shortAndLong, help: "Print only problems and the totals.")
    var quiet = false

    @Flag(name: .long, help: "Print the report as one JSON object (repos, bytes moved and saved, ref conflicts, problems) instead of text.")
    var json = false

    func run() throws {
        let shared = try SharedCache.resolve(root, group: group)
        var o = MigrateOptions(source: source)
        o.dryRun = dryRun
        o.removeSource = removeSource
        let r = try Migrator.run(o, into: shared)
        if json {
            Output.out(String(decoding: r.json(), as: UTF8.self) + "\n")
            if !r.complete { throw OutcomeStatus.findings }
            return
        }
        let would = dryRun ? "would " : ""
        Output.out("\(dryRun ? "dry run: " : "")\(r.source) -> \(r.destination)\n")
        for repo in r.repos {
            if !quiet {
                var parts = ["\(repo.blobsMoved) blob(s) \(would)\(dryRun ? "move" : "moved") (\(Format.bytes(repo.bytesMoved))\(repo.copied ? ", copied across filesystems" : ""))",
                             "\(repo.blobsShared) already shared (\(Format.bytes(repo.bytesSaved)) saved)",
                             "\(repo.entriesAdded) snapshot/other entries"]
                if !repo.refsMerged.isEmpty { parts.append("refs \(repo.refsMerged.sorted().joined(separator: ","))") }
                if repo.incompleteDropped > 0 { parts.append("\(repo.incompleteDropped) unfinished download(s) dropped") }
                Output.out("  \(Escape.text(repo.name)): \(parts.joined(separator: ", "))\n")
            }
            for c in repo.refConflicts { Output.out("  ref conflict \(Escape.text(repo.name)) \(Escape.text(c))\n") }
            for p in repo.problems { Output.out("  left: \(Escape.text(p))\n") }
        }
        for n in r.notes { Output.out("note: \(Escape.text(n))\n") }
        for p in r.problems { Output.out("problem: \(Escape.text(p))\n") }
        Output.out("\(would)\(dryRun ? "move" : "moved") \(r.blobsMoved) blob(s) (\(r.bytesMoved) bytes); \(r.blobsShared) already in the shared cache: \(would)\(dryRun ? "save" : "saved") \(r.bytesSaved) bytes (\(Format.bytes(r.bytesSaved))) by deduplication\n")
        if !dryRun {
            if r.policyFixed > 0 && !quiet { Output.out("policy applied to moved entries: \(r.policyFixed) fix(es)\n") }
            Output.out(r.sourceRemoved ? "\(r.source): removed\n" : r.complete ? "\(r.source): left as an empty hub cache\n" : "\(r.source): still holds what is listed above; run migrate again after fixing it\n")
        }
        if !r.complete { throw OutcomeStatus.findings }
    }
}
