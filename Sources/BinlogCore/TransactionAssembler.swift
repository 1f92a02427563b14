/// Groups decoded events into committed transactions.
///
/// Feed every event in log order. A transaction opens at its GTID (MySQL GTID or
/// ANONYMOUS_GTID, MariaDB GTID) or at BEGIN when there is no GTID, collects the row
/// changes, and is returned when XID or a `COMMIT` query closes it. `ROLLBACK`
/// discards it. Row events outside BEGIN…COMMIT (non-transactional engines without
/// BEGIN) form a transaction of their own that ends with the statement's last row
/// event. DDL and other standalone statements yield nothing.
///
/// With `pieceBytes`, a transaction whose row events add up to more than that many bytes
/// is handed out in pieces (`Transaction.isPartial`) as it is read, so that memory stays
/// bounded however large it is; the commit comes with the last piece.
///
/// Like a state machine in PostgresNIO, it does no I/O: events in, transactions out.
public struct TransactionAssembler: Sendable {
    private struct Open: Sendable {
        var start: BinlogPosition
        var gtid: String?
        var standalone = false
        var inBegin = false
        var changes: [RowChange] = []
        /// Row event bytes since the last piece.
        var bytes = 0
        /// Pieces already handed out.
        var pieces = 0
    }

    private var open: Open?
    private let pieceBytes: Int?
    private var inPayload = false

    public init(pieceBytes: Int? = nil) {
        self.pieceBytes = pieceBytes
    }

    /// `true` while a transaction has started and not yet committed or rolled back.
    public var isInTransaction: Bool { open?.inBegin ?? false || !(open?.changes.isEmpty ?? true) }

    /// Feeds the next event in log order; returns the transaction it commits, if any.
    /// Throws on an INCIDENT, an XA transaction, or a group that never closes before the
    /// next one starts (events skipped or reordered).
    public mutating func consume(_ event: DecodedEvent) throws -> Transaction? {
        switch event.event {
        case .gtid(let gtid):
            try startGroup(at: event, gtid: gtid, standalone: false)
        case .anonymousGTID:
            try startGroup(at: event, gtid: nil, standalone: false)
        case .mariadbGTID(let gtid):
            // MariaDB's GTID event stands for BEGIN unless the group is standalone.
            try startGroup(at: event, gtid: gtid.description, standalone: gtid.isStandalone)
            open?.inBegin = !gtid.isStandalone
        case .query(_, let sql):
            return try query(sql, event: event)
        case .xid:
            guard let current = open else { return nil }
            open = nil
            return transaction(current, closedBy: event)
        case .tableMap:
            if open == nil { open = Open(start: event.position) }
        case .rows(let changes):
            if open == nil { open = Open(start: event.position) }
            open?.changes.append(contentsOf: changes)
            open?.bytes += Int(event.header.eventSize)
            if let current = open, !current.inBegin, event.isStatementEnd {
                open = nil
                return transaction(current, closedBy: event)
            }
            if let limit = pieceBytes, !inPayload, let current = open, current.bytes >= limit {
                // Hand out what is held; the next piece starts after this event.
                var piece = transaction(current, closedBy: event)
                piece.isPartial = true
                open?.changes = []
                open?.bytes = 0
                open?.pieces += 1
                open?.start = piece.end
                return piece
            }
        case .rotate:
            // A ROTATE that starts a stream (timestamp 0) abandons a half-received
            // transaction: the reader re-reads it from its start.
            if event.header.timestamp == 0 || event.header.nextPosition == 0 {
                open = nil
            } else if let current = open, !current.changes.isEmpty {
                throw BinlogError(code: .corrupt, position: event.position,
                                  message: "ROTATE at \(event.position) to a new file inside the transaction that started at \(current.start); servers never split a transaction across files — the binlog is corrupt")
            } else {
                open = nil
            }
        case .formatDescription:
            open = nil
        case .transactionPayload(let nested):
            return try consumePayload(nested, in: event)
        case .incident(let number, let message):
            throw BinlogError(code: .corrupt, position: event.position,
                              message: "at \(event.position) the source logged INCIDENT \(number) (\(message.isEmpty ? "no message" : message)): it lost changes it could not log, so the derived stores may miss data; resync the affected tables (`distributary resync`) and restart after this event")
        default:
            break
        }
        return nil
    }

