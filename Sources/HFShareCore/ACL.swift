import CACL
import CHFShare
import Glibc

/// POSIX.1e ACLs through libacl. This is the only file that imports libacl; everything above it sees
/// `PosixACL` values.
public struct ACLPerms: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & 7 }
    public static let read = ACLPerms(rawValue: 4)
    public static let write = ACLPerms(rawValue: 2)
    public static let execute = ACLPerms(rawValue: 1)
    public static let rw: ACLPerms = [.read, .write]
    public static let rwx: ACLPerms = [.read, .write, .execute]
    public static let rx: ACLPerms = [.read, .execute]

    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }
}

public enum ACLTag: Hashable, Sendable, Comparable {
    case userObj, user(UInt32), groupObj, group(UInt32), mask, other

    var order: (Int, UInt32) {
        switch self {
        case .userObj: return (0, 0)
        case .user(let id): return (1, id)
        case .groupObj: return (2, 0)
        case .group(let id): return (3, id)
        case .mask: return (4, 0)
        case .other: return (5, 0)
        }
    }

    public static func < (a: ACLTag, b: ACLTag) -> Bool { a.order < b.order }
}

public struct ACLEntry: Hashable, Sendable {
    public var tag: ACLTag
    public var perms: ACLPerms
    public init(_ tag: ACLTag, _ perms: ACLPerms) { self.tag = tag; self.perms = perms }
}

/// An ACL as a sorted list of entries (the canonical order libacl and the kernel use).
public struct PosixACL: Hashable, Sendable, CustomStringConvertible {
    public private(set) var entries: [ACLEntry]

    public init(_ entries: [ACLEntry]) {
        var byTag: [ACLTag: ACLPerms] = [:]
        for e in entries { byTag[e.tag] = e.perms }
        self.entries = byTag.map { ACLEntry($0.key, $0.value) }.sorted { $0.tag < $1.tag }
    }

    /// Entries already in canonical order, each tag once (as the kernel stores them).
    init(sorted entries: [ACLEntry]) {
        var ordered = true
        for i in entries.indices.dropFirst() where !(entries[i - 1].tag < entries[i].tag) { ordered = false }
        self.entries = entries
        if !ordered { self = PosixACL(entries) }
    }

    /// The three-entry ACL that plain mode bits stand for.
    public init(mode: UInt32) {
        self.init([ACLEntry(.userObj, ACLPerms(rawValue: mode >> 6)),
                   ACLEntry(.groupObj, ACLPerms(rawValue: mode >> 3)),
                   ACLEntry(.other, ACLPerms(rawValue: mode))])
    }

    public subscript(tag: ACLTag) -> ACLPerms? {
        get { entries.first { $0.tag == tag }?.perms }
        set {
            var list = entries.filter { $0.tag != tag }
            if let newValue { list.append(ACLEntry(tag, newValue)) }
            self = PosixACL(list)
        }
    }

    /// Extended = more than the three mode entries: named entries and a mask.
    public var isExtended: Bool { entries.count > 3 }

    /// The group-class bits the mode shows: the mask when there is one, else `group::`.
    public var groupClass: ACLPerms { self[.mask] ?? self[.groupObj] ?? [] }

    /// Short text form, `u::rwx,g::rwx,g:1000:rwx,m::rwx,o::r-x`, numeric ids.
    public var description: String {
        entries.map { e in
            switch e.tag {
            case .userObj: return "u::\(e.perms)"
            case .user(let id): return "u:\(id):\(e.perms)"
            case .groupObj: return "g::\(e.perms)"
            case .group(let id): return "g:\(id):\(e.perms)"
            case .mask: return "m::\(e.perms)"
            case .other: return "o::\(e.perms)"
            }
        }.joined(separator: ",")
    }

    /// Parses the short or long text form through libacl (`acl_from_text`).
    public static func parse(_ text: String) -> PosixACL? {
        guard let acl = acl_from_text(text) else { return nil }
        defer { acl_free(UnsafeMutableRawPointer(acl)) }
        return try? ACLStore.convert(acl)
    }
}

