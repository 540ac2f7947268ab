import ArgumentParser
import Foundation
import HFShareCore

struct Namei: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which component of a path stops a user, and how to fix it.",
        discussion: """
        TODO
        """
    )

    @Argument(help: "Paths to follow, as namei(1) does.", completion: .file())
    var paths: [String] = []

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
    }

    func run() throws {
        if let flags = classicFlags {
            let result = ClassicNamei.run(paths, flags: flags)
            FileHandle.standardOutput.write(Data(result.stdout))
            for w in result.warnings { Output.err("namei: \(w)\n") }
            if result.status != 0 { throw ExitCode(result.status) }
            return
        }
    }
}
