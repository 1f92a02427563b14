import Routing
#if canImport(Glibc)
import Glibc
#endif

/// Writes cache entries to a Redis Cluster. MULTI/EXEC cannot span slots, so a batch's
/// data goes first — pipelined to every master at once, each key's writes in one script
/// call — and the checkpoint (a hash on its own fixed slot) is written only once every
/// node has acknowledged the data (DESIGN.md, invariant 3).
///
/// Between those two steps a crash leaves data ahead of the checkpoint; the replay that
/// follows must not move a key backwards. So every write carries a version — the
/// sequence number of its transaction, counted on from the `seq` field of the checkpoint —
/// and a small Lua script applies a key's writes only when their version is not older than
/// the one recorded for that key. The versions live beside the keys, in one hash per slot
/// (`distributary:{name}:versions:{tag}`, where `tag` hashes to that slot), so that a
/// deleted key keeps its version too (a replayed older insert does not bring it back).
///
/// MOVED and ASK redirections are followed (MOVED reloads the slot map from `CLUSTER
/// SLOTS`), TRYAGAIN and CLUSTERDOWN are retried for a while, NOSCRIPT reloads the script.
/// Not thread-safe: confine an instance to one thread.
public final class RedisClusterSink {
    public let checkpointKey: String
    private let pipelineName: String
    private let seed: RedisURL
    private var slots: SlotMap
    private var connections: [SlotMap.Endpoint: RedisClient] = [:]
    /// Sequence number of the last transaction the checkpoint covers.
    public private(set) var sequence: Int64
    /// The versions hash of every slot, as bytes.
    private let versionKeys: [[UInt8]]
    private let allowStandalone: Bool
    /// How long redirect/TRYAGAIN loops may last before the batch fails.
    private let retrySeconds: Double
    /// Called with a description when a reloaded slot map differs from the previous one.
    public var onSlotMapChange: ((String) -> Void)?
    /// How many MOVED and ASK answers were followed.
    public private(set) var redirections = 0

    static let script = """
    local cur = tonumber(redis.call('HGET', KEYS[2], KEYS[1]) or '-1')
    local curText = nil
    local i = 2
    for _ = 1, tonumber(ARGV[1]) do
      local v = ARGV[i]
      local kind = ARGV[i + 1]
      local ttl = tonumber(ARGV[i + 2])
      local a = tonumber(ARGV[i + 3])
      local b = tonumber(ARGV[i + 4])
      i = i + 5
      if tonumber(v) >= cur then
        if kind == 'h' then
          if a > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, i, i + 2 * a - 1)) end
          if b > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, i + 2 * a, i + 2 * a + b - 1)) end
          if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
        elseif kind == 's' then
          if ttl > 0 then redis.call('SET', KEYS[1], ARGV[i], 'EX', ttl) else redis.call('SET', KEYS[1], ARGV[i]) end
        else
          redis.call('DEL', KEYS[1])
        end
        cur = tonumber(v)
        curText = v
      end
      if kind == 'h' then i = i + 2 * a + b elseif kind == 's' then i = i + 1 end
    end
    if curText then redis.call('HSET', KEYS[2], KEYS[1], curText) return 1 end
    return 0
    """

    /// SHA1 of `script`, as `SCRIPT LOAD` answers it (set on the first load).
    private var scriptSHA: [UInt8] = []

    /// Connects to `url` (any master of the cluster), reads the slot map and the checkpoint.
    /// With `allowStandalone`, a server without cluster mode is used as a one-node
    /// cluster (versioned writes on a single server; benchmarks and tests).
    public init(url: RedisURL, pipelineName: String, allowStandalone: Bool = false, retrySeconds: Double = 30) throws {
        guard url.database == 0 else {
            throw SinkError(.config, "redis.url selects database \(url.database), but Redis Cluster has only database 0: drop the /\(url.database) from redis.url")
        }
        self.seed = url
        self.pipelineName = pipelineName
        self.allowStandalone = allowStandalone
        self.retrySeconds = retrySeconds
        self.checkpointKey = "distributary:\(pipelineName):checkpoint"
        let prefix = "distributary:\(pipelineName):versions:{"
        self.versionKeys = ClusterSlots.tags.map { Array((prefix + $0 + "}").utf8) }
        self.slots = .single(SlotMap.Endpoint(host: url.host, port: url.port))
        self.sequence = 0
        try refreshSlots()
        if let checkpoint = try readCheckpoint() {
            guard let seq = checkpoint["seq"].flatMap({ Int64($0) }) else {
                throw SinkError(.config, "the checkpoint \(checkpointKey) has no `seq` field: it was written without redis.cluster. Delete it (and resync the tables) to switch to cluster mode")
            }
            sequence = seq
        } else {
            // A fresh start: versions begin at the clock in microseconds, so they are above any
            // version left by an earlier run whose checkpoint was deleted.
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            sequence = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
        }
    }

