import CHFShare
import Foundation
import Glibc

/// A running process as the kernel describes it in /proc/PID: what `doctor --pid` judges.
public struct ProcessSnapshot: Sendable {
    public var pid: Int32
    public var command: String
    /// The environment it was started with (/proc/PID/environ): bytes, decoded losslessly (ByteName,
    /// like Python's surrogateescape), so a path that is not UTF-8 still names the same file.
    public var environment: [String: String]
    /// Real uid (huggingface_hub's `~` falls back to its passwd home), and the file-system ids the
    /// kernel checks permissions with.
    public var uid: UInt32
    public var fsuid: UInt32
    public var fsgid: UInt32
    public var groups: [UInt32]
    public var umask: UInt32?
    public var capabilities: Capabilities
    public var cwd: String?
    public var cgroup: String
    /// False when the process sees another `/` (a container, a chroot): its paths are not ours.
    public var sharesOurRoot = true

    public init(pid: Int32, command: String, environment: [String: String], uid: UInt32, fsuid: UInt32, fsgid: UInt32,
                groups: [UInt32], umask: UInt32?, capabilities: Capabilities = [], cwd: String? = nil, cgroup: String = "") {
        self.pid = pid; self.command = command; self.environment = environment; self.uid = uid; self.fsuid = fsuid
        self.fsgid = fsgid; self.groups = groups; self.umask = umask; self.capabilities = capabilities; self.cwd = cwd; self.cgroup = cgroup
    }

    /// Every gid the kernel matches files against.
    public var gids: [UInt32] { groups.contains(fsgid) ? groups : [fsgid] + groups }

    public var credentials: Credentials { Credentials(uid: fsuid, gids: gids, capabilities: capabilities) }

    /// Reads /proc/PID. Another user's environment needs root (or the same user).
    public static func read(pid: Int32) throws -> ProcessSnapshot {
        let dir = "/proc/\(pid)"
        guard let status = try? String(contentsOfFile: dir + "/status", encoding: .utf8) else {
            throw UsageError("no process \(pid) (\(dir)/status is not readable); check the PID: ps -p \(pid)")
        }
        let environ: Data
        do { environ = try Data(contentsOf: URL(fileURLWithPath: dir + "/environ")) } catch {
            throw UsageError("\(dir)/environ: cannot read the environment of process \(pid) (\(error.localizedDescription)); run as root or as the process's user: sudo hfshare doctor --pid \(pid)")
        }
        var fields: [String: [String]] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        func ids(_ key: String) -> [UInt32] { (fields[key] ?? []).compactMap { UInt32($0) } }
        let uids = ids("Uid"), gidList = ids("Gid")
        guard uids.count == 4, gidList.count == 4 else { throw UsageError("\(dir)/status: no Uid/Gid lines; is /proc mounted?") }
        var caps: Capabilities = []
        if let hex = fields["CapEff"]?.first, let bits = UInt64(hex, radix: 16) {
            if bits & (1 << 1) != 0 { caps.insert(.dacOverride) }
            if bits & (1 << 2) != 0 { caps.insert(.dacReadSearch) }
        }
        var snap = ProcessSnapshot(
            pid: pid, command: (fields["Name"] ?? []).joined(separator: " "), environment: [:], uid: uids[0],
            fsuid: uids[3], fsgid: gidList[3], groups: ids("Groups"), umask: fields["Umask"]?.first.flatMap { UInt32($0, radix: 8) },
            capabilities: caps,
            cwd: try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/cwd"),
            cgroup: (try? String(contentsOfFile: dir + "/cgroup", encoding: .utf8)) ?? "")
        snap.environment = parseEnviron([UInt8](environ))
        var theirs = stat(), ours = stat()
        if stat(dir + "/root", &theirs) == 0, stat("/", &ours) == 0 {
            snap.sharesOurRoot = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino
        }
        return snap
    }

    /// NUL-separated NAME=VALUE entries; the first `=` ends the name, as getenv sees it. Python
    /// (huggingface_hub) takes the last of duplicate names, so do we.
    public static func parseEnviron(_ bytes: [UInt8]) -> [String: String] {
        var env: [String: String] = [:]
        for entry in bytes.split(separator: 0) {
            guard let eq = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            env[ByteName.decode(Array(entry[entry.startIndex..<eq]))] = ByteName.decode(Array(entry[(eq + 1)...]))
        }
        return env
    }

    /// The systemd unit the process runs in, from its cgroup (the name=systemd hierarchy on v1/hybrid
    /// machines, the unified one on v2).
    public var unit: RunsIn { RunsIn.from(cgroup: cgroup) }
}

/// Where a process was started from, which decides the fix.
public enum RunsIn: Equatable, Sendable {
    case systemService(String)
    case userService(String)
    case container(String)
    case other

