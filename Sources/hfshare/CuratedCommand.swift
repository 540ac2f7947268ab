import ArgumentParser
import Foundation
import HFShareCore

/// `--root`, `--dry-run`, `--no-repair`: shared by the commands that change the curated list.
struct CuratedArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The cache root. Default: the one registered root.", valueName: "root"), completion: .directory)
    var root: String?

    @Flag(name: .long, help: "Print what would change (the list, the directories, the repair) and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Only change the list; do not run the repair that applies it (the next 'hfshare repair' does).")
    var noRepair = false

    func change() throws -> CuratedChange {
        CuratedChange(root: try SharedCache.resolvePath(root), dryRun: dryRun, repair: !noRepair)
    }

    /// Prints the outcome like `repair` does (one line per change), then exits 1 if something failed.
    func report(_ out: CuratedChange.Outcome) throws {
        for s in out.steps { Output.out(s + "\n") }
        if let summary = out.summary {
            let verb = dryRun ? "would fix" : "fixed"
            Output.out("\(summary.root): \(verb) \(summary.count(dryRun ? .wouldFix : .fixed))\(summary.extraChanges > 0 ? " (+\(summary.extraChanges) entries cleared of a revoked group)" : ""), failed \(summary.count(.failed)), left \(summary.count(.left)) (report-only) in \(summary.entries) entries\n")
        }
        if dryRun { Output.out("dry run: nothing changed\n") }
        if (out.summary?.count(.failed) ?? 0) > 0 { throw ExitCode(1) }
    }

    static func sink(dryRun: Bool) -> EventSink {
        { e in
            guard e.outcome != .found else { return }
            Output.out("\(e.outcome.rawValue) \(e.finding.kind.rawValue) \(Escape.text(e.finding.path))\(e.error.map { ": \(Escape.text($0))" } ?? "")\n")
        }
    }
}

struct ReadersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readers",
        abstract: "Groups that may use the cache read-only: add, remove, list.",
        discussion: """
        A reader group gets directories r-x and files r-- in the whole cache, through access ACL \
        entries (group:R:r-x, group:R:r--) and default ACL entries (default:group:R:r-x), so what \
        writers download later is readable too; it can write nothing (no lock, no blob, no ref). Its \
        members' profile branch and 'hfshare env --reader' set HF_HUB_OFFLINE=1 and keep what the \
        client must write in their home (datasets, xet and assets caches, token, modules). Tokens, \
        shared code (ROOT/modules) and restricted repos are not given to readers. Needs POSIX ACLs.

        The list is root's, in ROOT/.hfshare/curated.json ('hfshare init --readers GROUP' adds too). \
        'add' and 'remove' then run the repair that applies it (--no-repair: only the list); 'remove' \
        also takes the group's entries out of every ACL. 'hfshare audit' reports reader-cannot-read \
        and reader-can-write.

        EXIT STATUS: 0 done; 1 some change failed (listed), or nothing to remove; 2 usage error (unknown \
        group, the shared group itself, no ACLs, not root), nothing changed.

        EXAMPLES:
          sudo hfshare readers add hf-readers
          hfshare readers list
          sudo hfshare readers remove hf-readers --dry-run
        """,
        subcommands: [ReadersAdd.self, ReadersRemove.self, ReadersList.self]
    )
}

struct ReadersAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Give groups read-only use of the cache (root only).")

    @Argument(help: "Groups to add as readers.", completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var groups: [String]

    @OptionGroup var options: CuratedArguments

    func run() throws {
        let out = try options.change().run(sink: CuratedArguments.sink(dryRun: options.dryRun)) { file, policy in
            try groups.map { name in
                let g = try Restrictions.group(name, shared: policy, what: "reader")
                let added = file.addReader(ReaderGroup(group: g.name, gid: g.gid))
                return added ? "\(options.dryRun ? "would add" : "added") reader group \(g.name) (gid \(g.gid))" : "already a reader group: \(g.name)"
            }
        }
        try options.report(out)
    }
}

