/// An error from the search index: what went wrong, where, and how to fix it.
///
/// `code` is the machine-readable kind (new codes can be added without breaking
/// callers, because `Code` is a struct, not an enum). For query syntax errors
/// `position` is the character offset in the query; for file problems `file`
/// names the file.
public struct SearchError: Error, CustomStringConvertible, Sendable {
    /// The kind of a `SearchError`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case unknownIndex, querySyntax, unknownField, fieldType, corrupt, locked, io, schemaMismatch, notFound
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The named index is not part of the store.
        public static let unknownIndex = Code(.unknownIndex)
        /// The query text is malformed; `position` says where.
        public static let querySyntax = Code(.querySyntax)
        /// A query or document names a field the index's schema does not have.
        public static let unknownField = Code(.unknownField)
        /// A value or query does not fit the type of its field.
        public static let fieldType = Code(.fieldType)
        /// A file of the index is damaged or not ours; `file` names it.
        public static let corrupt = Code(.corrupt)
        /// Another writer holds the index directory.
        public static let locked = Code(.locked)
        /// A file-system operation failed.
        public static let io = Code(.io)
        /// The schema given at open differs from the one the index was built with.
        public static let schemaMismatch = Code(.schemaMismatch)
        /// There is no index in the directory.
        public static let notFound = Code(.notFound)

        public var description: String { base.rawValue }
    }

    /// The kind of error.
    public var code: Code
    /// A message naming what went wrong, where, and how to fix it.
    public var message: String
    /// For `querySyntax`: the character offset in the query where the problem is.
    public var position: Int?
    /// For file errors: the path of the file concerned.
    public var file: String?

    public init(code: Code, message: String, position: Int? = nil, file: String? = nil) {
        self.code = code
        self.message = message
        self.position = position
        self.file = file
    }

    public var description: String { "search index error (\(code)): \(message)" }

    static func syntax(_ message: String, at position: Int) -> SearchError {
        SearchError(code: .querySyntax, message: "\(message) (at character \(position))", position: position)
    }

    static func corrupt(_ path: String, _ detail: String) -> SearchError {
        SearchError(
            code: .corrupt,
            message: "index file \(path) is corrupt: \(detail); rebuild the index (remove the index directory and resync the tables that feed it)",
            file: path)
    }

    static func unknownIndex(_ name: String, known: [String]) -> SearchError {
        SearchError(
            code: .unknownIndex,
            message: "no index named '\(name)'; known indexes: \(known.sorted().joined(separator: ", ")); check the index name in the configuration")
    }
}
