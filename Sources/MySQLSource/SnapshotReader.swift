import BinlogCore
import Foundation

/// A table as the snapshot reads it: the SELECT list, and how each column's text (as the
/// server sends it) becomes the value the binlog would carry for the same row, so that a
/// row loaded by a snapshot and the same row streamed from the log give identical Redis
/// entries and documents.
public struct SnapshotTable: Sendable {
    public enum Kind: Sendable {
        case integer, float, double, decimal, text, binary, bit, geometry, json
        case date, datetime, time, timestamp, year, enumeration, set
    }

    public let schema: TableSchema
    /// The columns rows are ordered and paged by (primary key, or a configured unique key).
    public let key: [String]
    let kinds: [Kind]
    let keyIndexes: [Int]
    let selectList: String
    let from: String

    /// Throws a SourceError naming the column when its type cannot be read back exactly.
    public init(schema: TableSchema, key: [String]) throws {
        self.schema = schema
        self.key = key
        var kinds: [Kind] = []
        var select: [String] = []
        for (name, type) in zip(schema.columns, schema.dataTypes) {
            guard let kind = Self.kind(of: type) else {
                throw SourceError(.settings, "\(schema.qualifiedName): column `\(name)` has type \(type), which snapshots cannot read back exactly as the binlog carries it (rows are read whole, so leaving it out of the mapping does not help): report the type, and until then set source.snapshot: never and load the table from the log (source.start: earliest)")
            }
            kinds.append(kind)
            // FLOAT prints with 6 digits; as DOUBLE its exact value comes back.
            // ENUM: an empty label is either the "invalid" value 0 or a '' member; the
            // index (`col + 0`) tells them apart.
            switch kind {
            case .float: select.append("\(Self.ident(name)) + 0e0")
            case .enumeration: select.append("CONCAT(\(Self.ident(name)) + 0, ':', \(Self.ident(name)))")
            default: select.append(Self.ident(name))
            }
        }
        self.kinds = kinds
        self.keyIndexes = try key.map { column in
            guard let i = schema.columns.firstIndex(of: column) else {
                throw SourceError(.settings, "\(schema.qualifiedName) has no column `\(column)` for its snapshot key")
            }
            return i
        }
        selectList = select.joined(separator: ", ")
        from = "\(Self.ident(schema.schema)).\(Self.ident(schema.table))"
    }

    /// `name` as a quoted SQL identifier.
    public static func quoted(_ name: String) -> String { ident(name) }

    static func ident(_ name: String) -> String { "`" + name.replacingOccurrences(of: "`", with: "``") + "`" }

    static func kind(of dataType: String) -> Kind? {
        switch dataType {
        case "tinyint", "smallint", "mediumint", "int", "integer", "bigint": return .integer
        case "float": return .float
        case "double", "real", "double precision": return .double
        case "decimal", "numeric": return .decimal
        case "char", "varchar", "tinytext", "text", "mediumtext", "longtext": return .text
        case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob": return .binary
        case "bit": return .bit
        case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
             "geometrycollection", "geomcollection": return .geometry
        case "json": return .json
        case "date": return .date
        case "datetime": return .datetime
        case "time": return .time
        case "timestamp": return .timestamp
        case "year": return .year
        case "enum": return .enumeration
        case "set": return .set
        default: return nil
        }
    }

