import BinlogCore
import Foundation
import MySQLSource
import RedisSink
import Routing
import SearchIndex

/// What `distributary verify` checks and how long it may wait for the sinks.
public struct VerifyOptions: Sendable {
    /// `db.table` names or patterns (`shop.*`) of mapped tables; empty = every mapped table.
    public var tables: [String] = []
    /// Seconds the re-check of entries that changed during the run may wait for a sink.
    public var waitSeconds: Double = 30
    /// Rows per source read (and per pipelined Redis read).
    public var chunkRows = 5000
    /// Keys of each kind listed per table and sink.
    public var sampleSize = 5
    /// Seconds between progress lines.
    public var progressSeconds: Double = 5

    public init() {}
}

/// Compares what the source's rows say each sink should hold with what the sinks hold:
/// every row of the mapped tables, read in key order in chunks, is routed as an insert (as a
/// snapshot would load it) into the expected Redis entry and index document, which are read
/// back (Redis: one pipelined round trip per chunk; the index: a read-only snapshot of its
/// last commit) and compared. Keys matching a table's key pattern and index documents that
/// no row produced are extra.
///
/// Rows that change while verify runs are not reported as differences: every entry that
/// differs at first sight is read again from the source, the sink is waited for until its
/// checkpoint has passed the source position of that read, and the entry is read back and
/// compared again; it is a difference only when the source still gives the same expected
/// entry after the sink was read (so the row did not change in between). An entry whose row
/// keeps changing is re-checked again, until `waitSeconds` run out. A sink that does not get
/// there (the replicator is stopped or behind) gets its differences reported as they are.
///
/// Read-only: it writes nothing to the source or to the stores, so it runs beside `run`.
public final class Verifier {
    let config: PipelineConfig
    let options: VerifyOptions
    /// Progress and wait messages (standard error).
    let say: (String) -> Void

    public init(config: PipelineConfig, options: VerifyOptions, say: @escaping (String) -> Void) {
        self.config = config
        self.options = options
        self.say = say
    }

    /// One mapped table being checked.
    final class Table {
        let mapping: TableMapping
        let schema: TableSchema
        let reader: SnapshotTable
        let map: TableMap
        /// Redis key template with `{@db}`/`{@table}` resolved; nil without a Redis mapping.
        let key: KeyPattern?
        var redis: VerifyReport.Result?
        var index: VerifyReport.Result?

        init(mapping: TableMapping, schema: TableSchema, reader: SnapshotTable, map: TableMap) {
            self.mapping = mapping
            self.schema = schema
            self.reader = reader
            self.map = map
            key = mapping.redis.map { KeyPattern(template: $0.key, schema: mapping.schema, table: mapping.table) }
        }

        var isCompared: Bool { mapping.redis.map { $0.mode != .invalidate } ?? false }
        var ttl: Bool { (mapping.redis?.ttl ?? 0) > 0 }
    }

    // MARK: State of a run

    private var connection: MySQLConnection!
    private var isMariaDB = false
    private var serverID: UInt32 = 0
    private var router: Router!
    private var tables: [Table] = []
    /// Every mapped table on the source (patterns resolved), checked or not.
    private var allMapped: [TableMapping] = []
    private var redis: RedisReader?
    /// Hashes of every Redis key the checked tables' rows produced.
    private var producedKeys = Set<Int>()
    /// Index name → hashes of the document ids the checked tables' rows produced.
    private var producedIDs: [String: Set<Int>] = [:]
    private var redisCandidates: [String: Candidate<RedisValue>] = [:]
    private var indexCandidates: [String: Candidate<[String: StoredValue]>] = [:]
    private var snapshot: IndexSnapshot?
    private var indexReader: IndexReader?
    private var snapshotOpened = Date.distantPast
    private var rowsChecked = 0
    private var started = Date()
    private var lastProgress = Date()

    /// An entry that differed at first sight, on its way to being confirmed or cleared.
    struct Candidate<Value: Hashable> {
        var key: String
        /// Indexes in `tables` of the checked tables whose rows may produce the entry.
        var tables: [Int]
        /// The entries the source's rows give (empty: none expected), once read.
        var expected: Set<Value>?
        /// What the sink held, read after its checkpoint passed the read of `expected`.
        var actual: Value??
    }

