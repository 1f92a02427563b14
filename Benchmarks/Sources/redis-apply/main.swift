import BinlogCore
import RedisSink
import Routing

#if canImport(Glibc)
import Glibc
#endif

// Applies pre-decoded transactions to a local Redis through Router + RedisSink, the way
// the pipeline's Redis sink does: transactions grouped into MULTI/EXEC batches of about
// BATCH_ROWS rows, the checkpoint HSET inside each, handed to RedisSink five batches at a
// time (the pipeline's 5,000-row batches), which keeps two MULTI/EXECs in flight.
//
//   redis-apply REDIS_PORT BINLOG... [--batch-rows N] [--mode hash|json] [--writer multi|versioned]
//
// `--writer versioned` applies through RedisClusterSink instead: each key's writes in one
// versioned Lua call, the checkpoint after the data; against a cluster node's port that is
// cluster mode, against a standalone server it is the same versioned path on one node.
//
// The binlogs hold the rows of `bench.items` (integration/bench/redis-apply.sh makes
// them on a throwaway MariaDB). Everything is decoded into memory first; only routing
// and applying are timed. Prints rows/s for routing alone and for route + apply.
var arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(i...(i + 1)) }
    return arguments[i + 1]
}
let batchRows = Int(option("--batch-rows") ?? "") ?? 1000
let mode = option("--mode") ?? "hash"
let writer = option("--writer") ?? "multi"
guard arguments.count >= 2, let port = Int32(arguments[0]) else {
    print("usage: redis-apply REDIS_PORT BINLOG... [--batch-rows N] [--mode hash|json] [--writer multi|versioned]")
    exit(2)
}

func ms3(_ v: Double) -> String { "\((v * 1000).rounded() / 1000)" }
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

// 1. Decode.
var transactions: [Transaction] = []
do {
    for path in arguments.dropFirst() {
        var reader = try BinlogFileReader(path: path)
        var decoder = EventDecoder(file: reader.fileName)
        var assembler = TransactionAssembler()
        while let event = try reader.nextEvent({ bytes, offset in try decoder.decode(bytes, at: offset) }) {
            if let t = try assembler.consume(event), t.changes.contains(where: { $0.table.table == "items" }) {
                transactions.append(t)
            }
        }
    }
} catch {
    print("error: \(error)")
    exit(1)
}
let rows = transactions.reduce(0) { $0 + $1.changes.count }
guard rows > 0 else { print("error: no rows of bench.items in the binlogs"); exit(1) }
let fields = transactions.first!.changes.first!.after!.count - 1
print("decoded \(transactions.count) transactions, \(rows) rows of \(fields) fields + id; batches of ~\(batchRows) rows; mode \(mode)")

let yaml = """
    name: bench
    source: {host: 127.0.0.1, port: 3306, user: u, server_id: 9}
    redis: {url: "redis://127.0.0.1:\(port)/0"}
    tables:
      bench.items:
        redis: {key: "item:{id}", mode: \(mode)}
    """
let config = try! PipelineConfig.parse(yaml: yaml)
let clock = ContinuousClock()

// 2. Routing alone.
var router = Router(config: config)
var routed: [RoutedTransaction] = []
routed.reserveCapacity(transactions.count)
let routeStart = clock.now
do {
    for t in transactions { routed.append(try router.route(t)) }
} catch {
    print("error: \(error)"); exit(1)
}
let routeTime = seconds(clock.now - routeStart)
print("route only:        \(Int(Double(rows) / routeTime)) rows/s (\(rows) rows in \(ms3(routeTime)) s)")

// 3. Route + apply, as the pipeline does it.
if writer == "versioned" {
    let cluster: RedisClusterSink
    do {
        cluster = try RedisClusterSink(url: RedisURL(port: port), pipelineName: "bench", allowStandalone: true)
    } catch {
        print("error: \(error)"); exit(1)
    }
    router = Router(config: config)
    let start = clock.now
    var batches = 0
    do {
        var group: [CacheWrites] = []
        var batchCount = 0
        for (n, t) in transactions.enumerated() {
            group.append(try router.route(t).cache)
            batchCount += t.changes.count
            if batchCount >= batchRows || n == transactions.count - 1 {
                try cluster.apply(group, checkpoint: ["file": t.end.file, "pos": String(t.end.offset), "gtid": t.gtid ?? "",
                                                      "server_id": "1", "timestamp": String(t.timestamp)])
                group = []
                batchCount = 0
                batches += 1
            }
        }
    } catch {
        print("error: \(error)"); exit(1)
    }
    let total = seconds(clock.now - start)
    print("route + apply:     \(Int(Double(rows) / total)) rows/s (\(rows) rows, \(batches) versioned batches, \(ms3(total)) s, checkpoint after every batch)")
    exit(0)
}

let sink: RedisSink
do {
    sink = try RedisSink(url: RedisURL(port: port), pipelineName: "bench")
} catch {
    print("error: \(error)"); exit(1)
}
router = Router(config: config)
let start = clock.now
var batches = 0
do {
    var writes = CacheWrites()
    var batchCount = 0
    var group: [(writes: CacheWrites, checkpoint: [String: String])] = []
    for (n, t) in transactions.enumerated() {
        writes.append(contentsOf: try router.route(t).cache)
        batchCount += t.changes.count
        if batchCount >= batchRows || n == transactions.count - 1 {
            group.append((writes, ["file": t.end.file, "pos": String(t.end.offset), "gtid": t.gtid ?? "",
                                   "server_id": "1", "timestamp": String(t.timestamp)]))
            writes = CacheWrites()
            batchCount = 0
            batches += 1
        }
        if group.count == 5 || (n == transactions.count - 1 && !group.isEmpty) {
            try sink.apply(group)
            group = []
        }
    }
} catch {
    print("error: \(error)"); exit(1)
}
let total = seconds(clock.now - start)
print("route + apply:     \(Int(Double(rows) / total)) rows/s (\(rows) rows, \(batches) MULTI/EXEC batches, \(ms3(total)) s, checkpoint in every batch)")
