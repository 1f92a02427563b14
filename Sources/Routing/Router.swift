import BinlogCore

/// An error met while routing a decoded row: the log does not fit the configuration.
public struct RoutingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "routing error: \(message)" }
}

/// Turns source transactions into the writes of every derived store, by the
/// configuration. Pure: rows in, writes out.
///
/// Column names come from each TABLE_MAP (binlog_row_metadata=FULL), so a DDL that
/// reorders columns cannot mislabel values. A table's compiled plan is cached by
/// table id and rebuilt when its column list changes.
public struct Router: Sendable {
    private let config: PipelineConfig
    private let schemas: [String: TableSchema]
    private var plans: [UInt64: Plan] = [:]
    private var replacing = false
    /// While a table is resynced online, its streamed hash writes replace the whole entry
    /// too: a row whose chunk copy is dropped (changed while the chunk was read) is then
    /// still rewritten whole by the log (no field of a dropped column stays).
    public var replacingTable: (schema: String, table: String)?
    /// Hash mode: an update that keeps its key sets only the fields whose column changed
    /// (and removes those that became NULL) instead of every field; an update that changes
    /// no mapped column writes nothing. Only sound while the hash Redis holds is exactly
    /// the row's before image (a row missing from the cache would come back partial), so
    /// the pipeline turns it on only when asked (`redis.changed_fields_only`: the cache
    /// holds every row) and Redis cannot drop a key behind its back: no `ttl` on the table
    /// (checked here) and a `maxmemory-policy` that evicts no key without a TTL (`RedisSink.keepsKeysWithoutTTL`). Never while
    /// replacing entries (resync).
    public var writeChangedFieldsOnly = false

    /// `schemas` (keyed by `db.table`) supply primary keys when a TABLE_MAP carries none.
    public init(config: PipelineConfig, schemas: [String: TableSchema] = [:]) {
        self.config = config
        self.schemas = schemas
    }

    /// Column indexes resolved for one table map. A class: looking it up for a row costs
    /// one retain, not one per array it holds.
    private final class Plan: Sendable {
        let columnNames: [String]
        let mapping: TableMapping
        let keyParts: [KeyPart]
        /// Bytes escaped with `\` in key values: in a template of several columns, `\` and
        /// the literal text between placeholders (so `{a}:{b}` keys stay unambiguous).
        let keyEscapes: [UInt8]
        /// Hash field / JSON member name (as UTF-8, and as a JSON `"name":` key) per projected column.
        let projection: [(name: String, index: Int, field: [UInt8], jsonKey: [UInt8])]
        /// `projection`'s column numbers and hash field names alone: the per-row loops read
        /// these, so no tuple (and no retain of its strings) is copied per column.
        let projectedColumns: [Int]
        let projectedFields: [[UInt8]]
        let ttl: Int32
        /// `mapping.redis?.mode` and `mapping.index?.name`, read per row without copying
        /// the mapping's structs (and retaining everything they hold).
        let redisMode: RedisMode?
        let indexName: String?
        let indexFields: IndexColumns
        let stored: IndexColumns
        let primaryKey: [Int]

        init(columnNames: [String], mapping: TableMapping, keyParts: [KeyPart], keyEscapes: [UInt8],
             projection: [(name: String, index: Int, field: [UInt8], jsonKey: [UInt8])], ttl: Int32,
             indexFields: IndexColumns, stored: IndexColumns, primaryKey: [Int]) {
            self.columnNames = columnNames
            self.mapping = mapping
            self.keyParts = keyParts
            self.keyEscapes = keyEscapes
            self.projection = projection
            projectedColumns = projection.map(\.index)
            projectedFields = projection.map(\.field)
            redisMode = mapping.redis?.mode
            indexName = mapping.index?.name
            self.ttl = ttl
            self.indexFields = indexFields
            self.stored = stored
            self.primaryKey = primaryKey
        }
    }

    private enum KeyPart: Sendable {
        case literal([UInt8])
        case column(name: String, index: Int)
    }

    /// Whether the configuration maps `db.table` at all (unmapped tables cost only their decode).
    public func isMapped(schema: String, table: String) -> Bool {
        config.mapping(schema: schema, table: table) != nil
    }