    public func run() throws -> VerifyReport {
        started = Date()
        lastProgress = started
        let options = try Pipeline.connectionOptions(config.source)
        connection = try MySQLConnection(options)
        try connection.execute("SET SESSION time_zone = '+00:00'")
        let inspector = SourceInspector(connection: connection)
        let info = try inspector.serverInfo()
        isMariaDB = SourceInspector.isMariaDB(version: info.version)
        serverID = info.serverID
        allMapped = config.resolve(existing: config.tables.contains(where: \.isPattern) ? try inspector.listTables() : [])
        var schemas: [String: TableSchema] = [:]
        for t in allMapped {
            if let s = try inspector.tableSchema(schema: t.schema, table: t.table) { schemas[t.qualifiedName] = s }
        }
        try config.validate(against: schemas)
        var selected = allMapped
        if !self.options.tables.isEmpty {
            selected = []
            for name in self.options.tables {
                let matching = allMapped.filter { m in
                    TablePattern.isPattern(name) ? TablePattern.matches(name, schema: m.schema, table: m.table) : m.qualifiedName == name
                }
                if matching.isEmpty {
                    throw PipelineError("--table \(name): the configuration maps no existing table of that name (mapped: \(allMapped.map(\.qualifiedName).joined(separator: ", ")))")
                }
                for m in matching where !selected.contains(where: { $0.qualifiedName == m.qualifiedName }) { selected.append(m) }
            }
        }
        router = Router(config: config, schemas: schemas)
        for (i, m) in selected.enumerated() {
            let schema = schemas[m.qualifiedName]!
            let reader: SnapshotTable
            do {
                reader = try SnapshotTable(schema: schema, key: try Snapshotter.key(of: m, schema: schema))
            } catch let error as SourceError {
                throw PipelineError("\(error.message) (\(m.keyPath))")
            }
            let n = schema.columns.count
            let map = TableMap(tableID: UInt64.max - UInt64(i), schema: m.schema, table: m.table,
                               columnTypes: [UInt8](repeating: 0, count: n), columnMeta: [UInt16](repeating: 0, count: n),
                               nullable: [Bool](repeating: true, count: n), columnNames: schema.columns,
                               primaryKey: schema.primaryKey.compactMap { schema.columns.firstIndex(of: $0) })
            let table = Table(mapping: m, schema: schema, reader: reader, map: map)
            if let r = m.redis {
                var result = VerifyReport.Result(table: m.qualifiedName, sink: "redis", target: r.key.source)
                if r.mode == .invalidate {
                    result.skipped = "redis.mode is invalidate: the application fills these entries, distributary only deletes them"
                } else if r.ttl != nil {
                    result.notes.append("redis.ttl is set: absent entries are not counted as missing (they may have expired)")
                }
                table.redis = result
            }
            if let ix = m.index { table.index = VerifyReport.Result(table: m.qualifiedName, sink: "index", target: ix.name) }
            tables.append(table)
        }
        if let r = config.redis, tables.contains(where: \.isCompared) {
            redis = try RedisReader(config: r, pipelineName: config.name)
        }

        var report = VerifyReport(pipeline: config.name, source: options.endpoint)
        for t in tables.indices { try firstPass(t) }
        if redis != nil { try findExtraKeys() }
        if config.index != nil, tables.contains(where: { $0.index != nil }) { try findExtraDocuments() }
        if rowsChecked > 0 { say("verify: \(rowsChecked) rows read in \(String(format: "%.1f", Date().timeIntervalSince(started))) s") }
        report.rechecked = redisCandidates.count + indexCandidates.count
        if let redis, !redisCandidates.isEmpty {
            let behind = try recheck(sink: "redis", candidates: Array(redisCandidates.values),
                                     lookup: redisExpected, read: { try redis.read($0.map { ($0, self.mode(of: $0)) }) },
                                     checkpoint: { try redis.checkpoint() }, diff: Self.redisDiff, ttl: { [self] c in c.tables.contains { tables[$0].ttl } })
            if let behind { report.behind["redis"] = behind }
        }
        if !indexCandidates.isEmpty {
            let behind = try recheck(sink: "index", candidates: Array(indexCandidates.values),
                                     lookup: indexExpected, read: readDocuments, checkpoint: indexCheckpoint,
                                     diff: Self.documentDiff, ttl: { _ in false })
            if let behind { report.behind["index"] = behind }
        }
        for t in tables {
            if let r = t.redis { report.results.append(r) }
            if let r = t.index { report.results.append(r) }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    // MARK: Reading the source

    /// Where the source's log ends now (after a read: at or past what the read saw).
    struct SourcePoint: CustomStringConvertible {
        var position: BinlogPosition
        var gtid: GTIDPosition?
        var description: String { position.description + (gtid.map { " (GTID position \($0))" } ?? "") }
    }

    private func head() throws -> SourcePoint {
        let inspector = SourceInspector(connection: connection)
        let position = try inspector.currentPosition()
        return SourcePoint(position: position, gtid: isMariaDB ? try inspector.binlogGTIDPosition() : nil)
    }

    /// Whether a sink whose checkpoint is `checkpoint` holds every transaction up to `point`:
    /// by GTID position on MariaDB (valid across servers, and past binlog rotations that carry
    /// no transaction), else by file and position on the same server.
    func reached(_ checkpoint: Checkpoint?, _ point: SourcePoint) -> Bool {
        guard let checkpoint else { return false }
        if let target = point.gtid, let text = checkpoint.gtidPosition,
           let held = try? GTIDPosition(parsing: text, what: "checkpoint") {
            return target.domains.allSatisfy { d, e in (held.domains[d]?.sequence ?? 0) >= e.sequence }
        }
        return checkpoint.sourceServerID == serverID && checkpoint.position >= point.position
    }

    private func route(_ t: Int, _ rows: [RowImage]) throws -> RoutedTransaction {
        let position = BinlogPosition(file: "", offset: 4)
        let changes = rows.map { RowChange(kind: .insert, table: tables[t].map, before: nil, after: $0) }
        do {
            return try router.route(Transaction(gtid: nil, start: position, end: position, timestamp: 0, changes: changes))
        } catch let error as RoutingError {
            throw PipelineError("\(tables[t].mapping.qualifiedName): a row cannot be routed: \(error.message)")
        }
    }

    /// Rows of table `t` matching any of `conditions` (SQL boolean expressions), in batches.
    private func rows(_ t: Int, where conditions: [String]) throws -> [RowImage] {
        var out: [RowImage] = []
        var start = 0
        while start < conditions.count {
            let batch = conditions[start..<min(start + 200, conditions.count)]
            let condition = "(" + batch.map { "(\($0))" }.joined(separator: " OR ") + ")"
            out += try SnapshotSession.readChunk(connection, tables[t].reader, after: nil, limit: 10_000_000, extraCondition: condition).rows
            start += 200
        }
        return out
    }

    /// `column = literal` for the text a key or document id holds for that column.
    private func equals(_ t: Int, column: String, text: [UInt8]) -> String? {
        let schema = tables[t].schema
        guard let i = schema.columns.firstIndex(of: column) else { return nil }
        let ident = "`" + column.replacingOccurrences(of: "`", with: "``") + "`"
        switch schema.dataTypes[i] {
        case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry", "point", "linestring",
             "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
            guard text.count % 2 == 0, text.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }) else { return nil }
            return text.isEmpty ? "\(ident) = ''" : "\(ident) = X'\(String(decoding: text, as: UTF8.self))'"
        default:
            return "\(ident) = " + text.withUnsafeBytes { connection.quote(bytes: $0) }
        }
    }