public enum ACLKind: Sendable { case access, `default` }

/// One `system.posix_acl_*` xattr as the kernel returned it; nil bytes: the inode has none.
public struct ACLValue: Equatable, Sendable {
    public var bytes: [UInt8]?
    public init(bytes: [UInt8]?) { self.bytes = bytes }
}

/// Reads and writes ACLs of open inodes. Paths are only ever `/proc/self/fd/N` magic links (which name
/// exactly the inode we hold) or `/proc/self/fd/DIR/name` for a read of a directory entry.
public enum ACLStore {
    static func xattrName(_ kind: ACLKind) -> String {
        kind == .access ? "system.posix_acl_access" : "system.posix_acl_default"
    }

    /// The extended ACL of an open inode, or nil if it has none (or the filesystem has no ACLs).
    ///
    /// The walk reads an ACL for every directory and file, so reads take one syscall into a stack
    /// buffer and decode the kernel's `system.posix_acl_*` value (uapi/linux/posix_acl_xattr.h);
    /// libacl (`acl_get_file`) is the fallback for anything unusual: two syscalls, a /proc path
    /// walk and an allocation per entry each time, which made the walk 2x slower than `find`.
    public static func read(_ fd: FD, _ kind: ACLKind) throws -> PosixACL? { try read(fd, kind, keepValue: false).acl }

    /// `read`, also returning the kernel's value as it came (nil: an ACL only libacl could read, which
    /// the link index does not keep). Root's link index keeps it for a snapshot directory, so an
    /// unchanged directory (same ctime: setting an xattr moves it) is not asked again.
    public static func readValue(_ fd: FD, _ kind: ACLKind) throws -> (PosixACL?, ACLValue?) {
        let r = try read(fd, kind, keepValue: true)
        return (r.acl, r.value)
    }

    private static func read(_ fd: FD, _ kind: ACLKind, keepValue: Bool) throws -> (acl: PosixACL?, value: ACLValue?) {
        try withXattrBuffer { buf in
            let n = fgetxattr(fd.raw, xattrName(kind), buf.baseAddress, buf.count)
            if n < 0 && errno == ENODATA { return (nil, keepValue ? ACLValue(bytes: nil) : nil) }
            if n >= 0, let acl = decode(UnsafeRawBufferPointer(rebasing: buf[..<n]), kind) {
                return (acl, keepValue ? ACLValue(bytes: Array(UnsafeRawBufferPointer(rebasing: buf[..<n]))) : nil)
            }
            // EBADF: an O_PATH descriptor, which only the /proc path reaches.
            return (try interpret(n, buf, kind, alsoLibacl: EBADF, display: fd.path) { try read(path: fd.procPath, kind, display: fd.path) }, nil)
        }
    }

    /// A value `readValue` returned, decoded again (nil when it no longer decodes: then read it).
    public static func decode(_ value: ACLValue, _ kind: ACLKind) -> PosixACL?? {
        guard let bytes = value.bytes else { return .some(nil) }
        guard let acl = bytes.withUnsafeBytes({ decode($0, kind) }) else { return nil }
        return .some(acl)
    }

    /// Cleared at the first ENOSYS (kernels before 6.13); tests clear it to exercise the fallback.
    nonisolated(unsafe) static var haveGetxattrat = true

    /// The access ACL of `name` in an open directory, read without opening the entry (never following
    /// a symlink): getxattrat(2) where the kernel has it, else lgetxattr on `/proc/self/fd/DIR/name`.
    public static func readEntry(in dir: FD, _ name: String) throws -> PosixACL? {
        var path: String { "/proc/self/fd/\(dir.raw)/\(name)" } // only for the fallbacks
        return try withXattrBuffer { buf in
            var n = -1
            if haveGetxattrat {
                n = ByteName.withCString(name) { hf_getxattrat(dir.raw, $0, HF_AT_SYMLINK_NOFOLLOW, xattrName(.access), buf.baseAddress, buf.count) }
                if n < 0 && errno == ENOSYS { haveGetxattrat = false }
            }
            if !haveGetxattrat { n = ByteName.withCString(path) { lgetxattr($0, xattrName(.access), buf.baseAddress, buf.count) } }
            // The path for messages is joined only if one is needed (this runs for every file).
            return try interpret(n, buf, .access, display: FD.join(dir.path, name)) { try read(path: path, .access, display: FD.join(dir.path, name)) }
        }
    }

