import BinlogCore
import Foundation
import Logging
import MySQLSource
import Routing

/// How far a snapshot got, stored with each sink's checkpoint (field `snapshot`) after
/// every chunk, so an interrupted snapshot resumes from its last finished chunk.
struct SnapshotProgress: Codable, Equatable, Sendable {
    /// `db.table` in load order.
    var tables: [String]
    /// Tables loaded completely, from the first on.
    var done: Int
    /// Hex of each key column of the last row loaded from `tables[done]` (nil: none yet).
    var after: [String]?
    /// Rows loaded so far.
    var rows: Int
    /// Tables after `tables[done]` that parallel readers began (key: the table's index):
    /// the last key loaded, or an empty list when the table is loaded completely.
    var ahead: [String: [String]]? = nil

    /// Where table `t` goes on: nil when it is loaded completely, else the key to read after
    /// (whose own value is nil: from the start).
    func resumeKey(_ t: Int) -> [[UInt8]]?? {
        if t < done { return .none }
        if t == done { return .some(afterKey) }
        guard let key = ahead?[String(t)] else { return .some(nil) }
        return key.isEmpty ? .none : .some(key.map(Self.unhex))
    }

    /// Records a chunk of table `t` loaded: `lastKey` is its last row's key, nil when the
    /// table has no more rows.
    mutating func record(table t: Int, lastKey: [[UInt8]]?) {
        let key = lastKey?.map(Self.hex) ?? []
        guard t == done else {
            var map = ahead ?? [:]
            map[String(t)] = key
            ahead = map
            return
        }
        guard lastKey == nil else { after = key; return }
        done += 1
        after = nil
        // Tables the parallel readers finished or began meanwhile.
        while var map = ahead, let next = map.removeValue(forKey: String(done)) {
            ahead = map.isEmpty ? nil : map
            if !next.isEmpty { after = next; break }
            done += 1
        }
    }

    var complete: Bool { done >= tables.count }