    // MARK: The first pass

    private func firstPass(_ t: Int) throws {
        let table = tables[t]
        let compareRedis = table.isCompared && redis != nil
        let compareIndex = table.index != nil && config.index != nil
        guard compareRedis || compareIndex else { return }
        var after: [[UInt8]]?
        repeat {
            let (rows, last) = try SnapshotSession.readChunk(connection, table.reader, after: after, limit: options.chunkRows)
            let point = try head()
            let routed = try route(t, rows)
            if compareRedis { try compareChunk(t, routed.cache, point: point) }
            if compareIndex { try compareChunk(t, routed.index, point: point) }
            if compareRedis { table.redis!.checked += rows.count }
            if compareIndex { table.index!.checked += rows.count }
            rowsChecked += rows.count
            progress(table.mapping.qualifiedName)
            after = last
        } while after != nil
    }

    private func progress(_ table: String) {
        let now = Date()
        guard now.timeIntervalSince(lastProgress) >= options.progressSeconds else { return }
        lastProgress = now
        let rate = Double(rowsChecked) / max(now.timeIntervalSince(started), 0.001)
        say("verify: \(rowsChecked) rows checked, \(Int(rate)) rows/s (\(table))")
    }

    /// The expected entry of each key the chunk's rows produce, in order (nil: no entry).
    static func expectedEntries(_ writes: CacheWrites) -> [(key: String, value: RedisValue?)] {
        var out: [(String, RedisValue?)] = []
        out.reserveCapacity(writes.count)
        for write in writes {
            switch write {
            case .hash(let key, let fields, _, _):
                var dict: [String: String] = [:]
                for (f, v) in fields { dict[f] = v }
                out.append((key, dict.isEmpty ? nil : .hash(dict)))
            case .string(let key, let value, _):
                out.append((key, .string(value)))
            case .delete:
                continue
            }
        }
        return out
    }

