import ArgumentParser
import Foundation
import HFShareCore

@main
struct HFShare: ParsableCommand {
    // Every command names itself (`commandName`): a name derived from the type (String(describing:))
    // costs a scan of the binary's protocol conformances per command at every start (~1 ms of ~5.5).
    static let configuration = CommandConfiguration(
        commandName: "hfshare",
        abstract: "Set up, check and repair a Hugging Face cache shared by a Unix group.",
        discussion: """
        hfshare makes one Hugging Face cache directory usable by every member of a group: group-owned \
        setgid directories, default ACLs so files stay group-writable whatever a user's umask, \
        per-user tokens, and an audit/repair pair that keeps it that way. The policy is documented in \
        docs/POLICY.md of the source tree.

        EXIT STATUS: 0 success / healthy; 1 findings remain (audit) or something could not be fixed \
        (init, repair); 2 usage or runtime error (bad arguments, missing group, unreadable ROOT, not root).
        """,
        version: "0.1.0",
        subcommands: [Init.self, Audit.self, Repair.self, VerifyCommand.self, Namei.self, UserCommand.self, DoctorCommand.self, Migrate.self, Probe.self, EnvCommand.self, Du.self, Prune.self, PinCommand.self, UnpinCommand.self, ReadersCommand.self, RestrictCommand.self, UnrestrictCommand.self]
    )

    /// ArgumentParser exits 64 on usage errors; admins' scripts expect 2.
    static func main() {
        Posix.limitMallocArenas(Walkers.cores) // one per core (glibc: eight), see Posix.limitMallocArenas
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as Failure {
            // The one place an error becomes an exit status (0 healthy, 1 findings, 2 usage/runtime).
            let message = error is SystemError ? Escape.text(error.description) : error.description
            if !message.isEmpty { Output.err("hfshare: \(message)\n") }
            Foundation.exit(error.exitStatus)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 1 || code.rawValue == 2 { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

enum Output {
    /// Everything printed goes through Escape.terminal: no control byte a member put in a name reaches
    /// the admin's terminal raw (names are also escaped one by one where they are formatted).
    static func out(_ s: String) { FileHandle.standardOutput.write(Data(Escape.terminal(s).utf8)) }
    static func err(_ s: String) { FileHandle.standardError.write(Data(Escape.terminal(s).utf8)) }
    /// Our own terminal control sequences (the progress line), never mixed with names.
    static func rawErr(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// A one-line progress meter on stderr, only on a terminal (never in cron or pipes).
    static func progress(start: Double) -> ((Int, String) -> Void)? {
        guard stderrIsTerminal, ProcessInfo.processInfo.environment["CI"] == nil else { return nil }
        return { n, dir in
            let rate = Double(n) / max(0.001, Posix.now() - start)
            let shown = dir.count > 60 ? "..." + dir.suffix(57) : dir
            rawErr("\r\u{1B}[K" + Escape.text("\(n) entries, \(Int(rate))/s  \(shown)"))
        }
    }

    static func clearProgress() { if stderrIsTerminal { rawErr("\r\u{1B}[K") } }
}

/// Standard output for lines that walkers print at once (audit --format jsonl): each line is escaped
/// (Escape.terminal) by its caller's thread, and only the append is serialized; written in 64 KiB
/// pieces instead of a write(2) per line. `flush()` before anything else is printed.
final class SharedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private let limit = 64 * 1024

    func line(_ s: String) {
        let bytes = Array(Escape.terminal(s).utf8)
        lock.lock(); defer { lock.unlock() }
        buffer += bytes
        if buffer.count >= limit { writeOut() }
    }

    func flush() { lock.lock(); writeOut(); lock.unlock() }

    private func writeOut() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
