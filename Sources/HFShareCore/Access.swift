import CHFShare
import Foundation
import Glibc

/// Who is asking: a uid, every gid it has (primary and supplementary), and the capabilities that
/// override file permissions.
public struct Credentials: Sendable, Equatable {
    public var uid: UInt32
    public var gids: [UInt32]
    public var capabilities: Capabilities

    /// uid 0 gets CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, as root has them outside a restricted container.
    public init(uid: UInt32, gids: [UInt32]) {
        self.init(uid: uid, gids: gids, capabilities: uid == 0 ? .rootDefault : [])
    }

    public init(uid: UInt32, gids: [UInt32], capabilities: Capabilities) {
        self.uid = uid; self.gids = gids; self.capabilities = capabilities
    }

    /// Some member of G who owns nothing and has no other group: the access every member is sure of.
    public static func anyMember(of gid: UInt32) -> Credentials { Credentials(uid: UInt32.max - 1, gids: [gid]) }

    /// A user as NSS knows them. Root gets the capabilities this machine's bounding set allows, so a
    /// container without CAP_DAC_OVERRIDE is judged as it really behaves.
    public static func of(_ user: UserRecord) -> Credentials {
        Credentials(uid: user.uid, gids: NSS.groups(of: user),
                    capabilities: user.uid == 0 ? Capabilities.boundingSet() : [])
    }
}

/// The two capabilities that bypass file permission checks (linux/capability.h).
public struct Capabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let dacOverride = Capabilities(rawValue: 1)
    public static let dacReadSearch = Capabilities(rawValue: 2)
    public static let rootDefault: Capabilities = [.dacOverride, .dacReadSearch]

    /// CAP_DAC_OVERRIDE (bit 1) and CAP_DAC_READ_SEARCH (bit 2) of this process's bounding set: what a
    /// root process started here can have. Full when /proc is not readable.
    public static func boundingSet() -> Capabilities {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
              let bits = UInt64(line.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return .rootDefault }
        var caps: Capabilities = []
        if bits & (1 << 1) != 0 { caps.insert(.dacOverride) }
        if bits & (1 << 2) != 0 { caps.insert(.dacReadSearch) }
        return caps
    }
}

