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
    /// `transactions[i]`, for a sink that commits a batch in several pieces. Returns false
    /// when the writes are held back (not visible to readers until a later `apply` or
    /// `flush` returns or commits).
    @discardableResult
    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws -> Bool
    /// Stores any checkpoint `apply` held back and makes held writes visible (called when
    /// the sink's queue is idle and on a clean stop).
    func flush() throws
    /// Table → fingerprint of the mapping the stored data was built with (written with every
    /// checkpoint; `MappingFingerprint`). A table whose fingerprint differs from the
    /// configuration's needs a resync.
    var mappings: [String: String] { get }
    /// Tables whose data a DDL made stale and that no resync has reloaded since (field
    /// `resync_pending`, written with every checkpoint, so a restart resumes the work).
    var resyncPending: [String] { get set }
}

/// What a sink stores with its data: the checkpoint's fields, the mappings the data was
/// built with, and the tables a DDL left stale.
func storedFields(_ checkpoint: Checkpoint, mappings: String, resyncPending: [String]) -> [String: String] {
    var f = checkpoint.fields
    f["mappings"] = mappings
    f["resync_pending"] = resyncPending.joined(separator: ",")
    return f
}

/// The `resync_pending` field's tables.
func pendingTables(_ fields: [String: String]?) -> [String] {
    (fields?["resync_pending"] ?? "").split(separator: ",").map(String.init)
}

/// The mappings a sink's data reflects: the stored ones (tables no longer mapped dropped),
/// or the current ones for a sink without a checkpoint or with one from before fingerprints.
func dataMappings(stored fields: [String: String]?, current: [String: String]) -> [String: String] {
    guard let fields, !fields.isEmpty, let text = fields["mappings"] else { return current }
    return MappingFingerprint.decode(text).filter { current[$0.key] != nil }
}

/// The Redis cache: one MULTI/EXEC per batch, checkpoint inside it. A batch holds whole
/// transactions up to `redis.batch.commands` commands and `redis.batch.bytes` bytes; a
/// pipeline batch over those bounds goes as several MULTI/EXECs, each with the checkpoint
/// of its last transaction. With `redis.cluster`, each such batch goes to the cluster's
/// masters as versioned per-key writes, the checkpoint after them (`RedisClusterSink`).
final class RedisCacheSink: Sink {
    let name = "redis"
    let checkpoint: Checkpoint?
    private enum Writer {
        case single(RedisSink)
        case cluster(RedisClusterSink)
    }
    private let writer: Writer
    private let maxCommands: Int
    private let maxBytes: Int

    /// Connects to `config.url` (a cluster master with `config.cluster`); batch bounds from `config.batch*`.
    let mappings: [String: String]
    private let mappingsField: String

    init(config: RedisConfig, pipelineName: String, logger: Logger, mappings current: [String: String]) throws {
        let url = try RedisURL(parsing: config.url)
        let key: String
        let stored: [String: String]?
        if config.cluster {
            let sink = try RedisClusterSink(url: url, pipelineName: pipelineName)
            sink.onSlotMapChange = { logger.info("Redis Cluster: \($0)") }
            writer = .cluster(sink)
            key = sink.checkpointKey
            stored = try sink.readCheckpoint()
        } else {
            let sink = try RedisSink(url: url, pipelineName: pipelineName)
            writer = .single(sink)
            maxmemoryPolicy = config.changedFieldsOnly ? sink.maxmemoryPolicy() : nil
            key = sink.checkpointKey
            stored = try sink.readCheckpoint()
        }
        maxCommands = config.batchCommands
        changedFieldsRequested = config.changedFieldsOnly
        maxBytes = config.batchBytes
        checkpoint = try stored.flatMap { try Checkpoint(fields: $0, sink: "redis (\(key))") }
        mappings = dataMappings(stored: stored, current: current)
        mappingsField = MappingFingerprint.encode(mappings)
        resyncPending = pendingTables(stored)
    }

    var resyncPending: [String]

    /// Redis's `maxmemory-policy` (nil: a cluster, or Redis would not say).
    private(set) var maxmemoryPolicy: String?

