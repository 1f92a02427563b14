import BinlogCore
import CMariaDB

/// A replica connection streaming raw binlog events with COM_BINLOG_DUMP through
/// libmariadb's `mariadb_rpl_*` API. Events are handed over as the bytes the server
/// sent (header, body, checksum); decoding is BinlogCore's job.
///
/// Blocking: run it on a thread of its own. The server sends a heartbeat after
/// `heartbeatSeconds` of silence, so `next` returns at least that often and a
/// caller can check for shutdown between calls.
public final class BinlogStream {
    private let connection: MySQLConnection
    private let rpl: UnsafeMutablePointer<MARIADB_RPL>
    private var event: UnsafeMutablePointer<MARIADB_RPL_EVENT>?
    public let start: BinlogPosition

    public init(options: ConnectionOptions, replicaServerID: UInt32, start: BinlogPosition,
                heartbeatSeconds: Double = 1) throws {
        var streamOptions = options
        streamOptions.readTimeoutSeconds = max(options.readTimeoutSeconds, UInt32(heartbeatSeconds * 4) + 1)
        let connection = try MySQLConnection(streamOptions)
        // Tell the server we verify checksums and want heartbeats and MariaDB's own events.
        try connection.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        try connection.execute("SET @master_heartbeat_period = \(UInt64(heartbeatSeconds * 1_000_000_000))")
        try connection.execute("SET @mariadb_slave_capability = 4")
        guard let rpl = dst_rpl_init(connection.handle) else {
            throw SourceError(.stream, "\(options.endpoint): mariadb_rpl_init failed: \(connection.lastError)")
        }
        // From here every stored property is set: a throw runs deinit, which closes `rpl`.
        self.connection = connection
        self.rpl = rpl
        self.start = start
        guard start.offset <= UInt64(UInt32.max) else {
            throw SourceError(.stream, "start offset \(start) does not fit the 4-byte position of COM_BINLOG_DUMP")
        }
        _ = start.file.withCString { dst_rpl_set_filename(rpl, $0, start.file.utf8.count) }
        _ = dst_rpl_set_start(rpl, UInt(start.offset))
        _ = dst_rpl_set_server_id(rpl, replicaServerID)
        _ = dst_rpl_set_flags(rpl, 0)
        if mariadb_rpl_open(rpl) != 0 {
            let message = connection.lastError
            let errno = connection.lastErrno
            throw SourceError(.stream, "\(options.endpoint): COM_BINLOG_DUMP from \(start) failed: \(message)", serverErrno: errno)
        }
    }

    deinit {
        if let event { mariadb_free_rpl_event(event) }
        mariadb_rpl_close(rpl)
    }

    /// Waits for the next event and passes its bytes to `body` (valid only during
    /// the call). Returns false when the server ended the stream.
    public func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let fetched = mariadb_rpl_fetch(rpl, event) else {
            let errno = connection.lastErrno
            if errno == 0 { return false }
            throw SourceError(.stream, "\(connection.options.endpoint): reading the binlog after \(start) failed: \(connection.lastError) (error \(errno))"
                + Self.hint(errno), serverErrno: errno)
        }
        event = fetched
        let e = fetched.pointee
        // raw_data is the network packet: a 0x00 OK byte, then the event as the log holds it.
        guard let raw = e.raw_data, e.raw_data_size >= 20, raw[0] == 0 else {
            throw SourceError(.stream, "\(connection.options.endpoint): the connector returned a binlog packet that is not an event (\(e.raw_data_size) bytes)")
        }
        try body(UnsafeRawBufferPointer(start: raw + 1, count: Int(e.raw_data_size) - 1))
        return true
    }

    private static func hint(_ errno: UInt32) -> String {
        switch errno {
        case 1236: return "; the requested binlog position is no longer on the server (purged) or invalid: rebuild from a snapshot or start from `earliest`/`latest`"
        case 2013, 2006: return "; the connection to the server was lost"
        default: return ""
        }
    }
}
