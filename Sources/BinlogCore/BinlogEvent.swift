/// The 19-byte header every binlog event (v4 format) starts with.
public struct EventHeader: Sendable, Hashable {
    /// Seconds since the epoch on the source's clock.
    public var timestamp: UInt32
    /// The event type code (see `EventType`).
    public var type: UInt8
    public var serverID: UInt32
    /// Header + body + checksum trailer, in bytes.
    public var eventSize: UInt32
    /// Offset just past this event in its file (0 for artificial events).
    public var nextPosition: UInt32
    public var flags: UInt16

    public static let size = 19
    /// LOG_EVENT_IGNORABLE_F: a reader that does not know the event type may skip it.
    public static let ignorableFlag: UInt16 = 0x0080

    public init(timestamp: UInt32, type: UInt8, serverID: UInt32, eventSize: UInt32, nextPosition: UInt32, flags: UInt16) {
        self.timestamp = timestamp
        self.type = type
        self.serverID = serverID
        self.eventSize = eventSize
        self.nextPosition = nextPosition
        self.flags = flags
    }
}

/// A MariaDB global transaction id with the flags of its GTID event.
public struct MariaDBGTID: Sendable, Hashable, CustomStringConvertible {
    public var domainID: UInt32
    public var serverID: UInt32
    public var sequence: UInt64
    /// The GTID event's flags (`standalone` = 0x01, group commit id = 0x02, …); 0 in a GTID list.
    public var flags: UInt8
    /// The group commit id, when the event carries one.
    public var commitID: UInt64?

    public init(domainID: UInt32, serverID: UInt32, sequence: UInt64, flags: UInt8 = 0, commitID: UInt64? = nil) {
        self.domainID = domainID
        self.serverID = serverID
        self.sequence = sequence
        self.flags = flags
        self.commitID = commitID
    }

    /// FL_STANDALONE: no BEGIN…COMMIT follows; the next event (DDL) is the whole transaction.
    public var isStandalone: Bool { flags & 0x01 != 0 }

    /// `domain-server-sequence`, e.g. `0-1-100`.
    public var description: String { "\(domainID)-\(serverID)-\(sequence)" }
}

/// One decoded binlog event.
///
/// Events this module needs no data from are `.other(type:)`; events whose data
/// matters but cannot be decoded (compressed, encrypted) are errors, never skipped.
public enum BinlogEvent: Sendable {
    /// FORMAT_DESCRIPTION (or the old START_V3): sets checksum and post-header lengths.
    case formatDescription(binlogVersion: UInt16, serverVersion: String, checksum: Bool)
    /// ROTATE: the next events come from `file` at `position`.
    case rotate(file: String, position: UInt64)
    /// QUERY: BEGIN, COMMIT, ROLLBACK, DDL or a statement-based change.
    case query(schema: String, sql: String)
    /// XID: commit of a transactional transaction.
    case xid(UInt64)
    case tableMap(TableMap)
    /// WRITE/UPDATE/DELETE_ROWS (v1 or v2), decoded with the current TABLE_MAP.
    case rows([RowChange])
    /// MySQL GTID: `uuid:n` (tagged: `uuid:tag:n`).
    case gtid(String)
    /// MySQL ANONYMOUS_GTID: a transaction starts, without a GTID.
    case anonymousGTID
    /// MySQL PREVIOUS_GTIDS: the GTID set executed before this file, as `uuid:1-5:7,…`.
    case previousGTIDs(String)
    /// MariaDB GTID: a transaction starts (or, when standalone, the next statement is one).
    case mariadbGTID(MariaDBGTID)
    /// MariaDB GTID_LIST: the binlog state at the start of a file.
    case gtidList([MariaDBGTID])
    /// MariaDB BINLOG_CHECKPOINT: oldest file still needed for crash recovery.
    case binlogCheckpoint(file: String)
    /// MariaDB ANNOTATE_ROWS: the SQL text behind the next row events.
    case annotateRows(String)
    /// MySQL ROWS_QUERY: the SQL text behind the next row events.
    case rowsQuery(String)
    /// HEARTBEAT (v1 or v2): the source is alive; no data.
    case heartbeat
    /// STOP: the server stopped; the file ends here.
    case stop
    /// INCIDENT: the source lost changes it could not log (e.g. a failed statement on a
    /// non-transactional table); derived stores may be missing data from here on.
    case incident(number: UInt16, message: String)
    /// MySQL 8 TRANSACTION_PAYLOAD (`binlog_transaction_compression=ON`): the events of
    /// one transaction, decompressed and decoded in order with the decoder's state. They
    /// share the payload event's header-derived `position`; their own headers are as
    /// the server wrote them inside the payload.
    case transactionPayload([DecodedEvent])
    /// An event type that carries nothing this module needs (INTVAR, USER_VAR, …), or an
    /// unknown one the server marked ignorable (LOG_EVENT_IGNORABLE_F).
    case other(type: UInt8)
}

/// A decoded event with its header and where it starts.
public struct DecodedEvent: Sendable {
    public var header: EventHeader
    /// Where the event starts (file + offset).
    public var position: BinlogPosition
    public var event: BinlogEvent
    /// The flags of a ROWS event (`0x0001` = end of statement); 0 for other events.
    public var rowsFlags: UInt16

    public init(header: EventHeader, position: BinlogPosition, event: BinlogEvent, rowsFlags: UInt16 = 0) {
        self.header = header
        self.position = position
        self.event = event
        self.rowsFlags = rowsFlags
    }

