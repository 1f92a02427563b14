import BinlogCore
import Foundation

/// The outcome of `distributary verify`: per table and sink, how many entries were checked
/// and which were missing, different or extra.
public struct VerifyReport: Sendable {
    /// One field whose stored value differs from the one the source row gives.
    public struct FieldDiff: Sendable {
        public var field: String
        /// nil: absent.
        public var expected: String?
        public var actual: String?
    }

    /// The comparison of one table with one sink.
    public struct Result: Sendable {
        public var table: String
        /// `redis` or `index`.
        public var sink: String
        /// The key template or the index name.
        public var target: String
        public var checked = 0
        public var missing = 0
        public var different = 0
        public var extra = 0
        /// Entries that kept changing until the wait ran out: neither confirmed nor refuted.
        public var unsettled = 0
        public var missingKeys: [String] = []
        public var differentKeys: [(key: String, diff: [FieldDiff])] = []
        public var extraKeys: [String] = []
        public var unsettledKeys: [String] = []
        /// Why the table was not compared in this sink (invalidate mode), if it was not.
        public var skipped: String?
        public var notes: [String] = []

        public var matches: Bool { skipped != nil || missing + different + extra == 0 }
    }

    public var pipeline: String
    public var source: String
    public var results: [Result] = []
    /// Sinks whose checkpoint did not reach the source's position within the wait, with the detail.
    public var behind: [String: String] = [:]
    /// Entries that differed at first sight and were read again after the sink passed their position.
    public var rechecked = 0
    public var seconds = 0.0

    /// Every compared entry matches (exit status 0).
    public var matches: Bool { results.allSatisfy(\.matches) }
}

extension VerifyReport {
    /// Human-readable lines: one per table and sink with its counts, the first keys of each
    /// kind, then the sinks that were behind and the verdict.
    public var text: String {
        var lines = ["verify    pipeline \(pipeline), source \(source), \(String(format: "%.1f", seconds)) s"
            + (rechecked > 0 ? ", \(rechecked) entries re-checked after changing or differing at first sight" : "")]
        func quoted(_ s: String?) -> String {
            guard let s else { return "absent" }
            var out = ""
            JSONText.appendString(s.count > 80 ? String(s.prefix(77)) + "..." : s, to: &out)
            return out
        }
        for r in results {
            var line = "\(r.table)  \(r.sink) \(r.target)  "
            if let skipped = r.skipped {
                lines.append(line + "skipped: \(skipped)")
                continue
            }
            line += "checked \(r.checked)  missing \(r.missing)  different \(r.different)  extra \(r.extra)"
            if r.unsettled > 0 { line += "  unsettled \(r.unsettled)" }
            lines.append(line + (r.matches ? "  ok" : ""))
            for k in r.missingKeys { lines.append("  missing    \(k)") }
            for (k, diff) in r.differentKeys {
                lines.append("  different  \(k)  " + diff.prefix(4).map { "\($0.field): expected \(quoted($0.expected)), actual \(quoted($0.actual))" }.joined(separator: "; ")
                    + (diff.count > 4 ? "; \(diff.count - 4) more fields" : ""))
            }
            for k in r.extraKeys { lines.append("  extra      \(k)") }
            for k in r.unsettledKeys { lines.append("  unsettled  \(k)  (kept changing while verify waited; not compared)") }
            for n in r.notes { lines.append("  note: \(n)") }
        }
        for (sink, detail) in behind.sorted(by: { $0.key < $1.key }) { lines.append("\(sink): \(detail)") }
        let differences = results.reduce(0) { $0 + ($1.skipped == nil ? $1.missing + $1.different + $1.extra : 0) }
        lines.append(matches ? "result: every entry matches the source" : "result: \(differences) entries differ from the source")
        return lines.joined(separator: "\n")
    }

    /// One JSON object: `pipeline`, `source`, `matches`, `seconds`, `rechecked`, `behind`
    /// (sink → detail) and `results` (per table and sink: counts, keys, diffs, notes).
    public var json: String {
        func string(_ s: String?, _ out: inout String) {
            if let s { JSONText.appendString(s, to: &out) } else { out += "null" }
        }
        func strings(_ list: [String], _ out: inout String) {
            out += "["
            for (i, s) in list.enumerated() {
                if i > 0 { out += "," }
                JSONText.appendString(s, to: &out)
            }
            out += "]"
        }
        var out = "{\"pipeline\":"
        string(pipeline, &out)
        out += ",\"source\":"
        string(source, &out)
        out += ",\"matches\":\(matches),\"seconds\":\(String(format: "%.3f", seconds)),\"rechecked\":\(rechecked),\"behind\":{"
        for (i, (sink, detail)) in behind.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out += "," }
            string(sink, &out)
            out += ":"
            string(detail, &out)
        }
        out += "},\"results\":["
        for (i, r) in results.enumerated() {
            if i > 0 { out += "," }
            out += "{\"table\":"
            string(r.table, &out)
            out += ",\"sink\":"
            string(r.sink, &out)
            out += ",\"target\":"
            string(r.target, &out)
            out += ",\"skipped\":"
            string(r.skipped, &out)
            out += ",\"matches\":\(r.matches),\"checked\":\(r.checked),\"missing\":\(r.missing),\"different\":\(r.different),\"extra\":\(r.extra),\"unsettled\":\(r.unsettled)"
            out += ",\"missing_keys\":"
            strings(r.missingKeys, &out)
            out += ",\"different_keys\":["
            for (j, (key, diff)) in r.differentKeys.enumerated() {
                if j > 0 { out += "," }
                out += "{\"key\":"
                string(key, &out)
                out += ",\"diff\":["
                for (n, d) in diff.enumerated() {
                    if n > 0 { out += "," }
                    out += "{\"field\":"
                    string(d.field, &out)
                    out += ",\"expected\":"
                    string(d.expected, &out)
                    out += ",\"actual\":"
                    string(d.actual, &out)
                    out += "}"
                }
                out += "]}"
            }
            out += "],\"extra_keys\":"
            strings(r.extraKeys, &out)
            out += ",\"unsettled_keys\":"
            strings(r.unsettledKeys, &out)
            out += ",\"notes\":"
            strings(r.notes, &out)
            out += "}"
        }
        return out + "]}"
    }
}