    private func compareChunk(_ t: Int, _ writes: CacheWrites, point: SourcePoint) throws {
        guard let redis else { return }
        let expected = Self.expectedEntries(writes)
        let mode: RedisReader.Mode = tables[t].mapping.redis?.mode == .json ? .string : .hash
        for e in expected { producedKeys.insert(e.key.hashValue) }
        let (checkpoint, values) = try redis.read(expected.map { ($0.key, mode) })
        let valid = reached(checkpoint, point)
        for (n, e) in expected.enumerated() {
            let actual = values[n]
            if actual == e.value || (actual == nil && tables[t].ttl) { continue }
            if redisCandidates[e.key] != nil { continue }
            redisCandidates[e.key] = Candidate(key: e.key, tables: tablesProducing(key: e.key, from: t),
                                               expected: Set([e.value].compactMap { $0 }), actual: valid ? .some(actual) : nil)
        }
    }

    private func compareChunk(_ t: Int, _ writes: [IndexWrite], point: SourcePoint) throws {
        guard let path = config.index?.path else { return }
        if snapshot == nil || Date().timeIntervalSince(snapshotOpened) >= 1 {
            snapshot = try openIndex(path)
            snapshotOpened = Date()
        }
        let snapshot = snapshot!
        let checkpoint = try Checkpoint(fields: snapshot.payload, sink: "index")
        let valid = reached(checkpoint, point)
        for write in writes {
            guard case .upsert(let index, let id, let fields, let stored) = write else { continue }
            producedIDs[index, default: []].insert(id.hashValue)
            let expected = SearchIndexSink.document(id: id, fields: fields, stored: stored).stored
            let actual = snapshot.document(index: index, id: id)
            if actual == expected { continue }
            let key = Self.documentKey(index: index, id: id)
            if indexCandidates[key] != nil { continue }
            indexCandidates[key] = Candidate(key: key, tables: tablesFeeding(index: index, first: t),
                                             expected: [expected], actual: valid ? .some(actual) : nil)
        }
    }

    /// The index's last commit (segments already read are kept between calls).
    private func openIndex(_ path: String) throws -> IndexSnapshot {
        if indexReader == nil { indexReader = IndexReader(directory: path) }
        return try indexReader!.open()
    }

    static func documentKey(index: String, id: String) -> String { index + "\u{0}" + id }

    static func splitDocumentKey(_ key: String) -> (index: String, id: String) {
        guard let zero = key.firstIndex(of: "\u{0}") else { return ("", key) }
        return (String(key[..<zero]), String(key[key.index(after: zero)...]))
    }

    /// The checked tables whose key pattern matches `key` (`first` leading).
    private func tablesProducing(key: String, from first: Int) -> [Int] {
        let bytes = Array(key.utf8)
        return [first] + tables.indices.filter { $0 != first && tables[$0].isCompared && tables[$0].key!.matches(bytes) }
    }

    private func tablesFeeding(index: String, first: Int) -> [Int] {
        [first] + tables.indices.filter { $0 != first && tables[$0].mapping.index?.name == index }
    }

    private func mode(of key: String) -> RedisReader.Mode {
        redisCandidates[key].flatMap { c in c.tables.first.map { tables[$0].mapping.redis?.mode == .json ? .string : .hash } } ?? .hash
    }

    // MARK: Extra entries

