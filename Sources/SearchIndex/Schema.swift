/// How a field is indexed.
///
/// - `text`: analyzed (Unicode tokenization, lowercasing, diacritic folding), ranked by BM25,
///   with positions for phrase queries.
/// - `keyword`: indexed as one exact, unanalyzed term.
/// - `number`: a Double, searchable with `field:value` and `field:[a TO b]`.
public enum FieldType: String, Sendable, CaseIterable, Codable {
    case text, keyword, number
}

/// Optional analysis steps of a text field, after the standard ones (segmentation,
/// lowercasing, diacritic folding): removing stop words, then stemming. Queries on the
/// field are analyzed the same way. Changing them requires rebuilding the index.
public struct TextAnalysis: Sendable, Hashable, Codable {
    /// A language of stemmers and stop word lists.
    public enum Language: String, Sendable, Hashable, Codable, CaseIterable {
        case english
    }

    /// Porter2 stemming ("running" → "run") when set.
    public var stem: Language?
    /// Drops the language's stop words ("the", "of", …); phrases keep their gaps.
    public var stopWords: Language?

    public init(stem: Language? = nil, stopWords: Language? = nil) {
        self.stem = stem
        self.stopWords = stopWords
    }

    /// No optional step.
    public static let standard = TextAnalysis()
}

/// The fields of one index: what each indexed field is, and which fields a hit returns.
public struct IndexSchema: Sendable, Equatable, Codable {
    /// Indexed fields by name.
    public var fields: [String: FieldType]
    /// Names of the fields kept in the stored part of each document and returned with hits.
    public var stored: [String]
    /// Text fields with optional analysis steps; absent fields have none.
    public var analysis: [String: TextAnalysis]

    public init(fields: [String: FieldType], stored: [String], analysis: [String: TextAnalysis] = [:]) {
        self.fields = fields
        self.stored = stored
        self.analysis = analysis.filter { $0.value != .standard }
    }

    private enum CodingKeys: String, CodingKey {
        case fields, stored, analysis
    }

    /// Manifests written before per-field analysis existed have no `analysis`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            fields: try container.decode([String: FieldType].self, forKey: .fields),
            stored: try container.decode([String].self, forKey: .stored),
            analysis: try container.decodeIfPresent([String: TextAnalysis].self, forKey: .analysis) ?? [:])
    }

    /// Equality ignores the order of `stored`.
    public static func == (lhs: IndexSchema, rhs: IndexSchema) -> Bool {
        lhs.fields == rhs.fields && Set(lhs.stored) == Set(rhs.stored)
            && lhs.analysis.filter { $0.value != .standard } == rhs.analysis.filter { $0.value != .standard }
    }

    /// The analysis of text field `field`.
    func analysis(of field: String) -> TextAnalysis { analysis[field] ?? .standard }

    var textFields: [String] { fields.filter { $0.value == .text }.map(\.key).sorted() }
    var keywordFields: [String] { fields.filter { $0.value == .keyword }.map(\.key).sorted() }
}

/// The value of an indexed field of a document; its case must match the field's `FieldType`.
public enum FieldValue: Sendable, Hashable {
    case text(String)
    case keyword(String)
    case number(Double)

    var fieldType: FieldType {
        switch self {
        case .text: return .text
        case .keyword: return .keyword
        case .number: return .number
        }
    }
}

/// A stored value returned with search hits. In JSON it is a string, an integer, or a number.
public enum StoredValue: Sendable, Hashable, Codable {
    case string(String)
    case int(Int64)
    case double(Double)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        }
    }
}

/// A document to index: its primary key, its indexed fields, and its stored fields.
public struct Document: Sendable {
    /// The primary key; an upsert with the same id replaces the document.
    public var id: String
    /// Indexed field values; every name must be in the schema with a matching type.
    public var fields: [String: FieldValue]
    /// Stored values returned with hits; every name must be in the schema's `stored` list.
    public var stored: [String: StoredValue]

    public init(id: String, fields: [String: FieldValue], stored: [String: StoredValue] = [:]) {
        self.id = id
        self.fields = fields
        self.stored = stored
    }
}
