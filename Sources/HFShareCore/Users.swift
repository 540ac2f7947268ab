import CHFShare
import Foundation
import Glibc

/// What a user owns under ROOT: the data `user list` shows and `user remove` warns about.
public struct Ownership: Sendable, Equatable {
    public var entries = 0
    public var files = 0
    public var bytes: UInt64 = 0
    /// Newest mtime of anything the uid owns (its last activity in the cache); 0 if nothing.
    public var newest: Double = 0
    /// A few paths, for messages.
    public var examples: [String] = []
}

public enum OwnershipScan {
    /// Walks ROOT once (directory descriptors, no symlink followed, .hfshare skipped) and sums per uid.
    /// A file with several names inside ROOT counts its bytes once.
    public static func run(root: String) throws -> [UInt32: Ownership] {
        var result: [UInt32: Ownership] = [:]
        var seen = Set<[UInt64]>()
        let top = try Paths.openVerifiedDirectory(root)
        var stack: [(FD, String)] = [(top, "")]
        let rootStat = try top.stat()
        add(rootStat, path: root, to: &result, seen: &seen)
        while let (dir, rel) = stack.popLast() {
            guard let list = try? dir.entries() else { continue }
            for (name, _) in list {
                if rel.isEmpty && name == Paths.stateDirectory { continue }
                guard let st = try? dir.stat(name) else { continue }
                let childRel = rel.isEmpty ? name : rel + "/" + name
                add(st, path: root + "/" + childRel, to: &result, seen: &seen)
                if st.type == .directory, let child = try? dir.openDirectory(name, noatime: true) {
                    stack.append((child, childRel))
                }
            }
        }
        return result
    }

    private static func add(_ st: FileStat, path: String, to result: inout [UInt32: Ownership], seen: inout Set<[UInt64]>) {
        var o = result[st.uid] ?? Ownership()
        o.entries += 1
        o.newest = max(o.newest, st.mtime)
        if st.type == .regular {
            o.files += 1
            if st.nlink == 1 || seen.insert([st.dev, st.ino]).inserted { o.bytes += st.size }
        }
        if o.examples.count < 5 && st.type != .directory { o.examples.append(path) }
        result[st.uid] = o
    }
}

/// Running processes and the groups they really have: a session started before `user add` keeps its
/// old group list until the user logs in again.
public enum Sessions {
    public struct Process: Sendable, Equatable {
        public var pid: Int32
        public var command: String
        public var gids: [UInt32]
    }

    /// Processes whose real uid is `uid`, from /proc/PID/status.
    public static func processes(uid: UInt32) -> [Process] {
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var result: [Process] = []
        for p in pids {
            guard let pid = Int32(p), let text = try? String(contentsOfFile: "/proc/\(p)/status", encoding: .utf8) else { continue }
            var name = "", ruid: UInt32?, gids: [UInt32] = [], egid: UInt32?
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t", omittingEmptySubsequences: true)
                guard let key = parts.first else { continue }
                switch key {
                case "Name:": name = parts.dropFirst().joined(separator: " ")
                case "Uid:": ruid = parts.count > 1 ? UInt32(parts[1]) : nil
                case "Gid:": egid = parts.count > 2 ? UInt32(parts[2]) : nil
                case "Groups:": gids = parts.dropFirst().joined(separator: " ").split(separator: " ").compactMap { UInt32($0) }
                default: break
                }
            }
            guard ruid == uid else { continue }
            if let egid, !gids.contains(egid) { gids.insert(egid, at: 0) }
            result.append(Process(pid: pid, command: name, gids: gids))
        }
        return result.sorted { $0.pid < $1.pid }
    }

    /// The user's processes that do not have `gid` (started before the membership changed).
    public static func withoutGroup(uid: UInt32, gid: UInt32) -> [Process] {
        processes(uid: uid).filter { !$0.gids.contains(gid) }
    }
}

/// `hfshare user add/remove/list`: group membership for a shared root, checked through NSS.
public enum UserAdmin {
    /// The local group database; a group missing here but visible through NSS lives in a directory
    /// (LDAP, SSSD, AD) and hfshare must not try to change it.
    public static var groupFile = "/etc/group"

    public enum Outcome: String, Sendable {
        case added, alreadyMember = "already-member", removed, notMember = "not-member"
        case primaryGroup = "primary-group", noSuchUser = "no-such-user", notVisible = "not-visible"
        case managedElsewhere = "managed-elsewhere", failed
    }

    public struct Result: Sendable {
        public var name: String
        public var outcome: Outcome
        /// What happened and what to do next, one sentence per line, for the admin.
        public var lines: [String] = []
        /// `user remove`: what the user still owns under ROOT.
        public var owned: Ownership?
        public var ok: Bool { [.added, .alreadyMember, .removed, .notMember].contains(outcome) }
    }

