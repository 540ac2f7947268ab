import Crypto

/// SHA-256 and SHA-1, streaming, as lowercase hex, for checking a blob's content against its name in
/// the cache: LFS blobs are named by the sha256 of their bytes, regular files by their git blob id
/// (sha1 of "blob <size>\0" + bytes). swift-crypto (BoringSSL's assembly) does the hashing.
public struct SHA256 {
    private var h = Crypto.SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { h.update(bufferPointer: bytes) }
    public mutating func update(_ bytes: [UInt8]) { h.update(data: bytes) }
    public mutating func finalize() -> String { hex(h.finalize()) }
    /// The 32 bytes themselves (for a checksum kept in a file).
    public mutating func digest() -> [UInt8] { Array(h.finalize()) }
}

public struct SHA1 {
    private var h = Insecure.SHA1() // git's blob id, not a security property
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { h.update(bufferPointer: bytes) }
    public mutating func update(_ bytes: [UInt8]) { h.update(data: bytes) }
    public mutating func finalize() -> String { hex(h.finalize()) }
}

private func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
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
