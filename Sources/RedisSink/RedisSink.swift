import Routing

/// Writes cache entries to one Redis server in MULTI/EXEC batches that also write the
/// replication checkpoint, so the cache is always the fold of the log up to that
/// checkpoint (DESIGN.md, invariant 3). A whole batch is pipelined: one round trip.
public final class RedisSink {
    private let client: RedisClient
    /// The hash that holds this pipeline's checkpoint: `distributary:{name}:checkpoint`.
    public let checkpointKey: String
    private var lastCheckpoint: [String: String]?

    public init(url: RedisURL, pipelineName: String) throws {
        self.client = try RedisClient(url: url)
        self.checkpointKey = "distributary:\(pipelineName):checkpoint"
        self.lastCheckpoint = try readCheckpoint()
    }

    /// Redis's `maxmemory-policy`, or nil when it will not say (`CONFIG` renamed or not
    /// allowed for this user, as on some managed services).
    public func maxmemoryPolicy() -> String? {
        guard let reply = try? client.command(["CONFIG", "GET", "maxmemory-policy"]) else { return nil }
        return reply.hashFields?["maxmemory-policy"]
    }

    /// Whether a policy keeps every key without a TTL until it is written or deleted:
    /// `noeviction` and the `volatile-*` policies (they evict only keys with a TTL).
    public static func keepsKeysWithoutTTL(policy: String?) -> Bool {
        guard let policy else { return false }
        return policy == "noeviction" || policy.hasPrefix("volatile-")
    }

    /// The stored checkpoint fields, or nil when this sink has none yet.
    public func readCheckpoint() throws -> [String: String]? {
        let reply = try client.command(["HGETALL", checkpointKey])
        if let fields = reply.hashFields { return fields.isEmpty ? nil : fields }
        switch reply {
        case .error(let e) where e.hasPrefix("LOADING"):
            throw SinkError(.connect, "\(client.url) is still loading its data (\(e)); retrying")
        case .error(let e):
            throw SinkError(.command, "HGETALL \(checkpointKey) on \(client.url): \(e) (the key must be a hash written by distributary)")
        default:
            throw SinkError(.protocolError, "HGETALL \(checkpointKey) on \(client.url) answered \(reply)")
        }
    }

    /// Applies `writes` and sets the checkpoint in one MULTI/EXEC, pipelined.
    public func apply(_ writes: [CacheWrite], checkpoint: [String: String]) throws {
        try apply(CacheWrites(writes), checkpoint: checkpoint)
    }

    /// Commands of the batch being sent, as RESP, reused from batch to batch.
    private var out: [UInt8] = []
    /// Bulk loading (snapshots): batches go without MULTI/EXEC — the data commands, then
    /// the checkpoint HSET, pipelined on one connection, so Redis runs them in that order
    /// (data first, checkpoint last). A crash in between leaves the checkpoint before the
    /// batch, whose replay is idempotent. Saves Redis the queueing of every command.
    public var bulk = false

    /// A batch sent whose replies are not read yet.
    private struct Sent {
        var writes: CacheWrites
        /// For each queued data command, the write it came from (EXEC results name their keys).
        var owners: [Int32]
        var checkpoint: [String: String]
    }

    /// Applies `writes` and sets the checkpoint in one MULTI/EXEC, pipelined: the whole
    /// batch is encoded as RESP straight from the writes' bytes and sent at once; one
    /// round trip. If Redis rejects any command, the previous checkpoint is written back
    /// (the batch will be replayed on restart) and the error names the key.
    public func apply(_ writes: CacheWrites, checkpoint: [String: String]) throws {
        try apply([(writes, checkpoint)])
    }

