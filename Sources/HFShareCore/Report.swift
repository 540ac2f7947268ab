import Foundation

/// The output layer: every command prints findings through these, so text, JSON lines and Prometheus
/// agree on kinds, paths and counts.
public enum Report {
    /// One finding as a JSON object, keys sorted. Written by hand, not through JSONSerialization: a tree
    /// where every entry is a finding (owners without passwd entries) prints millions of these, and
    /// Foundation's serializer made jsonl 6x slower than text there.
    public static func jsonLine(_ e: Event, root: String) -> String {
        var out = "{"
        out.reserveCapacity(512)
        func field(_ key: String, _ value: String, quoted: Bool = true) {
            if out.utf8.count > 1 { out += "," }
            out += "\"" + key + "\":" + (quoted ? JSON.string(value) : value)
        }
        if !e.finding.detail.isEmpty { field("detail", e.finding.detail) }
        if let err = e.error { field("error", err) }
        field("fix", e.finding.fix)
        field("fixable", e.finding.fixable ? "true" : "false", quoted: false)
        field("kind", e.finding.kind.rawValue)
        field("message", e.finding.message)
        field("outcome", e.outcome.rawValue)
        let path = Escape.jsonName(e.finding.path)
        field("path", path.shown)
        if let b64 = path.b64 { field("path_b64", b64) }
        field("root", root)
        return out + "}"
    }

    /// Human text: grouped by kind, counts, the first `limit` paths of each kind (nil: all).
    public static func text(_ events: [Event], summary: ScanSummary, limit: Int?, verb: String = "audit") -> String {
        let digest = EventDigest(limit: limit)
        for e in events { digest.add(e) }
        return text(digest, verb: verb)
    }

    public static func text(_ digest: EventDigest, verb: String = "audit") -> String {
        var out = ""
        for kind in digest.kinds.keys.sorted() {
            let k = digest.kinds[kind]!
            let outcomes = k.outcomes.map { "\($0.value) \($0.key.rawValue)" }.sorted()
            out += "\(kind.rawValue): \(k.count) (\(kind.fixable ? "fixable" : "report-only"); \(outcomes.joined(separator: ", "))) - \(kind.summary)\n"
            for e in k.samples {
                out += "  \(Escape.text(e.finding.path))"
                if !e.finding.detail.isEmpty { out += "  [\(Escape.text(e.finding.detail))]" }
                if let err = e.error { out += "  error: \(Escape.text(err))" }
                out += "\n"
            }
            if k.count > k.samples.count { out += "  ... and \(k.count - k.samples.count) more (--all lists every path)\n" }
            if let first = k.samples.first, !(kind.fixable && verb == "repair") { out += "  fix: \(first.finding.fix)\n" }
        }
        return out
    }

    /// node_exporter textfile format.
    public static func prometheus(_ summaries: [ScanSummary], success: Bool, now: Double = Posix.now()) -> String {
        var out = "# HELP hfshare_findings Policy violations found by hfshare audit, by kind.\n# TYPE hfshare_findings gauge\n"
        for s in summaries {
            for kind in FindingKind.allCases {
                out += "hfshare_findings{root=\"\(escape(s.root))\",kind=\"\(kind.rawValue)\",fixable=\"\(kind.fixable)\"} \(s.counts[kind] ?? 0)\n"
            }
        }
        out += "# HELP hfshare_entries_scanned Entries the last audit walked.\n# TYPE hfshare_entries_scanned gauge\n"
        for s in summaries { out += "hfshare_entries_scanned{root=\"\(escape(s.root))\"} \(s.entries)\n" }
        out += "# HELP hfshare_audit_duration_seconds Wall time of the last audit.\n# TYPE hfshare_audit_duration_seconds gauge\n"
        for s in summaries { out += "hfshare_audit_duration_seconds{root=\"\(escape(s.root))\"} \(String(format: "%.3f", s.duration))\n" }
        out += "# HELP hfshare_audit_last_success_timestamp_seconds When an audit last completed.\n# TYPE hfshare_audit_last_success_timestamp_seconds gauge\n"
        if success { out += "hfshare_audit_last_success_timestamp_seconds \(Int(now))\n" }
        return out
    }