    /// Whether updates may set only the changed fields of a hash (`Router.writeChangedFieldsOnly`):
    /// asked for (`redis.changed_fields_only`), and one Redis server whose policy evicts no
    /// key without a TTL. A cluster's writes are versioned whole entries.
    var allowsChangedFieldsOnly: Bool { changedFieldsRequested && RedisSink.keepsKeysWithoutTTL(policy: maxmemoryPolicy) }
    /// `redis.changed_fields_only`.
    let changedFieldsRequested: Bool

    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws -> Bool {
        // Consecutive transactions within the batch bounds, with the checkpoint after the last.
        var batches: [(transactions: ArraySlice<RoutedTransaction>, checkpoint: [String: String])] = []
        var first = transactions.startIndex
        var commands = 0, bytes = 0
        for i in transactions.indices {
            let t = transactions[i].cache
            if i > first, commands > 0, commands + t.commandCount > maxCommands || bytes + t.byteCount > maxBytes {
                batches.append((transactions[first..<i], fields(checkpointAfter(i - 1))))
                first = i
                commands = 0
                bytes = 0
            }
            commands += t.commandCount
            bytes += t.byteCount
        }
        batches.append((transactions[first...], fields(checkpoint)))
        switch writer {
        case .single(let sink):
            try sink.apply(batches.map { batch in
                var writes = CacheWrites()
                for t in batch.transactions { writes.append(contentsOf: t.cache) }
                return (writes, batch.checkpoint)
            })
        case .cluster(let sink):
            for batch in batches {
                try sink.apply(batch.transactions.map(\.cache), partial: batch.transactions.map(\.isPartial), checkpoint: batch.checkpoint)
            }
        }
        return true
    }

    func flush() throws {}

    /// Bulk loading for snapshots (RedisSink.bulk); the cluster writer is always per key.
    var bulk: Bool {
        get { if case .single(let sink) = writer { return sink.bulk } else { return false } }
        set { if case .single(let sink) = writer { sink.bulk = newValue } }
    }

    private func fields(_ checkpoint: Checkpoint) -> [String: String] {
        storedFields(checkpoint, mappings: mappingsField, resyncPending: resyncPending)
    }
}

/// The bundled index: upserts and deletes, then one commit whose manifest carries the checkpoint.
final class SearchIndexSink: Sink {
    let name = "index"
    let checkpoint: Checkpoint?
    let store: IndexStore
    private var lastCommit = Date.distantPast
    private var heldBack: Checkpoint?

    let mappings: [String: String]
    private let mappingsField: String
    /// Buffer every write until `flush()` (resync: the table's documents change in one commit).
    var holdCommits = false
    /// Bulk loads (snapshots): after the first batch, commit only once this many documents
    /// are buffered (or at `flush()`); fewer, larger segments take less merging. The first
    /// batch is committed at once, so a snapshot killed early still finds its progress
    /// here. 0: commit every batch.
    var commitEvery = 0 {
        didSet { bulkCommitted = false }
    }
    private var uncommitted = 0
    private var bulkCommitted = false

    init(store: IndexStore, mappings current: [String: String]) throws {
        self.store = store
        checkpoint = try Checkpoint(fields: store.committedPayload, sink: "index")
        mappings = dataMappings(stored: store.committedPayload, current: current)
        mappingsField = MappingFingerprint.encode(mappings)
        resyncPending = pendingTables(store.committedPayload)
    }

    var resyncPending: [String]

