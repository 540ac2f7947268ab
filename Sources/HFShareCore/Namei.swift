import CHFShare
import Foundation
import Glibc

/// stat(2); the name alone is taken by the struct inside a type's scope.
private func statFollowing(_ path: UnsafePointer<CChar>, _ st: inout Glibc.stat) -> Int32 { stat(path, &st) }

/// The flags of util-linux `namei` (misc-utils/namei.c, 2.38.1).
public struct ClassicNameiFlags: Sendable, Equatable {
    public var modes = false
    public var owners = false
    public var vertical = false
    public var noLinks = false
    public var mountpoints = false
    public init() {}

    /// `-l`: `-m -o -v`.
    public static var long: ClassicNameiFlags {
        var f = ClassicNameiFlags()
        f.modes = true; f.owners = true; f.vertical = true
        return f
    }
}

/// What util-linux `namei` prints, byte for byte: same walk (lstat of each string prefix, symlinks
/// expanded in place with their own level), same columns and padding, same `NAME - ERROR` line and
/// exit status. A port, not a reimplementation, so that its quirks (owner columns as wide as every
/// name seen so far, also in earlier PATH arguments; 20 symlinks per PATH in total; mount points
/// judged against the previous line) are the same.
public final class ClassicNamei {
    public struct Result: Sendable {
        public var stdout: [UInt8] = []
        /// Messages without the program name (`namei: ` in util-linux).
        public var warnings: [String] = []
        public var status: Int32 = 0
    }

    final class Item {
        var st = Glibc.stat()
        var name: [UInt8]
        var abslink: [UInt8] = []
        var relstart = 0
        var level: Int
        var mountpoint = false
        var noent: Int32 = 0
        init(name: [UInt8], level: Int) { self.name = name; self.level = level }
        var isDirectory: Bool { st.st_mode & S_IFMT == S_IFDIR }
        var isSymlink: Bool { st.st_mode & S_IFMT == S_IFLNK }
    }

    /// `err(EXIT_FAILURE, ...)` in namei.c: the run ends with status 1.
    struct Fatal: Error { var message: String }

    /// util-linux's idcache: names in first-seen order, and the widest so far.
    final class IDCache {
        var names: [UInt32: [UInt8]] = [:]
        var width = 0
        let lookup: (UInt32) -> String?
        init(_ lookup: @escaping (UInt32) -> String?) { self.lookup = lookup }

        func add(_ id: UInt32) {
            guard names[id] == nil else { return }
            let name = lookup(id).map { Array($0.utf8) }
            var w = name.map(ClassicNamei.displayWidth) ?? 0
            let shown = w > 0 ? name! : Array(String(id).utf8)
            if w <= 0 { w = shown.count }
            names[id] = shown
            width = max(width, w)
        }
    }

    static let maxSymlinks = 20 // MAXSYMLINKS from glibc's sys/param.h

    let flags: ClassicNameiFlags
    let users = IDCache { NSS.user(uid: $0)?.name }
    let groups = IDCache { NSS.group(gid: $0)?.name }
    var out: [UInt8] = []

    public init(flags: ClassicNameiFlags) { self.flags = flags }

    /// Runs `namei [flags] PATH...`. Error texts follow the process locale, as namei's do.
    public static func run(_ paths: [String], flags: ClassicNameiFlags) -> Result {
        setlocale(LC_ALL, "")
        let namei = ClassicNamei(flags: flags)
        var result = Result()
        do {
            for path in paths {
                let bytes = Array(path.utf8)
                var st = Glibc.stat()
                if withCString(bytes, { statFollowing($0, &st) }) != 0 { result.status = 1 }
                var items = try namei.add(parent: nil, bytes, start: 0)
                if items.isEmpty { continue }
                var exceeded = false
                if !flags.noLinks { exceeded = try namei.followSymlinks(&items) }
                if !namei.print(items, path: bytes) {
                    result.status = 1
                    continue
                }
                if exceeded {
                    result.status = 1
                    result.warnings.append("\(path): exceeded limit of symlinks")
                }
            }
        } catch let fatal as Fatal {
            result.warnings.append(fatal.message)
            result.status = 1
        } catch {
            result.warnings.append("\(error)")
            result.status = 1
        }
        result.stdout = namei.out
        return result
    }

    // MARK: the walk (new_namei, add_namei, follow_symlinks)

    private func newItem(previous: Item?, path: [UInt8], name: [UInt8], level: Int) throws -> Item {
        let item = Item(name: name, level: level)
        if withCString(path, { lstat($0, &item.st) }) != 0 {
            item.noent = errno
            return item
        }
        if item.isSymlink { try readLink(item, path: path) }
        if flags.owners {
            users.add(item.st.st_uid)
            groups.add(item.st.st_gid)
        }
        if flags.mountpoints && item.isDirectory {
            var parentStat: Glibc.stat?
            if let previous, previous.isDirectory {
                parentStat = previous.st
            } else if previous == nil || previous!.isSymlink {
                parentStat = try dotdotStat(path)
            }
            if let p = parentStat, p.st_dev != item.st.st_dev || p.st_ino == item.st.st_ino {
                item.mountpoint = true
            }
        }
        return item
    }

