import Foundation
import Glibc

/// The environment a member process needs to use the shared cache: one list, rendered for each place
/// a process can start (a login shell's profile, a systemd unit, `docker run`, a compose file).
public enum ClientEnvironment {
    /// Where a variable points: into ROOT, or into the home of whoever runs the process.
    public enum Value: Equatable, Sendable {
        case path(String)
        /// Relative to the process's home; huggingface_hub expands `~` in HF_TOKEN_PATH itself, so
        /// formats that cannot expand `$HOME` (systemd Environment=, docker -e) pass `~/...`.
        case home(String)
        /// A fixed value (`HF_HUB_OFFLINE=1`).
        case literal(String)
    }

    /// The cache variables `hfshare init`'s profile snippet sets (and `doctor` expects), in order.
    public static func cacheVariables(root: String) -> [(name: String, path: String)] {
        [("HF_HUB_CACHE", root + "/hub"), ("HF_DATASETS_CACHE", root + "/datasets"),
         ("HF_XET_CACHE", root + "/xet"), ("HF_ASSETS_CACHE", root + "/assets")]
    }

    /// The per-user token, never inside ROOT (HF_HOME is never set to ROOT: huggingface_hub chmods
    /// the token's directory 0700).
    public static let tokenVariable = (name: "HF_TOKEN_PATH", home: ".cache/huggingface/token")
    /// transformers' cache of `trust_remote_code` modules, imported into every process: per user, never shared.
    public static let modulesVariable = (name: "HF_MODULES_CACHE", home: ".cache/huggingface/modules")

    /// Every variable, in the order they are written. A reader (issue #17) reads the hub cache offline
    /// (`HF_HUB_OFFLINE=1`: no download is tried, so no lock or blob is ever written) and keeps
    /// everything the client must write in its own home: datasets, xet and assets caches, token, modules.
    public static func variables(root: String, reader: Bool = false) -> [(name: String, value: Value)] {
        let perUser: [(name: String, value: Value)] = [(tokenVariable.name, .home(tokenVariable.home)), (modulesVariable.name, .home(modulesVariable.home))]
        if reader {
            return [("HF_HUB_CACHE", .path(root + "/hub")), ("HF_HUB_OFFLINE", .literal("1")),
                    ("HF_DATASETS_CACHE", .home(".cache/huggingface/datasets")), ("HF_XET_CACHE", .home(".cache/huggingface/xet")),
                    ("HF_ASSETS_CACHE", .home(".cache/huggingface/assets"))] + perUser
        }
        return cacheVariables(root: root).map { ($0.name, Value.path($0.path)) } + perUser
    }

    /// Without POSIX ACLs only a group-friendly umask keeps new files group-writable.
    public static func umask(acl: Bool) -> UInt32? { acl ? nil : 0o002 }

    /// The shell lines (profile snippet, `env --format sh`): exports and, without ACLs, the umask.
    public static func shellLines(root: String, acl: Bool, reader: Bool = false) -> [String] {
        var lines = variables(root: root, reader: reader).map { v -> String in
            switch v.value {
            case .path(let p), .literal(let p): return "export \(v.name)=\(Quote.shell(p))"
            case .home(let rel): return "export \(v.name)=\"${HOME}/\(rel)\""
            }
        }
        if !reader, let mask = umask(acl: acl) {
            lines.append("# This filesystem has no POSIX ACLs: group-writable files need a group-friendly umask.")
            lines.append("umask " + String(format: "%03o", mask))
        }
        return lines
    }
}

/// One quoting function per format a value is written into. A value that a format cannot carry
/// safely is refused (UsageError), never written half-escaped.
public enum Quote {
    /// POSIX shell: taken literally by sh, bash, zsh (single quotes; `'` as `'\''`).
    public static func shell(_ s: String) -> String { Shell.quote(s) }

