/// A parsed query, before it is resolved against an index's schema.
indirect enum Query: Equatable {
    /// One word; `field` nil means every text and keyword field.
    case term(field: String?, text: String, position: Int)
    /// A quoted phrase.
    case phrase(field: String?, text: String, position: Int)
    /// A word ending in `*`; `text` excludes the star.
    case prefix(field: String?, text: String, position: Int)
    /// `field:[lower TO upper]` (inclusive) or `{…}` (exclusive); nil bounds are open (`*`).
    case range(field: String, lower: String?, upper: String?, includeLower: Bool, includeUpper: Bool, position: Int)
    /// `*` or `*:*`.
    case matchAll
    case boolean([Clause])

    struct Clause: Equatable {
        enum Occur: Equatable { case must, should, mustNot }
        var occur: Occur
        var query: Query
    }
}

/// Parses the subset of Lucene's classic query syntax that Distributary supports:
/// bare terms (OR'd), `field:term`, `+must`, `-mustNot`, `AND`/`OR`/`NOT` (also `&&`, `||`),
/// parentheses (also `field:(…)`), `"phrases"`, `prefix*`, `field:[a TO b]` and
/// `field:{a TO b}`, `*:*`, and backslash escapes. Errors carry the character offset.
///
/// `AND` and `OR` combine as in Lucene's classic parser: `a AND b` makes both clauses
/// required, `OR` leaves them optional, and a query with required clauses uses its
/// optional ones only for ranking.
struct QueryParser {
    private enum Kind: Equatable {
        case word(String, prefix: Bool)
        case quoted(String)
        case open, close, colon, plus, minus, and, or, not
        case openRange(inclusive: Bool), closeRange(inclusive: Bool)
    }

    private struct Lexeme {
        var kind: Kind
        var start: Int
        var end: Int
    }

    private let characters: [Character]
    private var lexemes: [Lexeme] = []
    private var index = 0

    static func parse(_ query: String) throws -> Query {
        var parser = QueryParser(characters: Array(query))
        try parser.lex()
        guard !parser.lexemes.isEmpty else {
            throw SearchError.syntax("the query is empty; give at least one term, for example `shoes` or `name:shoes`", at: 0)
        }
        let result = try parser.parseClauses(closing: nil)
        return result
    }

    private init(characters: [Character]) {
        self.characters = characters
    }

    // MARK: - Lexer

    private static let special: Set<Character> = ["(", ")", "\"", ":", "[", "]", "{", "}", "^", "~"]

    private mutating func lex() throws {
        var position = 0
        var rangeDepth = 0
        while position < characters.count {
            let character = characters[position]
            if character.isWhitespace {
                position += 1
                continue
            }
            let start = position
            switch character {
            case "(": lexemes.append(Lexeme(kind: .open, start: start, end: start + 1)); position += 1
            case ")": lexemes.append(Lexeme(kind: .close, start: start, end: start + 1)); position += 1
            case ":": lexemes.append(Lexeme(kind: .colon, start: start, end: start + 1)); position += 1
            case "[", "{":
                lexemes.append(Lexeme(kind: .openRange(inclusive: character == "["), start: start, end: start + 1))
                rangeDepth += 1
                position += 1
            case "]", "}":
                lexemes.append(Lexeme(kind: .closeRange(inclusive: character == "]"), start: start, end: start + 1))
                rangeDepth = max(0, rangeDepth - 1)
                position += 1
            case "^", "~":
                throw SearchError.syntax(
                    "'\(character)' (boosts and fuzzy or proximity searches) is not supported; remove it or escape it as \\\(character)",
                    at: start)
            case "\"":
                position += 1
                var text = ""
                var closed = false
                while position < characters.count {
                    let next = characters[position]
                    if next == "\\", position + 1 < characters.count {
                        text.append(characters[position + 1])
                        position += 2
                    } else if next == "\"" {
                        closed = true
                        position += 1
                        break
                    } else {
                        text.append(next)
                        position += 1
                    }
                }
                guard closed else {
                    throw SearchError.syntax("the phrase opened here has no closing '\"'; add one or escape the quote as \\\"", at: start)
                }
                lexemes.append(Lexeme(kind: .quoted(text), start: start, end: position))
            case "+" where rangeDepth == 0 && !followsColon(start), "-" where rangeDepth == 0 && !followsColon(start):
                lexemes.append(Lexeme(kind: character == "+" ? .plus : .minus, start: start, end: start + 1))
                position += 1
            default:
                var text = ""
                var prefix = false
                while position < characters.count {
                    let next = characters[position]
                    if next.isWhitespace || Self.special.contains(next) { break }
                    if next == "\\" {
                        guard position + 1 < characters.count else {
                            throw SearchError.syntax("'\\' at the end of the query escapes nothing; remove it or write \\\\", at: position)
                        }
                        if prefix { throw wildcardError(at: position - 1) }
                        text.append(characters[position + 1])
                        position += 2
                        continue
                    }
                    if next == "*" {
                        if prefix { throw wildcardError(at: position - 1) }
                        prefix = true
                        position += 1
                        continue
                    }
                    if prefix { throw wildcardError(at: position - 1) }
                    text.append(next)
                    position += 1
                }
                let kind: Kind
                switch (text, prefix) {
                case ("AND", false), ("&&", false): kind = .and
                case ("OR", false), ("||", false): kind = .or
                case ("NOT", false): kind = .not
                default: kind = .word(text, prefix: prefix)
                }
                lexemes.append(Lexeme(kind: kind, start: start, end: position))
            }
        }
    }