    private func readLink(_ item: Item, path: [UInt8]) throws {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let n = withCString(path) { p in buf.withUnsafeMutableBufferPointer { readlink(p, $0.baseAddress!, $0.count) } }
        if n < 1 { throw Fatal(message: "failed to read symlink: \(Self.text(path)): \(String(cString: strerror(errno)))") }
        let sym = Array(buf.prefix(n))
        if sym.first != UInt8(ascii: "/"), let slash = path.lastIndex(of: UInt8(ascii: "/")) {
            item.abslink = Array(path[..<slash]) + [UInt8(ascii: "/")] + sym
            item.relstart = slash + 1
        } else {
            item.abslink = sym
        }
    }

    private func dotdotStat(_ dir: [UInt8]) throws -> Glibc.stat {
        let path = dir + Array("/..".utf8)
        var st = Glibc.stat()
        guard withCString(path, { statFollowing($0, &st) }) == 0 else {
            throw Fatal(message: "stat of \(Self.text(path)) failed: \(String(cString: strerror(errno)))")
        }
        return st
    }

    /// The items of `path` from byte `start` on, one per component, each lstat'ed by its prefix.
    private func add(parent: Item?, _ path: [UInt8], start: Int) throws -> [Item] {
        let slash = UInt8(ascii: "/")
        var items: [Item] = []
        var previous = parent
        let level = parent.map { $0.level + 1 } ?? 0
        var i = start
        if i < path.count && path[i] == slash {
            while i < path.count && path[i] == slash { i += 1 }
            let root = try newItem(previous: previous, path: [slash], name: [slash], level: level)
            items.append(root)
            previous = root
        }
        while i < path.count {
            let end = path[i...].firstIndex(of: slash) ?? path.count
            let item = try newItem(previous: previous, path: Array(path[..<end]), name: Array(path[i..<end]), level: level)
            items.append(item)
            previous = item
            i = end
            while i < path.count && path[i] == slash { i += 1 }
        }
        return items
    }

    /// Expands every symlink in place, recursively; false once more than 20 were met (the rest dropped).
    private func followSymlinks(_ items: inout [Item]) throws -> Bool {
        var count = 0
        var i = 0
        while i < items.count {
            let item = items[i]
            if item.noent == 0 && item.isSymlink {
                count += 1
                if count > Self.maxSymlinks {
                    items.removeSubrange((i + 1)...)
                    return true
                }
                items.insert(contentsOf: try add(parent: item, item.abslink, start: item.relstart), at: i + 1)
            }
            i += 1
        }
        return false
    }

    // MARK: printing (print_namei)

    private func print(_ items: [Item], path: [UInt8]) -> Bool {
        emit("f: "); out += Self.shown(path); emit("\n")
        for item in items {
            if item.noent != 0 {
                var blanks = 1
                if flags.modes { blanks += 9 }
                if flags.owners { blanks += users.width + groups.width + 2 }
                if !flags.vertical { blanks += 1 }
                blanks += item.level * 2
                emit(String(repeating: " ", count: blanks + 1))
                out += Self.shown(item.name)
                emit(" - \(String(cString: strerror(item.noent)))\n")
                return false
            }
            var mode = Self.modeString(UInt32(item.st.st_mode))
            if item.mountpoint { mode = "D" + mode.dropFirst() }
            if !flags.vertical { emit(String(repeating: "  ", count: item.level) + " ") }
            emit(flags.modes ? mode : String(mode.prefix(1)))
            if flags.owners {
                emit(" "); pad(users.names[item.st.st_uid] ?? [], users.width)
                emit(" "); pad(groups.names[item.st.st_gid] ?? [], groups.width)
            }
            if flags.vertical { emit(String(repeating: "  ", count: item.level)) }
            emit(" "); out += Self.shown(item.name)
            if item.isSymlink { emit(" -> "); out += Self.shown(Array(item.abslink[item.relstart...])) }
            emit("\n")
        }
        return true
    }

    private func emit(_ s: String) { out += Array(s.utf8) }

    /// `%-*s`: printf pads by bytes.
    private func pad(_ name: [UInt8], _ width: Int) {
        out += Self.shown(name)
        if name.count < width { out += [UInt8](repeating: UInt8(ascii: " "), count: width - name.count) }
    }

