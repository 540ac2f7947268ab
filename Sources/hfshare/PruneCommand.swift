import ArgumentParser
import Foundation
import HFShareCore

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Free disk space: remove whole revisions nobody uses, least recently used first (root only).",
        discussion: """
        Chooses whole revisions (a snapshot with the refs that point to it and the blobs no other \
        revision of the repo uses) by:
          --unused-for AGE     every revision not used for AGE;
          --max-size SIZE      least recently used first until the cache's blobs take at most SIZE;
          --keep-free P%|SIZE  least recently used first until the filesystem has that much free;
          --detached           only revisions no ref (branch, tag) points to;
          --repo PATTERN       only repos whose cache dir name matches (fnmatch: 'models--meta-llama--*').
        With --unused-for and a watermark both, the old revisions go first and then more, least recently \
        used first, while the watermark is not met. --detached and --repo narrow every other choice; \
        alone, --detached removes every detached revision.

        NEVER REMOVED: a pinned repo or revision ('hfshare pin'); a revision used within --min-age \
        (default 1h); every revision of a repo whose download lock somebody holds (a non-blocking flock \
        on a fresh read-only descriptor of each .locks/REPO/*.lock; no lock is ever created to find \
        out); a revision whose blob any process on this node has open or mapped (/proc/*/fd and \
        /proc/*/maps: safetensors are mmapped). Processes on other nodes of a shared filesystem cannot \
        be seen: there, rely on --min-age and --unused-for.

        LAST USE is the newest blob access time (relatime/strictatime mounts) or, under noatime, the \
        newest snapshot-link or blob mtime (marked 'last use unknown'): see 'hfshare du'.

        ORDER: under all of the repo's download locks, each chosen revision loses its refs first, then \
        its snapshot dir, then .no_exist/COMMIT; then the blobs that no remaining snapshot links to \
        (looked at again at that moment) and their lock files; a repo left without snapshots is removed \
        whole. So no ref ever names a missing snapshot. Every removal goes through descriptors opened \
        O_NOFOLLOW relative to verified parent directories; a symlink is never followed and names are \
        handled as bytes. Blobs in the client's shared store (hub/blobs/) are left to the client's own \
        garbage collection: only the repo's link to them goes.

        EXIT STATUS: 0 done, or nothing to do; 1 something could not be removed, or the watermark \
        cannot be reached with what may be removed; 2 usage error, not root, ROOT unusable.

        EXAMPLES:
          sudo hfshare prune --unused-for 30d --dry-run
          sudo hfshare prune --keep-free 15% --unused-for 30d        # the nightly timer
          sudo hfshare prune --max-size 2T --repo 'models--*'
          sudo hfshare prune --detached --json
        """
    )

    @Argument(help: "The cache root. Default: the one registered root.", completion: .directory)
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Remove revisions not used for this long: 30d, 2w, 36h.", valueName: "duration"))
    var unusedFor: String?

    @Option(name: .long, help: ArgumentHelp("Watermark: remove until the cache's blobs take at most SIZE (500G, 2T, 1.5TiB; powers of 1024).", valueName: "size"))
    var maxSize: String?

    @Option(name: .long, help: ArgumentHelp("Watermark: remove until the filesystem has this much available: 15% or a SIZE.", valueName: "percent|size"))
    var keepFree: String?

    @Flag(name: .long, help: "Only revisions no ref points to.")
    var detached = false

    @Option(name: .long, help: ArgumentHelp("Only repos whose cache dir name matches this fnmatch pattern (repeatable), e.g. 'models--org--*'.", valueName: "pattern"))
    var repo: [String] = []

    @Option(name: .long, help: ArgumentHelp("Never remove a revision used more recently than this (a job may be about to load it).", valueName: "duration"))
    var minAge: String = "1h"

    @Flag(name: .long, help: "Show what would be removed and how many bytes it frees; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only problems and the totals.")
    var quiet = false

    func criteria() throws -> PruneCriteria {
        var c = PruneCriteria()
        if let unusedFor {
            guard let d = Validate.duration(unusedFor) else { throw ValidationError("--unused-for \(unusedFor): not a duration; use e.g. 30d, 2w, 36h") }
            c.unusedFor = d
        }
        if let maxSize {
            guard let s = ByteSize.parse(maxSize) else { throw ValidationError("--max-size \(maxSize): not a size; use e.g. 500G, 2T, 1.5TiB") }
            c.maxSize = s
        }
        if let keepFree {
            guard let f = FreeTarget.parse(keepFree) else { throw ValidationError("--keep-free \(keepFree): use a percentage below 100 (15%) or a size (200G)") }
            c.keepFree = f
        }
        guard let m = Validate.duration(minAge) else { throw ValidationError("--min-age \(minAge): not a duration; use e.g. 1h, 0") }
        c.minAge = m
        c.detachedOnly = detached
        c.repoPatterns = repo
        return c
    }

    func validate() throws {
        let c = try criteria()
        if !c.selects {
            throw ValidationError("say what to prune: --unused-for DURATION, --max-size SIZE, --keep-free PERCENT|SIZE and/or --detached")
        }
    }

    func run() throws {
        let rootPath = try SharedCache.resolvePath(root)
        var o = PruneOptions(root: rootPath, criteria: try criteria())
        o.dryRun = dryRun
        let r = try Pruner.run(o)
        if json {
            Output.out(String(decoding: r.json(), as: UTF8.self))
        } else {
            Output.out(PruneText.render(r, quiet: quiet))
        }
        if !r.complete { throw OutcomeStatus.findings }
    }
}

enum PruneText {
    static func render(_ r: PruneReport, quiet: Bool) -> String {
        let now = Posix.now()
        let would = r.dryRun ? "would remove" : "removed"
        var out = r.dryRun ? "dry run: \(Escape.text(r.root))\n" : ""
        if !quiet {
            for c in r.chosen {
                out += "\(would) \(Escape.text(c.repo)) \(c.commit.prefix(12)) (\(c.refs.isEmpty ? "detached" : c.refs.map { Escape.text($0) }.joined(separator: ","))): "
                    + "\(Format.bytes(c.bytes)), last use \(DuText.when(c.lastUse, known: c.lastUseKnown, now: now)) [\(c.why)]\n"
            }
            for k in r.kept { out += "kept \(Escape.text(k.repo)) \(k.commit.prefix(12)): \(k.reason)\n" }
        }
        for n in r.notes { out += "note: \(n)\n" }
        for f in r.failures { out += "problem: \(f)\n" }
        if let w = r.watermark { out += "watermark: \(w): \(r.watermarkReached ? "reached" : "NOT reachable with what may be removed")\n" }
        if r.dryRun {
            out += "would free \(r.plannedBytes) bytes (\(Format.bytes(r.plannedBytes))) in \(r.chosen.count) revision(s)\n"
        } else {
            out += "freed \(r.freedBytes) bytes (\(Format.bytes(r.freedBytes)); planned \(r.plannedBytes)) in \(r.removedRevisions) revision(s), \(r.removedBlobs) blob(s)"
            if let b = r.spaceBefore, let a = r.spaceAfter { out += "; available \(Format.bytes(b.available)) -> \(Format.bytes(a.available))" }
            out += "\n"
        }
        return out
    }
}
