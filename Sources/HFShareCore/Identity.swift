import Foundation
import Glibc

public struct UserRecord: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
}

public struct GroupRecord: Sendable, Equatable {
    public var name: String
    public var gid: UInt32
    public var members: [String]
}

/// Users and groups as NSS reports them (`getpwuid_r`, `getgrgid_r`, `getgrouplist`), so LDAP/SSSD
/// accounts count the same as local ones.
public enum NSS {
    private static func withBuffer<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> T?) -> T? {
        var size = 16 * 1024
        while size <= 1 << 24 {
            let buf = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buf.deallocate() }
            errno = 0
            if let r = body(buf, size) { return r }
            if errno != ERANGE { return nil }
            size *= 4
        }
        return nil
    }

    private static func user(_ pw: passwd) -> UserRecord {
        UserRecord(name: String(cString: pw.pw_name), uid: pw.pw_uid, gid: pw.pw_gid, home: String(cString: pw.pw_dir))
    }

    private static func group(_ gr: group) -> GroupRecord {
        var members: [String] = []
        if var p = gr.gr_mem {
            while let m = p.pointee { members.append(String(cString: m)); p += 1 }
        }
        return GroupRecord(name: String(cString: gr.gr_name), gid: gr.gr_gid, members: members)
    }

    public static func user(uid: UInt32) -> UserRecord? {
        withBuffer { buf, size in
            var pw = passwd(); var result: UnsafeMutablePointer<passwd>?
            let rc = getpwuid_r(uid, &pw, buf, size, &result)
            if rc == ERANGE { errno = ERANGE; return nil }
            return result == nil ? nil : user(pw)
        }
    }

    public static func user(named name: String) -> UserRecord? {
        withBuffer { buf, size in
            var pw = passwd(); var result: UnsafeMutablePointer<passwd>?
            let rc = getpwnam_r(name, &pw, buf, size, &result)
            if rc == ERANGE { errno = ERANGE; return nil }
            return result == nil ? nil : user(pw)
        }
    }

    public static func group(gid: UInt32) -> GroupRecord? {
        withBuffer { buf, size in
            var gr = Glibc.group(); var result: UnsafeMutablePointer<Glibc.group>?
            let rc = getgrgid_r(gid, &gr, buf, size, &result)
            if rc == ERANGE { errno = ERANGE; return nil }
            return result == nil ? nil : group(gr)
        }
    }

    public static func group(named name: String) -> GroupRecord? {
        withBuffer { buf, size in
            var gr = Glibc.group(); var result: UnsafeMutablePointer<Glibc.group>?
            let rc = getgrnam_r(name, &gr, buf, size, &result)
            if rc == ERANGE { errno = ERANGE; return nil }
            return result == nil ? nil : group(gr)
        }
    }

    /// Every gid of a user: primary plus supplementary, as `id -G` would show after a fresh login.
    public static func groups(of user: UserRecord) -> [UInt32] {
        var count: Int32 = 64
        while true {
            var list = [gid_t](repeating: 0, count: Int(count))
            var n = count
            if getgrouplist(user.name, user.gid, &list, &n) >= 0 { return Array(list.prefix(Int(n))) }
            count = max(n, count * 2)
        }
    }

    /// Every user of a group: those whose primary gid it is (a walk of the passwd database) and those
    /// its member list names, sorted by uid. NSS backends that refuse enumeration (some LDAP/SSSD
    /// setups) contribute only the member list.
    public static func members(of group: GroupRecord) -> [UserRecord] {
        var byUID: [UInt32: UserRecord] = [:]
        setpwent()
        while let pw = getpwent() {
            if pw.pointee.pw_gid == group.gid { byUID[pw.pointee.pw_uid] = user(pw.pointee) }
        }
        endpwent()
        for name in group.members { if let u = user(named: name) { byUID[u.uid] = u } }
        return byUID.values.sorted { $0.uid < $1.uid }
    }

    /// Group by name, or by number when the argument is numeric.
    public static func resolveGroup(_ nameOrGid: String) -> GroupRecord? {
        if let g = group(named: nameOrGid) { return g }
        if let id = UInt32(nameOrGid) { return group(gid: id) }
        return nil
    }
}

/// Answers "is this uid a member of G?" once per uid. On trees where many files belong to uids with no
/// passwd entry an uncached NSS lookup per file costs tens of milliseconds (`getfacl -R -p` is 20x
/// slower than `-n` there), so every answer is remembered, the negative ones too.
public final class MembershipCache: @unchecked Sendable {
    public enum Membership: Sendable { case member, notMember, unknownUID }

    public let gid: UInt32
    public let rootIsMember: Bool
    private var cache: [UInt32: Membership] = [:]
    private let lock = NSLock()

    public init(gid: UInt32, rootIsMember: Bool) {
        self.gid = gid
        self.rootIsMember = rootIsMember
    }

    /// Answers given in advance (pure tests of the judge, no NSS): uids not listed are looked up.
    public init(gid: UInt32, known: [UInt32: Membership]) {
        self.gid = gid
        self.rootIsMember = false
        self.cache = known
    }

    public func membership(of uid: UInt32) -> Membership {
        lock.lock()
        if let hit = cache[uid] { lock.unlock(); return hit }
        lock.unlock()
        let answer = lookup(uid)
        lock.lock()
        cache[uid] = answer
        lock.unlock()
        return answer
    }

    private func lookup(_ uid: UInt32) -> Membership {
        guard let user = NSS.user(uid: uid) else { return .unknownUID }
        if uid == 0 { return rootIsMember ? .member : .notMember }
        if user.gid == gid { return .member }
        return NSS.groups(of: user).contains(gid) ? .member : .notMember
    }
}
