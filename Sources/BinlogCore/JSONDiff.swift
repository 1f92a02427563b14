/// MySQL's partial JSON updates (`binlog_row_value_options=PARTIAL_JSON`): a column's
/// after value in a PARTIAL_UPDATE_ROWS event can be a list of diffs against its
/// before value instead of the whole document.
///
/// Each diff is an operation byte (0 = REPLACE, 1 = INSERT, 2 = REMOVE), a
/// length-encoded JSON path (`$.a[2]."b c"`, no wildcards), and for REPLACE and INSERT a
/// length-encoded binary JSON value. They are applied in order with the server's rules
/// (`apply_json_diffs`): REPLACE needs the path to exist, INSERT adds an object member
/// that does not exist yet or inserts into an array (appending past its end), REMOVE
/// needs the member or element to exist. A diff that does not apply throws.
enum JSONDiff {
    /// One step of a path.
    enum Leg: Equatable {
        case member(String)
        /// `[n]`
        case index(Int)
        /// `[last]` (0) or `[last-n]`.
        case fromLast(Int)
    }

    /// Applies the diff list `diffs` to the binary document `before`; returns the new
    /// document as JSON text.
    static func apply(_ diffs: UnsafeRawBufferPointer, to before: UnsafeRawBufferPointer) throws -> String {
        var document = try MySQLJSON.node(before)
        var at = 0
        while at < diffs.count {
            let operation = diffs[at]
            at += 1
            guard operation <= 2 else { throw MySQLJSON.Failure(reason: "unknown diff operation \(operation)") }
            let pathLength = try length(diffs, &at)
            let pathBytes = UnsafeRawBufferPointer(rebasing: diffs[at..<(at + pathLength)])
            at += pathLength
            let path = try parsePath(pathBytes)
            let pathText = String(decoding: pathBytes, as: UTF8.self)
            var value: JSONNode?
            if operation != 2 {
                let valueLength = try length(diffs, &at)
                value = try MySQLJSON.node(UnsafeRawBufferPointer(rebasing: diffs[at..<(at + valueLength)]))
                at += valueLength
            }
            guard !path.isEmpty else { throw MySQLJSON.Failure(reason: "diff path `\(pathText)` addresses the whole document") }
            try apply(operation, path: path[...], value: value, to: &document, pathText: pathText)
        }
        var out = ""
        document.appendText(to: &out)
        return out
    }

    /// A length-encoded integer that must fit in the rest of `bytes`.
    private static func length(_ bytes: UnsafeRawBufferPointer, _ at: inout Int) throws -> Int {
        guard at < bytes.count else { throw MySQLJSON.Failure(reason: "diff cut short before a length") }
        let first = bytes[at]
        at += 1
        let width: Int
        switch first {
        case 0..<251: width = 0
        case 252: width = 2
        case 253: width = 3
        case 254: width = 8
        default: throw MySQLJSON.Failure(reason: "invalid length prefix 0x\(String(first, radix: 16))")
        }
        guard width <= bytes.count - at else { throw MySQLJSON.Failure(reason: "diff cut short inside a length") }
        var value = width == 0 ? UInt64(first) : 0
        for i in stride(from: width - 1, through: 0, by: -1) { value = value << 8 | UInt64(bytes[at + i]) }
        at += width
        guard value <= UInt64(bytes.count - at) else {
            throw MySQLJSON.Failure(reason: "diff announces \(value) bytes but \(bytes.count - at) remain")
        }
        return Int(value)
    }

    // MARK: - Paths

    /// Parses a path as the server prints it: `$`, then `.member`, `."quoted member"`,
    /// `[n]`, `[last]` or `[last-n]`, with optional spaces between the parts.
    static func parsePath(_ bytes: UnsafeRawBufferPointer) throws -> [Leg] {
        var at = 0
        func skipSpaces() { while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0a || bytes[at] == 0x0d { at += 1 } }
        func bad(_ what: String) -> MySQLJSON.Failure {
            MySQLJSON.Failure(reason: "diff path `\(String(decoding: bytes, as: UTF8.self))` \(what)")
        }
        skipSpaces()
        guard at < bytes.count, bytes[at] == UInt8(ascii: "$") else { throw bad("does not start with `$`") }
        at += 1
        var legs: [Leg] = []
        while true {
            skipSpaces()
            guard at < bytes.count else { return legs }
            switch bytes[at] {
            case UInt8(ascii: "."):
                at += 1
                skipSpaces()
                guard at < bytes.count else { throw bad("ends after `.`") }
                if bytes[at] == UInt8(ascii: "\"") {
                    legs.append(.member(try quotedName(bytes, &at, bad)))
                } else {
                    let start = at
                    while at < bytes.count, ![UInt8(ascii: "."), UInt8(ascii: "["), 0x20, 0x09, 0x0a, 0x0d].contains(bytes[at]) { at += 1 }
                    let name = UnsafeRawBufferPointer(rebasing: bytes[start..<at])
                    guard !name.isEmpty, !name.contains(UInt8(ascii: "*")) else { throw bad("has a wildcard or an empty member name") }
                    legs.append(.member(String(decoding: name, as: UTF8.self)))
                }
            case UInt8(ascii: "["):
                at += 1
                skipSpaces()
                var fromLast = false
                if bytes.count - at >= 4, bytes[at..<(at + 4)].elementsEqual("last".utf8) {
                    fromLast = true
                    at += 4
                    skipSpaces()
                    if at < bytes.count, bytes[at] == UInt8(ascii: "-") {
                        at += 1
                        skipSpaces()
                    } else {
                        guard at < bytes.count, bytes[at] == UInt8(ascii: "]") else { throw bad("has a malformed `[last…]`") }
                        at += 1
                        legs.append(.fromLast(0))
                        continue
                    }
                }
                var n = 0, digits = 0
                while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39, digits < 10 {
                    n = n * 10 + Int(bytes[at] - 0x30)
                    at += 1
                    digits += 1
                }
                skipSpaces()
                guard digits > 0, at < bytes.count, bytes[at] == UInt8(ascii: "]") else {
                    throw bad("has an array step that is not `[n]`, `[last]` or `[last-n]` (wildcards and ranges cannot be in a diff)")
                }
                at += 1
                legs.append(fromLast ? .fromLast(n) : .index(n))
            default:
                throw bad("has an unexpected character at byte \(at)")
            }
        }
    }

