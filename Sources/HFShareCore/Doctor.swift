import CHFShare
import Foundation
import Glibc

/// One verdict of `hfshare doctor`: what was checked, how it went, and the exact fix.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case ok, warn, fail }
    public var id: String
    public var status: Status
    public var message: String
    public var fix: String?

    public init(_ id: String, _ status: Status, _ message: String, fix: String? = nil) {
        self.id = id; self.status = status; self.message = message; self.fix = fix
    }
}

/// What doctor needs to know about a shared root; passed to the child that runs as the user, who
/// may not be able to read ROOT/.hfshare/config.json yet.
public struct DoctorTarget: Sendable {
    public var root: String
    public var gid: UInt32
    public var groupName: String
    public var acl: Bool

    public init(root: String, gid: UInt32, groupName: String, acl: Bool) {
        self.root = root; self.gid = gid; self.groupName = groupName; self.acl = acl
    }

    public init(_ shared: SharedCache) {
        self.init(root: shared.root, gid: shared.group.gid, groupName: shared.group.name, acl: shared.policy.aclSupported)
    }
}

/// `hfshare doctor`: can this user use the shared cache, really? Membership through NSS and in the
/// running session, the environment the client will see, the umask, and a real create/write/lock/
/// rename/delete in `hub/` and `hub/.locks/` done with the user's own uid and groups.
public enum Doctor {
    /// The variables the profile snippet sets, and where they must point.
    public static func expectedEnvironment(_ root: String) -> [(String, String)] {
        ClientEnvironment.cacheVariables(root: root).map { ($0.name, $0.path) }
    }

    static let startupFiles = [".profile", ".bash_profile", ".bash_login", ".bashrc", ".zshenv", ".zprofile", ".zshrc",
                               ".config/fish/config.fish", ".pam_environment"]

    // MARK: entry points

    /// Every check for the calling process's user, in this process (its groups, environment, umask).
    /// `child`: run by root through setpriv for another user: membership and sessions were checked by
    /// the parent, whose view of the user's running processes is the real one.
    public static func checkSelf(_ t: DoctorTarget, environment env: [String: String], child: Bool = false) -> [DoctorCheck] {
        let uid = geteuid()
        let user = NSS.user(uid: uid) ?? UserRecord(name: String(uid), uid: uid, gid: getegid(), home: env["HOME"] ?? "/")
        var checks: [DoctorCheck] = []
        if !child {
            let nss = membership(user, t)
            checks.append(nss)
            checks.append(session(user, t, groups: Posix.processGroups(), nssMember: nss.status == .ok))
        }
        checks += environment(env, t, user: user)
        checks.append(umaskCheck(Posix.currentUmask(), acl: t.acl))
        checks += filesystem(t, user: user)
        return checks
    }

