import CHFShare
import Foundation
import Glibc

/// Every way a command ends other than "done, healthy": one line for the admin (empty when the
/// command already printed its findings) and the exit status it means. The CLI maps it to the exit
/// status in one place (HFShare.main); docs/POLICY.md lists the statuses.
public protocol Failure: Error, CustomStringConvertible {
    var exitStatus: Int32 { get }
}

/// Errors a person at the terminal can act on: what failed, where, and what to do. Exit status 2.
public struct UsageError: Failure {
    public let description: String
    public init(_ message: String) { description = message }
    public var exitStatus: Int32 { 2 }
}

/// The command ran and printed what it found: findings remain or something could not be done (1), or
/// it could not decide (2). Nothing more to print.
public struct OutcomeStatus: Failure {
    public let exitStatus: Int32
    public var description: String { "" }
    public init(_ status: Int32) { exitStatus = status }
    /// Findings remain, or something could not be fixed.
    public static let findings = OutcomeStatus(1)
    /// Could not decide (e.g. an account namei cannot judge).
    public static let undecided = OutcomeStatus(2)
}

public enum Paths {
    /// The tool's own state inside ROOT; the walk skips it.
    public static let stateDirectory = ".hfshare"

    /// Trees where a shared cache must never be made (and their subtrees for the first group).
    static let systemTrees = ["/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev",
                              "/proc", "/sys", "/run", "/root", "/var/lib", "/var/log", "/var/spool", "/var/cache", "/snap"]
    static let systemRoots = ["/", "/home", "/var", "/tmp", "/var/tmp", "/opt", "/srv", "/mnt", "/media", "/usr/local"]

    /// An absolute, `.`/`..`-free spelling of `path` (no symlinks resolved).
    public static func absolute(_ path: String) -> String {
        var base: [String] = []
        if !path.hasPrefix("/") {
            base = FileManager.default.currentDirectoryPath.split(separator: "/").map(String.init)
        }
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !base.isEmpty { base.removeLast() }; continue }
            base.append(String(part))
        }
        return "/" + base.joined(separator: "/")
    }

    /// Refuses `/`, system trees and their subtrees.
    public static func refuseSystemTree(_ path: String) throws {
        if systemRoots.contains(path) {
            throw UsageError("\(path): refusing to make a system directory the shared cache; use a dedicated directory such as \(path == "/" ? "" : path)/huggingface_cache")
        }
        for tree in systemTrees where path == tree || path.hasPrefix(tree + "/") {
            throw UsageError("\(path): refusing to put a shared cache inside the system tree \(tree); use a dedicated directory such as /srv/huggingface_cache")
        }
    }

    /// Walks `path` one component at a time (lstat) and refuses a symlink that a non-root user could
    /// have put there or could replace: one owned by a non-root uid, or sitting in a directory that a
    /// non-root user can write without the sticky bit. Returns the path with those (trusted) symlinks
    /// resolved, and whether the final component exists.
    public static func resolveTrusted(_ path: String) throws -> (path: String, exists: Bool) {
        var resolved: [String] = []
        var pending = path.split(separator: "/").map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." { continue }
            if part == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
            let here = "/" + (resolved + [part]).joined(separator: "/")
            var st = stat()
            if lstat(here, &st) != 0 {
                if errno == ENOENT { return ("/" + (resolved + [part] + pending).joined(separator: "/"), false) }
                throw UsageError("\(here): \(String(cString: strerror(errno)))")
            }
            if st.st_mode & S_IFMT == S_IFLNK {
                let parent = "/" + resolved.joined(separator: "/")
                // The same access decision as everywhere: ACLs count (a `user:alice:rwx` on the parent
                // lets alice redirect the link), not only mode bits.
                let parentFD = try? FD.open(parent, flags: HF_O_PATH | HF_O_DIRECTORY | HF_O_NOFOLLOW)
                let parentUserWritable: Bool
                if let parentFD, let pst = try? parentFD.stat() {
                    parentUserWritable = Access.writableByNonRoot(pst, acl: (try? ACLStore.read(parentFD, .access)) ?? nil)
                } else {
                    parentUserWritable = true
                }
                if st.st_uid != 0 || parentUserWritable {
                    throw UsageError("\(here): is a symlink owned by uid \(st.st_uid) in \(parent); refusing to follow a link a user could redirect. Use the real path, or make the link root-owned in a root-only directory")
                }
                hops += 1
                if hops > 40 { throw UsageError("\(here): too many levels of symbolic links") }
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(here, &buf, Int(PATH_MAX))
                guard n >= 0 else { throw UsageError("\(here): \(String(cString: strerror(errno)))") }
                buf[n] = 0
                let target = String(cString: buf)
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            if !pending.isEmpty && st.st_mode & S_IFMT != S_IFDIR {
                throw UsageError("\(here): not a directory")
            }
            resolved.append(part)
        }
        return ("/" + resolved.joined(separator: "/"), true)
    }

    /// Opens an absolute directory path with O_NOFOLLOW on every component, so nothing swapped in
    /// after the checks can redirect us.
    public static func openVerifiedDirectory(_ path: String) throws -> FD {
        var dir = try FD.open("/", flags: HF_O_PATH | HF_O_DIRECTORY | HF_O_CLOEXEC)
        let parts = path.split(separator: "/").map(String.init)
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            do {
                dir = try dir.openat(part, flags: last ? FD.directoryFlags : HF_O_PATH | HF_O_DIRECTORY | HF_O_NOFOLLOW | HF_O_CLOEXEC,
                                     noatime: last)
            } catch let e as SystemError where e.errno == ENOTDIR || e.errno == ELOOP {
                throw UsageError("\(dir.path == "/" ? "" : dir.path)/\(part): is a symlink or not a directory; refusing (pass the real path)")
            }
        }
        if parts.isEmpty { dir = try FD.openDirectory("/") }
        return dir
    }

    /// Where the tool keeps system-wide state; tests point these at a temp dir.
    public static var sysconfDirectory: String { ProcessInfo.processInfo.environment["HFSHARE_SYSCONFDIR"] ?? "/etc/hfshare" }
    public static var profilePath: String {
        ProcessInfo.processInfo.environment["HFSHARE_PROFILE"] ?? "/etc/profile.d/hfshare.sh"
    }
}

