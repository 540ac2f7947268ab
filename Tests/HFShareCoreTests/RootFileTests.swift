import Foundation
import Glibc
import Testing
@testable import HFShareCore

/// The one reader of files root keeps for itself (state dir files, link index records): only a
/// root-owned regular file, reached without a symlink, within its size cap is read; a FIFO a member put
/// in its place must not hang root.
@Suite struct RootFileTests {
    @Test func onlyARootOwnedRegularFileWithinItsCapIsRead() throws {
        guard Posix.isRoot() else { return }
        let box = Sandbox()
        defer { box.cleanup() }
        let d = box.path("d")
        mkdir(d, 0o755)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: d + "/ok"))
        try Data(repeating: 0x41, count: 200_000).write(to: URL(fileURLWithPath: d + "/big"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: d + "/member"))
        chown(d + "/member", 65_432, 65_432)
        symlink(d + "/ok", d + "/link")
        mkfifo(d + "/fifo", 0o644)
        mkdir(d + "/dir", 0o755)
        let fd = try FD.openDirectory(d)

        #expect(try fd.readRootFile("ok", maxBytes: 5) == Array("hello".utf8))
        #expect(try fd.readRootFile("big", maxBytes: 1 << 20)?.count == 200_000) // more than one read
        #expect(try fd.readRootFile("absent", maxBytes: 10) == nil)
        func refusal(_ name: String, maxBytes: Int = 1 << 20) -> RootFileRefusal? {
            do { _ = try fd.readRootFile(name, maxBytes: maxBytes); return nil } catch { return error as? RootFileRefusal }
        }
        guard case .symlink = refusal("link") else { Issue.record("link read"); return }
        guard case .notRegular = refusal("fifo") else { Issue.record("fifo read"); return }
        guard case .notRegular = refusal("dir") else { Issue.record("dir read"); return }
        guard case .notRoot(uid: 65_432) = refusal("member") else { Issue.record("member's file read"); return }
        guard case .tooBig(size: 5) = refusal("ok", maxBytes: 4) else { Issue.record("cap ignored"); return }

        // The state dir says why, naming the file and the fix.
        let state = StateDir(root: d, fd: fd)
        #expect(try state.read("ok").map { Array($0) } == Array("hello".utf8))
        #expect(throws: UsageError.self) { try state.read("link") }
        do { _ = try state.read("member"); Issue.record("member's file read") } catch let e as UsageError {
            #expect("\(e)".contains("member") && "\(e)".contains("owned by uid 65432"), "\(e)")
        }
    }
}
