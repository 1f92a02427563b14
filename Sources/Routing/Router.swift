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
    private let mappings: [String: TableMapping]
    private let schemas: [String: TableSchema]
    private var plans: [UInt64: Plan] = [:]

    /// `schemas` (keyed by `db.table`) supply primary keys when a TABLE_MAP carries none.
    public init(config: PipelineConfig, schemas: [String: TableSchema] = [:]) {
        self.config = config
        var mappings: [String: TableMapping] = [:]
        for t in config.tables { mappings[t.qualifiedName] = t }
        self.mappings = mappings
        self.schemas = schemas
    }

    /// Column indexes resolved for one table map.
    private struct Plan: Sendable {
        var columnNames: [String]
        var mapping: TableMapping
        var keyParts: [KeyPart]
        var projection: [(name: String, index: Int)]
        var indexFields: [(name: String, kind: IndexFieldKind, index: Int)]
        var stored: [(name: String, index: Int)]
        var primaryKey: [Int]
    }

    private enum KeyPart: Sendable {
        case literal(String)
        case column(name: String, index: Int)
    }

    /// Whether the configuration maps `db.table` at all (unmapped tables cost only their decode).
    public func isMapped(schema: String, table: String) -> Bool {
        mappings["\(schema).\(table)"] != nil
    }

    public mutating func route(_ transaction: Transaction) throws -> RoutedTransaction {
        var cache: [CacheWrite] = []
        var index: [IndexWrite] = []
        for change in transaction.changes {
            guard let plan = try plan(for: change.table, at: transaction) else { continue }
            try route(change, plan: plan, at: transaction, cache: &cache, index: &index)
        }
        return RoutedTransaction(end: transaction.end, gtid: transaction.gtid, timestamp: transaction.timestamp,
                                 rowCount: transaction.changes.count, cache: cache, index: index)
    }

    private mutating func plan(for map: TableMap, at txn: Transaction) throws -> Plan? {
        if let cached = plans[map.tableID], let names = map.columnNames, cached.columnNames == names,
           cached.mapping.schema == map.schema, cached.mapping.table == map.table {
            return cached
        }
        guard let mapping = mappings["\(map.schema).\(map.table)"] else { return nil }
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
        var projection: [(name: String, index: Int)] = []
        if let r = mapping.redis {
            for part in r.key.parts {
                switch part {
                case .literal(let s): keyParts.append(.literal(s))
                case .column(let n): keyParts.append(.column(name: n, index: try column(n, "\(mapping.keyPath).redis.key")))
                }
            }
            if let cols = r.columns {
                projection = try cols.map { ($0, try column($0, "\(mapping.keyPath).redis.columns")) }
            } else {
                projection = names.enumerated().map { ($0.element, $0.offset) }
            }
        }
        var indexFields: [(name: String, kind: IndexFieldKind, index: Int)] = []
        var stored: [(name: String, index: Int)] = []
        var primaryKey: [Int] = []
        if let ix = mapping.index {
            indexFields = try ix.fields.map { ($0.name, $0.kind, try column($0.name, "\(mapping.keyPath).index.fields")) }
            stored = try ix.stored.map { ($0, try column($0, "\(mapping.keyPath).index.stored")) }
            if let pk = map.primaryKey, !pk.isEmpty {
                primaryKey = pk
            } else if let schema = schemas[mapping.qualifiedName], !schema.primaryKey.isEmpty {
                primaryKey = try schema.primaryKey.map { try column($0, "primary key") }
            } else {
                throw RoutingError("\(mapping.qualifiedName) has no primary key, so its index documents have no id; add a PRIMARY KEY")
            }
        }
        let plan = Plan(columnNames: names, mapping: mapping, keyParts: keyParts, projection: projection,
                        indexFields: indexFields, stored: stored, primaryKey: primaryKey)
        plans[map.tableID] = plan
        return plan
    }

    private func value(_ row: RowImage, _ i: Int, _ plan: Plan, _ txn: Transaction) throws -> ColumnValue {
        guard i < row.count, let v = row[i] else {
            throw RoutingError("column `\(plan.columnNames[i])` of \(plan.mapping.qualifiedName) is missing from the row image at \(txn.end); set binlog_row_image = FULL on the source")
        }
        return v
    }

    private func key(_ row: RowImage, _ plan: Plan, _ txn: Transaction) throws -> String {
        var key = ""
        for part in plan.keyParts {
            switch part {
            case .literal(let s): key += s
            case .column(let name, let i):
                guard let text = try value(row, i, plan, txn).text else {
                    throw RoutingError("key column `\(name)` of \(plan.mapping.qualifiedName) is NULL in a row at \(txn.end); key templates (\(plan.mapping.keyPath).redis.key) must use NOT NULL columns")
                }
                key += text
            }
        }
        return key
    }

    private func documentID(_ row: RowImage, _ plan: Plan, _ txn: Transaction) throws -> String {
        var parts: [String] = []
        for i in plan.primaryKey { parts.append(try value(row, i, plan, txn).text ?? "") }
        return parts.joined(separator: ":")
    }

    private func route(_ change: RowChange, plan: Plan, at txn: Transaction,
                       cache: inout [CacheWrite], index: inout [IndexWrite]) throws {
        if let redis = plan.mapping.redis {
            switch change.kind {
            case .insert, .update:
                guard let after = change.after else { throw RoutingError("\(change.kind) without an after image at \(txn.end)") }
                let newKey = try key(after, plan, txn)
                if change.kind == .update, let before = change.before {
                    let oldKey = try key(before, plan, txn)
                    if oldKey != newKey { cache.append(.delete(key: oldKey)) }
                }
                switch redis.mode {
                case .hash:
                    var fields: [(String, String)] = []
                    var removed: [String] = []
                    fields.reserveCapacity(plan.projection.count)
                    for (name, i) in plan.projection {
                        if let text = try value(after, i, plan, txn).text { fields.append((name, text)) } else { removed.append(name) }
                    }
                    cache.append(.hash(key: newKey, fields: fields, removed: removed))
                case .json:
                    var json = "{"
                    for (n, (name, i)) in plan.projection.enumerated() {
                        if n > 0 { json += "," }
                        JSONText.appendString(name, to: &json)
                        json += ":"
                        try value(after, i, plan, txn).appendJSON(to: &json)
                    }
                    json += "}"
                    cache.append(.string(key: newKey, value: json))
                case .invalidate:
                    cache.append(.delete(key: newKey))
                }
            case .delete:
                guard let before = change.before else { throw RoutingError("delete without a before image at \(txn.end)") }
                cache.append(.delete(key: try key(before, plan, txn)))
            }
        }
        if let ix = plan.mapping.index {
            switch change.kind {
            case .insert, .update:
                guard let after = change.after else { throw RoutingError("\(change.kind) without an after image at \(txn.end)") }
                let id = try documentID(after, plan, txn)
                if change.kind == .update, let before = change.before {
                    let oldID = try documentID(before, plan, txn)
                    if oldID != id { index.append(.delete(index: ix.name, id: oldID)) }
                }
                let fields = try plan.indexFields.map { (name: $0.name, kind: $0.kind, value: try value(after, $0.index, plan, txn)) }
                let stored = try plan.stored.map { (name: $0.name, value: try value(after, $0.index, plan, txn)) }
                index.append(.upsert(index: ix.name, id: id, fields: fields, stored: stored))
            case .delete:
                guard let before = change.before else { throw RoutingError("delete without a before image at \(txn.end)") }
                index.append(.delete(index: ix.name, id: try documentID(before, plan, txn)))
            }
        }
    }
}