    /// Keys matching a checked table's key pattern that no checked row produced. A key that
    /// the pattern of a table not checked in this run (or in invalidate mode) also matches
    /// cannot be judged, and is left out with a note.
    private func findExtraKeys() throws {
        guard let redis else { return }
        let own = "distributary:\(config.name):"
        let others: [KeyPattern] = allMapped.compactMap { m in
            guard let r = m.redis, r.mode == .invalidate || !tables.contains(where: { $0.mapping.qualifiedName == m.qualifiedName }) else { return nil }
            return KeyPattern(template: r.key, schema: m.schema, table: m.table)
        }
        for (t, table) in tables.enumerated() where table.isCompared {
            var unjudged = 0
            try redis.scan(match: table.key!.glob) { keys in
                for key in keys where !producedKeys.contains(key.hashValue) && !key.hasPrefix(own) && redisCandidates[key] == nil {
                    let bytes = Array(key.utf8)
                    if others.contains(where: { $0.matches(bytes) }) { unjudged += 1; continue }
                    redisCandidates[key] = Candidate(key: key, tables: tablesProducing(key: key, from: t), expected: nil, actual: nil)
                }
            }
            if unjudged > 0 {
                table.redis!.notes.append("\(unjudged) keys matching \(table.key!.glob) also match the key pattern of a table not checked in this run (or in invalidate mode); they were not judged")
            }
        }
    }

    /// Documents of a checked index that no checked row produced; an index also fed by
    /// tables not checked in this run is left out with a note.
    private func findExtraDocuments() throws {
        guard let path = config.index?.path else { return }
        let snapshot = try openIndex(path)
        var done = Set<String>()
        for (t, table) in tables.enumerated() {
            guard let index = table.mapping.index?.name, !done.contains(index) else { continue }
            done.insert(index)
            let feeding = allMapped.filter { $0.index?.name == index }.map(\.qualifiedName)
            let unchecked = feeding.filter { name in !tables.contains { $0.mapping.qualifiedName == name } }
            if !unchecked.isEmpty {
                table.index!.notes.append("index \(index) is also fed by \(unchecked.joined(separator: ", ")), not checked in this run: its extra documents were not looked for")
                continue
            }
            let produced = producedIDs[index] ?? []
            for id in snapshot.documentIDs(index: index) where !produced.contains(id.hashValue) {
                let key = Self.documentKey(index: index, id: id)
                if indexCandidates[key] == nil {
                    indexCandidates[key] = Candidate(key: key, tables: tablesFeeding(index: index, first: t), expected: nil, actual: nil)
                }
            }
        }
    }

    // MARK: Expected entries of candidates, read again from the source

    private func redisExpected(_ candidates: [Candidate<RedisValue>]) throws -> [String: Set<RedisValue>] {
        var out: [String: Set<RedisValue>] = [:]
        var byTable: [Int: [String]] = [:]
        for c in candidates {
            out[c.key] = []
            for t in c.tables { byTable[t, default: []].append(c.key) }
        }
        for (t, keys) in byTable {
            let pattern = tables[t].key!
            var conditions: [String] = []
            for key in keys {
                guard let values = pattern.parse(Array(key.utf8)) else { continue }
                let terms = zip(pattern.columns, values).map { equals(t, column: $0, text: $1) }
                if terms.contains(where: { $0 == nil }) { continue }
                conditions.append(terms.map { $0! }.joined(separator: " AND "))
            }
            if conditions.isEmpty { continue }
            for e in Self.expectedEntries(try route(t, try rows(t, where: conditions)).cache) where out[e.key] != nil {
                if let v = e.value { out[e.key]!.insert(v) }
            }
        }
        return out
    }

