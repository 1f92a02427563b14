import BinlogCore

/// Where to start reading the binlog, as the configuration says it.
public enum StartPoint: Sendable, Equatable {
    case earliest
    case latest
    case position(BinlogPosition)
}

/// Reads what the replicator needs to know about the source before it streams:
/// server settings, binlog positions, table schemas.
public struct SourceInspector {
    public let connection: MySQLConnection

    public init(connection: MySQLConnection) {
        self.connection = connection
    }

    /// Identity and version of the server.
    public func serverInfo() throws -> (version: String, serverID: UInt32) {
        let rows = try connection.query("SELECT @@version, @@server_id").rows
        guard let row = rows.first, let version = row[0], let id = row[1].flatMap({ UInt32($0) }) else {
            throw SourceError(.query, "\(connection.options.endpoint): cannot read @@version and @@server_id")
        }
        return (version, id)
    }

    /// Checks every server setting row-based replication needs. All problems are
    /// reported at once, each with the statement or my.cnf line that fixes it.
    public func checkSettings(replicaServerID: UInt32) throws {
        let names = ["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id", "binlog_checksum",
                     "binlog_transaction_compression"]
        let list = names.map { "'\($0)'" }.joined(separator: ",")
        var values: [String: String] = [:]
        for row in try connection.query("SHOW GLOBAL VARIABLES WHERE Variable_name IN (\(list))").rows {
            if let name = row[0] { values[name.lowercased()] = row[1] ?? "" }
        }
        var problems: [String] = []
        if values["log_bin"]?.uppercased() != "ON" {
            problems.append("log_bin is \(values["log_bin"] ?? "OFF"); the binary log must be on: add `log_bin = mysql-bin` under [mysqld] in my.cnf and restart the server")
        }
        func require(_ name: String, _ wanted: String) {
            guard let value = values[name] else { return }
            if value.uppercased() != wanted {
                problems.append("\(name) is \(value), must be \(wanted): run `SET GLOBAL \(name) = '\(wanted)';` and add `\(name) = \(wanted)` under [mysqld] in my.cnf so it survives a restart")
            }
        }
        if values["binlog_format"] == nil {
            problems.append("binlog_format is not set; must be ROW: add `binlog_format = ROW` under [mysqld] in my.cnf")
        }
        require("binlog_format", "ROW")
        require("binlog_row_image", "FULL")
        require("binlog_row_metadata", "FULL")
        if let compression = values["binlog_transaction_compression"], compression.uppercased() == "ON" {
            problems.append("binlog_transaction_compression is ON: MySQL then writes TRANSACTION_PAYLOAD events, which Connector/C's binlog API cannot read: run `SET GLOBAL binlog_transaction_compression = OFF;` and add `binlog_transaction_compression = OFF` under [mysqld] in my.cnf")
        }
        if let checksum = values["binlog_checksum"], !["NONE", "CRC32"].contains(checksum.uppercased()) {
            problems.append("binlog_checksum is \(checksum); it must be CRC32 or NONE: run `SET GLOBAL binlog_checksum = 'CRC32';` and add `binlog_checksum = CRC32` under [mysqld] in my.cnf")
        }
        if let id = values["server_id"], let sourceID = UInt32(id) {
            if sourceID == 0 {
                problems.append("server_id is 0; a server with binary logging needs a non-zero id: add `server_id = 1` under [mysqld] in my.cnf")
            } else if sourceID == replicaServerID {
                problems.append("source.server_id \(replicaServerID) equals the source server's own server_id; choose another value for source.server_id in the config")
            }
        }
        if !problems.isEmpty {
            throw SourceError(.settings, "\(connection.options.endpoint) is not set up for row-based replication:\n  - "
                + problems.joined(separator: "\n  - "))
        }
    }