    /// Whether the group is in the local group file (so `gpasswd` can change it).
    public static func isLocal(_ group: GroupRecord) -> Bool {
        guard let text = try? String(contentsOfFile: groupFile, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix(group.name + ":") }
    }

    public static func isMember(_ user: UserRecord, _ group: GroupRecord) -> Bool {
        user.gid == group.gid || NSS.groups(of: user).contains(group.gid)
    }

    static func directoryRequest(_ verb: String, _ names: [String], _ g: GroupRecord) -> String {
        "group \(g.name) (gid \(g.gid)) is not in \(groupFile): it is managed by a directory service (LDAP, SSSD, AD). hfshare changed nothing. Ask the directory admin to \(verb) \(names.joined(separator: ", ")) \(verb == "add" ? "to" : "from") group \(g.name) (gid \(g.gid)); once the change is visible here (getent group \(g.name)), the users must log in again."
    }

    public static func add(_ names: [String], to shared: SharedCache) throws -> [Result] {
        try requireRoot("add")
        let g = shared.group
        var results: [Result] = []
        let local = isLocal(g)
        for name in names {
            guard let user = NSS.user(named: name) else {
                results.append(Result(name: name, outcome: .noSuchUser, lines: ["\(name): no such user (NSS); check the name with: getent passwd \(name)"]))
                continue
            }
            if isMember(user, g) {
                results.append(Result(name: name, outcome: .alreadyMember, lines: ["\(name): already a member of \(g.name); nothing changed"] + sessionAdvice(user, g)))
                continue
            }
            guard local else {
                results.append(Result(name: name, outcome: .managedElsewhere, lines: ["\(name): " + directoryRequest("add", [name], g)]))
                continue
            }
            do {
                try gpasswd(["-a", name, g.name])
            } catch {
                results.append(Result(name: name, outcome: .failed, lines: ["\(name): \(error)"]))
                continue
            }
            guard isMember(user, NSS.group(gid: g.gid) ?? g) else {
                results.append(Result(name: name, outcome: .notVisible, lines: [
                    "\(name): added to \(groupFile), but NSS does not show the membership yet (a cache such as nscd or sssd?); run: nscd -i group (or: sss_cache -E), then: id \(name)",
                ]))
                continue
            }
            var lines = ["\(name): added to \(g.name) (checked: id \(name) now lists \(g.name))"]
            lines += nextSteps(user, g, shared.root)
            results.append(Result(name: name, outcome: .added, lines: lines))
        }
        return results
    }

    public static func remove(_ names: [String], from shared: SharedCache) throws -> [Result] {
        try requireRoot("remove")
        let g = shared.group
        let local = isLocal(g)
        var results: [Result] = []
        var owners: [UInt32: Ownership]?
        for name in names {
            guard let user = NSS.user(named: name) else {
                results.append(Result(name: name, outcome: .noSuchUser, lines: ["\(name): no such user (NSS); check the name with: getent passwd \(name)"]))
                continue
            }
            var r: Result
            if user.gid == g.gid {
                r = Result(name: name, outcome: .primaryGroup, lines: [
                    "\(name): \(g.name) is this user's primary group, which gpasswd cannot take away; give the user another primary group first: usermod -g OTHERGROUP \(name), then re-run this command",
                ])
            } else if !isMember(user, g) {
                r = Result(name: name, outcome: .notMember, lines: ["\(name): not a member of \(g.name); nothing changed"])
            } else if !local {
                r = Result(name: name, outcome: .managedElsewhere, lines: ["\(name): " + directoryRequest("remove", [name], g)])
            } else {
                do {
                    try gpasswd(["-d", name, g.name])
                    if isMember(user, NSS.group(gid: g.gid) ?? g) {
                        r = Result(name: name, outcome: .notVisible, lines: [
                            "\(name): removed from \(groupFile), but NSS still shows the membership (a cache such as nscd or sssd, or another group source?); run: nscd -i group (or: sss_cache -E), then: id \(name)",
                        ])
                    } else {
                        r = Result(name: name, outcome: .removed, lines: ["\(name): removed from \(g.name) (checked: id \(name) no longer lists it)"])
                        let running = Sessions.processes(uid: user.uid).filter { $0.gids.contains(g.gid) }
                        if !running.isEmpty {
                            r.lines.append("\(name) has \(running.count) running process(es) that keep the group until they end (pids \(running.prefix(8).map { String($0.pid) }.joined(separator: " "))); to end them now: pkill -u \(name)")
                        }
                    }
                } catch {
                    r = Result(name: name, outcome: .failed, lines: ["\(name): \(error)"])
                }
            }
            if owners == nil { owners = try OwnershipScan.run(root: shared.root) }
            if let o = owners?[user.uid], o.entries > 0 {
                r.owned = o
                r.lines.append("\(name) still owns \(o.entries) entries (\(o.files) files, \(Format.bytes(o.bytes))) under \(shared.root), e.g. \(o.examples.first ?? ""); they stay and other members keep using them. 'hfshare audit' reports them as owner-not-member; to hand them over: find \(Shell.quote(shared.root)) -user \(name) -exec chown -h MEMBER {} +")
            }
            results.append(r)
        }
        return results
    }