    private func indexExpected(_ candidates: [Candidate<[String: StoredValue]>]) throws -> [String: Set<[String: StoredValue]>] {
        var out: [String: Set<[String: StoredValue]>] = [:]
        var byTable: [Int: [String]] = [:]
        for c in candidates {
            out[c.key] = []
            for t in c.tables { byTable[t, default: []].append(c.key) }
        }
        for (t, keys) in byTable {
            let pk = tables[t].schema.primaryKey
            var conditions: [String] = []
            for key in keys {
                let id = Self.splitDocumentKey(key).id
                let parts = id.split(separator: ":", maxSplits: max(pk.count - 1, 0), omittingEmptySubsequences: false)
                guard parts.count == pk.count else { continue }
                let terms = zip(pk, parts).map { equals(t, column: $0, text: Array($1.utf8)) }
                if terms.contains(where: { $0 == nil }) { continue }
                conditions.append(terms.map { $0! }.joined(separator: " AND "))
            }
            if conditions.isEmpty { continue }
            for write in try route(t, try rows(t, where: conditions)).index {
                guard case .upsert(let index, let id, let fields, let stored) = write else { continue }
                let key = Self.documentKey(index: index, id: id)
                if out[key] != nil { out[key]!.insert(SearchIndexSink.document(id: id, fields: fields, stored: stored).stored) }
            }
        }
        return out
    }

    private func readDocuments(_ keys: [String]) throws -> (Checkpoint?, [[String: StoredValue]?]) {
        guard let path = config.index?.path else { return (nil, keys.map { _ in nil }) }
        let snapshot = try openIndex(path)
        let values = keys.map { key -> [String: StoredValue]? in
            let (index, id) = Self.splitDocumentKey(key)
            return snapshot.document(index: index, id: id)
        }
        return (try Checkpoint(fields: snapshot.payload, sink: "index"), values)
    }

    private func indexCheckpoint() throws -> Checkpoint? {
        guard let path = config.index?.path, let payload = try IndexStore.committedPayload(directory: path) else { return nil }
        return try Checkpoint(fields: payload, sink: "index")
    }

    // MARK: The re-check

    /// Re-checks `candidates` until each is confirmed (a difference), cleared, or the wait
    /// runs out; records the confirmed ones in the tables' results. Returns a description of
    /// how far behind the sink was when it did not reach the source's position in time.
    private func recheck<Value: Hashable>(
        sink: String, candidates: [Candidate<Value>],
        lookup: ([Candidate<Value>]) throws -> [String: Set<Value>],
        read: ([String]) throws -> (Checkpoint?, [Value?]),
        checkpoint: () throws -> Checkpoint?,
        diff: (Value?, Value?) -> [VerifyReport.FieldDiff],
        ttl: (Candidate<Value>) -> Bool
    ) throws -> String? {
        let deadline = Date().addingTimeInterval(options.waitSeconds)
        var pending = candidates.sorted { $0.key < $1.key }
        var confirmed: [(Candidate<Value>, Value?, Value?)] = []
        func matches(_ actual: Value?, _ expected: Set<Value>, _ c: Candidate<Value>) -> Bool {
            if let actual { return expected.contains(actual) }
            return expected.isEmpty || ttl(c)
        }
        var behind: String?
        var announced = false
        while !pending.isEmpty {
            // 1. The source, for entries not read yet (extras) or changed since their last read.
            let unread = pending.indices.filter { pending[$0].expected == nil }
            if !unread.isEmpty {
                let expected = try lookup(unread.map { pending[$0] })
                for i in unread { pending[i].expected = expected[pending[i].key] ?? [] }
            }
            // 2. The sink, once its checkpoint has passed the source's position now (which is at
            //    or past every read of step 1 and of the first pass).
            let needRead = pending.indices.filter { pending[$0].actual == nil }
            if !needRead.isEmpty {
                let target = try head()
                var cp = try checkpoint()
                if !reached(cp, target) && !announced {
                    say("verify: \(pending.count) \(sink) entries changed while verify ran (or differ); waiting up to \(Int(max(0, deadline.timeIntervalSinceNow))) s for the \(sink) checkpoint (\(cp?.description ?? "none")) to reach the source's \(target) to check them again")
                    announced = true
                }
                while !reached(cp, target) && Date() < deadline {
                    usleep(100_000)
                    cp = try checkpoint()
                }
                if !reached(cp, target) {
                    behind = "the \(sink) checkpoint (\(cp?.description ?? "none")) did not reach the source's \(target) within \(Int(options.waitSeconds)) s (is `distributary run` running?); its differences are reported as they are"
                    let (_, values) = try read(pending.map(\.key))
                    for (n, c) in pending.enumerated() where !matches(values[n], c.expected!, c) {
                        confirmed.append((c, c.expected!.first, values[n]))
                    }
                    pending = []
                    break
                }
                let (_, values) = try read(needRead.map { pending[$0].key })
                for (n, i) in needRead.enumerated() { pending[i].actual = .some(values[n]) }
                pending.removeAll { matches($0.actual!, $0.expected!, $0) }
                if pending.isEmpty { break }
            }
            // 3. The source again: an entry whose expected value did not change across the sink's
            //    read differs for real; one that changed is checked again.
            let again = try lookup(pending)
            var next: [Candidate<Value>] = []
            for var c in pending {
                let now = again[c.key] ?? []
                if matches(c.actual!, now, c) { continue }
                if now == c.expected! {
                    confirmed.append((c, now.first, c.actual!))
                } else {
                    c.expected = now
                    c.actual = nil
                    next.append(c)
                }
            }
            pending = next
            if !pending.isEmpty && Date() >= deadline {
                for c in pending {
                    record(c.tables.first ?? 0, sink) { r in
                        r.unsettled += 1
                        if r.unsettledKeys.count < options.sampleSize { r.unsettledKeys.append(display(c.key, sink)) }
                    }
                }
                pending = []
            }
        }
        for (c, expected, actual) in confirmed {
            let key = display(c.key, sink)
            record(c.tables.first ?? 0, sink) { r in
                if actual == nil {
                    r.missing += 1
                    if r.missingKeys.count < options.sampleSize { r.missingKeys.append(key) }
                } else if expected == nil {
                    r.extra += 1
                    if r.extraKeys.count < options.sampleSize { r.extraKeys.append(key) }
                } else {
                    r.different += 1
                    if r.differentKeys.count < options.sampleSize { r.differentKeys.append((key, diff(expected, actual))) }
                }
            }
        }
        return behind
    }