    /// The value of a cell as the binlog decoder would produce it.
    func value(_ kind: Kind, _ cell: UnsafeRawBufferPointer?) -> ColumnValue {
        guard let cell else { return .null }
        func text() -> String { String(decoding: cell, as: UTF8.self) }
        switch kind {
        case .integer:
            let t = text()
            if let v = Int64(t) { return .int(v) }
            if let v = UInt64(t) { return .uint(v) }
            return .decimal(t)
        case .float: return .float(Float(Double(text()) ?? .nan))
        case .double: return .double(Double(text()) ?? .nan)
        case .decimal: return .decimal(text())
        case .text: return .string(text())
        case .json: return .json(text())
        case .binary, .bit: return .bytes(Array(cell))
        case .geometry: return .geometry(Array(cell))
        case .date: return .date(text())
        case .datetime: return .datetime(text())
        case .time: return .time(text())
        case .timestamp: return .timestamp(text())
        case .year: return .year(Int(text()) ?? 0)
        case .enumeration:
            // "index:label"; index 0 is the "invalid" value, which the log carries without a label.
            let t = text()
            guard let colon = t.firstIndex(of: ":"), let index = Int(t[..<colon]) else { return .enumeration(index: 1, label: t) }
            return index == 0 ? .enumeration(index: 0, label: nil) : .enumeration(index: index, label: String(t[t.index(after: colon)...]))
        case .set:
            return .set(bits: 0, labels: cell.isEmpty ? [] : text().split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        }
    }
}

/// Where a snapshot stands in the source's log: streaming from here applies exactly the
/// changes the snapshot's reads do not see.
public struct SnapshotPoint: Sendable, CustomStringConvertible {
    public var position: BinlogPosition
    /// MariaDB: the GTID position at `position`.
    public var gtid: GTIDPosition?
    /// MySQL: the executed GTID set at `position`, when the server has GTIDs.
    public var mysqlGTIDs: MySQLGTIDSet?
    public var serverID: UInt32

    public var description: String { position.description + (gtid.map { " (GTID position \($0))" } ?? "") }
}

/// One connection holding a consistent read view of the source and the log position it
/// corresponds to. MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT, then the
/// binlog_snapshot_file/position status (no lock). MySQL: FLUSH TABLES WITH READ LOCK held
/// only while the transaction starts and the position is read (`lockSeconds`).
/// Not thread-safe: one thread per session.
public final class SnapshotSession {
    public let connection: MySQLConnection
    public let point: SnapshotPoint
    /// How long the global read lock was held, nil when none was taken.
    public let lockSeconds: Double?

    init(connection: MySQLConnection, point: SnapshotPoint, lockSeconds: Double?) {
        self.connection = connection
        self.point = point
        self.lockSeconds = lockSeconds
    }