    func apply(_ transactions: ArraySlice<RoutedTransaction>, checkpoint: Checkpoint,
               checkpointAfter: (Int) -> Checkpoint) throws -> Bool {
        var wrote = false
        for t in transactions {
            for var write in t.index {
                wrote = true
                uncommitted += 1
                let index: String, id: String
                switch write {
                case .upsert(let i, let d, let fields, let stored):
                    (index, id) = (i, d)
                    if fields.sharesRow || stored.sharesRow {
                        if materializeOnArrival {
                            write = .upsert(index: i, id: d, fields: fields.materialized(), stored: stored.materialized())
                        } else {
                            eventBacked.append((i, d, nextSequence))
                        }
                    }
                case .delete(let i, let d): (index, id) = (i, d)
                }
                hold(write, 1)
                if let replaced = buffered[index, default: [:]].updateValue(Held(write: write, sequence: nextSequence), forKey: id) {
                    hold(replaced.write, -1)
                } else {
                    bufferedCount += 1
                }
                nextSequence += 1
            }
        }
        // Entries of replaced writes: dropped once they are more than half of the list.
        if eventBacked.count > 4096 && eventBacked.count > 2 * bufferedCount {
            eventBacked.removeAll { standingEventBacked($0) == nil }
        }
        // At the bound, the writes that stand give up their events for their values (also
        // while commits are held for a resync or a bulk load).
        if bufferedBytes >= catchUpPendingBytes && !eventBacked.isEmpty { materializeHeld() }
        // A resync swaps a table's documents in one commit, at `flush()`.
        if holdCommits || (commitEvery > 0 && bulkCommitted && uncommitted < commitEvery) {
            heldBack = checkpoint
            return !unseen
        }
        // Catching up a backlog: commit every few seconds, not every batch (below).
        if wrote, let catchingUp, Date().timeIntervalSince(lastCommit) < catchUpCommitSeconds, catchingUp() {
            // The commit comes once the values alone reach the bound.
            if bufferedBytes < catchUpPendingBytes {
                heldBack = checkpoint
                return false
            }
        }
        // A batch without index writes only moves the checkpoint: commit it at most once
        // a second (and when flushing at shutdown) to spare the disk.
        if wrote || unseen || Date().timeIntervalSince(lastCommit) >= 1 {
            try commit(checkpoint)
            bulkCommitted = commitEvery > 0
        } else {
            heldBack = checkpoint
        }
        return !unseen
    }

    /// Catching up a backlog (the pipeline sets it: the progress monitor found the source
    /// 4 MiB or more ahead), the sink commits only every `catchUpCommitSeconds`, once
    /// `catchUpPendingBytes` of writes are buffered, or when its queue has been idle for
    /// 50 ms (the pipeline then calls `flush`): a row changed several times in that
    /// span is indexed once (the buffer keeps each document's last write), and fewer,
    /// larger segments need less merging. What is held becomes searchable — and
    /// read-your-writes waiters are woken — at the commit.
    var catchingUp: (() -> Bool)?
    var catchUpCommitSeconds = 5.0
    var catchUpPendingBytes = 64 << 20
    /// Writes applied but not committed yet (not searchable).
    private var unseen: Bool { !buffered.isEmpty }
    /// The last write of each document since the last commit, by index and id: documents
    /// are made (and analyzed, at the commit) only for the writes that stand.
    ///
    /// An upsert routed from the log reads its values from its event's row image
    /// (`IndexFieldValues`), so a write replaced before the commit costs no values; but
    /// it keeps its whole event alive. Once the buffer reaches its bound, the writes that
    /// stand get their values made and the events go (`materializeHeld`); if their values
    /// alone then take half the bound, later writes get theirs as they arrive, until the
    /// commit (a bound too small to hold a round of rows as events).
    private var buffered: [String: [String: Held]] = [:]
    private var bufferedCount = 0
    private struct Held {
        var write: IndexWrite
        /// Its place in arrival order since the last commit.
        var sequence: Int
    }
    private var nextSequence = 0
    /// Index, id and sequence of the upserts buffered with their events, in arrival order;
    /// an entry stands while its write is the document's buffered one (same sequence).
    private var eventBacked: [(index: String, id: String, sequence: Int)] = []

