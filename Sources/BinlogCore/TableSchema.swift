/// A source table's columns as the server's catalog describes them (information_schema),
/// used to validate configuration before streaming starts.
public struct TableSchema: Sendable, Equatable {
    public var schema: String
    public var table: String
    /// Column names in ordinal order.
    public var columns: [String]
    /// SQL data type per column (`int`, `varchar`, …), lowercase, same order as `columns`.
    public var dataTypes: [String]
    /// Primary-key column names in key order; empty when the table has none.
    public var primaryKey: [String]

    public init(schema: String, table: String, columns: [String], dataTypes: [String], primaryKey: [String]) {
        self.schema = schema
        self.table = table
        self.columns = columns
        self.dataTypes = dataTypes
        self.primaryKey = primaryKey
    }

    /// `db.table`
    public var qualifiedName: String { "\(schema).\(table)" }
}