    // MARK: Connections and the slot map

    private func client(_ node: SlotMap.Endpoint) throws -> RedisClient {
        if let c = connections[node] { return c }
        var url = seed
        url.host = node.host
        url.port = node.port
        let c = try RedisClient(url: url)
        let reply = try c.command(["SCRIPT", "LOAD", Self.script])
        if case .error(let e) = reply, Redirect(e) != nil {
            throw SinkError(.connect, "SCRIPT LOAD on \(node): \(e); retrying")
        }
        guard case .string(let sha) = reply else {
            throw SinkError(.command, "SCRIPT LOAD on \(node) answered \(reply) (may the Redis user run scripts? it needs +evalsha +script|load)")
        }
        scriptSHA = sha
        connections[node] = c
        return c
    }

    /// Drops a connection that failed, so that the next use reconnects.
    private func drop(_ node: SlotMap.Endpoint) { connections[node] = nil }

    /// Reloads the slot map from any node that answers (known masters first, then the seed).
    public func refreshSlots() throws {
        var candidates = slots.nodes
        let seedNode = SlotMap.Endpoint(host: seed.host, port: seed.port)
        if !candidates.contains(seedNode) { candidates.append(seedNode) }
        var lastError: Error?
        for node in candidates {
            do {
                let reply = try client(node).command(["CLUSTER", "SLOTS"])
                if case .error(let e) = reply {
                    if e.contains("cluster support disabled") {
                        guard allowStandalone else {
                            throw SinkError(.config, "redis.cluster is true but \(node) is not a cluster node (\(e)): set redis.cluster to false, or point redis.url at a cluster master")
                        }
                        slots = .single(node)
                        return
                    }
                    throw SinkError(.connect, "CLUSTER SLOTS on \(node): \(e)")
                }
                let map = try SlotMap(clusterSlots: reply, askedHost: node.host)
                if map.unservedSlots > 0 {
                    throw SinkError(.connect, "the cluster (asked \(node)) serves only \(ClusterSlots.count - map.unservedSlots) of \(ClusterSlots.count) slots; waiting for it to be whole")
                }
                if map != slots, let onSlotMapChange {
                    let moved = (0..<ClusterSlots.count).reduce(0) { n, s in
                        n + (slots.owner[s] >= 0 && map.owner[s] >= 0 && slots.nodes[Int(slots.owner[s])] == map.nodes[Int(map.owner[s])] ? 0 : 1)
                    }
                    onSlotMapChange("slot map reloaded from \(node): \(map.nodes.count) masters (\(map.nodes.map(\.description).joined(separator: ", "))), \(moved) slots changed owner")
                }
                slots = map
                return
            } catch let error as SinkError where error.code == .config {
                throw error
            } catch {
                drop(node)
                lastError = error
            }
        }
        throw lastError ?? SinkError(.connect, "no cluster node answered")
    }

    // MARK: Checkpoint

    /// The stored checkpoint fields (including `seq`), or nil when there is none.
    public func readCheckpoint() throws -> [String: String]? {
        let reply = try routed(key: checkpointKey, ["HGETALL", checkpointKey])
        guard let fields = reply.hashFields else {
            throw SinkError(.command, "HGETALL \(checkpointKey) answered \(reply) (the key must be a hash written by distributary)")
        }
        return fields.isEmpty ? nil : fields
    }

    /// One command on `key`'s node, following redirections.
    private func routed(key: String, _ argv: [String]) throws -> RedisReply {
        let slot = ClusterSlots.slot(of: key)
        var ask: SlotMap.Endpoint?
        let deadline = Self.now() + retrySeconds
        while true {
            let node = ask ?? slots.nodes[Int(slots.owner[slot])]
            let reply: RedisReply
            do {
                let c = try client(node)
                if ask != nil { try c.append(["ASKING"]) }
                try c.append(argv)
                try c.flush()
                if ask != nil { _ = try c.readReply() }
                reply = try c.readReply()
            } catch let error as SinkError where error.code == .connect {
                drop(node)
                throw error
            }
            ask = nil
            guard case .error(let e) = reply else { return reply }
            switch Redirect(e) {
            case .moved: redirections += 1; try refreshSlots()
            case .ask(let target): redirections += 1; ask = target
            case .retry: usleep(20_000)
            case .noScript, .none: return reply
            }
            if Self.now() > deadline {
                throw SinkError(.connect, "\(argv[0]) \(key): the cluster kept redirecting for \(Int(retrySeconds)) s (last answer: \(e))")
            }
        }
    }

