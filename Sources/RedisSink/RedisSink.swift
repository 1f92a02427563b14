import Logging
import Routing

/// Writes cache entries to one Redis server in MULTI/EXEC batches that also write the
/// replication checkpoint, so the cache is always the fold of the log up to that
/// checkpoint (DESIGN.md, invariant 3). A whole batch is pipelined: one round trip.
public final class RedisSink {
    private let client: RedisClient
    /// The hash that holds this pipeline's checkpoint: `distributary:{name}:checkpoint`.
    public let checkpointKey: String
    private let logger: Logger
    private var lastCheckpoint: [String: String]?

    public init(url: RedisURL, pipelineName: String, logger: Logger) throws {
        self.client = try RedisClient(url: url)
        self.checkpointKey = "distributary:\(pipelineName):checkpoint"
        self.logger = logger
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
        try client.append(["MULTI"])
        var commands = 1
        for write in writes {
            try client.append(Self.argv(write))
            commands += 1
            if case .hash(let key, let fields, let removed) = write, !fields.isEmpty, !removed.isEmpty {
                try client.append(["HDEL", key] + removed)
                commands += 1
            }
        }
        var checkpointArgv = ["HSET", checkpointKey]
        for (k, v) in checkpoint.sorted(by: { $0.key < $1.key }) { checkpointArgv += [k, v] }
        try client.append(checkpointArgv)
        try client.append(["EXEC"])
        commands += 2

        var queueError: String?
        for _ in 0..<(commands - 1) {
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
        var resultIndex = 0
        for write in writes {
            if case .error(let e) = results[safe: resultIndex] { failures.append("\(Self.key(of: write)): \(e)") }
            resultIndex += 1
            if case .hash(_, let fields, let removed) = write, !fields.isEmpty, !removed.isEmpty { resultIndex += 1 }
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

    private static func key(of write: CacheWrite) -> String {
        switch write {
        case .hash(let key, _, _), .string(let key, _), .delete(let key): return key
        }
    }

    private static func argv(_ write: CacheWrite) -> [String] {
        switch write {
        case .hash(let key, let fields, let removed):
            if fields.isEmpty { return removed.isEmpty ? ["EXISTS", key] : ["HDEL", key] + removed }
            var argv = ["HSET", key]
            argv.reserveCapacity(2 + fields.count * 2)
            for (f, v) in fields { argv.append(f); argv.append(v) }
            return argv
        case .string(let key, let value):
            return ["SET", key, value]
        case .delete(let key):
            return ["DEL", key]
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
