import ArgumentParser
import Foundation
import HFShareCore

extension OtherAccess: ExpressibleByArgument {
    public static var allValueStrings: [String] { ["rx", "none"] }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create or adopt a shared cache ROOT for a group.",
        discussion: """
        Creates ROOT with hub/, datasets/, xet/ and assets/ (or adopts an existing ROOT), makes every \
        directory group-owned by GROUP with mode 2775 (2770 with --other none), access ACL g:GROUP:rwx \
        and default ACL u::rwx,g::rwx,g:GROUP:rwx,m::rwx,o::r-x, and brings existing files to the policy \
        with the same rules as 'hfshare repair' (group rw, no o+w, never following symlinks, never \
        touching an inode that also has a name outside ROOT: those are reported). Records the group in \
        ROOT/.hfshare/config.json, registers ROOT in /etc/hfshare/roots for 'hfshare audit', and writes \
        /etc/profile.d/hfshare.sh, which points members' HF_HUB_CACHE, HF_DATASETS_CACHE, HF_XET_CACHE \
        and HF_ASSETS_CACHE into ROOT and HF_TOKEN_PATH into each home (HF_HOME is never set to ROOT).

        What the filesystem really does is found by trying in ROOT/.hfshare (the same checks as \
        'hfshare probe', recorded in ROOT/.hfshare/probe.json): without working POSIX ACLs the policy \
        falls back to setgid + mode bits and the profile sets umask 002 for members; where new dirs do not \
        get the setgid dir's group, init says so and recommends a nightly 'hfshare repair' \
        (--enable-timer sets it up); where flock is broken it says how huggingface_hub will behave.

        --enable-timer installs and enables hfshare-repair.timer (systemd units in \
        /etc/systemd/system) when systemd runs, else writes /etc/cron.d/hfshare with an hourly audit \
        and a nightly repair.

        A second run changes nothing and says so. Refuses /, system trees, symlinks a user could \
        redirect, a ROOT that is a file and unknown groups, with no change.

        EXIT STATUS: 0 ROOT follows the policy; 1 something under ROOT could not be brought to the \
        policy (listed); 2 usage or runtime error, nothing changed.

        EXAMPLES:
          sudo hfshare init /shared/huggingface_cache --group hf-users
          sudo hfshare init /scratch/hf --group ml --create-group --gid 4200 --other none
          sudo hfshare init /juicefs/hf --group hf-users --enable-timer
          sudo hfshare init /shared/curated --group hf-admins --readers hf-users --other none
          hfshare init /shared/huggingface_cache --group hf-users --print-env --no-profile
        """
    )

    @Argument(help: "The shared cache root (an HF_HOME-style directory).", completion: .directory)
    var root: String

    @Option(name: .long, help: ArgumentHelp("The Unix group whose members share the cache.", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String

    @Flag(name: .long, help: "Create the group if it does not exist.")
    var createGroup = false

    @Option(name: .long, help: ArgumentHelp("GID for --create-group.", valueName: "n"))
    var gid: UInt32?

    @Option(name: .long, help: ArgumentHelp("What non-members get: rx (read the cache) or none.", valueName: "rx|none"))
    var other: OtherAccess = .readExecute

    @Option(name: .long, help: ArgumentHelp("A group that may use the cache read-only (repeatable): directories r-x, files r--, through access and default ACLs; its members' profile sets HF_HUB_OFFLINE=1 and keeps what the client writes in their home. Added to the recorded readers ('hfshare readers' lists, adds and removes them).", valueName: "group"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var readers: [String] = []

    @Flag(name: .long, help: "Count uid 0 as a member (root-owned files are then not owner-not-member findings).")
    var rootIsMember = false

    @Flag(name: .long, help: "Do not write /etc/profile.d/hfshare.sh.")
    var noProfile = false

    @Flag(name: .long, help: "Print the environment snippet (for other shells or environment modules).")
    var printEnv = false

    @Flag(name: .long, help: "Run 'hfshare repair' nightly: systemd timer where systemd runs, else /etc/cron.d/hfshare.")
    var enableTimer = false

    @Flag(name: .long, help: "Accept a ROOT inside a user's home, a system group (gid < 100), or a group other than the one ROOT is registered for.")
    var force = false

    @Flag(name: .long, help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Print only problems.")
    var quiet = false

    func run() throws {
        var o = InitOptions(root: root, group: group)
        o.force = force
        o.createGroup = createGroup
        o.gid = gid
        o.other = other
        o.rootIsMember = rootIsMember
        o.writeProfile = !noProfile
        o.dryRun = dryRun
        o.enableTimer = enableTimer
        o.readers = readers
        let report = try Initializer.run(o)

        if printEnv { Output.out(report.profile) }
        let say = { (s: String) in if !quiet && !printEnv { Output.out(s) } else if !quiet { Output.err(s) } }
        let prefix = dryRun ? "would " : ""
        for step in report.plan { say("\(prefix)\(step)\n") }
        for note in report.notes { say("note: \(note)\n") }
        if let scan = report.scan {
            if !report.changed.isEmpty && !quiet {
                say(Report.text(report.changed, verb: "repair"))
            }
            if scan.extraChanges > 0 { say("\(prefix)add group:\(group):rwx to \(scan.extraChanges) directories' access ACL\n") }
        }
        let unfixed = report.unfixed
        if !unfixed.isEmpty {
            Output.out("\(report.root): \(unfixed.count) finding(s) init could not or must not fix:\n")
            Output.out(Report.text(unfixed))
        }
        if report.changes == 0 && !dryRun {
            say("\(report.root): already set up for group \(group); nothing changed\n")
        } else if dryRun {
            say("dry run: nothing changed\n")
        } else {
            say("\(report.root): ready for group \(group) (\(report.scan?.entries ?? 0) entries checked)\n")
        }
        if report.needsAttention {
            throw OutcomeStatus.findings
        }
    }
}

enum HFShareCompletion {
    static func users() -> [String] {
        guard let text = try? String(contentsOfFile: "/etc/passwd", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
    }

    static func groups() -> [String] {
        guard let text = try? String(contentsOfFile: "/etc/group", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
    }
}