    private func followsColon(_ position: Int) -> Bool {
        position > 0 && characters[position - 1] == ":"
    }

    private func wildcardError(at position: Int) -> SearchError {
        SearchError.syntax(
            "'*' is supported only at the end of a term (a prefix query such as `shoe*`); escape it as \\* to search for a star",
            at: position)
    }

    // MARK: - Parser

    private var current: Lexeme? { index < lexemes.count ? lexemes[index] : nil }

    private var endPosition: Int { characters.count }

    /// Parses clauses until the end, or until the `)` matching the `(` at `closing`.
    private mutating func parseClauses(closing: Int?) throws -> Query {
        var clauses: [Query.Clause] = []
        var conjunction: Lexeme?
        while let lexeme = current {
            if lexeme.kind == .close {
                guard closing != nil else {
                    throw SearchError.syntax("')' has no matching '('; remove it or add a '(' before it", at: lexeme.start)
                }
                break
            }
            if lexeme.kind == .and || lexeme.kind == .or {
                let name = lexeme.kind == .and ? "AND" : "OR"
                guard !clauses.isEmpty else {
                    throw SearchError.syntax("'\(name)' needs a term before it", at: lexeme.start)
                }
                guard conjunction == nil else {
                    throw SearchError.syntax("'\(name)' follows another operator; put a term between them", at: lexeme.start)
                }
                conjunction = lexeme
                index += 1
                continue
            }
            var occur = Query.Clause.Occur.should
            switch lexeme.kind {
            case .plus, .minus:
                let symbol = lexeme.kind == .plus ? "+" : "-"
                index += 1
                guard let next = current, next.start == lexeme.end else {
                    throw SearchError.syntax("'\(symbol)' must be directly followed by a term, as in \(symbol)shoes", at: lexeme.start)
                }
                occur = lexeme.kind == .plus ? .must : .mustNot
            case .not:
                index += 1
                guard let next = current, next.kind != .close, next.kind != .and, next.kind != .or else {
                    throw SearchError.syntax("'NOT' must be followed by a term", at: lexeme.start)
                }
                occur = .mustNot
            default:
                break
            }
            let query = try parsePrimary(field: nil)
            if conjunction?.kind == .and {
                if clauses[clauses.count - 1].occur == .should { clauses[clauses.count - 1].occur = .must }
                if occur == .should { occur = .must }
            }
            clauses.append(Query.Clause(occur: occur, query: query))
            conjunction = nil
        }
        if let conjunction {
            throw SearchError.syntax(
                "'\(conjunction.kind == .and ? "AND" : "OR")' has nothing after it; add a term or remove the operator",
                at: conjunction.start)
        }
        if clauses.count == 1, clauses[0].occur == .should { return clauses[0].query }
        return .boolean(clauses)
    }

