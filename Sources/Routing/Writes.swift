import BinlogCore

/// One cache write, already resolved to a key: what the Redis sink executes.
public enum CacheWrite: Sendable, Equatable {
    /// Replace a hash's fields: set `fields`, remove `removed` (the NULL columns).
    case hash(key: String, fields: [(String, String)], removed: [String])
    /// Set a string value (json mode).
    case string(key: String, value: String)
    /// Delete a key (row deletes, key changes, invalidate mode).
    case delete(key: String)

    public var key: String {
        switch self {
        case .hash(let key, _, _), .string(let key, _), .delete(let key): return key
        }
    }

    public static func == (a: CacheWrite, b: CacheWrite) -> Bool {
        switch (a, b) {
        case let (.hash(k1, f1, r1), .hash(k2, f2, r2)):
            return k1 == k2 && r1 == r2 && f1.map { $0.0 } == f2.map { $0.0 } && f1.map { $0.1 } == f2.map { $0.1 }
        case let (.string(k1, v1), .string(k2, v2)): return k1 == k2 && v1 == v2
        case let (.delete(k1), .delete(k2)): return k1 == k2
        default: return false
        }
    }
}

/// The kind of an index field, as the config names it.
public enum IndexFieldKind: String, Sendable, CaseIterable {
    case text, keyword, number
}

/// One index write: what the index sink executes.
public enum IndexWrite: Sendable {
    /// Insert or replace the document `id` of index `index`.
    case upsert(index: String, id: String, fields: [(name: String, kind: IndexFieldKind, value: ColumnValue)],
                stored: [(name: String, value: ColumnValue)])
    /// Remove the document `id` of index `index` (no-op when absent).
    case delete(index: String, id: String)
}

/// A source transaction turned into the writes of every derived store.
public struct RoutedTransaction: Sendable {
    /// Where the transaction ends in the log: the checkpoint once it is applied.
    public var end: BinlogPosition
    public var gtid: String?
    /// The source commit time (seconds since the epoch).
    public var timestamp: UInt32
    /// Rows the transaction changed, mapped or not.
    public var rowCount: Int
    public var cache: [CacheWrite]
    public var index: [IndexWrite]
}
