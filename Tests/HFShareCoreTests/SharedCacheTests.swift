import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// `SharedCache`: the one resolution of root, group and policy that every command starts from.
@Suite(.serialized) struct SharedCacheTests {
    /// The message of the UsageError `body` throws, or nil if it throws none (or another error).
    func usageError(_ body: () throws -> Any) -> String? {
        do { _ = try body() } catch let e as UsageError { return e.description } catch { return nil }
        return nil
    }

    /// A root made by init: the recorded group, gid and root-is-member, init's layout and the probe's
    /// walker count; another --group only with --force; the recorded gid wins over this node's NSS.
    @Test func initMadeRootResolvesToWhatInitRecorded() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group(), other = acc.group()
        let root = try box.initRoot("cache", group: g)

        let cache = try SharedCache.resolve(root: root + "/", staleAge: 3600)
        #expect(cache.root == root)
        #expect(cache.group.name == g.name && cache.group.gid == g.gid)
        #expect(cache.policy.gid == g.gid && cache.policy.groupName == g.name && cache.policy.staleAge == 3600)
        #expect(cache.policy.aclSupported == (try #require(try RootConfig.load(root: root))).acl)
        #expect(cache.rootIsMember, "init --root-is-member is recorded")
        #expect(cache.skeleton == ["", "hub", "datasets", "xet", "assets"])
        #expect(cache.walkers == ProbeRecord.walkers(root: root))
        #expect(cache.recordMismatch == nil)
        // Per-run choices go into ScanOptions: --threads wins over the probe's count.
        #expect(ScanOptions(cache).threads == cache.walkers ?? Walkers.unmeasured)
        #expect(ScanOptions(cache, threads: 3).threads == 3)
        #expect(ScanOptions(cache).policy.gid == g.gid && ScanOptions(cache).root == root)

        let refused = usageError { try SharedCache.resolve(root: root, group: other.name) }
        #expect(refused?.contains("belongs to group \(g.name) (recorded by init); refusing --group \(other.name)") == true, "\(refused ?? "no error")")
        let forced = try SharedCache.resolve(root: root, group: other.name, force: true)
        #expect(forced.policy.gid == other.gid && forced.group.name == other.name)

        // The member-facing resolution (doctor, env, user, migrate) gives the same cache here.
        let member = try SharedCache.resolve(root, group: nil)
        #expect(member.root == root && member.group.gid == g.gid && member.policy.gid == g.gid && member.rootIsMember)

        // A node whose NSS gives the group another gid: the recorded gid is the policy's; the
        // member-facing resolution needs that gid visible and says so.
        var config = try #require(try RootConfig.load(root: root))
        let recorded = g.gid + 100_000
        config.gid = recorded
        try config.encoded().write(to: URL(fileURLWithPath: RootConfig.path(root)))
        let moved = try SharedCache.resolve(root: root)
        #expect(moved.policy.gid == recorded && moved.group.gid == g.gid)
        if NSS.group(gid: recorded) == nil {
            let invisible = usageError { try SharedCache.resolve(root, group: nil) }
            #expect(invisible == "group \(g.name) (gid \(recorded)) is not visible through NSS", "\(invisible ?? "no error")")
        }
    }

    /// A bare cache (no config) needs --group, of a group that exists and is not a system group; ROOT
    /// must be an existing directory. The path-only resolution takes any existing directory.
    @Test func bareCacheNeedsAnExistingGroup() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let bare = box.path("bare")
        #expect(mkdir(bare, 0o755) == 0)

        #expect(usageError { try SharedCache.resolve(root: bare) }
            == "\(bare): no .hfshare/config.json (not made by hfshare init); pass --group NAME")
        #expect(usageError { try SharedCache.resolve(root: bare, group: "nosuchgroup-hfs") }
            == "group 'nosuchgroup-hfs' does not exist on this machine (NSS); check the name or create it")
        #expect(usageError { try SharedCache.resolve(root: bare, group: "root") }?.contains("is a system group") == true)
        #expect(try SharedCache.resolve(root: bare, group: "root", force: true).policy.gid == 0)
        #expect(usageError { try SharedCache.resolve(root: box.path("missing"), group: g.name) }
            == "\(box.path("missing")): no such directory; pass the cache root (the directory that holds hub/)")
        #expect(FileManager.default.createFile(atPath: box.path("file"), contents: Data()))
        #expect(usageError { try SharedCache.resolve(root: box.path("file"), group: g.name) }
            == "\(box.path("file")): not a directory; pass the cache root")

        let cache = try SharedCache.resolve(root: bare, group: g.name)
        #expect(cache.root == bare && cache.group.name == g.name && cache.policy.gid == g.gid)
        #expect(!cache.rootIsMember && cache.walkers == nil && cache.recordMismatch == nil)
        #expect(cache.skeleton == SharedCache.initLayout)
        #expect(try SharedCache.resolve(root: bare, group: String(g.gid)).policy.groupName == g.name, "a numeric --group")

        #expect(try SharedCache.resolvePath(bare + "/.") == bare)
        #expect(usageError { try SharedCache.resolvePath(box.path("missing")) }?.hasSuffix("no such directory; pass the cache root (the directory that holds hub/)") == true)
    }

    /// No ROOT: the one registered root is used; none or several is an error that says what to pass,
    /// through env (the full resolution) and du (the path only), each with its own wording.
    @Test func theOneRegisteredRootIsPickedWhenNoneIsGiven() throws {
        let box = Sandbox(), acc = TempAccounts()
        defer { box.cleanup(); acc.cleanup() }
        let g = acc.group()
        let registry = box.path("etc/roots")

        let noneEnv = box.hfshare(["env"])
        #expect(noneEnv.status == 2)
        #expect(noneEnv.stderr.contains("no ROOT given and none registered in \(registry); pass the cache root (e.g. /shared/huggingface_cache)\n"), "\(noneEnv.stderr)")
        let noneDu = box.hfshare(["du"])
        #expect(noneDu.status == 2)
        #expect(noneDu.stderr.contains("none registered in \(registry); pass the cache root (e.g. /shared/huggingface_cache or ~/.cache/huggingface/hub)"), "\(noneDu.stderr)")

        let first = try box.initRoot("first", group: g)
        let env = box.hfshare(["env"])
        #expect(env.status == 0, "\(env.stderr)")
        #expect(env.stdout.contains("Shared Hugging Face cache \(first) for group \(g.name) (gid \(g.gid))"), "\(env.stdout)")
        let du = box.hfshare(["du", "--json"])
        #expect(du.status == 0, "\(du.stderr)")
        #expect(du.stdout.contains("\"root\":\"\(first)\""), "\(du.stdout.prefix(300))")

        let second = try box.initRoot("second", group: g)
        for args in [["env"], ["du"], ["user", "list"]] {
            let several = box.hfshare(args)
            #expect(several.status == 2, "\(args)")
            #expect(several.stderr.contains("several roots are registered in \(registry) (\(first), \(second)); pass the one you mean"), "\(args): \(several.stderr)")
        }
    }
}