    /// A JSON string member name starting at the opening quote.
    private static func quotedName(_ bytes: UnsafeRawBufferPointer, _ at: inout Int, _ bad: (String) -> MySQLJSON.Failure) throws -> String {
        at += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            if !raw.isEmpty { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll() }
        }
        func hex4() throws -> UInt32 {
            guard bytes.count - at >= 4 else { throw bad("has a cut-short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                at += 1
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw bad("has an invalid \\u escape")
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while at < bytes.count {
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw bad("ends inside an escape") }
                let e = bytes[at]
                at += 1
                flush()
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(Unicode.Scalar(e))
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v), bytes.count - at >= 6, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                        at += 2
                        let low = try hex4()
                        v = 0x10000 + ((v - 0xD800) << 10) + ((low &- 0xDC00) & 0x3FF)
                    }
                    scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                default:
                    throw bad("has an invalid escape")
                }
            default:
                raw.append(c)
            }
        }
        throw bad("has an unterminated quoted member name")
    }

    // MARK: - Applying

    private static func notFound(_ pathText: String) -> MySQLJSON.Failure {
        MySQLJSON.Failure(reason: "path `\(pathText)` is not in the before image's document")
    }

    /// The array position a step names, if it is inside an array of `count` elements.
    private static func position(_ leg: Leg, count: Int) -> Int? {
        switch leg {
        case .index(let n): return n < count ? n : nil
        case .fromLast(let n): return n < count ? count - 1 - n : nil
        case .member: return nil
        }
    }

    /// MySQL's key order in objects: shorter keys first, then bytewise.
    private static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        if x.count != y.count { return x.count < y.count }
        return x.lexicographicallyPrecedes(y)
    }

    private static func apply(_ operation: UInt8, path: ArraySlice<Leg>, value: JSONNode?, to node: inout JSONNode, pathText: String) throws {
        guard let leg = path.first else { return }
        let rest = path.dropFirst()
        switch node {
        case .object(var members):
            guard case .member(let key) = leg else { throw notFound(pathText) }
            let found = members.firstIndex { $0.key == key }
            node = .scalar("")
            defer { node = .object(members) }
            if !rest.isEmpty {
                guard let k = found else { throw notFound(pathText) }
                try apply(operation, path: rest, value: value, to: &members[k].value, pathText: pathText)
                return
            }
            switch (operation, found) {
            case (0, let k?):
                members[k].value = value ?? .scalar("null")
            case (1, nil):
                let at = members.firstIndex { keyPrecedes(key, $0.key) } ?? members.count
                members.insert(JSONMember(key: key, value: value ?? .scalar("null")), at: at)
            case (2, let k?):
                members.remove(at: k)
            case (1, _?):
                throw MySQLJSON.Failure(reason: "INSERT at `\(pathText)`, whose member already exists in the before image's document")
            default:
                throw notFound(pathText)
            }
        case .array(var items):
            node = .scalar("")
            defer { node = .array(items) }
            if !rest.isEmpty {
                guard let i = position(leg, count: items.count) else { throw notFound(pathText) }
                try apply(operation, path: rest, value: value, to: &items[i], pathText: pathText)
                return
            }
            switch operation {
            case 1:
                let at: Int
                switch leg {
                case .index(let n): at = min(n, items.count)
                case .fromLast(let n): at = max(items.count - 1 - n, 0)
                case .member: throw notFound(pathText)
                }
                items.insert(value ?? .scalar("null"), at: at)
            default:
                guard let i = position(leg, count: items.count) else { throw notFound(pathText) }
                if operation == 0 { items[i] = value ?? .scalar("null") } else { items.remove(at: i) }
            }
        case .scalar:
            throw notFound(pathText)
        }
    }
}