    public static func from(cgroup text: String) -> RunsIn {
        var path = ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[1] == "name=systemd" { path = String(parts[2]); break }
            if parts[0] == "0" && parts[1].isEmpty { path = String(parts[2]) }
        }
        let parts = path.split(separator: "/").map(String.init)
        if let c = parts.first(where: { $0.hasPrefix("docker-") || $0.hasPrefix("libpod-") || $0.hasPrefix("cri-containerd-") }) ?? (parts.first == "docker" ? parts.dropFirst().first : nil) {
            return .container(c)
        }
        guard let i = parts.lastIndex(where: { $0.hasSuffix(".service") }) else { return .other }
        if parts[..<i].contains(where: { $0.hasPrefix("user@") && $0.hasSuffix(".service") }) { return .userService(parts[i]) }
        if parts[i].hasPrefix("user@") { return .other }
        return .systemService(parts[i])
    }
}

/// Where huggingface_hub (2.4, `huggingface_hub/constants.py`) puts things for a given environment,
/// computed the way Python does it: `os.getenv` (an empty value counts as set), `os.path.expanduser`
/// (HOME, else the passwd home of the real uid), `os.path.expandvars` (`$NAME`/`${NAME}`, unknown
/// names left as they are), `os.path.join`.
public struct ClientPaths: Equatable, Sendable {
    public var hfHome: String
    public var hubCache: String
    public var assetsCache: String
    public var xetCache: String
    public var datasetsCache: String
    public var tokenPath: String

    public static func resolve(_ env: [String: String], passwdHome: String?, lookupHome: @escaping (String) -> String? = ClientPaths.homeOf) -> ClientPaths {
        let py = PythonPaths(env: env, passwdHome: passwdHome, lookupHome: lookupHome)
        let defaultHome = PythonPaths.join(py.expanduser("~"), ".cache")
        let hfHome = py.expand(env["HF_HOME"] ?? PythonPaths.join(env["XDG_CACHE_HOME"] ?? defaultHome, "huggingface"))
        let hub = py.expand(env["HF_HUB_CACHE"] ?? env["HUGGINGFACE_HUB_CACHE"] ?? PythonPaths.join(hfHome, "hub"))
        let assets = py.expand(env["HF_ASSETS_CACHE"] ?? env["HUGGINGFACE_ASSETS_CACHE"] ?? PythonPaths.join(hfHome, "assets"))
        let xet = env["HF_XET_CACHE"] ?? PythonPaths.join(hfHome, "xet")
        // datasets/config.py: expanduser only, with its own "~/.cache" default.
        let datasetsHome = py.expanduser(env["HF_HOME"] ?? PythonPaths.join(env["XDG_CACHE_HOME"] ?? "~/.cache", "huggingface"))
        let datasets = env["HF_DATASETS_CACHE"] ?? PythonPaths.join(datasetsHome, "datasets")
        let staging = ["1", "ON", "YES", "TRUE"].contains((env["HUGGINGFACE_CO_STAGING"] ?? "").uppercased())
        let token = staging ? PythonPaths.join(py.expanduser("~"), ".cache/huggingface_staging/token")
            : py.expand(env["HF_TOKEN_PATH"] ?? PythonPaths.join(hfHome, "token"))
        return ClientPaths(hfHome: hfHome, hubCache: hub, assetsCache: assets, xetCache: xet, datasetsCache: datasets, tokenPath: token)
    }

    public static func homeOf(_ name: String) -> String? { NSS.user(named: name)?.home }
}

struct PythonPaths {
    var env: [String: String]
    var passwdHome: String?
    var lookupHome: (String) -> String?

    func expand(_ p: String) -> String { expandvars(expanduser(p)) }

    /// posixpath.expanduser.
    func expanduser(_ path: String) -> String {
        guard path.hasPrefix("~") else { return path }
        let chars = Array(path.unicodeScalars)
        let i = chars.dropFirst().firstIndex(of: "/") ?? chars.count
        let home: String
        if i == 1 {
            guard let h = env["HOME"] ?? passwdHome else { return path }
            home = h
        } else {
            var name = ""; name.unicodeScalars.append(contentsOf: chars[1..<i])
            guard let h = lookupHome(name) else { return path }
            home = h
        }
        var trimmed = home
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        var rest = ""; rest.unicodeScalars.append(contentsOf: chars[i...])
        let result = trimmed + rest
        return result.isEmpty ? "/" : result
    }