    /// Checks that the user may do what the replicator does, by doing it: read the
    /// binlog list and position (REPLICATION CLIENT; BINLOG MONITOR on MariaDB ≥ 10.5),
    /// and read every mapped table (SELECT). REPLICATION SLAVE (the dump itself) is read
    /// from the user's global privileges. Each failure is one line naming the grant.
    public func checkPrivileges(tables: [(schema: String, table: String)]) throws {
        let current: String?? = try connection.query("SELECT CURRENT_USER()").rows.first?.first
        let who = (current ?? nil) ?? connection.options.user
        let parts = who.split(separator: "@", maxSplits: 1).map(String.init)
        let grantee = parts.count == 2 ? "'\(parts[0])'@'\(parts[1])'" : "'\(who)'"
        var problems: [String] = []
        do {
            _ = try connection.query("SHOW BINARY LOGS")
        } catch let error as SourceError where [1227, 1044, 1045, 1142].contains(error.serverErrno ?? 0) {
            problems.append("source.user \(grantee) may not list the binary logs (REPLICATION CLIENT is missing): run `GRANT REPLICATION CLIENT ON *.* TO \(grantee);` (MariaDB ≥ 10.5 calls it BINLOG MONITOR)")
        }
        let global = try connection.query("""
            SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = \(connection.quote(grantee))
            """).rows.compactMap { $0.first ?? nil }.map { $0.uppercased() }
        // Privileges that come through a role are not in USER_PRIVILEGES; SHOW GRANTS
        // lists those of the enabled roles as well.
        let grants = ((try? connection.query("SHOW GRANTS").rows) ?? []).compactMap { $0.first ?? nil }.map { $0.uppercased() }
        let grantedThroughRole = grants.contains {
            $0.contains("REPLICATION SLAVE,") || $0.contains("REPLICATION SLAVE ON *.*") || $0.contains("ALL PRIVILEGES ON *.*")
        }
        if !global.isEmpty && !global.contains("REPLICATION SLAVE") && !global.contains("ALL PRIVILEGES") && !grantedThroughRole {
            problems.append("source.user \(grantee) lacks REPLICATION SLAVE (it has \(global.joined(separator: ", "))), so it may not read the binlog: run `GRANT REPLICATION SLAVE ON *.* TO \(grantee);`")
        }
        for t in tables {
            do {
                _ = try connection.query("SELECT 1 FROM `\(t.schema.replacingOccurrences(of: "`", with: "``"))`.`\(t.table.replacingOccurrences(of: "`", with: "``"))` LIMIT 0")
            } catch let error as SourceError where [1142, 1143, 1044].contains(error.serverErrno ?? 0) {
                problems.append("source.user \(grantee) may not SELECT from \(t.schema).\(t.table) (tables.\(t.schema).\(t.table)): run `GRANT SELECT ON \(t.schema).* TO \(grantee);`")
            } catch let error as SourceError where error.serverErrno == 1146 {
                continue  // a missing table is the config check's to report
            }
        }
        if !problems.isEmpty {
            throw SourceError(.privileges, "\(connection.options.endpoint): the replication user lacks privileges:\n  - " + problems.joined(separator: "\n  - "))
        }
    }

    /// Checks that no other replica of the server uses `serverID`: two replicas with one
    /// id make the server drop one connection whenever the other connects. Registered
    /// replicas are listed by SHOW SLAVE HOSTS (which needs REPLICATION MASTER ADMIN on
    /// MariaDB ≥ 10.5, REPLICATION SLAVE on MySQL); without that privilege the check
    /// cannot run and the returned warning says so.
    public func checkServerIDUnused(_ serverID: UInt32, ownHost: String) throws -> String? {
        let hosts: [[String: String?]]
        do {
            do {
                hosts = try connection.queryRows("SHOW SLAVE HOSTS")
            } catch let error as SourceError where error.serverErrno == 1064 {
                // MySQL 8.4 removed the old spelling.
                hosts = try connection.queryRows("SHOW REPLICAS")
            }
        } catch let error as SourceError where [1227, 1044, 1142].contains(error.serverErrno ?? 0) {
            return "cannot check that source.server_id \(serverID) is unused: SHOW SLAVE HOSTS needs `GRANT REPLICATION MASTER ADMIN ON *.* TO <user>` (MariaDB ≥ 10.5); two replicas with one server_id keep disconnecting each other"
        }
        for host in hosts {
            let id = ((host["Server_id"] ?? host["Server_Id"]) ?? nil).flatMap { UInt32($0) }
            guard id == serverID else { continue }
            let name = (host["Host"] ?? nil) ?? "?"
            let port = (host["Port"] ?? nil) ?? "?"
            // Our own registration from a previous run lingers until the server notices
            // that connection is gone (it drops it when we connect with the same id).
            if name == ownHost { continue }
            throw SourceError(.settings, "source.server_id \(serverID) is already used by the replica \(name):\(port) (SHOW SLAVE HOSTS on \(connection.options.endpoint)); two replicas with one id keep disconnecting each other: give source.server_id a value no replica of this server uses")
        }
        return nil
    }