    /// `xstrmode`: type letter and rwx with s/S/t/T.
    public static func modeString(_ mode: UInt32) -> String {
        var s = ""
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): s = "d"
        case UInt32(S_IFLNK): s = "l"
        case UInt32(S_IFCHR): s = "c"
        case UInt32(S_IFBLK): s = "b"
        case UInt32(S_IFSOCK): s = "s"
        case UInt32(S_IFIFO): s = "p"
        case UInt32(S_IFREG): s = "-"
        default: break
        }
        func bit(_ b: UInt32, _ c: Character) -> Character { mode & b != 0 ? c : "-" }
        func special(_ set: UInt32, _ x: UInt32, _ on: Character, _ off: Character) -> Character {
            mode & set != 0 ? (mode & x != 0 ? on : off) : (mode & x != 0 ? "x" : "-")
        }
        s.append(bit(0o400, "r")); s.append(bit(0o200, "w")); s.append(special(0o4000, 0o100, "s", "S"))
        s.append(bit(0o040, "r")); s.append(bit(0o020, "w")); s.append(special(0o2000, 0o010, "s", "S"))
        s.append(bit(0o004, "r")); s.append(bit(0o002, "w")); s.append(special(0o1000, 0o001, "t", "T"))
        return s
    }

    /// wcswidth as namei uses it: ASCII names are their length, control characters make the name
    /// unusable (namei then shows the number). Other UTF-8 counts one column per scalar (no
    /// East Asian wide forms; user and group names are ASCII in practice).
    static func displayWidth(_ name: [UInt8]) -> Int {
        if name.isEmpty { return 0 }
        if name.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return name.count }
        if name.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return -1 }
        guard let s = String(validatingUTF8: name.map { CChar(bitPattern: $0) } + [0]) else { return name.count }
        return s.unicodeScalars.count
    }

    /// How a name is shown: the one escaping every output uses (Escape.text), on the exact bytes.
    static func text(_ bytes: [UInt8]) -> String { Escape.text(ByteName.decode(bytes)) }
    /// The same, as bytes for the `namei -l` printer (util-linux prints names raw; we never do).
    static func shown(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) { return bytes }
        return Array(text(bytes).utf8)
    }

    private func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        Self.withCString(bytes, body)
    }

    static func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}

// MARK: - the hfshare view: who can get there

/// A user whose access `hfshare namei` judges.
public struct AskedUser: Sendable {
    public var name: String
    public var credentials: Credentials
    public init(name: String, credentials: Credentials) { self.name = name; self.credentials = credentials }

    public static func of(_ user: UserRecord) -> AskedUser { AskedUser(name: user.name, credentials: .of(user)) }
}

/// What to check: which users, what they want with the final path, and the group an admin means
/// (`--group`), which the suggested fix then names.
public struct NameiQuery: Sendable {
    public var users: [AskedUser]
    public var want: ACLPerms = []
    public var group: GroupRecord?
    /// `fs.protected_symlinks`; nil: read it from /proc.
    public var protectedSymlinks: Bool?
    public init(users: [AskedUser]) { self.users = users }
}

extension NameiQuery {
    /// `--want`: read, write, execute/search, or letters such as `rw`.
    public static func parseWant(_ text: String) -> ACLPerms? {
        switch text.lowercased() {
        case "read": return .read
        case "write": return .write
        case "execute", "exec", "search": return .execute
        case "reach", "": return []
        default: break
        }
        var p: ACLPerms = []
        for c in text {
            switch c {
            case "r": p.insert(.read)
            case "w": p.insert(.write)
            case "x": p.insert(.execute)
            case "-": continue
            default: return nil
            }
        }
        return p
    }

    /// --user (name or uid) and --group members (primary and listed), in the order given, each once;
    /// the invoking user when neither is given.
    public static func resolveUsers(names: [String], groups: [String], invokingUID: UInt32) throws -> [AskedUser] {
        var result: [AskedUser] = []
        var seen = Set<UInt32>()
        func add(_ u: UserRecord) { if seen.insert(u.uid).inserted { result.append(.of(u)) } }
        for n in names {
            guard let u = NSS.user(named: n) ?? UInt32(n).flatMap({ NSS.user(uid: $0) }) else {
                throw UsageError("user '\(n)' does not exist on this machine (NSS); check the name")
            }
            add(u)
        }
        for g in groups {
            guard let record = NSS.resolveGroup(g) else {
                throw UsageError("group '\(g)' does not exist on this machine (NSS); check the name")
            }
            let members = NSS.members(of: record)
            if members.isEmpty && names.isEmpty { throw UsageError("group '\(record.name)' has no members; nobody to check (pass --user NAME)") }
            members.forEach(add)
        }
        if names.isEmpty && groups.isEmpty {
            guard let me = NSS.user(uid: invokingUID) else { throw UsageError("uid \(invokingUID) has no passwd entry; pass --user NAME") }
            add(me)
        }
        return result
    }
}

/// The path walk as the kernel does it (fs/namei.c `link_path_walk`): every component is looked up
/// in the current directory, which takes search (x) on it; `.` and `..` too; `..` is the physical
/// parent; symlinks are followed where they are met (the last one too), at most 40.
public struct PathWalk: Sendable {
    public enum Role: String, Sendable, Codable {
        /// A directory something is looked up in: needs x.
        case searched
        /// A symlink that is followed: needs nothing, unless fs.protected_symlinks refuses it.
        case symlink
        /// What the path names in the end.
        case final
        /// Nothing is needed of it (not looked up in, not the end); the start value of every step.
        case passed
    }