    /// posixpath.expandvars: `\$(\w+|\{[^}]*\})` (ASCII \w); a known name is replaced and the scan
    /// goes on after the replacement, an unknown one is left as it is.
    func expandvars(_ path: String) -> String {
        guard path.contains("$") else { return path }
        var s = Array(path.unicodeScalars)
        var i = 0
        func isWord(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        while i < s.count {
            guard s[i] == "$", i + 1 < s.count else { i += 1; continue }
            var name: [Unicode.Scalar] = [], end = i + 1
            if s[i + 1] == "{" {
                guard let close = s[(i + 2)...].firstIndex(of: "}") else { i += 1; continue }
                name = Array(s[(i + 2)..<close]); end = close + 1
            } else {
                while end < s.count && isWord(s[end]) { name.append(s[end]); end += 1 }
                if name.isEmpty { i += 1; continue }
            }
            var key = ""; key.unicodeScalars.append(contentsOf: name)
            if let value = env[key] {
                let v = Array(value.unicodeScalars)
                s.replaceSubrange(i..<end, with: v)
                i += v.count
            } else {
                i = end
            }
        }
        var out = ""; out.unicodeScalars.append(contentsOf: s)
        return out
    }

    /// posixpath.join of two parts.
    static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") { return b }
        if a.isEmpty || a.hasSuffix("/") { return a + b }
        return a + "/" + b
    }
}

/// `hfshare doctor --pid PID`: would this running process (a service that fails, a notebook server)
/// use the shared cache, and could it write there? Judged from /proc (its environment, ids, groups,
/// umask) with the one permission check (Access), never by running anything as it.
public enum ProcessDoctor {
    public static func check(_ p: ProcessSnapshot, _ t: DoctorTarget) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let user = NSS.user(uid: p.fsuid)
        let userName = user?.name ?? String(p.fsuid)
        let runsIn = p.unit
        let rootArg = Shell.quote(t.root)
        let fix: String
        switch runsIn {
        case .systemService(let unit):
            fix = "sudo hfshare env \(rootArg) --install-unit \(Shell.quote(unit)) && sudo systemctl restart \(Shell.quote(unit))"
        case .userService(let unit):
            fix = "systemctl --user edit \(Shell.quote(unit)), paste the output of 'hfshare env \(rootArg) --format systemd', then systemctl --user restart \(Shell.quote(unit))"
        case .container(let c):
            fix = "recreate the container (\(c)) with the flags of: hfshare env \(rootArg) --format docker"
        case .other:
            fix = "restart it from a fresh login of \(userName) (the profile snippet sets the variables for members), or start it with the lines of: hfshare env \(rootArg) --format sh"
        }
        let whereText: String
        switch runsIn {
        case .systemService(let u): whereText = "systemd service \(u)"
        case .userService(let u): whereText = "user service \(u)"
        case .container(let c): whereText = "container \(c)"
        case .other: whereText = "no systemd service"
        }
        let groupNames = p.gids.map { NSS.group(gid: $0)?.name ?? String($0) }.joined(separator: ",")
        if !p.sharesOurRoot {
            checks.append(DoctorCheck("root", .warn, "the process runs in another root directory (a container or chroot): its paths are judged as this host sees them, which may not be what it sees",
                                      fix: "check inside it: hfshare env \(rootArg) --format docker shows the mount and variables it needs"))
        }
        checks.append(DoctorCheck("process", .ok, "pid \(p.pid) (\(Escape.text(p.command))): uid \(userName), groups \(groupNames), umask \(p.umask.map { String(format: "%04o", $0) } ?? "unknown"), \(whereText)"))

        // The group.
        let hasGroup = p.gids.contains(t.gid)
        if hasGroup {
            checks.append(DoctorCheck("group", .ok, "the process has group \(t.groupName)"))
        } else {
            var why = "the process lacks group \(t.groupName) (gid \(t.gid))"
            if let user, user.gid == t.gid || NSS.groups(of: user).contains(t.gid) {
                why += "; \(userName) is a member now, so it was started before joining or with its groups reset"
            } else {
                why += "; \(userName) is not a member (NSS)"
            }
            checks.append(DoctorCheck("group", .fail, why + ": it cannot write the shared cache", fix: fix))
        }

        // Where the client would put things.
        let paths = ClientPaths.resolve(p.environment, passwdHome: NSS.user(uid: p.uid)?.home)
        func absolute(_ s: String) -> String { Paths.absolute(s.hasPrefix("/") ? s : (p.cwd ?? "/") + "/" + s) }
        let hub = absolute(paths.hubCache)
        let sharedHub = t.root + "/hub"
        let usesShared = sameDirectory(hub, sharedHub)
        if usesShared {
            checks.append(DoctorCheck("cache", .ok, "huggingface_hub would use the shared cache \(Escape.text(sharedHub))"))
        } else {
            var why = "huggingface_hub would use \(Escape.text(hub)), not the shared cache \(Escape.text(sharedHub))"
            let set = ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"].filter { p.environment[$0] != nil }
            why += set.isEmpty ? ": HF_HUB_CACHE is not set" : " (from \(set.map { "\($0)=\(Escape.text(p.environment[$0]!))" }.joined(separator: ", ")))"
            checks.append(DoctorCheck("cache", .fail, why, fix: fix))
        }
        var off: [String] = []
        for (name, value, want) in [("HF_DATASETS_CACHE", paths.datasetsCache, "datasets"), ("HF_XET_CACHE", paths.xetCache, "xet"),
                                    ("HF_ASSETS_CACHE", paths.assetsCache, "assets")] where !sameDirectory(absolute(value), t.root + "/" + want) {
            off.append("\(name) -> \(Escape.text(absolute(value)))")
        }
        if !off.isEmpty {
            checks.append(DoctorCheck("env", .warn, "not shared: \(off.joined(separator: ", "))", fix: fix))
        }