struct ReadersRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Take read-only use away from groups; their ACL entries go too (root only).")

    @Argument(help: "Reader groups to remove.", completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var groups: [String]

    @OptionGroup var options: CuratedArguments

    func run() throws {
        var missing = false
        let out = try options.change().run(revoked: { before, after in
            before.readers.map(\.gid).filter { gid in !after.readers.contains { $0.gid == gid } }
        }, sink: CuratedArguments.sink(dryRun: options.dryRun)) { file, _ in
            try groups.map { name in
                guard let r = file.readers.first(where: { $0.group == name || String($0.gid) == name }) else {
                    if NSS.resolveGroup(name) == nil { throw UsageError("group '\(Escape.text(name))' does not exist (NSS) and is no reader group; nothing changed") }
                    missing = true
                    return "not a reader group: \(Escape.text(name))"
                }
                _ = file.removeReader(gid: r.gid)
                return "\(options.dryRun ? "would remove" : "removed") reader group \(r.group)"
            }
        }
        try options.report(out)
        if missing { throw ExitCode(1) }
    }
}

struct ReadersList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the reader groups (anyone).")

    @Option(name: .long, help: ArgumentHelp("The cache root. Default: the one registered root.", valueName: "root"), completion: .directory)
    var root: String?

    func run() throws {
        let file = try CuratedFile.load(root: try SharedCache.resolvePath(root))
        for r in file.readers { Output.out("\(Escape.text(r.group)) (gid \(r.gid))\n") }
    }
}