    public struct Step: Sendable {
        /// The component as written (as namei shows it); `/` for the root.
        public var name: String
        /// Physical absolute path, for the commands in a fix.
        public var path: String
        /// Symlink depth, as namei's indentation.
        public var level: Int
        public var stat: FileStat?
        public var acl: PosixACL?
        public var linkTarget: String?
        /// The lookup failed: errno (ENOENT, ENOTDIR, ELOOP, EACCES for this process...).
        public var errno: Int32?
        public var readOnlyMount = false
        /// The filesystem answers ACL calls (else a fix uses mode bits only).
        public var aclSupported = true
        public var role: Role = .passed
        /// The directory the entry was looked up in (index into the steps), for protected_symlinks.
        public var parent: Int?
    }

    public var path: String
    public var steps: [Step] = []

    static let maxSymlinks = 40 // the kernel's MAXSYMLINKS
    static let pathFlags = HF_O_PATH | HF_O_NOFOLLOW | HF_O_CLOEXEC

    /// Walks `path` from `/` (absolute) or the working directory (relative). Never fails: a lookup that
    /// fails ends the walk with a step carrying the errno.
    public static func walk(_ path: String) -> PathWalk {
        var walk = PathWalk(path: path)
        if path.isEmpty {
            walk.steps.append(Step(name: "", path: "", level: 0, errno: ENOENT))
            return walk
        }
        var queue: [(name: String, level: Int)] = path.split(separator: "/", omittingEmptySubsequences: true).map { (String($0), 0) }
        let trailingSlash = path.hasSuffix("/") && !queue.isEmpty
        var current: FD
        do {
            if path.hasPrefix("/") {
                current = try FD.open("/", flags: pathFlags | HF_O_DIRECTORY)
                walk.steps.append(try step(name: "/", level: 0, fd: current, physical: "/"))
            } else {
                current = try FD.open(".", flags: pathFlags | HF_O_DIRECTORY)
                let cwd = physicalPath(current) ?? "."
                walk.steps.append(try step(name: cwd, level: 0, fd: current, physical: cwd))
            }
        } catch let e as SystemError {
            walk.steps.append(Step(name: path.hasPrefix("/") ? "/" : ".", path: "/", level: 0, errno: e.errno))
            return walk
        } catch { return walk }
        var currentIndex = 0
        var links = 0
        while !queue.isEmpty {
            let (name, level) = queue.removeFirst()
            let isLast = queue.isEmpty
            walk.steps[currentIndex].role = .searched
            let dirPath = walk.steps[currentIndex].path
            let physical = name == "." ? dirPath : FD.join(dirPath, name)
            let st: FileStat
            do { st = try current.stat(name) } catch let e as SystemError {
                walk.steps.append(Step(name: name, path: physical, level: level, errno: e.errno, parent: currentIndex))
                return walk
            } catch { return walk }
            if st.type == .symlink {
                var s = Step(name: name, path: physical, level: level, stat: st, role: .symlink, parent: currentIndex)
                let target = (try? current.readlink(name)) ?? ""
                s.linkTarget = target
                links += 1
                if links > maxSymlinks {
                    s.errno = ELOOP
                    walk.steps.append(s)
                    return walk
                }
                walk.steps.append(s)
                let parts = target.split(separator: "/").map { (String($0), level + 1) }
                queue.insert(contentsOf: parts, at: 0)
                if target.hasPrefix("/") {
                    guard let root = try? FD.open("/", flags: pathFlags | HF_O_DIRECTORY),
                          let rootStep = try? step(name: "/", level: level + 1, fd: root, physical: "/") else { return walk }
                    current = root
                    walk.steps.append(rootStep)
                    currentIndex = walk.steps.count - 1
                } else if target.isEmpty {
                    walk.steps[walk.steps.count - 1].errno = ENOENT
                    return walk
                }
                if queue.isEmpty {
                    // A link to "/" or to its own directory: that directory is the result.
                    walk.steps[currentIndex].role = .final
                    return walk
                }
                continue
            }
            let moreToCome = !isLast || trailingSlash
            if moreToCome && st.type != .directory {
                walk.steps.append(Step(name: name, path: physical, level: level, stat: st, errno: ENOTDIR, parent: currentIndex))
                return walk
            }
            do {
                let fd = try current.openat(name, flags: pathFlags | (st.type == .directory ? HF_O_DIRECTORY : 0))
                var s = try step(name: name, level: level, fd: fd, physical: st.type == .directory ? (physicalPath(fd) ?? physical) : physical)
                s.parent = currentIndex
                walk.steps.append(s)
                if st.type == .directory {
                    current = fd
                    currentIndex = walk.steps.count - 1
                }
            } catch let e as SystemError {
                walk.steps.append(Step(name: name, path: physical, level: level, stat: st, errno: e.errno, parent: currentIndex))
                return walk
            } catch { return walk }
        }
        if let last = walk.steps.indices.last { walk.steps[last].role = .final }
        return walk
    }

