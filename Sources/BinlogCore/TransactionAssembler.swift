/// Groups decoded events into committed transactions.
///
/// Feed every event in log order. A transaction opens at its GTID (MySQL GTID or
/// ANONYMOUS_GTID, MariaDB GTID) or at BEGIN when there is no GTID, collects the row
/// changes, and is returned when XID or a `COMMIT` query closes it. `ROLLBACK`
/// discards it. Row events outside BEGIN…COMMIT (non-transactional engines without
/// BEGIN) form a transaction of their own that ends with the statement's last row
/// event. DDL and other standalone statements yield nothing.
///
/// Like a state machine in PostgresNIO, it does no I/O: events in, transactions out.
public struct TransactionAssembler: Sendable {
    private struct Open: Sendable {
        var start: BinlogPosition
        var gtid: String?
        var standalone = false
        var inBegin = false
        var changes: [RowChange] = []
    }

    private var open: Open?

    public init() {}

    /// `true` while a transaction has started and not yet committed or rolled back.
    public var isInTransaction: Bool { open?.inBegin ?? false || !(open?.changes.isEmpty ?? true) }

    public mutating func consume(_ event: DecodedEvent) throws -> Transaction? {
        switch event.event {
        case .gtid(let gtid):
            try startGroup(at: event, gtid: gtid, standalone: false)
        case .anonymousGTID:
            try startGroup(at: event, gtid: nil, standalone: false)
        case .mariadbGTID(let gtid):
            try startGroup(at: event, gtid: gtid.description, standalone: gtid.isStandalone)
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
            if let current = open, !current.inBegin, event.isStatementEnd {
                open = nil
                return transaction(current, closedBy: event)
            }
        case .rotate:
            // A ROTATE that starts a stream (timestamp 0) abandons a half-received
            // transaction: the reader re-reads it from its start.
            if event.header.timestamp == 0 || event.header.nextPosition == 0 {
                open = nil
            } else if let current = open, !current.changes.isEmpty {
                throw BinlogError(code: .corrupt, position: event.position,
                                  message: "ROTATE to a new file inside the transaction that started at \(current.start); servers never split a transaction across files — the binlog is corrupt")
            } else {
                open = nil
            }
        case .formatDescription:
            open = nil
        case .incident(let number, let message):
            throw BinlogError(code: .corrupt, position: event.position,
                              message: "the source logged INCIDENT \(number) (\(message.isEmpty ? "no message" : message)): it lost changes it could not log, so the derived stores may miss data; resync the affected tables (`distributary resync`) and restart after this event")
        default:
            break
        }
        return nil
    }

    private mutating func startGroup(at event: DecodedEvent, gtid: String?, standalone: Bool) throws {
        if let current = open, !current.changes.isEmpty {
            throw BinlogError(code: .corrupt, position: event.position,
                              message: "a new transaction (GTID \(gtid ?? "anonymous")) starts before the one at \(current.start) committed; the binlog is corrupt or events were skipped — restart from \(current.start)")
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
            open = nil
            return nil
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
    case begin, commit, rollback, other

    init(_ sql: String) {
        var words = sql.utf8.lazy.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d || $0 == 0x3b }).makeIterator()
        guard let first = words.next() else { self = .other; return }
        func matches(_ word: Substring.UTF8View.SubSequence?, _ keyword: String) -> Bool {
            guard let word else { return false }
            return word.count == keyword.utf8.count && zip(word, keyword.utf8).allSatisfy { ($0 | 0x20) == ($1 | 0x20) }
        }
        _ = matches
        let firstWord = String(decoding: first, as: UTF8.self).uppercased()
        let rest = words.next().map { String(decoding: $0, as: UTF8.self).uppercased() }
        switch firstWord {
        case "BEGIN": self = .begin
        case "COMMIT": self = .commit
        case "ROLLBACK": self = rest == "TO" ? .other : .rollback
        case "START": self = rest == "TRANSACTION" ? .begin : .other
        default: self = .other
        }
    }
}
