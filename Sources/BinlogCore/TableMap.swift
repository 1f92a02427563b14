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
    /// The fields live in one shared box, so the copy each `RowChange` holds costs one
    /// reference count, not one per array; writes copy the box first when it is shared.
    private final class Storage: @unchecked Sendable {
        var tableID: UInt64
        var flags: UInt16
        var schema: String
        var table: String
        var columnTypes: [UInt8]
        var columnMeta: [UInt16]
        var nullable: [Bool]
        var columnNames: [String]?
        var primaryKey: [Int]?
        var primaryKeyPrefixes: [Int]?
        var unsigned: [Bool]?
        var collations: [UInt32?]?
        var enumLabels: [[String]?]?
        var setLabels: [[String]?]?
        var geometryTypes: [UInt32?]?
        var visible: [Bool]?
        var codecs: [ColumnCodec] = []
        /// Per column: its ENUM or SET labels; empty when no column has any.
        var valueLabels: [[String]?] = []

        init(tableID: UInt64, flags: UInt16, schema: String, table: String, columnTypes: [UInt8],
            columnMeta: [UInt16], nullable: [Bool], columnNames: [String]?, primaryKey: [Int]?,
            primaryKeyPrefixes: [Int]?, unsigned: [Bool]?, collations: [UInt32?]?, enumLabels: [[String]?]?,
            setLabels: [[String]?]?, geometryTypes: [UInt32?]?, visible: [Bool]?) {
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

        func copy() -> Storage {
            Storage(tableID: tableID, flags: flags, schema: schema, table: table, columnTypes: columnTypes,
                columnMeta: columnMeta, nullable: nullable, columnNames: columnNames, primaryKey: primaryKey,
                primaryKeyPrefixes: primaryKeyPrefixes, unsigned: unsigned, collations: collations,
                enumLabels: enumLabels, setLabels: setLabels, geometryTypes: geometryTypes, visible: visible)
        }

        func rebuildCodecs() {
            var result: [ColumnCodec] = []
            result.reserveCapacity(columnTypes.count)
            var labels: [[String]?] = []
            var anyLabels = false
            for i in 0..<columnTypes.count {
                let meta = i < columnMeta.count ? columnMeta[i] : 0
                let isUnsigned = unsigned.map { i < $0.count && $0[i] } ?? false
                let collation = collations.flatMap { i < $0.count ? $0[i] : nil }
                let enumL = enumLabels.flatMap { i < $0.count ? $0[i] : nil }
                let setL = setLabels.flatMap { i < $0.count ? $0[i] : nil }
                let codec = ColumnCodec(type: columnTypes[i], meta: meta, unsigned: isUnsigned, text: TextCodec(collation: collation))
                result.append(codec)
                switch codec {
                case .enumeration: labels.append(enumL)
                case .set: labels.append(setL)
                default: labels.append(nil)
                }
                if labels[i] != nil { anyLabels = true }
            }
            codecs = result
            valueLabels = anyLabels ? labels : []
        }
    }

    private var storage: Storage

    private mutating func writable() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var tableID: UInt64 {
        get { storage.tableID }
        set { writable().tableID = newValue }
    }
    /// The TABLE_MAP flags.
    public var flags: UInt16 {
        get { storage.flags }
        set { writable().flags = newValue }
    }
    public var schema: String {
        get { storage.schema }
        set { writable().schema = newValue }
    }
    public var table: String {
        get { storage.table }
        set { writable().table = newValue }
    }
    /// MySQL type codes (see `ColumnType`).
    public var columnTypes: [UInt8] {
        get { storage.columnTypes }
        set { writable().columnTypes = newValue; storage.rebuildCodecs() }
    }
    public var columnMeta: [UInt16] {
        get { storage.columnMeta }
        set { writable().columnMeta = newValue; storage.rebuildCodecs() }
    }
    public var nullable: [Bool] {
        get { storage.nullable }
        set { writable().nullable = newValue }
    }
    /// Column names (optional metadata COLUMN_NAME).
    public var columnNames: [String]? {
        get { storage.columnNames }
        set { writable().columnNames = newValue }
    }
    /// Primary key column indexes in key order (SIMPLE_PRIMARY_KEY or PRIMARY_KEY_WITH_PREFIX).
    public var primaryKey: [Int]? {
        get { storage.primaryKey }
        set { writable().primaryKey = newValue }
    }
    /// For each `primaryKey` entry, the indexed prefix length in characters; 0 = the whole column.
    public var primaryKeyPrefixes: [Int]? {
        get { storage.primaryKeyPrefixes }
        set { writable().primaryKeyPrefixes = newValue }
    }
    /// Per column: `true` when the column is an UNSIGNED numeric type (optional metadata
    /// SIGNEDNESS). `nil` when the log does not say: integers are then read as signed.
    public var unsigned: [Bool]? {
        get { storage.unsigned }
        set { writable().unsigned = newValue; storage.rebuildCodecs() }
    }
    /// Per column: the collation id of character, ENUM and SET columns (63 = binary);
    /// `nil` entries for other columns. `nil` when the log carries no charsets.
    public var collations: [UInt32?]? {
        get { storage.collations }
        set { writable().collations = newValue; storage.rebuildCodecs() }
    }
    /// Per column: ENUM labels in definition order (`nil` for non-ENUM columns).
    public var enumLabels: [[String]?]? {
        get { storage.enumLabels }
        set { writable().enumLabels = newValue; storage.rebuildCodecs() }
    }
    /// Per column: SET member labels in definition order (`nil` for non-SET columns).
    public var setLabels: [[String]?]? {
        get { storage.setLabels }
        set { writable().setLabels = newValue; storage.rebuildCodecs() }
    }
    /// Per column: GEOMETRY subtype (0 GEOMETRY, 1 POINT, …); `nil` for other columns.
    public var geometryTypes: [UInt32?]? {
        get { storage.geometryTypes }
        set { writable().geometryTypes = newValue }
    }
    /// Per column: `false` for invisible columns (MySQL 8.0.23+ COLUMN_VISIBILITY).
    public var visible: [Bool]? {
        get { storage.visible }
        set { writable().visible = newValue }
    }

    /// How to read each column's value in a row image; rebuilt whenever its inputs change.
    var codecs: [ColumnCodec] { storage.codecs }
    /// Per column: the ENUM or SET labels the log carries; empty when there are none.
    var valueLabels: [[String]?] { storage.valueLabels }

    public var columnCount: Int { storage.columnTypes.count }

    public init(tableID: UInt64, flags: UInt16 = 0, schema: String, table: String,
                columnTypes: [UInt8], columnMeta: [UInt16], nullable: [Bool],
                columnNames: [String]? = nil, primaryKey: [Int]? = nil, primaryKeyPrefixes: [Int]? = nil,
                unsigned: [Bool]? = nil, collations: [UInt32?]? = nil,
                enumLabels: [[String]?]? = nil, setLabels: [[String]?]? = nil,
                geometryTypes: [UInt32?]? = nil, visible: [Bool]? = nil) {
        storage = Storage(tableID: tableID, flags: flags, schema: schema, table: table, columnTypes: columnTypes,
            columnMeta: columnMeta, nullable: nullable, columnNames: columnNames, primaryKey: primaryKey,
            primaryKeyPrefixes: primaryKeyPrefixes, unsigned: unsigned, collations: collations,
            enumLabels: enumLabels, setLabels: setLabels, geometryTypes: geometryTypes, visible: visible)
    }

    /// The type that decides the value's format: for CHAR columns (type 254) the real
    /// type stored in the metadata (CHAR 254, ENUM 247, SET 248), else the column type.
    public func realType(ofColumn i: Int) -> UInt8 {
        TableMap.realType(columnTypes[i], meta: i < columnMeta.count ? columnMeta[i] : 0)
    }

    static func realType(_ type: UInt8, meta: UInt16) -> UInt8 {
        type == ColumnType.string ? stringMetadata(meta).realType : type
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
}