    /// Call at the end of an offline file: throws `.truncated` when a transaction
    /// began but never committed (servers write whole transactions, so the file is cut).
    public func finish() throws {
        guard let current = open, current.inBegin || !current.changes.isEmpty else { return }
        throw BinlogError(code: .truncated, position: current.start,
                          message: "the transaction that starts at \(current.start) (offset \(current.start.offset)) has no COMMIT or XID before the end of the input; the binlog is cut short — re-copy it from the server")
    }

    /// The events of a TRANSACTION_PAYLOAD, fed as if they stood in the log at the
    /// payload's place: the transaction they commit ends where the payload event ends.
    private mutating func consumePayload(_ nested: [DecodedEvent], in payload: DecodedEvent) throws -> Transaction? {
        // A payload is one compressed transaction already held whole in memory: no pieces.
        inPayload = true
        defer { inPayload = false }
        var committed: Transaction?
        for var event in nested {
            event.position = payload.position
            event.header.nextPosition = payload.header.nextPosition
            event.header.eventSize = payload.header.eventSize
            guard let transaction = try consume(event) else { continue }
            if committed != nil {
                throw BinlogError(code: .corrupt, position: payload.position,
                                  message: "the TRANSACTION_PAYLOAD at \(payload.position) (offset \(payload.position.offset)) commits more than one transaction; a payload holds exactly one — the binlog is corrupt")
            }
            committed = transaction
        }
        return committed
    }

    private mutating func startGroup(at event: DecodedEvent, gtid: String?, standalone: Bool) throws {
        if let current = open, !current.changes.isEmpty {
            throw BinlogError(code: .corrupt, position: event.position,
                              message: "a new transaction (GTID \(gtid ?? "anonymous")) starts at \(event.position) before the one at \(current.start) committed; the binlog is corrupt or events were skipped — restart from \(current.start)")
        }
        open = Open(start: event.position, gtid: gtid, standalone: standalone)
    }

    private mutating func query(_ sql: String, event: DecodedEvent) throws -> Transaction? {
        switch QueryKind(sql) {
        case .begin:
            if open == nil { open = Open(start: event.position) }
            open?.inBegin = true
            return nil
        case .commit:
            guard let current = open else { return nil }
            open = nil
            return transaction(current, closedBy: event)
        case .rollback:
            if let current = open, current.pieces > 0 {
                throw BinlogError(code: .unsupported, position: event.position,
                                  message: "the transaction that ends with ROLLBACK at \(event.position) was larger than the memory budget, and \(current.pieces) piece(s) of it were already applied; a ROLLBACK in the log means it mixed non-transactional tables. Raise memory_budget above its size and resync the tables it touched (`distributary resync`)")
            }
            open = nil
            return nil
        case .xaStart:
            throw BinlogError(code: .unsupported, position: event.position,
                              message: "XA transaction starts at \(event.position) (`\(sql.prefix(60))`); XA transactions commit in a later group, which this reader does not follow — avoid XA on replicated tables")
        case .other:
            // DDL or a statement-based change: it ends a standalone group (and any
            // GTID waiting for its BEGIN); inside BEGIN…COMMIT it is part of the group.
            if let current = open, !current.inBegin, current.changes.isEmpty {
                open = nil
            }
            return nil
        }
    }

    private func transaction(_ current: Open, closedBy event: DecodedEvent) -> Transaction {
        let endOffset = event.header.nextPosition != 0
            ? UInt64(event.header.nextPosition)
            : event.position.offset + UInt64(event.header.eventSize)
        return Transaction(gtid: current.gtid, start: current.start,
                           end: BinlogPosition(file: event.position.file, offset: endOffset),
                           timestamp: event.header.timestamp, changes: current.changes)
    }
}

/// The transaction-control meaning of a QUERY event's SQL.
enum QueryKind: Equatable {
    case begin, commit, rollback, xaStart, other

    /// Looks at the first two words only (statements can be megabytes long).
    init(_ sql: String) {
        var head = SQLHead(Array(sql.utf8.prefix(64)))
        let first = head.word()
        let second = head.word()
        switch first {
        case "BEGIN": self = .begin
        case "COMMIT": self = .commit
        case "ROLLBACK": self = second == "TO" ? .other : .rollback
        case "START": self = second == "TRANSACTION" ? .begin : .other
        case "XA": self = second == "START" || second == "BEGIN" ? .xaStart : .other
        default: self = .other
        }
    }
}