    private mutating func parsePrimary(field: String?) throws -> Query {
        guard let lexeme = current else {
            throw SearchError.syntax("the query ends where a term was expected", at: endPosition)
        }
        switch lexeme.kind {
        case .open:
            index += 1
            let group = try parseClauses(closing: lexeme.start)
            guard current?.kind == .close else {
                throw SearchError.syntax("the '(' here is never closed; add a ')'", at: lexeme.start)
            }
            index += 1
            if case .boolean(let clauses) = group, clauses.isEmpty {
                throw SearchError.syntax("the parentheses here contain no term", at: lexeme.start)
            }
            return field.map { Self.qualify(group, field: $0) } ?? group
        case .quoted(let text):
            index += 1
            return .phrase(field: field, text: text, position: lexeme.start)
        case .word(let text, let prefix):
            index += 1
            if field == nil, let colon = current, colon.kind == .colon, colon.start == lexeme.end {
                index += 1
                guard let value = current, value.start == colon.end else {
                    throw SearchError.syntax(
                        "'\(text):' must be directly followed by a term, a \"phrase\", a range such as [1 TO 5] or a (group)",
                        at: colon.end)
                }
                if text.isEmpty, prefix, case .word("", true) = value.kind {
                    index += 1
                    return .matchAll
                }
                guard !prefix else {
                    throw SearchError.syntax("a field name cannot contain '*' (only *:* matches everything)", at: lexeme.start)
                }
                switch value.kind {
                case .word, .quoted, .open, .openRange:
                    return try parsePrimary(field: text)
                default:
                    throw SearchError.syntax(
                        "'\(text):' must be directly followed by a term, a \"phrase\", a range such as [1 TO 5] or a (group)",
                        at: value.start)
                }
            }
            if prefix {
                return text.isEmpty ? .matchAll : .prefix(field: field, text: text, position: lexeme.start)
            }
            return .term(field: field, text: text, position: lexeme.start)
        case .openRange(let includeLower):
            guard let field else {
                throw SearchError.syntax("a range needs a field, as in price:[10 TO 20]", at: lexeme.start)
            }
            index += 1
            let lower = try rangeBound()
            guard let to = current, case .word("TO", false) = to.kind else {
                throw SearchError.syntax("expected 'TO' in the range, as in price:[10 TO 20]", at: current?.start ?? endPosition)
            }
            index += 1
            let upper = try rangeBound()
            guard let close = current, case .closeRange(let includeUpper) = close.kind else {
                throw SearchError.syntax("the range opened here is not closed with ']' or '}'", at: lexeme.start)
            }
            index += 1
            return .range(
                field: field, lower: lower, upper: upper, includeLower: includeLower, includeUpper: includeUpper,
                position: lexeme.start)
        case .colon:
            throw SearchError.syntax("':' needs a field name directly before it, as in name:shoes", at: lexeme.start)
        case .close:
            throw SearchError.syntax("')' here closes a group that has no term", at: lexeme.start)
        case .closeRange:
            throw SearchError.syntax("']' or '}' here closes no range", at: lexeme.start)
        case .and, .or, .not, .plus, .minus:
            throw SearchError.syntax("an operator is not allowed here; put a term before it", at: lexeme.start)
        }
    }

    private mutating func rangeBound() throws -> String? {
        guard let lexeme = current else {
            throw SearchError.syntax("the query ends inside a range", at: endPosition)
        }
        switch lexeme.kind {
        case .word("", true):
            index += 1
            return nil
        case .word(let text, false) where text != "TO":
            index += 1
            return text
        default:
            throw SearchError.syntax("expected a range bound (a number or *), as in price:[10 TO *]", at: lexeme.start)
        }
    }

    /// Applies `field` to the unqualified terms of a group, as in `title:(red shoes)`.
    private static func qualify(_ query: Query, field: String) -> Query {
        switch query {
        case .term(nil, let text, let position): return .term(field: field, text: text, position: position)
        case .phrase(nil, let text, let position): return .phrase(field: field, text: text, position: position)
        case .prefix(nil, let text, let position): return .prefix(field: field, text: text, position: position)
        case .boolean(let clauses):
            return .boolean(clauses.map { Query.Clause(occur: $0.occur, query: qualify($0.query, field: field)) })
        default: return query
        }
    }
}
