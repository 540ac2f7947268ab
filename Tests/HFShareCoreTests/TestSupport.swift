import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// Result of running a program.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum TestEnv {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// The built CLI (`swift build` first; scripts/test.sh does).
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["HFSHARE_BIN"] { return b }
        return packageRoot + "/.build/debug/hfshare"
    }

    /// Serializes everything that edits /etc/passwd and /etc/group (useradd takes a lock and fails if
    /// busy), within this process and across processes (other test runs, the e2e scripts): same file.
    static let accountsLock = AccountsLock()

    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil) -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["CI"] = "1"
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let inp = Pipe()
            p.standardInput = inp
            inp.fileHandleForWriting.write(Data(stdin.utf8))
            try? inp.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        do { try p.run() } catch { return RunResult(status: 127, stdout: "", stderr: "\(error)") }
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    @discardableResult
    static func sh(_ script: String) -> RunResult { run(["/bin/sh", "-c", script]) }
}

/// An NSLock plus an flock on /run/lock/hfshare-test-accounts.lock, which the shell tests take too,
/// so that "find a free id, then groupadd" is atomic across concurrent test processes.
final class AccountsLock: @unchecked Sendable {
    private let inProcess = NSLock()
    private var fd: Int32 = -1
    static let path = "/run/lock/hfshare-test-accounts.lock"

    func lock() {
        inProcess.lock()
        fd = open(AccountsLock.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { flock(fd, LOCK_EX) }
    }

    func unlock() {
        if fd >= 0 { flock(fd, LOCK_UN); close(fd); fd = -1 }
        inProcess.unlock()
    }
}

/// A temp dir under /var/tmp (searchable by everyone) with its own sysconf dir and profile path, so the
/// CLI under test never touches /etc. Removed by `cleanup()`.
final class Sandbox {
    let dir: String
    var env: [String: String] { ["HFSHARE_SYSCONFDIR": dir + "/etc", "HFSHARE_PROFILE": dir + "/profile.d/hfshare.sh"] }

    init() {
        var template = Array("/var/tmp/hfshare-test.XXXXXX".utf8CString)
        dir = String(cString: mkdtemp(&template)!)
        chmod(dir, 0o755)
    }

    func path(_ rel: String) -> String { dir + "/" + rel }

    @discardableResult
    func hfshare(_ args: [String], extraEnv: [String: String] = [:]) -> RunResult {
        TestEnv.run([TestEnv.binary] + args, env: env.merging(extraEnv) { $1 })
    }

    /// Runs the CLI as another user (setpriv with that user's groups), e.g. to check "must be root".
    @discardableResult
    func hfshare(as user: TempAccounts.User, _ args: [String]) -> RunResult {
        TestEnv.run(["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups", TestEnv.binary] + args, env: env)
    }

    func cleanup() { TestEnv.sh("rm -rf '\(dir)'") }

    /// `hfshare init` of `rel` for group `g`, root counted as a member, no profile: a compliant cache root.
    func initRoot(_ rel: String, group g: TempAccounts.Group) throws -> String {
        let root = path(rel)
        let made = hfshare(["init", root, "--group", g.name, "--root-is-member", "--no-profile"])
        try #require(made.status == 0, "\(made.stderr)")
        return root
    }
}

/// Temporary users and groups with high free ids, removed by `cleanup()`.
final class TempAccounts {
    struct User { var name: String; var uid: UInt32; var gid: UInt32 }
    struct Group { var name: String; var gid: UInt32 }
    private(set) var users: [User] = []
    private(set) var groups: [Group] = []
    private static var serial = 0

    private func freeID() -> UInt32 {
        var id: UInt32 = 61000
        while NSS.user(uid: id) != nil || NSS.group(gid: id) != nil { id += 1 }
        return id
    }

    private static func nextName(_ prefix: String) -> String {
        serial += 1
        return "\(prefix)\(getpid() % 10000)x\(serial)"
    }

    func group() -> Group {
        TestEnv.accountsLock.lock(); defer { TestEnv.accountsLock.unlock() }
        let name = TempAccounts.nextName("hfg")
        let gid = freeID()
        let r = TestEnv.run(["/usr/sbin/groupadd", "-g", String(gid), name])
        precondition(r.status == 0, "groupadd: \(r.stderr)")
        let g = Group(name: name, gid: gid)
        groups.append(g)
        return g
    }

    /// A user whose primary group is `primary` (or a fresh own group) with `supplementary` groups.
    func user(primary: Group? = nil, supplementary: [Group] = []) -> User {
        let own = primary ?? group()
        TestEnv.accountsLock.lock(); defer { TestEnv.accountsLock.unlock() }
        let name = TempAccounts.nextName("hfu")
        let uid = freeID()
        var args = ["/usr/sbin/useradd", "-M", "-N", "-u", String(uid), "-g", String(own.gid), "-d", "/nonexistent", "-s", "/bin/sh"]
        if !supplementary.isEmpty { args += ["-G", supplementary.map(\.name).joined(separator: ",")] }
        let r = TestEnv.run(args + [name])
        precondition(r.status == 0, "useradd: \(r.stderr)")
        let u = User(name: name, uid: uid, gid: own.gid)
        users.append(u)
        return u
    }

    func cleanup() {
        TestEnv.accountsLock.lock(); defer { TestEnv.accountsLock.unlock() }
        for u in users { TestEnv.run(["/usr/sbin/userdel", u.name]) }
        for g in groups.reversed() { TestEnv.run(["/usr/sbin/groupdel", g.name]) }
        users = []
        groups = []
    }
}

/// Everything about an entry that a change would show: stat incl. ctime, and both ACLs.
struct EntrySnapshot: Equatable {
    var stat: FileStat
    var access: String?
    var defaultACL: String?
}

enum TreeSnapshot {
    /// Path -> snapshot for every entry under `root` (lstat, never following symlinks).
    static func take(_ root: String) -> [String: EntrySnapshot] {
        var result: [String: EntrySnapshot] = [:]
        let fm = FileManager.default
        var all = [root]
        if let e = fm.enumerator(atPath: root) { while let rel = e.nextObject() as? String { all.append(root + "/" + rel) } }
        for path in all {
            let parent = (path as NSString).deletingLastPathComponent
            let name = (path as NSString).lastPathComponent
            guard let dir = try? FD.open(parent, flags: O_RDONLY | O_DIRECTORY), let st = try? dir.stat(name) else { continue }
            var snap = EntrySnapshot(stat: st)
            if st.type == .regular || st.type == .directory {
                snap.access = (try? ACLStore.readEntry(in: dir, name))??.description
                if st.type == .directory, let d = try? FD.open(path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW) {
                    snap.defaultACL = (try? ACLStore.read(d, .default))??.description
                }
            }
            result[path] = snap
        }
        return result
    }
}

func fileStat(_ path: String) -> FileStat? {
    let parent = (path as NSString).deletingLastPathComponent
    return try? FD.open(parent, flags: O_RDONLY | O_DIRECTORY).stat((path as NSString).lastPathComponent)
}

func readACL(_ path: String, _ kind: ACLKind = .access) -> PosixACL? {
    guard let fd = try? FD.open(path, flags: O_RDONLY | O_NOFOLLOW | (kind == .default ? O_DIRECTORY : 0)) else { return nil }
    return (try? ACLStore.read(fd, kind)) ?? nil
}
