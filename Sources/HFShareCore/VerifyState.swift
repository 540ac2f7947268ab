import CHFShare
import Foundation
import Glibc

/// What `verify` remembers between runs: an inode whose (dev, ino, size, mtime, ctime) have not
/// changed since its bytes hashed to `digest` need not be read again. Kept in
/// `ROOT/.hfshare/verified.bin` (root-owned, written atomically through StateDir), compact binary:
/// the magic line, then fixed 88-byte little-endian records.
public struct VerifiedRecord: Equatable, Hashable, Sendable {
    public var dev: UInt64
    public var ino: UInt64
    public var size: UInt64
    public var mtimeSec: Int64
    public var mtimeNsec: UInt32
    public var ctimeSec: Int64
    public var ctimeNsec: UInt32
    /// The digest the bytes had (sha256, or sha1 git blob id padded with zeros), 32 bytes, kept inline
    /// (a rerun holds a record per blob of the cache: no array allocation each).
    public var stored: Digest32
    public var digest: [UInt8] { stored.bytes }

    public init(stat: FileStat, digest: [UInt8]) {
        dev = stat.dev; ino = stat.ino; size = stat.size
        mtimeSec = stat.mtimeSec; mtimeNsec = stat.mtimeNsec; ctimeSec = stat.ctimeSec; ctimeNsec = stat.ctimeNsec
        stored = Digest32(digest)
    }

    public init(dev: UInt64, ino: UInt64, size: UInt64, mtimeSec: Int64, mtimeNsec: UInt32, ctimeSec: Int64, ctimeNsec: UInt32, digest: Digest32) {
        self.dev = dev; self.ino = ino; self.size = size; self.mtimeSec = mtimeSec; self.mtimeNsec = mtimeNsec
        self.ctimeSec = ctimeSec; self.ctimeNsec = ctimeNsec; self.stored = digest
    }

    public init(dev: UInt64, ino: UInt64, size: UInt64, mtimeSec: Int64, mtimeNsec: UInt32, ctimeSec: Int64, ctimeNsec: UInt32, digest: [UInt8]) {
        self.init(dev: dev, ino: ino, size: size, mtimeSec: mtimeSec, mtimeNsec: mtimeNsec, ctimeSec: ctimeSec, ctimeNsec: ctimeNsec, digest: Digest32(digest))
    }

    /// The same inode, unchanged since it was hashed, and hashed to `digest`.
    public func vouches(for stat: FileStat, digest: [UInt8]) -> Bool {
        stat.dev == dev && stat.ino == ino && stat.size == size && stat.mtimeSec == mtimeSec && stat.mtimeNsec == mtimeNsec
            && stat.ctimeSec == ctimeSec && stat.ctimeNsec == ctimeNsec && stored == Digest32(digest)
    }

    /// `vouches(for:digest:)` with the digest as lowercase hex bytes (a blob's name), never decoded to an array.
    public func vouches(for stat: FileStat, hex: [UInt8]) -> Bool {
        stat.dev == dev && stat.ino == ino && stat.size == size && stat.mtimeSec == mtimeSec && stat.mtimeNsec == mtimeNsec
            && stat.ctimeSec == ctimeSec && stat.ctimeNsec == ctimeNsec && Digest32(hex: hex) == stored
    }

    public struct Key: Hashable, Sendable { public var dev: UInt64; public var ino: UInt64 }
    public var key: Key { Key(dev: dev, ino: ino) }
}

/// 32 digest bytes as four little-endian words (shorter digests padded with zeros, longer cut).
public struct Digest32: Hashable, Sendable {
    public var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    public init(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) { self.a = a; self.b = b; self.c = c; self.d = d }

    public init(_ bytes: [UInt8]) {
        func word(_ w: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 where w * 8 + i < bytes.count { v |= UInt64(bytes[w * 8 + i]) << (8 * UInt64(i)) }
            return v
        }
        self.init(word(0), word(1), word(2), word(3))
    }

    /// From hex digits (an odd or non-hex digit reads as zero bits: such a name never matches a record).
    public init(hex: [UInt8]) {
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0
        for i in 0..<min(hex.count, 64) {
            let ch = hex[i]
            let v: UInt64 = ch >= 0x30 && ch <= 0x39 ? UInt64(ch - 0x30) : (ch >= 0x61 && ch <= 0x66 ? UInt64(ch - 0x61 + 10) : 0)
            // Byte i/2 of the digest, high nibble first, in little-endian words.
            let byte = i / 2
            let bits = v << (UInt64(8 * (byte % 8)) + (i % 2 == 0 ? 4 : 0))
            switch byte / 8 {
            case 0: a |= bits
            case 1: b |= bits
            case 2: c |= bits
            default: d |= bits
            }
        }
        self.init(a, b, c, d)
    }

    public var bytes: [UInt8] { [a, b, c, d].flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * UInt64($0))) } } }
}

public enum VerifiedStore {
    public static let fileName = "verified.bin"
    static let magic = Array("hfshare-verified 1\n".utf8)
    static let recordSize = 88
    /// 400k blobs (35 MB): far more than a cache holds; beyond it the oldest part is dropped.
    public static let maxRecords = 400_000
    public static var maxBytes: Int { magic.count + maxRecords * recordSize }

    public static func encode(_ records: [VerifiedRecord]) -> Data {
        var out = [UInt8]()
        out.reserveCapacity(magic.count + min(records.count, maxRecords) * recordSize)
        out += magic
        for r in records.suffix(maxRecords) {
            append(&out, r.dev); append(&out, r.ino); append(&out, r.size)
            append(&out, UInt64(bitPattern: r.mtimeSec)); append32(&out, r.mtimeNsec)
            append(&out, UInt64(bitPattern: r.ctimeSec)); append32(&out, r.ctimeNsec)
            append(&out, r.stored.a); append(&out, r.stored.b); append(&out, r.stored.c); append(&out, r.stored.d)
        }
        return Data(out)
    }

    /// Records of a well-formed file; nil for anything else (then everything is hashed again).
    public static func decode(_ data: Data) -> [VerifiedRecord]? {
        guard data.count >= magic.count, data.prefix(magic.count).elementsEqual(magic), (data.count - magic.count) % recordSize == 0 else { return nil }
        return data.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> [VerifiedRecord] in
            var out: [VerifiedRecord] = []
            out.reserveCapacity((b.count - magic.count) / recordSize)
            var i = magic.count
            while i < b.count {
                func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i + o, as: UInt64.self)) }
                func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i + o, as: UInt32.self)) }
                out.append(VerifiedRecord(dev: u64(0), ino: u64(8), size: u64(16), mtimeSec: Int64(bitPattern: u64(24)), mtimeNsec: u32(32),
                                          ctimeSec: Int64(bitPattern: u64(40)), ctimeNsec: u32(48), digest: Digest32(u64(56), u64(64), u64(72), u64(80))))
                i += recordSize
            }
            return out
        }
    }

    private static func append(_ out: inout [UInt8], _ v: UInt64) { for s in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(s)))) } }
    private static func append32(_ out: inout [UInt8], _ v: UInt32) {
        for s in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(s)))) }
        out += [0, 0, 0, 0] // keeps the next field 8-aligned in the record
    }
}
