/// A table a logged DDL statement changes: what replaced, emptied, altered or removed a
/// table's rows without row events (TRUNCATE, DROP, ALTER, RENAME, CREATE OR REPLACE).
/// Derived stores of such a table can only be brought back in step by reloading it.
public struct DDLTarget: Sendable, Equatable, CustomStringConvertible {
    /// `create`: a plain CREATE TABLE (a new, empty table); `replace`: CREATE OR REPLACE.
    public enum Kind: String, Sendable { case alter, truncate, drop, rename, create, replace }
    public var kind: Kind
    public var schema: String
    public var table: String

    public init(kind: Kind, schema: String, table: String) {
        self.kind = kind
        self.schema = schema
        self.table = table
    }

    public var description: String {
        (kind == .replace ? "CREATE OR REPLACE" : kind.rawValue.uppercased()) + " TABLE \(schema).\(table)"
    }

    /// The tables `sql` (a QUERY event's statement, run with `defaultSchema` as the current
    /// database) alters, truncates, drops, renames or creates. Temporary tables, other
    /// statements and statements it cannot read yield nothing. Reads only the statement's
    /// head and table list, not its whole text.
    public static func parse(_ sql: String, defaultSchema: String) -> [DDLTarget] {
        var lexer = SQLHead(Array(sql.utf8.prefix(4096)))
        guard let verb = lexer.word() else { return [] }
        var targets: [DDLTarget] = []
        func name(_ kind: Kind) -> Bool {
            guard let first = lexer.identifier() else { return false }
            if lexer.peek(UInt8(ascii: ".")) {
                lexer.skip(1)
                guard let second = lexer.identifier() else { return false }
                targets.append(DDLTarget(kind: kind, schema: first, table: second))
            } else {
                targets.append(DDLTarget(kind: kind, schema: defaultSchema, table: first))
            }
            return true
        }
        switch verb {
        case "ALTER":
            var next = lexer.word()
            while next == "ONLINE" || next == "OFFLINE" || next == "IGNORE" { next = lexer.word() }
            guard next == "TABLE" else { return [] }
            lexer.skipWords("IF", "EXISTS")
            _ = name(.alter)
        case "TRUNCATE":
            let save = lexer
            if lexer.word() != "TABLE" { lexer = save }
            _ = name(.truncate)
        case "DROP":
            guard lexer.word() == "TABLE" else { return [] } // DROP TEMPORARY TABLE: not a real table
            lexer.skipWords("IF", "EXISTS")
            while name(.drop), lexer.peek(UInt8(ascii: ",")) { lexer.skip(1) }
        case "RENAME":
            guard lexer.word() == "TABLE" else { return [] }
            while name(.rename) {
                guard lexer.word() == "TO", name(.rename), lexer.peek(UInt8(ascii: ",")) else { break }
                lexer.skip(1)
            }
        case "CREATE":
            var next = lexer.word()
            var kind = Kind.create
            if next == "OR" {
                guard lexer.word() == "REPLACE" else { return [] }
                next = lexer.word()
                kind = .replace
            }
            guard next == "TABLE" else { return [] } // CREATE TEMPORARY TABLE, views, indexes…
            lexer.skipWords("IF", "NOT", "EXISTS")
            _ = name(kind)
        default:
            return []
        }
        return targets
    }
}

/// A tiny lexer for the head of a SQL statement: words, identifiers (bare or in
/// backquotes), punctuation; comments and white space skipped.
struct SQLHead {
    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d {
                i += 1
            } else if b == UInt8(ascii: "/"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "*") {
                i += 2
                while i + 1 < bytes.count, !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i = min(bytes.count, i + 2)
            } else if b == UInt8(ascii: "#") || (b == UInt8(ascii: "-") && i + 2 < bytes.count && bytes[i + 1] == UInt8(ascii: "-")
                                                   && (bytes[i + 2] == 0x20 || bytes[i + 2] == 0x09)) {
                while i < bytes.count, bytes[i] != 0x0a { i += 1 }
            } else {
                return
            }
        }
    }

    private static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f || b == 0x24 || b >= 0x80
    }

    /// The next bare word, upper-cased; nil at a quote, punctuation or the end.
    mutating func word() -> String? {
        skipSpace()
        let start = i
        while i < bytes.count, Self.isWordByte(bytes[i]) { i += 1 }
        guard i > start else { return nil }
        return String(decoding: bytes[start..<i].map { $0 >= 0x61 && $0 <= 0x7a ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// Skips `words` if they come next, in order (`IF EXISTS`); else stays put.
    mutating func skipWords(_ words: String...) {
        let save = self
        for w in words where word() != w {
            self = save
            return
        }
    }

    /// The next identifier as written (backquotes removed, doubled ones unescaped).
    mutating func identifier() -> String? {
        skipSpace()
        guard i < bytes.count else { return nil }
        if bytes[i] == UInt8(ascii: "`") {
            var out: [UInt8] = []
            i += 1
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "`") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "`") { out.append(bytes[i]); i += 2; continue }
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                out.append(bytes[i])
                i += 1
            }
            return nil
        }
        let start = i
        while i < bytes.count, Self.isWordByte(bytes[i]) { i += 1 }
        return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
    }

    /// Whether the next byte (after space and comments) is `byte`.
    mutating func peek(_ byte: UInt8) -> Bool {
        skipSpace()
        return i < bytes.count && bytes[i] == byte
    }

    mutating func skip(_ n: Int) { i = min(bytes.count, i + n) }
}