/// The kernel's permission check (fs/namei.c `generic_permission` + `posix_acl_permission`), in one
/// place, so that `init`, `audit` and `namei` agree with what really happens.
public enum Access {
    /// Which part of the permission check decided.
    public enum Via: Sendable, Equatable {
        /// The owner bits (`u::`); ACLs do not matter for the owner.
        case owner
        /// A named user ACL entry (`u:NAME:`), limited by the mask.
        case namedUser
        /// The owning group and/or named group entries the user matches, limited by the mask (with an ACL).
        case groups([ACLTag])
        /// The other bits.
        case other
        /// CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH overrode a refusal.
        case capability
    }

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var via: Via
        /// Denied only because the ACL mask lacks what the deciding entry has.
        public var maskLimited: Bool
    }

    public static func allows(_ who: Credentials, stat: FileStat, acl: PosixACL?, want: ACLPerms) -> Bool {
        decide(who, stat: stat, acl: acl, want: want).allowed
    }

    /// `generic_permission`: the mode/ACL check first (root too: root may be the owner), then the
    /// capabilities for what it refused.
    public static func decide(_ who: Credentials, stat: FileStat, acl: PosixACL?, want: ACLPerms) -> Decision {
        let dac = permissionCheck(who, stat: stat, acl: acl, want: want)
        if dac.allowed || !capabilityOverrides(who.capabilities, stat: stat, want: want) { return dac }
        return Decision(allowed: true, via: .capability, maskLimited: false)
    }

    /// `acl_permission_check` + `posix_acl_permission`.
    static func permissionCheck(_ who: Credentials, stat: FileStat, acl: PosixACL?, want: ACLPerms) -> Decision {
        if who.uid == stat.uid {
            return Decision(allowed: ACLPerms(rawValue: stat.mode >> 6).isSuperset(of: want), via: .owner, maskLimited: false)
        }
        // The kernel consults the ACL only while the mode's group-class bits (the mask) are not all
        // clear; with `m::---` named entries are skipped and the mode bits decide.
        if let acl, acl.isExtended, stat.mode & 0o070 != 0 {
            let mask = acl[.mask] ?? .rwx
            if let named = acl[.user(who.uid)] {
                let ok = named.intersection(mask).isSuperset(of: want)
                return Decision(allowed: ok, via: .namedUser, maskLimited: !ok && named.isSuperset(of: want))
            }
            var matched: [ACLTag] = []
            for entry in acl.entries {
                let applies: Bool
                switch entry.tag {
                case .groupObj: applies = who.gids.contains(stat.gid)
                case .group(let id): applies = who.gids.contains(id)
                default: applies = false
                }
                guard applies else { continue }
                matched.append(entry.tag)
                // The first matching entry that has the rights decides, through the mask.
                if entry.perms.isSuperset(of: want) {
                    let ok = entry.perms.intersection(mask).isSuperset(of: want)
                    return Decision(allowed: ok, via: .groups([entry.tag]), maskLimited: !ok)
                }
            }
            if !matched.isEmpty { return Decision(allowed: false, via: .groups(matched), maskLimited: false) }
            return Decision(allowed: ACLPerms(rawValue: stat.mode).isSuperset(of: want), via: .other, maskLimited: false)
        }
        if who.gids.contains(stat.gid) {
            return Decision(allowed: ACLPerms(rawValue: stat.mode >> 3).isSuperset(of: want), via: .groups([.groupObj]), maskLimited: false)
        }
        return Decision(allowed: ACLPerms(rawValue: stat.mode).isSuperset(of: want), via: .other, maskLimited: false)
    }

    /// The capability half of `generic_permission`: directories can always be overridden (read and
    /// search with CAP_DAC_READ_SEARCH, anything with CAP_DAC_OVERRIDE); files can be read with
    /// either, written with CAP_DAC_OVERRIDE, executed only if some x bit is set.
    static func capabilityOverrides(_ caps: Capabilities, stat: FileStat, want: ACLPerms) -> Bool {
        if stat.type == .directory {
            if !want.contains(.write) && caps.contains(.dacReadSearch) { return true }
            return caps.contains(.dacOverride)
        }
        if want == .read && caps.contains(.dacReadSearch) { return true }
        if !want.contains(.execute) || stat.mode & 0o111 != 0 { return caps.contains(.dacOverride) }
        return false
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

    /// Whether some user other than root may create, rename or remove entries of this directory: it is
    /// not root's, or its mode or ACL grants write (through the mask) to a group, a named user or
    /// others, and it is not sticky (with the sticky bit only an entry's owner may replace it).
    /// The trust check of symlinks on the way to ROOT: mode bits alone miss `user:alice:rwx`.
    public static func writableByNonRoot(_ stat: FileStat, acl: PosixACL?) -> Bool {
        if stat.uid != 0 { return true }
        if stat.mode & UInt32(S_ISVTX) != 0 { return false }
        if stat.mode & 0o002 != 0 { return true }
        guard let acl, acl.isExtended else { return stat.mode & 0o020 != 0 }
        let mask = acl[.mask] ?? .rwx
        for entry in acl.entries {
            switch entry.tag {
            case .user(let uid) where uid != 0: if entry.perms.intersection(mask).contains(.write) { return true }
            case .groupObj, .group: if entry.perms.intersection(mask).contains(.write) { return true }
            default: continue
            }
        }
        return false
    }

    static let O_PATH_DIRECTORY: Int32 = HF_O_PATH | HF_O_DIRECTORY | HF_O_NOFOLLOW | HF_O_CLOEXEC
}
