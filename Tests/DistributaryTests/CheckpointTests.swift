import BinlogCore
@testable import Distributary
import MySQLSource
import XCTest

/// Checkpoints round-trip their GTID position, and sinks skip by GTID where both sides
/// have one (valid across servers) and by position otherwise.
final class CheckpointTests: XCTestCase {
    func testFieldsRoundTripWithGTIDPosition() throws {
        let cp = Checkpoint(position: BinlogPosition(file: "binlog.000007", offset: 1234), gtid: "0-1-100",
                            gtidPosition: "0-1-100,1-2-57", sourceServerID: 1, timestamp: 1_700_000_000)
        XCTAssertEqual(cp.fields["gtid_position"], "0-1-100,1-2-57")
        let back = try XCTUnwrap(try Checkpoint(fields: cp.fields, sink: "test"))
        XCTAssertEqual(back, cp)
        // Checkpoints written before GTID positions existed read back without one.
        var old = cp.fields
        old["gtid_position"] = nil
        XCTAssertNil(try XCTUnwrap(try Checkpoint(fields: old, sink: "test")).gtidPosition)
        XCTAssertNil(try Checkpoint(fields: [:], sink: "test"))
        XCTAssertThrowsError(try Checkpoint(fields: ["file": "x"], sink: "redis")) { error in
            XCTAssertTrue("\(error)".contains("the redis checkpoint is unreadable"), "\(error)")
        }
    }

    func testSinkMarkSkipsByGTIDThenByPosition() throws {
        let here = BinlogPosition(file: "binlog.000003", offset: 500)
        let mark = Pipeline.SinkMark(position: here, gtid: try GTIDPosition(parsing: "0-1-10", what: "test"))
        // GTID decides, whatever the position says (positions of another server mean nothing).
        XCTAssertTrue(mark.holds(end: BinlogPosition(file: "binlog.000009", offset: 9), gtid: "0-2-10"))
        XCTAssertFalse(mark.holds(end: BinlogPosition(file: "binlog.000001", offset: 9), gtid: "0-2-11"))
        XCTAssertFalse(mark.holds(end: here, gtid: "1-1-1"), "a domain the sink has not seen is new")
        // Without GTIDs (MySQL): by position on the same server.
        let byPosition = Pipeline.SinkMark(position: here, gtid: nil)
        XCTAssertTrue(byPosition.holds(end: here, gtid: "3E11FA47-71CA-11E1-9E33-C80AA9429562:5"))
        XCTAssertFalse(byPosition.holds(end: BinlogPosition(file: "binlog.000003", offset: 501), gtid: nil))
        XCTAssertTrue(byPosition.holds(end: BinlogPosition(file: "binlog.000002", offset: 90_000), gtid: nil))
        // A checkpoint from another server with no GTID to go by holds nothing.
        XCTAssertFalse(Pipeline.SinkMark(position: nil, gtid: nil).holds(end: here, gtid: nil))
    }
}
