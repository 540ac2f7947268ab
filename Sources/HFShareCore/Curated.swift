import CHFShare
import Foundation
import Glibc

/// A second group that may use the cache read-only (issue #17): directories r-x, files r--, through
/// `group:R:` access entries and `default:group:R:r-x`, so writers' new downloads stay readable.
public struct ReaderGroup: Codable, Equatable, Sendable, Comparable {
    public var group: String
    public var gid: UInt32

    public init(group: String, gid: UInt32) { self.group = group; self.gid = gid }

    public static func < (a: ReaderGroup, b: ReaderGroup) -> Bool { (a.group, a.gid) < (b.group, b.gid) }
}

/// Repos (by a glob on their cache directory name) that only one group may read: gated models whose
/// licence each user accepts on the Hub.
public struct RestrictRule: Codable, Equatable, Sendable, Comparable {
    /// An fnmatch(3) glob on the repo's cache dir name, `models--meta-llama--*`.
    public var pattern: String
    public var group: String
    public var gid: UInt32
    public var by: String?
    public var at: Double?

    public init(pattern: String, group: String, gid: UInt32, by: String? = nil, at: Double? = nil) {
        self.pattern = pattern; self.group = group; self.gid = gid; self.by = by; self.at = at
    }

    public func matches(_ repoDir: String) -> Bool { fnmatch(pattern, repoDir, 0) == 0 }

    /// Whether the pattern names exactly one repo (no glob characters): `restrict` then makes its
    /// directories ahead of the first download, so that download comes out restricted.
    public var isExact: Bool { !pattern.contains(where: { "*?[".contains($0) }) }

    /// `models--org--name`, `datasets--org--*`, or `org/name`, `datasets/org/name` (no glob) for one repo.
    public static func parsePattern(_ text: String) throws -> String {
        guard !text.isEmpty, !text.contains("\0"), text.utf8.count < 256, !text.contains(".."), !text.hasPrefix("."),
              !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw UsageError("\(Escape.text(text)): not a repo pattern; use a cache dir name or glob such as 'models--meta-llama--*', or ORG/NAME")
        }
        if UsageScanner.repoPrefixes.contains(where: { text.hasPrefix($0) }) || text.hasPrefix("kernels--") {
            if text.contains("/") { throw UsageError("\(Escape.text(text)): a repo pattern is one directory name (no '/'), e.g. 'models--meta-llama--*'") }
            return text
        }
        if !text.contains(where: { "*?[".contains($0) }), let dir = RepoName.dirName(text) { return dir }
        throw UsageError("\(Escape.text(text)): not a repo pattern; it must start with models--, datasets--, spaces-- or kernels-- (e.g. 'models--meta-llama--*'), or be ORG/NAME, datasets/ORG/NAME")
    }

    public static func < (a: RestrictRule, b: RestrictRule) -> Bool { a.pattern < b.pattern }
}

/// What `init --readers`, `hfshare readers` and `hfshare restrict` record: `ROOT/.hfshare/curated.json`,
/// root's, read and written only through the verified state dir (like pins.json).
public struct CuratedFile: Codable, Equatable, Sendable {
    public var format = 1
    public var readers: [ReaderGroup] = []
    public var restricted: [RestrictRule] = []
    /// Repo dirs `restrict` made (root's) ahead of a first download: their root owner is no finding,
    /// also after `unrestrict` (they are kept; `init`'s own dirs are treated the same way).
    public var premade: [String]? = nil

    public static let name = "curated.json"

    public init(readers: [ReaderGroup] = [], restricted: [RestrictRule] = []) { self.readers = readers; self.restricted = restricted }

    public var isEmpty: Bool { readers.isEmpty && restricted.isEmpty }

    /// Every repo dir that may be root's because hfshare made it: recorded ones and exact rules.
    public var premadeRepos: [String] { Array(Set((premade ?? []) + restricted.filter(\.isExact).map(\.pattern))).sorted() }

    public static func decode(_ data: Data, path: String) throws -> CuratedFile {
        do { return try JSONDecoder().decode(CuratedFile.self, from: data) } catch {
            throw UsageError("\(Escape.text(path)): not a readers/restrict list (\(error.localizedDescription)); fix or remove it (audit refuses to judge without knowing who may read what)")
        }
    }

