import CHFShare
import Foundation
import Glibc

/// The actor: carries out a judge's Plan on one entry, through descriptors only (the entry's parent
/// directory fd, opened O_NOFOLLOW by the walker and compared with the listing; the entry itself opened
/// O_NOFOLLOW relative to it and compared with what was judged), with the link count re-read around
/// every change (LinkGuard). Nothing here decides what is wrong: that is the judge's.
final class Actor: @unchecked Sendable {
    let policy: Policy
    let root: FD
    let addNamedGroup: Bool

    static let tempPrefix = ".hfshare-repair-"
    static let tempMarker = "trusted.hfshare.repair-copy"

    init(policy: Policy, root: FD, addNamedGroup: Bool) {
        self.policy = policy; self.root = root; self.addNamedGroup = addNamedGroup
    }

    /// What happened: a kind with its outcome (nil kind: a change no finding names, init's `group:G:`).
    struct Result {
        var kind: FindingKind?
        var outcome: Outcome
        var error: String?
        var detail: String?
    }

    func carry(_ plan: Plan, _ e: Policy.Entry, parentRel: String, in dir: FD, selfFD: FD?, path: String) -> [Result] {
        if let kind = plan.remove {
            do {
                try removeStale(e, parentRel: parentRel, in: dir, isLock: kind == .lockStale)
                return [Result(kind: kind, outcome: .fixed)]
            } catch {
                return [Result(kind: kind, outcome: .failed, error: "\(error)")]
            }
        }
        var results: [Result] = []
        var current = e
        if plan.breakLink {
            do {
                current = try breakLink(e, in: dir)
                results.append(Result(kind: .fileHardlinkOutside, outcome: .fixed))
            } catch {
                results.append(Result(kind: .fileHardlinkOutside, outcome: .failed, error: "\(error)"))
                return results + plan.attributeKinds.map { Result(kind: $0, outcome: .left, detail: "link not broken") }
            }
        }
        guard !plan.attributeKinds.isEmpty || plan.namedGroupOnly else { return results }
        do {
            let target: FD
            if let selfFD { target = selfFD } else {
                target = try dir.openat(e.name, flags: HF_O_PATH | HF_O_NOFOLLOW | HF_O_CLOEXEC)
                let st = try target.stat()
                guard st.dev == current.stat.dev, st.ino == current.stat.ino, st.type == current.stat.type else {
                    throw SystemError("open", path, ESTALE)
                }
            }
            try LinkGuard.change(current, through: target, path: path) { try applyAttributes(current, to: target) }
            results += plan.attributeKinds.map { Result(kind: $0, outcome: .fixed) }
            if plan.namedGroupOnly { results.append(Result(kind: nil, outcome: .fixed)) }
        } catch {
            results += plan.attributeKinds.map { Result(kind: $0, outcome: .failed, error: "\(error)") }
        }
        return results
    }

    /// The `.locks` file huggingface_hub holds while it writes an `.incomplete` blob:
    /// `X/models--o--r/blobs/<sha>[.<tag>].incomplete` is guarded by `X/.locks/models--o--r/<sha>.lock`.
    static func guardingLock(of parentRel: String, _ name: String) -> String? {
        let dirs = parentRel.split(separator: "/")
        guard dirs.count >= 2, dirs[dirs.count - 1] == "blobs", let sha = name.split(separator: ".").first else { return nil }
        return (dirs.dropLast(2) + [".locks", dirs[dirs.count - 2], sha + ".lock"]).joined(separator: "/")
    }

    /// Group, ACLs, mode, default ACL: only what differs is written, so a compliant entry keeps its ctime.
    func applyAttributes(_ e: Policy.Entry, to fd: FD) throws {
        if e.stat.gid != policy.gid { try fd.chown(gid: policy.gid); CrashPoint.changed() }
        let isDir = e.stat.type == .directory
        if let acl = policy.wantedAccessACL(e, addNamedGroup: isDir && addNamedGroup) {
            try ACLStore.write(acl, to: fd, .access)
            CrashPoint.changed()
        }
        let wanted = policy.wantedMode(e)
        if try fd.stat().permissions != wanted { try fd.chmod(wanted); CrashPoint.changed() }
        if isDir, let d = policy.wantedDefaultACL(e) { try ACLStore.write(d, to: fd, .default); CrashPoint.changed() }
    }

