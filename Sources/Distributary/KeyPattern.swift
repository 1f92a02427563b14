import Routing

/// A table's Redis key template with `{@db}`/`{@table}` resolved: its SCAN pattern, whether
/// a key matches it, and the column values a key holds.
struct KeyPattern: Sendable {
    enum Part: Sendable, Equatable {
        case literal([UInt8])
        case column(String)
    }

    let parts: [Part]
    let columns: [String]
    /// Keys of several columns escape `\` and the literal text between columns (as the Router writes them).
    let escaped: Bool

    init(template: KeyTemplate, schema: String, table: String) {
        var parts: [Part] = []
        func literal(_ s: String) {
            if case .literal(let l)? = parts.last { parts[parts.count - 1] = .literal(l + Array(s.utf8)) } else { parts.append(.literal(Array(s.utf8))) }
        }
        for part in template.parts {
            switch part {
            case .literal(let s): literal(s)
            case .database: literal(schema)
            case .table: literal(table)
            case .column(let c): parts.append(.column(c))
            }
        }
        self.parts = parts
        columns = template.columns
        escaped = template.columns.count > 1
    }

    /// The SCAN MATCH pattern: literals escaped, a `*` per column.
    var glob: String {
        var out: [UInt8] = []
        for part in parts {
            switch part {
            case .literal(let l):
                for b in l {
                    if [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\")].contains(b) { out.append(UInt8(ascii: "\\")) }
                    out.append(b)
                }
            case .column:
                if out.last != UInt8(ascii: "*") || out.count >= 2 && out[out.count - 2] == UInt8(ascii: "\\") { out.append(UInt8(ascii: "*")) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `key` fits the pattern (the glob's meaning: literals in place, anything for columns).
    func matches(_ key: [UInt8]) -> Bool {
        func match(_ p: Int, _ k: Int) -> Bool {
            if p == parts.count { return k == key.count }
            switch parts[p] {
            case .literal(let l):
                guard key.count - k >= l.count, key[k..<(k + l.count)].elementsEqual(l) else { return false }
                return match(p + 1, k + l.count)
            case .column:
                if p + 1 == parts.count { return true }
                for next in k...key.count where match(p + 1, next) { return true }
                return false
            }
        }
        return match(0, 0)
    }

    /// The text of each column (in `columns` order) in `key`, or nil when the key does not
    /// fit the template (or two columns are adjacent, which makes it ambiguous).
    func parse(_ key: [UInt8]) -> [[UInt8]]? {
        var pos = 0
        var values: [[UInt8]] = []
        for (i, part) in parts.enumerated() {
            switch part {
            case .literal(let l):
                guard key.count - pos >= l.count, key[pos..<(pos + l.count)].elementsEqual(l) else { return nil }
                pos += l.count
            case .column:
                var next: [UInt8] = []
                if i + 1 < parts.count {
                    guard case .literal(let l) = parts[i + 1] else { return nil }
                    next = l
                }
                let isLast = !parts[(i + 1)...].contains { if case .column = $0 { return true } else { return false } }
                var value: [UInt8] = []
                if !escaped {
                    // The only column: everything up to the closing literal.
                    guard key.count - pos >= next.count, key[(key.count - next.count)...].elementsEqual(next) else { return nil }
                    value = Array(key[pos..<(key.count - next.count)])
                    pos = key.count - next.count
                } else {
                    while pos < key.count {
                        if isLast, key.count - pos == next.count, key[pos...].elementsEqual(next) { break }
                        if !isLast, key.count - pos >= next.count, key[pos..<(pos + next.count)].elementsEqual(next) { break }
                        if key[pos] == UInt8(ascii: "\\"), pos + 1 < key.count {
                            value.append(key[pos + 1])
                            pos += 2
                        } else {
                            value.append(key[pos])
                            pos += 1
                        }
                    }
                }
                values.append(value)
            }
        }
        return pos == key.count ? values : nil
    }
}
