import ArgumentParser
import Foundation
import HFShareCore

extension EnvFormat: ExpressibleByArgument {}

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print what a member process needs to use the shared cache, for where it runs.",
        discussion: """
        A login shell gets the cache variables from the profile snippet 'hfshare init' writes; a \
        systemd service, a container or a compose service does not read it. This prints the same \
        settings for each: HF_HUB_CACHE, HF_DATASETS_CACHE, HF_XET_CACHE and HF_ASSETS_CACHE under \
        ROOT, HF_TOKEN_PATH in the user's own home (never HF_HOME=ROOT), the group G, and umask 002 \
        where the filesystem has no POSIX ACLs (ROOT/.hfshare/config.json records it).

        For a reader group ('hfshare readers', --reader GROUP, or by default when the user running it \
        is in a reader group and not in G): HF_HUB_CACHE under ROOT, HF_HUB_OFFLINE=1, and \
        HF_DATASETS_CACHE, HF_XET_CACHE, HF_ASSETS_CACHE, HF_TOKEN_PATH and HF_MODULES_CACHE in the \
        user's home; the group is the reader group, and docker/compose mount ROOT read-only.

        --format sh: shell lines, as the profile snippet sets them. --format systemd: a drop-in \
        ([Service] Environment=, SupplementaryGroups=G, UMask=0002 without ACLs). --format docker: \
        'docker run' flags (-v ROOT:ROOT, --group-add GID, -e ...). --format compose: a compose service \
        snippet. Every value is quoted for its format; a value the format cannot carry (a newline in a \
        systemd unit, ':' in docker -v) is refused.

        --install-unit NAME.service writes the systemd drop-in to \
        /etc/systemd/system/NAME.service.d/hfshare.conf (HFSHARE_SYSTEMD_UNITDIR overrides the \
        directory) and runs 'systemctl daemon-reload' where systemd runs; a second run changes nothing \
        and says so. Restart the service afterwards. 'hfshare doctor --pid PID' tells whether a \
        running service has these settings.

        EXIT STATUS: 0 printed or installed (or already installed); 2 usage or runtime error (no or \
        several registered roots without ROOT, bad unit name, not root).

        EXAMPLES:
          hfshare env
          hfshare env /shared/huggingface_cache --format docker
          sudo hfshare env --install-unit jupyterhub.service
          sudo hfshare env --install-unit vllm.service --dry-run
        """
    )

    @Argument(help: "The shared cache root. Default: the one root registered in /etc/hfshare/roots.", completion: .directory)
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Where the process runs: sh, systemd, docker or compose.", valueName: "format"))
    var format: EnvFormat = .sh

    @Option(name: .long, help: ArgumentHelp("Write the systemd drop-in for this service (NAME.service.d/hfshare.conf) and reload systemd.", valueName: "unit"))
    var installUnit: String?

    @Flag(name: .long, help: "With --install-unit: print what would be written and change nothing.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Print a reader group's settings (read-only, HF_HUB_OFFLINE=1, per-user datasets/xet/assets caches). Default: the reader group of the user running this, when that user is not a writer.", valueName: "group"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var reader: String?

    func validate() throws {
        if let installUnit {
            do { _ = try UnitDropIn.validate(installUnit) } catch let e as UsageError { throw ValidationError(e.description) }
            if format != .sh && format != .systemd { throw ValidationError("--install-unit writes a systemd drop-in; drop --format \(format.rawValue)") }
        } else if dryRun {
            throw ValidationError("--dry-run goes with --install-unit")
        }
    }

    func run() throws {
        let shared = try SharedCache.resolve(root)
        var renderer = EnvRenderer(shared)
        renderer.reader = try ReaderRole.resolve(root: shared.root, sharedGID: shared.policy.gid, asked: reader)
        guard let unit = installUnit else {
            Output.out(try renderer.render(format))
            return
        }
        let text = try renderer.render(.systemd)
        let result = try UnitDropIn.install(unit: unit, text: text, dryRun: dryRun)
        if !result.changed {
            Output.out("\(Escape.text(result.path)): already up to date; nothing changed\n")
            return
        }
        for step in result.plan { Output.out((dryRun ? "would " : "") + Escape.text(step) + "\n") }
        if dryRun {
            Output.out(text)
            Output.out("dry run: nothing changed\n")
        } else {
            let name = try UnitDropIn.validate(unit)
            Output.out("restart the service to apply it: systemctl restart \(name)\n")
        }
    }
}
