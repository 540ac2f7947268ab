import CHFShare
import Foundation
import Glibc

/// A program root starts on a user's behalf (their login shell, or this binary as them), kept at arm's
/// length: its own session with no controlling terminal (so it cannot open /dev/tty, push input into
/// root's terminal with TIOCSTI, or get root's job-control signals), stdin from /dev/null or a pipe root
/// fills, stdout/stderr into pipes read with a cap, no other descriptor inherited, and a time limit after
/// which its whole process group is killed. What it printed is data, never a verdict by itself.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32?
        public var stdout: Data
        public var stderr: Data
        public var timedOut: Bool
        public var truncated: Bool
    }

    public static func run(_ argv: [String], environment: [String] = [], input: Data = Data(), timeout: Double = 20,
                           maxOutput: Int = 1 << 20) throws -> Result {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard hf_pipe_cloexec(&inPipe) == 0 else { throw SystemError("pipe", argv[0]) }
        guard hf_pipe_cloexec(&outPipe) == 0 else { close(inPipe[0]); close(inPipe[1]); throw SystemError("pipe", argv[0]) }
        guard hf_pipe_cloexec(&errPipe) == 0 else {
            for fd in inPipe + outPipe { close(fd) }
            throw SystemError("pipe", argv[0])
        }
        var pid: Int32 = 0
        let r = withCStrings(argv) { av in withCStrings(environment) { ev in
            hf_spawn_detached(argv[0], av, ev, inPipe[0], outPipe[1], errPipe[1], &pid)
        } }
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard r == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SystemError("spawn", argv[0], r)
        }
        var result = Result(status: nil, stdout: Data(), stderr: Data(), timedOut: false, truncated: false)
        let deadline = Posix.now() + timeout
        var pending = input
        var writeFD: Int32 = inPipe[1]
        _ = fcntl(writeFD, F_SETFL, O_NONBLOCK)
        if pending.isEmpty { close(writeFD); writeFD = -1 }
        var open: [Int32] = [outPipe[0], errPipe[0]]
        var buf = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let left = deadline - Posix.now()
            if left <= 0 { result.timedOut = true; break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writeFD >= 0 { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if n < 0 { if errno == EINTR { continue }; break }
            for p in fds where p.revents != 0 {
                if p.fd == writeFD {
                    let w = pending.withUnsafeBytes { Glibc.write(writeFD, $0.baseAddress, $0.count) }
                    if w > 0 { pending = pending.dropFirst(w) }
                    if w < 0 && errno != EAGAIN && errno != EINTR { pending = Data() }
                    if pending.isEmpty { close(writeFD); writeFD = -1 }
                    continue
                }
                let got = Glibc.read(p.fd, &buf, buf.count)
                if got <= 0 {
                    if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    close(p.fd); open.removeAll { $0 == p.fd }
                    continue
                }
                if p.fd == outPipe[0] {
                    if result.stdout.count < maxOutput { result.stdout.append(contentsOf: buf[0..<min(got, maxOutput - result.stdout.count)]) } else { result.truncated = true }
                } else if result.stderr.count < maxOutput {
                    result.stderr.append(contentsOf: buf[0..<min(got, maxOutput - result.stderr.count)])
                }
            }
        }
        if writeFD >= 0 { close(writeFD) }
        for fd in open { close(fd) }
        // The whole group: a startup file may have left children behind (a `sleep 300 &`).
        if result.timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while true {
            if waitpid(pid, &status, result.timedOut ? 0 : WNOHANG) == pid { break }
            if result.timedOut { break }
            if Posix.now() > deadline { result.timedOut = true; kill(-pid, SIGKILL); continue }
            usleep(10_000)
        }
        kill(-pid, SIGKILL) // anything the child left running in its session
        if !result.timedOut {
            let exited = status & 0x7F == 0
            result.status = exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        }
        return result
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { s in
            var b = ByteName.bytes(s)
            b.append(0)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: b.count)
            b.withUnsafeBufferPointer { src in src.withMemoryRebound(to: CChar.self) { p.initialize(from: $0.baseAddress!, count: b.count) } }
            return p
        }
        ptrs.append(nil)
        defer { for p in ptrs { p?.deallocate() } }
        return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

extension Posix {
    /// Keeps processes of the same uid from ptracing this one (the doctor child runs as the user).
    public static func setNotDumpable() { _ = hf_set_not_dumpable() }
}