    // MARK: Applying

    /// Redirections and transient answers of a cluster node.
    enum Redirect {
        case moved
        case ask(SlotMap.Endpoint)
        case retry
        case noScript

        init?(_ error: String) {
            if error.hasPrefix("MOVED ") { self = .moved; return }
            if error.hasPrefix("ASK ") {
                let parts = error.split(separator: " ")
                guard parts.count == 3, let node = SlotMap.Endpoint(parts[2]) else { return nil }
                self = .ask(node); return
            }
            if error.hasPrefix("TRYAGAIN") || error.hasPrefix("CLUSTERDOWN") || error.hasPrefix("LOADING") { self = .retry; return }
            if error.hasPrefix("NOSCRIPT") { self = .noScript; return }
            return nil
        }
    }

    /// The writes of a batch with one version per write.
    private var batch = CacheWrites()
    private var versions: [Int64] = []
    /// For each write, the next write of the same key in the batch (-1: none).
    private var nextSameKey: [Int32] = []

    /// Whether the last transaction applied was a piece (`partial`) of a larger one that goes on.
    private var inPieces = false
    /// The sequence number of the last whole transaction (what the checkpoint's `seq` says).
    private var wholeSequence: Int64?

    /// Applies the writes of consecutive transactions (each one version, numbered on from
    /// the checkpoint's `seq`), then stores `checkpoint` with the `seq` of the last whole
    /// one. `partial[i]` marks a piece of a larger transaction: its pieces share one version,
    /// and `checkpoint` is the one from before it. On any refused write the checkpoint stays
    /// where it was and the error names the key.
    public func apply(_ transactions: [CacheWrites], partial: [Bool] = [], checkpoint: [String: String]) throws {
        batch = CacheWrites()
        versions.removeAll(keepingCapacity: true)
        var seq = sequence
        var whole = wholeSequence ?? sequence
        var pieces = inPieces
        for (i, t) in transactions.enumerated() {
            if !pieces { seq += 1 }
            pieces = i < partial.count && partial[i]
            if !pieces { whole = seq }
            batch.append(contentsOf: t)
            for _ in 0..<t.count { versions.append(seq) }
        }
        let end = "\(checkpoint["file"] ?? "?"):\(checkpoint["pos"] ?? "?")"
        if !batch.isEmpty { try applyData(end: end) }
        var fields = checkpoint
        fields["seq"] = String(whole)
        var argv = ["HSET", checkpointKey]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { argv += [k, v] }
        if case .error(let e) = try routed(key: checkpointKey, argv) {
            throw SinkError(.command, "HSET \(checkpointKey) (checkpoint \(end)): \(e); the data of the batch is written, the checkpoint stays before it (a replay is harmless)")
        }
        sequence = seq
        wholeSequence = whole
        inPieces = pieces
    }

    /// Groups the batch's writes by key (each key's writes, in order, become one script
    /// call) and sends every group to the master of its slot, following redirections.
    private func applyData(end: String) throws {
        let heads = groupByKey()
        // Groups still to send; each with the node an ASK named, if any.
        var pending: [(head: Int32, ask: SlotMap.Endpoint?)] = heads.map { ($0, nil) }
        let deadline = Self.now() + retrySeconds
        while !pending.isEmpty {
            var perNode: [SlotMap.Endpoint: [(head: Int32, ask: Bool)]] = [:]
            for p in pending {
                let node: SlotMap.Endpoint
                if let a = p.ask { node = a } else {
                    let slot = batch.withSpan(Int(batch.ops[Int(p.head)].firstSpan)) { ClusterSlots.slot(of: $0) }
                    node = slots.nodes[Int(slots.owner[slot])]
                }
                perNode[node, default: []].append((p.head, p.ask != nil))
            }
            // Send to every node, then read every node's replies.
            var sent: [(SlotMap.Endpoint, RedisClient, [(head: Int32, ask: Bool)])] = []
            for (node, groups) in perNode {
                do {
                    let c = try client(node)
                    var out: [UInt8] = []
                    for g in groups { encode(group: g.head, asking: g.ask, into: &out) }
                    try c.appendFormatted(out)
                    try c.flush()
                    sent.append((node, c, groups))
                } catch let error as SinkError where error.code == .connect {
                    drop(node)
                    throw error
                }
            }
            pending.removeAll(keepingCapacity: true)
            var refresh = false, wait = false
            var failure: String?
            for (node, c, groups) in sent {
                do {
                    for g in groups {
                        if g.ask { _ = try c.readStatusOrError() }
                        guard let e = try c.readStatusOrError() else { continue }
                        switch Redirect(e) {
                        case .moved: redirections += 1; refresh = true; pending.append((g.head, nil))
                        case .ask(let target): redirections += 1; pending.append((g.head, target))
                        case .retry: wait = true; pending.append((g.head, g.ask ? node : nil))
                        case .noScript:
                            drop(node)
                            pending.append((g.head, g.ask ? node : nil))
                        case .none:
                            if failure == nil {
                                let key = batch.withSpan(Int(batch.ops[Int(g.head)].firstSpan)) { String(decoding: $0, as: UTF8.self) }
                                failure = "\(key): \(e)"
                            }
                        }
                    }
                } catch let error as SinkError where error.code == .connect {
                    drop(node)
                    throw error
                }
            }
            if let failure {
                throw SinkError(.command, "\(seed.host):\(seed.port) cluster refused a write of the batch ending at \(end): \(failure). The checkpoint was left before this batch. A key of the wrong type usually means the table's redis.mode changed: delete the table's keys (or resync it) and restart")
            }
            if pending.isEmpty { break }
            if Self.now() > deadline {
                throw SinkError(.connect, "the cluster kept redirecting writes of the batch ending at \(end) for \(Int(retrySeconds)) s; is it resharding or failing over?")
            }
            if refresh { try refreshSlots() }
            if wait { usleep(20_000) }
        }
    }

