import Foundation
import Glibc

/// A repo (every revision) or one revision that `prune` must never remove.
public struct Pin: Codable, Equatable, Sendable, Comparable {
    /// Cache directory name: `models--org--name`.
    public var repo: String
    /// A commit hash (or a prefix of one) or a ref name (`main`, `v1.0`, `pr/3`), resolved when prune
    /// runs: pinning `repo@main` keeps whatever `main` points to then. nil: the whole repo.
    public var revision: String?
    public var by: String?
    public var at: Double?

    public init(repo: String, revision: String? = nil, by: String? = nil, at: Double? = nil) {
        self.repo = repo; self.revision = revision; self.by = by; self.at = at
    }

    /// `org/name`, `datasets/org/name`, `models--org--name`, each optionally `@REV`.
    public static func parse(_ text: String) throws -> Pin {
        var repoText = text
        var rev: String?
        if let at = text.lastIndex(of: "@") {
            repoText = String(text[..<at])
            rev = String(text[text.index(after: at)...])
            if rev!.isEmpty { throw UsageError("\(Escape.text(text)): empty revision after @; use REPO@COMMIT or REPO@BRANCH") }
            if rev!.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } ?? false }) || rev!.hasPrefix("/") || rev!.contains("..") {
                throw UsageError("\(Escape.text(text)): not a revision name")
            }
        }
        guard let dir = RepoName.dirName(repoText) else {
            throw UsageError("\(Escape.text(text)): not a repo; use ORG/NAME (a model), datasets/ORG/NAME, spaces/ORG/NAME or the cache dir name models--ORG--NAME, optionally @REVISION")
        }
        return Pin(repo: dir, revision: rev)
    }

    public var label: String { revision.map { "\(repo)@\($0)" } ?? repo }

    /// Does this pin keep `commit` of `repo`, whose refs are `refs` (ref name -> commit)?
    public func keeps(repo: String, commit: String, refs: [String]) -> Bool {
        guard self.repo == repo else { return false }
        guard let revision else { return true }
        if refs.contains(revision) { return true }
        return revision.count >= 7 && commit.hasPrefix(revision)
    }

    public static func < (a: Pin, b: Pin) -> Bool { (a.repo, a.revision ?? "") < (b.repo, b.revision ?? "") }
}

/// `ROOT/.hfshare/pins.json`, read and written only through the verified state dir.
public struct PinFile: Codable, Equatable, Sendable {
    public var format = 1
    public var pins: [Pin] = []

    public static let name = "pins.json"

    public init(pins: [Pin] = []) { self.pins = pins }

    public static func decode(_ data: Data, path: String) throws -> PinFile {
        do { return try JSONDecoder().decode(PinFile.self, from: data) } catch {
            throw UsageError("\(Escape.text(path)): not a pin list (\(error.localizedDescription)); fix or remove it (prune refuses to run without knowing the pins)")
        }
    }

    public func encoded() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try! enc.encode(self)) + Data("\n".utf8)
    }

    /// Pure: adds a pin; false if an equal one (same repo and revision) is there.
    public mutating func add(_ pin: Pin) -> Bool {
        if pins.contains(where: { $0.repo == pin.repo && $0.revision == pin.revision }) { return false }
        pins.append(pin)
        pins.sort()
        return true
    }

    /// Pure: removes pins of that repo and revision (revision nil: every pin of the repo). Returns how many.
    public mutating func remove(_ pin: Pin) -> Int {
        let before = pins.count
        pins.removeAll { $0.repo == pin.repo && (pin.revision == nil || $0.revision == pin.revision) }
        return before - pins.count
    }

    public func keeps(repo: String, commit: String, refs: [String]) -> Pin? {
        pins.first { $0.keeps(repo: repo, commit: commit, refs: refs) }
    }

    /// The pins of ROOT: none for a bare cache without `.hfshare`.
    public static func load(root: String) throws -> PinFile {
        guard let state = try StateDir.openIfPresent(root: root), let data = try state.read(name) else { return PinFile() }
        return try decode(data, path: FD.join(state.path, name))
    }

    /// Read-modify-write under the state dir's `pins.lock` (root only).
    public static func update(root: String, _ change: (inout PinFile) throws -> Void) throws -> PinFile {
        guard Posix.isRoot() else { throw UsageError("pins live in \(Escape.text(FD.join(root, Paths.stateDirectory)))/\(name), which only root may change; run with sudo") }
        let state = try StateDir.open(root: root)
        let lock = try state.lockFile("pins.lock")
        guard flock(lock.raw, LOCK_EX) == 0 || errno == ENOLCK || errno == ENOSYS else { throw SystemError("flock", lock.path) }
        defer { flock(lock.raw, LOCK_UN) }
        var file = try state.read(name).map { try decode($0, path: FD.join(state.path, name)) } ?? PinFile()
        try change(&file)
        try state.write(name, file.encoded(), mode: 0o644)
        return file
    }
}
