import BinlogCore
import Foundation
import Logging
import MySQLSource
import RedisSink
import Routing
import SearchIndex

/// The replication pipeline: one thread reads and decodes the binlog and assembles
/// transactions; a router thread routes them in batches; each sink applies the batches on
/// a thread of its own. Bounded queues between them make a slow sink slow the reader down.
///
/// Each sink keeps its own checkpoint. Reading starts at the lowest one and each sink
/// skips the transactions it already holds (DESIGN.md, invariant 4).
public final class Pipeline: @unchecked Sendable {
    public let config: PipelineConfig
    private let logger: Logger
    private let connection: ConnectionOptions
    private var sinks: [Sink] = []
    /// The index store, when the config has an index (shared with the HTTP API).
    public private(set) var indexStore: IndexStore?
    private var router: Router
    private let sourceServerID: UInt32
    /// MariaDB: read and resume by GTID (failover-safe). MySQL: by file and position.
    private let useGTID: Bool
    private var readerStart = ResumePoint(position: BinlogPosition(file: "", offset: 4), gtid: nil)
    /// What each sink already holds: it skips transactions at or before its mark.
    private var marks: [ObjectIdentifier: SinkMark] = [:]
    /// Sinks that get a snapshot (none yet, or an interrupted one) before streaming.
    private var snapshotSinks: [Sink] = []
    /// Snapshot sinks whose checkpoint was purged: reloaded and swept, from a fresh position.
    private var purgedSinks: Set<ObjectIdentifier> = []
    /// The online resync in progress or last finished (under `stopLock`).
    private var online: OnlineResync?
    /// Tables to resync online because the log showed DDL on them (router thread only),
    /// each not before its time (a failed one waits a minute).
    private var ddlResyncs: [(table: String, notBefore: Date)] = []
    /// The table of the online resync this pipeline started for a DDL, while it runs.
    private var ddlResyncRunning: String?
    /// Tables a DDL left stale that no resync has reloaded yet (router thread; each batch
    /// carries a copy, which every sink stores with its checkpoint).
    private var resyncPendingTables: [String] = []
    /// One queue of routed batches per sink, for its thread (made by each run).
    private var sinkQueues: [BlockingQueue<RoutedBatch>] = []
    /// The first commit time of each batch not yet applied by every sink, oldest first
    /// (under `stopLock`).
    private var inFlight: [UInt32] = []
    /// The mapped tables that exist on the source (patterns resolved), and their schemas.
    private let mappedTables: [TableMapping]
    private let schemas: [String: TableSchema]
    private let isMariaDB: Bool

    private let stopLock = NSLock()
    private var stopRequested = false
    /// A stop asked for by the user (SIGTERM), as opposed to one a failure caused.
    private var userStopRequested = false
    private var failure: Error?
    private var queue = BlockingQueue<StreamedTransaction>(capacity: 1)
    /// Counters and gauges served at `GET /metrics`.
    public let metrics = PipelineMetrics()
    /// Read-your-writes: each sink's committed position and the callers of `GET /wait`.
    public private(set) lazy var waits = WaitRegistry(metrics: metrics)
    // Readiness, under `stopLock`: whether the reader streams, transactions read but not yet
    // applied, and the commit time of the first transaction of the batch being applied.
    private var streaming = false
    private var pending = 0
    /// Transactions the reader has delivered (each sink receives all of them in batches).
    private var delivered = 0
    /// Rows applied to every sink so far (progress reports).
    private var rowsApplied = 0
    /// Draw catch-up progress as a line redrawn in place (a terminal with text logs);
    /// otherwise progress goes to the log every 10 s.
    public var progressOnTerminal = false
    /// The last error seen (a retried connection loss or what stopped the pipeline), for `status`.
    private var lastError: (time: Date, message: String)?

    /// A sink lost its connection (Redis restarted or the network dropped): the pipeline
    /// reconnects it, re-reads its checkpoint and replays from there.
    struct SinkConnectionLost: Error, CustomStringConvertible {
        var sink: String
        var cause: Error
        var description: String { "the \(sink) sink lost its connection: \(cause)" }
    }

    /// A transaction as read, with the reader's position just after it.
    struct StreamedTransaction: Sendable {
        var transaction: Transaction
        var after: ResumePoint
    }

    /// How far a sink is: by GTID where the transaction and the sink both have one
    /// (MariaDB; valid across servers), else by binlog position (same server only).
    struct SinkMark: Sendable, CustomStringConvertible {
        var position: BinlogPosition?
        var gtid: GTIDPosition?
        /// MySQL: the executed GTID set there, when known (informational).
        var mysqlGTIDs: MySQLGTIDSet? = nil

        func holds(end: BinlogPosition, gtid transactionGTID: String?) -> Bool {
            if let t = transactionGTID, let g = gtid, let held = g.holds(t) { return held }
            guard let position else { return false }
            return end <= position
        }