    /// What the admin must tell the user: new groups reach only new sessions.
    static func nextSteps(_ user: UserRecord, _ g: GroupRecord, _ root: String) -> [String] {
        var lines = ["next: \(user.name) must log out and in again (running sessions keep their old groups), or run 'newgrp \(g.name)' in each open shell; then 'hfshare doctor' checks the setup"]
        lines += sessionAdvice(user, g)
        return lines
    }

    static func sessionAdvice(_ user: UserRecord, _ g: GroupRecord) -> [String] {
        let stale = Sessions.withoutGroup(uid: user.uid, gid: g.gid)
        guard !stale.isEmpty else { return [] }
        let shown = stale.prefix(8).map { "\($0.pid) \($0.command)" }.joined(separator: ", ")
        return ["\(user.name) has \(stale.count) running process(es) without group \(g.name) (\(shown)\(stale.count > 8 ? ", ..." : "")); they get it only when restarted from a new login"]
    }

    /// gpasswd (which takes the shadow-utils lock and updates /etc/group and /etc/gshadow together),
    /// its "Adding user ..." chatter kept off our output; its error becomes ours.
    static func gpasswd(_ args: [String]) throws {
        let p = Foundation.Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gpasswd")
        p.arguments = args
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw UsageError("gpasswd \(args.joined(separator: " ")) failed: \(msg.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    static func requireRoot(_ verb: String) throws {
        guard Posix.isRoot() else {
            throw UsageError("user \(verb) must run as root (it changes the group database); try: sudo hfshare user \(verb) ...")
        }
    }

    public struct Member: Sendable {
        public var user: UserRecord
        /// How the user is in the group: primary group, member list, or both.
        public var primary: Bool
        public var ownership: Ownership
    }

    public struct Listing: Sendable {
        public var members: [Member]
        /// Owners of data under ROOT who are not members (left from removed users, or never added).
        public var others: [(uid: UInt32, name: String?, ownership: Ownership)]
    }

    /// Members (primary group G, or in G's member list), with what they own under ROOT.
    public static func list(_ shared: SharedCache) throws -> Listing {
        let g = NSS.group(gid: shared.group.gid) ?? shared.group
        var users: [String: (UserRecord, Bool)] = [:]
        for u in allUsers() where u.gid == g.gid { users[u.name] = (u, true) }
        for name in g.members where users[name] == nil {
            if let u = NSS.user(named: name) { users[name] = (u, false) }
        }
        let owners = try OwnershipScan.run(root: shared.root)
        let members = users.values.map { Member(user: $0.0, primary: $0.1, ownership: owners[$0.0.uid] ?? Ownership()) }
            .sorted { $0.user.name < $1.user.name }
        let memberUIDs = Set(members.map(\.user.uid))
        let skeletonOwner: UInt32 = 0
        let others = owners.filter { !memberUIDs.contains($0.key) && !($0.key == skeletonOwner && onlySkeleton(shared.root, $0.value)) }
            .map { (uid: $0.key, name: NSS.user(uid: $0.key)?.name, ownership: $0.value) }
            .sorted { $0.uid < $1.uid }
        return Listing(members: members, others: others)
    }

    /// root owns ROOT and its four top directories by design (init makes them); that is not data.
    static func onlySkeleton(_ root: String, _ o: Ownership) -> Bool { o.files == 0 && o.entries <= Initializer.skeleton.count + 1 }

    /// Every account NSS enumerates (directory services may not enumerate; members listed in the
    /// group entry are then still found by name).
    static func allUsers() -> [UserRecord] {
        var result: [UserRecord] = []
        setpwent()
        while let pw = getpwent() {
            result.append(UserRecord(name: String(cString: pw.pointee.pw_name), uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, home: String(cString: pw.pointee.pw_dir)))
        }
        endpwent()
        return result
    }
}

public enum Format {
    /// 1536 -> "1.5 KiB"; exact bytes below 1 KiB.
    public static func bytes(_ n: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        if n < 1024 { return "\(n) B" }
        var v = Double(n) / 1024
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return String(format: "%.1f %@", v, units[i])
    }

    /// A local date and time, or "-" for 0.
    public static func time(_ t: Double) -> String {
        guard t > 0 else { return "-" }
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