    /// Applies consecutive batches, each a MULTI/EXEC with its own checkpoint, keeping
    /// two in flight: batch k+1 is encoded and sent while Redis executes batch k. When a
    /// batch fails, the replies of the one behind it are read too, the checkpoint is put
    /// back to where it was before the failed batch (replaying from there is idempotent)
    /// and the error names the key.
    public func apply(_ batches: [(writes: CacheWrites, checkpoint: [String: String])]) throws {
        var inFlight: [Sent] = []
        var confirmed = lastCheckpoint
        var failure: SinkError?
        func receiveOldest() throws {
            let sent = inFlight.removeFirst()
            if failure == nil {
                if let error = try receive(sent) { failure = error } else { confirmed = sent.checkpoint }
            } else {
                _ = try receive(sent)
            }
        }
        for batch in batches {
            if failure != nil { break }
            inFlight.append(try send(batch.writes, checkpoint: batch.checkpoint))
            if inFlight.count > 1 { try receiveOldest() }
        }
        while !inFlight.isEmpty { try receiveOldest() }
        if let failure {
            if let confirmed {
                var restore = ["HSET", checkpointKey]
                for (k, v) in confirmed.sorted(by: { $0.key < $1.key }) { restore += [k, v] }
                try client.command(restore)
            } else {
                try client.command(["DEL", checkpointKey])
            }
            lastCheckpoint = confirmed
            throw failure
        }
        lastCheckpoint = confirmed
    }

    /// Encodes one batch as MULTI, its commands, the checkpoint HSET and EXEC, and writes it to the socket.
    private func send(_ writes: CacheWrites, checkpoint: [String: String]) throws -> Sent {
        out.removeAll(keepingCapacity: true)
        var owners: [Int32] = []
        owners.reserveCapacity(writes.count)
        out.reserveCapacity(writes.byteCount + writes.count * 48 + 256)
        if !bulk { RESP.command(&out, "MULTI") }
        for (i, op) in writes.ops.enumerated() {
            let key = Int(op.firstSpan)
            switch op.kind {
            case .hash:
                if op.fieldCount > 0 {
                    RESP.header(&out, count: 2 + 2 * Int(op.fieldCount))
                    RESP.bulk(&out, "HSET")
                    RESP.spans(&out, writes, from: key, count: 1 + 2 * Int(op.fieldCount))
                    owners.append(Int32(i))
                }
                if op.removedCount > 0 {
                    RESP.header(&out, count: 2 + Int(op.removedCount))
                    RESP.bulk(&out, "HDEL")
                    RESP.spans(&out, writes, from: key, count: 1)
                    RESP.spans(&out, writes, from: key + 1 + 2 * Int(op.fieldCount), count: Int(op.removedCount))
                    owners.append(Int32(i))
                }
                if op.ttl > 0 {
                    RESP.header(&out, count: 3)
                    RESP.bulk(&out, "EXPIRE")
                    RESP.spans(&out, writes, from: key, count: 1)
                    RESP.bulk(&out, String(op.ttl))
                    owners.append(Int32(i))
                }
            case .string:
                RESP.header(&out, count: op.ttl > 0 ? 5 : 3)
                RESP.bulk(&out, "SET")
                RESP.spans(&out, writes, from: key, count: 2)
                if op.ttl > 0 { RESP.bulk(&out, "EX"); RESP.bulk(&out, String(op.ttl)) }
                owners.append(Int32(i))
            case .delete:
                RESP.header(&out, count: 2)
                RESP.bulk(&out, "DEL")
                RESP.spans(&out, writes, from: key, count: 1)
                owners.append(Int32(i))
            }
        }
        let fields = checkpoint.sorted(by: { $0.key < $1.key })
        RESP.header(&out, count: 2 + 2 * fields.count)
        RESP.bulk(&out, "HSET")
        RESP.bulk(&out, checkpointKey)
        for (k, v) in fields { RESP.bulk(&out, k); RESP.bulk(&out, v) }
        if !bulk { RESP.command(&out, "EXEC") }
        try client.appendFormatted(out)
        try client.flush()
        return Sent(writes: writes, owners: owners, checkpoint: checkpoint)
    }