    func removeStale(_ e: Policy.Entry, parentRel: String, in dir: FD, isLock: Bool) throws {
        // An .incomplete goes only while we hold its download's lock, so no client can resume it meanwhile.
        var guardFD: FD?
        if !isLock, let rel = Actor.guardingLock(of: parentRel, e.name),
           let g = try? root.openBeneath(rel, flags: O_RDONLY | HF_O_NONBLOCK | HF_O_CLOEXEC) {
            guard (try? g.lockBriefly()) == true else { throw SystemError("flock", g.path, EWOULDBLOCK) }
            guardFD = g
        }
        defer { if let g = guardFD { flock(g.raw, LOCK_UN) } }
        let fd = try dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
        if isLock {
            // Hold the lock while unlinking, so nobody can take it between our check and the unlink.
            guard (try? fd.lockBriefly()) == true else { throw SystemError("flock", fd.path, EWOULDBLOCK) }
        }
        let held = try fd.stat()
        let named = try dir.stat(e.name)
        guard held.ino == named.ino, held.dev == named.dev, held.ino == e.stat.ino else { throw SystemError("unlink", fd.path, ESTALE) }
        try dir.unlink(e.name)
        CrashPoint.changed()
    }

    /// Gives a file its own inode: copy to a temp name in the same directory, fsync, keep owner and
    /// mtime, rename over. The outside name keeps the old inode untouched.
    func breakLink(_ e: Policy.Entry, in dir: FD) throws -> Policy.Entry {
        let src = try dir.openat(e.name, flags: O_RDONLY | HF_O_NOFOLLOW | HF_O_NONBLOCK | HF_O_CLOEXEC, noatime: true)
        let st = try src.stat()
        guard st.ino == e.stat.ino, st.dev == e.stat.dev, st.type == .regular else { throw SystemError("open", src.path, ESTALE) }
        let tmp = Actor.tempPrefix + String(st.ino) + ".tmp"
        if let old = try? dir.stat(tmp), old.type == .regular, dir.hasXattr(tmp, Actor.tempMarker) || (old.uid == 0 && old.nlink == 1) {
            try dir.unlink(tmp) // ours, from a killed run; anything else at that name makes O_EXCL fail below
            CrashPoint.changed()
        }
        let dst = try dir.openat(tmp, flags: O_WRONLY | O_CREAT | O_EXCL | HF_O_NOFOLLOW | HF_O_CLOEXEC, mode: 0o600)
        CrashPoint.changed()
        do {
            // Marked first, so a rerun after a kill recognises the copy whoever owns it by then.
            try? dst.setXattr(Actor.tempMarker, "1")
            try copyBytes(from: src, to: dst)
            CrashPoint.changed()
            var copy = e
            copy.stat.gid = policy.gid
            copy.stat.nlink = 1
            if let acl = e.access { try ACLStore.write(acl, to: dst, .access); CrashPoint.changed() }
            guard Glibc.fchmod(dst.raw, mode_t(st.permissions & ~UInt32(S_ISUID | S_ISGID))) == 0 else { throw SystemError("chmod", dst.path) }
            CrashPoint.changed()
            guard hf_set_mtime(dst.raw, st.mtimeSec, Int(st.mtimeNsec)) == 0 else { throw SystemError("utimens", dst.path) }
            CrashPoint.changed()
            try dst.fsync()
            // The owner last: until here a killed run leaves a root-owned copy a rerun may delete.
            guard fchown(dst.raw, st.uid, policy.gid) == 0 else { throw SystemError("chown", dst.path) }
            CrashPoint.changed()
            dst.removeXattr(Actor.tempMarker)
            try dir.rename(tmp, to: e.name)
            CrashPoint.changed()
            try? dir.fsync()
            let now = try dst.stat()
            copy.stat = now
            return copy
        } catch {
            try? dir.unlink(tmp)
            throw error
        }
    }

    func copyBytes(from src: FD, to dst: FD) throws {
        while true {
            let n = hf_copy_file_range(src.raw, dst.raw, 1 << 30)
            if n == 0 { return }
            if n > 0 { continue }
            if errno == EXDEV || errno == ENOSYS || errno == EINVAL { break }
            throw SystemError("copy_file_range", dst.path)
        }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = Glibc.read(src.raw, &buf, buf.count)
            if n < 0 { throw SystemError("read", src.path) }
            if n == 0 { return }
            var off = 0
            while off < n {
                let w = buf[off..<n].withUnsafeBytes { Glibc.write(dst.raw, $0.baseAddress, n - off) }
                if w < 0 { throw SystemError("write", dst.path) }
                off += w
            }
        }
    }

}
