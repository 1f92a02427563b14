/// MySQL's binary JSON format (JSON columns in MySQL row images) → JSON text in
/// MySQL's own layout (`{"a": 1, "b": [true, null]}`).
enum MySQLJSON {
    struct Failure: Error {
        let reason: String
    }

    static func text(_ doc: UnsafeRawBufferPointer) throws -> String {
        // An empty value is what MySQL logs for a JSON NULL literal stored by some paths.
        if doc.isEmpty { return "null" }
        var out = ""
        out.reserveCapacity(doc.count * 2)
        try appendValue(type: doc[0], doc, from: 1, end: doc.count, to: &out, depth: 0)
        return out
    }

    private static func need(_ doc: UnsafeRawBufferPointer, _ at: Int, _ n: Int, _ end: Int) throws {
        if at < 0 || n < 0 || at + n > end || at + n > doc.count { throw Failure(reason: "value runs past its end") }
    }

    private static func readLE(_ doc: UnsafeRawBufferPointer, _ at: Int, _ n: Int, _ end: Int) throws -> UInt64 {
        try need(doc, at, n, end)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(doc[at + i]) }
        return v
    }

    /// MySQL's variable-length integer: 7 bits per byte, low bits first, high bit = more.
    private static func varlen(_ doc: UnsafeRawBufferPointer, _ at: inout Int, _ end: Int) throws -> Int {
        var v = 0
        for i in 0..<5 {
            try need(doc, at, 1, end)
            let b = doc[at]; at += 1
            v |= Int(b & 0x7f) << (7 * i)
            if b & 0x80 == 0 { return v }
        }
        throw Failure(reason: "length prefix longer than 5 bytes")
    }

    private static func appendValue(type: UInt8, _ doc: UnsafeRawBufferPointer, from start: Int, end: Int, to out: inout String, depth: Int) throws {
        guard depth < 200 else { throw Failure(reason: "nesting deeper than 200") }
        switch type {
        case 0x00, 0x01, 0x02, 0x03:
            try appendContainer(isObject: type <= 0x01, large: type == 0x01 || type == 0x03, doc, from: start, end: end, to: &out, depth: depth)
        case 0x04:
            try need(doc, start, 1, end)
            switch doc[start] {
            case 0x00: out += "null"
            case 0x01: out += "true"
            case 0x02: out += "false"
            default: throw Failure(reason: "unknown literal \(doc[start])")
            }
        case 0x05: out += String(Int16(truncatingIfNeeded: try readLE(doc, start, 2, end)))
        case 0x06: out += String(UInt16(truncatingIfNeeded: try readLE(doc, start, 2, end)))
        case 0x07: out += String(Int32(truncatingIfNeeded: try readLE(doc, start, 4, end)))
        case 0x08: out += String(UInt32(truncatingIfNeeded: try readLE(doc, start, 4, end)))
        case 0x09: out += String(Int64(bitPattern: try readLE(doc, start, 8, end)))
        case 0x0a: out += String(try readLE(doc, start, 8, end))
        case 0x0b:
            let d = Double(bitPattern: try readLE(doc, start, 8, end))
            out += d.isFinite && d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) + ".0" : "\(d)"
        case 0x0c:
            var at = start
            let n = try varlen(doc, &at, end)
            try need(doc, at, n, end)
            JSONText.appendString(String(decoding: UnsafeRawBufferPointer(rebasing: doc[at..<(at + n)]), as: UTF8.self), to: &out)
        case 0x0f:
            try appendOpaque(doc, from: start, end: end, to: &out)
        default:
            throw Failure(reason: "unknown value type 0x\(String(type, radix: 16))")
        }
    }

    private static func appendContainer(isObject: Bool, large: Bool, _ doc: UnsafeRawBufferPointer, from base: Int, end: Int, to out: inout String, depth: Int) throws {
        out += isObject ? "{" : "["
        try forEachEntry(isObject: isObject, large: large, doc, from: base, end: end) { i, key, type, at, limit in
            if i > 0 { out += ", " }
            if let key {
                JSONText.appendString(key, to: &out)
                out += ": "
            }
            try appendValue(type: type, doc, from: at, end: limit, to: &out, depth: depth + 1)
        }
        out += isObject ? "}" : "]"
    }

    /// Walks a container's entries: position, key (objects only), value type, where the
    /// value starts (inlined values start in the entry itself) and the container's end.
    private static func forEachEntry(isObject: Bool, large: Bool, _ doc: UnsafeRawBufferPointer, from base: Int, end: Int,
                                     _ body: (Int, String?, UInt8, Int, Int) throws -> Void) throws {
        let w = large ? 4 : 2
        let count = Int(try readLE(doc, base, w, end))
        let size = Int(try readLE(doc, base + w, w, end))
        let limit = base + size
        guard size >= 2 * w, limit <= end else { throw Failure(reason: "container size \(size) exceeds the value") }
        let keyEntry = w + 2
        let valueEntry = 1 + w
        var header = base + 2 * w
        let valuesStart = header + (isObject ? count * keyEntry : 0)
        try need(doc, valuesStart, count * valueEntry, limit)
        for i in 0..<count {
            var key: String?
            if isObject {
                let keyOffset = Int(try readLE(doc, header, w, limit))
                let keyLength = Int(try readLE(doc, header + w, 2, limit))
                header += keyEntry
                try need(doc, base + keyOffset, keyLength, limit)
                key = String(decoding: UnsafeRawBufferPointer(rebasing: doc[(base + keyOffset)..<(base + keyOffset + keyLength)]), as: UTF8.self)
            }
            let entry = valuesStart + i * valueEntry
            let type = doc[entry]
            let inlined: Bool
            switch type {
            case 0x04, 0x05, 0x06: inlined = true
            case 0x07, 0x08: inlined = large
            default: inlined = false
            }
            if inlined {
                try body(i, key, type, entry + 1, limit)
            } else {
                let offset = Int(try readLE(doc, entry + 1, w, limit))
                guard offset < size else { throw Failure(reason: "value offset \(offset) outside its container") }
                try body(i, key, type, base + offset, limit)
            }
        }
    }

    /// A binary document as a tree (for applying partial-update diffs); scalars are kept
    /// as the text `text(_:)` renders for them.
    static func node(_ doc: UnsafeRawBufferPointer) throws -> JSONNode {
        if doc.isEmpty { return .scalar("null") }
        return try node(type: doc[0], doc, from: 1, end: doc.count, depth: 0)
    }

    private static func node(type: UInt8, _ doc: UnsafeRawBufferPointer, from start: Int, end: Int, depth: Int) throws -> JSONNode {
        guard depth < 200 else { throw Failure(reason: "nesting deeper than 200") }
        switch type {
        case 0x00, 0x01:
            var members: [JSONMember] = []
            try forEachEntry(isObject: true, large: type == 0x01, doc, from: start, end: end) { _, key, valueType, at, limit in
                members.append(JSONMember(key: key ?? "", value: try node(type: valueType, doc, from: at, end: limit, depth: depth + 1)))
            }
            return .object(members)
        case 0x02, 0x03:
            var items: [JSONNode] = []
            try forEachEntry(isObject: false, large: type == 0x03, doc, from: start, end: end) { _, _, valueType, at, limit in
                items.append(try node(type: valueType, doc, from: at, end: limit, depth: depth + 1))
            }
            return .array(items)
        default:
            var text = ""
            try appendValue(type: type, doc, from: start, end: end, to: &text, depth: depth)
            return .scalar(text)
        }
    }

    /// Opaque values carry a MySQL column type: DECIMAL and temporal ones print as
    /// MySQL prints them; anything else as `"base64:typeN:…"`.
    private static func appendOpaque(_ doc: UnsafeRawBufferPointer, from start: Int, end: Int, to out: inout String) throws {
        try need(doc, start, 1, end)
        let fieldType = doc[start]
        var at = start + 1
        let n = try varlen(doc, &at, end)
        try need(doc, at, n, end)
        let data = UnsafeRawBufferPointer(rebasing: doc[at..<(at + n)])
        switch fieldType {
        case ColumnType.newdecimal where n >= 2:
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: data[2...]), eventType: 0, position: nil)
            guard let text = try? DecimalCodec.decode(&r, precision: Int(data[0]), scale: Int(data[1])) else {
                throw Failure(reason: "bad DECIMAL inside JSON")
            }
            out += text
        case ColumnType.date, ColumnType.datetime, ColumnType.timestamp, ColumnType.datetime2, ColumnType.timestamp2:
            let packed = Int64(bitPattern: try readLE(data, 0, 8, n))
            let v = packed.magnitude
            let ymdhms = v >> 24, ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms % (1 << 17)
            if fieldType == ColumnType.date {
                JSONText.appendString(TemporalCodec.formatDate(year: Int(ym / 13), month: Int(ym % 13), day: Int(ymd % 32)), to: &out)
            } else {
                JSONText.appendString(TemporalCodec.formatDateTime(year: Int(ym / 13), month: Int(ym % 13), day: Int(ymd % 32),
                                                                   hour: Int(hms >> 12), minute: Int((hms >> 6) % 64), second: Int(hms % 64),
                                                                   micros: Int(v % (1 << 24)), fsp: 6), to: &out)
            }
        case ColumnType.time, ColumnType.time2:
            let packed = Int64(bitPattern: try readLE(data, 0, 8, n))
            let v = packed.magnitude
            let hms = v >> 24
            JSONText.appendString(TemporalCodec.formatTime(negative: packed < 0, hour: Int((hms >> 12) % 1024), minute: Int((hms >> 6) % 64),
                                                           second: Int(hms % 64), micros: Int(v % (1 << 24)), fsp: 6), to: &out)
        default:
            JSONText.appendString("base64:type\(fieldType):" + base64(data), to: &out)
        }
    }

    private static func base64(_ data: UnsafeRawBufferPointer) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i < data.count {
            let b0 = UInt32(data[i])
            let b1 = i + 1 < data.count ? UInt32(data[i + 1]) : 0
            let b2 = i + 2 < data.count ? UInt32(data[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < data.count ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < data.count ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A JSON document as a tree: what partial-update diffs are applied to.
enum JSONNode {
    /// Members in MySQL's order (shorter keys first, then bytewise).
    case object([JSONMember])
    case array([JSONNode])
    /// A scalar, already rendered as JSON text.
    case scalar(String)

    /// The document as JSON text in MySQL's layout (`{"a": 1, "b": [true, null]}`).
    func appendText(to out: inout String) {
        switch self {
        case .scalar(let text):
            out += text
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.appendText(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += ", " }
                JSONText.appendString(member.key, to: &out)
                out += ": "
                member.value.appendText(to: &out)
            }
            out += "}"
        }
    }
}

/// One member of a JSON object.
struct JSONMember {
    var key: String
    var value: JSONNode
}