    /// Reads one batch's replies — MULTI's OK, one QUEUED per command and the
    /// checkpoint's, then EXEC's — and returns the error when Redis refused anything.
    private func receive(_ sent: Sent) throws -> SinkError? {
        if bulk { return try receiveBulk(sent) }
        var queueError: String?
        for _ in 0..<(sent.owners.count + 2) {
            if let e = try client.readStatusOrError(), queueError == nil { queueError = e }
        }
        let exec = try client.readExecResults()
        let end = "\(sent.checkpoint["file"] ?? "?"):\(sent.checkpoint["pos"] ?? "?")"
        if let queueError, queueError.hasPrefix("LOADING") {
            return SinkError(.connect, "\(client.url) is still loading its data (\(queueError)); the batch ending at \(end) was not applied")
        }
        if let queueError {
            return SinkError(.command, "\(client.url) refused a command of the batch ending at \(end): \(queueError); nothing of that batch was applied and the checkpoint was left before it")
        }
        guard let failed = exec else {
            return SinkError(.command, "\(client.url): EXEC did not run the batch ending at \(end) (aborted transaction); the checkpoint was left before it")
        }
        if failed.isEmpty { return nil }
        let failures = failed.prefix(5).map { n, e in "\(n < sent.owners.count ? sent.writes[Int(sent.owners[n])].key : checkpointKey): \(e)" }
        return SinkError(.command, "\(client.url) rejected writes of the batch ending at \(end): "
            + failures.joined(separator: "; ")
            + ". The checkpoint was left before this batch. A key of the wrong type usually means the table's redis.mode changed: delete the table's keys (or resync it) and restart")
    }
}

extension RedisSink {
    /// Reads a bulk batch's replies: one per data command, then the checkpoint's.
    private func receiveBulk(_ sent: Sent) throws -> SinkError? {
        var failures: [String] = []
        for n in 0..<sent.owners.count {
            if let e = try client.readStatusOrError(), failures.count < 5 { failures.append("\(sent.writes[Int(sent.owners[n])].key): \(e)") }
        }
        let checkpointError = try client.readStatusOrError()
        let end = "\(sent.checkpoint["file"] ?? "?"):\(sent.checkpoint["pos"] ?? "?")"
        if failures.isEmpty, let checkpointError { failures.append("\(checkpointKey): \(checkpointError)") }
        if failures.isEmpty { return nil }
        if failures.contains(where: { $0.contains("LOADING") }) {
            return SinkError(.connect, "\(client.url) is still loading its data; the batch ending at \(end) was not applied whole")
        }
        return SinkError(.command, "\(client.url) rejected writes of the batch ending at \(end): " + failures.joined(separator: "; ")
            + ". The checkpoint was put back before this batch. A key of the wrong type usually means the table's redis.mode changed: delete the table's keys (or resync it) and restart")
    }
}

/// RESP (the Redis protocol) written into a byte buffer.
enum RESP {
    @inline(__always)
    static func decimal(_ out: inout [UInt8], _ v: Int) {
        if v < 10 { out.append(0x30 &+ UInt8(v)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v, k = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 { d[k] = 0x30 &+ UInt8(n % 10); n /= 10; k += 1 }
            while k > 0 { k -= 1; out.append(d[k]) }
        }
    }

    /// `*count\r\n`: an array of `count` bulk strings follows.
    @inline(__always)
    static func header(_ out: inout [UInt8], count: Int) {
        out.append(0x2a)
        decimal(&out, count)
        out.append(0x0d); out.append(0x0a)
    }

    @inline(__always)
    static func bulk(_ out: inout [UInt8], _ bytes: UnsafeRawBufferPointer) {
        out.append(0x24)
        decimal(&out, bytes.count)
        out.append(0x0d); out.append(0x0a)
        out.append(contentsOf: bytes)
        out.append(0x0d); out.append(0x0a)
    }

    static func bulk(_ out: inout [UInt8], _ s: String) {
        var s = s
        s.withUTF8 { bulk(&out, UnsafeRawBufferPointer($0)) }
    }

    /// `count` consecutive spans of `writes`, from span `first`, as bulk strings.
    @inline(__always)
    static func spans(_ out: inout [UInt8], _ writes: CacheWrites, from first: Int, count: Int) {
        writes.bytes.withUnsafeBytes { all in
            writes.spans.withUnsafeBufferPointer { spans in
                for k in first..<(first + count) {
                    bulk(&out, UnsafeRawBufferPointer(rebasing: all[Int(spans[2 * k])..<Int(spans[2 * k + 1])]))
                }
            }
        }
    }

    /// A command without arguments (`MULTI`, `EXEC`).
    static func command(_ out: inout [UInt8], _ name: String) {
        header(&out, count: 1)
        bulk(&out, name)
    }
}
