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
        emit("f: "); out += path; emit("\n")
        for item in items {
            if item.noent != 0 {
                var blanks = 1
                if flags.modes { blanks += 9 }
                if flags.owners { blanks += users.width + groups.width + 2 }
                if !flags.vertical { blanks += 1 }
                blanks += item.level * 2
                emit(String(repeating: " ", count: blanks + 1))
                out += item.name
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
            emit(" "); out += item.name
            if item.isSymlink { emit(" -> "); out += item.abslink[item.relstart...] }
            emit("\n")
        }
        return true
    }

    private func emit(_ s: String) { out += Array(s.utf8) }

    /// `%-*s`: printf pads by bytes.
    private func pad(_ name: [UInt8], _ width: Int) {
        out += name
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

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        Self.withCString(bytes, body)
    }

    static func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