    /// What one getxattr-family call (result `n`, `errno` untouched since) says about an ACL: decoded
    /// from `buf`, none, or ask libacl (a value too big for the buffer, a format we do not decode, or
    /// the `alsoLibacl` errno).
    private static func interpret(_ n: Int, _ buf: UnsafeMutableRawBufferPointer, _ kind: ACLKind, alsoLibacl: Int32? = nil,
                                  display: @autoclosure () -> String, libacl: () throws -> PosixACL?) throws -> PosixACL? {
        if n >= 0 { return try decode(UnsafeRawBufferPointer(rebasing: buf[..<n]), kind) ?? libacl() }
        let code = errno
        if code == ENODATA || code == EOPNOTSUPP || code == ENOTSUP { return nil }
        if code == ERANGE || code == alsoLibacl { return try libacl() }
        throw SystemError("getxattr", display(), code)
    }

    private static func withXattrBuffer<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        // 4 + 8 * 30 entries: more named entries than that goes through libacl.
        try withUnsafeTemporaryAllocation(byteCount: 244, alignment: 8) { try body($0) }
    }

    /// Decodes a `system.posix_acl_*` value: a little-endian u32 version (2), then entries of
    /// u16 tag, u16 perm, u32 id. nil if the value is not that format (libacl then reads it).
    static func decode(_ raw: UnsafeRawBufferPointer, _ kind: ACLKind) -> PosixACL? {
        guard raw.count >= 4, (raw.count - 4) % 8 == 0,
              UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == 2 else { return nil }
        var entries: [ACLEntry] = []
        entries.reserveCapacity((raw.count - 4) / 8)
        var off = 4
        while off < raw.count {
            let tag = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            let perm = ACLPerms(rawValue: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self))))
            let id = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self))
            switch tag {
            case 0x01: entries.append(ACLEntry(.userObj, perm))
            case 0x02: entries.append(ACLEntry(.user(id), perm))
            case 0x04: entries.append(ACLEntry(.groupObj, perm))
            case 0x08: entries.append(ACLEntry(.group(id), perm))
            case 0x10: entries.append(ACLEntry(.mask, perm))
            case 0x20: entries.append(ACLEntry(.other, perm))
            default: return nil
            }
            off += 8
        }
        if kind == .default && entries.isEmpty { return nil }
        return PosixACL(sorted: entries)
    }

    static func read(path: String, _ kind: ACLKind, display: String) throws -> PosixACL? {
        guard let acl = ByteName.withCString(path, { acl_get_file($0, acl_type_t(kind == .access ? ACL_TYPE_ACCESS : ACL_TYPE_DEFAULT)) }) else {
            if errno == ENODATA || errno == EOPNOTSUPP || errno == ENOTSUP { return nil }
            throw SystemError("acl_get_file", display)
        }
        defer { acl_free(UnsafeMutableRawPointer(acl)) }
        let result = try convert(acl)
        if kind == .default && result.entries.isEmpty { return nil }
        return result
    }

    static func convert(_ acl: acl_t) throws -> PosixACL {
        var entries: [ACLEntry] = []
        var entry: acl_entry_t?
        var which = ACL_FIRST_ENTRY
        while acl_get_entry(acl, which, &entry) == 1 {
            which = ACL_NEXT_ENTRY
            guard let entry else { break }
            var tagType = acl_tag_t()
            acl_get_tag_type(entry, &tagType)
            var permset: acl_permset_t?
            acl_get_permset(entry, &permset)
            var perms: ACLPerms = []
            if let permset {
                if acl_get_perm(permset, acl_perm_t(ACL_READ)) == 1 { perms.insert(.read) }
                if acl_get_perm(permset, acl_perm_t(ACL_WRITE)) == 1 { perms.insert(.write) }
                if acl_get_perm(permset, acl_perm_t(ACL_EXECUTE)) == 1 { perms.insert(.execute) }
            }
            func qualifier() -> UInt32 {
                guard let q = acl_get_qualifier(entry) else { return UInt32.max }
                defer { acl_free(q) }
                return q.load(as: UInt32.self)
            }
            switch tagType {
            case ACL_USER_OBJ: entries.append(ACLEntry(.userObj, perms))
            case ACL_USER: entries.append(ACLEntry(.user(qualifier()), perms))
            case ACL_GROUP_OBJ: entries.append(ACLEntry(.groupObj, perms))
            case ACL_GROUP: entries.append(ACLEntry(.group(qualifier()), perms))
            case ACL_MASK: entries.append(ACLEntry(.mask, perms))
            case ACL_OTHER: entries.append(ACLEntry(.other, perms))
            default: continue
            }
        }
        return PosixACL(entries)
    }

    static func build(_ value: PosixACL) throws -> acl_t {
        guard let initial = acl_init(Int32(value.entries.count)) else { throw SystemError("acl_init", "") }
        var acl: acl_t? = initial
        for e in value.entries {
            var entry: acl_entry_t?
            guard acl_create_entry(&acl, &entry) == 0, let entry else { throw SystemError("acl_create_entry", "") }
            var qualifier: UInt32 = 0
            switch e.tag {
            case .userObj: acl_set_tag_type(entry, ACL_USER_OBJ)
            case .user(let id): acl_set_tag_type(entry, ACL_USER); qualifier = id; acl_set_qualifier(entry, &qualifier)
            case .groupObj: acl_set_tag_type(entry, ACL_GROUP_OBJ)
            case .group(let id): acl_set_tag_type(entry, ACL_GROUP); qualifier = id; acl_set_qualifier(entry, &qualifier)
            case .mask: acl_set_tag_type(entry, ACL_MASK)
            case .other: acl_set_tag_type(entry, ACL_OTHER)
            }
            var permset: acl_permset_t?
            acl_get_permset(entry, &permset)
            acl_clear_perms(permset)
            if e.perms.contains(.read) { acl_add_perm(permset, acl_perm_t(ACL_READ)) }
            if e.perms.contains(.write) { acl_add_perm(permset, acl_perm_t(ACL_WRITE)) }
            if e.perms.contains(.execute) { acl_add_perm(permset, acl_perm_t(ACL_EXECUTE)) }
            acl_set_permset(entry, permset)
        }
        return acl!
    }

    /// Whether the filesystem under `fd` answers ACL reads at all (a read-only first guess).
    public static func filesystemAnswers(_ fd: FD) -> Bool {
        var r = fgetxattr(fd.raw, xattrName(.access), nil, 0)
        if r < 0 && errno == EBADF { r = getxattr(fd.procPath, xattrName(.access), nil, 0) } // O_PATH
        return !(r < 0 && (errno == EOPNOTSUPP || errno == ENOTSUP))
    }

    /// Sets the ACL of the inode behind `fd` (any descriptor, O_PATH included).
    public static func write(_ value: PosixACL, to fd: FD, _ kind: ACLKind) throws {
        let acl = try build(value)
        defer { acl_free(UnsafeMutableRawPointer(acl)) }
        guard acl_valid(acl) == 0 else { throw SystemError("acl_valid", fd.path, EINVAL) }
        guard acl_set_file(fd.procPath, acl_type_t(kind == .access ? ACL_TYPE_ACCESS : ACL_TYPE_DEFAULT), acl) == 0 else {
            throw SystemError("acl_set_file", fd.path)
        }
    }
}