    /// `true` for a ROWS event that ends its statement (STMT_END_F).
    public var isStatementEnd: Bool { rowsFlags & 0x0001 != 0 }
}

/// Binlog event type codes (MySQL and MariaDB).
public enum EventType {
    public static let startV3: UInt8 = 1
    public static let query: UInt8 = 2
    public static let stop: UInt8 = 3
    public static let rotate: UInt8 = 4
    public static let intvar: UInt8 = 5
    public static let userVar: UInt8 = 14
    public static let formatDescription: UInt8 = 15
    public static let xid: UInt8 = 16
    public static let beginLoadQuery: UInt8 = 17
    public static let executeLoadQuery: UInt8 = 18
    public static let tableMap: UInt8 = 19
    public static let preGAWriteRows: UInt8 = 20
    public static let preGAUpdateRows: UInt8 = 21
    public static let preGADeleteRows: UInt8 = 22
    public static let writeRowsV1: UInt8 = 23
    public static let updateRowsV1: UInt8 = 24
    public static let deleteRowsV1: UInt8 = 25
    public static let incident: UInt8 = 26
    public static let heartbeat: UInt8 = 27
    public static let ignorable: UInt8 = 28
    public static let rowsQuery: UInt8 = 29
    public static let writeRowsV2: UInt8 = 30
    public static let updateRowsV2: UInt8 = 31
    public static let deleteRowsV2: UInt8 = 32
    public static let gtid: UInt8 = 33
    public static let anonymousGTID: UInt8 = 34
    public static let previousGTIDs: UInt8 = 35
    public static let transactionContext: UInt8 = 36
    public static let viewChange: UInt8 = 37
    public static let xaPrepare: UInt8 = 38
    public static let partialUpdateRows: UInt8 = 39
    public static let transactionPayload: UInt8 = 40
    public static let heartbeatV2: UInt8 = 41
    public static let gtidTagged: UInt8 = 42
    public static let mariadbAnnotateRows: UInt8 = 160
    public static let mariadbBinlogCheckpoint: UInt8 = 161
    public static let mariadbGTID: UInt8 = 162
    public static let mariadbGTIDList: UInt8 = 163
    public static let mariadbStartEncryption: UInt8 = 164
    public static let mariadbQueryCompressed: UInt8 = 165
    public static let mariadbWriteRowsCompressed: UInt8 = 166
    public static let mariadbUpdateRowsCompressed: UInt8 = 167
    public static let mariadbDeleteRowsCompressed: UInt8 = 168
    public static let mariadbWriteRowsCompressedV1: UInt8 = 169
    public static let mariadbUpdateRowsCompressedV1: UInt8 = 170
    public static let mariadbDeleteRowsCompressedV1: UInt8 = 171

    /// The server's name for an event type, for messages.
    public static func name(_ type: UInt8) -> String {
        switch type {
        case 0: return "UNKNOWN"
        case 1: return "START_V3"
        case 2: return "QUERY"
        case 3: return "STOP"
        case 4: return "ROTATE"
        case 5: return "INTVAR"
        case 6: return "LOAD"
        case 7: return "SLAVE"
        case 8: return "CREATE_FILE"
        case 9: return "APPEND_BLOCK"
        case 10: return "EXEC_LOAD"
        case 11: return "DELETE_FILE"
        case 12: return "NEW_LOAD"
        case 13: return "RAND"
        case 14: return "USER_VAR"
        case 15: return "FORMAT_DESCRIPTION"
        case 16: return "XID"
        case 17: return "BEGIN_LOAD_QUERY"
        case 18: return "EXECUTE_LOAD_QUERY"
        case 19: return "TABLE_MAP"
        case 20: return "PRE_GA_WRITE_ROWS"
        case 21: return "PRE_GA_UPDATE_ROWS"
        case 22: return "PRE_GA_DELETE_ROWS"
        case 23: return "WRITE_ROWS_V1"
        case 24: return "UPDATE_ROWS_V1"
        case 25: return "DELETE_ROWS_V1"
        case 26: return "INCIDENT"
        case 27: return "HEARTBEAT"
        case 28: return "IGNORABLE"
        case 29: return "ROWS_QUERY"
        case 30: return "WRITE_ROWS_V2"
        case 31: return "UPDATE_ROWS_V2"
        case 32: return "DELETE_ROWS_V2"
        case 33: return "GTID"
        case 34: return "ANONYMOUS_GTID"
        case 35: return "PREVIOUS_GTIDS"
        case 36: return "TRANSACTION_CONTEXT"
        case 37: return "VIEW_CHANGE"
        case 38: return "XA_PREPARE"
        case 39: return "PARTIAL_UPDATE_ROWS"
        case 40: return "TRANSACTION_PAYLOAD"
        case 41: return "HEARTBEAT_V2"
        case 42: return "GTID_TAGGED_LOG"
        case 160: return "ANNOTATE_ROWS"
        case 161: return "BINLOG_CHECKPOINT"
        case 162: return "MARIADB_GTID"
        case 163: return "GTID_LIST"
        case 164: return "START_ENCRYPTION"
        case 165: return "QUERY_COMPRESSED"
        case 166: return "WRITE_ROWS_COMPRESSED"
        case 167: return "UPDATE_ROWS_COMPRESSED"
        case 168: return "DELETE_ROWS_COMPRESSED"
        case 169: return "WRITE_ROWS_COMPRESSED_V1"
        case 170: return "UPDATE_ROWS_COMPRESSED_V1"
        case 171: return "DELETE_ROWS_COMPRESSED_V1"
        default: return "type \(type)"
        }
    }
}