    private static func step(name: String, level: Int, fd: FD, physical: String) throws -> Step {
        let st = try fd.stat()
        var s = Step(name: name, path: physical, level: level, stat: st)
        // Through an O_PATH descriptor libacl synthesizes u::/g::/o:: from the mode: keep only real ACLs.
        if st.type != .symlink, let acl = try? ACLStore.read(fd, .access), acl.isExtended { s.acl = acl }
        s.readOnlyMount = fd.isOnReadOnlyMount
        s.aclSupported = ACLStore.filesystemAnswers(fd)
        return s
    }

    private static func physicalPath(_ fd: FD) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(fd.procPath, &buf, Int(PATH_MAX))
        guard n > 0 else { return nil }
        buf[n] = 0
        return String(cString: buf)
    }

    /// Whether the walk got to the end (no lookup failed).
    public var complete: Bool { steps.last.map { $0.errno == nil } ?? false }
}

/// Verdicts for every asked user on every step of a walk, the first step that stops each of them,
/// and the one command that would let them through.
public struct NameiReport: Sendable {
    public struct Verdict: Sendable {
        /// What the user gets on this entry: r, w and x each decided by `Access.decide`.
        public var rights: ACLPerms
        /// What this step needs: x for a directory looked up in, `want` for the final entry.
        public var need: ACLPerms
        public var allowed: Bool
        /// How `need` was decided (nil when nothing is needed).
        public var decision: Access.Decision?
        /// Why it is refused beyond the mode/ACL check (read-only mount, protected_symlinks).
        public var refusal: String?
    }

    public struct Outcome: Sendable {
        public var user: AskedUser
        /// The step that stops the user (first refusal, or the failed lookup), nil if they get through.
        public var stoppedAt: Int?
        /// The walk itself could not look further (this process lacked permission): not known.
        public var unknown: Bool
        public var ok: Bool { stoppedAt == nil && !unknown }
    }

    public struct Blocker: Sendable {
        public var step: Int
        /// The stopping entry's physical path.
        public var path: String
        public var users: [String]
        public var need: ACLPerms
        public var reason: String
        /// The command that lets all of `users` through.
        public var command: String?
        /// ACL entries that would let only these users through instead (`u:alice:x`), if any.
        public var narrower: [String]

        /// `command`, and the narrower setfacl as an alternative.
        public var fix: String? {
            guard let command else { return nil }
            guard !narrower.isEmpty else { return command }
            return "\(command)   (or, for \(users.count == 1 ? "this user" : "these users") only: setfacl -m \(narrower.joined(separator: ",")) \(Shell.quote(path)))"
        }
    }

    public var walk: PathWalk
    public var query: NameiQuery
    /// verdicts[step][user]
    public var verdicts: [[Verdict]]
    public var outcomes: [Outcome]
    public var blockers: [Blocker]

    public var ok: Bool { outcomes.allSatisfy(\.ok) }
    public var unknown: Bool { outcomes.contains(where: \.unknown) }

    public init(walk: PathWalk, query: NameiQuery) {
        self.walk = walk
        self.query = query
        let protected = query.protectedSymlinks ?? NameiReport.protectedSymlinksEnabled()
        verdicts = walk.steps.enumerated().map { i, step in
            query.users.map { NameiReport.verdict(step, parent: step.parent.map { walk.steps[$0] }, user: $0, want: query.want, protectedSymlinks: protected) }
        }
        outcomes = []
        for (u, user) in query.users.enumerated() {
            var stopped: Int?
            var unknown = false
            for (i, step) in walk.steps.enumerated() {
                if let e = step.errno {
                    stopped = i
                    unknown = e == EACCES || e == EPERM
                    break
                }
                if !verdicts[i][u].allowed { stopped = i; break }
            }
            outcomes.append(Outcome(user: user, stoppedAt: stopped, unknown: unknown))
        }
        blockers = []
        var byKey: [String: Int] = [:]
        for (u, outcome) in outcomes.enumerated() {
            guard let i = outcome.stoppedAt, !outcome.unknown else { continue }
            let step = walk.steps[i]
            let v = verdicts[i][u]
            var reason: String
            var fix: Fix?
            if let e = step.errno {
                reason = String(cString: strerror(e))
            } else {
                reason = NameiReport.explain(v, step: step, user: outcome.user)
                // issue #17: a refusal inside a restricted repo is the restriction at work; say so.
                fix = NameiReport.fix(v, step: step, parent: step.parent.map { walk.steps[$0] }, user: outcome.user, group: query.group)
                // ... and no setfacl that would undo it (audit would call that restricted-readable).
                if let why = Restrictions.explain(path: step.path, userName: outcome.user.name, gids: outcome.user.credentials.gids) { reason += "; " + why; fix = nil }
            }
            let key = "\(i)\u{0}\(reason)\u{0}\(fix?.command ?? "")"
            if let b = byKey[key] {
                blockers[b].users.append(outcome.user.name)
                if let n = fix?.narrower { blockers[b].narrower.append(n) }
            } else {
                byKey[key] = blockers.count
                blockers.append(Blocker(step: i, path: step.path, users: [outcome.user.name], need: v.need, reason: reason,
                                        command: fix?.command, narrower: fix?.narrower.map { [$0] } ?? []))
            }
        }
        blockers.sort { $0.step < $1.step }
    }

