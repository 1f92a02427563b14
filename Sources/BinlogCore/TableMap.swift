/// A table's shape as announced by a TABLE_MAP event: what the following ROWS events
/// need to decode their row images.
///
/// `columnMeta` holds each column's metadata as one number: VARCHAR/VAR_STRING the
/// maximum byte length; CHAR/ENUM/SET, DECIMAL and BIT the two metadata bytes as
/// `first << 8 | second` (CHAR/ENUM/SET: real type and length; DECIMAL: precision and
/// scale; BIT: bits mod 8 and whole bytes); one-byte metadata as is (BLOB/JSON/GEOMETRY
/// length bytes, FLOAT/DOUBLE size, fractional digits of TIME2/DATETIME2/TIMESTAMP2).
/// The optional-metadata fields are `nil` when the log does not carry them
/// (`binlog_row_metadata=MINIMAL` carries signedness and charsets, `FULL` the rest).
public struct TableMap: Sendable {
    public var tableID: UInt64
    /// The TABLE_MAP flags (bit 0: NO_FLAGS / dependent-table markers; rarely used).
    public var flags: UInt16
    public var schema: String
    public var table: String
    /// MySQL type codes (see `ColumnType`).
    public var columnTypes: [UInt8] { didSet { rebuildCodecs() } }
    public var columnMeta: [UInt16] { didSet { rebuildCodecs() } }
    public var nullable: [Bool]
    /// Column names (optional metadata COLUMN_NAME).
    public var columnNames: [String]?
    /// Primary key column indexes in key order (SIMPLE_PRIMARY_KEY or PRIMARY_KEY_WITH_PREFIX).
    public var primaryKey: [Int]?
    /// For each `primaryKey` entry, the indexed prefix length in characters; 0 = the whole column.
    public var primaryKeyPrefixes: [Int]?
    /// Per column: `true` when the column is an UNSIGNED numeric type (optional metadata
    /// SIGNEDNESS). `nil` when the log does not say: integers are then read as signed.
    public var unsigned: [Bool]? { didSet { rebuildCodecs() } }
    /// Per column: the collation id of character, ENUM and SET columns (63 = binary);
    /// `nil` entries for other columns. `nil` when the log carries no charsets.
    public var collations: [UInt32?]? { didSet { rebuildCodecs() } }
    /// Per column: ENUM labels in definition order (`nil` for non-ENUM columns).
    public var enumLabels: [[String]?]? { didSet { rebuildCodecs() } }
    /// Per column: SET member labels in definition order (`nil` for non-SET columns).
    public var setLabels: [[String]?]? { didSet { rebuildCodecs() } }
    /// Per column: GEOMETRY subtype (0 GEOMETRY, 1 POINT, …); `nil` for other columns.
    public var geometryTypes: [UInt32?]?
    /// Per column: `false` for invisible columns (MySQL 8.0.23+ COLUMN_VISIBILITY).
    public var visible: [Bool]?

    /// How to read each column's value in a row image; rebuilt whenever its inputs change.
    private(set) var codecs: [ColumnCodec] = []

    public var columnCount: Int { columnTypes.count }

    public init(tableID: UInt64, flags: UInt16 = 0, schema: String, table: String,
                columnTypes: [UInt8], columnMeta: [UInt16], nullable: [Bool],
                columnNames: [String]? = nil, primaryKey: [Int]? = nil, primaryKeyPrefixes: [Int]? = nil,
                unsigned: [Bool]? = nil, collations: [UInt32?]? = nil,
                enumLabels: [[String]?]? = nil, setLabels: [[String]?]? = nil,
                geometryTypes: [UInt32?]? = nil, visible: [Bool]? = nil) {
        self.tableID = tableID
        self.flags = flags
        self.schema = schema
        self.table = table
        self.columnTypes = columnTypes
        self.columnMeta = columnMeta
        self.nullable = nullable
        self.columnNames = columnNames
        self.primaryKey = primaryKey
        self.primaryKeyPrefixes = primaryKeyPrefixes
        self.unsigned = unsigned
        self.collations = collations
        self.enumLabels = enumLabels
        self.setLabels = setLabels
        self.geometryTypes = geometryTypes
        self.visible = visible
        rebuildCodecs()
    }

    /// The type that decides the value's format: for CHAR columns (type 254) the real
    /// type stored in the metadata (CHAR 254, ENUM 247, SET 248), else the column type.
    public func realType(ofColumn i: Int) -> UInt8 {
        let type = columnTypes[i]
        guard type == ColumnType.string, i < columnMeta.count else { return type }
        return TableMap.stringMetadata(columnMeta[i]).realType
    }

    /// The name of column `i` (0-based): its logged name, or `@1`, `@2`… as mysqlbinlog prints.
    public func columnName(_ i: Int) -> String {
        if let names = columnNames, i < names.count { return names[i] }
        return "@\(i + 1)"
    }

    /// Decodes CHAR/ENUM/SET metadata: real type and maximum byte length (CHAR
    /// lengths over 255 keep their two high bits in the real-type byte).
    static func stringMetadata(_ meta: UInt16) -> (realType: UInt8, length: Int) {
        let b0 = UInt8(truncatingIfNeeded: meta >> 8), b1 = UInt8(truncatingIfNeeded: meta)
        if b0 & 0x30 != 0x30 {
            return (b0 | 0x30, Int(b1) | Int((b0 & 0x30) ^ 0x30) << 4)
        }
        return (b0, Int(b1))
    }

    private mutating func rebuildCodecs() {
        var result: [ColumnCodec] = []
        result.reserveCapacity(columnTypes.count)
        for i in 0..<columnTypes.count {
            let meta = i < columnMeta.count ? columnMeta[i] : 0
            let isUnsigned = unsigned.map { i < $0.count && $0[i] } ?? false
            let collation = collations.flatMap { i < $0.count ? $0[i] : nil }
            let text = TextCodec(collation: collation)
            let enumL = enumLabels.flatMap { i < $0.count ? $0[i] : nil }
            let setL = setLabels.flatMap { i < $0.count ? $0[i] : nil }
            result.append(ColumnCodec(type: columnTypes[i], meta: meta, unsigned: isUnsigned,
                                      text: text, enumLabels: enumL, setLabels: setL))
        }
        codecs = result
    }
}