    public func encoded() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try! enc.encode(self)) + Data("\n".utf8)
    }

    /// Pure: false if that group is already a reader.
    public mutating func addReader(_ r: ReaderGroup) -> Bool {
        if readers.contains(where: { $0.gid == r.gid }) { return false }
        readers.append(r)
        readers.sort()
        return true
    }

    public mutating func removeReader(gid: UInt32) -> Bool {
        let before = readers.count
        readers.removeAll { $0.gid == gid }
        return readers.count != before
    }

    /// Pure: adds or re-groups a pattern. Returns false if exactly that rule is there.
    public mutating func restrict(_ rule: RestrictRule) -> Bool {
        if let i = restricted.firstIndex(where: { $0.pattern == rule.pattern }) {
            if restricted[i].gid == rule.gid { return false }
            restricted[i] = rule
            return true
        }
        restricted.append(rule)
        restricted.sort()
        return true
    }

    public mutating func unrestrict(pattern: String) -> Bool {
        let before = restricted.count
        restricted.removeAll { $0.pattern == pattern }
        return restricted.count != before
    }

    public var rules: CuratedRules { CuratedRules(readers: readers.map(\.gid), restricted: restricted) }

    /// The list of ROOT: empty for a bare cache without `.hfshare`.
    public static func load(root: String, state: StateDir? = nil) throws -> CuratedFile {
        guard let state = try state ?? StateDir.openIfPresent(root: root), let data = try state.read(name) else { return CuratedFile() }
        return try decode(data, path: FD.join(state.path, name))
    }

    /// Read-modify-write under the state dir's `curated.lock` (root only). `dryRun` changes nothing
    /// and returns what the file would become.
    public static func update(root: String, dryRun: Bool = false, _ change: (inout CuratedFile) throws -> Void) throws -> CuratedFile {
        guard Posix.isRoot() || dryRun else {
            throw UsageError("readers and restricted repos live in \(Escape.text(FD.join(root, Paths.stateDirectory)))/\(name), which only root may change; run with sudo")
        }
        let state = try StateDir.open(root: root)
        if dryRun {
            var file = try load(root: root, state: state)
            try change(&file)
            return file
        }
        let lock = try state.lockFile("curated.lock")
        guard flock(lock.raw, LOCK_EX) == 0 || errno == ENOLCK || errno == ENOSYS else { throw SystemError("flock", lock.path) }
        defer { flock(lock.raw, LOCK_UN) }
        var file = try state.read(name).map { try decode($0, path: FD.join(state.path, name)) } ?? CuratedFile()
        try change(&file)
        let config = try RootConfig.load(root: root, state: state)
        try state.write(name, file.encoded(), mode: config?.other == OtherAccess.none ? 0o640 : 0o644, gid: config?.gid)
        return file
    }
}

/// The curated rules as the pure policy uses them.
public struct CuratedRules: Sendable, Equatable {
    public var readers: [UInt32]
    public var restricted: [RestrictRule]
    /// Groups whose named entries repair removes: a reader group just removed, the licensed group of a
    /// rule just lifted (`readers remove`, `unrestrict`; never recorded).
    public var revoked: [UInt32] = []
    /// Shared-store blobs (`XX/HASH`) only repos of one licensed group use (StoreUse), and that group.
    public var store: [String: UInt32] = [:]

    public init(readers: [UInt32] = [], restricted: [RestrictRule] = []) { self.readers = readers; self.restricted = restricted }

    public var isEmpty: Bool { readers.isEmpty && restricted.isEmpty && revoked.isEmpty }

    /// The licensed group of a repo directory name, if a rule restricts it (the first matching rule).
    public func restrictedGID(repoDir name: String) -> UInt32? {
        restricted.first { $0.matches(name) }?.gid
    }

    /// Whether a directory at `parentRel` holds repo directories (or their `.locks` dirs): `hub`,
    /// `hub/.locks`, and for a bare hub cache ROOT itself and `.locks`.
    public static func holdsRepos(_ parentRel: String) -> Bool {
        parentRel == "hub" || parentRel == "" || parentRel == "hub/.locks" || parentRel == ".locks"
    }

    /// The licensed group of a child `name` of the directory at `parentRel` (the walker asks this once
    /// per directory it queues; everything below inherits the answer).
    public func restrictedGID(parentRel: String, name: String) -> UInt32? {
        guard !restricted.isEmpty, CuratedRules.holdsRepos(parentRel) else { return nil }
        return restrictedGID(repoDir: name)
    }

