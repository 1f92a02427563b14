/// One decoded column value from a row image.
///
/// Values keep what the server logged, without loss: integers keep their signedness,
/// DECIMAL keeps its exact digits, temporal values are ISO text as `mysqlbinlog -vv`
/// would print them (TIMESTAMP in UTC).
public enum ColumnValue: Hashable, Sendable {
    case null
    /// Signed integer types (TINYINT … BIGINT).
    case int(Int64)
    /// Unsigned integer types (… UNSIGNED).
    case uint(UInt64)
    case float(Float)
    case double(Double)
    /// DECIMAL / NUMERIC: the exact digits, e.g. `"-12.50"`.
    case decimal(String)
    /// Character data decoded by the column's charset.
    case string(String)
    /// Binary strings (BINARY, VARBINARY, BLOB) and BIT.
    case bytes([UInt8])
    /// `2024-01-31` (zero dates print as `0000-00-00`).
    case date(String)
    /// `2024-01-31 10:00:00` with `.ffffff` to the column's precision.
    case datetime(String)
    /// `-838:59:59` with `.ffffff` to the column's precision.
    case time(String)
    /// TIMESTAMP rendered in UTC like DATETIME.
    case timestamp(String)
    case year(Int)
    /// ENUM: the 1-based index and, when the log carries the labels, the label.
    case enumeration(index: Int, label: String?)
    /// SET: the member bits and, when the log carries the labels, the chosen labels.
    case set(bits: UInt64, labels: [String]?)
    /// JSON document as JSON text.
    case json(String)
    /// GEOMETRY in the server's internal format (SRID + WKB).
    case geometry([UInt8])
}

extension ColumnValue {
    /// The value as text for a cache field or an index field; `nil` for SQL NULL.
    /// Binary data is rendered as lowercase hex.
    public var text: String? {
        switch self {
        case .null: return nil
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let v): return Self.format(v)
        case .double(let v): return Self.format(v)
        case .decimal(let s), .string(let s), .date(let s), .datetime(let s),
             .time(let s), .timestamp(let s), .json(let s):
            return s
        case .bytes(let b), .geometry(let b): return Self.hex(b)
        case .year(let y): return String(y)
        case .enumeration(let index, let label): return label ?? String(index)
        case .set(let bits, let labels): return labels?.joined(separator: ",") ?? String(bits)
        }
    }

    /// The value as a number when it is one (integers, floats, DECIMAL, YEAR).
    public var number: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .float(let v): return Double(v)
        case .double(let v): return v
        case .decimal(let s): return Double(s)
        case .year(let y): return Double(y)
        default: return nil
        }
    }

    /// Appends the value as a JSON fragment, as `binlog dump --format jsonl` and the
    /// `json` cache mode write it: numbers for integers and floats, strings for DECIMAL
    /// and temporal values, the document itself for JSON, `{"hex":"…"}` for binary data.
    public func appendJSON(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .float(let v): out += v.isFinite ? Self.format(v) : "null"
        case .double(let v): out += v.isFinite ? Self.format(v) : "null"
        case .year(let y): out += String(y)
        case .json(let s): out += s
        case .bytes(let b), .geometry(let b):
            out += "{\"hex\":\""; out += Self.hex(b); out += "\"}"
        case .enumeration(let index, let label):
            if let label { JSONText.appendString(label, to: &out) } else { out += String(index) }
        case .set(let bits, let labels):
            if let labels { JSONText.appendString(labels.joined(separator: ","), to: &out) } else { out += String(bits) }
        case .decimal(let s), .string(let s), .date(let s), .datetime(let s),
             .time(let s), .timestamp(let s):
            JSONText.appendString(s, to: &out)
        }
    }

    /// Shortest text that reads back as the same value (`0.1` for FLOAT 0.1, not its
    /// widened double); whole numbers without a fraction.
    static func format<F: BinaryFloatingPoint & LosslessStringConvertible>(_ v: F) -> String {
        if v.rounded() == v && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0x0f)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// JSON string escaping shared by every JSON writer in the project.
public enum JSONText {
    public static func appendString(_ s: String, to out: inout String) {
        out.append("\"")
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5c { needsEscape = true; break }
        if !needsEscape { out += s; out.append("\""); return }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let h = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }
}