        // Tokens must stay out of ROOT.
        let token = absolute(paths.tokenPath)
        if Doctor.isInside(token, t.root) {
            checks.append(DoctorCheck("token", .fail, "the client would write the token to \(Escape.text(token)), inside the shared cache (HF_HOME or HF_TOKEN_PATH point there)", fix: fix))
        }

        // Could it write where it would write? The kernel's check, for its ids and capabilities.
        let target = usesShared ? sharedHub : hub
        checks.append(writable(target, p, id: "write", fix: usesShared ? fix : nil, t))
        if usesShared, (try? FD.openDirectory(sharedHub).stat(".locks"))?.type == .directory {
            checks.append(writable(sharedHub + "/.locks", p, id: "write-locks", fix: fix, t))
        }

        // Without ACLs the umask decides whether the group can write what it creates.
        if !t.acl {
            if let mask = p.umask, mask & 0o020 != 0 {
                checks.append(DoctorCheck("umask", .fail, String(format: "umask %04o takes group write away and this filesystem has no POSIX ACLs: files it downloads stay read-only for the group", mask),
                                          fix: fix))
            } else if p.umask == nil {
                checks.append(DoctorCheck("umask", .warn, "the kernel does not show the umask (Umask: in /proc/PID/status needs Linux 4.7)"))
            }
        }
        return checks
    }

    /// Same directory: the same spelling, or the same inode (a symlinked spelling of ROOT).
    static func sameDirectory(_ a: String, _ b: String) -> Bool {
        if Paths.absolute(a) == Paths.absolute(b) { return true }
        var sa = stat(), sb = stat()
        guard exists(a, &sa, follow: true), exists(b, &sb, follow: true) else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// stat/lstat of a path that may hold bytes that are not UTF-8 (encoded back as ByteName decoded them).
    static func exists(_ path: String, _ st: inout stat, follow: Bool) -> Bool {
        let bytes = ByteName.bytes(path).map { CChar(bitPattern: $0) } + [0]
        return (follow ? stat(bytes, &st) : lstat(bytes, &st)) == 0
    }

    /// Can the process create entries in `dir` (or, if it does not exist yet, make it under the nearest
    /// existing ancestor)? Access.decide on every component, for the process's fsuid, groups and
    /// capabilities.
    static func writable(_ dir: String, _ p: ProcessSnapshot, id: String, fix: String?, _ t: DoctorTarget) -> DoctorCheck {
        var existing = Paths.absolute(dir)
        var st = stat()
        while existing != "/" && !exists(existing, &st, follow: false) { existing = (existing as NSString).deletingLastPathComponent }
        let who = p.credentials
        do {
            for c in try Access.ancestors(of: existing, for: who) where !c.searchable {
                return DoctorCheck(id, .fail, "the process cannot reach \(Escape.text(dir)): no search (x) permission on \(Escape.text(c.path))",
                                   fix: fix ?? "hfshare namei \(Shell.quote(dir)) --user \(NSS.user(uid: p.fsuid)?.name ?? String(p.fsuid))")
            }
            let fd = try Paths.openVerifiedDirectory(existing)
            let st = try fd.stat()
            let acl = try ACLStore.read(fd, .access)
            let d = Access.decide(who, stat: st, acl: acl, want: [.write, .execute])
            let what = existing == Paths.absolute(dir) ? Escape.text(dir) : "\(Escape.text(existing)) (to create \(Escape.text(dir)))"
            if d.allowed { return DoctorCheck(id, .ok, "the process can write \(what)") }
            return DoctorCheck(id, .fail, "the process cannot write \(what)\(d.maskLimited ? " (the ACL mask limits it)" : "")",
                               fix: fix ?? "hfshare namei \(Shell.quote(existing)) --want write --user \(NSS.user(uid: p.fsuid)?.name ?? String(p.fsuid))")
        } catch let e as UsageError {
            return DoctorCheck(id, .warn, "cannot check \(Escape.text(dir)): \(e.description)")
        } catch let e as SystemError {
            return DoctorCheck(id, .warn, "cannot check \(Escape.text(dir)): \(e.description)")
        } catch {
            return DoctorCheck(id, .warn, "cannot check \(Escape.text(dir)): \(error)")
        }
    }
}