    /// The licensed group of the entry at `rel` (a path under ROOT): for entries found outside the walk
    /// (hard links fixed after it, `namei`).
    public func restrictedGID(rel: String) -> UInt32? {
        guard !restricted.isEmpty else { return nil }
        var parts = rel.split(separator: "/").map(String.init)
        if parts.first == "hub" { parts.removeFirst() }
        if parts.first == ".locks" { parts.removeFirst() }
        guard let repo = parts.first else { return nil }
        return restrictedGID(repoDir: repo)
    }

    /// The rule for a repo dir name (for messages).
    public func rule(repoDir name: String) -> RestrictRule? { restricted.first { $0.matches(name) } }
}

/// Membership of other groups than G (the licensed groups of restricted repos), once per (gid, uid).
public final class GroupMemberships: @unchecked Sendable {
    private let lock = NSLock()
    private var caches: [UInt32: MembershipCache] = [:]

    public init() {}

    public func cache(_ gid: UInt32) -> MembershipCache {
        lock.lock(); defer { lock.unlock() }
        if let c = caches[gid] { return c }
        let c = MembershipCache(gid: gid, rootIsMember: false)
        caches[gid] = c
        return c
    }

    public func isMember(_ uid: UInt32, of gid: UInt32) -> Bool { cache(gid).membership(of: uid) == .member }

    /// Answers given in advance (pure tests, no NSS).
    public func preset(_ gid: UInt32, known: [UInt32: MembershipCache.Membership]) {
        lock.lock(); defer { lock.unlock() }
        caches[gid] = MembershipCache(gid: gid, known: known)
    }
}

/// The client's cache-wide shared store (`hub/blobs/<2 hex>/<xet hash>`, huggingface_hub 2.x): repo
/// blobs are symlinks `../../blobs/XX/HASH` into it. A store blob that only repos restricted to one
/// group L use is restricted to L; one that an unrestricted repo (or repos of two licensed groups)
/// also uses is the same public bytes that repo serves and stays shared.
public enum StoreUse {
    /// `XX/HASH` (store-relative) -> the one licensed group of every repo linking to it, for the store
    /// blobs only restricted repos use. Empty without rules or without `hub/blobs`.
    public static func restricted(root: String, rules: CuratedRules) -> [String: UInt32] { use(root: root, rules: rules).restricted }

    /// Both answers: the restricted store blobs, and those a restricted repo shares with an unrestricted
    /// repo or another licensed group (left readable: the same public bytes; `restrict` says how many).
    public static func use(root: String, rules: CuratedRules) -> (restricted: [String: UInt32], shared: [String]) {
        guard !rules.restricted.isEmpty, let rootFD = try? Paths.openVerifiedDirectory(root),
              let hub = try? rootFD.openDirectory("hub"), (try? hub.stat("blobs"))?.type == .directory,
              let repos = try? hub.entries() else { return ([:], []) }
        var users: [String: Set<UInt32?>] = [:]
        for (name, type) in repos where type == .directory && RepoIntegrity.isRepoDirName(Array(name.utf8)) {
            guard let repo = try? hub.openDirectory(name, noatime: true), let blobs = try? repo.openDirectory("blobs", noatime: true),
                  let list = try? blobs.entries() else { continue }
            let gid = rules.restrictedGID(repoDir: name)
            for (blob, btype) in list where btype == .symlink {
                guard let target = try? blobs.readlink(blob), let key = storeKey(target) else { continue }
                users[key, default: []].insert(gid)
            }
        }
        var out: [String: UInt32] = [:]
        for (key, gids) in users where gids.count == 1 { if let gid = gids.first! { out[key] = gid } }
        let shared = users.filter { $0.value.count > 1 && $0.value.contains { $0 != nil } }.map(\.key).sorted()
        return (out, shared)
    }

    /// `../../blobs/XX/HASH` -> `XX/HASH`.
    static func storeKey(_ target: String) -> String? {
        let parts = target.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "..", parts[1] == "..", parts[2] == "blobs", parts[3].count == 2,
              !parts[4].isEmpty, parts[4] != "..", parts[4] != "." else { return nil }
        return parts[3] + "/" + parts[4]
    }
}

extension CuratedRules {
    /// The licensed group of a store blob named `name` in the directory at `dirRel` (`hub/blobs/XX`),
    /// or of its `<hash>.refs` manifest (which names the repos using it).
    public func storeGID(dirRel: String, name: String) -> UInt32? {
        guard !store.isEmpty, dirRel.hasPrefix("hub/blobs/") else { return nil }
        let hash = name.hasSuffix(".refs") ? String(name.dropLast(5)) : name
        return store[String(dirRel.dropFirst(10)) + "/" + hash]
    }
}
