import ArgumentParser
import Foundation
import HFShareCore

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Find out what the filesystem under a cache really does, by trying.",
        discussion: """
        Reports the filesystem type (statfs magic) and its mount (source, mount point, options from \
        /proc/self/mountinfo), then tries, in a scratch directory it creates under PATH and removes \
        again: POSIX access ACLs, default-ACL inheritance to new files and dirs, setgid inheritance of the \
        group and of the setgid bit, flock (exclusive, shared, and whether a lock held by one process \
        blocks the others; each tried by 16 separate processes, since some filesystems fail only some \
        processes, with EIO), fcntl record locks (F_SETLK and F_OFD_SETLK), symlinks, hard links, O_TMPFILE, rename over an \
        existing file, and whether root can chown (root_squash). Every "no" comes with what it means for a \
        Hugging Face cache and what hfshare does about it. 'hfshare init' runs the same probe and adapts \
        its policy; the answers it acted on are in ROOT/.hfshare/probe.json.

        It also times a metadata round trip (creating and removing an empty file, median of 32) and \
        picks how many directories audit, repair and du walk at once: 8 (or one per core where there \
        are more) where a round trip takes under 50 µs (a local disk: walkers waiting for a cold cache keep \
        the disk busy), else one per 25 µs of round trip (never fewer, at most 64), so that a network \
        filesystem has many requests in flight. Run as root on a cache made by \
        init, probe records its answers in ROOT/.hfshare/probe.json, and that walker count becomes the \
        default of --threads.

        With --peer, PATH's scratch directory is also reached through MOUNTPOINT, another mount of the \
        same filesystem (another node's view, e.g. a second client mount; PATH's place below its own \
        mount point is looked up below MOUNTPOINT): a file written here must be \
        seen there, a flock and an fcntl lock held here must block an attempt there, and owner, group and \
        ACLs must look the same through both.

        The setgid and ACL checks use the gid from --gid, else the one ROOT/.hfshare/config.json records, \
        else PATH's group (root: else 65534). Without root, the root_squash check is not tried, and the \
        setgid checks need a supplementary group.

        EXIT STATUS: 0 every check that was tried answered yes; 1 some check answered no (listed with \
        what it means); 2 could not probe (PATH missing or not writable, --peer not the same filesystem).

        EXAMPLES:
          hfshare probe /shared/huggingface_cache
          hfshare probe /shared/huggingface_cache --json | jq '.checks[] | select(.answer == "no")'
          sudo hfshare probe /lustre/hf --peer /mnt/lustre-second-client
        """
    )

    @Argument(help: "A cache root or any directory on the filesystem to probe (default: the current directory).",
              completion: .directory)
    var path: String = "."

    @Option(name: .long, help: ArgumentHelp("Another mount of the same filesystem, to test locks and ownership across mounts.", valueName: "mountpoint"),
            completion: .directory)
    var peer: String?

    @Option(name: .long, help: ArgumentHelp("Gid for the setgid and ACL checks.", valueName: "n"))
    var gid: UInt32?

    @Flag(name: .long, help: "Print the result as one JSON object.")
    var json = false

    func run() throws {
        var options = ProbeOptions(gid: gid, peer: peer.map { Paths.absolute($0) })
        options.gid = gid
        let result = try FilesystemProbe.run(path: path, options)
        // On a cache made by init, root keeps what it found (audit's default walker count comes from it).
        let recorded = try FilesystemProbe.record(result, root: path)
        if json {
            Output.out(String(decoding: result.encoded(), as: UTF8.self))
        } else {
            Output.out(ProbeText.render(result))
            if let recorded { Output.out("recorded in \(recorded)\n") }
        }
        if !result.failed.isEmpty { throw OutcomeStatus.findings }
    }
}

enum ProbeText {
    static func render(_ r: ProbeResult) -> String {
        let fs = r.filesystem
        var out = "\(r.path): \(fs.type) (statfs magic \(fs.magic))"
        if !fs.mountPoint.isEmpty { out += ", \(fs.source) on \(fs.mountPoint) type \(fs.mountType)" }
        out += "\n"
        if !fs.mountOptions.isEmpty { out += "  mount options: \(fs.mountOptions)\(fs.superOptions.isEmpty ? "" : "; superblock: \(fs.superOptions)")\n" }
        if let peer = r.peer, let p = r.peerFilesystem {
            out += "  peer \(peer): \(p.type), \(p.source) on \(p.mountPoint) type \(p.mountType) (\(p.mountOptions))\n"
        }
        if let gid = r.gid { out += "  setgid/ACL checks used gid \(gid)\n" }
        if let t = r.metadataRoundTrip, let w = r.walkers {
            out += String(format: "  metadata round trip %.0f µs (create + remove, median of 32): walkers: %d (audit, repair and du; --threads overrides)\n", t * 1e6, w)
        }
        out += "\n"
        let width = max(20, r.checks.map { $0.id.rawValue.count }.max() ?? 0)
        out += "check".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "answer    what happened\n"
        for c in r.checks {
            out += c.id.rawValue.padding(toLength: width + 2, withPad: " ", startingAt: 0)
            out += c.answer.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            out += c.detail + "\n"
        }
        let failed = r.failed
        if failed.isEmpty {
            out += "\nevery check that was tried answered yes\n"
        } else {
            out += "\nwhat the \"no\" answers mean for a Hugging Face cache:\n"
            var said = Set<String>()
            for c in failed {
                out += "  \(c.id.rawValue) (\(c.id.title)):\n"
                // Related checks share one explanation; say it once.
                if said.insert(c.id.meaning).inserted {
                    out += "    means: \(c.id.meaning)\n    hfshare: \(c.id.action)\n"
                } else {
                    out += "    (see above)\n"
                }
            }
        }
        return out
    }
}
