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

    /// The stored checkpoint fields, or nil when this sink has none yet.
    public func readCheckpoint() throws -> [String: String]? {
        let reply = try client.command(["HGETALL", checkpointKey])
        switch reply {
        case .array(let items):
            if items.isEmpty { return nil }
            var fields: [String: String] = [:]
            var i = 0
            while i + 1 < items.count {
                if let k = items[i].text, let v = items[i + 1].text { fields[k] = v }
                i += 2
            }
            return fields
        case .error(let e):
            throw SinkError(.command, "HGETALL \(checkpointKey) on \(client.url): \(e) (the key must be a hash written by distributary)")
        default:
            throw SinkError(.protocolError, "HGETALL \(checkpointKey) on \(client.url) answered \(reply)")
        }
    }

    /// Applies `writes` and sets the checkpoint in one MULTI/EXEC, pipelined.
    /// If Redis rejects any command, the previous checkpoint is written back (the
    /// batch will be replayed on restart) and the error names the key.
    public func apply(_ writes: [CacheWrite], checkpoint: [String: String]) throws {
        // Every write becomes zero, one or two commands; `owners` maps each queued
        // command to the write it came from, so EXEC's results name their keys.
        var owners: [Int] = []
        try client.append(["MULTI"])
        for (i, write) in writes.enumerated() {
            for argv in Self.commands(write) {
                try client.append(argv)
                owners.append(i)
            }
        }
        var checkpointArgv = ["HSET", checkpointKey]
        for (k, v) in checkpoint.sorted(by: { $0.key < $1.key }) { checkpointArgv += [k, v] }
        try client.append(checkpointArgv)
        try client.append(["EXEC"])

        // Replies: MULTI's OK, one QUEUED per command and the checkpoint's, then EXEC's.
        var queueError: String?
        for _ in 0..<(owners.count + 2) {
            if case .error(let e) = try client.readReply(), queueError == nil { queueError = e }
        }
        let exec = try client.readReply()
        if let queueError {
            throw SinkError(.command, "\(client.url) refused a command of the batch ending at \(checkpoint["file"] ?? "?"):\(checkpoint["pos"] ?? "?"): \(queueError); nothing of the batch was applied")
        }
        guard case .array(let results) = exec else {
            throw SinkError(.command, "\(client.url): EXEC answered \(exec); nothing of the batch was applied")
        }
        var failures: [String] = []
        for (n, result) in results.enumerated() {
            if case .error(let e) = result {
                failures.append("\(n < owners.count ? writes[owners[n]].key : checkpointKey): \(e)")
            }
        }
        if !failures.isEmpty {
            if let previous = lastCheckpoint {
                var restore = ["HSET", checkpointKey]
                for (k, v) in previous.sorted(by: { $0.key < $1.key }) { restore += [k, v] }
                try client.command(restore)
            } else {
                try client.command(["DEL", checkpointKey])
            }
            throw SinkError(.command, "\(client.url) rejected writes of the batch ending at \(checkpoint["file"] ?? "?"):\(checkpoint["pos"] ?? "?"): "
                + failures.prefix(5).joined(separator: "; ")
                + ". The checkpoint was left before this batch. A key of the wrong type usually means the table's redis.mode changed: delete the table's keys (or resync it) and restart")
        }
        lastCheckpoint = checkpoint
    }

    /// The commands of one write: a hash row is HSET of its non-NULL fields plus HDEL
    /// of its NULL ones (no DEL, see DESIGN.md).
    private static func commands(_ write: CacheWrite) -> [[String]] {
        switch write {
        case .hash(let key, let fields, let removed):
            var out: [[String]] = []
            if !fields.isEmpty {
                var argv = ["HSET", key]
                argv.reserveCapacity(2 + fields.count * 2)
                for (f, v) in fields { argv.append(f); argv.append(v) }
                out.append(argv)
            }
            if !removed.isEmpty { out.append(["HDEL", key] + removed) }
            return out
        case .string(let key, let value):
            return [["SET", key, value]]
        case .delete(let key):
            return [["DEL", key]]
        }
    }
}