        var description: String {
            [position?.description, gtid.map { "GTID position \($0)" }].compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// Opens the sinks, checks the source and validates the config against its tables.
    /// Throws before anything is written if any of that fails.
    /// `forSnapshot`: for `distributary snapshot`, which loads into every sink itself.
    public init(config: PipelineConfig, logger: Logger, forSnapshot: Bool = false) throws {
        var configuredGTID: GTIDPosition?
        if case .gtid(let text) = config.source.start {
            do {
                configuredGTID = try GTIDPosition(parsing: text, what: "source.start.gtid")
            } catch let error as SourceError {
                throw ConfigError("source.start.gtid", error.message)
            }
        }
        let connection = try Self.connectionOptions(config.source)
        let inspector = SourceInspector(connection: try MySQLConnection(connection))
        let info = try inspector.serverInfo()
        let isMariaDB = SourceInspector.isMariaDB(version: info.version)
        try inspector.checkSettings(replicaServerID: config.source.serverID)
        let mapped = config.resolve(existing: config.tables.contains(where: \.isPattern) ? try inspector.listTables() : [])
        for t in config.tables where t.isPattern && !mapped.contains(where: { $0.configKey == t.configKey }) {
            logger.warning("table pattern matches no table on the source yet; tables created later that match it are followed", metadata: ["key": "\(t.keyPath)"])
        }
        try inspector.checkPrivileges(tables: mapped.map { ($0.schema, $0.table) })
        if let warning = try inspector.checkServerIDUnused(config.source.serverID, ownHost: SourceInspector.registrationHost(pipeline: config.name)) {
            logger.warning("\(warning)")
        }
        if configuredGTID != nil && !isMariaDB {
            throw ConfigError("source.start.gtid", "\(connection.endpoint) is MySQL \(info.version); GTID starts work on MariaDB only (Connector/C cannot send MySQL's COM_BINLOG_DUMP_GTID). Start MySQL from earliest, latest or {file: …, pos: …}")
        }
        var schemas: [String: TableSchema] = [:]
        for t in mapped {
            if let s = try inspector.tableSchema(schema: t.schema, table: t.table) { schemas[t.qualifiedName] = s }
        }
        try config.validate(against: schemas)
        self.mappedTables = mapped
        self.schemas = schemas
        self.isMariaDB = isMariaDB
        self.config = config
        self.logger = logger
        self.connection = connection
        self.router = Router(config: config, schemas: schemas)
        self.sourceServerID = info.serverID
        self.useGTID = isMariaDB
        logger.info("source ready", metadata: ["source": "\(connection.endpoint)", "version": "\(info.version)", "server_id": "\(info.serverID)",
                                               "resume_by": "\(isMariaDB ? "gtid" : "file:pos")"])

        if let redis = config.redis {
            let sink = try RedisCacheSink(config: redis, pipelineName: config.name, logger: logger,
                                          mappings: MappingFingerprint.all(config, sink: "redis"))
            sinks.append(sink)
            setChangedFieldsOnly(sink)
        }
        if let index = config.index {
            let store = try IndexStore(directory: index.path, schemas: config.indexSchemas)
            indexStore = store
            sinks.append(try SearchIndexSink(store: store, mappings: MappingFingerprint.all(config, sink: "index")))
        }
        for sink in sinks {
            let stale = MappingFingerprint.stale(stored: sink.mappings, current: MappingFingerprint.all(config, sink: sink.name))
            if !stale.isEmpty {
                logger.warning("the configuration changed for tables whose \(sink.name) data was built with another mapping (or none): rows not changed since keep the old form (and hash updates may set only the fields that changed). Rebuild them with `distributary resync --config FILE --table DB.TABLE`; until then this warning repeats at every start", metadata: [
                    "sink": "\(sink.name)", "tables": "\(stale.joined(separator: ", "))"])
            }
        }

        // Tables a DDL left stale that no resync reloaded yet (the last run stopped first).
        addPendingResyncs(of: sinks)
        let stale = resyncPendingTables
        if !stale.isEmpty {
            if config.source.resyncOnDDL {
                logger.notice("tables with DDL not yet resynced; resyncing them online once streaming", metadata: ["tables": "\(stale.joined(separator: ", "))"])
                ddlResyncs = stale.map { ($0, Date()) }
            } else {
                logger.warning("tables with DDL not yet resynced (source.resync_on_ddl is off): entries of rows not changed since the DDL may be stale; run `distributary resync --online --config FILE --table DB.TABLE`", metadata: ["tables": "\(stale.joined(separator: ", "))"])
            }
        }

        func mark(at position: BinlogPosition) throws -> SinkMark {
            SinkMark(position: position, gtid: isMariaDB ? try inspector.gtidPosition(at: position) : nil)
        }
        let configuredStart: SinkMark = try {
            switch config.source.start {
            case .earliest: return try mark(at: try inspector.resolve(.earliest))
            case .latest where !isMariaDB:
                let (position, set) = try inspector.currentPositionAndGTIDSet()
                return SinkMark(position: position, gtid: nil, mysqlGTIDs: set)
            case .latest: return try mark(at: try inspector.resolve(.latest))
            case .position(let file, let offset): return try mark(at: try inspector.resolve(.position(BinlogPosition(file: file, offset: offset))))
            case .gtid: return SinkMark(position: nil, gtid: configuredGTID)
            }
        }()
        var starts: [SinkMark] = []
        for sink in sinks {
            let start: SinkMark
            if forSnapshot {
                start = configuredStart
                // A checkpoint the server purged cannot be kept: loading every table moves it
                // to the snapshot's position (see runSnapshot).
                if let cp = sink.checkpoint, cp.sourceServerID == info.serverID || isMariaDB {
                    let purged: Bool
                    if isMariaDB, let text = cp.gtidPosition, let gtid = try? GTIDPosition(parsing: text, what: "checkpoint") {
                        purged = try inspector.isPurged(gtid)
                    } else {
                        purged = try !inspector.binaryLogs().contains(cp.position.file)
                    }
                    if purged { purgedSinks.insert(ObjectIdentifier(sink)) }
                }
            } else if let cp = sink.checkpoint, cp.snapshot != nil {
                // An interrupted snapshot: finished before streaming (`run()`); its position holds meanwhile.
                logger.info("sink holds an interrupted snapshot; it resumes before streaming", metadata: ["sink": "\(sink.name)", "checkpoint": "\(cp)"])
                snapshotSinks.append(sink)
                start = SinkMark(position: cp.position, gtid: nil)
            } else if let cp = sink.checkpoint {
                if isMariaDB, let text = cp.gtidPosition {
                    let gtid: GTIDPosition
                    do {
                        gtid = try GTIDPosition(parsing: text, what: "the \(sink.name) checkpoint's gtid_position")
                    } catch let error as SourceError {
                        throw PipelineError("\(error.message). Delete the \(sink.name) checkpoint and resync (`distributary resync --config FILE --table DB.TABLE`)")
                    }
                    if cp.sourceServerID != info.serverID {
                        logger.notice("checkpoint comes from another server; resuming by GTID", metadata: [
                            "sink": "\(sink.name)", "checkpoint_server_id": "\(cp.sourceServerID)", "server_id": "\(info.serverID)", "gtid_position": "\(gtid)"])
                    }
                    if config.source.snapshot == .when_needed, try inspector.isPurged(gtid) {
                        logger.warning("the sink's checkpoint is no longer in the server's binlogs (purged); reloading and sweeping the mapped tables first (source.snapshot: when_needed)", metadata: [
                            "sink": "\(sink.name)", "checkpoint": "\(cp)"])
                        purgedSinks.insert(ObjectIdentifier(sink))
                        snapshotSinks.append(sink)
                        start = configuredStart
                    } else {
                        start = SinkMark(position: cp.sourceServerID == info.serverID ? cp.position : nil, gtid: gtid)
                    }
                } else {
                    guard cp.sourceServerID == info.serverID else {
                        throw PipelineError("the \(sink.name) checkpoint (\(cp)) was written from a source with server_id \(cp.sourceServerID), but \(connection.endpoint) has server_id \(info.serverID): its file and position do not apply here\(isMariaDB ? " and it carries no GTID position to resume by" : ""). Point source.host at the server the data came from, or resync the tables (`distributary resync --config FILE --table DB.TABLE`)")
                    }
                    do {
                        var resumed = try mark(at: try inspector.resolve(.position(cp.position)))
                        if !isMariaDB, let text = cp.gtidPosition {
                            resumed.mysqlGTIDs = try? MySQLGTIDSet(parsing: text, what: "the \(sink.name) checkpoint's gtid_position")
                        }
                        start = resumed
                    } catch let error as SourceError where error.code == .purged && config.source.snapshot == .when_needed {
                        logger.warning("the sink's checkpoint is no longer in the server's binlogs (purged); reloading and sweeping the mapped tables first (source.snapshot: when_needed)", metadata: [
                            "sink": "\(sink.name)", "checkpoint": "\(cp)", "cause": "\(error.message)"])
                        purgedSinks.insert(ObjectIdentifier(sink))
                        snapshotSinks.append(sink)
                        start = configuredStart
                    } catch let error as SourceError {
                        throw PipelineError("the \(sink.name) checkpoint \(cp) cannot be resumed: \(error.message)")
                    }
                }
                logger.info("resuming sink", metadata: ["sink": "\(sink.name)", "checkpoint": "\(cp)"])
            } else if config.source.snapshot != .never {
                start = configuredStart
                snapshotSinks.append(sink)
                logger.info("sink has no checkpoint; it gets a snapshot of the mapped tables first (source.snapshot: \(config.source.snapshot.rawValue))", metadata: ["sink": "\(sink.name)"])
            } else {
                start = configuredStart
                logger.info("sink has no checkpoint; starting from source.start", metadata: ["sink": "\(sink.name)", "from": "\(start)"])
            }
            marks[ObjectIdentifier(sink)] = start
            starts.append(start)
        }
        if starts.isEmpty { starts = [configuredStart] }
        for sink in sinks where sink.checkpoint != nil && !snapshotSinks.contains(where: { $0 === sink }) && !forSnapshot {
            let m = marks[ObjectIdentifier(sink)]!
            waits.register(sink: sink.name, position: .init(position: m.position, gtid: m.gtid, mysqlGTIDs: m.mysqlGTIDs))
        }
        for sink in sinks { waits.register(sink: sink.name, position: waits.snapshot([sink.name]).first?.1 ?? .init()) }
        let lowestPosition = starts.compactMap(\.position).min() ?? BinlogPosition(file: "", offset: 4)
        readerStart = ResumePoint(position: lowestPosition,
                                  gtid: isMariaDB ? GTIDPosition.lowest(starts.map { $0.gtid ?? GTIDPosition() }) : nil,
                                  mysqlGTIDs: starts.first { $0.position == lowestPosition }?.mysqlGTIDs)
    }

    static func connectionOptions(_ source: SourceConfig) throws -> ConnectionOptions {
        var password = ""
        if let env = source.passwordEnv {
            guard let value = ProcessInfo.processInfo.environment[env] else {
                throw ConfigError("source.password_env", "the environment variable \(env) is not set; export it with the replication user's password")
            }
            password = value
        } else if let file = source.passwordFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError("source.password_file", "cannot read \(file); it must be a readable file holding the password on its first line")
            }
            password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        }
        var tls = TLSOptions(mode: .disabled)
        if let t = source.tls {
            tls = TLSOptions(mode: TLSOptions.Mode(rawValue: t.mode) ?? .required, ca: t.ca, cert: t.cert, key: t.key)
            for (key, path) in [("source.tls.ca", t.ca), ("source.tls.cert", t.cert), ("source.tls.key", t.key)] {
                if let path, !FileManager.default.isReadableFile(atPath: path) {
                    throw ConfigError(key, "cannot read \(path); it must be a readable PEM file")
                }
            }
        }
        return ConnectionOptions(host: source.host, port: source.port, socket: source.socket, user: source.user, password: password,
                                 connectTimeoutSeconds: source.connectTimeout, readTimeoutSeconds: source.readTimeout,
                                 writeTimeoutSeconds: source.writeTimeout, tls: tls)
    }

