import BinlogCore
import Foundation

/// How long to wait between reconnect attempts: capped exponential backoff with
/// "equal jitter" (half the delay fixed, half random), so many replicators that lost
/// the same server do not all come back in the same instant.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Delay before the first retry.
    public var initialDelaySeconds: Double
    /// Largest delay between two attempts.
    public var maxDelaySeconds: Double
    /// Consecutive failed attempts after which the follower gives up; `nil` = never.
    public var maxAttempts: Int?

    public init(initialDelaySeconds: Double = 0.5, maxDelaySeconds: Double = 30, maxAttempts: Int? = nil) {
        self.initialDelaySeconds = initialDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.maxAttempts = maxAttempts
    }

    /// The wait after the `failures`-th consecutive failure (1-based); `random` in 0…1.
    public func delay(afterFailures failures: Int, random: Double) -> Double {
        let exponent = Double(min(max(failures - 1, 0), 62))
        let base = min(maxDelaySeconds, initialDelaySeconds * pow(2, exponent))
        return base / 2 + base / 2 * min(max(random, 0), 1)
    }
}

/// Where the follower stands: just past the last whole transaction it delivered.
public struct ResumePoint: Sendable, Equatable, CustomStringConvertible {
    /// Binlog position on the server currently read.
    public var position: BinlogPosition
    /// MariaDB: the GTID position after that transaction (`nil` on MySQL).
    public var gtid: GTIDPosition?
    /// `@@server_id` of the server `position` belongs to, once connected.
    public var serverID: UInt32?
    /// MySQL: the executed GTID set after that transaction, when known (informational:
    /// MySQL resumes by position). It is learned from SHOW MASTER STATUS, a checkpoint,
    /// or the PREVIOUS_GTIDS event that opens every binlog file.
    public var mysqlGTIDs: MySQLGTIDSet?

    public init(position: BinlogPosition, gtid: GTIDPosition?, serverID: UInt32? = nil, mysqlGTIDs: MySQLGTIDSet? = nil) {
        self.position = position
        self.gtid = gtid
        self.serverID = serverID
        self.mysqlGTIDs = mysqlGTIDs
    }

    public var description: String {
        position.description + (gtid.map { " (GTID \($0.description.isEmpty ? "position empty" : $0.description))" } ?? "")
    }
}

/// What the follower tells its owner (for logs and metrics).
public enum FollowerNotice: Sendable {
    /// A dump started. `attempt` is 0 for the first connection, then the number of the retry.
    case connected(from: StreamStart, serverID: UInt32, attempt: Int)
    /// The stream failed with a transient error; the next attempt starts after `delay` s.
    case retrying(cause: SourceError, attempt: Int, delaySeconds: Double, resumeFrom: ResumePoint)
}

/// Follows a server's binlog across connection failures: decodes events, assembles
/// whole transactions and hands each to `deliver`, reconnecting with backoff when the
/// connection breaks, goes silent (heartbeat timeout) or the server restarts.
///
/// After a failure it resumes just past the last transaction it delivered — by GTID on
/// MariaDB, by file and position on MySQL — so no transaction is lost or delivered
/// twice; a transaction that was only partly received is dropped and read again whole.
/// Permanent errors (purged binlog, bad settings, corrupt events) end `run` with the error.
public final class BinlogFollower {
    public let options: ConnectionOptions
    public let replicaServerID: UInt32
    public let heartbeatSeconds: Double
    public let policy: ReconnectPolicy
    /// Resume by GTID (MariaDB). Otherwise by position, on the same server only.
    public let useGTID: Bool
    /// `@@server_id` the positions belong to; a position resume on another server is refused.
    public let expectedServerID: UInt32?
    /// Name under which the replica registers (SHOW SLAVE HOSTS), if any.
    public let reportHost: String?
    private let notice: @Sendable (FollowerNotice) -> Void
    /// Consecutive "server ended the stream" answers before giving up.
    static let maxEndsWithoutProgress = 5

    /// Hand out transactions larger than this many bytes of row events in pieces (nil: whole).
    public var pieceBytes: Int?
    /// Rows of tables it rejects are not decoded (EventDecoder.tableFilter).
    public var tableFilter: (@Sendable (_ schema: String, _ table: String) -> Bool)?

    public init(options: ConnectionOptions, replicaServerID: UInt32, heartbeatSeconds: Double = 1,
                policy: ReconnectPolicy = ReconnectPolicy(), useGTID: Bool, expectedServerID: UInt32?,
                reportHost: String? = nil, notice: @escaping @Sendable (FollowerNotice) -> Void = { _ in }) {
        self.options = options
        self.replicaServerID = replicaServerID
        self.heartbeatSeconds = heartbeatSeconds
        self.policy = policy
        self.useGTID = useGTID
        self.expectedServerID = expectedServerID
        self.reportHost = reportHost
        self.notice = notice
    }

