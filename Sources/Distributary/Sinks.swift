import BinlogCore
import Foundation
import Logging
import RedisSink
import Routing
import SearchIndex

/// A derived store the pipeline writes in batches, each batch carrying its checkpoint.
protocol Sink: AnyObject {
    var name: String { get }
    /// The checkpoint the store holds, read when the pipeline starts.
    var checkpoint: Checkpoint? { get }
    /// Applies the writes of `transactions` and stores `checkpoint` atomically with them.
    /// `checkpoint` is the last transaction's; `checkpointAfter(i)` is the one just past
    /// `transactions[i]`, for a sink that commits a batch in several pieces.
    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws
    /// Stores any checkpoint `apply` held back (called on a clean stop).
    func flush() throws
}

/// The Redis cache: one MULTI/EXEC per batch, checkpoint inside it. A batch holds whole
/// transactions up to `redis.batch.commands` commands and `redis.batch.bytes` bytes; a
/// pipeline batch over those bounds goes as several MULTI/EXECs, each with the checkpoint
/// of its last transaction.
final class RedisCacheSink: Sink {
    let name = "redis"
    let checkpoint: Checkpoint?
    private let sink: RedisSink
    private let maxCommands: Int
    private let maxBytes: Int

    /// Connects to `config.url`; batch bounds from `config.batch*`.
    convenience init(config: RedisConfig, pipelineName: String) throws {
        try self.init(url: try RedisURL(parsing: config.url), pipelineName: pipelineName,
                      maxCommands: config.batchCommands, maxBytes: config.batchBytes)
    }

    init(url: RedisURL, pipelineName: String, maxCommands: Int, maxBytes: Int) throws {
        let sink = try RedisSink(url: url, pipelineName: pipelineName)
        self.sink = sink
        self.maxCommands = maxCommands
        self.maxBytes = maxBytes
        checkpoint = try sink.readCheckpoint().flatMap { try Checkpoint(fields: $0, sink: "redis (\(sink.checkpointKey))") }
    }

    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws {
        var batches: [(writes: CacheWrites, checkpoint: [String: String])] = []
        var writes = CacheWrites()
        var commands = 0
        var previous: Int?
        for i in transactions.indices {
            let t = transactions[i]
            let tCommands = t.cache.commandCount
            if let previous, !writes.isEmpty,
               commands + tCommands > maxCommands || writes.byteCount + t.cache.byteCount > maxBytes {
                batches.append((writes, checkpointAfter(previous).fields))
                writes = CacheWrites()
                commands = 0
            }
            writes.append(contentsOf: t.cache)
            commands += tCommands
            previous = i
        }
        batches.append((writes, checkpoint.fields))
        try sink.apply(batches)
    }

    func flush() throws {}
}

/// The bundled index: upserts and deletes, then one commit whose manifest carries the checkpoint.
final class SearchIndexSink: Sink {
    let name = "index"
    let checkpoint: Checkpoint?
    let store: IndexStore
    private var lastCommit = Date.distantPast
    private var heldBack: Checkpoint?

    init(store: IndexStore) throws {
        self.store = store
        checkpoint = try Checkpoint(fields: store.committedPayload, sink: "index")
    }

    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws {
        var wrote = false
        for t in transactions {
            for write in t.index {
                wrote = true
                switch write {
                case .upsert(let index, let id, let fields, let stored):
                    try store.upsert(index: index, document: Self.document(id: id, fields: fields, stored: stored))
                case .delete(let index, let id):
                    try store.delete(index: index, id: id)
                }
            }
        }
        // A batch without index writes only moves the checkpoint: commit it at most once
        // a second (and when flushing at shutdown) to spare the disk.
        if wrote || Date().timeIntervalSince(lastCommit) >= 1 {
            try store.commit(payload: checkpoint.fields)
            lastCommit = Date()
            heldBack = nil
        } else {
            heldBack = checkpoint
        }
    }

    func flush() throws {
        if let checkpoint = heldBack {
            try store.commit(payload: checkpoint.fields)
            heldBack = nil
        }
    }

    static func document(id: String, fields: [(name: String, kind: IndexFieldKind, value: ColumnValue)],
                         stored: [(name: String, value: ColumnValue)]) -> Document {
        var f: [String: FieldValue] = [:]
        for field in fields {
            switch field.kind {
            case .text: if let t = field.value.text { f[field.name] = .text(t) }
            case .keyword: if let t = field.value.text { f[field.name] = .keyword(t) }
            case .number:
                if let n = field.value.number ?? field.value.text.flatMap({ Double($0) }), n.isFinite { f[field.name] = .number(n) }
            }
        }
        var s: [String: StoredValue] = [:]
        for item in stored {
            switch item.value {
            case .null: continue
            case .int(let v): s[item.name] = .int(v)
            case .uint(let v): s[item.name] = v <= UInt64(Int64.max) ? .int(Int64(v)) : .string(String(v))
            case .year(let y): s[item.name] = .int(Int64(y))
            case .float(let v): s[item.name] = .double(Double(v))
            case .double(let v): s[item.name] = .double(v)
            default: if let t = item.value.text { s[item.name] = .string(t) }
            }
        }
        return Document(id: id, fields: f, stored: s)
    }
}

extension PipelineConfig {
    /// The index schemas the configuration declares, by index name.
    public var indexSchemas: [String: IndexSchema] {
        var schemas: [String: IndexSchema] = [:]
        for t in tables {
            guard let ix = t.index else { continue }
            var fields: [String: FieldType] = [:]
            for f in ix.fields {
                switch f.kind {
                case .text: fields[f.name] = .text
                case .keyword: fields[f.name] = .keyword
                case .number: fields[f.name] = .number
                }
            }
            var schema = schemas[ix.name] ?? IndexSchema(fields: [:], stored: [])
            schema.fields.merge(fields) { a, _ in a }
            for (name, steps) in ix.analysis where schema.analysis[name] == nil {
                schema.analysis[name] = TextAnalysis(
                    stem: steps.stem.flatMap { TextAnalysis.Language(rawValue: $0.rawValue) },
                    stopWords: steps.stopWords.flatMap { TextAnalysis.Language(rawValue: $0.rawValue) })
            }
            for s in ix.stored where !schema.stored.contains(s) { schema.stored.append(s) }
            schemas[ix.name] = schema
        }
        return schemas
    }
}
