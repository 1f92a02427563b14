import BinlogCore
import Foundation
import Logging
import RedisSink
import Routing

/// The Redis keys and index ids a resync wrote (its generation): what the stores hold for
/// the resynced tables beyond these is stale.
final class WrittenKeys: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var keys = Set<[UInt8]>()
    private(set) var ids: [String: Set<String>] = [:]

    func add(_ routed: RoutedTransaction) {
        lock.lock()
        defer { lock.unlock() }
        for write in routed.cache {
            switch write {
            case .hash(let key, _, _, _), .string(let key, _, _), .delete(let key): keys.insert(Array(key.utf8))
            }
        }
        for write in routed.index {
            if case .upsert(let index, let id, _, _) = write { ids[index, default: []].insert(id) }
        }
    }
}

enum Resync {
    /// The glob (Redis MATCH) of the keys a mapping writes: literals escaped, columns `*`.
    static func keyPattern(_ t: TableMapping) -> String? {
        t.redis.map { KeyPattern(template: $0.key, schema: t.schema, table: t.table).glob }
    }

    /// Deletes, with each sink's checkpoint, the Redis keys of `tables`' key patterns and the
    /// documents of the indexes only they feed that the resync did not write. A key that
    /// another mapping's pattern also matches is left alone (it may be that table's).
    static func sweep(config: PipelineConfig, logger: Logger, tables: [TableMapping], mapped: [TableMapping],
                      written: WrittenKeys, sinks: [Sink], checkpoints: [ObjectIdentifier: Checkpoint]) throws {
        let others = mapped.filter { m in !tables.contains { $0.qualifiedName == m.qualifiedName } }.compactMap(keyPattern)
        var staleKeys: [String] = []
        if let redis = config.redis, sinks.contains(where: { $0.name == "redis" }) {
            if redis.cluster {
                logger.warning("resync: stale keys are not swept on a Redis Cluster yet (rows deleted while the sink was behind keep their entries); the tables' rows are reloaded", metadata: [:])
            } else {
                let client = try RedisClient(url: try RedisURL(parsing: redis.url))
                for t in tables where t.redis?.mode != .invalidate {
                    guard let pattern = keyPattern(t) else { continue }
                    var cursor = "0", scanned = 0, stale = 0
                    repeat {
                        let reply = try client.command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])
                        guard case .array(let parts) = reply, parts.count == 2, case .string(let next) = parts[0],
                              case .array(let keys) = parts[1] else {
                            throw PipelineError("resync: Redis answered SCAN with \(reply)")
                        }
                        cursor = String(decoding: next, as: UTF8.self)
                        for case .string(let key) in keys {
                            scanned += 1
                            guard !written.keys.contains(key) else { continue }
                            let text = String(decoding: key, as: UTF8.self)
                            if others.contains(where: { Glob.matches($0, text) }) { continue }
                            staleKeys.append(text)
                            stale += 1
                        }
                    } while cursor != "0"
                    logger.info("resync: swept the table's keys", metadata: ["table": "\(t.qualifiedName)", "pattern": "\(pattern)",
                                                                            "scanned": "\(scanned)", "stale": "\(stale)"])
                }
            }
        }
        var staleDocs: [IndexWrite] = []
        if let indexSink = sinks.first(where: { $0.name == "index" }) as? SearchIndexSink {
            let snapshot = indexSink.store.snapshot()
            for name in Set(tables.compactMap { $0.index?.name }).sorted() {
                let feeders = mapped.filter { $0.index?.name == name }
                guard feeders.allSatisfy({ f in tables.contains { $0.qualifiedName == f.qualifiedName } }) else {
                    logger.warning("resync: index \(name) is also fed by tables not being resynced, so its stale documents cannot be told apart; resync all of them together to sweep it", metadata: [
                        "tables": "\(feeders.map(\.qualifiedName).joined(separator: ", "))"])
                    continue
                }
                let keep = written.ids[name] ?? []
                var stale = 0
                for id in snapshot.documentIDs(index: name) where !keep.contains(id) {
                    staleDocs.append(.delete(index: name, id: id))
                    stale += 1
                }
                logger.info("resync: swept the index", metadata: ["index": "\(name)", "stale": "\(stale)"])
            }
        }
        for sink in sinks {
            let cp = checkpoints[ObjectIdentifier(sink)]!
            var cache = CacheWrites()
            if sink.name == "redis" {
                cache = CacheWrites(staleKeys.map { CacheWrite.delete(key: $0) })
            }
            let routed = RoutedTransaction(end: cp.position, gtid: nil, timestamp: cp.timestamp, rowCount: 0, cache: cache,
                                           index: sink.name == "index" ? staleDocs : [])
            try sink.apply([routed][...], checkpoint: cp, checkpointAfter: { _ in cp })
        }
    }
}
