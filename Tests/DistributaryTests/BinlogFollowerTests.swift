import BinlogCore
import Foundation
import MySQLSource
import XCTest

/// Reconnect policy, GTID positions and error classes (pure), and the follower against a
/// real MariaDB whose dump connection is KILLed while transactions are written: every
/// transaction arrives exactly once, in order.
final class BinlogFollowerTests: XCTestCase {
    func testBackoffGrowsIsCappedAndJittered() {
        let policy = ReconnectPolicy(initialDelaySeconds: 0.5, maxDelaySeconds: 8)
        XCTAssertEqual(policy.delay(afterFailures: 1, random: 1), 0.5)
        XCTAssertEqual(policy.delay(afterFailures: 1, random: 0), 0.25)
        XCTAssertEqual(policy.delay(afterFailures: 2, random: 1), 1)
        XCTAssertEqual(policy.delay(afterFailures: 4, random: 1), 4)
        XCTAssertEqual(policy.delay(afterFailures: 5, random: 1), 8)
        XCTAssertEqual(policy.delay(afterFailures: 500, random: 1), 8, "capped, no overflow")
        XCTAssertEqual(policy.delay(afterFailures: 500, random: 0), 4, "jitter keeps at least half")
        XCTAssertEqual(policy.delay(afterFailures: 3, random: 0.5), 1.5)
    }

    func testGTIDPositionParsesHoldsAndFindsTheLowest() throws {
        var p = try GTIDPosition(parsing: "1-2-57, 0-1-100", what: "test")
        XCTAssertEqual(p.description, "0-1-100,1-2-57")
        XCTAssertEqual(p.holds("0-1-100"), true)
        XCTAssertEqual(p.holds("0-3-101"), false)
        XCTAssertEqual(p.holds("1-2-12"), true)
        XCTAssertEqual(p.holds("2-1-1"), false, "a domain the position lacks is not held")
        XCTAssertNil(p.holds("3E11FA47-71CA-11E1-9E33-C80AA9429562:23"), "MySQL GTIDs are not MariaDB GTIDs")
        XCTAssertTrue(p.advance(to: "0-2-101"))
        XCTAssertEqual(p.description, "0-2-101,1-2-57")
        XCTAssertEqual(try GTIDPosition(parsing: "", what: "test").description, "")
        let low = GTIDPosition.lowest([
            try GTIDPosition(parsing: "0-1-10,1-1-5", what: "a"),
            try GTIDPosition(parsing: "0-1-7,1-1-9,2-1-3", what: "b"),
        ])
        XCTAssertEqual(low.description, "0-1-7,1-1-5")
        XCTAssertThrowsError(try GTIDPosition(parsing: "0-1", what: "source.start.gtid")) { error in
            XCTAssertTrue("\(error)".contains("source.start.gtid"), "\(error)")
            XCTAssertTrue("\(error)".contains("domain-server-sequence"), "\(error)")
        }
        XCTAssertThrowsError(try GTIDPosition(parsing: "0-1-2,0-1-3", what: "x")) { error in
            XCTAssertTrue("\(error)".contains("domain 0 appears twice"), "\(error)")
        }
    }

    func testMySQLGTIDSetParsesAddsAndMerges() throws {
        let a = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
        let b = "4f22fa47-71ca-11e1-9e33-c80aa9429562"
        var set = try MySQLGTIDSet(parsing: "\(b):1-3,\n\(a.uppercased()):1-5:7", what: "Executed_Gtid_Set")
        XCTAssertEqual(set.description, "\(a):1-5:7,\(b):1-3")
        XCTAssertTrue(set.contains("\(a):4"))
        XCTAssertFalse(set.contains("\(a):6"))
        XCTAssertTrue(set.add("\(a):6"), "fills the gap")
        XCTAssertEqual(set.description, "\(a):1-7,\(b):1-3")
        XCTAssertTrue(set.add("\(b):4"))
        XCTAssertTrue(set.add("\(b):10"))
        XCTAssertEqual(set.description, "\(a):1-7,\(b):1-4:10")
        XCTAssertFalse(set.add("0-1-100"), "a MariaDB GTID is not a MySQL one")
        let tagged = try MySQLGTIDSet(parsing: "\(a):1-2:blue:5-6", what: "x")
        XCTAssertEqual(tagged.description, "\(a):1-2,\(a):blue:5-6")
        XCTAssertTrue(tagged.contains("\(a):blue:6"))
        XCTAssertEqual(try MySQLGTIDSet(parsing: "", what: "x").description, "")
        XCTAssertThrowsError(try MySQLGTIDSet(parsing: "\(a):5-1", what: "gtid_position")) { error in
            XCTAssertTrue("\(error)".contains("gtid_position"), "\(error)")
        }
        XCTAssertThrowsError(try MySQLGTIDSet(parsing: "nope:1", what: "x"))
    }

    func testTransientErrorsAreTheNetworkAndServerRestarts() {
        XCTAssertTrue(SourceError(.stream, "lost", serverErrno: 2013).isTransient)
        XCTAssertTrue(SourceError(.connect, "refused", serverErrno: 2003).isTransient)
        XCTAssertTrue(SourceError(.stream, "killed", serverErrno: 1927).isTransient)
        XCTAssertTrue(SourceError(.lost, "silent").isTransient)
        XCTAssertFalse(SourceError(.connect, "denied", serverErrno: 1045).isTransient)
        XCTAssertFalse(SourceError(.purged, "gone", serverErrno: 1236).isTransient)
        XCTAssertFalse(SourceError(.diverged, "ahead", serverErrno: 1236).isTransient)
        XCTAssertFalse(SourceError(.settings, "lost?", serverErrno: 2013).isTransient)
        XCTAssertFalse(SourceError(.stream, "corrupt").isTransient)
    }

