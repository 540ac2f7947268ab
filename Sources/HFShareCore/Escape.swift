import Foundation

/// File names are bytes. A Unix name need not be UTF-8 (a member can create `\xff`), and Swift's
/// `String(cString:)` would repair such a name into another one, which then does not open: the
/// whole subtree behind it would go unseen. So every name read from the kernel is decoded here,
/// losslessly, and encoded back at the system-call boundary (`FD` in Syscalls.swift):
///
/// - valid UTF-8 stays as it is (the common case costs one scan);
/// - every byte that is not part of valid UTF-8 becomes the scalar U+10FF00 + byte (Unicode's last
///   private-use plane, which no real file name uses), and so does every byte of a name that really
///   contains such a scalar, so the mapping stays one-to-one and a member cannot make one name decode
///   to another.
///
/// Like Python's `surrogateescape`, but inside what a Swift `String` can hold.
public enum ByteName {
    static let base: UInt32 = 0x10FF00

    /// The String for these bytes (no NUL inside).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var ascii = true
        for b in bytes where b >= 0x80 { ascii = false; break }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 { out.append(b); i += 1; continue }
            let len = validSequenceLength(bytes, at: i)
            if len > 0 {
                var scalar: UInt32 = 0
                switch len {
                case 2: scalar = UInt32(b & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
                case 3: scalar = UInt32(b & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
                default: scalar = UInt32(b & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                }
                if scalar < base {
                    out.append(contentsOf: bytes[i..<(i + len)])
                    i += len
                    continue
                }
                for j in i..<(i + len) { appendEscaped(bytes[j], to: &out) }
                i += len
                continue
            }
            appendEscaped(b, to: &out)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ cString: UnsafePointer<CChar>) -> String {
        let n = strlen(cString)
        return cString.withMemoryRebound(to: UInt8.self, capacity: n) { decode(UnsafeBufferPointer(start: $0, count: n)) }
    }

    public static func decode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { decode($0) }
    }

    /// Whether `s` holds bytes that are not UTF-8 (decoded escapes).
    public static func hasRawBytes(_ s: String) -> Bool {
        mayHaveRawBytes(s) && s.unicodeScalars.contains { $0.value >= base }
    }

    /// A byte 0xF4 (the lead byte of every escape) somewhere in `s`: one memchr on native strings.
    @inline(__always)
    static func mayHaveRawBytes(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { $0.isEmpty ? false : memchr($0.baseAddress!, 0xF4, $0.count) != nil } ?? s.utf8.contains(0xF4)
    }

    /// The exact bytes of a name or path decoded by `decode`.
    public static func bytes(_ s: String) -> [UInt8] {
        guard hasRawBytes(s) else { return Array(s.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            if u.value >= base { out.append(UInt8(truncatingIfNeeded: u.value - base)) } else { out.append(contentsOf: String(u).utf8) }
        }
        return out
    }

    /// Calls `body` with the NUL-terminated bytes of `s` (what the kernel must see).
    @inline(__always)
    public static func withCString<T>(_ s: String, _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        if !mayHaveRawBytes(s) { return try s.withCString(body) }
        var b = bytes(s)
        b.append(0)
        return try b.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    private static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        // U+10FF00 + byte as UTF-8: F4 8F (BC | byte >> 6) (80 | byte & 0x3F)
        out.append(0xF4); out.append(0x8F); out.append(0xBC | (byte >> 6)); out.append(0x80 | (byte & 0x3F))
    }

    /// Length of the valid UTF-8 sequence starting at `i` (RFC 3629: no overlongs, no surrogates), or 0.
    private static func validSequenceLength(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let b0 = s[i], n = s.count
        func cont(_ k: Int) -> Bool { i + k < n && s[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1) && s[i + 1] >= 0xA0 && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xED: return cont(1) && s[i + 1] <= 0x9F && cont(2) ? 3 : 0
        case 0xF0: return cont(1) && s[i + 1] >= 0x90 && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1) && s[i + 1] <= 0x8F && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }
}

/// How a name is shown to a person: the one function every text output uses, so that no byte of a
/// name a member chose reaches the admin's terminal raw (ESC sequences, BEL, a newline that fakes an
/// "all clean" line, bidi overrides). Like `ls -b`: `\n`, `\t`, `\r`, `\\`, other control and
/// non-UTF-8 bytes as `\xNN`, invisible formatting characters as `\u{NNNN}`.
public enum Escape {
    public static func text(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x5C: out += "\\\\"
            case 0x00..<0x20, 0x7F, 0x80..<0xA0: out += String(format: "\\x%02x", u.value)
            case ByteName.base...0x10FFFF: out += String(format: "\\x%02x", u.value - ByteName.base)
            case 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x2069, 0xFEFF, 0xFFF9...0xFFFB:
                out += String(format: "\\u{%04X}", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Last line of defence for whole output lines: line breaks and tabs stay, every other control
    /// character and non-UTF-8 byte is escaped as in `text`. Names are escaped one by one before
    /// (so a newline inside a name cannot start a line); this catches whatever else carried one.
    public static func terminal(_ s: String) -> String {
        if s.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x09 }) { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u.value {
            case 0x0A, 0x09: out.unicodeScalars.append(u)
            case 0x00..<0x20, 0x7F, 0x80..<0xA0: out += String(format: "\\x%02x", u.value)
            case ByteName.base...0x10FFFF: out += String(format: "\\x%02x", u.value - ByteName.base)
            case 0x202A...0x202E, 0x2066...0x2069: out += String(format: "\\u{%04X}", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// For JSON: a name as its escaped text and, when that is not the exact name, its bytes in base64
    /// (the `<key>_b64` fields: audit's `path_b64`, du's `name_b64`).
    public static func jsonName(_ s: String) -> (shown: String, b64: String?) {
        let shown = text(s)
        return (shown, shown == s ? nil : Data(ByteName.bytes(s)).base64EncodedString())
    }
}