    static func verdict(_ step: PathWalk.Step, parent: PathWalk.Step?, user: AskedUser, want: ACLPerms, protectedSymlinks: Bool) -> Verdict {
        guard let st = step.stat, step.errno == nil else {
            return Verdict(rights: [], need: [], allowed: false, decision: nil, refusal: nil)
        }
        if step.role == .symlink {
            var v = Verdict(rights: .rwx, need: [], allowed: true, decision: nil, refusal: nil)
            if protectedSymlinks, let dir = parent?.stat, let why = protectedSymlinkRefusal(link: st, dir: dir, uid: user.credentials.uid) {
                v.allowed = false
                v.refusal = why
            }
            return v
        }
        let writeRefused = step.readOnlyMount && [.regular, .directory, .symlink].contains(st.type)
        var rights: ACLPerms = []
        for p in [ACLPerms.read, .write, .execute] where Access.allows(user.credentials, stat: st, acl: step.acl, want: p) {
            if p == .write && writeRefused { continue }
            rights.insert(p)
        }
        let need: ACLPerms = step.role == .searched ? .execute : step.role == .final ? want : []
        if need.isEmpty { return Verdict(rights: rights, need: need, allowed: true, decision: nil, refusal: nil) }
        let d = Access.decide(user.credentials, stat: st, acl: step.acl, want: need)
        var v = Verdict(rights: rights, need: need, allowed: d.allowed, decision: d, refusal: nil)
        if d.allowed && need.contains(.write) && writeRefused {
            v.allowed = false
            v.refusal = "read-only filesystem"
        }
        return v
    }

    /// fs/namei.c `may_follow_link`: in a sticky world-writable directory a symlink is followed only
    /// by its owner, or if it belongs to the directory's owner. Capabilities do not help.
    public static func protectedSymlinkRefusal(link: FileStat, dir: FileStat, uid: UInt32) -> String? {
        if link.uid == uid { return nil }
        if dir.mode & 0o1002 != 0o1002 { return nil }
        if dir.uid == link.uid { return nil }
        return "fs.protected_symlinks: link owned by \(userName(link.uid)) in a sticky world-writable directory owned by \(userName(dir.uid))"
    }

    public static func protectedSymlinksEnabled() -> Bool {
        guard let fd = try? FD.open("/proc/sys/fs/protected_symlinks", flags: O_RDONLY) else { return false }
        var c: UInt8 = 0
        return Glibc.read(fd.raw, &c, 1) == 1 && c != UInt8(ascii: "0")
    }

    /// One line on why `need` is refused, naming the entry that decided.
    static func explain(_ v: Verdict, step: PathWalk.Step, user: AskedUser) -> String {
        let what = needWords(v.need, directory: step.stat?.type == .directory)
        if let r = v.refusal { return "\(what) refused: \(r)" }
        guard let d = v.decision, let st = step.stat else { return "\(what) refused" }
        let mask = step.acl?[.mask]
        switch d.via {
        case .owner:
            return "\(what) refused: the owner bits are \(ACLPerms(rawValue: st.mode >> 6))"
        case .namedUser:
            let e = step.acl?[.user(user.credentials.uid)] ?? []
            if d.maskLimited, let mask { return "\(what) refused: u:\(user.name):\(e) is cut by the mask m::\(mask)" }
            return "\(what) refused: the ACL entry u:\(user.name):\(e) lacks it"
        case .groups(let tags):
            let list = tags.map { tagText($0, step) }.joined(separator: ", ")
            if d.maskLimited, let mask { return "\(what) refused: \(list) is cut by the mask m::\(mask)" }
            return "\(what) refused: the matching group entries lack it (\(list))"
        case .other:
            return "\(what) refused: other is \(ACLPerms(rawValue: st.mode))"
        case .capability:
            return "\(what) refused"
        }
    }

    static func tagText(_ tag: ACLTag, _ step: PathWalk.Step) -> String {
        let st = step.stat!
        let extended = step.acl?.isExtended ?? false
        switch tag {
        case .groupObj:
            let perms = extended ? (step.acl?[.groupObj] ?? []) : ACLPerms(rawValue: st.mode >> 3)
            return "group \(groupName(st.gid)) \(perms)"
        case .group(let id): return "g:\(groupName(id)):\(step.acl?[tag] ?? [])"
        default: return "\(tag)"
        }
    }

    static func needWords(_ p: ACLPerms, directory: Bool = true) -> String {
        var words: [String] = []
        if p.contains(.read) { words.append("read") }
        if p.contains(.write) { words.append("write") }
        if p.contains(.execute) { words.append(directory ? "search" : "execute") }
        return words.joined(separator: "+") + " (\(letters(p)))"
    }