    var encoded: String {
        let data = (try? JSONEncoder().encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String?) -> SnapshotProgress? {
        guard let text, !text.isEmpty else { return nil }
        return try? JSONDecoder().decode(SnapshotProgress.self, from: Data(text.utf8))
    }

    var afterKey: [[UInt8]]? { after?.map(Self.unhex) }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex, let j = text.index(i, offsetBy: 2, limitedBy: text.endIndex) {
            out.append(UInt8(text[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }
}

/// Loads the mapped tables' existing rows into sinks: a consistent read at a known log
/// position (SnapshotSession, one or several connections at one read view), tables in key
/// order in chunks (keyset pagination), several tables at once, each chunk routed like
/// inserts and applied to every sink with that sink's checkpoint and the progress. Reader
/// threads fetch the next chunks while the current one is applied; at most a chunk per
/// reader and one more wait in memory.
///
/// Checkpoints: a sink that had none gets the snapshot's position, so streaming continues
/// exactly from there (nothing lost, nothing applied twice). A sink that had one keeps it
/// (a table reloaded into a sink that streams): the log from there is applied again on top
/// of the loaded rows, and since every change carries whole rows that converges to the
/// source. A resumed snapshot reads the rest at a later point and keeps the first one's
/// position, which converges the same way.
final class Snapshotter {
    let config: PipelineConfig
    let logger: Logger
    let options: ConnectionOptions
    let isMariaDB: Bool
    /// Hashes are deleted before they are written (a reload over existing data: resync, or
    /// sinks that hold a checkpoint), so each holds exactly its row's columns afterwards.
    var replaceEntries = false
    var chunkRows = 5000
    /// The index commits a snapshot's documents this many at a time (its progress with them).
    static let indexCommitDocuments = 40_000
    /// Draw progress on the terminal instead of logging it every 10 s.
    var terminal = false
    /// Sees every routed chunk before it is applied (resync collects the keys it wrote).
    var onRouted: ((RoutedTransaction) -> Void)?

    init(config: PipelineConfig, logger: Logger, options: ConnectionOptions, isMariaDB: Bool) {
        self.config = config
        self.logger = logger
        self.options = options
        self.isMariaDB = isMariaDB
        self.chunkRows = max(100, min(config.batchRows, 20_000))
    }

    struct Result {
        /// Each sink's checkpoint once the tables are loaded.
        var checkpoints: [ObjectIdentifier: Checkpoint]
        var rows: Int
        var point: SnapshotPoint
    }

    /// The key rows are paged by: the primary key, else the mapping's `unique_key`.
    static func key(of mapping: TableMapping, schema: TableSchema) throws -> [String] {
        if !schema.primaryKey.isEmpty { return schema.primaryKey }
        if let key = mapping.uniqueKey { return key }
        throw PipelineError("\(schema.qualifiedName) has no primary key, so a snapshot cannot page through it in a stable order: add a PRIMARY KEY, or name a NOT NULL unique key in `\(mapping.keyPath).unique_key: [column, …]`")
    }

    /// Loads `tables` into `sinks`. `bases[sink]`: the checkpoint the sink keeps (nil: take the
    /// snapshot's). `resume`: progress stored by an interrupted run of the same tables.
    /// Returns nil when `shouldStop` ended it early (the progress is stored).
    func run(tables: [TableMapping], schemas: [String: TableSchema], sinks: [Sink], bases: [ObjectIdentifier: Checkpoint],
             resume: SnapshotProgress?, shouldStop: @escaping @Sendable () -> Bool) throws -> Result? {
        let names = tables.map(\.qualifiedName)
        var progress = SnapshotProgress(tables: names, done: 0, after: nil, rows: 0)
        if let resume {
            if resume.tables == names {
                progress = resume
                let finished = (0..<names.count).filter { resume.resumeKey($0) == nil }.count
                logger.info("resuming an interrupted snapshot", metadata: [
                    "tables_done": "\(finished) of \(names.count)", "rows_loaded": "\(resume.rows)",
                    "table": "\(resume.done < names.count ? names[resume.done] : "-")"])
            } else {
                logger.notice("an interrupted snapshot covered other tables; starting it over", metadata: [
                    "was": "\(resume.tables.joined(separator: ", "))", "now": "\(names.joined(separator: ", "))"])
            }
        }
        var readers: [SnapshotTable] = []
        for t in tables {
            guard let schema = schemas[t.qualifiedName] else {
                throw PipelineError("\(t.qualifiedName) (\(t.keyPath)) does not exist on the source; nothing to snapshot")
            }
            do {
                readers.append(try SnapshotTable(schema: schema, key: try Self.key(of: t, schema: schema)))
            } catch let error as SourceError {
                throw PipelineError("\(error.message) (\(t.keyPath))")
            }
        }

        let pending = readers.indices.filter { progress.resumeKey($0) != nil }
        // DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS (tests): 0 goes straight to the lock.
        let attempts = ProcessInfo.processInfo.environment["DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS"].flatMap { Int($0) } ?? 20
        let (sessions, note) = try SnapshotSession.open(options: options, isMariaDB: isMariaDB,
                                                         count: max(1, min(config.source.snapshotThreads, pending.count)),
                                                         lineUpAttempts: max(0, attempts))
        defer { for session in sessions { session.close() } }
        if let note { logger.notice("\(note)") }
        let session = sessions[0]
        let point = session.point
        var meta: Logger.Metadata = ["position": "\(point)", "tables": "\(names.count)", "chunk_rows": "\(chunkRows)",
                                     "read_threads": "\(sessions.count)"]
        if let lock = session.lockSeconds { meta["global_read_lock_ms"] = "\(Int(lock * 1000))" }
        logger.info(session.lockSeconds == nil ? "snapshot started (consistent read, no lock)"
                        : "snapshot started (global read lock held only while the read views were opened)", metadata: meta)

        var total = 0
        for t in pending { total += try session.estimatedRowCount(readers[t]) }
        total += progress.rows

        var checkpoints: [ObjectIdentifier: Checkpoint] = [:]
        let fresh = Checkpoint(position: point.position, gtid: nil,
                               gtidPosition: point.gtid?.description ?? point.mysqlGTIDs?.description,
                               sourceServerID: point.serverID, timestamp: UInt32(Date().timeIntervalSince1970))
        for sink in sinks { checkpoints[ObjectIdentifier(sink)] = bases[ObjectIdentifier(sink)] ?? fresh }

        // The reader threads read chunks; this thread routes them and the sinks' threads apply them.
        let reading = ChunkReader(sessions: sessions, readers: readers, start: progress, chunkRows: chunkRows, shouldStop: shouldStop)
        reading.start()
        // Whatever ends this function (a sink error included), the reader threads stop and are
        // waited for before the sessions they read on are closed.
        defer { _ = reading.finish() }
        let queue = reading.queue
        let start = progress
        var router = Router(config: config, schemas: schemas)
        var maps: [TableMap] = []
        for (i, t) in tables.enumerated() {
            let schema = readers[i].schema
            maps.append(TableMap(tableID: UInt64.max - UInt64(i), schema: t.schema, table: t.table,
                                 columnTypes: [UInt8](repeating: 0, count: schema.columns.count),
                                 columnMeta: [UInt16](repeating: 0, count: schema.columns.count),
                                 nullable: [Bool](repeating: true, count: schema.columns.count),
                                 columnNames: schema.columns,
                                 primaryKey: schema.primaryKey.compactMap { schema.columns.firstIndex(of: $0) }))
        }
        let meter = SnapshotMeter(logger: logger, terminal: terminal, total: total, done: progress.rows)
        for case let sink as RedisCacheSink in sinks { sink.bulk = true }
        for case let sink as SearchIndexSink in sinks { sink.commitEvery = Self.indexCommitDocuments }
        defer {
            for case let sink as RedisCacheSink in sinks { sink.bulk = false }
            for case let sink as SearchIndexSink in sinks { sink.commitEvery = 0 }
        }
        // Each sink applies chunks on a thread of its own, so routing the next chunk overlaps
        // the sinks' work on this one (Redis executing, the index indexing).
        let feeders = sinks.map { sink in
            SinkFeeder(name: sink.name) { [self] routed, progress in try apply(routed, to: [sink], checkpoints: checkpoints, progress: progress) }
        }
        for feeder in feeders { feeder.start() }
        defer { for feeder in feeders { _ = feeder.finish() } }
        var stopped = false
        while let chunk = queue.pop() {
            if shouldStop() { stopped = true; queue.close(); break }
            let routed = try router.routeRows(chunk.rows, table: maps[chunk.table], at: point.position,
                                              timestamp: UInt32(Date().timeIntervalSince1970), replacingEntries: replaceEntries)
            onRouted?(routed)
            progress.rows += chunk.rows.count
            progress.record(table: chunk.table, lastKey: chunk.lastKey)
            let item = SinkFeeder.Item(routed: [routed], progress: progress.complete ? nil : progress)
            var delivered = true
            for feeder in feeders where !feeder.queue.push(item) { delivered = false }
            if !delivered { break } // a sink failed: its error is thrown below
            meter.advance(rows: progress.rows, table: names[chunk.table])
        }
        for feeder in feeders {
            if let error = feeder.finish() { throw error }
        }
        if let readError = reading.finish() { throw readError }
        if stopped || !progress.complete {
            meter.finish()
            logger.notice("snapshot interrupted; the next start resumes it from the last loaded chunk", metadata: [
                "rows_loaded": "\(progress.rows)", "table": "\(progress.done < names.count ? names[progress.done] : "-")"])
            return nil
        }
        if names.isEmpty {
            try apply([], to: sinks, checkpoints: checkpoints, progress: nil)
        }
        for sink in sinks { try sink.flush() }
        meter.finish()
        logger.info("snapshot finished", metadata: ["rows": "\(progress.rows)", "tables": "\(names.count)",
                                                    "seconds": "\(String(format: "%.1f", meter.elapsed))",
                                                    "rows_per_s": "\(Int(Double(progress.rows - start.rows) / max(meter.elapsed, 0.001)))",
                                                    "stream_from": "\(point)"])
        return Result(checkpoints: checkpoints, rows: progress.rows, point: point)
    }

    /// Applies `routed` (may be empty: checkpoint only) with each sink's checkpoint carrying `progress`.
    private func apply(_ routed: [RoutedTransaction], to sinks: [Sink], checkpoints: [ObjectIdentifier: Checkpoint],
                       progress: SnapshotProgress?) throws {
        for sink in sinks {
            var cp = checkpoints[ObjectIdentifier(sink)]!
            cp.snapshot = progress?.encoded
            let batch = routed.isEmpty
                ? [RoutedTransaction(end: cp.position, gtid: nil, timestamp: cp.timestamp, rowCount: 0, cache: CacheWrites(), index: [])]
                : routed
            do {
                try sink.apply(batch[...], checkpoint: cp, checkpointAfter: { _ in cp })
            } catch {
                throw PipelineError("the snapshot could not be written to the \(sink.name) sink: \(error)")
            }
        }
    }
}

/// One sink's thread during a snapshot: applies routed chunks in order (with the progress
/// each carries) from a queue of two.
final class SinkFeeder: @unchecked Sendable {
    struct Item {
        var routed: [RoutedTransaction]
        var progress: SnapshotProgress?
    }
    let queue = BlockingQueue<Item>(capacity: 2)
    private let name: String
    private let body: ([RoutedTransaction], SnapshotProgress?) throws -> Void
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    private var finished = false
    private var error: Error?

    init(name: String, body: @escaping ([RoutedTransaction], SnapshotProgress?) throws -> Void) {
        self.name = name
        self.body = body
    }

    func start() {
        started = true
        let thread = Thread { [self] in
            while let item = queue.pop() {
                do {
                    try body(item.routed, item.progress)
                } catch {
                    self.error = error
                    queue.close()
                    break
                }
            }
            done.signal()
        }
        thread.name = "snapshot-\(name)"
        thread.start()
    }

    /// Lets the thread apply what is queued, waits for it, and returns its error (once).
    func finish() -> Error? {
        guard started, !finished else { return nil }
        finished = true
        queue.close()
        done.wait()
        return error
    }
}

/// A chunk of rows read by the snapshot's reader thread.
struct SnapshotChunk: @unchecked Sendable {
    var table: Int
    var rows: [RowImage]
    var lastKey: [[UInt8]]?
}

/// The snapshot's reader threads, one per session: each takes the next table not yet
/// loaded and reads it in key order into one queue (a table's chunks stay in order).
/// At most one chunk per thread waits in the queue.
final class ChunkReader: @unchecked Sendable {
    let queue: BlockingQueue<SnapshotChunk>
    private let sessions: [SnapshotSession]
    private let readers: [SnapshotTable]
    private let from: SnapshotProgress
    private let chunkRows: Int
    private let shouldStop: @Sendable () -> Bool
    private let lock = NSLock()
    private var next: [Int]
    private var running: Int
    private var error: Error?
    private let done = DispatchSemaphore(value: 0)

    init(sessions: [SnapshotSession], readers: [SnapshotTable], start: SnapshotProgress, chunkRows: Int,
         shouldStop: @escaping @Sendable () -> Bool) {
        self.sessions = sessions
        self.readers = readers
        self.from = start
        self.chunkRows = chunkRows
        self.shouldStop = shouldStop
        self.queue = BlockingQueue(capacity: sessions.count + 1)
        self.next = readers.indices.filter { start.resumeKey($0) != nil }
        self.running = sessions.count
    }

    private func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        return error == nil && !next.isEmpty ? next.removeFirst() : nil
    }

    func start() {
        for n in sessions.indices {
            let thread = Thread { [self] in
                let session = sessions[n]
                defer {
                    lock.lock()
                    running -= 1
                    let last = running == 0
                    lock.unlock()
                    if last { queue.close() }
                    done.signal()
                }
                do {
                    while let t = take() {
                        var after = from.resumeKey(t) ?? nil
                        repeat {
                            if shouldStop() { return }
                            let (rows, last) = try session.readChunk(readers[t], after: after, limit: chunkRows)
                            if !queue.push(SnapshotChunk(table: t, rows: rows, lastKey: last)) { return }
                            after = last
                        } while after != nil
                    }
                } catch {
                    lock.lock()
                    if self.error == nil { self.error = error }
                    lock.unlock()
                    queue.close()
                }
            }
            thread.name = "snapshot-reader-\(n)"
            thread.start()
        }
    }

    private var finished = false

    /// Stops reading (if not done), waits for the threads and returns the first error. Idempotent.
    func finish() -> Error? {
        queue.close()
        if !finished {
            for _ in sessions { done.wait() }
            finished = true
        }
        lock.lock(); defer { lock.unlock() }
        return error
    }
}

/// Snapshot progress: rows/s, percentage and ETA, on a terminal line or a log line every
/// 10 s; `total` is the server's estimate of the rows (table statistics).
final class SnapshotMeter {
    let logger: Logger
    let terminal: Bool
    let total: Int
    let started = Date()
    private var lastReport = Date.distantPast
    private var drewLine = false
    private let startRows: Int

    init(logger: Logger, terminal: Bool, total: Int, done: Int) {
        self.logger = logger
        self.terminal = terminal
        self.total = total
        self.startRows = done
    }

    var elapsed: Double { Date().timeIntervalSince(started) }

    func advance(rows: Int, table: String) {
        let now = Date()
        guard now.timeIntervalSince(lastReport) >= (terminal ? 0.5 : 10) else { return }
        lastReport = now
        let rate = Double(rows - startRows) / max(elapsed, 0.001)
        // `total` is the server's estimate (0: no statistics yet): past it, the end is
        // near but not known.
        let total = self.total > 0 ? max(self.total, rows + 1) : 0
        let percent = total > 0 ? 100 * Double(rows) / Double(total) : 0
        let eta = rate > 0 && total > 0 ? ProgressMonitor.duration(Double(max(0, total - rows)) / rate) : "unknown"
        if terminal {
            FileHandle.standardError.write(Data(String(format: "\r\u{1B}[Ksnapshot: %d of %d rows (%.1f%%), %.0f rows/s, ETA %@, %@",
                                                       rows, total, percent, rate, eta, table).utf8))
            drewLine = true
        } else {
            logger.info("snapshot progress", metadata: ["rows": "\(rows)", "of": "\(total)", "percent": "\(String(format: "%.1f", percent))",
                                                        "rows_per_s": "\(Int(rate))", "eta": "\(eta)", "table": "\(table)"])
        }
    }

    func finish() {
        if drewLine { FileHandle.standardError.write(Data("\n".utf8)); drewLine = false }
    }
}