    func testKilledConnectionResumesWithoutLossOrRepeat() throws {
        let db = try ServerEnvironment.mariadb()
        let options = ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password)
        try ServerEnvironment.sql("""
            CREATE DATABASE IF NOT EXISTS follow_test; DROP TABLE IF EXISTS follow_test.t;
            CREATE TABLE follow_test.t (id INT PRIMARY KEY, v INT);
            """)
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        let startPosition = try inspector.currentPosition()
        let start = ResumePoint(position: startPosition, gtid: try inspector.gtidPosition(at: startPosition))
        let total = 60
        let notices = NoticeLog()
        let follower = BinlogFollower(options: options, replicaServerID: 4998,
                                      policy: ReconnectPolicy(initialDelaySeconds: 0.05, maxDelaySeconds: 0.2),
                                      useGTID: true, expectedServerID: nil, notice: { notices.append($0) })
        var inserts = 0
        var gtids: [String] = []
        var last = start
        let writer = Thread {
            for i in 1...total {
                _ = try? ServerEnvironment.sql("START TRANSACTION; INSERT INTO follow_test.t VALUES (\(i), 0); UPDATE follow_test.t SET v = \(i) WHERE id = \(i); COMMIT;")
                if i % 20 == 0 {
                    // KILL our dump thread mid-stream.
                    let id = (try? ServerEnvironment.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '\(db.user)' LIMIT 1"))?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                    if !id.isEmpty { _ = try? ServerEnvironment.sql("KILL \(id)") }
                }
            }
        }
        writer.start()
        let deadline = Date().addingTimeInterval(60)
        try follower.run(from: start, shouldStop: { inserts >= total || Date() > deadline }) { transaction, after in
            let mine = transaction.changes.filter { $0.table.schema == "follow_test" && $0.table.table == "t" }
            if mine.isEmpty { return true }
            XCTAssertEqual(mine.map(\.kind), [.insert, .update], "transaction \(transaction.gtid ?? "?") arrives whole")
            inserts += mine.filter { $0.kind == .insert }.count
            if let gtid = transaction.gtid { gtids.append(gtid) }
            last = after
            return true
        }
        XCTAssertEqual(inserts, total, "every transaction exactly once")
        XCTAssertEqual(gtids.count, total)
        XCTAssertEqual(Set(gtids).count, gtids.count, "no transaction delivered twice")
        let sequences = gtids.compactMap { $0.split(separator: "-").last.flatMap { UInt64($0) } }
        XCTAssertEqual(sequences, sequences.sorted(), "in log order")
        XCTAssertEqual(try ServerEnvironment.sql("SELECT COUNT(*) FROM follow_test.t WHERE v = id").trimmingCharacters(in: .whitespacesAndNewlines), "\(total)")
        XCTAssertEqual(last.gtid?.holds(gtids.last ?? "?"), true)
        XCTAssertGreaterThanOrEqual(notices.retries, 1, "the kills forced reconnects")
    }
}

extension BinlogFollowerTests {
    /// A log that ends with DDL still brings the follower to the server's GTID position:
    /// DDL groups arrive as transactions without changes.
    func testDDLGroupsAdvanceThePosition() throws {
        let db = try ServerEnvironment.mariadb()
        let options = ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password)
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        let startPosition = try inspector.currentPosition()
        let start = ResumePoint(position: startPosition, gtid: try inspector.gtidPosition(at: startPosition))
        try ServerEnvironment.sql("""
            CREATE DATABASE IF NOT EXISTS follow_test; DROP TABLE IF EXISTS follow_test.d;
            CREATE TABLE follow_test.d (id INT PRIMARY KEY); INSERT INTO follow_test.d VALUES (1);
            ALTER TABLE follow_test.d ADD COLUMN c INT; USE follow_test; TRUNCATE d;
            """)
        let head = try GTIDPosition(parsing: try ServerEnvironment.sql("SELECT @@gtid_binlog_pos").trimmingCharacters(in: .whitespacesAndNewlines), what: "head")
        let follower = BinlogFollower(options: options, replicaServerID: 4997, useGTID: true, expectedServerID: nil)
        var last = start
        var kinds: [Int] = []
        var ddl: [String] = []
        let deadline = Date().addingTimeInterval(20)
        try follower.run(from: start, shouldStop: { last.gtid == head || Date() > deadline }) { transaction, after in
            kinds.append(transaction.changes.count)
            ddl += transaction.ddl.map(\.description)
            last = after
            return true
        }
        XCTAssertEqual(last.gtid, head, "the follower reaches @@gtid_binlog_pos although the log ends with ALTER TABLE")
        XCTAssertEqual(Array(kinds.suffix(4)), [0, 1, 0, 0], "CREATE TABLE (no rows), INSERT (one row), ALTER TABLE, TRUNCATE (no rows)")
        // The DDL groups name the tables they changed (TRUNCATE by the session's database).
        XCTAssertEqual(Array(ddl.suffix(3)), ["CREATE TABLE follow_test.d", "ALTER TABLE follow_test.d", "TRUNCATE TABLE follow_test.d"])
    }
}

/// Collects follower notices across threads.
final class NoticeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [FollowerNotice] = []
    func append(_ n: FollowerNotice) { lock.lock(); notices.append(n); lock.unlock() }
    var retries: Int {
        lock.lock(); defer { lock.unlock() }
        return notices.filter { if case .retrying = $0 { return true } else { return false } }.count
    }
}