    /// Links every write to the next write of the same key; returns the first write of each key.
    private func groupByKey() -> [Int32] {
        let n = batch.ops.count
        nextSameKey = [Int32](repeating: -1, count: n)
        var capacity = 16
        while capacity < 2 * n { capacity <<= 1 }
        // Entries: first write of a key; `last` is tracked in a parallel array.
        var table = [Int32](repeating: -1, count: capacity)
        var last = [Int32](repeating: -1, count: n)
        var heads: [Int32] = []
        heads.reserveCapacity(n)
        let mask = capacity - 1
        for i in 0..<n {
            let span = Int(batch.ops[i].firstSpan)
            var h = batch.withSpan(span) { Self.hash($0) } & mask
            while true {
                let first = table[h]
                if first < 0 {
                    table[h] = Int32(i)
                    last[i] = Int32(i)
                    heads.append(Int32(i))
                    break
                }
                if batch.spansEqual(Int(batch.ops[Int(first)].firstSpan), span) {
                    nextSameKey[Int(last[Int(first)])] = Int32(i)
                    last[Int(first)] = Int32(i)
                    break
                }
                h = (h + 1) & mask
            }
        }
        return heads
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// `[ASKING] EVALSHA sha 2 key versions n (version kind ttl a b strings…)…` for one key's writes.
    private func encode(group head: Int32, asking: Bool, into out: inout [UInt8]) {
        if asking { RESP.command(&out, "ASKING") }
        var count = 0, args = 6
        var i = head
        while i >= 0 {
            let op = batch.ops[Int(i)]
            args += 5 + Self.strings(op)
            count += 1
            i = nextSameKey[Int(i)]
        }
        let keySpan = Int(batch.ops[Int(head)].firstSpan)
        let slot = batch.withSpan(keySpan) { ClusterSlots.slot(of: $0) }
        RESP.header(&out, count: args)
        RESP.bulk(&out, "EVALSHA")
        scriptSHA.withUnsafeBytes { RESP.bulk(&out, $0) }
        RESP.bulk(&out, "2")
        RESP.spans(&out, batch, from: keySpan, count: 1)
        versionKeys[slot].withUnsafeBytes { RESP.bulk(&out, $0) }
        RESP.bulk(&out, String(count))
        i = head
        while i >= 0 {
            let op = batch.ops[Int(i)]
            RESP.bulk(&out, String(versions[Int(i)]))
            switch op.kind {
            case .hash: RESP.bulk(&out, "h")
            case .string: RESP.bulk(&out, "s")
            case .delete: RESP.bulk(&out, "d")
            }
            RESP.bulk(&out, String(op.ttl))
            RESP.bulk(&out, op.kind == .hash ? String(op.fieldCount) : "0")
            RESP.bulk(&out, op.kind == .hash ? String(op.removedCount) : "0")
            let strings = Self.strings(op)
            if strings > 0 { RESP.spans(&out, batch, from: Int(op.firstSpan) + 1, count: strings) }
            i = nextSameKey[Int(i)]
        }
    }

    /// Strings a write carries after its key.
    private static func strings(_ op: CacheWrites.Op) -> Int {
        switch op.kind {
        case .hash: return 2 * Int(op.fieldCount) + Int(op.removedCount)
        case .string: return 1
        case .delete: return 0
        }
    }

    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