    private func display(_ key: String, _ sink: String) -> String {
        sink == "index" ? Self.splitDocumentKey(key).id : key
    }

    private func record(_ t: Int, _ sink: String, _ body: (inout VerifyReport.Result) -> Void) {
        if sink == "redis" {
            if tables[t].redis != nil { body(&tables[t].redis!) }
        } else if tables[t].index != nil {
            body(&tables[t].index!)
        }
    }

    // MARK: Diffs

    static func redisDiff(_ expected: RedisValue?, _ actual: RedisValue?) -> [VerifyReport.FieldDiff] {
        switch (expected, actual) {
        case (.hash(let e), .hash(let a)):
            return Set(e.keys).union(a.keys).sorted().compactMap { f in
                e[f] == a[f] ? nil : VerifyReport.FieldDiff(field: f, expected: e[f], actual: a[f])
            }
        case (.string(let e), .string(let a)):
            if let ej = jsonObject(e), let aj = jsonObject(a) {
                let fields = Set(ej.keys).union(aj.keys).sorted().compactMap { f -> VerifyReport.FieldDiff? in
                    ej[f] == aj[f] ? nil : VerifyReport.FieldDiff(field: f, expected: ej[f], actual: aj[f])
                }
                if !fields.isEmpty { return fields }
            }
            return [VerifyReport.FieldDiff(field: "(value)", expected: e, actual: a)]
        default:
            return [VerifyReport.FieldDiff(field: "(entry)", expected: expected?.summary, actual: actual?.summary)]
        }
    }

    /// A JSON object's members as their JSON text (for a per-member diff of json mode values).
    static func jsonObject(_ text: String) -> [String: String]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? [String: Any] else { return nil }
        var out: [String: String] = [:]
        for (k, v) in object {
            if let data = try? JSONSerialization.data(withJSONObject: [v], options: [.fragmentsAllowed, .sortedKeys]) {
                out[k] = String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
            }
        }
        return out
    }

    static func documentDiff(_ expected: [String: StoredValue]?, _ actual: [String: StoredValue]?) -> [VerifyReport.FieldDiff] {
        guard let e = expected, let a = actual else {
            return [VerifyReport.FieldDiff(field: "(document)", expected: expected.map { _ in "present" }, actual: actual.map { _ in "present" })]
        }
        return Set(e.keys).union(a.keys).sorted().compactMap { f in
            e[f] == a[f] ? nil : VerifyReport.FieldDiff(field: f, expected: e[f].map(Self.text), actual: a[f].map(Self.text))
        }
    }

    static func text(_ value: StoredValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        }
    }
}