    /// Routes `transaction`. With `replacingEntries` (resync: rows read from the table),
    /// each hash is deleted before its fields are set, so it ends up holding exactly the
    /// row's columns (fields of dropped columns or written by hand go).
    public mutating func route(_ transaction: Transaction, replacingEntries: Bool = false) throws -> RoutedTransaction {
        replacing = replacingEntries
        defer { replacing = false }
        var cache = CacheWrites()
        var index: [IndexWrite] = []
        for change in transaction.changes {
            guard let plan = try plan(for: change.table, at: transaction) else { continue }
            try route(change.kind, before: change.before, after: change.after, plan: plan, at: transaction, cache: &cache, index: &index)
        }
        return RoutedTransaction(end: transaction.end, gtid: transaction.gtid, timestamp: transaction.timestamp,
                                 rowCount: transaction.changes.count, cache: cache, index: index, isPartial: transaction.isPartial)
    }

    /// Routes `rows` of `table` as inserts (snapshots and resyncs: rows read from the table),
    /// without a RowChange per row.
    public mutating func routeRows(_ rows: [RowImage], table: TableMap, at position: BinlogPosition, timestamp: UInt32,
                                   replacingEntries: Bool = false) throws -> RoutedTransaction {
        replacing = replacingEntries
        defer { replacing = false }
        let txn = Transaction(gtid: nil, start: position, end: position, timestamp: timestamp, changes: [])
        var cache = CacheWrites()
        var index: [IndexWrite] = []
        if let plan = try plan(for: table, at: txn) {
            for row in rows { try route(.insert, before: nil, after: row, plan: plan, at: txn, cache: &cache, index: &index) }
        }
        return RoutedTransaction(end: position, gtid: nil, timestamp: timestamp, rowCount: rows.count, cache: cache, index: index)
    }

    private mutating func plan(for map: TableMap, at txn: Transaction) throws -> Plan? {
        if let cached = plans[map.tableID], let names = map.columnNames, cached.columnNames == names,
           cached.mapping.schema == map.schema, cached.mapping.table == map.table {
            return cached
        }
        guard let mapping = config.mapping(schema: map.schema, table: map.table) else { return nil }
        guard let names = map.columnNames else {
            throw RoutingError("the binlog carries no column names for \(mapping.qualifiedName) (transaction ending at \(txn.end)); set binlog_row_metadata = FULL on the source")
        }
        var position: [String: Int] = [:]
        for (i, n) in names.enumerated() { position[n] = i }
        func column(_ name: String, _ keyPath: String) throws -> Int {
            guard let i = position[name] else {
                throw RoutingError("column `\(name)` (\(keyPath)) is not in \(mapping.qualifiedName) as the binlog has it at \(txn.end) (columns: \(names.joined(separator: ", "))); was it dropped or renamed? Fix the mapping, then resync the table")
            }
            return i
        }
        var keyParts: [KeyPart] = []
        var keyEscapes: [UInt8] = []
        var projection: [(name: String, index: Int, field: [UInt8], jsonKey: [UInt8])] = []
        if let r = mapping.redis {
            for part in r.key.parts {
                switch part {
                case .literal(let s): keyParts.append(.literal(Array(s.utf8)))
                case .column(let n): keyParts.append(.column(name: n, index: try column(n, "\(mapping.keyPath).redis.key")))
                case .database: keyParts.append(.literal(Array(map.schema.utf8)))
                case .table: keyParts.append(.literal(Array(map.table.utf8)))
                }
            }
            if r.key.columns.count > 1 {
                keyEscapes = [UInt8(ascii: "\\")]
                var seenColumn = false, pending: [UInt8] = []
                for part in r.key.parts {
                    switch part {
                    case .column:
                        if seenColumn { keyEscapes += pending }
                        seenColumn = true
                        pending = []
                    case .literal(let s):
                        pending += Array(s.utf8)
                    case .database:
                        pending += Array(map.schema.utf8)
                    case .table:
                        pending += Array(map.table.utf8)
                    }
                }
                keyEscapes = Array(Set(keyEscapes)).sorted()
            }
            let columns = r.columns ?? names.filter { !r.excludeColumns.contains($0) }
            let fields = r.fieldNames ?? columns
            for (n, c) in columns.enumerated() {
                var jsonKey = ""
                JSONText.appendString(fields[n], to: &jsonKey)
                jsonKey += ":"
                projection.append((c, try column(c, "\(mapping.keyPath).redis.columns"), Array(fields[n].utf8), Array(jsonKey.utf8)))
            }
        }
        var indexFields = IndexColumns(names: [], kinds: [], columns: [])
        var stored = indexFields
        var primaryKey: [Int] = []
        if let ix = mapping.index {
            indexFields = IndexColumns(names: ix.fields.map(\.name), kinds: ix.fields.map(\.kind),
                                       columns: try ix.fields.map { try column($0.name, "\(mapping.keyPath).index.fields") })
            stored = IndexColumns(names: ix.stored, kinds: ix.stored.map { _ in .text },
                                  columns: try ix.stored.map { try column($0, "\(mapping.keyPath).index.stored") })
            if let pk = map.primaryKey, !pk.isEmpty {
                primaryKey = pk
            } else if let schema = schemas[mapping.qualifiedName], !schema.primaryKey.isEmpty {
                primaryKey = try schema.primaryKey.map { try column($0, "primary key") }
            } else {
                throw RoutingError("\(mapping.qualifiedName) has no primary key, so its index documents have no id; add a PRIMARY KEY")
            }
        }
        let plan = Plan(columnNames: names, mapping: mapping, keyParts: keyParts, keyEscapes: keyEscapes, projection: projection,
                        ttl: Int32(clamping: mapping.redis?.ttl ?? 0),
                        indexFields: indexFields, stored: stored, primaryKey: primaryKey)
        plans[map.tableID] = plan
        return plan
    }