struct RestrictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restrict",
        abstract: "Make repos readable only by a licensed group (gated models), or list the rules.",
        discussion: """
        PATTERN is a glob on the repo's cache directory name ('models--meta-llama--*') or one repo \
        (meta-llama/Llama-3.1-8B, datasets/ORG/NAME, models--ORG--NAME). Every entry of a matching \
        repo under ROOT/hub, and its ROOT/hub/.locks dir, gets group::---, group:LICENSED:rwx (rw- on \
        files), other::--- and the same default ACL: members of the shared group who are also in \
        LICENSED download, read and write it as before; other members, reader groups and everybody \
        else can neither read nor enter it (the kernel takes the first matching group entry and \
        never falls through to other). For one named repo that is not downloaded yet, its two \
        directories are made now (root's, restricted), so the first download lands restricted; a glob \
        covers new repos at the next repair (run it nightly: 'hfshare init --enable-timer').

        Members of LICENSED get a writer's rights in those repos: put only writers (members of the \
        shared group) in it; restrict says which members are not. Entries owned by a user outside \
        LICENSED keep their owner's access (restricted-owner-unlicensed: only chown fixes it). A blob \
        in the client's cache-wide shared store (hub/blobs/XX/HASH, Xet) is not restricted: it is \
        content-addressed and may be used by unrestricted repos too.

        The rules are root's, in ROOT/.hfshare/curated.json; 'hfshare restrict --list' may be run by \
        anyone. After a change the repair that applies it runs (--no-repair: only the list). 'hfshare \
        audit' reports restricted-readable; 'hfshare namei --user NAME PATH' says when a refusal comes \
        from a restriction.

        EXIT STATUS: 0 done; 1 some change failed (listed); 2 usage error (unknown group, the shared \
        group, a bad pattern, no ACLs, not root), nothing changed.

        EXAMPLES:
          sudo hfshare restrict 'models--meta-llama--*' --group llama-licensed
          sudo hfshare restrict meta-llama/Llama-3.1-8B --group llama-licensed --dry-run
          hfshare restrict --list
          sudo hfshare unrestrict 'models--meta-llama--*'
        """
    )

    @Argument(help: "Repo patterns to restrict.")
    var patterns: [String] = []

    @Option(name: .long, help: ArgumentHelp("The licensed group: the only one that may read (and, for writers, write) these repos.", valueName: "group"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String?

    @Flag(name: .long, help: "List the restricted repo patterns and their groups.")
    var list = false

    @Flag(name: .long, help: "With --list: print JSON.")
    var json = false

    @OptionGroup var options: CuratedArguments

    func validate() throws {
        if patterns.isEmpty && !list { throw ValidationError("give PATTERN --group GROUP to restrict, or --list") }
        if !patterns.isEmpty && group == nil { throw ValidationError("--group GROUP: which group may read these repos") }
        do { for p in patterns { _ = try RestrictRule.parsePattern(p) } } catch let e as UsageError { throw ValidationError(e.description) }
    }

    func run() throws {
        if !patterns.isEmpty, let group {
            let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? "root"
            let change = try options.change()
            var notes: [String] = []
            let out = try change.run(sink: CuratedArguments.sink(dryRun: options.dryRun)) { file, policy in
                let g = try Restrictions.group(group, shared: policy, what: "licensed")
                let others = Restrictions.licensedNonWriters(g, sharedGID: policy.gid)
                if !others.isEmpty {
                    notes.append("note: \(others.joined(separator: ", ")) in \(g.name) \(others.count == 1 ? "is" : "are") not in \(policy.groupName): \(g.name) gets a writer's rights in these repos; keep only writers in it")
                }
                return try patterns.map { text in
                    let pattern = try RestrictRule.parsePattern(text)
                    let changed = file.restrict(RestrictRule(pattern: pattern, group: g.name, gid: g.gid, by: who, at: Posix.now().rounded()))
                    let now = Restrictions.matching(root: change.root, pattern: pattern)
                    let matches = now.isEmpty ? "matches no repo yet" : "matches \(now.count) repo(s) now"
                    return changed ? "\(options.dryRun ? "would restrict" : "restricted") \(Escape.text(pattern)) to \(g.name) (\(matches))"
                        : "already restricted to \(g.name): \(Escape.text(pattern))"
                }
            }
            for n in notes { Output.err(n + "\n") }
            try options.report(out)
        }
        if list {
            let file = try CuratedFile.load(root: try SharedCache.resolvePath(options.root))
            if json {
                Output.out(String(decoding: CuratedFile(restricted: file.restricted).encoded(), as: UTF8.self))
                return
            }
            for r in file.restricted { Output.out("\(Escape.text(r.pattern))  \(Escape.text(r.group))\(r.by.map { "  (by \(Escape.text($0)))" } ?? "")\n") }
        }
    }
}

struct UnrestrictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unrestrict",
        abstract: "Lift restrict rules (root only): the repos become shared again.",
        discussion: """
        PATTERN as given to 'hfshare restrict' (see 'hfshare restrict --list'). The repair that runs \
        afterwards gives the group its rights back and takes the licensed group's entries out (unless \
        another rule still uses that group).

        EXIT STATUS: 0 lifted; 1 nothing matched, or a change failed; 2 usage error, not root.
        """
    )

    @Argument(help: "Repo patterns to unrestrict.")
    var patterns: [String]

    @OptionGroup var options: CuratedArguments

    func validate() throws {
        do { for p in patterns { _ = try RestrictRule.parsePattern(p) } } catch let e as UsageError { throw ValidationError(e.description) }
    }

    func run() throws {
        var missing = false
        let out = try options.change().run(revoked: { before, after in
            Array(Set(before.restricted.map(\.gid)).subtracting(after.restricted.map(\.gid)))
        }, sink: CuratedArguments.sink(dryRun: options.dryRun)) { file, _ in
            try patterns.map { text in
                let pattern = try RestrictRule.parsePattern(text)
                if file.unrestrict(pattern: pattern) { return "\(options.dryRun ? "would lift" : "lifted") \(Escape.text(pattern))" }
                missing = true
                return "not restricted: \(Escape.text(pattern))"
            }
        }
        try options.report(out)
        if missing { throw ExitCode(1) }
    }
}