    /// The host name a pipeline registers with (SHOW SLAVE HOSTS shows it).
    public static func registrationHost(pipeline: String) -> String { String("distributary-\(pipeline)".prefix(60)) }

    /// The binlog files the server still has, oldest first.
    public func binaryLogs() throws -> [String] {
        try connection.query("SHOW BINARY LOGS").rows.compactMap { $0.first ?? nil }
    }

    /// SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4, which removed the old spelling.
    func binlogStatus() throws -> (columns: [String], rows: [[String?]]) {
        do {
            return try connection.query("SHOW MASTER STATUS")
        } catch let error as SourceError where error.serverErrno == 1064 {
            return try connection.query("SHOW BINARY LOG STATUS")
        }
    }

    /// The server's current write position.
    public func currentPosition() throws -> BinlogPosition {
        guard let row = try binlogStatus().rows.first,
              let file = row[0], let pos = row[1].flatMap({ UInt64($0) }) else {
            throw SourceError(.settings, "\(connection.options.endpoint): SHOW MASTER STATUS returned nothing; is log_bin on and does the user have REPLICATION CLIENT (BINLOG MONITOR on MariaDB)?")
        }
        return BinlogPosition(file: file, offset: pos)
    }

    /// MySQL: the executed GTID set that goes with `currentPosition()` (SHOW MASTER
    /// STATUS returns both at once); nil on MariaDB or when GTIDs are off.
    public func currentPositionAndGTIDSet() throws -> (BinlogPosition, MySQLGTIDSet?) {
        let (columns, rows) = try binlogStatus()
        guard let row = rows.first, let file = row[0], let pos = row[1].flatMap({ UInt64($0) }) else {
            throw SourceError(.settings, "\(connection.options.endpoint): SHOW MASTER STATUS returned nothing; is log_bin on and does the user have REPLICATION CLIENT (BINLOG MONITOR on MariaDB)?")
        }
        var set: MySQLGTIDSet?
        if let i = columns.firstIndex(of: "Executed_Gtid_Set"), let text = row[i], !text.isEmpty {
            set = try? MySQLGTIDSet(parsing: text, what: "Executed_Gtid_Set")
        }
        return (BinlogPosition(file: file, offset: pos), set)
    }

    /// Turns a configured start point into a concrete position, checking that the
    /// file still exists on the server.
    public func resolve(_ start: StartPoint) throws -> BinlogPosition {
        switch start {
        case .latest:
            return try currentPosition()
        case .earliest:
            guard let first = try binaryLogs().first else {
                throw SourceError(.settings, "\(connection.options.endpoint) has no binary logs (SHOW BINARY LOGS is empty)")
            }
            return BinlogPosition(file: first, offset: 4)
        case .position(let position):
            let files = try binaryLogs()
            guard files.contains(position.file) else {
                throw SourceError(.purged, "binlog \(position.file) is not on \(connection.options.endpoint) (it has \(files.first ?? "none") … \(files.last ?? "none")); it was purged or the name is wrong. The derived stores cannot catch up from the log: run `distributary resync --config FILE --table DB.TABLE` for each mapped table (or, for a new pipeline, start from `earliest`/`latest`)")
            }
            return position
        }
    }

    /// Whether the server is MariaDB (GTIDs `domain-server-seq`, GTID dumps through
    /// `@slave_connect_state`) rather than MySQL.
    public static func isMariaDB(version: String) -> Bool { version.contains("MariaDB") }