/// What `init` records in `ROOT/.hfshare/config.json`, so later commands need no `--group`.
public struct RootConfig: Codable, Equatable, Sendable {
    public var format: Int = 1
    public var group: String
    public var gid: UInt32
    public var other: OtherAccess
    public var acl: Bool
    public var rootIsMember: Bool

    enum CodingKeys: String, CodingKey {
        case format, group, gid, other, acl
        case rootIsMember = "root_is_member"
    }

    public init(group: String, gid: UInt32, other: OtherAccess, acl: Bool, rootIsMember: Bool) {
        self.group = group; self.gid = gid; self.other = other; self.acl = acl; self.rootIsMember = rootIsMember
    }

    public static func path(_ root: String) -> String { root + "/" + Paths.stateDirectory + "/config.json" }

    /// The config of ROOT, read only from a verified state dir (see StateDir); nil for a bare cache.
    /// Its group name must be one `init` could have written; anything else is refused, never used.
    public static func load(root: String, state: StateDir? = nil) throws -> RootConfig? {
        guard let state = try state ?? StateDir.openIfPresent(root: root),
              let data = try state.read("config.json", maxBytes: 64 * 1024) else { return nil }
        let config: RootConfig
        do {
            config = try JSONDecoder().decode(RootConfig.self, from: data)
        } catch {
            throw UsageError("\(Escape.text(path(root))): cannot read the hfshare config (\(error.localizedDescription)); re-run: sudo hfshare init \(Shell.quote(root)) --group NAME")
        }
        guard Validate.isPortableName(config.group) else {
            throw UsageError("\(Escape.text(path(root))): records the group name \(Escape.text(config.group)), which init never writes; refusing it. Re-run: sudo hfshare init \(Shell.quote(root)) --group NAME")
        }
        return config
    }

    public func encoded() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try! enc.encode(self)) + Data("\n".utf8)
    }
}

/// The roots `init` registered, one per line, so a bare `hfshare audit` (cron) knows what to check.
public enum Registry {
    public static var file: String { Paths.sysconfDirectory + "/roots" }

    /// One registered root: its path and, since 0.2, the group and gid init recorded (root's own copy,
    /// which wins over ROOT/.hfshare/config.json: members can rename that directory, never /etc).
    public struct Entry: Equatable, Sendable {
        public var root: String
        public var group: String?
        public var gid: UInt32?
        var line: String { group.map { "\(root)\t\($0)\t\(gid ?? 0)" } ?? root }
    }

    public static func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: file), data.count < 1 << 20 else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { return nil }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if f.count >= 3, let gid = UInt32(f[2]) { return Entry(root: f[0], group: f[1], gid: gid) }
            return Entry(root: t)
        }
    }

    public static func roots() -> [String] { entries().map(\.root) }

    public static func entry(for root: String) -> Entry? { entries().first { $0.root == root } }

    /// Returns true if the file changed.
    @discardableResult
    public static func register(_ root: String, group: String? = nil, gid: UInt32? = nil) throws -> Bool {
        try Validate.pathText(root)
        let new = Entry(root: root, group: group, gid: gid)
        var all = entries()
        if let i = all.firstIndex(where: { $0.root == root }) {
            if all[i] == new || group == nil { return false }
            all[i] = new
        } else {
            all.append(new)
        }
        try FileManager.default.createDirectory(atPath: Paths.sysconfDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let text = "# shared Hugging Face caches managed by hfshare: ROOT<TAB>group<TAB>gid, one per line\n"
            + all.map(\.line).joined(separator: "\n") + "\n"
        try Files.writeAtomically(file, Data(text.utf8), mode: 0o644)
        return true
    }
}

public enum Files {
    /// Writes via a temp file in the same directory and rename, so readers never see half a file.
    /// Returns false (and writes nothing) if the file already has exactly these bytes.
    @discardableResult
    public static func writeAtomically(_ path: String, _ data: Data, mode: UInt32, gid: UInt32? = nil) throws -> Bool {
        if let old = FileManager.default.contents(atPath: path), old == data {
            var st = stat()
            if lstat(path, &st) == 0, st.st_mode & 0o7777 == mode, gid == nil || st.st_gid == gid! { return false }
        }
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let dirFD = try FD.openDirectory(dir.isEmpty ? "." : dir)
        try dirFD.placeFile(name, data, mode: mode, gid: gid)
        return true
    }
}
