import Foundation
import Glibc

/// Input an admin can type, checked once for every command (exit 2, one line, nothing changed).
public enum Validate {
    /// POSIX portable filename characters, not starting with `-`: what `init` accepts as a group name,
    /// so that a name can never be code where it is written into shell (the profile snippet).
    public static func isPortableName(_ s: String) -> Bool {
        guard let first = s.utf8.first, first != UInt8(ascii: "-"), s.utf8.count <= 32 else { return false }
        return s.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }

    /// A path as typed: not empty, no control characters (a newline would become two roots in
    /// /etc/hfshare/roots), not longer than PATH_MAX.
    public static func pathText(_ path: String, what: String = "ROOT") throws {
        if path.isEmpty { throw UsageError("\(what) is empty; pass the directory, e.g. /shared/huggingface_cache") }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) {
            throw UsageError("\(what) \(Escape.text(path)): contains control characters; refusing it")
        }
        if ByteName.bytes(path).count >= Int(PATH_MAX) {
            throw UsageError("\(what) \(Escape.text(String(path.prefix(60))))...: longer than PATH_MAX (\(PATH_MAX) bytes); pick a shorter path")
        }
    }

    /// The one check of ROOT every command makes: the absolute spelling of a sane path that is not `/`,
    /// not a system tree and not a user's home (or inside one) unless `force`.
    public static func root(_ given: String, force: Bool = false, what: String = "ROOT") throws -> String {
        try pathText(given, what: what)
        let path = Paths.absolute(given)
        try pathText(path, what: what)
        try Paths.refuseSystemTree(path)
        if !force, let (user, home) = homeContaining(path) {
            throw UsageError("\(Escape.text(path)): \(path == home ? "is" : "is inside") the home directory of \(user); sharing it would hand their private files to the group. Use a dedicated directory such as /srv/huggingface_cache (or pass --force if you really mean it)")
        }
        return path
    }

    /// The user (uid >= 1000, a person) whose home is `path` or an ancestor of it.
    static func homeContaining(_ path: String) -> (String, String)? {
        var found: (String, String)?
        setpwent()
        while let pw = getpwent() {
            guard pw.pointee.pw_uid >= 1000, pw.pointee.pw_uid != 65534 else { continue }
            let home = Paths.absolute(String(cString: pw.pointee.pw_dir))
            if home == "/" || home.isEmpty { continue }
            if path == home || path.hasPrefix(home + "/") { found = (String(cString: pw.pointee.pw_name), home); break }
        }
        endpwent()
        return found
    }

    /// `36h`, `2d`, `90m`, `3600s`, `3600`: a plain non-negative decimal number and one unit, at most 100 years.
    public static func duration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        var number = Substring(text)
        var unit = 1.0
        if let last = text.last, let u = units[last] { unit = u; number = text.dropLast() }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, number.first != ".", number.last != ".",
              let n = Double(number), n.isFinite, n >= 0 else { return nil }
        let seconds = n * unit
        return seconds <= 100 * 365 * 86400 ? seconds : nil
    }

    /// A group hfshare may share a cache through: not one of the system's fixed groups (gid < 100:
    /// root, adm, disk, sudo, shadow...) unless forced.
    public static func sharingGroup(_ g: GroupRecord, force: Bool) throws {
        if g.gid < 100 && !force {
            throw UsageError("group \(Escape.text(g.name)) (gid \(g.gid)) is a system group; sharing a cache through it would give its files to \(g.name). Use a dedicated group (groupadd hf-users), or pass --force")
        }
    }
}
