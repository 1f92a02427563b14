import RedisSink
import Routing
#if canImport(Glibc)
import Glibc
#endif

/// A Redis entry as verify compares it.
enum RedisValue: Hashable, Sendable {
    case hash([String: String])
    case string(String)
    /// Something else: a key of another type, or an error answer.
    case other(String)

    var summary: String {
        switch self {
        case .hash(let f): return "hash of \(f.count) fields"
        case .string(let s): return "string of \(s.utf8.count) bytes"
        case .other(let s): return s
        }
    }
}

/// Reads entries and the checkpoint back from Redis (a standalone server, or every master of
/// a cluster), read-only: HGETALL/GET pipelined, SCAN for keys.
final class RedisReader {
    enum Mode { case hash, string }

    let checkpointKey: String
    private let seed: RedisURL
    private let cluster: Bool
    private var slots: SlotMap
    private var clients: [SlotMap.Endpoint: RedisClient] = [:]

    init(config: RedisConfig, pipelineName: String) throws {
        seed = try RedisURL(parsing: config.url)
        cluster = config.cluster
        checkpointKey = "distributary:\(pipelineName):checkpoint"
        slots = .single(SlotMap.Endpoint(host: seed.host, port: seed.port))
        if cluster { try refreshSlots() } else { _ = try client(slots.nodes[0]) }
    }

    private func client(_ node: SlotMap.Endpoint) throws -> RedisClient {
        if let c = clients[node] { return c }
        var url = seed
        url.host = node.host
        url.port = node.port
        let c = try RedisClient(url: url)
        clients[node] = c
        return c
    }

    private func refreshSlots() throws {
        let reply = try client(slots.nodes[0]).command(["CLUSTER", "SLOTS"])
        slots = try SlotMap(clusterSlots: reply, askedHost: seed.host)
    }

    private func node(of key: String) -> SlotMap.Endpoint {
        cluster ? slots.nodes[Int(slots.owner[ClusterSlots.slot(of: key)])] : slots.nodes[0]
    }

    /// The stored checkpoint, or nil when there is none.
    func checkpoint() throws -> Checkpoint? {
        let reply = try client(node(of: checkpointKey)).command(["HGETALL", checkpointKey])
        guard let fields = reply.hashFields else {
            throw SinkError(.command, "HGETALL \(checkpointKey) on \(seed): \(reply)")
        }
        return try Checkpoint(fields: fields, sink: "redis (\(checkpointKey))")
    }

    /// The checkpoint, then the entries of `keys`, each read with HGETALL (hash) or GET
    /// (string). Standalone: one pipeline, so every entry is at or past the checkpoint read.
    /// Cluster: the checkpoint (written after the data) first, then one pipeline per master.
    func read(_ keys: [(String, Mode)]) throws -> (Checkpoint?, [RedisValue?]) {
        var values = [RedisValue?](repeating: nil, count: keys.count)
        if !cluster {
            let c = try client(slots.nodes[0])
            try c.append(["HGETALL", checkpointKey])
            for (key, mode) in keys { try c.append([mode == .hash ? "HGETALL" : "GET", key]) }
            try c.flush()
            let cpReply = try c.readReply()
            for i in keys.indices { values[i] = Self.value(try c.readReply(), keys[i].1) }
            guard let fields = cpReply.hashFields else { throw SinkError(.command, "HGETALL \(checkpointKey) on \(seed): \(cpReply)") }
            return (try Checkpoint(fields: fields, sink: "redis (\(checkpointKey))"), values)
        }
        let cp = try checkpoint()
        var pending = Array(keys.indices)
        for _ in 0..<5 {
            var perNode: [SlotMap.Endpoint: [Int]] = [:]
            for i in pending { perNode[node(of: keys[i].0), default: []].append(i) }
            var redirected: [Int] = []
            for (node, indexes) in perNode {
                let c = try client(node)
                for i in indexes { try c.append([keys[i].1 == .hash ? "HGETALL" : "GET", keys[i].0]) }
                try c.flush()
                for i in indexes {
                    let reply = try c.readReply()
                    if case .error(let e) = reply, e.hasPrefix("MOVED") || e.hasPrefix("ASK") || e.hasPrefix("TRYAGAIN") {
                        redirected.append(i)
                    } else {
                        values[i] = Self.value(reply, keys[i].1)
                    }
                }
            }
            if redirected.isEmpty { return (cp, values) }
            pending = redirected
            try refreshSlots()
            usleep(50_000)
        }
        throw SinkError(.connect, "\(seed): the cluster kept redirecting reads (is it resharding?); run verify again")
    }

    private static func value(_ reply: RedisReply, _ mode: Mode) -> RedisValue? {
        switch reply {
        case .array(let items) where mode == .hash:
            if items.isEmpty { return nil }
            return reply.hashFields.map { .hash($0) }
        case .string(let bytes) where mode == .string: return .string(String(decoding: bytes, as: UTF8.self))
        case .null: return nil
        case .error(let e): return .other(e.hasPrefix("WRONGTYPE") ? "a key of another type (\(mode == .hash ? "not a hash" : "not a string"))" : e)
        default: return .other("\(reply)")
        }
    }

    /// Every key matching `glob` (SCAN MATCH … COUNT 1000 on every master), in batches.
    func scan(match glob: String, _ body: ([String]) throws -> Void) throws {
        for node in slots.nodes {
            let c = try client(node)
            var cursor = "0"
            repeat {
                let reply = try c.command(["SCAN", cursor, "MATCH", glob, "COUNT", "1000"])
                guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let items) = parts[1] else {
                    throw SinkError(.command, "SCAN on \(node) answered \(reply) (may the Redis user run SCAN? it needs +scan)")
                }
                try body(items.compactMap(\.text))
                cursor = next
            } while cursor != "0"
        }
    }
}
