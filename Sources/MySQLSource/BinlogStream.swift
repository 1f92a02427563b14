import BinlogCore
import CMariaDB
import Foundation

/// Where a binlog dump starts.
public enum StreamStart: Sendable, Equatable, CustomStringConvertible {
    /// A file and offset on this server (COM_BINLOG_DUMP's own position).
    case position(BinlogPosition)
    /// Just after a MariaDB GTID position (`@slave_connect_state`): works on any server
    /// of the replication topology, so it survives a failover.
    case gtid(GTIDPosition)

    public var description: String {
        switch self {
        case .position(let p): return p.description
        case .gtid(let g): return "GTID position \(g.description.isEmpty ? "(empty: the start of the binlogs)" : g.description)"
        }
    }
}

/// A replica connection streaming raw binlog events with COM_BINLOG_DUMP through
/// libmariadb's `mariadb_rpl_*` API. Events are handed over as the bytes the server
/// sent (header, body, checksum); decoding is BinlogCore's job.
///
/// Blocking: run it on a thread of its own. The server sends a heartbeat after
/// `heartbeatSeconds` of silence, so `next` returns at least that often and a
/// caller can check for shutdown between calls. A connection that stays silent for
/// `deadAfterSeconds` (a few heartbeat periods) is declared dead: `next` throws a
/// `.lost` error and the caller reconnects.
public final class BinlogStream {
    private let connection: MySQLConnection
    private let rpl: UnsafeMutablePointer<MARIADB_RPL>
    public let start: StreamStart
    /// `@@server_id` of the server this stream reads, read before the dump.
    public let serverID: UInt32
    /// `@@version` of that server.
    public let serverVersion: String
    /// Silence (seconds) after which the connection counts as dead.
    public let deadAfterSeconds: UInt32

    /// The read timeout for a stream with heartbeats every `heartbeatSeconds`: three
    /// missed heartbeats, at least 2 s.
    public static func deadAfter(heartbeatSeconds: Double) -> UInt32 {
        UInt32(max(2, (heartbeatSeconds * 3).rounded(.up)))
    }

    public convenience init(options: ConnectionOptions, replicaServerID: UInt32, start: BinlogPosition,
                            heartbeatSeconds: Double = 1) throws {
        try self.init(options: options, replicaServerID: replicaServerID, from: .position(start), heartbeatSeconds: heartbeatSeconds)
    }

    /// `reportHost`, when given, registers the replica under that name (SHOW SLAVE HOSTS).
    public init(options: ConnectionOptions, replicaServerID: UInt32, from start: StreamStart,
                heartbeatSeconds: Double = 1, reportHost: String? = nil) throws {
        var streamOptions = options
        let deadAfter = Self.deadAfter(heartbeatSeconds: heartbeatSeconds)
        streamOptions.readTimeoutSeconds = deadAfter
        let connection = try MySQLConnection(streamOptions)
        let identity = try connection.query("SELECT @@server_id, @@version").rows.first
        guard let idText = identity?[0], let id = UInt32(idText) else {
            throw SourceError(.query, "\(options.endpoint): cannot read @@server_id before the binlog dump")
        }
        let version = (identity?[1] ?? nil) ?? ""
        // Tell the server we verify checksums and want heartbeats and MariaDB's own events.
        try connection.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        // MySQL ≥ 8.0.26 reads @source_heartbeat_period, older servers and MariaDB the
        // @master_ spelling; an unused user variable is harmless.
        let period = UInt64(heartbeatSeconds * 1_000_000_000)
        try connection.execute("SET @master_heartbeat_period = \(period), @source_heartbeat_period = \(period)")
        try connection.execute("SET @mariadb_slave_capability = 4")
        if case .gtid(let position) = start {
            guard version.contains("MariaDB") else {
                throw SourceError(.config, "\(options.endpoint) is MySQL \(version): a GTID start needs COM_BINLOG_DUMP_GTID, which Connector/C does not send; start MySQL from earliest, latest or {file: …, pos: …} (resuming is by file and position)")
            }
            // MariaDB's GTID dump: the server finds the position itself from the state,
            // and in strict mode refuses states its binlog does not continue.
            try connection.execute("SET @slave_connect_state = \(connection.quote(position.description))")
            try connection.execute("SET @slave_gtid_strict_mode = 1")
            try connection.execute("SET @slave_gtid_ignore_duplicates = 0")
        }
        guard let rpl = dst_rpl_init(connection.handle) else {
            throw SourceError(.stream, "\(options.endpoint): mariadb_rpl_init failed: \(connection.lastError)")
        }
        // From here every stored property is set: a throw runs deinit, which closes `rpl`.
        self.connection = connection
        self.rpl = rpl
        self.start = start
        self.serverID = id
        self.serverVersion = version
        self.deadAfterSeconds = deadAfter
        switch start {
        case .position(let position):
            guard position.offset <= UInt64(UInt32.max) else {
                throw SourceError(.config, "start offset \(position) does not fit the 4-byte position of COM_BINLOG_DUMP; start from a later file (FLUSH BINARY LOGS on the server makes one) or from `latest`")
            }
            _ = position.file.withCString { dst_rpl_set_filename(rpl, $0, position.file.utf8.count) }
            _ = dst_rpl_set_start(rpl, UInt(position.offset))
        case .gtid:
            // An empty file name with @slave_connect_state set makes it a GTID dump.
            _ = dst_rpl_set_filename(rpl, "", 0)
            _ = dst_rpl_set_start(rpl, 4)
        }
        _ = dst_rpl_set_server_id(rpl, replicaServerID)
        // Register, so SHOW SLAVE HOSTS lists our server_id for the in-use check.
        if let reportHost { _ = dst_rpl_set_host(rpl, reportHost, 0) }
        _ = dst_rpl_set_flags(rpl, 0)
        if mariadb_rpl_open(rpl) != 0 {
            throw Self.error(connection.lastErrno, connection.lastError, endpoint: options.endpoint, start: start, doing: "COM_BINLOG_DUMP")
        }
    }