    /// One systemd `Environment=` assignment, `"NAME=value"`: inside double quotes systemd unescapes
    /// C-style (`\\`, `\"`), and `%` starts a specifier (`%%` is a literal %). `$` is not expanded in
    /// Environment=. Control characters (newline ends the line) are refused.
    public static func systemdAssignment(_ name: String, _ value: String) throws -> String {
        guard isVariableName(name) else { throw UsageError("\(Escape.text(name)): not a valid environment variable name") }
        try refuseControl(value, what: "systemd unit")
        var out = "\""
        for ch in (name + "=" + value).unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "%": out += "%%"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    /// A YAML double-quoted scalar for docker compose: `\\`, `\"`, control characters as `\xNN`;
    /// `$` doubled because compose interpolates `$VAR`/`${VAR}` in every value.
    public static func compose(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "$": out += "$$"
            default:
                if ch.value < 0x20 || ch.value == 0x7F || (ch.value >= 0x80 && ch.value < 0xA0) {
                    out += ch.value < 0x100 ? String(format: "\\x%02X", ch.value) : String(format: "\\u%04X", ch.value)
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }

    /// `docker run -v SRC:DST`: the colon and comma separate fields and cannot be escaped.
    public static func dockerVolume(_ path: String, readOnly: Bool = false) throws -> String {
        try refuseControl(path, what: "docker run flags")
        if path.contains(":") || path.contains(",") {
            throw UsageError("\(Escape.text(path)): contains ':' or ',', which 'docker run -v' cannot carry; use --format compose (long volume syntax) or a path without them")
        }
        return shell(path + ":" + path + (readOnly ? ":ro" : ""))
    }

    static func refuseControl(_ s: String, what: String) throws {
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) {
            throw UsageError("\(Escape.text(s)): contains control characters (a newline would end the line); refusing to write it into a \(what)")
        }
        if ByteName.hasRawBytes(s) {
            throw UsageError("\(Escape.text(s)): is not UTF-8; refusing to write it into a \(what) (use a UTF-8 path for the cache)")
        }
    }

    static func isVariableName(_ s: String) -> Bool {
        guard let f = s.utf8.first, !(f >= 0x30 && f <= 0x39) else { return false }
        return s.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

/// The formats of `hfshare env`.
public enum EnvFormat: String, CaseIterable, Sendable {
    case sh, systemd, docker, compose
}

/// `hfshare env`: what a member process needs, written for where it runs.
public struct EnvRenderer: Sendable {
    /// The shared cache as doctor sees it: root, group, gid, whether ACLs work (one value for both).
    public var cache: DoctorTarget
    /// Render for a reader group (read-only, offline, per-user writable places) instead of a writer.
    public var reader: ReaderGroup?
    public var root: String { cache.root }
    public var group: String { reader?.group ?? cache.groupName }
    public var gid: UInt32 { reader?.gid ?? cache.gid }
    public var acl: Bool { cache.acl }
    var umask: UInt32? { reader == nil ? ClientEnvironment.umask(acl: acl) : nil }
    var variables: [(name: String, value: ClientEnvironment.Value)] { ClientEnvironment.variables(root: root, reader: reader != nil) }

    public init(root: String, group: String, gid: UInt32, acl: Bool) {
        cache = DoctorTarget(root: root, gid: gid, groupName: group, acl: acl)
    }

    public init(_ shared: SharedCache) { cache = DoctorTarget(shared) }

    public func render(_ format: EnvFormat) throws -> String {
        // One rule for every format: text a person pastes or a program parses carries no control
        // characters and only UTF-8 (sh's profile is read by dash, which has no $'...' quoting).
        try Quote.refuseControl(root, what: "\(format.rawValue) snippet")
        switch format {
        case .sh: return shell()
        case .systemd: return try systemd()
        case .docker: return try docker()
        case .compose: return try compose()
        }
    }

    var header: String {
        "Shared Hugging Face cache \(root) for \(reader == nil ? "group" : "read-only use by reader group") \(group) (gid \(gid))"
    }

    /// A comment line: whatever the path holds, it cannot end the comment.
    func comment(_ s: String) -> String { "# " + Escape.text(s) }

    public func shell() -> String {
        ([comment(header + ": for \(reader == nil ? "members'" : "readers'") shells (the profile snippet sets the same for them).")]
            + ClientEnvironment.shellLines(root: root, acl: acl, reader: reader != nil)).joined(separator: "\n") + "\n"
    }

    /// `SupplementaryGroups=` takes names or numbers separated by spaces: a name that is not a plain
    /// portable name (directory groups like "domain users") is written as its GID.
    var systemdGroup: String {
        let portable = !group.isEmpty && group.utf8.first != UInt8(ascii: "-") && group.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
        return portable ? group : String(gid)
    }

    /// A drop-in for the service that uses the cache: `[Service]` with the environment, the group,
    /// and, without ACLs, the umask.
    public func systemd() throws -> String {
        var lines = [comment("Written by hfshare env --format systemd. " + header + "."),
                     "# HF_TOKEN_PATH keeps the token in the service user's home (huggingface_hub expands ~).",
                     "[Service]"]
        for v in variables {
            switch v.value {
            case .path(let p), .literal(let p): lines.append("Environment=" + (try Quote.systemdAssignment(v.name, p)))
            case .home(let rel): lines.append("Environment=" + (try Quote.systemdAssignment(v.name, "~/" + rel)))
            }
        }
        lines.append("SupplementaryGroups=\(systemdGroup)")
        if let mask = umask {
            lines.append("# This filesystem has no POSIX ACLs: new files are group-writable only with this umask.")
            lines.append("UMask=" + String(format: "%04o", mask))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `docker run` flags: the cache mounted at the same path (so symlinks in snapshots/ resolve),
    /// the group by number (the image does not know its name), the environment.
    public func docker() throws -> String {
        var lines = [comment(header + ": flags for docker run (or podman run)."),
                     "# Run as yourself so files are yours and group \(gid) is added: --user \"$(id -u):$(id -g)\" (rootless podman: --userns=keep-id).",
                     "# Never add :U (podman) or :z/:Z relabel-chown options to this volume: they would chown or relabel the whole shared cache."]
        if let mask = umask {
            lines.append("# No POSIX ACLs here: start the process with umask \(String(format: "%03o", mask)), e.g. sh -c 'umask \(String(format: "%03o", mask)) && exec \"$@\"' sh CMD...")
        }
        var flags = ["-v " + (try Quote.dockerVolume(root, readOnly: reader != nil)), "--group-add \(gid)"]
        for v in variables {
            switch v.value {
            case .path(let p), .literal(let p):
                try Quote.refuseControl(p, what: "docker run flags")
                flags.append("-e " + Quote.shell(v.name + "=" + p))
            case .home(let rel): flags.append("-e " + Quote.shell(v.name + "=~/" + rel))
            }
        }
        lines += flags.enumerated().map { $0.offset == flags.count - 1 ? $0.element : $0.element + " \\" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A compose service snippet to merge into the service that uses the cache.
    public func compose() throws -> String {
        var lines = [comment(header + ": merge into your service in compose.yaml."),
                     "# Run as yourself: user: \"UID:GID\" (your numbers); never mount the cache with :U or :z.",
                     "services:",
                     "  app:",
                     "    group_add:",
                     "      - \"\(gid)\"",
                     "    volumes:",
                     "      - type: bind",
                     "        source: \(Quote.compose(root))",
                     "        target: \(Quote.compose(root))",
                     reader == nil ? nil : "        read_only: true",
                     "    environment:"].compactMap { $0 }
        for v in variables {
            switch v.value {
            case .path(let p), .literal(let p): lines.append("      \(v.name): \(Quote.compose(p))")
            case .home(let rel): lines.append("      \(v.name): \(Quote.compose("~/" + rel))")
            }
        }
        if let mask = umask {
            lines.append("    # No POSIX ACLs here: start the command with umask \(String(format: "%03o", mask)) (e.g. entrypoint: [\"sh\", \"-c\", \"umask \(String(format: "%03o", mask)) && exec \\\"$$@\\\"\", \"sh\"]).")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `hfshare env --install-unit NAME.service`: the systemd drop-in, written where systemd reads it.
public enum UnitDropIn {
    public static let fileName = "hfshare.conf"

    /// A unit name systemd accepts for a service (or a template): [A-Za-z0-9:_.\-@], `.service` at the
    /// end (added when missing), no slash, at most 255 bytes.
    public static func validate(_ given: String) throws -> String {
        let name = given.hasSuffix(".service") ? given : given + ".service"
        let stem = name.dropLast(".service".count)
        let ok = !stem.isEmpty && name.utf8.count <= 255 && !stem.hasPrefix(".") && !stem.hasPrefix("-") &&
            stem.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || ":_.-@\\".utf8.contains($0) }
        guard ok, given.utf8.count <= 255 else {
            throw UsageError("\(Escape.text(given)): not a systemd service name (letters, digits, ':_.-@\\' only, no '/'); e.g. --install-unit myapp.service")
        }
        return name
    }

    /// Where systemd is and what it is doing: the machine's by default (HFSHARE_SYSTEMD_UNITDIR,
    /// HFSHARE_SYSTEMD_RUNNING and HFSHARE_SYSTEMCTL override them, as for init --enable-timer); tests
    /// pass their own instead of changing the process environment.
    public struct Systemd: Sendable {
        public var unitDirectory: String
        public var runs: Bool
        public var systemctl: String

        public init(unitDirectory: String, runs: Bool, systemctl: String) {
            self.unitDirectory = unitDirectory; self.runs = runs; self.systemctl = systemctl
        }

        public static var machine: Systemd {
            Systemd(unitDirectory: RepairTimer.unitDirectory, runs: RepairTimer.systemdRuns, systemctl: RepairTimer.systemctl)
        }
    }

    public static func path(unit: String, in systemd: Systemd = .machine) -> String { systemd.unitDirectory + "/" + unit + ".d/" + fileName }

    public struct Result: Sendable {
        public var path: String
        public var changed: Bool
        public var reloaded: Bool
        public var plan: [String]
    }

    /// Writes the drop-in (atomically, only when its bytes differ) and reloads systemd where it runs.
    public static func install(unit given: String, text: String, dryRun: Bool, systemd: Systemd = .machine) throws -> Result {
        let unit = try validate(given)
        let file = path(unit: unit, in: systemd)
        let dir = (file as NSString).deletingLastPathComponent
        let same = FileManager.default.contents(atPath: file) == Data(text.utf8)
        var st = stat()
        let modeOK = lstat(file, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o7777 == 0o644
        if same && modeOK { return Result(path: file, changed: false, reloaded: false, plan: []) }
        var plan = ["write \(file)"]
        let reload = systemd.runs
        if reload { plan.append("systemctl daemon-reload") }
        if dryRun { return Result(path: file, changed: true, reloaded: false, plan: plan) }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw UsageError("\(Escape.text(dir)): cannot create it (\(error.localizedDescription)); run as root: sudo hfshare env --install-unit \(unit)")
        }
        do {
            try Files.writeAtomically(file, Data(text.utf8), mode: 0o644)
        } catch let e as SystemError {
            throw UsageError("\(Escape.text(file)): \(e.call): \(e.reason); run as root: sudo hfshare env --install-unit \(unit)")
        }
        if reload { try Command.run([systemd.systemctl, "daemon-reload"]) }
        return Result(path: file, changed: true, reloaded: reload, plan: plan)
    }
}
