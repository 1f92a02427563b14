/// `redis://[user[:password]@]host[:port][/db]`, parsed.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int32
    public var user: String?
    public var password: String?
    public var database: Int

    public init(host: String = "127.0.0.1", port: Int32 = 6379, user: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses a URL; the error text says what part is wrong.
    public init(parsing text: String) throws {
        guard text.hasPrefix("redis://") else {
            throw SinkError(.config, "`\(text)` is not a redis:// URL (expected redis://[user:password@]host:port/db; TLS (rediss://) is not supported by hiredis 0.14)")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        self.init()
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = credentials[..<colon]
                user = name.isEmpty ? nil : String(name)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw SinkError(.config, "database `\(db)` in \(Self.redact(text)) is not a number") }
                database = n
            }
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int32(rest[rest.index(after: colon)...]), p > 0 else {
                throw SinkError(.config, "port in \(Self.redact(text)) is not a number")
            }
            port = p
            rest = rest[..<colon]
        }
        if !rest.isEmpty { host = String(rest) }
    }

    private static func redact(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        return "redis://***" + text[at...]
    }

    /// The URL without its password, for logs.
    public var description: String {
        "redis://\(user.map { "\($0)@" } ?? (password == nil ? "" : "***@"))\(host):\(port)/\(database)"
    }
}
