import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// A reply from Redis, copied out of hiredis's reply object.
public enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case error(String)
    case null
    case array([RedisReply])

    /// The field/value pairs of an HGETALL reply (nil when the reply is not an array).
    public var hashFields: [String: String]? {
        guard case .array(let items) = self else { return nil }
        var fields: [String: String] = [:]
        var i = 0
        while i + 1 < items.count {
            if let k = items[i].text, let v = items[i + 1].text { fields[k] = v }
            i += 2
        }
        return fields
    }

    /// Text of a bulk string or status reply.
    public var text: String? {
        switch self {
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        default: return nil
        }
    }
}

/// One blocking hiredis connection. Owns its `redisContext` and frees it in `deinit`.
///
/// Not thread-safe: confine an instance to one thread.
public final class RedisClient {
    private var context: UnsafeMutablePointer<redisContext>
    public let url: RedisURL

    public init(url: RedisURL, timeoutSeconds: Int = 10) throws {
        let tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        guard let context = redisConnectWithTimeout(url.host, url.port, tv) else {
            throw SinkError(.connect, "cannot allocate a connection to \(url)")
        }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw SinkError(.connect, "cannot connect to \(url): \(message) (is Redis running there? check redis.url)")
        }
        _ = redisSetTimeout(context, tv)
        self.context = context
        self.url = url
        if let password = url.password {
            var auth = ["AUTH"]
            if let user = url.user { auth.append(user) }
            auth.append(password)
            if case .error(let e) = try command(auth) {
                throw SinkError(.connect, "AUTH to \(url) failed: \(e) (check the user and password in redis.url)")
            }
        }
        if url.database != 0, case .error(let e) = try command(["SELECT", String(url.database)]) {
            throw SinkError(.connect, "SELECT \(url.database) on \(url) failed: \(e)")
        }
    }

    deinit { redisFree(context) }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Queues a command without waiting for its reply (binary-safe).
    public func append(_ argv: [String]) throws {
        var lengths: [Int] = []
        lengths.reserveCapacity(argv.count)
        var storage: [UInt8] = []
        for arg in argv {
            lengths.append(arg.utf8.count)
            storage.append(contentsOf: arg.utf8)
        }
        try appendRaw(storage: storage, lengths: lengths)
    }

    /// Queues a command given as one contiguous buffer of arguments and their lengths.
    public func appendRaw(storage: [UInt8], lengths: [Int]) throws {
        let status: Int32 = storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer<UInt8>(bitPattern: 1)!)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(lengths.count)
            var offset = 0
            for length in lengths {
                pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { lens in
                    redisAppendCommandArgv(context, Int32(lengths.count), argv.baseAddress, lens.baseAddress)
                }
            }
        }
        if status != REDIS_OK {
            throw SinkError(.command, "\(url): cannot queue a command: \(Self.errorText(context))")
        }
    }

    /// Queues commands already encoded as RESP (any number of them, back to back).
    public func appendFormatted(_ bytes: [UInt8]) throws {
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
        }
        if status != REDIS_OK {
            throw SinkError(.command, "\(url): cannot queue commands: \(Self.errorText(context))")
        }
    }

    /// Writes everything queued to the socket without waiting for replies.
    public func flush() throws {
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK {
                throw SinkError(.connect, "\(url): connection failed: \(Self.errorText(context))")
            }
        }
    }

    /// Reads the next reply without copying it: `nil` for a status, integer or string
    /// reply (`+OK`, `+QUEUED`), the text of an error reply.
    public func readStatusOrError() throws -> String? {
        try withNextReply { reply in
            reply.pointee.type == REDIS_REPLY_ERROR
                ? String(decoding: UnsafeRawBufferPointer(start: reply.pointee.str, count: reply.pointee.len), as: UTF8.self)
                : nil
        }
    }

    /// Reads an EXEC reply: `nil` when the transaction was aborted (null reply), else the
    /// position and text of every element that is an error (empty when all succeeded).
    public func readExecResults() throws -> [(Int, String)]? {
        try withNextReply { reply in
            let r = reply.pointee
            if r.type == REDIS_REPLY_ERROR {
                return [(Int.max, String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))]
            }
            guard r.type == REDIS_REPLY_ARRAY else { return nil }
            var errors: [(Int, String)] = []
            for i in 0..<r.elements {
                if let e = r.element[i], e.pointee.type == REDIS_REPLY_ERROR {
                    errors.append((i, String(decoding: UnsafeRawBufferPointer(start: e.pointee.str, count: e.pointee.len), as: UTF8.self)))
                }
            }
            return errors
        }
    }

    private func withNextReply<R>(_ body: (UnsafeMutablePointer<redisReply>) -> R) throws -> R {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
            throw SinkError(.connect, "\(url): connection failed: \(Self.errorText(context))")
        }
        defer { freeReplyObject(raw) }
        return body(raw!.assumingMemoryBound(to: redisReply.self))
    }

    /// Waits for the next queued reply.
    public func readReply() throws -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
            throw SinkError(.connect, "\(url): connection failed: \(Self.errorText(context))")
        }
        defer { freeReplyObject(raw) }
        return Self.copy(raw!.assumingMemoryBound(to: redisReply.self))
    }

    /// Sends one command and waits for its reply.
    @discardableResult
    public func command(_ argv: [String]) throws -> RedisReply {
        try append(argv)
        return try readReply()
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .string(Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { items.append(copy(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }
}
