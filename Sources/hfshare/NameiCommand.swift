import ArgumentParser
import Foundation
import HFShareCore

struct Namei: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "namei",
        abstract: "Show which component of a path stops a user, and how to fix it.",
        discussion: """
        Follows each PATH as the kernel does (every component looked up in turn, symlinks followed where \
        they are met, '..' taken physically) and shows, for every component, its mode, owner, group, \
        '+' for an extended ACL, and the rights each asked user really gets there: read, write and \
        search/execute decided with the kernel's algorithm (owner bits; named user entry; owning and \
        named group entries over all the user's groups from NSS, primary and supplementary; the ACL \
        mask; other; root's CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH as this machine's bounding set allows; \
        read-only mounts; fs.protected_symlinks). The first component that stops each user is marked \
        with '<-', followed by the reason and one command that lets them through, aimed at the entry \
        that decided (the owner bits, the user's or group's ACL entry, the mask, or the --group's entry \
        instead of other). Without --user or --group the user running hfshare is judged (root under \
        sudo). The same check decides 'parent-not-traversable' in 'hfshare init' and 'hfshare audit'.

        With -l, -m, -o, -n, -v or -x the output is instead exactly that of util-linux namei(1) with the \
        same flags (columns, padding, symlink expansion, the 'NAME - ERROR' line, stderr and exit status), \
        so it can stand in for it. --nosymlinks and --nolinks are both accepted for -n.

        EXIT STATUS: 0 every asked user can reach every PATH (and, with --want, has those rights on it); \
        1 some user cannot (a refused component or a missing one); 2 error (unknown user or group, bad \
        arguments, or this process itself cannot look past a component, so the answer is not known: run \
        as root). With the namei flags: 0 or 1 as namei(1) returns them.

        EXAMPLES:
          hfshare namei /shared/hf/hub --user alice      # what stops alice?
          hfshare namei /shared/hf/hub --group hf-users --want write
          hfshare namei --json --user alice ~/models | jq '.paths[].users[]'
          hfshare namei -l /shared/hf/hub/models--gpt2   # the same as namei -l
        """
    )

    @Argument(help: "Paths to follow, as namei(1) does.", completion: .file())
    var paths: [String] = []

    @Option(name: .long, help: ArgumentHelp("Judge this user's access (repeatable). Default: the user running hfshare.", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.users() })
    var user: [String] = []

    @Option(name: .long, help: ArgumentHelp("Judge every member of this group (primary or listed), and name it in fixes (repeatable).", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: [String] = []

    @Option(name: .long, help: ArgumentHelp("What the users need on the final path besides reaching it: read, write, execute, or letters such as rw.", valueName: "access"))
    var want: String?

    @Flag(name: .long, help: "One JSON document on stdout instead of the table.")
    var json = false

    @Flag(name: .shortAndLong, help: "util-linux namei output: long listing (-m -o -v).")
    var long = false

    @Flag(name: .shortAndLong, help: "util-linux namei output: show the mode bits of each file.")
    var modes = false

    @Flag(name: .shortAndLong, help: "util-linux namei output: show owner and group name of each file.")
    var owners = false

    @Flag(name: [.short, .customLong("nosymlinks"), .customLong("nolinks")], help: "util-linux namei output: do not follow symlinks.")
    var noSymlinks = false

    @Flag(name: .shortAndLong, help: "util-linux namei output: vertical align of modes and owners.")
    var vertical = false

    @Flag(name: [.customShort("x"), .long], help: "util-linux namei output: show mount point directories with a 'D'.")
    var mountpoints = false

    var classicFlags: ClassicNameiFlags? {
        guard long || modes || owners || noSymlinks || vertical || mountpoints else { return nil }
        var f = long ? ClassicNameiFlags.long : ClassicNameiFlags()
        f.modes = f.modes || modes
        f.owners = f.owners || owners
        f.vertical = f.vertical || vertical
        f.noLinks = noSymlinks
        f.mountpoints = mountpoints
        return f
    }

    func validate() throws {
        if paths.isEmpty { throw ValidationError("pathname argument is missing") }
        if classicFlags != nil && (!user.isEmpty || !group.isEmpty || want != nil || json) {
            throw ValidationError("-l -m -o -n -v -x print util-linux namei output; --user, --group, --want and --json go with the hfshare view (drop the namei flags)")
        }
        if let want, NameiQuery.parseWant(want) == nil {
            throw ValidationError("--want \(want): use read, write, execute, or letters r, w, x (e.g. rw)")
        }
    }

    func run() throws {
        if let flags = classicFlags {
            let result = ClassicNamei.run(paths, flags: flags)
            FileHandle.standardOutput.write(Data(result.stdout))
            for w in result.warnings { Output.err("namei: \(w)\n") }
            if result.status != 0 { throw OutcomeStatus(result.status) }
            return
        }
        var query = NameiQuery(users: try NameiQuery.resolveUsers(names: user, groups: group, invokingUID: getuid()))
        query.want = want.flatMap(NameiQuery.parseWant) ?? []
        query.group = group.first.flatMap(NSS.resolveGroup)
        let reports = paths.map { NameiReport(walk: PathWalk.walk($0), query: query) }
        if json {
            let doc: [String: Any] = ["ok": reports.allSatisfy(\.ok), "paths": reports.map { $0.jsonObject() }]
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .withoutEscapingSlashes])
            Output.out(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            Output.out(reports.map { $0.text() }.joined(separator: "\n"))
        }
        if reports.contains(where: \.unknown) { throw OutcomeStatus.undecided }
        if !reports.allSatisfy(\.ok) { throw OutcomeStatus.findings }
    }
}