    deinit {
        mariadb_rpl_close(rpl)
    }

    /// Waits for the next event and passes its bytes to `body` (valid only during
    /// the call). Returns false when the server ended the stream (an EOF packet).
    public func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let began = Date()
        // Each event is fetched into a fresh structure and freed here: Connector/C frees
        // or resets a reused one on some error paths, so handing it back is unsafe.
        guard let fetched = mariadb_rpl_fetch(rpl, nil) else {
            let errno = connection.lastErrno
            if errno == 0 {
                // Errors of the connector's own event parsing are kept in the rpl handle.
                let rplErrno = rpl.pointee.error_no
                if rplErrno != 0 {
                    let message = withUnsafeBytes(of: rpl.pointee.error_msg) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    throw SourceError(.stream, "\(connection.options.endpoint): Connector/C could not read a binlog event after \(start): \(message) (error \(rplErrno)); check the server's settings (MySQL: binlog_transaction_compression = OFF)", serverErrno: rplErrno)
                }
                return false
            }
            let silent = Date().timeIntervalSince(began)
            if (errno == 2013 || errno == 2006) && silent >= Double(deadAfterSeconds) - 0.5 {
                throw SourceError(.lost, "\(connection.options.endpoint) sent no event and no heartbeat for \(Int(silent.rounded())) s (heartbeats are due every \(Self.heartbeatText(deadAfterSeconds))); the connection is taken for dead", serverErrno: errno)
            }
            throw Self.error(errno, connection.lastError, endpoint: connection.options.endpoint, start: start, doing: "reading the binlog")
        }
        defer { mariadb_free_rpl_event(fetched) }
        let e = fetched.pointee
        // raw_data is the network packet: a 0x00 OK byte, then the event as the log holds it.
        guard let raw = e.raw_data, e.raw_data_size >= 20, raw[0] == 0 else {
            throw SourceError(.stream, "\(connection.options.endpoint): the connector returned a binlog packet that is not an event (\(e.raw_data_size) bytes)")
        }
        try body(UnsafeRawBufferPointer(start: raw + 1, count: Int(e.raw_data_size) - 1))
        return true
    }

    private static func heartbeatText(_ deadAfter: UInt32) -> String {
        let period = Double(deadAfter) / 3
        return period == period.rounded() ? "\(Int(period)) s" : String(format: "%.1f s", period)
    }

    /// The error for a failed dump request or read, with what to do about it.
    static func error(_ errno: UInt32, _ message: String, endpoint: String, start: StreamStart, doing: String) -> SourceError {
        let what = "\(endpoint): \(doing) from \(start) failed: \(message) (error \(errno))"
        switch errno {
        case 1236:
            let lower = message.lowercased()
            if lower.contains("server_id") || lower.contains("server_uuid") || lower.contains("same server") {
                return SourceError(.settings, what + "; another replica uses the same id: give source.server_id a value no other replica of this server uses", serverErrno: errno)
            }
            if lower.contains("which is not in the master's binlog") || lower.contains("not in the master") {
                return SourceError(.diverged, what + "; the derived stores hold transactions this server does not have (a failover to a server that lagged?). Rebuild them from this server: run `distributary resync --config FILE --table DB.TABLE` for each mapped table", serverErrno: errno)
            }
            return SourceError(.purged, what + "; the server no longer has the binlog this position needs (purged, or the position is wrong). The derived stores cannot be brought up to date from the log: run `distributary resync --config FILE --table DB.TABLE` for each mapped table", serverErrno: errno)
        case 1045:
            return SourceError(.connect, what + "; check source.user and the password (source.password_env or source.password_file)", serverErrno: errno)
        case 1227, 1044, 1142:
            return SourceError(.privileges, what + "; the replication user needs REPLICATION SLAVE: run `GRANT REPLICATION SLAVE ON *.* TO <user>`", serverErrno: errno)
        case 2013, 2006, 2055:
            return SourceError(.lost, what + " — the connection to the server was lost", serverErrno: errno)
        default:
            return SourceError(.stream, what, serverErrno: errno)
        }
    }
}
