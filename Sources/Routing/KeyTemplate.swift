import BinlogCore

/// A Redis key template such as `product:{id}` or `order:{shop_id}:{id}`: literal text
/// with column placeholders in braces.
public struct KeyTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case column(String)
        /// `{@db}` / `{@table}`: the row's database or table name (for mappings of table
        /// patterns such as `shop.*`, whose tables would otherwise share keys).
        case database
        case table
    }

    public let parts: [Part]
    public let source: String

    /// Parses a template; the error says what is wrong (`keyPath` names the config key).
    public init(parsing text: String, keyPath: String, line: Int? = nil) throws {
        var parts: [Part] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "{" {
                guard let close = text[index...].firstIndex(of: "}") else {
                    throw ConfigError(keyPath, line: line, "unclosed `{` in key template `\(text)`; write columns as {column}")
                }
                let name = String(text[text.index(after: index)..<close])
                guard !name.isEmpty, !name.contains("{") else {
                    throw ConfigError(keyPath, line: line, "empty or nested placeholder in key template `\(text)`; write columns as {column}")
                }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                if name.hasPrefix("@") {
                    switch name {
                    case "@db": parts.append(.database)
                    case "@table": parts.append(.table)
                    default:
                        throw ConfigError(keyPath, line: line, "unknown placeholder `{\(name)}` in key template `\(text)`; the built-in ones are {@db} and {@table}, columns are written {column}")
                    }
                } else {
                    parts.append(.column(name))
                }
                index = text.index(after: close)
            } else if c == "}" {
                throw ConfigError(keyPath, line: line, "unmatched `}` in key template `\(text)`")
            } else {
                literal.append(c)
                index = text.index(after: index)
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard parts.contains(where: { if case .column = $0 { return true } else { return false } }) else {
            throw ConfigError(keyPath, line: line, "key template `\(text)` names no column; every row would share one key. Use e.g. `product:{id}`")
        }
        self.parts = parts
        self.source = text
    }

    /// The column names the template uses, in order.
    public var columns: [String] {
        parts.compactMap { if case .column(let name) = $0 { return name } else { return nil } }
    }

    public var description: String { source }
}
