import CHFShare
import Glibc

/// Who is asking: a uid and every gid it has (primary and supplementary).
public struct Credentials: Sendable, Equatable {
    public var uid: UInt32
    public var gids: [UInt32]
    public init(uid: UInt32, gids: [UInt32]) { self.uid = uid; self.gids = gids }

    /// Some member of G who owns nothing and has no other group: the access every member is sure of.
    public static func anyMember(of gid: UInt32) -> Credentials { Credentials(uid: UInt32.max - 1, gids: [gid]) }

    public static func of(_ user: UserRecord) -> Credentials { Credentials(uid: user.uid, gids: NSS.groups(of: user)) }
}

/// The kernel's permission check (fs/namei.c `generic_permission` + `posix_acl_permission`), in one
/// place, so that `init`, `audit` and `namei` agree with what really happens.
public enum Access {
    public static func allows(_ who: Credentials, stat: FileStat, acl: PosixACL?, want: ACLPerms) -> Bool {
        if who.uid == 0 {
            // CAP_DAC_OVERRIDE: read and write always; execute a file only if some x bit is set.
            if !want.contains(.execute) || stat.type == .directory { return true }
            return stat.mode & 0o111 != 0
        }
        if who.uid == stat.uid { return ACLPerms(rawValue: stat.mode >> 6).isSuperset(of: want) }
        if let acl, acl.isExtended {
            let mask = acl[.mask] ?? .rwx
            if let named = acl[.user(who.uid)] { return named.intersection(mask).isSuperset(of: want) }
            var matched = false
            for entry in acl.entries {
                let applies: Bool
                switch entry.tag {
                case .groupObj: applies = who.gids.contains(stat.gid)
                case .group(let id): applies = who.gids.contains(id)
                default: applies = false
                }
                guard applies else { continue }
                matched = true
                if entry.perms.intersection(mask).isSuperset(of: want) { return true }
            }
            if matched { return false }
            return ACLPerms(rawValue: stat.mode).isSuperset(of: want)
        }
        if who.gids.contains(stat.gid) { return ACLPerms(rawValue: stat.mode >> 3).isSuperset(of: want) }
        return ACLPerms(rawValue: stat.mode).isSuperset(of: want)
    }

    /// One step of a path check: the directory, what it is, and whether the user may search it.
    public struct Component: Sendable {
        public var path: String
        public var stat: FileStat
        public var acl: PosixACL?
        public var searchable: Bool
    }

    /// Checks every ancestor from `/` down to (and not including) `path`: can `who` search it?
    /// Components are opened one at a time with O_NOFOLLOW, so a symlink on the way is an error.
    public static func ancestors(of path: String, for who: Credentials) throws -> [Component] {
        var result: [Component] = []
        var dir = try FD.open("/", flags: O_PATH_DIRECTORY)
        var current = "/"
        let parts = path.split(separator: "/").map(String.init)
        for (i, part) in parts.enumerated() {
            let st = try dir.stat()
            let acl = try ACLStore.read(dir, .access)
            result.append(Component(path: current, stat: st, acl: acl, searchable: allows(who, stat: st, acl: acl, want: .execute)))
            if i == parts.count - 1 { break }
            let next = try dir.openat(part, flags: O_PATH_DIRECTORY)
            current = FD.join(current, part)
            dir = next
        }
        return result
    }

    static let O_PATH_DIRECTORY: Int32 = HF_O_PATH | HF_O_DIRECTORY | HF_O_NOFOLLOW | HF_O_CLOEXEC
}