    private func value(_ row: RowImage, _ i: Int, _ plan: Plan, _ txn: Transaction) throws -> ColumnValue {
        guard i < row.count, let v = row[i] else { throw missing(i, plan, txn) }
        return v
    }

    private func missing(_ i: Int, _ plan: Plan, _ txn: Transaction) -> RoutingError {
        RoutingError("column `\(plan.columnNames[i])` of \(plan.mapping.qualifiedName) is missing from the row image at \(txn.end); set binlog_row_image = FULL on the source")
    }

    /// Writes the row's key into `out` as one span and returns it.
    private func key(_ row: RowImage, _ plan: Plan, _ txn: Transaction, into out: inout CacheWrites) throws -> Int32 {
        out.beginString()
        for part in plan.keyParts {
            switch part {
            case .literal(let bytes):
                out.withBytes { $0.append(contentsOf: bytes) }
            case .column(let name, let i):
                guard i < row.count, row.isPresent(i) else { throw missing(i, plan, txn) }
                let start = out.byteCount
                guard out.withBytes({ row.appendText(i, to: &$0) }) else {
                    throw RoutingError("key column `\(name)` of \(plan.mapping.qualifiedName) is NULL in a row at \(txn.end); key templates (\(plan.mapping.keyPath).redis.key) must use NOT NULL columns")
                }
                if !plan.keyEscapes.isEmpty { out.withBytes { Self.escape(&$0, from: start, plan.keyEscapes) } }
            }
        }
        return out.endString()
    }

    /// Puts `\` before every byte of `escapes` in `bytes[start...]`.
    private static func escape(_ bytes: inout [UInt8], from start: Int, _ escapes: [UInt8]) {
        guard bytes[start...].contains(where: { escapes.contains($0) }) else { return }
        var escaped: [UInt8] = []
        for b in bytes[start...] {
            if escapes.contains(b) { escaped.append(UInt8(ascii: "\\")) }
            escaped.append(b)
        }
        bytes.replaceSubrange(start..., with: escaped)
    }

    private func documentID(_ row: RowImage, _ plan: Plan, _ txn: Transaction) throws -> String {
        if plan.primaryKey.count == 1 { return try value(row, plan.primaryKey[0], plan, txn).text ?? "" }
        var parts: [String] = []
        for i in plan.primaryKey { parts.append(try value(row, i, plan, txn).text ?? "") }
        return parts.joined(separator: ":")
    }

