import CMariaDB

/// How to reach the source server.
public struct ConnectionOptions: Sendable {
    public var host: String
    public var port: UInt32
    /// Unix socket path; when set, `host` and `port` are not used.
    public var socket: String?
    public var user: String
    public var password: String
    public var connectTimeoutSeconds: UInt32
    /// How long a read may block. Binlog streams set a heartbeat shorter than this.
    public var readTimeoutSeconds: UInt32

    public init(host: String, port: UInt32, socket: String? = nil, user: String, password: String,
                connectTimeoutSeconds: UInt32 = 10, readTimeoutSeconds: UInt32 = 60) {
        self.host = host
        self.port = port
        self.socket = socket
        self.user = user
        self.password = password
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
    }

    /// `user@host:port` or `user@socket`, for messages (never the password).
    public var endpoint: String {
        if let socket { return "\(user)@\(socket)" }
        return "\(user)@\(host):\(port)"
    }
}

/// One libmariadb connection. Owns its `MYSQL` handle and closes it in `deinit`.
///
/// Not thread-safe: confine an instance to one thread.
public final class MySQLConnection {
    let handle: UnsafeMutablePointer<MYSQL>
    public let options: ConnectionOptions

    public init(_ options: ConnectionOptions) throws {
        guard let handle = mysql_init(nil) else {
            throw SourceError(.connect, "mysql_init failed: out of memory")
        }
        self.handle = handle
        self.options = options
        _ = dst_set_uint_option(handle, MYSQL_OPT_CONNECT_TIMEOUT, options.connectTimeoutSeconds)
        _ = dst_set_uint_option(handle, MYSQL_OPT_READ_TIMEOUT, options.readTimeoutSeconds)
        _ = dst_set_uint_option(handle, MYSQL_OPT_WRITE_TIMEOUT, options.readTimeoutSeconds)
        _ = dst_set_string_option(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        let connected = mysql_real_connect(
            handle, options.socket == nil ? options.host : nil, options.user, options.password, nil,
            options.socket == nil ? options.port : 0, options.socket, 0)
        if connected == nil {
            let message = String(cString: mysql_error(handle))
            let errno = mysql_errno(handle)
            // Every stored property is set, so deinit runs and closes the handle.
            throw SourceError(.connect, "cannot connect to \(options.endpoint): \(message)"
                + Self.connectHint(errno), serverErrno: errno)
        }
    }

    deinit { mysql_close(handle) }

    private static func connectHint(_ errno: UInt32) -> String {
        switch errno {
        case 1045: return " (check source.user and the password in source.password_env)"
        case 2002, 2003: return " (is the server running and listening there? check source.host and source.port)"
        default: return ""
        }
    }

    var lastError: String { String(cString: mysql_error(handle)) }
    var lastErrno: UInt32 { mysql_errno(handle) }

    /// Runs a statement that returns no rows.
    public func execute(_ sql: String) throws {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 {
            throw SourceError(.query, "\(options.endpoint): `\(sql)` failed: \(lastError)", serverErrno: lastErrno)
        }
        // Drain any result the statement produced.
        if let result = mysql_store_result(handle) { mysql_free_result(result) }
    }

    /// Runs a query and returns its rows as text (`nil` for SQL NULL), with the column names.
    public func query(_ sql: String) throws -> (columns: [String], rows: [[String?]]) {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 {
            throw SourceError(.query, "\(options.endpoint): `\(sql)` failed: \(lastError)", serverErrno: lastErrno)
        }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return ([], []) }
            throw SourceError(.query, "\(options.endpoint): `\(sql)` returned no result: \(lastError)", serverErrno: lastErrno)
        }
        defer { mysql_free_result(result) }
        let fieldCount = Int(mysql_num_fields(result))
        var columns: [String] = []
        if let fields = mysql_fetch_fields(result) {
            for i in 0..<fieldCount { columns.append(String(cString: fields[i].name)) }
        }
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for i in 0..<fieldCount {
                if let cell = row[i] {
                    let buffer = UnsafeRawBufferPointer(start: cell, count: Int(lengths[i]))
                    values.append(String(decoding: buffer, as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(values)
        }
        return (columns, rows)
    }

    /// The rows of a query as dictionaries keyed by column name.
    public func queryRows(_ sql: String) throws -> [[String: String?]] {
        let (columns, rows) = try query(sql)
        return rows.map { row in
            var dict: [String: String?] = [:]
            for (i, name) in columns.enumerated() { dict[name] = row[i] }
            return dict
        }
    }

    /// Quotes a string as an SQL literal.
    public func quote(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let n = bytes.withUnsafeBufferPointer { src in
            src.withMemoryRebound(to: CChar.self) { csrc in
                mysql_real_escape_string(handle, &out, csrc.baseAddress, UInt(bytes.count))
            }
        }
        return "'" + String(decoding: out[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }
}