    /// `rx`, as setfacl and chmod take it.
    static func letters(_ p: ACLPerms) -> String {
        (p.contains(.read) ? "r" : "") + (p.contains(.write) ? "w" : "") + (p.contains(.execute) ? "x" : "")
    }

    /// The smallest command that lets this user through, aimed at the entry that decided: owner
    /// bits, the user's or group's own ACL entry, the mask, or (for other) the asked group's entry.
    struct Fix {
        var command: String
        var narrower: String?
        init(_ command: String, narrower: String? = nil) { self.command = command; self.narrower = narrower }
    }

    static func fix(_ v: Verdict, step: PathWalk.Step, parent: PathWalk.Step?, user: AskedUser, group: GroupRecord?) -> Fix? {
        guard let text = fixCommand(v, step: step, parent: parent, user: user, group: group) else { return nil }
        if case .other? = v.decision?.via, step.aclSupported, !(group.map { user.credentials.gids.contains($0.gid) } ?? false) {
            return Fix(text, narrower: "u:\(user.name):\(letters(v.need))")
        }
        return Fix(text)
    }

    static func fixCommand(_ v: Verdict, step: PathWalk.Step, parent: PathWalk.Step?, user: AskedUser, group: GroupRecord?) -> String? {
        let q = Shell.quote(step.path)
        if let r = v.refusal {
            if r.hasPrefix("fs.protected_symlinks"), let dir = parent?.stat { return "chown -h \(userName(dir.uid)) \(q)" }
            return nil // read-only filesystem: a mount option, not a permission
        }
        guard let d = v.decision else { return nil }
        let need = v.need
        let acl = step.acl
        let extended = acl?.isExtended ?? false
        if d.maskLimited, let mask = acl?[.mask] {
            return "setfacl -m m::\(letters(mask.union(need))) \(q)"
        }
        switch d.via {
        case .owner:
            return "chmod u+\(letters(need)) \(q)"
        case .namedUser:
            let e = acl?[.user(user.credentials.uid)] ?? []
            return "setfacl -m u:\(user.name):\(letters(e.union(need))) \(q)"
        case .groups(let tags):
            if let g = group, tags.contains(.group(g.gid)) {
                return "setfacl -m g:\(g.name):\(letters((acl?[.group(g.gid)] ?? []).union(need))) \(q)"
            }
            if tags.contains(.groupObj) {
                if extended { return "setfacl -m g::\(letters((acl?[.groupObj] ?? []).union(need))) \(q)" }
                return "chmod g+\(letters(need)) \(q)"
            }
            guard case .group(let id)? = tags.first else { return nil }
            return "setfacl -m g:\(groupName(id)):\(letters((acl?[.group(id)] ?? []).union(need))) \(q)"
        case .other:
            let chmod = "chmod o+\(letters(need)) \(q)"
            guard step.aclSupported else { return chmod }
            if let g = group, user.credentials.gids.contains(g.gid) {
                return "setfacl -m g:\(g.name):\(letters(need)) \(q)   (or: \(chmod))"
            }
            return chmod
        case .capability:
            return nil
        }
    }

    static func userName(_ uid: UInt32) -> String { NSS.user(uid: uid)?.name ?? String(uid) }
    static func groupName(_ gid: UInt32) -> String { NSS.group(gid: gid)?.name ?? String(gid) }
}

// MARK: - output

extension NameiReport {
    /// Up to this many users get a column each; more (a big `--group`) get one summary column.
    public static let maxUserColumns = 8

