import Foundation

/// `init --enable-timer`: a nightly `hfshare repair`, for filesystems that do not pass the setgid group
/// on to new files. A systemd timer where systemd runs, else a cron.d file. The unit and cron texts are
/// those of `dist/` (a test keeps them equal), with the path of the running binary put in.
public enum RepairTimer {
    public static let service = """
        [Unit]
        Description=Repair shared Hugging Face caches (hfshare)
        Documentation=man:hfshare-repair(1)

        [Service]
        Type=oneshot
        # Exit 1 means something could not be fixed: listed in the journal.
        SuccessExitStatus=1
        ExecStart=/usr/local/bin/hfshare repair --quiet
        Nice=10
        IOSchedulingClass=idle

        """

    public static let timer = """
        [Unit]
        Description=Repair shared Hugging Face caches nightly (hfshare)

        [Timer]
        OnCalendar=*-*-* 03:42
        RandomizedDelaySec=15m
        Persistent=true

        [Install]
        WantedBy=timers.target

        """

    public static let cron = """
        # /etc/cron.d/hfshare: audit every registered cache hourly; cron mails only when something is wrong.
        MAILTO=root
        17 * * * * root /usr/local/bin/hfshare audit --quiet
        # Repair nightly (filesystems without setgid inheritance need it; 'hfshare init --enable-timer' installs this file):
        42 3 * * * root /usr/local/bin/hfshare repair --quiet
        # Free disk space nightly (disabled: remove the '#' to enable). Removes revisions unused for 30 days, then
        # least recently used ones while less than 15% is free; never pinned or in-use ones (man hfshare-prune):
        #17 4 * * * root /usr/local/bin/hfshare prune --keep-free 15\\% --unused-for 30d --quiet
        # Disk-usage metrics for node_exporter's textfile collector (size, free space, prunable bytes):
        #*/30 * * * * root /usr/local/bin/hfshare du --format prometheus --textfile /var/lib/node_exporter/textfile_collector/hfshare_du.prom

        """

    static let installedBinary = "/usr/local/bin/hfshare"
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Where units and cron files go; tests point these at a temp dir.
    public static var unitDirectory: String { environment["HFSHARE_SYSTEMD_UNITDIR"] ?? "/etc/systemd/system" }
    public static var cronDirectory: String { environment["HFSHARE_CRONDIR"] ?? "/etc/cron.d" }
    public static var systemctl: String { environment["HFSHARE_SYSTEMCTL"] ?? "/usr/bin/systemctl" }

    /// sd_booted(): systemd is PID 1 exactly when /run/systemd/system exists.
    public static var systemdRuns: Bool {
        if let forced = environment["HFSHARE_SYSTEMD_RUNNING"] { return forced == "1" }
        return FileManager.default.fileExists(atPath: "/run/systemd/system")
    }

    /// The binary that is running (so the timer runs the same hfshare that set it up).
    static var binary: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? installedBinary
    }

    static func render(_ text: String) -> String { text.replacingOccurrences(of: installedBinary, with: binary) }

    /// Installs and enables the timer; returns what it did (or would do), empty when already in place.
    public static func enable(dryRun: Bool) throws -> [String] {
        var plan: [String] = []
        if systemdRuns {
            let files = [("hfshare-repair.service", service), ("hfshare-repair.timer", timer)]
            var changed = false
            for (name, text) in files {
                let path = unitDirectory + "/" + name
                let data = Data(render(text).utf8)
                if FileManager.default.contents(atPath: path) == data { continue }
                changed = true
                plan.append("write \(path)")
                if !dryRun {
                    try FileManager.default.createDirectory(atPath: unitDirectory, withIntermediateDirectories: true)
                    try Files.writeAtomically(path, data, mode: 0o644)
                }
            }
            if changed || !isEnabled() {
                plan.append("systemctl enable --now hfshare-repair.timer")
                if !dryRun {
                    try Command.run([systemctl, "daemon-reload"])
                    try Command.run([systemctl, "enable", "--now", "hfshare-repair.timer"])
                }
            }
        } else {
            let path = cronDirectory + "/hfshare"
            let data = Data(render(cron).utf8)
            if FileManager.default.contents(atPath: path) != data {
                plan.append("write \(path) (systemd is not running: nightly repair from cron)")
                if !dryRun {
                    try FileManager.default.createDirectory(atPath: cronDirectory, withIntermediateDirectories: true)
                    try Files.writeAtomically(path, data, mode: 0o644)
                }
            }
        }
        return plan
    }

    static func isEnabled() -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: systemctl)
        p.arguments = ["is-enabled", "--quiet", "hfshare-repair.timer"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}