    private func route(_ kind: RowChange.Kind, before: RowImage?, after: RowImage?, plan: Plan, at txn: Transaction,
                       cache: inout CacheWrites, index: inout [IndexWrite]) throws {
        if let redisMode = plan.redisMode {
            switch kind {
            case .insert, .update:
                guard let after = after else { throw RoutingError("\(kind) without an after image at \(txn.end)") }
                // The old key first, so the new key's span is followed by the write's other strings.
                let oldKey = kind == .update ? try before.map { try key($0, plan, txn, into: &cache) } : nil
                let newKey = try key(after, plan, txn, into: &cache)
                let sameKey = oldKey.map { cache.spansEqual(Int($0), Int(newKey)) } ?? false
                if let oldKey {
                    if sameKey {
                        // Same key: nothing to delete (the unused span stays in the arena).
                    } else {
                        cache.appendOp(.init(kind: .delete, firstSpan: oldKey, fieldCount: 0, removedCount: 0, ttl: 0))
                    }
                }
                switch redisMode {
                case .hash:
                    let whole = replacing || (replacingTable.map { $0.schema == plan.mapping.schema && $0.table == plan.mapping.table } ?? false)
                    if whole {
                        cache.appendOp(.init(kind: .delete, firstSpan: newKey, fieldCount: 0, removedCount: 0, ttl: 0))
                    }
                    // Changed fields only: an update of the same hash (see writeChangedFieldsOnly).
                    let delta = writeChangedFieldsOnly && plan.ttl == 0 && !whole && sameKey ? before : nil
                    var fieldCount: Int32 = 0, removedCount: Int32 = 0
                    let columns = plan.projectedColumns
                    for k in columns.indices {
                        let i = columns[k]
                        guard i < after.count, after.isPresent(i) else { throw missing(i, plan, txn) }
                        if let delta, after.sameValue(i, as: delta) { continue }
                        if after.isNull(i) { removedCount += 1; continue }
                        cache.addBytes(plan.projectedFields[k])
                        cache.beginString()
                        _ = cache.withBytes { after.appendText(i, to: &$0) }
                        _ = cache.endString()
                        fieldCount += 1
                    }
                    if removedCount > 0 {
                        for k in columns.indices where after.isNull(columns[k]) && !(delta.map { after.sameValue(columns[k], as: $0) } ?? false) {
                            cache.addBytes(plan.projectedFields[k])
                        }
                    }
                    if delta == nil || fieldCount + removedCount > 0 {
                        cache.appendOp(.init(kind: .hash, firstSpan: newKey, fieldCount: fieldCount, removedCount: removedCount, ttl: plan.ttl))
                    }
                case .json:
                    cache.beginString()
                    try cache.withBytes { out in
                        out.append(UInt8(ascii: "{"))
                        for (n, p) in plan.projection.enumerated() {
                            if n > 0 { out.append(UInt8(ascii: ",")) }
                            out.append(contentsOf: p.jsonKey)
                            guard p.index < after.count, after.appendJSON(p.index, to: &out) else { throw missing(p.index, plan, txn) }
                        }
                        out.append(UInt8(ascii: "}"))
                    }
                    _ = cache.endString()
                    cache.appendOp(.init(kind: .string, firstSpan: newKey, fieldCount: 1, removedCount: 0, ttl: plan.ttl))
                case .invalidate:
                    cache.appendOp(.init(kind: .delete, firstSpan: newKey, fieldCount: 0, removedCount: 0, ttl: 0))
                }
            case .delete:
                guard let before = before else { throw RoutingError("delete without a before image at \(txn.end)") }
                cache.appendOp(.init(kind: .delete, firstSpan: try key(before, plan, txn, into: &cache), fieldCount: 0, removedCount: 0, ttl: 0))
            }
        }
        if let indexName = plan.indexName {
            switch kind {
            case .insert, .update:
                guard let after = after else { throw RoutingError("\(kind) without an after image at \(txn.end)") }
                let id = try documentID(after, plan, txn)
                if kind == .update, let before = before {
                    let oldID = try documentID(before, plan, txn)
                    if oldID != id { index.append(.delete(index: indexName, id: oldID)) }
                }
                // Values are made when the index sink builds the document (see IndexFieldValues).
                for i in plan.indexFields.columns where !(i < after.count && after.isPresent(i)) { throw missing(i, plan, txn) }
                for i in plan.stored.columns where !(i < after.count && after.isPresent(i)) { throw missing(i, plan, txn) }
                index.append(.upsert(index: indexName, id: id, fields: IndexFieldValues(row: after, layout: plan.indexFields),
                                     stored: StoredFieldValues(row: after, layout: plan.stored)))
            case .delete:
                guard let before = before else { throw RoutingError("delete without a before image at \(txn.end)") }
                index.append(.delete(index: indexName, id: try documentID(before, plan, txn)))
            }
        }
    }
}
