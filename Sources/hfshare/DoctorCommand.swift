import ArgumentParser
import Foundation
import Glibc
import HFShareCore

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that a user can really use the shared cache, and say how to fix what is wrong.",
        discussion: """
        Checks, for yourself (run it unprivileged, in the shell you use) or, as root, for another user:

        member: the user is in the group (NSS, as 'id NAME' shows after a fresh login). session: the \
        running session has the group too ('id -G'); a session started before 'user add' does not. As \
        root for another user: that user's running processes that lack the group. env: HF_HUB_CACHE, \
        HF_DATASETS_CACHE, HF_XET_CACHE and HF_ASSETS_CACHE point into ROOT (set by the profile snippet) \
        and are not overridden; an override is traced to the line of the shell startup file that sets \
        it. token: neither HF_HOME nor HF_TOKEN_PATH puts the token inside ROOT. umask: only matters \
        where the filesystem has no POSIX ACLs. write-hub, write-locks: a real mkdir, create, write, \
        fsync, rename, flock and delete in a scratch directory of hub/ and hub/.locks/ (removed \
        afterwards), and whether the new file is group-writable. flock: two descriptors of one file \
        exclude each other, and whether the filesystem is one where flock is client-local or off \
        (NFS, Lustre, BeeGFS, GPFS, SMB, FUSE).

        As root with --user, everything after 'session' runs in a child process that drops to the \
        user's uid and groups (setpriv --reuid --regid --init-groups) and starts through the user's \
        login shell, so the test and the environment are the ones a fresh login of that user gets.

        Every problem comes with the exact command that fixes it.

        EXIT STATUS: 0 everything ok (warnings may be printed); 1 some check failed; 2 could not run \
        (bad arguments, unknown user, --user for someone else without root).

        EXAMPLES:
          hfshare doctor
          sudo hfshare doctor --user alice
          hfshare doctor /shared/huggingface_cache --format jsonl
          sudo hfshare doctor --pid 4242
        """
    )

    @Argument(help: "The shared cache root. Default: the one root registered in /etc/hfshare/roots.", completion: .directory)
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Check this user instead of yourself (root only).", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.users() })
    var user: String?

    @Option(name: .long, help: ArgumentHelp("""
        Check a running process instead (a service that fails): from /proc/PID its environment, ids, \
        groups and umask; whether huggingface_hub would use the shared cache (HF_HUB_CACHE, HF_HOME, \
        XDG_CACHE_HOME, HOME resolved as the client does) and whether it can write there; the fix names \
        its systemd unit (hfshare env --install-unit UNIT). Another user's process needs root.
        """, valueName: "pid"))
    var pid: Int32?

    @Option(name: .long, help: ArgumentHelp("The shared group, for a ROOT that 'hfshare init' did not make.", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String?

    @Option(name: .long, help: "Output format: text, or jsonl (one JSON object per check).")
    var format: DoctorFormat = .text

    @Option(name: .long, help: ArgumentHelp("With --user: seconds the user's login shell, and then the checks run as the user, may take before they are killed.", valueName: "seconds"))
    var timeout: Double = 20

    @Flag(name: .long, help: ArgumentHelp("Internal: the checks root runs as another user.", visibility: .private))
    var child = false

    @Option(name: .long, help: ArgumentHelp("Internal.", visibility: .private))
    var childGid: UInt32?

    @Option(name: .long, help: ArgumentHelp("Internal.", visibility: .private))
    var childAcl: String?

    func run() throws {
        let checks: [DoctorCheck]
        if let pid {
            if user != nil || child { throw ValidationError("--pid checks a process; drop --user") }
            let shared = try SharedCache.resolve(root, group: group)
            let process = try ProcessSnapshot.read(pid: pid)
            checks = ProcessDoctor.check(process, DoctorTarget(shared))
            if format == .text { Output.out("hfshare doctor: pid \(pid), \(Escape.text(shared.root)) (group \(Escape.text(shared.group.name)))\n") }
        } else if child {
            guard let root, let group, let gid = childGid else { throw ValidationError("--child needs ROOT, --group and --child-gid") }
            // Run by root as the user, with no shell in between: the environment and umask of the
            // user's login come from root on stdin (data), and nobody of the same uid may ptrace us.
            Posix.setNotDumpable()
            let target = DoctorTarget(root: Paths.absolute(root), gid: gid, groupName: group, acl: childAcl != "no")
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let login = try JSONDecoder().decode(Doctor.LoginEnvironment.self, from: input)
            umask(mode_t(login.umask))
            checks = Doctor.checkSelf(target, environment: login.environment, child: true)
        } else {
            let shared = try SharedCache.resolve(root, group: group)
            let target = DoctorTarget(shared)
            var who: UserRecord?
            if let user {
                guard let u = NSS.user(named: user) ?? UInt32(user).flatMap({ NSS.user(uid: $0) }) else {
                    throw UsageError("\(user): no such user (NSS); check the name with: getent passwd \(user)")
                }
                if u.uid != geteuid() { who = u }
            }
            if let who {
                guard Posix.isRoot() else {
                    throw UsageError("checking another user needs root (the test runs as that user); try: sudo hfshare doctor --user \(who.name), or let \(who.name) run 'hfshare doctor'")
                }
                guard timeout > 0 && timeout <= 3600 else { throw UsageError("--timeout \(timeout): use 1 to 3600 seconds") }
                Doctor.childTimeout = timeout
                checks = Doctor.checkOther(target, user: who, binary: Self.executable())
            } else {
                checks = Doctor.checkSelf(target, environment: ProcessInfo.processInfo.environment)
            }
            if format == .text {
                let name = who?.name ?? NSS.user(uid: geteuid())?.name ?? String(geteuid())
                Output.out("hfshare doctor: \(name), \(shared.root) (group \(shared.group.name))\n")
            }
        }
        if format == .jsonl {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for c in checks { Output.out(String(decoding: try enc.encode(c), as: UTF8.self) + "\n") }
        } else {
            for c in checks {
                let tag = c.status == .ok ? "ok  " : c.status == .warn ? "warn" : "FAIL"
                Output.out("\(tag) \(c.id): \(Escape.text(c.message))\n")
                if let fix = c.fix, c.status != .ok { Output.out("     fix: \(Escape.text(fix))\n") }
            }
            let failed = checks.filter { $0.status == .fail }.count
            Output.out(failed == 0 ? "all checks passed\n" : "\(failed) check(s) failed\n")
        }
        if checks.contains(where: { $0.status == .fail }) { throw OutcomeStatus.findings }
    }

    /// This binary, by its real path, for the child that runs as the user.
    static func executable() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        if n > 0 { buf[n] = 0; return String(cString: buf) }
        return CommandLine.arguments[0]
    }
}

enum DoctorFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl
}
