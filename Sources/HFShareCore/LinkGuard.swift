import Foundation
import Glibc

/// A hard link made while repair runs must not turn a change meant for a file in the cache into a
/// change of a file outside it. The link count judged at listing time is stale by the time root acts,
/// so it is read again on the very descriptor that is about to be changed, right before the change,
/// and again right after:
///
/// - more links than judged before the change: nothing is changed; the entry is reported (the next
///   run sees the new name and breaks the link out first);
/// - more links after the change (a link made in the few microseconds between): the change is undone
///   (group, mode and access ACL put back as they were) and reported.
///
/// With `fs.protected_hardlinks=1` a member can only link files they own or can read and write, so the
/// outside file is one they could already change; the point is that root never does it for them.
public enum LinkGuard {
    public struct Grew: Error, CustomStringConvertible {
        public let path: String
        public let judged: UInt32
        public let now: UInt32
        public let undone: Bool
        public var description: String {
            "\(Escape.text(path)): its link count grew from \(judged) to \(now) while repair worked on it (a hard link was made meanwhile); "
                + (undone ? "the change was undone" : "not changed") + "; run repair again to break the new link out first"
        }
    }

    /// Runs `change` on `fd` (the entry `e`, as judged) only while no link has been added.
    public static func change(_ e: Policy.Entry, through fd: FD, path: String, _ change: () throws -> Void) throws {
        guard e.stat.type != .directory else { return try change() }
        let before = try fd.stat()
        guard before.nlink <= e.stat.nlink else { throw Grew(path: path, judged: e.stat.nlink, now: before.nlink, undone: false) }
        let acl = e.stat.type == .regular ? (try? ACLStore.read(fd, .access)) ?? nil : nil
        try change()
        let after = try fd.stat()
        guard after.nlink <= e.stat.nlink else {
            // Put it back the way it was: group, access ACL, mode (in that order: chown clears setid bits).
            _ = try? fd.chown(gid: before.gid)
            if let acl { try? ACLStore.write(acl, to: fd, .access) }
            try? fd.chmod(before.permissions)
            throw Grew(path: path, judged: e.stat.nlink, now: after.nlink, undone: true)
        }
    }
}
