/// SHA-256 and SHA-1, streaming, for checking a blob's content against its name in the cache: LFS
/// blobs are named by the sha256 of their bytes, regular files by their git blob id (sha1 of
/// "blob <size>\0" + bytes). Plain Swift so the tool needs no crypto library.
public struct SHA256 {
    private var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var data = bytes[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, data.count)
            pending += data.prefix(take)
            data = data.dropFirst(take)
            if pending.count < 64 { return }
            pending.withUnsafeBytes { block($0.baseAddress!) }
            pending.removeAll(keepingCapacity: true)
        }
        let base = UnsafeRawBufferPointer(rebasing: data)
        let whole = base.count / 64
        if whole > 0 { blocks(base.baseAddress!, count: whole) }
        pending += base[(whole * 64)...]
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    private mutating func block(_ p: UnsafeRawPointer) { blocks(p, count: 1) }

    /// Compresses `count` consecutive 64-byte blocks; one scratch buffer for all of them.
    private mutating func blocks(_ p: UnsafeRawPointer, count: Int) {
        var h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7]
        SHA256.k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                for n in 0..<count {
                    let base = p + n * 64
                    for i in 0..<16 { w[i] = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
                    for i in 16..<64 {
                        let s0 = w[i - 15].rotr(7) ^ w[i - 15].rotr(18) ^ (w[i - 15] >> 3)
                        let s1 = w[i - 2].rotr(17) ^ w[i - 2].rotr(19) ^ (w[i - 2] >> 10)
                        w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                    }
                    var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7
                    for i in 0..<64 {
                        let s1 = e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                        let s0 = a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ s0 &+ maj
                    }
                    h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e; h5 &+= f; h6 &+= g; h7 &+= hh
                }
            }
        }
        h = [h0, h1, h2, h3, h4, h5, h6, h7]
    }

    public mutating func finalize() -> String {
        var tail: [UInt8] = [0x80]
        let used = Int(length % 64)
        tail += [UInt8](repeating: 0, count: (used < 56 ? 55 - used : 119 - used))
        let bits = length &* 8
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        let saved = length
        update(tail)
        length = saved
        return h.map { String($0, radix: 16).leftPad(8) }.joined()
    }
}

public struct SHA1 {
    private var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var data = bytes[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, data.count)
            pending += data.prefix(take)
            data = data.dropFirst(take)
            if pending.count < 64 { return }
            pending.withUnsafeBytes { block($0.baseAddress!) }
            pending.removeAll(keepingCapacity: true)
        }
        let base = UnsafeRawBufferPointer(rebasing: data)
        var off = 0
        while base.count - off >= 64 {
            block(base.baseAddress! + off)
            off += 64
        }
        pending += base[off...]
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    private mutating func block(_ p: UnsafeRawPointer) {
        var w = [UInt32](repeating: 0, count: 80)
        for i in 0..<16 {
            w[i] = UInt32(p.load(fromByteOffset: i * 4 + 0, as: UInt8.self)) << 24
                | UInt32(p.load(fromByteOffset: i * 4 + 1, as: UInt8.self)) << 16
                | UInt32(p.load(fromByteOffset: i * 4 + 2, as: UInt8.self)) << 8
                | UInt32(p.load(fromByteOffset: i * 4 + 3, as: UInt8.self))
        }
        for i in 16..<80 { w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotl(1) }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
        for i in 0..<80 {
            let f: UInt32, k: UInt32
            switch i {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
            default: f = b ^ c ^ d; k = 0xCA62C1D6
            }
            let t = a.rotl(5) &+ f &+ e &+ k &+ w[i]
            e = d; d = c; c = b.rotl(30); b = a; a = t
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
    }

    public mutating func finalize() -> String {
        var tail: [UInt8] = [0x80]
        let used = Int(length % 64)
        tail += [UInt8](repeating: 0, count: (used < 56 ? 55 - used : 119 - used))
        let bits = length &* 8
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        let saved = length
        update(tail)
        length = saved
        return h.map { String($0, radix: 16).leftPad(8) }.joined()
    }
}

/// What a blob's name promises about its bytes.
public enum BlobName {
    case sha256(String)
    case gitBlob(String)
    case other

    public init(_ name: String) {
        let hex = name.allSatisfy { $0.isHexDigit && !$0.isUppercase }
        if hex && name.count == 64 { self = .sha256(name) } else if hex && name.count == 40 { self = .gitBlob(name) } else { self = .other }
    }
}

/// Hashes a file as both an LFS blob and a git blob while reading it once.
public struct BlobHasher {
    var sha256 = SHA256()
    var git: SHA1?
    /// The git blob id is computed only for names that are one (small files), sha256 always.
    public init(size: UInt64, for name: BlobName) {
        if case .gitBlob = name {
            var g = SHA1()
            g.update(Array("blob \(size)\0".utf8))
            git = g
        }
    }
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { sha256.update(bytes); git?.update(bytes) }

    public struct Digests: Equatable, Sendable {
        public var sha256: String
        public var gitBlob: String?

        /// Whether these bytes are what `name` promises (true for names that promise nothing).
        public func match(_ name: BlobName) -> Bool {
            switch name {
            case .sha256(let want): return sha256 == want
            case .gitBlob(let want): return gitBlob == want
            case .other: return true
            }
        }
    }

    public mutating func finish() -> Digests { Digests(sha256: sha256.finalize(), gitBlob: git?.finalize()) }
}

extension UInt32 {
    fileprivate func rotr(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
    fileprivate func rotl(_ n: UInt32) -> UInt32 { (self << n) | (self >> (32 - n)) }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