    /// MariaDB: whether transactions after `gtid` were purged: some domain's sequence in
    /// the earliest binlog's starting position is past `gtid`'s.
    public func isPurged(_ gtid: GTIDPosition) throws -> Bool {
        guard let first = try binaryLogs().first else { return false }
        let earliest = try gtidPosition(at: BinlogPosition(file: first, offset: 4))
        return earliest.domains.contains { domain, entry in (gtid.domains[domain]?.sequence ?? 0) < entry.sequence }
    }

    /// MariaDB: the GTID position of the binlog at `position` (`BINLOG_GTID_POS`), which
    /// must be the start of an event in a file the server still has.
    ///
    /// BINLOG_GTID_POS reads the file from its start up to `position` (tens of
    /// milliseconds on a 300 MB binlog, seconds on a full 1 GB one). At the end of the log
    /// — `start: latest`, the read view of a snapshot while nothing commits — the server's
    /// `@@gtid_binlog_pos` is the same position, read without the scan: it is taken when
    /// the write position is `position` both before and after reading it (no transaction
    /// was written in between).
    public func gtidPosition(at position: BinlogPosition) throws -> GTIDPosition {
        // Any error on the way (a user without BINLOG MONITOR, say) leaves it to the scan.
        if (try? currentPosition()) == position, let atEnd = try? binlogGTIDPosition(), (try? currentPosition()) == position {
            return atEnd
        }
        return try scannedGTIDPosition(at: position)
    }

    /// `BINLOG_GTID_POS(position)` itself (see `gtidPosition(at:)`).
    public func scannedGTIDPosition(at position: BinlogPosition) throws -> GTIDPosition {
        let rows = try connection.query("SELECT BINLOG_GTID_POS(\(connection.quote(position.file)), \(position.offset))").rows
        guard let row = rows.first, let text = row[0] else {
            throw SourceError(.purged, "\(connection.options.endpoint): BINLOG_GTID_POS(\(position.file), \(position.offset)) is NULL: the file is not on the server or the offset is not the start of an event. Start from `earliest`, `latest` or a position `SHOW BINLOG EVENTS` lists; for existing derived stores run `distributary resync --config FILE --table DB.TABLE`")
        }
        return try GTIDPosition(parsing: text, what: "BINLOG_GTID_POS(\(position.file), \(position.offset))")
    }

    /// MariaDB: `@@gtid_binlog_pos`, the GTID position of the end of the binlog.
    public func binlogGTIDPosition() throws -> GTIDPosition {
        let row = try connection.query("SELECT @@global.gtid_binlog_pos").rows.first
        return try GTIDPosition(parsing: (row?.first ?? nil) ?? "", what: "@@gtid_binlog_pos")
    }

    /// Every base table outside the server's own schemas, as `db.table` (what table patterns
    /// in the config are matched against). Only tables the user can see are listed.
    public func listTables() throws -> [String] {
        try connection.query("""
            SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
            WHERE TABLE_TYPE = 'BASE TABLE'
              AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
            ORDER BY TABLE_SCHEMA, TABLE_NAME
            """).rows.map { "\($0[0] ?? "").\($0[1] ?? "")" }
    }

    /// The columns and primary key of `schema.table`; `nil` if the table does not exist.
    public func tableSchema(schema: String, table: String) throws -> TableSchema? {
        let s = connection.quote(schema), t = connection.quote(table)
        let columns = try connection.query("""
            SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = \(s) AND TABLE_NAME = \(t) ORDER BY ORDINAL_POSITION
            """).rows
        if columns.isEmpty { return nil }
        let key = try connection.query("""
            SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
            WHERE TABLE_SCHEMA = \(s) AND TABLE_NAME = \(t) AND CONSTRAINT_NAME = 'PRIMARY'
            ORDER BY ORDINAL_POSITION
            """).rows
        return TableSchema(
            schema: schema, table: table,
            columns: columns.map { $0[0] ?? "" },
            dataTypes: columns.map { ($0[1] ?? "").lowercased() },
            primaryKey: key.map { $0[0] ?? "" })
    }
}
