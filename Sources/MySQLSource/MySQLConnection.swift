import CMariaDB

/// TLS for the source connection.
public struct TLSOptions: Sendable, Equatable {
    /// `disabled`: plain TCP. `preferred`: TLS when the server offers it. `required`:
    /// TLS or no connection (the certificate is not checked). `verify_identity`: TLS, the
    /// server certificate signed by `ca` and naming `source.host`.
    public enum Mode: String, Sendable, CaseIterable {
        case disabled, preferred, required, verify_identity
    }
    public var mode: Mode
    /// CA certificate file (PEM) that signed the server's certificate.
    public var ca: String?
    /// Client certificate and key files (PEM), for servers that require X509 users.
    public var cert: String?
    public var key: String?

    public init(mode: Mode, ca: String? = nil, cert: String? = nil, key: String? = nil) {
        self.mode = mode
        self.ca = ca
        self.cert = cert
        self.key = key
    }
}

/// How to reach the source server.
public struct ConnectionOptions: Sendable {
    public var host: String
    public var port: UInt32
    /// Unix socket path; when set, `host` and `port` are not used.
    public var socket: String?
    public var user: String
    /// Never logged: `endpoint` and every error message leave it out.
    public var password: String
    public var connectTimeoutSeconds: UInt32
    /// How long a read may block. Binlog streams replace it with a few heartbeat periods.
    public var readTimeoutSeconds: UInt32
    public var writeTimeoutSeconds: UInt32
    public var tls: TLSOptions

    public init(host: String, port: UInt32, socket: String? = nil, user: String, password: String,
                connectTimeoutSeconds: UInt32 = 10, readTimeoutSeconds: UInt32 = 60, writeTimeoutSeconds: UInt32 = 60,
                tls: TLSOptions = TLSOptions(mode: .disabled)) {
        self.host = host
        self.port = port
        self.socket = socket
        self.user = user
        self.password = password
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
        self.writeTimeoutSeconds = writeTimeoutSeconds
        self.tls = tls
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
        _ = dst_set_uint_option(handle, MYSQL_OPT_WRITE_TIMEOUT, options.writeTimeoutSeconds)
        _ = dst_set_string_option(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        let tls = options.tls
        if tls.mode != .disabled {
            if let ca = tls.ca { _ = dst_set_string_option(handle, MYSQL_OPT_SSL_CA, ca) }
            if let cert = tls.cert { _ = dst_set_string_option(handle, MYSQL_OPT_SSL_CERT, cert) }
            if let key = tls.key { _ = dst_set_string_option(handle, MYSQL_OPT_SSL_KEY, key) }
            // Connector/C 3.3 tries TLS as soon as any TLS option is set; an empty
            // cipher list is the neutral option that turns it on for `preferred`.
            if tls.ca == nil && tls.cert == nil && tls.key == nil {
                _ = dst_set_string_option(handle, MYSQL_OPT_SSL_CIPHER, "")
            }
            _ = dst_set_bool_option(handle, MYSQL_OPT_SSL_ENFORCE, tls.mode == .preferred ? 0 : 1)
            _ = dst_set_bool_option(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, tls.mode == .verify_identity ? 1 : 0)
        }
        let connected = mysql_real_connect(
            handle, options.socket == nil ? options.host : nil, options.user, options.password, nil,
            options.socket == nil ? options.port : 0, options.socket, 0)
        if connected == nil {
            let message = String(cString: mysql_error(handle))
            let errno = mysql_errno(handle)
            if errno == 2026 || message.contains("TLS") || message.contains("SSL") {
                throw SourceError(.connect, "cannot connect to \(options.endpoint) with TLS (source.tls.mode \(tls.mode.rawValue)): \(message)"
                    + " (check source.tls.ca, source.tls.cert and source.tls.key, and that the server has TLS on: `SHOW VARIABLES LIKE 'have_ssl'`)", serverErrno: errno)
            }
            // Every stored property is set, so deinit runs and closes the handle.
            throw SourceError(.connect, "cannot connect to \(options.endpoint): \(message)"
                + Self.connectHint(errno), serverErrno: errno)
        }
        // Connector/C 3.3 falls back to plain TCP when the server offers no TLS, even
        // with MYSQL_OPT_SSL_ENFORCE: check what we got.
        if (tls.mode == .required || tls.mode == .verify_identity) && mysql_get_ssl_cipher(handle) == nil {
            throw SourceError(.connect, "\(options.endpoint) did not agree to TLS, and source.tls.mode is \(tls.mode.rawValue): turn TLS on at the server (ssl_cert, ssl_key and ssl_ca under [mysqld]; `SHOW VARIABLES LIKE 'have_ssl'` must say YES) or set source.tls.mode to preferred or disabled")
        }
    }

    deinit { mysql_close(handle) }

    private static func connectHint(_ errno: UInt32) -> String {
        switch errno {
        case 1045: return " (check source.user and the password in source.password_env or source.password_file)"
        case 2002, 2003: return " (is the server running and listening there? check source.host and source.port)"
        default: return ""
        }
    }

    var lastError: String { String(cString: mysql_error(handle)) }

    /// The TLS cipher in use, or nil for a plain connection.
    public var tlsCipher: String? { mysql_get_ssl_cipher(handle).map { String(cString: $0) } }
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

    /// Runs a query and hands each row's cells to `body` as raw bytes (`nil` for SQL
    /// NULL), valid only during the call: no String is made per value.
    public func forEachRow(_ sql: String, _ body: (_ cells: RowCells) throws -> Void) throws {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 {
            throw SourceError(.query, "\(options.endpoint): `\(sql.prefix(300))` failed: \(lastError)", serverErrno: lastErrno)
        }
        guard let result = mysql_use_result(handle) else {
            if mysql_field_count(handle) == 0 { return }
            throw SourceError(.query, "\(options.endpoint): `\(sql.prefix(300))` returned no result: \(lastError)", serverErrno: lastErrno)
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            try body(RowCells(row: row, lengths: lengths, count: count))
        }
        if mysql_errno(handle) != 0 {
            throw SourceError(.query, "\(options.endpoint): reading the rows of `\(sql.prefix(300))` failed: \(lastError)", serverErrno: lastErrno)
        }
    }

    /// Quotes bytes as an SQL string literal (in the connection's character set).
    public func quote(bytes: UnsafeRawBufferPointer) -> String {
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let n = bytes.withMemoryRebound(to: CChar.self) { src in
            mysql_real_escape_string(handle, &out, src.baseAddress, UInt(bytes.count))
        }
        return "'" + String(decoding: out[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
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

/// The cells of one result row, as the server sent them (text protocol).
public struct RowCells {
    let row: MYSQL_ROW
    let lengths: UnsafeMutablePointer<UInt>
    public let count: Int

    /// The cell's bytes, or nil for SQL NULL.
    public subscript(i: Int) -> UnsafeRawBufferPointer? {
        guard let cell = row[i] else { return nil }
        return UnsafeRawBufferPointer(start: cell, count: Int(lengths[i]))
    }
}
