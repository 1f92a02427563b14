import BinlogCore
import Foundation
import Logging
import MySQLSource
import RedisSink
import Routing

/// `resync --online`, in the watermark way of Netflix's DBLog, inside the running pipeline:
/// a worker thread reads the table in key order in chunks, each chunk between a low and a
/// high watermark it writes into the watermark table (so both appear in the binlog). The
/// router, which sees the log in order, records the keys of the table's rows changed
/// between the two; at the high watermark it drops the chunk's rows with those keys (the
/// log already carried their newer state) and applies the rest with the high watermark's
/// transaction. No lock, no pause, and a row read by a chunk can never overwrite a newer
/// change. At the end, a last watermark makes the router delete the keys of the table's
/// key pattern and the documents of its index that neither the chunks nor the stream wrote
/// since the resync began (rows deleted while a sink was behind, entries written by hand).
final class OnlineResync: @unchecked Sendable {
    enum State: String { case running, done, failed }

    let id: String
    let mapping: TableMapping
    let table: SnapshotTable
    let watermarkTable: (schema: String, table: String)
    private let pipelineName: String
    private let options: ConnectionOptions
    private let logger: Logger
    private let chunkRows: Int
    private let keyPattern: String?
    private let otherPatterns: [String]
    private let redisURL: String?
    private let redisCluster: Bool
    let started = Date()

    private let lock = NSLock()
    private let processed = DispatchSemaphore(value: 0)
    private(set) var state = State.running
    private(set) var error: String?
    private(set) var chunks = 0
    private(set) var rowsApplied = 0
    private(set) var rowsDropped = 0
    private(set) var staleDeleted = 0
    private var stopRequested = false
    /// Called by the router at the sweep's watermark, before the batch that carries the
    /// sweep is applied.
    var onSwept: (() -> Void)?

    // Router-side state (touched only by the router thread, and by the worker under `lock`).
    private var windowOpen = false
    private var windowKeys = Set<String>()
    private var pendingChunk: (n: Int, rows: [RowImage])?
    private var sweepCandidates: [String]?
    private var seenKeys = Set<[UInt8]>()
    private var seenIDs = Set<String>()
    private let map: TableMap
    private let keyIndexes: [Int]

    init(mapping: TableMapping, schema: TableSchema, key: [String], pipeline: PipelineConfig, options: ConnectionOptions,
         watermarkTable: (schema: String, table: String), mapped: [TableMapping], logger: Logger) throws {
        self.id = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.mapping = mapping
        self.table = try SnapshotTable(schema: schema, key: key)
        self.watermarkTable = watermarkTable
        self.pipelineName = pipeline.name
        self.options = options
        self.logger = logger
        self.chunkRows = max(100, min(pipeline.batchRows, 5000))
        self.keyPattern = Resync.keyPattern(mapping)
        self.otherPatterns = mapped.filter { $0.qualifiedName != mapping.qualifiedName }.compactMap(Resync.keyPattern)
        self.redisURL = pipeline.redis?.url
        self.redisCluster = pipeline.redis?.cluster ?? false
        self.map = TableMap(tableID: UInt64.max - 4096, schema: mapping.schema, table: mapping.table,
                            columnTypes: [UInt8](repeating: 0, count: schema.columns.count),
                            columnMeta: [UInt16](repeating: 0, count: schema.columns.count),
                            nullable: [Bool](repeating: true, count: schema.columns.count),
                            columnNames: schema.columns,
                            primaryKey: schema.primaryKey.compactMap { schema.columns.firstIndex(of: $0) })
        self.keyIndexes = key.compactMap { schema.columns.firstIndex(of: $0) }
    }

