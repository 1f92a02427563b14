import BinlogCore

/// Gives column names to rows whose TABLE_MAP carries none (servers without
/// `binlog_row_metadata = FULL`: MySQL < 8.0.1, MariaDB < 10.5, or the setting left at
/// MINIMAL). The names come from information_schema, that is from the table as it is
/// *now*: a DDL between the logged change and this lookup can put values under the wrong
/// names. So the first use per table is warned about, and a column count that differs
/// from the logged one stops the replicator instead of guessing.
///
/// Names are cached per table id; servers give a table a new id when its definition
/// changes, so an ALTER TABLE leads to a fresh lookup.
public final class ColumnNamer {
    private let options: ConnectionOptions
    private let isMapped: (String, String) -> Bool
    private let warn: (String) -> Void
    private var connection: MySQLConnection?
    private var cache: [UInt64: [String]] = [:]
    private var warned: Set<String> = []

    /// `isMapped(schema, table)` limits lookups to the tables the configuration uses.
    public init(options: ConnectionOptions, isMapped: @escaping (String, String) -> Bool, warn: @escaping (String) -> Void) {
        self.options = options
        self.isMapped = isMapped
        self.warn = warn
    }

    /// Fills in the column names of every change of a mapped table that lacks them.
    /// Throws `.schema` when the table's current column count differs from the logged
    /// one, and a transient error when the lookup connection fails.
    public func fill(_ transaction: inout Transaction) throws {
        for i in transaction.changes.indices {
            let map = transaction.changes[i].table
            guard map.columnNames == nil, isMapped(map.schema, map.table) else { continue }
            transaction.changes[i].table.columnNames = try names(for: map, at: transaction)
        }
    }

    private func names(for map: TableMap, at transaction: Transaction) throws -> [String] {
        if let cached = cache[map.tableID], cached.count == map.columnCount { return cached }
        let qualified = "\(map.schema).\(map.table)"
        let schema: TableSchema?
        do {
            if connection == nil { connection = try MySQLConnection(options) }
            schema = try SourceInspector(connection: connection!).tableSchema(schema: map.schema, table: map.table)
        } catch let error as SourceError {
            connection = nil
            throw error
        }
        guard let schema else {
            throw SourceError(.schema, "the binlog carries no column names for \(qualified) (transaction ending at \(transaction.end)) and the table no longer exists on \(options.endpoint), so its values cannot be named. Set binlog_row_metadata = FULL on the source (`SET GLOBAL binlog_row_metadata = 'FULL';`), then resync the table (`distributary resync --config FILE --table \(qualified)`)")
        }
        guard schema.columns.count == map.columnCount else {
            throw SourceError(.schema, "the binlog carries no column names for \(qualified), and the change at \(transaction.end) has \(map.columnCount) columns while the table has \(schema.columns.count) now (\(schema.columns.joined(separator: ", "))): its definition changed since, so the values cannot be named safely. Set binlog_row_metadata = FULL on the source (`SET GLOBAL binlog_row_metadata = 'FULL';`), then resync the table (`distributary resync --config FILE --table \(qualified)`)")
        }
        if !warned.contains(qualified) {
            warned.insert(qualified)
            warn("the binlog carries no column names for \(qualified) (binlog_row_metadata is not FULL); naming its columns from information_schema (\(schema.columns.joined(separator: ", "))). A DDL on it while the replicator lags can mislabel values: set binlog_row_metadata = FULL on the source (`SET GLOBAL binlog_row_metadata = 'FULL';` and in my.cnf)")
        }
        cache[map.tableID] = schema.columns
        return schema.columns
    }
}