    /// Sessions that read tables in parallel: up to `count` connections whose read views
    /// all sit at one log position, so together they are one consistent snapshot.
    /// MariaDB: the views are opened together without a lock, and again (`lineUpAttempts`
    /// times) while the source commits in between; then under a brief FLUSH TABLES WITH
    /// READ LOCK, when the user may take it (RELOAD) and it is granted within
    /// `lockWaitSeconds` (the lock waits for running statements and holds writes back while
    /// it waits). MySQL: all are opened under that lock. When the views cannot be lined up
    /// (no RELOAD, the lock not granted in time, no spare connections) there is one
    /// session, and `note` says why.
    public static func open(options: ConnectionOptions, isMariaDB: Bool, count: Int, lineUpAttempts: Int = 20,
                            lockWaitSeconds: Int = 2) throws -> (sessions: [SnapshotSession], note: String?) {
        let first = try prepared(options)
        let serverID = try SourceInspector(connection: first).serverInfo().serverID
        var connections = [first]
        var note: String?
        for _ in 1..<max(1, count) {
            do {
                connections.append(try prepared(options))
            } catch {
                note = "reading \(connections.count) of \(count) tables at a time: opening another connection failed (\(error)); raise the source's max_connections or lower source.snapshot_threads"
                break
            }
        }
        if isMariaDB {
            // Read views opened at the same moment sit at one position unless something
            // commits in between.
            for _ in 0..<(connections.count > 1 ? lineUpAttempts : 1) {
                let positions = try startTogether(connections)
                if Set(positions.map(\.description)).count == 1 {
                    return (try sessions(connections, at: positions[0], serverID: serverID, lock: nil), note)
                }
                for c in connections { try c.execute("COMMIT") }
            }
            let started = Date()
            do {
                try first.execute("SET SESSION lock_wait_timeout = \(lockWaitSeconds)")
                defer { try? first.execute("SET SESSION lock_wait_timeout = DEFAULT") }
                try first.execute("FLUSH TABLES WITH READ LOCK")
            } catch let error as SourceError {
                let position = try startMariaDB(first)
                let why = [1227, 1044, 1045].contains(error.serverErrno ?? 0)
                    ? "reading one table at a time: the source committed while the parallel read views were opened, and lining them up takes a brief FLUSH TABLES WITH READ LOCK, which needs `GRANT RELOAD ON *.* TO <replication user>` (\(error.message))"
                    : "reading one table at a time: the source committed while the parallel read views were opened, and FLUSH TABLES WITH READ LOCK to line them up was not granted within \(lockWaitSeconds) s (\(error.message))"
                return (try sessions([first], at: position, serverID: serverID, lock: nil), why)
            }
            let positions = try whileLocked(first) { try startTogether(connections) }
            guard Set(positions.map(\.description)).count == 1 else {
                throw SourceError(.settings, "\(options.endpoint): read views opened under FLUSH TABLES WITH READ LOCK report different binlog positions (\(positions.map(\.description).joined(separator: ", "))); set source.snapshot_threads: 1")
            }
            return (try sessions(connections, at: positions[0], serverID: serverID, lock: Date().timeIntervalSince(started)), note)
        }
        let started = Date()
        do {
            try first.execute("FLUSH TABLES WITH READ LOCK")
        } catch let error as SourceError where [1227, 1044, 1045].contains(error.serverErrno ?? 0) {
            throw SourceError(.privileges, "\(options.endpoint): a consistent snapshot of MySQL needs a brief global read lock: run `GRANT RELOAD ON *.* TO <replication user>;` (\(error.message))")
        }
        let (position, set) = try whileLocked(first) {
            for c in connections { try c.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT") }
            return try SourceInspector(connection: first).currentPositionAndGTIDSet()
        }
        let point = SnapshotPoint(position: position, gtid: nil, mysqlGTIDs: set, serverID: serverID)
        let lock = Date().timeIntervalSince(started)
        return (connections.map { SnapshotSession(connection: $0, point: point, lockSeconds: lock) }, note)
    }

    /// Runs `body` while `connection` holds the global read lock it just took, then
    /// releases the lock, whatever `body` did.
    private static func whileLocked<T>(_ connection: MySQLConnection, _ body: () throws -> T) throws -> T {
        do {
            let result = try body()
            try connection.execute("UNLOCK TABLES")
            return result
        } catch {
            try? connection.execute("UNLOCK TABLES")
            throw error
        }
    }

    private static func prepared(_ options: ConnectionOptions) throws -> MySQLConnection {
        let connection = try MySQLConnection(options)
        try connection.execute("SET SESSION time_zone = '+00:00'")
        try connection.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return connection
    }

    /// MariaDB: opens the read view and returns the binlog position it sits at.
    private static func startMariaDB(_ connection: MySQLConnection) throws -> BinlogPosition {
        try connection.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        var file: String?, pos: UInt64?
        for row in try connection.query("SHOW STATUS LIKE 'binlog_snapshot_%'").rows {
            switch row[0] ?? "" {
            case "Binlog_snapshot_file": file = row[1] ?? nil
            case "Binlog_snapshot_position": pos = (row[1] ?? nil).flatMap { UInt64($0) }
            default: break
            }
        }
        guard let file, !file.isEmpty, let pos else {
            throw SourceError(.settings, "\(connection.options.endpoint) reports no binlog_snapshot_file/position; the binary log must be on (log_bin) for a consistent snapshot")
        }
        return BinlogPosition(file: file, offset: pos)
    }

    /// Opens the read view on every connection at once (a thread each), and returns their positions.
    private static func startTogether(_ connections: [MySQLConnection]) throws -> [BinlogPosition] {
        guard connections.count > 1 else { return [try startMariaDB(connections[0])] }
        final class Slot: @unchecked Sendable {
            let connection: MySQLConnection
            var result: Result<BinlogPosition, Error>?
            init(_ connection: MySQLConnection) { self.connection = connection }
        }
        let slots = connections.map(Slot.init)
        let gate = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for slot in slots {
            group.enter()
            Thread {
                gate.wait()
                slot.result = Result { try startMariaDB(slot.connection) }
                group.leave()
            }.start()
        }
        for _ in slots { gate.signal() }
        group.wait()
        return try slots.map { try $0.result!.get() }
    }

    private static func sessions(_ connections: [MySQLConnection], at position: BinlogPosition, serverID: UInt32,
                                 lock: Double?) throws -> [SnapshotSession] {
        let point = SnapshotPoint(position: position, gtid: try SourceInspector(connection: connections[0]).gtidPosition(at: position),
                                  mysqlGTIDs: nil, serverID: serverID)
        return connections.map { SnapshotSession(connection: $0, point: point, lockSeconds: lock) }
    }

    /// About how many rows `table` holds, for progress and ETA: the server's table
    /// statistics (`information_schema.TABLES.TABLE_ROWS`, an estimate for InnoDB), read at
    /// once, where `SELECT COUNT(*)` would read the whole table before the first chunk
    /// (0.3 s a million rows here, minutes for a large table).
    public func estimatedRowCount(_ table: SnapshotTable) throws -> Int {
        let rows = try connection.query("""
            SELECT TABLE_ROWS FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = \(connection.quote(table.schema.schema)) AND TABLE_NAME = \(connection.quote(table.schema.table))
            """).rows
        return Int(((rows.first?.first) ?? "0") ?? "0") ?? 0
    }

    /// Up to `limit` rows after the key `after` (nil: from the start), in key order, with
    /// the key of the last one (nil when the table has no more rows).
    public func readChunk(_ table: SnapshotTable, after: [[UInt8]]?, limit: Int) throws -> (rows: [RowImage], lastKey: [[UInt8]]?) {
        try Self.readChunk(connection, table, after: after, limit: limit)
    }

    /// The same on any connection (online resync reads chunks outside a snapshot).
    public static func readChunk(_ connection: MySQLConnection, _ table: SnapshotTable, after: [[UInt8]]?, limit: Int,
                                 extraCondition: String? = nil) throws -> (rows: [RowImage], lastKey: [[UInt8]]?) {
        var conditions: [String] = []
        if let after { conditions.append(keyCondition(connection, table, after)) }
        if let extraCondition { conditions.append(extraCondition) }
        let order = table.key.map(SnapshotTable.ident).joined(separator: ", ")
        let sql = "SELECT \(table.selectList) FROM \(table.from)"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY \(order) LIMIT \(limit)"
        var rows: [RowImage] = []
        rows.reserveCapacity(limit)
        var last: [[UInt8]]?
        var values: [ColumnValue?] = []
        values.reserveCapacity(table.kinds.count)
        try connection.forEachRow(sql) { cells in
            values.removeAll(keepingCapacity: true)
            for (i, kind) in table.kinds.enumerated() { values.append(table.value(kind, cells[i])) }
            rows.append(RowImage(values))
            last = table.keyIndexes.map { cells[$0].map { Array($0) } ?? [] }
        }
        return (rows, rows.count < limit ? nil : last)
    }

    /// `(k1, k2) > (v1, v2)` written out so every server uses the key's index for it.
    static func keyCondition(_ connection: MySQLConnection, _ table: SnapshotTable, _ key: [[UInt8]]) -> String {
        func literal(_ n: Int) -> String {
            let bytes = key[n]
            switch table.kinds[table.keyIndexes[n]] {
            case .integer, .decimal, .double, .float, .year:
                if !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e || $0 == 0x2b || $0 == 0x65 || $0 == 0x45 }) {
                    return String(decoding: bytes, as: UTF8.self)
                }
                return bytes.withUnsafeBytes { connection.quote(bytes: $0) }
            case .binary, .bit, .geometry:
                return bytes.isEmpty ? "''" : "X'" + bytes.map { String(format: "%02x", $0) }.joined() + "'"
            case .enumeration:
                // Read as "index:label"; rows are ordered by the index, so page by it.
                return String(decoding: bytes.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
            default:
                return bytes.withUnsafeBytes { connection.quote(bytes: $0) }
            }
        }
        let columns = table.key.map(SnapshotTable.ident)
        var alternatives: [String] = []
        for i in 0..<columns.count {
            var terms = (0..<i).map { "\(columns[$0]) = \(literal($0))" }
            terms.append("\(columns[i]) > \(literal(i))")
            alternatives.append(terms.joined(separator: " AND "))
        }
        return alternatives.count == 1 ? alternatives[0] : "(" + alternatives.map { "(\($0))" }.joined(separator: " OR ") + ")"
    }

    /// Ends the read view.
    public func close() {
        try? connection.execute("COMMIT")
    }
}
