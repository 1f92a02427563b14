import BinlogCore
import Foundation
import Logging
import MySQLSource
import RedisSink
import Routing
import SearchIndex

/// The replication pipeline: one thread reads and decodes the binlog and assembles
/// transactions; another routes them and applies them to every sink in batches.
/// A bounded queue between them makes a slow sink slow the reader down.
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
    private var readerStart = BinlogPosition(file: "", offset: 4)
    private var skipThrough: [ObjectIdentifier: BinlogPosition] = [:]

    private let stopLock = NSLock()
    private var stopRequested = false
    private var failure: Error?
    private let queue = BlockingQueue<Transaction>(capacity: 256)

    /// Opens the sinks, checks the source and validates the config against its tables.
    /// Throws before anything is written if any of that fails.
    public init(config: PipelineConfig, logger: Logger) throws {
        if case .gtid = config.source.start {
            throw ConfigError("source.start.gtid", "starting from a GTID is not supported yet; start from earliest, latest or {file: …, pos: …}")
        }
        if config.source.snapshot != .never {
            throw ConfigError("source.snapshot", "snapshots are not implemented yet; set `snapshot: never` (the replicator then follows changes from source.start on)")
        }

        let connection = try Self.connectionOptions(config.source)
        let inspector = SourceInspector(connection: try MySQLConnection(connection))
        let info = try inspector.serverInfo()
        try inspector.checkSettings(replicaServerID: config.source.serverID)
        var schemas: [String: TableSchema] = [:]
        for t in config.tables {
            if let s = try inspector.tableSchema(schema: t.schema, table: t.table) { schemas[t.qualifiedName] = s }
        }
        try config.validate(against: schemas)
        self.config = config
        self.logger = logger
        self.connection = connection
        self.router = Router(config: config, schemas: schemas)
        self.sourceServerID = info.serverID
        logger.info("source ready", metadata: ["source": "\(connection.endpoint)", "version": "\(info.version)", "server_id": "\(info.serverID)"])

        if let redis = config.redis {
            sinks.append(try RedisCacheSink(url: try RedisURL(parsing: redis.url), pipelineName: config.name,
                                             maxCommands: redis.batchCommands, maxBytes: redis.batchBytes))
        }
        if let index = config.index {
            let store = try IndexStore(directory: index.path, schemas: config.indexSchemas)
            indexStore = store
            sinks.append(try SearchIndexSink(store: store))
        }

        let configuredStart: BinlogPosition = try {
            switch config.source.start {
            case .earliest: return try inspector.resolve(.earliest)
            case .latest: return try inspector.resolve(.latest)
            case .position(let file, let offset): return try inspector.resolve(.position(BinlogPosition(file: file, offset: offset)))
            case .gtid: throw ConfigError("source.start.gtid", "not supported yet")
            }
        }()
        var starts: [BinlogPosition] = []
        for sink in sinks {
            let start: BinlogPosition
            if let cp = sink.checkpoint {
                guard cp.sourceServerID == info.serverID else {
                    throw PipelineError("the \(sink.name) checkpoint (\(cp)) was written from a source with server_id \(cp.sourceServerID), but \(connection.endpoint) has server_id \(info.serverID): its positions do not apply here. Point source.host at the server the data came from, or clear the \(sink.name) data and checkpoint to start over")
                }
                do {
                    start = try inspector.resolve(.position(cp.position))
                } catch let error as SourceError {
                    throw PipelineError("the \(sink.name) checkpoint \(cp) cannot be resumed: \(error.message)")
                }
                logger.info("resuming sink", metadata: ["sink": "\(sink.name)", "checkpoint": "\(cp)"])
            } else {
                start = configuredStart
                logger.info("sink has no checkpoint; starting from source.start", metadata: ["sink": "\(sink.name)", "position": "\(start)"])
            }
            skipThrough[ObjectIdentifier(sink)] = start
            starts.append(start)
        }
        readerStart = starts.min() ?? configuredStart
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
        }
        return ConnectionOptions(host: source.host, port: source.port, socket: source.socket, user: source.user, password: password)
    }

    /// Asks the pipeline to finish: the reader stops at the next event or heartbeat,
    /// the applier applies every complete transaction already read, checkpoints, and ends.
    public func requestStop() {
        stopLock.lock()
        stopRequested = true
        stopLock.unlock()
    }

    private var shouldStop: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopRequested
    }

    private func fail(_ error: Error) {
        stopLock.lock()
        if failure == nil { failure = error }
        stopRequested = true
        stopLock.unlock()
        queue.close()
    }

    /// Runs until `requestStop` or a failure; throws the failure.
    public func run() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let group = DispatchGroup()
            group.enter()
            let reader = Thread { [self] in
                readLoop()
                group.leave()
            }
            reader.name = "binlog-reader"
            group.enter()
            let applier = Thread { [self] in
                applyLoop()
                group.leave()
            }
            applier.name = "sink-applier"
            reader.start()
            applier.start()
            group.notify(queue: .global()) { [self] in
                stopLock.lock()
                let error = failure
                stopLock.unlock()
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }

    private func readLoop() {
        defer { queue.close() }
        do {
            logger.info("streaming binlog", metadata: ["from": "\(readerStart)"])
            let stream = try BinlogStream(options: connection, replicaServerID: config.source.serverID, start: readerStart)
            var decoder = EventDecoder()
            var assembler = TransactionAssembler()
            while !shouldStop {
                let more = try stream.next { bytes in
                    let event = try decoder.decode(bytes)
                    if let transaction = try assembler.consume(event) {
                        queue.push(transaction)
                    }
                }
                if !more {
                    throw SourceError(.stream, "\(connection.endpoint) ended the binlog stream (server shutdown?)")
                }
            }
        } catch {
            fail(error)
        }
    }

    private func applyLoop() {
        var batch: [Transaction] = []
        do {
            while let first = queue.pop() {
                batch.removeAll(keepingCapacity: true)
                batch.append(first)
                var rows = first.changes.count
                while rows < config.batchRows, let next = queue.tryPop() {
                    batch.append(next)
                    rows += next.changes.count
                }
                try apply(batch)
            }
            stopLock.lock()
            let failed = failure != nil
            stopLock.unlock()
            if !failed {
                for sink in sinks { try sink.flush() }
                logger.info("stopped cleanly", metadata: ["checkpoint": "\(lastApplied?.description ?? "unchanged")"])
            }
        } catch {
            fail(error)
        }
    }

    private var lastApplied: Checkpoint?

    private func apply(_ batch: [Transaction]) throws {
        var routed: [RoutedTransaction] = []
        routed.reserveCapacity(batch.count)
        for transaction in batch { routed.append(try router.route(transaction)) }
        guard let last = routed.last else { return }
        let checkpoint = Checkpoint(position: last.end, gtid: last.gtid, sourceServerID: sourceServerID, timestamp: last.timestamp)
        for sink in sinks {
            let skip = skipThrough[ObjectIdentifier(sink)]!
            let firstNew = routed.firstIndex { $0.end > skip } ?? routed.endIndex
            if firstNew == routed.endIndex { continue }
            do {
                try sink.apply(routed[firstNew...], checkpoint: checkpoint)
            } catch {
                throw PipelineError("the \(sink.name) sink failed applying transactions up to \(checkpoint): \(error)")
            }
            skipThrough[ObjectIdentifier(sink)] = checkpoint.position
        }
        lastApplied = checkpoint
        logger.debug("applied batch", metadata: ["transactions": "\(batch.count)", "checkpoint": "\(checkpoint)"])
    }
}