    /// Root checking another user: membership and the user's running processes here, the rest in a
    /// child that runs as the user (setpriv --init-groups, through the user's login shell so the
    /// environment is the one a fresh login gets) and re-executes this binary.
    public static func checkOther(_ t: DoctorTarget, user: UserRecord, binary: String) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let nss = membership(user, t)
        checks.append(nss)
        if nss.status == .ok {
            let stale = Sessions.withoutGroup(uid: user.uid, gid: t.gid)
            if stale.isEmpty {
                checks.append(DoctorCheck("session", .ok, "no running process of \(user.name) lacks group \(t.groupName)"))
            } else {
                let shown = stale.prefix(6).map { "\($0.pid) \($0.command)" }.joined(separator: ", ")
                checks.append(DoctorCheck("session", .fail, "\(stale.count) running process(es) of \(user.name) were started before the membership and lack group \(t.groupName) (\(shown)); the client fails with PermissionError there",
                                          fix: "\(user.name) logs out and in again (or runs 'newgrp \(t.groupName)' in each open shell)"))
            }
        }
        checks += runChild(t, user: user, binary: binary)
        return checks
    }

    /// Seconds the user's login shell and the checks may take before their process group is killed.
    nonisolated(unsafe) public static var childTimeout: Double = 20

    /// What a login shell of the user sets up, read as data: the environment (`env -0`) and the umask.
    public struct LoginEnvironment: Codable, Sendable, Equatable {
        public var environment: [String: String]
        public var umask: UInt32
    }

    static let envMarker = "\u{0}HFSHARE-LOGIN-ENV\u{0}"

    /// The user's startup files run here, and only here: in a detached child (no terminal, own session,
    /// time limit) whose output is parsed as data. The checks themselves then run in a second child that
    /// executes this binary directly as the user, with no shell and no startup file in between, and get
    /// that environment from root through their stdin. So nothing a startup file prints can pose as a
    /// result, and nothing it does reaches root's terminal.
    static func runChild(_ t: DoctorTarget, user: UserRecord, binary: String) -> [DoctorCheck] {
        let shell = loginShell(user.name)
        var checks: [DoctorCheck] = []
        let asUser = ["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups", "--reset-env", "/usr/bin/env", "-C", "/"]
        var login: LoginEnvironment?
        do {
            let r = try ChildProcess.run(asUser + [shell, "-l", "-c", "printf '\\0HFSHARE-LOGIN-ENV\\0'; umask; exec /usr/bin/env -0"], timeout: childTimeout)
            if r.timedOut {
                checks.append(DoctorCheck("login", .fail, "the login shell of \(user.name) (\(shell) -l) did not finish within \(Int(childTimeout)) s and was killed (a startup file waits for input or sleeps); the environment checks use none",
                                          fix: "look at the startup files of \(user.name) (~/.profile, ~/.bash_profile, ~/.bashrc) for a command that waits"))
            } else {
                login = parseLogin(r.stdout)
                if login == nil {
                    checks.append(DoctorCheck("login", .fail, "the login shell of \(user.name) (\(shell) -l) exited \(r.status ?? -1) without printing its environment",
                                              fix: "run 'hfshare doctor' as \(user.name) to see it directly"))
                }
            }
        } catch {
            return checks + [DoctorCheck("as-user", .fail, "could not start a process as \(user.name): \(error)", fix: "check that /usr/bin/setpriv (util-linux) is installed")]
        }
        var args = asUser
        for key in ["HFSHARE_SYSCONFDIR", "HFSHARE_PROFILE"] {
            if let v = ProcessInfo.processInfo.environment[key] { args.append("\(key)=\(v)") }
        }
        args += [binary, "doctor", t.root, "--group", t.groupName, "--child-gid", String(t.gid), "--child-acl", t.acl ? "yes" : "no",
                 "--child", "--format", "jsonl"]
        let home = user.home
        let input = login ?? LoginEnvironment(environment: ["HOME": home, "USER": user.name, "LOGNAME": user.name], umask: 0o022)
        let r: ChildProcess.Result
        do {
            r = try ChildProcess.run(args, input: try JSONEncoder().encode(input), timeout: childTimeout)
        } catch {
            return checks + [DoctorCheck("as-user", .fail, "could not start a process as \(user.name): \(error)", fix: "check that /usr/bin/setpriv (util-linux) is installed")]
        }
        if r.timedOut {
            return checks + [DoctorCheck("as-user", .fail, "the checks run as \(user.name) did not finish within \(Int(childTimeout)) s and were killed (a hung filesystem?)",
                                         fix: "hfshare probe \(Shell.quote(t.root))")]
        }
        let decoder = JSONDecoder()
        let known: Set<String> = ["env", "token", "umask", "write-hub", "write-locks", "flock"]
        var got = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap {
            try? decoder.decode(DoctorCheck.self, from: Data($0.utf8))
        }.filter { known.contains($0.id) }
        if login == nil { got.removeAll { $0.id == "env" || $0.id == "umask" } }
        if got.isEmpty || ![0, 1].contains(r.status ?? -1) {
            let msg = String(decoding: r.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return checks + got + [DoctorCheck("as-user", .fail, "the checks run as \(user.name) did not complete (exit \(r.status ?? -1)): \(msg.suffix(400))",
                                               fix: "run 'hfshare doctor' as \(user.name) to see it directly")]
        }
        return checks + got
    }

    /// The output of `printf MARKER; umask; env -0` after whatever the startup files printed.
    static func parseLogin(_ data: Data) -> LoginEnvironment? {
        let marker = Data(envMarker.utf8)
        guard let range = data.range(of: marker, options: .backwards) else { return nil }
        let rest = data[range.upperBound...]
        guard let nl = rest.firstIndex(of: 0x0A),
              let mask = UInt32(String(decoding: rest[rest.startIndex..<nl], as: UTF8.self).trimmingCharacters(in: .whitespaces), radix: 8),
              mask <= 0o777 else { return nil }
        var env: [String: String] = [:]
        for item in rest[(nl + 1)...].split(separator: 0) {
            guard let eq = item.firstIndex(of: UInt8(ascii: "=")) else { continue }
            env[ByteName.decode(Array(item[item.startIndex..<eq]))] = ByteName.decode(Array(item[(eq + 1)...]))
        }
        return LoginEnvironment(environment: env, umask: mask)
    }

    static func loginShell(_ name: String) -> String {
        guard let pw = getpwnam(name), let s = pw.pointee.pw_shell else { return "/bin/sh" }
        let shell = String(cString: s)
        if shell.isEmpty || shell.hasSuffix("/nologin") || shell.hasSuffix("/false") || !FileManager.default.isExecutableFile(atPath: shell) {
            return "/bin/sh"
        }
        return shell
    }

    // MARK: membership

    static func membership(_ user: UserRecord, _ t: DoctorTarget) -> DoctorCheck {
        if user.uid == 0 {
            return DoctorCheck("member", .warn, "running as root: root's files in the cache are owner-not-member findings unless the root was set up with --root-is-member",
                               fix: "download as a member, not as root: hfshare doctor --user NAME")
        }
        if user.gid == t.gid || NSS.groups(of: user).contains(t.gid) {
            return DoctorCheck("member", .ok, "\(user.name) is a member of \(t.groupName) (NSS)")
        }
        return DoctorCheck("member", .fail, "\(user.name) is not a member of \(t.groupName) (NSS: id \(user.name))",
                           fix: "sudo hfshare user add \(user.name) \(Shell.quote(t.root))")
    }

    /// `id -G` of this session against NSS: groups reach a session only at login.
    public static func session(_ user: UserRecord, _ t: DoctorTarget, groups: [UInt32], nssMember: Bool) -> DoctorCheck {
        let has = groups.contains(t.gid)
        switch (nssMember, has) {
        case (true, true), (false, false):
            return DoctorCheck("session", has ? .ok : .warn, has ? "this session has group \(t.groupName) (id -G)" : "this session does not have group \(t.groupName) either")
        case (true, false):
            return DoctorCheck("session", .fail, "\(user.name) is in \(t.groupName), but this session was started before and lacks it (id -G: \(groups.map(String.init).joined(separator: " ")))",
                               fix: "log out and in again, or run: newgrp \(t.groupName)")
        case (false, true):
            return DoctorCheck("session", .warn, "this session still has group \(t.groupName), but \(user.name) is no longer a member: it loses access at the next login")
        }
    }

    // MARK: environment

    static func isInside(_ path: String, _ root: String) -> Bool {
        let p = Paths.absolute(path).split(separator: "/"), r = root.split(separator: "/")
        return p.starts(with: r)
    }

    static func same(_ a: String, _ b: String) -> Bool {
        if Paths.absolute(a) == Paths.absolute(b) { return true }
        guard let ra = realpath(a, nil), let rb = realpath(b, nil) else { return false }
        defer { free(ra); free(rb) }
        return String(cString: ra) == String(cString: rb)
    }

    /// Where a variable is set in the user's shell startup files: "~/.bashrc:12".
    static func whereSet(_ variable: String, home: String) -> [String] {
        var found: [String] = []
        for file in startupFiles {
            guard let text = try? String(contentsOfFile: home + "/" + file, encoding: .utf8) else { continue }
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = line.trimmingCharacters(in: .whitespaces)
                if l.hasPrefix("#") { continue }
                if l.range(of: "(^|[^A-Za-z0-9_])\(variable)[= ]", options: .regularExpression) != nil {
                    found.append("~/\(file):\(i + 1)")
                }
            }
        }
        return found
    }

    public static func environment(_ env: [String: String], _ t: DoctorTarget, user: UserRecord) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let home = env["HOME"] ?? user.home
        let cacheHome = env["XDG_CACHE_HOME"] ?? home + "/.cache"
        let hfHome = env["HF_HOME"] ?? cacheHome + "/huggingface"
        let profile = Paths.profilePath
        let snippetOK = (try? String(contentsOfFile: profile, encoding: .utf8))?.contains(Shell.quote(t.root + "/hub")) ?? false
        var wrong: [String] = [], unset: [String] = [], fixes: [String] = []
        for (key, want) in expectedEnvironment(t.root) {
            guard let value = env[key], !value.isEmpty else { unset.append(key); continue }
            if !same(value, want) {
                wrong.append("\(key)=\(value)")
                let places = whereSet(key, home: home)
                fixes.append(places.isEmpty ? "unset \(key) (set in this shell or by a file outside ~, e.g. /etc/environment)"
                             : "remove the \(key) line from \(places.joined(separator: ", ")) (the profile snippet sets it)")
            }
        }
        let effectiveHub = env["HF_HUB_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? hfHome + "/hub"
        if !wrong.isEmpty {
            checks.append(DoctorCheck("env", .fail, "overridden: \(wrong.joined(separator: ", ")); the client uses \(effectiveHub), not the shared cache",
                                      fix: fixes.joined(separator: "; ")))
        } else if unset.count == 4 && !(user.gid == t.gid || NSS.groups(of: user).contains(t.gid)) {
            checks.append(DoctorCheck("env", .fail, "HF_HUB_CACHE and the other cache variables are not set (the profile snippet sets them for members of \(t.groupName) only): the client uses the private cache \(effectiveHub)",
                                      fix: "sudo hfshare user add \(user.name) \(Shell.quote(t.root)), then log in again"))
        } else if unset.count == 4 {
            var fix = snippetOK ? "log in again (the profile snippet \(profile) sets them for members of \(t.groupName))" : "sudo hfshare init \(Shell.quote(t.root)) --group \(t.groupName)   (writes the profile snippet \(profile))"
            if snippetOK { fix += "; shells that do not read /etc/profile (zsh, some desktop terminals) need '. \(profile)' in ~/.zshrc or ~/.bashrc" }
            checks.append(DoctorCheck("env", .fail, "HF_HUB_CACHE and the other cache variables are not set: the client uses the private cache \(effectiveHub)", fix: fix))
        } else if !unset.isEmpty {
            checks.append(DoctorCheck("env", .warn, "\(unset.joined(separator: ", ")) not set (HF_HUB_CACHE is right)",
                                      fix: snippetOK ? "log in again so the whole profile snippet \(profile) applies" : "sudo hfshare init \(Shell.quote(t.root)) --group \(t.groupName)"))
        } else {
            checks.append(DoctorCheck("env", .ok, "HF_HUB_CACHE, HF_DATASETS_CACHE, HF_XET_CACHE, HF_ASSETS_CACHE point into \(t.root)"))
        }

        // Tokens must never land in ROOT: the client writes the token to HF_TOKEN_PATH (default
        // HF_HOME/token) and saved tokens to HF_HOME/stored_tokens, and chmods their directory 0700.
        let tokenPath = env["HF_TOKEN_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? hfHome + "/token"
        let storedPath = env["HF_STORED_TOKENS_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? hfHome + "/stored_tokens"
        var leaks: [String] = [], causes: [String] = [], tokenFixes: [String] = []
        if isInside(tokenPath, t.root) { leaks.append("the token to \(tokenPath)") }
        if isInside(storedPath, t.root) { leaks.append("saved tokens to \(storedPath)") }
        for key in ["HF_HOME", "HF_TOKEN_PATH", "HF_STORED_TOKENS_PATH"] {
            if let v = env[key], !v.isEmpty, isInside(v, t.root) {
                causes.append("\(key)=\(v)")
                let places = whereSet(key, home: home)
                tokenFixes.append(places.isEmpty ? "unset \(key)" : "remove the \(key) line from \(places.joined(separator: ", "))")
            }
        }
        if !leaks.isEmpty {
            checks.append(DoctorCheck("token", .fail, "\(causes.joined(separator: ", ")): the client would write \(leaks.joined(separator: " and ")), inside the shared cache, where other members can read them (and it chmods that directory 0700, locking them out)",
                                      fix: (tokenFixes.isEmpty ? ["unset HF_HOME HF_TOKEN_PATH"] : tokenFixes).joined(separator: "; ") + "   (the profile snippet sets HF_TOKEN_PATH=$HOME/.cache/huggingface/token and never HF_HOME)"))
        } else {
            checks.append(DoctorCheck("token", .ok, "tokens stay outside the shared cache (\(tokenPath))"))
        }
        return checks
    }

    // MARK: umask

    public static func umaskCheck(_ mask: UInt32, acl: Bool) -> DoctorCheck {
        let text = String(format: "%03o", mask)
        if acl {
            return DoctorCheck("umask", .ok, "umask \(text): fine, the default ACLs make new files group-writable whatever the umask")
        }
        if mask & 0o020 != 0 {
            return DoctorCheck("umask", .fail, "umask \(text) takes group write away, and this filesystem has no default ACLs to give it back: files you download stay read-only for the group",
                               fix: "umask 002   (the profile snippet sets it for members; log in again)")
        }
        return DoctorCheck("umask", .ok, "umask \(text) keeps new files group-writable (needed: this filesystem has no POSIX ACLs)")
    }

    // MARK: the real test

    /// Filesystems on which flock is known to be local to one client or off unless mounted so.
    public static func flockTrap(magic: Int) -> String? {
        switch UInt32(truncatingIfNeeded: magic) {
        case 0x6969: return "NFS: flock goes through the NFS lock manager (NFSv3 lockd / NFSv4 leases); mounts with 'nolock' or 'local_lock=flock' keep locks on one host"
        case 0x0BD0_0BD0: return "Lustre: flock works across clients only when mounted with -o flock (localflock: one client only; noflock: fails)"
        case 0x1983_0326: return "BeeGFS: flock is client-local unless tuneUseGlobalFileLocks=true in beegfs-client.conf"
        case 0x4750_4653: return "GPFS: flock across nodes needs the default 'lockd'-compatible setting; check with your storage admin"
        case 0xFF53_4D42, 0xFE53_4D42: return "SMB/CIFS: flock is emulated; downloads from several hosts may not exclude each other"
        case 0x6573_5546: return "FUSE (e.g. JuiceFS, sshfs): flock semantics depend on the filesystem daemon"
        case 0x00C3_6400: return "CephFS: flock is supported by the kernel client; ceph-fuse needs fuse_set_user_groups and flock support"
        default: return nil
        }
    }

    static func filesystem(_ t: DoctorTarget, user: UserRecord) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let hub = t.root + "/hub"
        let hubFD: FD
        do { hubFD = try FD.openDirectory(hub) } catch let e as SystemError {
            checks.append(DoctorCheck("write-hub", .fail, "cannot open \(hub): \(e.reason)", fix: accessFix(e, t, user)))
            return checks
        } catch { return checks }
        checks.append(probe(hubFD, id: "write-hub", t, user: user))
        if (try? hubFD.stat(".locks"))?.type == .directory, let locks = try? hubFD.openDirectory(".locks") {
            checks.append(probe(locks, id: "write-locks", t, user: user))
        } else {
            checks.append(DoctorCheck("write-locks", .ok, "\(hub)/.locks does not exist yet; the first download creates it (write-hub shows that is allowed)"))
        }
        checks.append(flockCheck(hubFD))
        return checks
    }

    static func accessFix(_ e: SystemError, _ t: DoctorTarget, _ user: UserRecord) -> String {
        if e.errno == EACCES || e.errno == EPERM {
            return "check 'member' and 'session' above; if both are ok the cache is broken: hfshare audit \(Shell.quote(t.root)), then sudo hfshare repair \(Shell.quote(t.root))"
        }
        if e.errno == EROFS { return "the filesystem is mounted read-only; remount it read-write" }
        if e.errno == EDQUOT || e.errno == ENOSPC { return "the filesystem is full or \(user.name) is over quota: df -h \(Shell.quote(t.root)); quota -s \(user.name)" }
        return "hfshare audit \(Shell.quote(t.root))"
    }

    /// What the client does, in a scratch directory: mkdir, create + write a `*.incomplete`, fsync,
    /// rename it, lock a `*.lock` (and see a second descriptor being refused), then delete it all.
    /// Also checks that what was created is group-writable, as the next member needs.
    static func probe(_ dir: FD, id: String, _ t: DoctorTarget, user: UserRecord) -> DoctorCheck {
        let scratch = ".hfshare-doctor-\(user.uid)-\(getpid())"
        var step = "mkdir"
        var created: [String] = []
        var sub: FD?
        defer {
            if let sub { for name in created.reversed() { try? sub.unlink(name) } }
            try? dir.unlink(scratch, directory: true)
        }
        do {
            try dir.mkdir(scratch, mode: 0o777) // like os.makedirs: the umask and the default ACL decide
            let s = try dir.openDirectory(scratch)
            sub = s
            step = "create"
            let f = try s.openat("probe.incomplete", flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o666)
            created.append("probe.incomplete")
            step = "write"
            try Array("hfshare doctor\n".utf8).withUnsafeBytes { try f.writeAll($0) }
            try f.fsync()
            step = "rename"
            try s.rename("probe.incomplete", to: "probe")
            created[created.count - 1] = "probe"
            step = "lock"
            let l = try s.openat("probe.lock", flags: O_RDWR | O_CREAT | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o666)
            created.append("probe.lock")
            guard try l.tryExclusiveLock() else { throw SystemError("flock", l.path, EWOULDBLOCK) }
            l.unlock()
            // Group-writable for the next member? (setgid gives the group, the default ACL or umask the bits.)
            let st = try s.stat("probe")
            let acl = t.acl ? (try? ACLStore.readEntry(in: s, "probe")) ?? nil : nil
            let policy = Policy(gid: t.gid, groupName: t.groupName, aclSupported: t.acl)
            let rights = policy.groupRights(Policy.Entry(name: "probe", stat: st, access: acl), need: .rw)
            step = "delete"
            for name in created.reversed() { try s.unlink(name) }
            created = []
            try dir.unlink(scratch, directory: true)
            sub = nil
            if st.gid != t.gid {
                return DoctorCheck(id, .fail, "create, write, rename, lock and delete work in \(dir.path), but new files get group \(NSS.group(gid: st.gid)?.name ?? String(st.gid)), not \(t.groupName) (the directory lost its setgid bit)",
                                   fix: "sudo hfshare repair \(Shell.quote(t.root))")
            }
            if !rights.effective {
                return DoctorCheck(id, .fail, "create, write, rename, lock and delete work in \(dir.path), but new files are not group-writable (\(acl.map { "acl \($0)" } ?? String(format: "mode %o", st.permissions))): other members could not update them",
                                   fix: t.acl ? "sudo hfshare repair \(Shell.quote(t.root))   (restores the default ACLs)" : "umask 002   (the profile snippet sets it; log in again)")
            }
            return DoctorCheck(id, .ok, "create, write, rename, lock and delete work in \(dir.path); new files are group-writable")
        } catch let e as SystemError {
            return DoctorCheck(id, .fail, "\(user.name) cannot \(step) in \(dir.path): \(e.reason)", fix: accessFix(e, t, user))
        } catch {
            return DoctorCheck(id, .fail, "\(step) in \(dir.path) failed: \(error)", fix: "hfshare audit \(Shell.quote(t.root))")
        }
    }

    /// Does flock exclude? Tried as `hfshare probe` tries it (one implementation): several processes
    /// take, share and contend for a lock in a scratch dir in hub/. Where that fails (EIO from some
    /// processes on JuiceFS 0.14, ENOLCK, ENOSYS) or does not exclude, the client's download locks
    /// protect nothing.
    static func flockCheck(_ hub: FD) -> DoctorCheck {
        let trap = flockTrap(magic: hub.filesystemMagic)
        let checks: [ProbeCheck]
        do { checks = try FilesystemProbe.lockChecks(in: hub) } catch let e as SystemError {
            if e.errno == EACCES || e.errno == EPERM { return DoctorCheck("flock", .warn, "could not test flock: \(e.reason) (see write-hub)") }
            return DoctorCheck("flock", .fail, "flock test failed here (\(e.reason)): huggingface_hub cannot lock downloads", fix: trap ?? "mount the filesystem with flock support (Lustre: -o flock)")
        } catch {
            return DoctorCheck("flock", .fail, "\(error)")
        }
        let flockChecks = checks.filter { $0.id == .flockExclusive || $0.id == .flockShared || $0.id == .flockNonblocking }
        if let bad = flockChecks.first(where: { $0.answer != .yes }) {
            return DoctorCheck("flock", .fail, "flock does not work reliably here (\(bad.id.rawValue): \(bad.detail)): huggingface_hub's download locks fail or protect nothing",
                               fix: trap ?? "mount the filesystem with flock support (Lustre: -o flock); run: hfshare probe \(Shell.quote(hub.path))")
        }
        if let trap { return DoctorCheck("flock", .warn, "flock works on this host; across hosts: \(trap)") }
        return DoctorCheck("flock", .ok, "flock excludes (local filesystem)")
    }
}