    var json: String {
        lock.lock()
        defer { lock.unlock() }
        var out = "{\"id\":\"\(id)\",\"table\":"
        JSONText.appendString(mapping.qualifiedName, to: &out)
        out += ",\"state\":\"\(state.rawValue)\",\"chunks\":\(chunks),\"rows\":\(rowsApplied),\"rows_dropped\":\(rowsDropped)"
        out += ",\"stale_deleted\":\(staleDeleted),\"seconds\":\(String(format: "%.1f", Date().timeIntervalSince(started))),\"error\":"
        if let error { JSONText.appendString(error, to: &out) } else { out += "null" }
        return out + "}"
    }

    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return state == .running
    }

    func stop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
        processed.signal()
    }

    // MARK: worker

    func start() {
        let thread = Thread { [self] in
            do {
                try work()
                finish(.done, nil)
            } catch {
                finish(.failed, "\(error)")
            }
        }
        thread.name = "online-resync"
        thread.start()
    }

    private func finish(_ state: State, _ error: String?) {
        lock.lock()
        self.state = state
        self.error = error
        lock.unlock()
        if let error {
            logger.error("online resync failed", metadata: ["table": "\(mapping.qualifiedName)", "error": "\(error)"])
        } else {
            logger.info("online resync finished", metadata: ["table": "\(mapping.qualifiedName)", "chunks": "\(chunks)", "rows": "\(rowsApplied)",
                                                             "rows_dropped": "\(rowsDropped)", "stale_deleted": "\(staleDeleted)"])
        }
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    private func work() throws {
        let connection = try MySQLConnection(options)
        try connection.execute("SET SESSION time_zone = '+00:00'")
        let wm = "\(SnapshotTable.quoted(watermarkTable.schema)).\(SnapshotTable.quoted(watermarkTable.table))"
        func watermark(_ value: String) throws {
            do {
                try connection.execute("INSERT INTO \(wm) (pipeline, value) VALUES (\(connection.quote(pipelineName)), \(connection.quote(value))) ON DUPLICATE KEY UPDATE value = VALUES(value)")
            } catch let error as SourceError {
                throw PipelineError("cannot write the watermark table \(watermarkTable.schema).\(watermarkTable.table) (source.watermark_table): \(error.message). Create it and let the replication user write it: CREATE DATABASE IF NOT EXISTS \(watermarkTable.schema); CREATE TABLE \(wm) (pipeline VARCHAR(64) PRIMARY KEY, value VARCHAR(64) NOT NULL); GRANT SELECT, INSERT, UPDATE ON \(wm) TO <replication user>;")
            }
        }
        logger.info("online resync started", metadata: ["table": "\(mapping.qualifiedName)", "id": "\(id)", "chunk_rows": "\(chunkRows)"])
        var after: [[UInt8]]?
        var n = 0
        repeat {
            if shouldStop { throw PipelineError("stopped (the replicator is stopping); run the resync again") }
            n += 1
            try watermark("L:\(id):\(n)")
            let (rows, last) = try SnapshotSession.readChunk(connection, table, after: after, limit: chunkRows)
            lock.lock()
            pendingChunk = (n, rows)
            lock.unlock()
            try watermark("H:\(id):\(n)")
            try waitProcessed("chunk \(n)")
            after = last
        } while after != nil
        // The sweep: candidates now, filtered by what was written since the start when the
        // router reaches the last watermark.
        var candidates: [String] = []
        if let pattern = keyPattern, mapping.redis?.mode != .invalidate, let url = redisURL, !redisCluster {
            let client = try RedisClient(url: try RedisURL(parsing: url))
            var cursor = "0"
            repeat {
                let reply = try client.command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])
                guard case .array(let parts) = reply, parts.count == 2, case .string(let next) = parts[0], case .array(let keys) = parts[1] else {
                    throw PipelineError("online resync: Redis answered SCAN with \(reply)")
                }
                cursor = String(decoding: next, as: UTF8.self)
                for case .string(let key) in keys {
                    let text = String(decoding: key, as: UTF8.self)
                    if !otherPatterns.contains(where: { Glob.matches($0, text) }) { candidates.append(text) }
                }
            } while cursor != "0"
        }
        lock.lock()
        sweepCandidates = candidates
        lock.unlock()
        try watermark("S:\(id)")
        try waitProcessed("the sweep")
    }

    private func waitProcessed(_ what: String) throws {
        if processed.wait(timeout: .now() + 600) == .timedOut {
            throw PipelineError("the replicator did not reach the watermark of \(what) within 10 minutes (is it far behind the source?); run the resync again once it has caught up")
        }
        if shouldStop { throw PipelineError("stopped (the replicator is stopping); run the resync again") }
    }

    // MARK: router

    /// Called by the router for every transaction, in log order, with what the router made
    /// of it; adds the chunk's rows at a high watermark and the sweep's deletes at the last one.
    func observe(_ transaction: Transaction, routed: inout RoutedTransaction, router: inout Router, indexStore: IndexStoreView?) throws {
        for change in transaction.changes {
            let t = change.table
            if t.schema == watermarkTable.schema && t.table == watermarkTable.table {
                guard let row = change.after, row.count >= 2, row[0]?.text == pipelineName, let value = row[1]?.text else { continue }
                try watermark(value, routed: &routed, router: &router, indexStore: indexStore)
            } else if windowOpen, t.schema == mapping.schema, t.table == mapping.table {
                if let before = change.before { windowKeys.insert(key(of: before)) }
                if let after = change.after { windowKeys.insert(key(of: after)) }
            }
        }
        // What the stream writes under the table's pattern or to its index is not stale.
        if let pattern = keyPattern {
            for write in routed.cache {
                switch write {
                case .hash(let key, _, _, _), .string(let key, _, _):
                    if Glob.matches(pattern, key) { seenKeys.insert(Array(key.utf8)) }
                case .delete: break
                }
            }
        }
        if let name = mapping.index?.name {
            for case .upsert(let index, let id, _, _) in routed.index where index == name { seenIDs.insert(id) }
        }
    }

    private func key(of row: RowImage) -> String {
        keyIndexes.map { $0 < row.count ? (row[$0]?.text ?? "") : "" }.joined(separator: "\u{1}")
    }

    private func watermark(_ value: String, routed: inout RoutedTransaction, router: inout Router, indexStore: IndexStoreView?) throws {
        let parts = value.split(separator: ":").map(String.init)
        guard parts.count >= 2, parts[1] == id else { return }
        switch parts[0] {
        case "L":
            windowOpen = true
            windowKeys.removeAll(keepingCapacity: true)
        case "H":
            windowOpen = false
            lock.lock()
            let chunk = pendingChunk
            pendingChunk = nil
            lock.unlock()
            guard let chunk, parts.count == 3, String(chunk.n) == parts[2] else { return }
            let kept = chunk.rows.filter { !windowKeys.contains(key(of: $0)) }
            let dropped = chunk.rows.count - kept.count
            let loaded = try router.routeRows(kept, table: map, at: routed.end, timestamp: routed.timestamp, replacingEntries: true)
            routed.cache.append(contentsOf: loaded.cache)
            routed.index += loaded.index
            for write in loaded.cache {
                switch write {
                case .hash(let key, _, _, _), .string(let key, _, _): seenKeys.insert(Array(key.utf8))
                case .delete: break
                }
            }
            for case .upsert(_, let id, _, _) in loaded.index { seenIDs.insert(id) }
            lock.lock()
            chunks += 1
            rowsApplied += kept.count
            rowsDropped += dropped
            lock.unlock()
            processed.signal()
        case "S":
            lock.lock()
            let candidates = sweepCandidates ?? []
            sweepCandidates = nil
            lock.unlock()
            var deletes: [CacheWrite] = []
            for key in candidates where !seenKeys.contains(Array(key.utf8)) { deletes.append(.delete(key: key)) }
            routed.cache.append(contentsOf: CacheWrites(deletes))
            var stale = deletes.count
            if let name = mapping.index?.name, let indexStore {
                for id in indexStore.documentIDs(name) where !seenIDs.contains(id) {
                    routed.index.append(.delete(index: name, id: id))
                    stale += 1
                }
            }
            lock.lock()
            staleDeleted = stale
            lock.unlock()
            onSwept?()
            processed.signal()
        default:
            break
        }
    }
}

/// What online resync needs of the index: the live ids of an index (only when no other
/// mapped table feeds it; else nil is passed and the index is not swept).
struct IndexStoreView {
    let documentIDs: (String) -> [String]
}
