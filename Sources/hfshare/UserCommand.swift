import ArgumentParser
import Foundation
import HFShareCore

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add users to a shared cache's group, remove them, list members.",
        discussion: """
        The group is the one 'hfshare init' recorded for ROOT (ROOT/.hfshare/config.json). Without a \
        ROOT argument the one root registered in /etc/hfshare/roots is used. A ROOT argument must \
        contain a slash (/shared/hf, ./cache), which tells it apart from user names.
        """,
        subcommands: [UserAdd.self, UserRemove.self, UserList.self]
    )
}

/// NAME... [ROOT]: arguments with a slash are the root, the others user names.
struct UserArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("User names, then optionally the cache root (an argument with a '/').", valueName: "name-or-root"),
              completion: .custom { _, _, _ in HFShareCompletion.users() })
    var arguments: [String] = []

    @Option(name: .long, help: ArgumentHelp("The shared group, for a ROOT that 'hfshare init' did not make.", valueName: "name"),
            completion: .custom { _, _, _ in HFShareCompletion.groups() })
    var group: String?

    func split(namesRequired: Bool) throws -> (names: [String], root: SharedCache) {
        let roots = arguments.filter { $0.contains("/") }
        let names = arguments.filter { !$0.contains("/") }
        if roots.count > 1 { throw ValidationError("one ROOT at a time (got \(roots.joined(separator: ", ")))") }
        if namesRequired && names.isEmpty { throw ValidationError("name at least one user") }
        if !namesRequired && !names.isEmpty { throw ValidationError("unexpected argument \(names[0]); ROOT must contain a '/' (e.g. ./cache)") }
        return (names, try SharedCache.resolve(roots.first, group: group))
    }
}

struct UserAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add users to the shared group (root only).",
        discussion: """
        For a local group (in /etc/group) runs 'gpasswd -a NAME GROUP' for each user, then checks \
        through NSS (getgrouplist, as 'id NAME' does) that the membership is visible, and says what \
        the user must do next: log out and in again, or run 'newgrp GROUP', because running sessions \
        keep the groups they started with. Running processes of the user that lack the group are \
        listed. A user who is already a member (primary group or member list) is left alone.

        If the group is not in /etc/group it is managed by a directory service (LDAP, SSSD, AD): \
        nothing is changed and the command prints what to ask the directory admin for.

        EXIT STATUS: 0 every user is a member now (checked through NSS); 1 some user could not be added \
        (unknown user, directory-managed group, membership not visible through NSS), listed; 2 usage \
        error or not root.

        EXAMPLES:
          sudo hfshare user add alice bob
          sudo hfshare user add carol /shared/huggingface_cache
        """
    )

    @OptionGroup var options: UserArguments

    func run() throws {
        let (names, shared) = try options.split(namesRequired: true)
        let results = try UserAdmin.add(names, to: shared)
        for r in results { Output.out(r.lines.joined(separator: "\n") + "\n") }
        if results.contains(where: { !$0.ok }) { throw OutcomeStatus.findings }
    }
}

struct UserRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove users from the shared group (root only).",
        discussion: """
        Mirrors 'user add': 'gpasswd -d NAME GROUP' for a local group, checked through NSS; for a \
        directory-managed group it changes nothing and prints what to ask for. A user whose primary \
        group is GROUP cannot be removed this way: the command says how to change the primary group.

        Files the user still owns under ROOT stay where they are (other members may use them); the \
        command counts them and 'hfshare audit' reports them as owner-not-member. Running processes \
        keep the group until they end.

        EXIT STATUS: 0 every user is out of the group (checked through NSS); 1 some user could not be \
        removed, listed; 2 usage error or not root.

        EXAMPLES:
          sudo hfshare user remove alice
          sudo hfshare user remove bob /shared/huggingface_cache
        """
    )

    @OptionGroup var options: UserArguments

    func run() throws {
        let (names, shared) = try options.split(namesRequired: true)
        let results = try UserAdmin.remove(names, from: shared)
        for r in results { Output.out(r.lines.joined(separator: "\n") + "\n") }
        if results.contains(where: { !$0.ok }) { throw OutcomeStatus.findings }
    }
}

struct UserList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the group's members with their last activity and data in the cache.",
        discussion: """
        Members are users whose primary group is GROUP or who are in its member list, as NSS reports \
        them. For each: uid, how they are a member, their last activity in the cache (the newest mtime \
        of anything they own under ROOT) and how much file data they own there (hard links counted \
        once). Owners of data under ROOT who are not members are listed after them.

        EXIT STATUS: 0 listed; 2 usage error or ROOT unreadable.

        EXAMPLES:
          hfshare user list
          hfshare user list /shared/huggingface_cache
        """
    )

    @OptionGroup var options: UserArguments

    @Flag(name: .long, help: "Print one JSON object: root, group, members and other owners, each with uid, entries, files, bytes and last activity (epoch seconds).")
    var json = false

    func run() throws {
        let (_, shared) = try options.split(namesRequired: false)
        let listing = try UserAdmin.list(shared)
        if json {
            func owner(_ name: String?, _ uid: UInt32, _ o: Ownership, primary: Bool?) -> [String: Any] {
                var d: [String: Any] = ["uid": uid, "entries": o.entries, "files": o.files, "bytes": o.bytes, "lastActivity": o.newest]
                d["name"] = name ?? NSNull()
                if let primary { d["memberBy"] = primary ? "primary" : "list" }
                return d
            }
            let obj: [String: Any] = [
                "root": shared.root, "group": shared.group.name, "gid": shared.group.gid,
                "members": listing.members.map { owner($0.user.name, $0.user.uid, $0.ownership, primary: $0.primary) },
                "others": listing.others.map { owner($0.name, $0.uid, $0.ownership, primary: nil) },
            ]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
            Output.out(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        Output.out("\(shared.root): group \(shared.group.name) (gid \(shared.group.gid)), \(listing.members.count) member(s)\n")
        var rows = [["USER", "UID", "MEMBER-BY", "LAST-ACTIVITY", "DATA", "FILES"]]
        for m in listing.members {
            rows.append([m.user.name, String(m.user.uid), m.primary ? "primary" : "list", Format.time(m.ownership.newest),
                         Format.bytes(m.ownership.bytes), String(m.ownership.files)])
        }
        Output.out(table(rows))
        if !listing.others.isEmpty {
            Output.out("not members, but own data under \(shared.root) (audit: owner-not-member / owner-unknown-uid):\n")
            var more = [["USER", "UID", "LAST-ACTIVITY", "DATA", "FILES"]]
            for o in listing.others {
                more.append([o.name ?? "(no account)", String(o.uid), Format.time(o.ownership.newest), Format.bytes(o.ownership.bytes), String(o.ownership.files)])
            }
            Output.out(table(more))
        }
    }

    func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = (0..<first.count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
