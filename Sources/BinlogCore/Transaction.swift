/// One changed row, decoded with its table's map.
public struct RowChange: Sendable {
    public enum Kind: String, Sendable { case insert, update, delete }

    public var kind: Kind
    public var table: TableMap
    /// The row before the change (update, delete); `nil` for insert.
    /// An element is `nil` when the column is not in the logged image.
    public var before: RowImage?
    /// The row after the change (insert, update); `nil` for delete. A partial JSON
    /// update (PARTIAL_UPDATE_ROWS) appears as the whole new document; it is `nil` like
    /// an unlogged column when the before image lacks the document it patches.
    public var after: RowImage?

    public init(kind: Kind, table: TableMap, before: RowImage?, after: RowImage?) {
        self.kind = kind
        self.table = table
        self.before = before
        self.after = after
    }
}

/// A committed source transaction: every row it changed, in log order.
public struct Transaction: Sendable {
    /// `domain-server-seq` on MariaDB, `uuid:n` on MySQL; `nil` when the log has none.
    public var gtid: String?
    /// Position of the transaction's first event (its GTID or BEGIN).
    public var start: BinlogPosition
    /// Position just past its commit event: where a reader resumes after it.
    public var end: BinlogPosition
    /// The commit event's timestamp (seconds since the epoch, source clock).
    public var timestamp: UInt32
    public var changes: [RowChange]
    /// A piece of a transaction too large to hold whole (`TransactionAssembler(pieceBytes:)`):
    /// more pieces follow, and the last one (not partial) carries the commit. `start`…`end`
    /// then spans this piece's events only, and `end` is not a place to resume from.
    public var isPartial: Bool
    /// Tables a DDL statement of this group changed without row events (a transaction of
    /// its own, with no changes; see `DDLTarget`).
    public var ddl: [DDLTarget] = []

    /// Binlog bytes from `start` to `end` (0 when they lie in different files).
    public var byteCount: Int {
        start.file == end.file && end.offset > start.offset ? Int(end.offset - start.offset) : 0
    }

    public init(gtid: String?, start: BinlogPosition, end: BinlogPosition, timestamp: UInt32, changes: [RowChange], isPartial: Bool = false) {
        self.gtid = gtid
        self.start = start
        self.end = end
        self.timestamp = timestamp
        self.changes = changes
        self.isPartial = isPartial
    }
}