    /// The text view: namei -l's columns plus `+` for an ACL and each user's rights, the stopping
    /// steps marked, then why and the fix.
    public func text() -> String {
        let users = query.users
        let perUser = users.count <= Self.maxUserColumns
        var rows: [(left: String, cells: [String], mark: String)] = []
        let ownerWidth = walk.steps.compactMap { $0.stat.map { Self.userName($0.uid).count } }.max() ?? 0
        let groupWidth = walk.steps.compactMap { $0.stat.map { Self.groupName($0.gid).count } }.max() ?? 0
        for (i, step) in walk.steps.enumerated() {
            let indent = String(repeating: "  ", count: step.level)
            let stopped = outcomes.filter { $0.stoppedAt == i }.map(\.user.name)
            let mark = stopped.isEmpty ? "" : "  <- " + (perUser || stopped.count <= 3 ? stopped.joined(separator: ", ") : "\(stopped.count) users")
            guard let st = step.stat, step.errno == nil || step.role == .symlink else {
                let blanks = 1 + 11 + ownerWidth + groupWidth + 2
                rows.append((String(repeating: " ", count: blanks) + indent + " \(Escape.text(step.name)) - \(String(cString: strerror(step.errno ?? ENOENT)))", [], mark))
                continue
            }
            let mode = ClassicNamei.modeString(st.mode) + ((step.acl?.isExtended ?? false) ? "+" : " ")
            var left = mode + " " + Self.userName(st.uid).padding(ownerWidth) + " " + Self.groupName(st.gid).padding(groupWidth) + " " + indent + Escape.text(step.name)
            if let t = step.linkTarget { left += " -> " + Escape.text(t) }
            if let e = step.errno { left += " - " + String(cString: strerror(e)) }
            let cells: [String]
            if perUser {
                cells = verdicts[i].map { v in
                    if step.errno != nil { return "" }
                    return step.role == .symlink ? (v.allowed ? "" : "nofollow") : v.rights.description
                }
            } else {
                let refused = verdicts[i].filter { !$0.allowed }.count
                cells = [refused == 0 ? "ok" : "\(refused) refused"]
            }
            rows.append((left, cells, mark))
        }
        let headers = perUser ? users.map(\.name) : ["\(users.count) users"]
        let leftWidth = rows.map { $0.left.count }.max() ?? 0
        let widths = headers.enumerated().map { c, h in max(h.count, rows.map { $0.cells.count > c ? $0.cells[c].count : 0 }.max() ?? 0) }
        var out = "f: \(Escape.text(walk.path))\n"
        var header = "".padding(leftWidth) + headers.enumerated().map { "  " + $0.element.padding(widths[$0.offset]) }.joined()
        while header.hasSuffix(" ") { header.removeLast() }
        out += header + "\n"
        for row in rows {
            var line = row.left.padding(leftWidth) + row.cells.enumerated().map { "  " + $0.element.padding(widths[$0.offset]) }.joined() + row.mark
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        for b in blockers {
            let step = walk.steps[b.step]
            out += "\(b.users.joined(separator: ", ")): stopped at \(Escape.text(step.path)): \(b.reason)\n"
            if let fix = b.fix { out += "  fix: \(fix)\n" }
        }
        for o in outcomes where o.unknown {
            let step = o.stoppedAt.map { walk.steps[$0] }
            out += "\(o.user.name): not known: this process cannot look at \(Escape.text(step?.path ?? walk.path)) (\(String(cString: strerror(step?.errno ?? EACCES)))); run as root\n"
        }
        let through = outcomes.filter(\.ok).map(\.user.name)
        if !through.isEmpty {
            let what = query.want.isEmpty ? "can reach" : "can reach and \(Self.needWords(query.want, directory: walk.steps.last?.stat?.type == .directory))"
            out += "\(perUser || through.count <= 3 ? through.joined(separator: ", ") : "\(through.count) users") \(what) \(Escape.text(walk.path))\n"
        }
        return out
    }

    /// One JSON object per path, for scripts; keys sorted, so the output is stable.
    public func jsonObject() -> [String: Any] {
        var steps: [[String: Any]] = []
        for (i, step) in walk.steps.enumerated() {
            var o: [String: Any] = ["name": step.name, "path": step.path, "level": step.level, "role": step.role.rawValue]
            if let st = step.stat {
                o["type"] = st.type.rawValue
                o["mode"] = String(format: "%04o", st.permissions)
                o["uid"] = st.uid; o["owner"] = Self.userName(st.uid)
                o["gid"] = st.gid; o["group"] = Self.groupName(st.gid)
                o["read_only_mount"] = step.readOnlyMount
            }
            if let acl = step.acl { o["acl"] = acl.description }
            if let t = step.linkTarget { o["link"] = t }
            if let e = step.errno { o["error"] = String(cString: strerror(e)) }
            var users: [String: Any] = [:]
            for (u, user) in query.users.enumerated() {
                let v = verdicts[i][u]
                var uo: [String: Any] = ["rights": v.rights.description, "allowed": v.allowed]
                if !v.need.isEmpty { uo["need"] = Self.letters(v.need) }
                if let d = v.decision { uo["via"] = Self.viaText(d.via); uo["mask_limited"] = d.maskLimited }
                if let r = v.refusal { uo["refusal"] = r }
                users[user.name] = uo
            }
            if step.stat != nil && step.errno == nil { o["users"] = users }
            steps.append(o)
        }
        var users: [[String: Any]] = []
        for o in outcomes {
            var uo: [String: Any] = ["name": o.user.name, "uid": o.user.credentials.uid, "gids": o.user.credentials.gids, "ok": o.ok, "unknown": o.unknown]
            if let i = o.stoppedAt {
                uo["stopped_at"] = walk.steps[i].path
                if let b = blockers.first(where: { $0.step == i && $0.users.contains(o.user.name) }) {
                    uo["reason"] = b.reason
                    if let fix = b.fix { uo["fix"] = fix }
                }
            }
            users.append(uo)
        }
        return ["path": walk.path, "ok": ok, "want": Self.letters(query.want), "steps": steps, "users": users]
    }

    static func viaText(_ via: Access.Via) -> String {
        switch via {
        case .owner: return "owner"
        case .namedUser: return "named-user"
        case .groups: return "group"
        case .other: return "other"
        case .capability: return "capability"
        }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
