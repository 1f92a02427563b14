/// Fingerprints of the parts of a table mapping that shape derived data, stored with each
/// sink's checkpoint (`mappings` field): when the configuration changes one (a new mapping,
/// another key template, mode, column list, TTL, index fields), the stored data no longer
/// matches it for rows that have not changed since, and start-up names the tables to resync.
public enum MappingFingerprint {
    /// Table (`db.table`) → fingerprint of what the config maps it to in `sink` (`redis`, `index`).
    public static func all(_ config: PipelineConfig, sink: String) -> [String: String] {
        var out: [String: String] = [:]
        for t in config.tables {
            if let fp = fingerprint(t, sink: sink) { out[t.configKey] = fp }
        }
        return out
    }

    static func fingerprint(_ t: TableMapping, sink: String) -> String? {
        var text: String
        switch sink {
        case "redis":
            guard let r = t.redis else { return nil }
            text = "key=\(r.key.source);mode=\(r.mode.rawValue);columns=\(r.columns?.joined(separator: ",") ?? "*")"
            text += ";fields=\(r.fieldNames?.joined(separator: ",") ?? "");ttl=\(r.ttl ?? 0)"
            if !r.excludeColumns.isEmpty { text += ";exclude=\(r.excludeColumns.joined(separator: ","))" }
        case "index":
            guard let i = t.index else { return nil }
            text = "index=\(i.name);fields=" + i.fields.map { field in
                let steps = i.analysis[field.name].map { ":stem=\($0.stem?.rawValue ?? "-"):stop=\($0.stopWords?.rawValue ?? "-")" } ?? ""
                return "\(field.name):\(field.kind.rawValue)\(steps)"
            }.joined(separator: ",")
            text += ";stored=\(i.stored.joined(separator: ","))"
        default:
            return nil
        }
        // FNV-1a, 64 bits, as 16 hex digits: stable across versions and platforms.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// `db.a=0123…,db.b=4567…`, sorted by table.
    public static func encode(_ map: [String: String]) -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    public static func decode(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",") {
            guard let eq = item.lastIndex(of: "=") else { continue }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }

    /// Tables whose stored data does not match the configuration: mapped now but with a
    /// different (or no) stored fingerprint.
    public static func stale(stored: [String: String], current: [String: String]) -> [String] {
        current.keys.filter { stored[$0] != current[$0] }.sorted()
    }
}
