/// Makes highlighted snippets of stored text fields: the part of the text around the
/// first matched term, HTML-escaped, each term of the query in `<em>…</em>`.
///
/// The matched terms are those of the query's term, phrase and prefix clauses (not of
/// its prohibited clauses), analyzed as the field is, so "Café" is highlighted for `cafe`.
struct Highlighter {
    /// About this many UTF-8 bytes of text make a snippet.
    static let snippetBytes = 200
    /// Terms shown before the first match.
    static let leadingTerms = 4

    private let fields: [String]
    private let schema: IndexSchema
    private var terms: [String: Set<String>] = [:]
    private var prefixes: [String: [String]] = [:]

    init(node: QueryNode, fields: [String], schema: IndexSchema) throws {
        for field in fields {
            guard schema.fields[field] == .text, schema.stored.contains(field) else {
                throw SearchError(
                    code: schema.fields[field] == nil && !schema.stored.contains(field) ? .unknownField : .fieldType,
                    message: "cannot highlight '\(field)': snippets are made from fields that are both text fields and stored; add '\(field)' to the index's `stored` list (and make it a text field) or leave it out of highlight")
            }
        }
        self.fields = fields
        self.schema = schema
        collect(node)
    }

    private mutating func collect(_ node: QueryNode) {
        switch node {
        case .term(let field, let term): terms[field, default: []].insert(term)
        case .phrase(let field, let phraseTerms, _): terms[field, default: []].formUnion(phraseTerms)
        case .prefix(let field, let prefix): prefixes[field, default: []].append(prefix)
        case .any(let children): children.forEach { collect($0) }
        case .boolean(let must, let should, _): (must + should).forEach { collect($0) }
        case .range, .all, .none: break
        }
    }

    /// The snippets of the highlighted fields of a hit's stored `values`.
    func highlights(_ values: [String: StoredValue]) -> [String: String] {
        var result: [String: String] = [:]
        for field in fields {
            guard case .string(let text)? = values[field],
                let snippet = snippet(
                    text, terms: terms[field] ?? [], prefixes: prefixes[field] ?? [], analysis: schema.analysis(of: field))
            else { continue }
            result[field] = snippet
        }
        return result
    }

    private struct Matcher: TermSink {
        let terms: Set<String>
        let prefixes: [String]
        var tokens: [(source: Range<Int>, matched: Bool)] = []

        mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>) {
            let term = String(decoding: bytes, as: UTF8.self)
            tokens.append((source, terms.contains(term) || prefixes.contains { term.hasPrefix($0) }))
        }
    }

    /// The snippet of `text`, or nil when no term of it matches.
    func snippet(_ text: String, terms: Set<String>, prefixes: [String], analysis: TextAnalysis) -> String? {
        guard !terms.isEmpty || !prefixes.isEmpty else { return nil }
        var matcher = Matcher(terms: terms, prefixes: prefixes)
        var scanner = TermScanner(analysis)
        scanner.scan(text, into: &matcher)
        let tokens = matcher.tokens
        guard let first = tokens.firstIndex(where: \.matched) else { return nil }
        let bytes = Array(text.utf8)
        let startToken = max(0, first - Self.leadingTerms)
        let start = startToken == 0 ? 0 : tokens[startToken].source.lowerBound
        var end = start
        var index = startToken
        while index < tokens.count, end - start < Self.snippetBytes {
            end = tokens[index].source.upperBound
            index += 1
        }
        if index == tokens.count { end = bytes.count }
        var out = startToken == 0 ? "" : "…"
        var cursor = start
        for token in tokens[startToken..<index] where token.matched && token.source.upperBound > cursor {
            // Bigrams of ideographs overlap: a match starts at the end of the previous one at the earliest.
            let from = max(cursor, token.source.lowerBound)
            out += Self.escaped(bytes[cursor..<from])
            out += "<em>" + Self.escaped(bytes[from..<token.source.upperBound]) + "</em>"
            cursor = token.source.upperBound
        }
        out += Self.escaped(bytes[cursor..<end])
        if end < bytes.count { out += "…" }
        return out
    }

    private static func escaped(_ bytes: ArraySlice<UInt8>) -> String {
        var out = ""
        for character in String(decoding: bytes, as: UTF8.self) {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
