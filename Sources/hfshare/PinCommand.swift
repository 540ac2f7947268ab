import ArgumentParser
import Foundation
import HFShareCore

struct PinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin",
        abstract: "Keep a repo or one revision from ever being pruned (root only to change).",
        discussion: """
        REPO is ORG/NAME (a model), datasets/ORG/NAME, spaces/ORG/NAME or the cache dir name \
        (models--ORG--NAME); @REV pins one revision: a commit hash (at least 7 characters) or a ref \
        name, resolved each time prune runs (pinning @main keeps whatever main points to then). Without \
        @REV every revision of the repo is kept. Pins live in ROOT/.hfshare/pins.json (root's, written \
        atomically); 'hfshare pin --list' may be run by anyone.

        EXIT STATUS: 0 done (also when already pinned); 2 usage error, not root, no ROOT/.hfshare.

        EXAMPLES:
          sudo hfshare pin meta-llama/Llama-3.1-8B
          sudo hfshare pin datasets/org/eval-set@v2.0
          hfshare pin --list
          sudo hfshare unpin meta-llama/Llama-3.1-8B
        """
    )

    @Argument(help: "REPO or REPO@REV to pin.")
    var targets: [String] = []

    @Option(name: .long, help: ArgumentHelp("The cache root. Default: the one registered root.", valueName: "root"), completion: .directory)
    var root: String?

    @Flag(name: .long, help: "List the pins.")
    var list = false

    @Flag(name: .long, help: "With --list: print JSON.")
    var json = false

    func validate() throws {
        if targets.isEmpty && !list { throw ValidationError("give REPO[@REV] to pin, or --list") }
        for t in targets { _ = try Pin.parse(t) }
    }

    func run() throws {
        let rootPath = try SharedCache.resolvePath(root)
        if !targets.isEmpty {
            let pins = try targets.map { try Pin.parse($0) }
            let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? "root"
            _ = try PinFile.update(root: rootPath) { file in
                for var p in pins {
                    p.by = who
                    p.at = Posix.now().rounded()
                    Output.out(file.add(p) ? "pinned \(Escape.text(p.label))\n" : "already pinned: \(Escape.text(p.label))\n")
                }
            }
        }
        if list {
            let file = try PinFile.load(root: rootPath)
            if json { Output.out(String(decoding: file.encoded(), as: UTF8.self)); return }
            for p in file.pins { Output.out("\(Escape.text(p.label))\(p.by.map { "  (by \(Escape.text($0)))" } ?? "")\n") }
        }
    }
}

struct UnpinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin",
        abstract: "Remove pins (root only).",
        discussion: """
        REPO removes every pin of the repo; REPO@REV only that one.

        EXIT STATUS: 0 removed; 1 nothing matched; 2 usage error, not root.
        """
    )

    @Argument(help: "REPO or REPO@REV to unpin.")
    var targets: [String]

    @Option(name: .long, help: ArgumentHelp("The cache root. Default: the one registered root.", valueName: "root"), completion: .directory)
    var root: String?

    func validate() throws { for t in targets { _ = try Pin.parse(t) } }

    func run() throws {
        let rootPath = try SharedCache.resolvePath(root)
        let pins = try targets.map { try Pin.parse($0) }
        var missing = false
        _ = try PinFile.update(root: rootPath) { file in
            for p in pins {
                let n = file.remove(p)
                if n == 0 { missing = true; Output.out("not pinned: \(Escape.text(p.label))\n") } else { Output.out("unpinned \(Escape.text(p.label))\n") }
            }
        }
        if missing { throw OutcomeStatus.findings }
    }
}