    /// `repair --format prometheus`: what the run did per outcome and kind (fixed, would-fix, failed,
    /// left), entries walked and duration, e.g. for the repair timer's textfile.
    public static func prometheusRepair(_ summaries: [ScanSummary], dryRun: Bool, now: Double = Posix.now()) -> String {
        var out = "# HELP hfshare_repair_findings Findings the last repair met, by outcome (fixed, would-fix, failed, left).\n# TYPE hfshare_repair_findings gauge\n"
        for s in summaries {
            for o in [Outcome.fixed, .wouldFix, .failed, .left] {
                out += "hfshare_repair_findings{root=\"\(escape(s.root))\",outcome=\"\(o.rawValue)\"} \(s.count(o))\n"
            }
        }
        out += "# HELP hfshare_repair_entries_scanned Entries the last repair walked.\n# TYPE hfshare_repair_entries_scanned gauge\n"
        for s in summaries { out += "hfshare_repair_entries_scanned{root=\"\(escape(s.root))\"} \(s.entries)\n" }
        out += "# HELP hfshare_repair_duration_seconds Wall time of the last repair.\n# TYPE hfshare_repair_duration_seconds gauge\n"
        for s in summaries { out += "hfshare_repair_duration_seconds{root=\"\(escape(s.root))\"} \(String(format: "%.3f", s.duration))\n" }
        if !dryRun && summaries.allSatisfy({ $0.count(.failed) == 0 }) {
            out += "# HELP hfshare_repair_last_success_timestamp_seconds When a repair last fixed everything fixable.\n# TYPE hfshare_repair_last_success_timestamp_seconds gauge\n"
            out += "hfshare_repair_last_success_timestamp_seconds \(Int(now))\n"
        }
        return out
    }

    static func escape(_ s: String) -> String {
        Escape.text(s).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// `36h`, `2d`, `90m`, `3600s`, `3600` → seconds (see Validate.duration).
    public static func parseDuration(_ text: String) -> Double? { Validate.duration(text) }
}

/// What the text report needs of a stream of events, in memory that does not grow with the tree:
/// per kind a count, the outcomes, and the `limit` first paths in path order (all with limit nil,
/// i.e. `--all`). A tree where every entry is a finding (owners without passwd entries) then costs
/// no more memory than a clean one.
public final class EventDigest: @unchecked Sendable {
    public struct PerKind {
        public var count = 0
        public var outcomes: [Outcome: Int] = [:]
        /// Sorted by path, at most `limit`.
        public var samples: [Event] = []
    }

    public let limit: Int?
    public private(set) var kinds: [FindingKind: PerKind] = [:]

    public init(limit: Int?) { self.limit = limit }

    public var isEmpty: Bool { kinds.isEmpty }
    /// Events added, all kinds.
    public var count: Int { kinds.values.reduce(0) { $0 + $1.count } }

    public func add(_ e: Event) {
        // In place (inout through the dictionary's default subscript): copying PerKind out and back
        // would copy its samples array on every event.
        Self.add(e, to: &kinds[e.finding.kind, default: PerKind()], limit: limit ?? Int.max)
    }

    private static func add(_ e: Event, to k: inout PerKind, limit: Int) {
        k.count += 1
        k.outcomes[e.outcome, default: 0] += 1
        if k.samples.count < limit || (limit > 0 && e.finding.path < k.samples[k.samples.count - 1].finding.path) {
            var lo = 0, hi = k.samples.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if k.samples[mid].finding.path < e.finding.path { lo = mid + 1 } else { hi = mid }
            }
            if limit > 0 { k.samples.insert(e, at: lo) }
            if k.samples.count > limit { k.samples.removeLast() }
        }
    }
}

/// JSON string literals (RFC 8259): quotes, backslash and control characters escaped, `/` left alone.
public enum JSON {
    public static func string(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