    /// Asks the pipeline to finish: the reader stops at the next event or heartbeat,
    /// every sink applies every complete transaction already read, checkpoints, and ends.
    public func requestStop() {
        stopLock.lock()
        stopRequested = true
        userStopRequested = true
        let online = self.online
        stopLock.unlock()
        online?.stop()
    }

    private var userStopped: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return userStopRequested
    }

    private var shouldStop: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopRequested
    }

    private func fail(_ error: Error) {
        metrics.error(Self.kind(of: error))
        noteError("\(error)")
        stopLock.lock()
        if failure == nil { failure = error }
        stopRequested = true
        stopLock.unlock()
        queue.close()
    }

    private func noteError(_ message: String) {
        stopLock.lock()
        lastError = (Date(), message)
        stopLock.unlock()
    }

    /// For `GET /status`: readiness, the last error, and each sink's applied position.
    public func statusJSON(maxLag: Double) -> String {
        let r = readiness(maxLag: maxLag)
        stopLock.lock()
        let error = lastError
        let applied = lastApplied
        stopLock.unlock()
        var out = "{\"running\":true,\"ready\":\(r.ready),\"detail\":"
        JSONText.appendString(r.detail, to: &out)
        if let lag = r.lagSeconds { out += ",\"lag_seconds\":\(String(format: "%.3f", lag))" }
        out += ",\"applied\":"
        if let applied { JSONText.appendString(applied.description, to: &out) } else { out += "null" }
        out += ",\"last_error\":"
        if let error {
            out += "{\"time\":"
            JSONText.appendString(ISO8601DateFormatter().string(from: error.time), to: &out)
            out += ",\"message\":"
            JSONText.appendString(error.message, to: &out)
            out += "}"
        } else {
            out += "null"
        }
        return out + "}"
    }

    private func setStreaming(_ on: Bool) {
        stopLock.lock()
        streaming = on
        stopLock.unlock()
    }

    /// For `GET /ready`: ready while the reader streams and the sinks are within `maxLag`
    /// seconds of the source (every transaction read applied counts as no lag).
    public func readiness(maxLag: Double) -> Readiness {
        stopLock.lock()
        let (streaming, pending, since, stopped) = (self.streaming, self.pending, self.inFlight.first, self.stopRequested)
        stopLock.unlock()
        if stopped { return Readiness(ready: false, lagSeconds: nil, detail: "stopping") }
        guard streaming else { return Readiness(ready: false, lagSeconds: nil, detail: "not streaming from the source (connecting or reconnecting)") }
        if pending == 0 { return Readiness(ready: true, lagSeconds: 0, detail: "caught up") }
        let lag = since.map { max(0, Date().timeIntervalSince1970 - Double($0)) } ?? 0
        return lag <= maxLag
            ? Readiness(ready: true, lagSeconds: lag, detail: "applying; \(pending) transactions queued")
            : Readiness(ready: false, lagSeconds: lag, detail: "behind the source by \(Int(lag)) s (http.ready_max_lag is \(maxLag) s); \(pending) transactions queued")
    }

    /// The kind of an error, for `distributary_errors_total{kind}`.
    static func kind(of error: Error) -> String {
        switch error {
        case let e as SinkError: return "sink_\(e.code)"
        case is SinkConnectionLost: return "sink_connect"
        case is SourceError: return "source"
        case is PipelineError: return "pipeline"
        default: return "other"
        }
    }

    /// Runs until `requestStop` or a failure; throws the failure. When a sink loses its
    /// connection, reconnects it with capped exponential backoff (`source.reconnect`),
    /// re-reads its checkpoint and starts reading again from the lowest checkpoint;
    /// every sink skips what it already holds, so the end state is exact.
    public func run() async throws {
        if !snapshotSinks.isEmpty {
            let sinks = snapshotSinks
            guard try await snapshot(into: sinks, tables: mappedTables, sweep: !purgedSinks.isEmpty) else { return }
            snapshotSinks = []
            purgedSinks = []
        }
        // Until a batch is applied, the backlog counts from where reading starts (a first
        // batch held up by a slow sink still shows as progress at 0 rows/s).
        let startPosition = readerStart.position.file.isEmpty ? nil : readerStart.position
        let monitor = ProgressMonitor(options: connection, logger: logger, interval: 2, terminal: progressOnTerminal, metrics: metrics) { [self] in
            stopLock.lock()
            defer { stopLock.unlock() }
            return (lastApplied?.position ?? startPosition, rowsApplied)
        }
        monitor.start()
        stopLock.withLock { progress = monitor }
        defer {
            monitor.stop()
            stopLock.withLock { progress = nil }
        }
        let policy = ReconnectPolicy(initialDelaySeconds: config.source.reconnect.initialDelay,
                                     maxDelaySeconds: config.source.reconnect.maxDelay,
                                     maxAttempts: config.source.reconnect.maxAttempts)
        var failures = 0
        while true {
            do {
                try await runOnce()
                return
            } catch let lost as SinkConnectionLost {
                var cause: Error = lost.cause
                while true {
                    failures += 1
                    if userStopped { throw lost }
                    if let max = policy.maxAttempts, failures > max {
                        throw PipelineError("\(lost); gave up after \(max) reconnect attempts (source.reconnect.max_attempts). Last error: \(cause)")
                    }
                    let delay = policy.delay(afterFailures: failures, random: Double.random(in: 0...1))
                    metrics.reconnect(lost.sink)
                    noteError("\(lost.sink) connection failed (retrying): \(cause)")
                    logger.warning("sink connection failed; reconnecting", metadata: [
                        "sink": "\(lost.sink)", "cause": "\(cause)", "attempt": "\(failures)", "delay_s": "\(String(format: "%.2f", delay))"])
                    var waited = 0.0
                    while waited < delay && !userStopped {
                        try? await Task.sleep(nanoseconds: UInt64(min(0.1, delay - waited) * 1e9))
                        waited += 0.1
                    }
                    if userStopped { throw lost }
                    do {
                        try reconnect(sink: lost.sink)
                        failures = 0
                        break
                    } catch let error as SinkError where error.code == .connect {
                        cause = error
                    }
                }
            }
        }
    }

    /// `distributary snapshot`: loads `tables` (nil: every mapped table) into every sink, then
    /// returns. Sinks keep a checkpoint they have (the log from there is applied again on top
    /// by the next `run`); a sink without one gets the snapshot's position. Returns false when
    /// stopped early (the progress is kept; running it again resumes).
    public func snapshot(tables names: [String]?) async throws -> Bool {
        try await snapshot(into: sinks, tables: try selectTables(names))
    }

    /// `POST /resync?table=db.t`: starts an online resync of one table in this running
    /// pipeline. Returns the HTTP status and the JSON body.
    public func startOnlineResync(table name: String) -> (status: Int, body: String) {
        func failure(_ status: Int, _ message: String) -> (Int, String) {
            var body = "{\"error\":"
            JSONText.appendString(message, to: &body)
            return (status, body + "}")
        }
        guard let mapping = tableMapping(named: name) else {
            return failure(400, "table \(name) is not mapped by the configuration (mapped: \(mappedTables.map(\.qualifiedName).joined(separator: ", ")))")
        }
        // The table as it is now: a DDL since the start may have changed its columns.
        let schema: TableSchema
        do {
            guard let current = try SourceInspector(connection: try MySQLConnection(connection)).tableSchema(schema: mapping.schema, table: mapping.table) else {
                return failure(404, "table \(name) does not exist on the source (dropped?)")
            }
            schema = current
        } catch {
            return failure(503, "cannot read the definition of \(name) from the source: \(error)")
        }
        stopLock.lock()
        defer { stopLock.unlock() }
        if let current = online, current.isRunning {
            return failure(409, "an online resync of \(current.mapping.qualifiedName) is running; wait for it (GET /resync)")
        }
        if stopRequested { return failure(503, "the replicator is stopping") }
        let watermark = config.source.watermarkTable.split(separator: ".").map(String.init)
        do {
            let resync = try OnlineResync(mapping: mapping, schema: schema, key: try Snapshotter.key(of: mapping, schema: schema),
                                          pipeline: config, options: connection, watermarkTable: (watermark[0], watermark[1]),
                                          mapped: mappedTables, logger: logger)
            // Done (the router is at the sweep's watermark): the table is no longer stale,
            // and this batch's checkpoint says so.
            resync.onSwept = { [self] in resyncPendingTables.removeAll { $0 == name } }
            online = resync
            resync.start()
            return (202, resync.json)
        } catch {
            return failure(400, "\(error)")
        }
    }

    /// The mapping of `db.table`: one of the tables mapped at start, or one created since
    /// that a pattern maps.
    private func tableMapping(named name: String) -> TableMapping? {
        if let t = mappedTables.first(where: { $0.qualifiedName == name }) { return t }
        guard let dot = name.firstIndex(of: ".") else { return nil }
        return config.mapping(schema: String(name[..<dot]), table: String(name[name.index(after: dot)...]))
    }

    /// DDL in the log on mapped tables: their rows changed without row events (TRUNCATE,
    /// ALTER … ADD/DROP/MODIFY COLUMN, DROP, RENAME, CREATE OR REPLACE), so entries of rows
    /// not changed since are stale. Marks them pending in every sink (persisted with this
    /// batch's checkpoint) and queues an online resync (`source.resync_on_ddl`).
    private func noteDDL(_ transaction: Transaction) {
        for target in transaction.ddl {
            guard let mapping = config.mapping(schema: target.schema, table: target.table) else { continue }
            let name = mapping.qualifiedName
            // A new table is empty: only one dropped before (still pending) needs its resync now.
            if target.kind == .create && !resyncPendingTables.contains(name) { continue }
            if !resyncPendingTables.contains(name) { resyncPendingTables.append(name) }
            stopLock.lock()
            let current = online
            stopLock.unlock()
            let running = current.flatMap { $0.isRunning && $0.mapping.qualifiedName == name ? $0 : nil }
            if config.source.resyncOnDDL {
                logger.warning("DDL on a mapped table: rows it changed have no row events, so the table is resynced online", metadata: [
                    "table": "\(name)", "ddl": "\(target)", "at": "\(transaction.end)"])
                // A resync of the table that read it before this DDL starts over.
                running?.stop()
                if !ddlResyncs.contains(where: { $0.table == name }) { ddlResyncs.append((name, Date())) }
            } else {
                logger.warning("DDL on a mapped table: entries of rows not changed since may be stale (source.resync_on_ddl is off); resync it: `distributary resync --online --config FILE --table \(name)`", metadata: [
                    "table": "\(name)", "ddl": "\(target)", "at": "\(transaction.end)"])
            }
        }
    }

    /// Starts the next queued DDL resync when none runs (router thread).
    private func startQueuedResync() {
        stopLock.lock()
        let current = online
        stopLock.unlock()
        if let current, current.isRunning { return }
        if let table = ddlResyncRunning {
            ddlResyncRunning = nil
            if resyncPendingTables.contains(table), !ddlResyncs.contains(where: { $0.table == table }) {
                // Stopped by a newer DDL: again now. Failed (a missing watermark table, a
                // source hiccup): again in a minute.
                let failed = current?.state == .failed && current?.error?.contains("stopped") != true
                if failed { noteError("online resync of \(table) after DDL failed (retrying in a minute): \(current?.error ?? "")") }
                ddlResyncs.append((table, Date().addingTimeInterval(failed ? 60 : 0)))
            }
        }
        guard let next = ddlResyncs.firstIndex(where: { $0.notBefore <= Date() }) else { return }
        let table = ddlResyncs.remove(at: next).table
        guard resyncPendingTables.contains(table) else { return }
        let (status, body) = startOnlineResync(table: table)
        switch status {
        case 202:
            ddlResyncRunning = table
        case 409:
            ddlResyncs.insert((table, Date()), at: 0)
        case 503 where body.contains("stopping"):
            break
        case 404:
            logger.warning("a mapped table with DDL pending no longer exists: its entries stay in the stores until it is created again (then it is resynced) or its keys are deleted", metadata: ["table": "\(table)"])
        default:
            noteError("online resync of \(table) after DDL could not start: \(body)")
            logger.error("online resync after DDL could not start; retrying in a minute", metadata: ["table": "\(table)", "error": "\(body)"])
            ddlResyncs.append((table, Date().addingTimeInterval(60)))
        }
    }

    /// `GET /resync`: the online resync in progress or last finished.
    public func onlineResyncStatus() -> (status: Int, body: String) {
        stopLock.lock()
        let current = online
        stopLock.unlock()
        guard let current else { return (404, "{\"error\":\"no online resync has run since the replicator started\"}") }
        return (200, current.json)
    }

    /// The index's live ids, for the sweep of an online resync, when the resynced table is
    /// the only one feeding its index.
    private func resyncIndexView(_ resync: OnlineResync) -> IndexStoreView? {
        guard let name = resync.mapping.index?.name, let store = indexStore,
              mappedTables.filter({ $0.index?.name == name }).count == 1 else { return nil }
        return IndexStoreView(documentIDs: { store.snapshot().documentIDs(index: $0) })
    }

    /// `distributary resync`: loads `tables` like `snapshot` and then removes what the stores
    /// hold for them that no row produced (Redis keys of the tables' key patterns, documents
    /// of indexes only they feed): entries of rows deleted while a sink was behind or
    /// written by hand. The index gets the tables' documents in one commit.
    public func resync(tables names: [String]) async throws -> Bool {
        try await snapshot(into: sinks, tables: try selectTables(names), sweep: true)
    }

    private func selectTables(_ names: [String]?) throws -> [TableMapping] {
        guard let names else { return mappedTables }
        return try names.map { name in
            guard let t = mappedTables.first(where: { $0.qualifiedName == name }) else {
                throw PipelineError("--table \(name): the configuration maps no existing table of that name (mapped: \(mappedTables.map(\.qualifiedName).joined(separator: ", ")))")
            }
            return t
        }
    }

    /// Runs the Snapshotter on a thread of its own; on success the sinks' marks become their
    /// new checkpoints and the reader starts from the lowest mark.
    private func snapshot(into targets: [Sink], tables: [TableMapping], sweep: Bool = false) async throws -> Bool {
        let ids = targets.map { ObjectIdentifier($0) }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                do {
                    continuation.resume(returning: try runSnapshot(into: sinks.filter { ids.contains(ObjectIdentifier($0)) }, tables: tables, sweep: sweep))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = sweep ? "resync" : "snapshot"
            thread.start()
        }
    }

    private func runSnapshot(into targets: [Sink], tables: [TableMapping], sweep: Bool = false) throws -> Bool {
        if let purged = targets.first(where: { purgedSinks.contains(ObjectIdentifier($0)) }),
           Set(tables.map(\.qualifiedName)) != Set(mappedTables.map(\.qualifiedName)) {
            throw PipelineError("the \(purged.name) checkpoint (\(purged.checkpoint.map { "\($0)" } ?? "?")) is no longer in the server's binlogs, so the tables not reloaded cannot catch up from the log: reload every mapped table at once (`distributary resync --config FILE` with --table for each of \(mappedTables.map(\.qualifiedName).joined(separator: ", "))); the checkpoint then moves to the reload's position")
        }
        if sweep, let purged = targets.first(where: { purgedSinks.contains(ObjectIdentifier($0)) }) {
            logger.notice("the sink's checkpoint was purged from the server; after this resync of every mapped table it moves to the resync's position", metadata: ["sink": "\(purged.name)"])
        }
        var bases: [ObjectIdentifier: Checkpoint] = [:]
        var progress: [SnapshotProgress?] = []
        for sink in targets {
            if var cp = sink.checkpoint, !purgedSinks.contains(ObjectIdentifier(sink)) {
                progress.append(SnapshotProgress.decode(cp.snapshot))
                cp.snapshot = nil
                bases[ObjectIdentifier(sink)] = cp
            } else {
                progress.append(nil)
            }
        }
        // Resume when every target holds progress of the same tables, from the one that got
        // least far (sinks apply on threads of their own, so one may be a chunk or two ahead:
        // loading those rows again converges like any reload). Else load them all again.
        let resume: SnapshotProgress? = {
            let all = progress.compactMap { $0 }
            guard all.count == progress.count, let first = all.first, all.allSatisfy({ $0.tables == first.tables }) else { return nil }
            return all.min { $0.rows < $1.rows }
        }()
        let snapshotter = Snapshotter(config: config, logger: logger, options: connection, isMariaDB: isMariaDB)
        snapshotter.terminal = progressOnTerminal
        snapshotter.replaceEntries = sweep || targets.contains { $0.checkpoint != nil }
        let written = WrittenKeys()
        if sweep {
            for case let sink as SearchIndexSink in targets { sink.holdCommits = true }
            snapshotter.onRouted = { written.add($0) }
        }
        guard let result = try snapshotter.run(tables: tables, schemas: schemas, sinks: targets, bases: bases,
                                               resume: sweep ? nil : resume, shouldStop: { [self] in userStopped }) else { return false }
        if sweep {
            // Reloaded and swept: no longer stale after a DDL (stored with the sweep's checkpoint).
            let names = Set(tables.map(\.qualifiedName))
            for sink in targets { sink.resyncPending.removeAll { names.contains($0) } }
            resyncPendingTables.removeAll { names.contains($0) }
            try Resync.sweep(config: config, logger: logger, tables: tables, mapped: mappedTables, written: written,
                             sinks: targets, checkpoints: result.checkpoints)
            for case let sink as SearchIndexSink in targets { sink.holdCommits = false; try sink.flush() }
        }
        for sink in targets {
            let m = try mark(for: result.checkpoints[ObjectIdentifier(sink)]!)
            marks[ObjectIdentifier(sink)] = m
            waits.advanced(sink: sink.name, to: .init(position: m.position, gtid: m.gtid, mysqlGTIDs: m.mysqlGTIDs))
        }
        let all = sinks.compactMap { marks[ObjectIdentifier($0)] }
        let lowest = all.compactMap(\.position).min() ?? result.point.position
        readerStart = ResumePoint(position: lowest,
                                  gtid: useGTID ? GTIDPosition.lowest(all.map { $0.gtid ?? GTIDPosition() }) : nil,
                                  mysqlGTIDs: all.first { $0.position == lowest }?.mysqlGTIDs)
        stopLock.lock(); rowsApplied += result.rows; stopLock.unlock()
        return true
    }

    /// The mark of a stored checkpoint (same server as the source's).
    private func mark(for cp: Checkpoint) throws -> SinkMark {
        if useGTID, let text = cp.gtidPosition {
            return SinkMark(position: cp.sourceServerID == sourceServerID ? cp.position : nil,
                            gtid: try GTIDPosition(parsing: text, what: "the checkpoint's gtid_position"))
        }
        return SinkMark(position: cp.position, gtid: nil,
                        mysqlGTIDs: cp.gtidPosition.flatMap { try? MySQLGTIDSet(parsing: $0, what: "the checkpoint's gtid_position") })
    }

    /// Hash updates write only the changed fields when asked (`redis.changed_fields_only`)
    /// and Redis keeps keys without a TTL (`Router.writeChangedFieldsOnly`); when asked, the
    /// log says which applies, since it changes what Redis is asked to do for every update.
    private func setChangedFieldsOnly(_ sink: RedisCacheSink) {
        let on = sink.allowsChangedFieldsOnly
        if sink.changedFieldsRequested && (on != router.writeChangedFieldsOnly || !changedFieldsLogged) {
            logger.info(on ? "hash updates set only the changed fields" : "hash updates set every field", metadata: [
                "maxmemory_policy": "\(sink.maxmemoryPolicy ?? (config.redis?.cluster == true ? "cluster" : "unknown (CONFIG GET not allowed)"))"])
            changedFieldsLogged = true
        }
        router.writeChangedFieldsOnly = on
    }
    private var changedFieldsLogged = false

    /// Opens a new connection for the named sink, takes its stored checkpoint as its
    /// mark, and moves the reader's start to the lowest mark of all sinks.
    private func reconnect(sink name: String) throws {
        guard name == "redis", let redis = config.redis,
              let index = sinks.firstIndex(where: { $0.name == name }) else { return }
        let sink = try RedisCacheSink(config: redis, pipelineName: config.name, logger: logger,
                                      mappings: MappingFingerprint.all(config, sink: "redis"))
        guard let cp = sink.checkpoint else {
            throw PipelineError("Redis came back without the checkpoint distributary:\(config.name):checkpoint: its data was lost (a restart without persistence, or FLUSHALL), so the cache cannot be caught up from the log alone. Run `distributary resync --config FILE --table DB.TABLE` for the mapped tables, or delete the cache and start over with source.start: earliest")
        }
        let mark: SinkMark
        if useGTID, let text = cp.gtidPosition {
            mark = SinkMark(position: cp.sourceServerID == sourceServerID ? cp.position : nil,
                            gtid: try GTIDPosition(parsing: text, what: "the redis checkpoint's gtid_position"))
        } else {
            mark = SinkMark(position: cp.position, gtid: nil)
        }
        marks[ObjectIdentifier(sinks[index])] = nil
        sinks[index] = sink
        setChangedFieldsOnly(sink)
        marks[ObjectIdentifier(sink)] = mark
        let all = sinks.compactMap { marks[ObjectIdentifier($0)] }
        readerStart = ResumePoint(position: all.compactMap(\.position).min() ?? mark.position ?? readerStart.position,
                                  gtid: useGTID ? GTIDPosition.lowest(all.map { $0.gtid ?? GTIDPosition() }) : nil)
        logger.info("sink reconnected; replaying from its checkpoint", metadata: ["sink": "\(name)", "checkpoint": "\(cp)", "reader_from": "\(readerStart)"])
    }

    private func resetForRun() {
        stopLock.lock()
        failure = nil
        stopRequested = userStopRequested
        streaming = false
        pending = 0
        delivered = 0
        inFlight = []
        stopLock.unlock()
        queue = Self.makeQueue(budget: config.memoryBudget)
        // Each sink may run up to 8 batches (and a sixteenth of the budget in binlog bytes)
        // ahead of the slowest.
        let budget = config.memoryBudget / 16
        sinkQueues = sinks.map { _ in BlockingQueue<RoutedBatch>(capacity: 8, budget: budget) { $0.bytes } }
        addPendingResyncs(of: sinks)
        // The index commits less often while a backlog is caught up.
        for case let index as SearchIndexSink in sinks {
            index.catchUpPendingBytes = config.memoryBudget / 4
            index.catchingUp = { [unowned self] in stopLock.withLock { progress?.isCatchingUp ?? false } }
        }
    }

    /// The progress monitor of the running `run` (under `stopLock`).
    private var progress: ProgressMonitor?

    /// Adds the tables the sinks' checkpoints say a DDL left stale to `resyncPendingTables`.
    private func addPendingResyncs(of sinks: [Sink]) {
        for sink in sinks { for t in sink.resyncPending where !resyncPendingTables.contains(t) { resyncPendingTables.append(t) } }
    }

    /// Decoded transactions take about 4 bytes of memory per byte of binlog (the event
    /// bytes plus a 24-byte slot per value), so the queue holds at most a thirty-second of
    /// the budget in binlog bytes (about an eighth decoded, tens of thousands of rows: enough
    /// to keep the router busy); the sinks' queues of routed batches, the batches being
    /// applied and the index's pending documents take the rest. Pieces of large
    /// transactions are a sixteenth.
    static func makeQueue(budget: Int) -> BlockingQueue<StreamedTransaction> {
        BlockingQueue(capacity: 4096, budget: budget / 32) { $0.transaction.byteCount }
    }

    /// One run of the reader, router and sink threads, until a stop or a failure.
    private func runOnce() async throws {
        resetForRun()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let group = DispatchGroup()
            group.enter()
            let reader = Thread { [self] in
                readLoop()
                group.leave()
            }
            reader.name = "binlog-reader"
            group.enter()
            let router = Thread { [self] in
                routeLoop()
                group.leave()
            }
            router.name = "router"
            var appliers: [Thread] = []
            for i in sinks.indices {
                group.enter()
                let applier = Thread { [self] in
                    sinkLoop(i)
                    group.leave()
                }
                applier.name = "sink-\(sinks[i].name)"
                appliers.append(applier)
            }
            reader.start()
            router.start()
            for applier in appliers { applier.start() }
            group.notify(queue: .global()) { [self] in
                stopLock.lock()
                let error = failure
                let applied = lastApplied
                stopLock.unlock()
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    logger.info("stopped cleanly", metadata: ["checkpoint": "\(applied?.description ?? "unchanged")"])
                    continuation.resume()
                }
            }
        }
    }

    private func readLoop() {
        defer { queue.close() }
        let logger = self.logger
        let follower = BinlogFollower(
            options: connection, replicaServerID: config.source.serverID, heartbeatSeconds: config.source.heartbeat,
            policy: ReconnectPolicy(initialDelaySeconds: config.source.reconnect.initialDelay,
                                    maxDelaySeconds: config.source.reconnect.maxDelay,
                                    maxAttempts: config.source.reconnect.maxAttempts),
            useGTID: useGTID, expectedServerID: sourceServerID,
            reportHost: SourceInspector.registrationHost(pipeline: config.name),
            notice: { notice in
                switch notice {
                case .connected(let from, let serverID, let attempt):
                    self.setStreaming(true)
                    logger.info(attempt == 0 ? "streaming binlog" : "reconnected; streaming binlog", metadata: [
                        "from": "\(from)", "server_id": "\(serverID)", "attempt": "\(attempt)"])
                case .retrying(let cause, let attempt, let delay, let resume):
                    self.setStreaming(false)
                    self.metrics.reconnect("source")
                    self.noteError("source connection failed (retrying): \(cause.message)")
                    logger.warning("source connection failed; reconnecting", metadata: [
                        "cause": "\(cause.message)", "attempt": "\(attempt)",
                        "delay_s": "\(String(format: "%.2f", delay))", "resume_from": "\(resume)"])
                }
            })
        follower.pieceBytes = config.memoryBudget / 16
        let config = self.config
        let watermark = config.source.watermarkTable.split(separator: ".").map(String.init)
        follower.tableFilter = { config.mapping(schema: $0, table: $1) != nil || ($0 == watermark[0] && $1 == watermark[1]) }
        let namer = ColumnNamer(options: connection, isMapped: { config.mapping(schema: $0, table: $1) != nil },
                                warn: { logger.warning("\($0)") })
        do {
            var inPieces = false
            try follower.run(from: readerStart, shouldStop: { [self] in shouldStop }) { transaction, after in
                if transaction.isPartial && !inPieces {
                    logger.info("applying a large transaction in pieces; its checkpoint moves once it is whole", metadata: [
                        "gtid": "\(transaction.gtid ?? "none")", "after": "\(after.position)",
                        "piece": "more than \(config.memoryBudget / 16) bytes of rows (memory_budget / 16)"])
                }
                inPieces = transaction.isPartial
                var transaction = transaction
                try namer.fill(&transaction)
                metrics.read(transaction)
                stopLock.lock(); pending += 1; delivered += 1; stopLock.unlock()
                return queue.push(StreamedTransaction(transaction: transaction, after: after))
            }
        } catch {
            fail(error)
        }
    }

    /// What the router hands every sink's thread: routed transactions and the checkpoint
    /// after each. Each sink applies batches in order; a batch counts as applied when the
    /// last sink is done with it.
    final class RoutedBatch: @unchecked Sendable {
        let routed: [RoutedTransaction]
        let checkpoints: [Checkpoint]
        /// Where reading resumes after the last transaction.
        let last: ResumePoint
        let transactions: Int
        let rows: Int
        let bytes: Int
        /// Tables a DDL left stale, as of the end of this batch (stored with its checkpoint).
        let resyncPending: [String]
        /// Sinks yet to apply it (under the pipeline's `stopLock`).
        var remaining: Int

        init(routed: [RoutedTransaction], checkpoints: [Checkpoint], last: ResumePoint, transactions: Int, bytes: Int,
             resyncPending: [String], sinks: Int) {
            self.routed = routed
            self.checkpoints = checkpoints
            self.last = last
            self.transactions = transactions
            self.rows = routed.reduce(0) { $0 + $1.rowCount }
            self.bytes = bytes
            self.resyncPending = resyncPending
            self.remaining = sinks
        }
    }

    /// The router: takes read transactions in batches, routes them (with the online
    /// resync's watermarks and DDL), and hands each batch to every sink's thread. A slow
    /// sink (the index committing) holds back only itself, up to its queue's bound; then the
    /// router, and through it the reader, wait.
    private func routeLoop() {
        defer { for q in sinkQueues { q.close() } }
        var batch: [StreamedTransaction] = []
        do {
            while true {
                if !ddlResyncs.isEmpty || ddlResyncRunning != nil { startQueuedResync() }
                guard let first = queue.pop(until: Date().addingTimeInterval(1)) else {
                    if queue.isFinished { break }
                    continue
                }
                batch.removeAll(keepingCapacity: true)
                batch.append(first)
                var rows = first.transaction.changes.count
                // Greedy: take what is ready; with redis.batch.ms, wait that long at most for more.
                let wait = config.redis?.batchMilliseconds ?? 0
                let deadline = Date().addingTimeInterval(Double(wait) / 1000)
                while rows < config.batchRows,
                      let next = queue.tryPop() ?? (wait > 0 ? queue.pop(until: deadline) : nil) {
                    batch.append(next)
                    rows += next.transaction.changes.count
                }
                let routed = try route(batch)
                stopLock.lock(); inFlight.append(first.transaction.timestamp); stopLock.unlock()
                var delivered = true
                for q in sinkQueues where !q.push(routed) { delivered = false }
                if !delivered { break } // a sink stopped on a failure, which it recorded
            }
        } catch {
            fail(error)
        }
    }

    /// One sink's thread: applies the router's batches in order (several at once when they
    /// are ready: one MULTI/EXEC run or one index commit for all), stores its checkpoint
    /// with them, and wakes the read-your-writes waiters of this sink.
    private func sinkLoop(_ i: Int) {
        let sink = sinks[i], q = sinkQueues[i]
        stopLock.lock()
        var mark = marks[ObjectIdentifier(sink)]!
        stopLock.unlock()
        var group: [RoutedBatch] = []
        // Where the read-your-writes waiters of this sink go once its held writes are visible.
        var heldWait: WaitRegistry.SinkPosition?
        // Transactions this sink has received, and when its last batch came.
        var received = 0
        var lastBatch = Date()
        do {
            while true {
                // Idle: let the sink store what it held back (the index commits a
                // checkpoint-only batch at most once a second, and while catching up
                // commits every few seconds), so its checkpoint does not stand behind the
                // source while nothing more comes: after 50 ms without a batch when it
                // holds writes back, after a second when it holds only a checkpoint.
                guard let first = q.pop(until: Date().addingTimeInterval(heldWait == nil ? 1 : 0.05)) else {
                    if q.isFinished { break }
                    // Held writes while the reader has delivered transactions this sink has
                    // not received (being routed, or queued behind a slower sink): more is
                    // coming, so the sink holds on (up to a second) instead of committing
                    // in the middle of a catch-up whenever the router pauses for 50 ms.
                    if heldWait != nil, Date().timeIntervalSince(lastBatch) < 1,
                       stopLock.withLock({ delivered }) > received {
                        continue
                    }
                    try sink.flush()
                    if let p = heldWait { waits.advanced(sink: sink.name, to: p); heldWait = nil }
                    continue
                }
                group.removeAll(keepingCapacity: true)
                group.append(first)
                var rows = first.rows
                while rows < 8 * config.batchRows, let next = q.tryPop() {
                    group.append(next)
                    rows += next.rows
                }
                for b in group { received += b.transactions }
                lastBatch = Date()
                try apply(group, to: sink, mark: &mark, heldWait: &heldWait)
                stopLock.lock()
                for b in group {
                    b.remaining -= 1
                    if b.remaining == 0 {
                        lastApplied = b.checkpoints.last
                        rowsApplied += b.rows
                        pending -= b.transactions
                        if !inFlight.isEmpty { inFlight.removeFirst() }
                    }
                }
                stopLock.unlock()
            }
            stopLock.lock()
            let failed = failure != nil
            stopLock.unlock()
            if !failed {
                try sink.flush()
                if let p = heldWait { waits.advanced(sink: sink.name, to: p) }
            }
        } catch {
            q.close()
            fail(error)
        }
    }

    private var lastApplied: Checkpoint?
    /// The checkpoint after the last whole transaction routed (router thread).
    private var lastRouted: Checkpoint?

    private func route(_ batch: [StreamedTransaction]) throws -> RoutedBatch {
        var routed: [RoutedTransaction] = []
        routed.reserveCapacity(batch.count)
        stopLock.lock()
        let resync = online.flatMap { $0.isRunning ? $0 : nil }
        stopLock.unlock()
        router.replacingTable = resync.map { ($0.mapping.schema, $0.mapping.table) }
        var bytes = 0
        for streamed in batch {
            if !streamed.transaction.ddl.isEmpty { noteDDL(streamed.transaction) }
            var r = try router.route(streamed.transaction)
            if let resync { try resync.observe(streamed.transaction, routed: &r, router: &router, indexStore: resyncIndexView(resync)) }
            routed.append(r)
            bytes += streamed.transaction.byteCount
        }
        var checkpoints: [Checkpoint] = []
        checkpoints.reserveCapacity(routed.count)
        for i in routed.indices {
            let after = batch[i].after
            if routed[i].isPartial {
                // A piece of a larger transaction: the checkpoint stays after the last whole one.
                if i > 0, let j = routed[..<i].lastIndex(where: { !$0.isPartial }) {
                    checkpoints.append(checkpoints[j])
                    continue
                }
                let previous = lastRouted.flatMap { $0.position == after.position ? $0 : nil }
                checkpoints.append(Checkpoint(position: after.position, gtid: previous?.gtid,
                                              gtidPosition: after.gtid?.description ?? after.mysqlGTIDs?.description,
                                              sourceServerID: after.serverID ?? sourceServerID, timestamp: previous?.timestamp ?? 0))
            } else {
                let checkpoint = Checkpoint(position: routed[i].end, gtid: routed[i].gtid,
                                            gtidPosition: after.gtid?.description ?? after.mysqlGTIDs?.description,
                                            sourceServerID: after.serverID ?? sourceServerID, timestamp: routed[i].timestamp)
                checkpoints.append(checkpoint)
                lastRouted = checkpoint
            }
        }
        return RoutedBatch(routed: routed, checkpoints: checkpoints, last: batch[batch.count - 1].after, transactions: batch.count,
                           bytes: bytes, resyncPending: resyncPendingTables, sinks: sinkQueues.count)
    }

    /// Applies `group` (consecutive batches) to `sink`, skipping what its checkpoint already holds.
    private func apply(_ group: [RoutedBatch], to sink: Sink, mark: inout SinkMark, heldWait: inout WaitRegistry.SinkPosition?) throws {
        let routed = group.count == 1 ? group[0].routed : group.flatMap(\.routed)
        let checkpoints = group.count == 1 ? group[0].checkpoints : group.flatMap(\.checkpoints)
        let last = group[group.count - 1].last
        let current = mark
        let firstNew = routed.firstIndex { !current.holds(end: $0.end, gtid: $0.gtid) } ?? routed.endIndex
        if firstNew == routed.endIndex { return }
        let checkpoint = checkpoints[checkpoints.count - 1]
        sink.resyncPending = group[group.count - 1].resyncPending
        let started = DispatchTime.now().uptimeNanoseconds
        let visible: Bool
        do {
            visible = try sink.apply(routed[firstNew...], checkpoint: checkpoint, checkpointAfter: { checkpoints[$0] })
            let rows = routed[firstNew...].reduce(0) { $0 + $1.rowCount }
            metrics.applied(sink: sink.name, transactions: routed.count - firstNew, rows: rows,
                            nanoseconds: DispatchTime.now().uptimeNanoseconds - started, sourceTimestamp: checkpoint.timestamp)
        } catch let error as SinkError where error.code == .connect {
            throw SinkConnectionLost(sink: sink.name, cause: error)
        } catch {
            throw PipelineError("the \(sink.name) sink failed applying transactions up to \(checkpoint): \(error)")
        }
        mark = SinkMark(position: checkpoint.position, gtid: last.gtid, mysqlGTIDs: last.mysqlGTIDs)
        stopLock.lock(); marks[ObjectIdentifier(sink)] = mark; stopLock.unlock()
        if !routed[routed.count - 1].isPartial {
            heldWait = .init(position: checkpoint.position, gtid: last.gtid, mysqlGTIDs: last.mysqlGTIDs)
        }
        if visible, let p = heldWait {
            waits.advanced(sink: sink.name, to: p)
            heldWait = nil
        }
        logger.debug("applied batch", metadata: ["sink": "\(sink.name)", "transactions": "\(routed.count - firstNew)", "checkpoint": "\(checkpoint)"])
    }
}