    /// The write of `entry` if it still stands and still reads its event's row image.
    private func standingEventBacked(_ entry: (index: String, id: String, sequence: Int)) -> IndexWrite? {
        guard let held = buffered[entry.index]?[entry.id], held.sequence == entry.sequence,
              case .upsert(_, _, let fields, let stored) = held.write, fields.sharesRow || stored.sharesRow else { return nil }
        return held.write
    }
    private(set) var materializeOnArrival = false
    /// Events held by buffered upserts, and entries of `eventBacked` (tests).
    var heldEventCount: Int { heldEvents.count }
    var eventBackedCount: Int { eventBacked.count }
    /// About the memory the buffer keeps alive: a fixed cost and the id per write, the
    /// values of materialized writes, and once each the events whose row images the others hold.
    private(set) var bufferedBytes = 0
    /// Buffered writes per event held, and that event's bytes.
    private var heldEvents: [ObjectIdentifier: (writes: Int, bytes: Int)] = [:]

    /// Makes the values of every buffered upsert that still reads them from its event.
    private func materializeHeld() {
        for entry in eventBacked {
            guard let write = standingEventBacked(entry), case .upsert(let index, let id, let fields, let stored) = write else { continue }
            let values = IndexWrite.upsert(index: index, id: id, fields: fields.materialized(), stored: stored.materialized())
            hold(write, -1)
            hold(values, 1)
            buffered[index]![id]!.write = values
        }
        eventBacked.removeAll(keepingCapacity: true)
        materializeOnArrival = bufferedBytes >= catchUpPendingBytes / 2
    }

    /// Counts `write` into (`sign` 1) or out of (-1) `bufferedBytes`.
    private func hold(_ write: IndexWrite, _ sign: Int) {
        switch write {
        case .delete(_, let id):
            bufferedBytes += sign * (64 + id.utf8.count)
        case .upsert(_, let id, let fields, let stored):
            bufferedBytes += sign * (64 + id.utf8.count)
            hold(fields.row, shared: fields.sharesRow, sign)
            // A routed write's stored values read the same row: counted once.
            if !(stored.sharesRow && fields.sharesRow && stored.row.storageIdentity == fields.row.storageIdentity) {
                hold(stored.row, shared: stored.sharesRow, sign)
            }
        }
    }

    private func hold(_ row: RowImage, shared: Bool, _ sign: Int) {
        if !shared {
            bufferedBytes += sign * row.storageBytes
            return
        }
        let key = row.storageIdentity
        if sign > 0 {
            if heldEvents[key] != nil {
                heldEvents[key]!.writes += 1
            } else {
                let bytes = row.storageBytes
                heldEvents[key] = (1, bytes)
                bufferedBytes += bytes
            }
        } else if let held = heldEvents[key] {
            if held.writes == 1 {
                heldEvents[key] = nil
                bufferedBytes -= held.bytes
            } else {
                heldEvents[key]!.writes -= 1
            }
        }
    }

    private func commit(_ checkpoint: Checkpoint) throws {
        // Event-backed upserts first, in arrival order, each dropped once its document is
        // made: their events go one after the other instead of all after the last document.
        for entry in eventBacked {
            guard let write = standingEventBacked(entry), case .upsert(let index, let id, let fields, let stored) = write else { continue }
            try store.upsert(index: index, document: Self.document(id: id, fields: fields, stored: stored))
            buffered[index]![id] = nil
        }
        eventBacked.removeAll(keepingCapacity: true)
        for (index, writes) in buffered {
            for (id, held) in writes {
                switch held.write {
                case .upsert(_, _, let fields, let stored):
                    try store.upsert(index: index, document: Self.document(id: id, fields: fields, stored: stored))
                case .delete:
                    try store.delete(index: index, id: id)
                }
            }
        }
        buffered.removeAll()
        bufferedCount = 0
        nextSequence = 0
        heldEvents.removeAll(keepingCapacity: true)
        bufferedBytes = 0
        materializeOnArrival = false
        try store.commit(payload: payload(checkpoint))
        lastCommit = Date()
        heldBack = nil
        uncommitted = 0
    }

    func flush() throws {
        if let checkpoint = heldBack { try commit(checkpoint) }
    }

    private func payload(_ checkpoint: Checkpoint) -> [String: String] {
        storedFields(checkpoint, mappings: mappingsField, resyncPending: resyncPending)
    }

    static func document(id: String, fields: IndexFieldValues, stored: StoredFieldValues) -> Document {
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