    /// Streams from `start` until `shouldStop` returns true (checked at every event and
    /// heartbeat) or `deliver` returns false. A piece of a large transaction
    /// (`Transaction.isPartial`) comes with the resume point from before that transaction:
    /// after a failure the whole transaction is read and delivered again. Throws the first permanent error, or the
    /// last transient one once `policy.maxAttempts` is exhausted.
    public func run(from start: ResumePoint, shouldStop: () -> Bool,
                    deliver: (Transaction, ResumePoint) throws -> Bool) throws {
        var resume = start
        var failures = 0
        var endsWithoutProgress = 0
        var attempt = 0
        while !shouldStop() {
            var delivered = false
            var connectedAt: Date?
            do {
                let from: StreamStart = useGTID ? .gtid(resume.gtid ?? GTIDPosition()) : .position(resume.position)
                let stream = try BinlogStream(options: options, replicaServerID: replicaServerID, from: from,
                                              heartbeatSeconds: heartbeatSeconds, reportHost: reportHost)
                if !useGTID, let expected = expectedServerID, stream.serverID != expected {
                    throw SourceError(.settings, "\(options.endpoint) now answers as server_id \(stream.serverID), but the positions being followed belong to server_id \(expected): a file and position mean nothing on another server. Point source.host back at that server, or (MariaDB) resume by GTID, or resync (`distributary resync`)")
                }
                connectedAt = Date()
                notice(.connected(from: from, serverID: stream.serverID, attempt: attempt))
                var decoder = EventDecoder()
                decoder.tableFilter = tableFilter
                var assembler = TransactionAssembler(pieceBytes: pieceBytes)
                var groups = DDLGroups()
                var stop = false
                while !stop && !shouldStop() {
                    let more = try stream.next { bytes in
                        let event = try decoder.decode(bytes)
                        if case .previousGTIDs(let text) = event.event, resume.mysqlGTIDs == nil {
                            resume.mysqlGTIDs = try? MySQLGTIDSet(parsing: text, what: "PREVIOUS_GTIDS at \(event.position)")
                        }
                        let committed = try assembler.consume(event)
                        if let piece = committed, piece.isPartial {
                            if try !deliver(piece, resume) { stop = true }
                            delivered = true
                            failures = 0
                            endsWithoutProgress = 0
                            return
                        }
                        guard let transaction = groups.after(event, committed: committed, inTransaction: assembler.isInTransaction) else { return }
                        var next = resume
                        next.position = transaction.end
                        next.serverID = stream.serverID
                        if let gtid = transaction.gtid {
                            next.gtid?.advance(to: gtid)
                            next.mysqlGTIDs?.add(gtid)
                        }
                        if try !deliver(transaction, next) { stop = true }
                        resume = next
                        delivered = true
                        failures = 0
                        endsWithoutProgress = 0
                    }
                    if !more {
                        throw SourceError(.lost, "\(options.endpoint) ended the binlog stream (an EOF packet: the server is shutting down, or sent an event the connector cannot read)")
                    }
                }
                return
            } catch let error as SourceError where error.isTransient {
                if shouldStop() { return }
                if let up = connectedAt, Date().timeIntervalSince(up) > 10 { failures = 0 }
                if error.serverErrno == nil && error.message.contains("ended the binlog stream") && !delivered {
                    endsWithoutProgress += 1
                    if endsWithoutProgress >= Self.maxEndsWithoutProgress {
                        throw SourceError(.stream, "\(options.endpoint) ended the binlog stream \(endsWithoutProgress) times in a row at \(resume) without sending a transaction; it may be sending an event Connector/C cannot read (MySQL 8 TRANSACTION_PAYLOAD with binlog_transaction_compression=ON, or HEARTBEAT_V2). Check the server's error log; turn binlog_transaction_compression off")
                    }
                }
                failures += 1
                attempt += 1
                if let max = policy.maxAttempts, failures > max {
                    throw SourceError(error.code, "\(error.message) — gave up after \(max) reconnect attempts (source.reconnect.max_attempts)", serverErrno: error.serverErrno)
                }
                let delay = policy.delay(afterFailures: failures, random: Double.random(in: 0...1))
                notice(.retrying(cause: error, attempt: attempt, delaySeconds: delay, resumeFrom: resume))
                let until = Date().addingTimeInterval(delay)
                while Date() < until {
                    if shouldStop() { return }
                    Thread.sleep(forTimeInterval: min(0.1, max(0, until.timeIntervalSinceNow)))
                }
            }
        }
    }
}

/// Turns a GTID group that holds a statement but no rows (DDL, GRANT, CREATE USER …) into
/// an empty transaction, so checkpoints move past it: otherwise a log that ends with DDL
/// leaves every checkpoint behind the server's GTID position, and a reconnect re-reads
/// the DDL. The assembler yields nothing for such groups.
struct DDLGroups {
    private var pending: (gtid: String?, start: BinlogPosition)?

    mutating func after(_ event: DecodedEvent, committed: Transaction?, inTransaction: Bool) -> Transaction? {
        if let committed {
            pending = nil
            return committed
        }
        switch event.event {
        case .mariadbGTID(let gtid):
            pending = (gtid.description, event.position)
        case .gtid(let gtid):
            pending = (gtid, event.position)
        case .anonymousGTID:
            pending = (nil, event.position)
        case .query(let schema, let sql):
            guard let group = pending, !inTransaction else { return nil }
            pending = nil
            let end = event.header.nextPosition != 0
                ? UInt64(event.header.nextPosition)
                : event.position.offset + UInt64(event.header.eventSize)
            var transaction = Transaction(gtid: group.gtid, start: group.start,
                                          end: BinlogPosition(file: event.position.file, offset: end),
                                          timestamp: event.header.timestamp, changes: [])
            transaction.ddl = DDLTarget.parse(sql, defaultSchema: schema)
            return transaction
        case .rotate, .formatDescription:
            pending = nil
        default:
            break
        }
        return nil
    }
}
