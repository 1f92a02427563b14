import BinlogCore
@testable import Distributary
import Routing
import XCTest

final class SnapshotSupportTests: XCTestCase {
    func testProgressRoundTripsThroughTheCheckpoint() throws {
        let progress = SnapshotProgress(tables: ["shop.a", "shop.b,c"], done: 1, after: [SnapshotProgress.hex([0x00, 0xff, 0x41])], rows: 12_345)
        var cp = Checkpoint(position: BinlogPosition(file: "binlog.000002", offset: 4), gtid: nil, sourceServerID: 1, timestamp: 0)
        cp.snapshot = progress.encoded
        let back = try XCTUnwrap(try Checkpoint(fields: cp.fields, sink: "test"))
        XCTAssertEqual(SnapshotProgress.decode(back.snapshot), progress)
        XCTAssertEqual(SnapshotProgress.decode(back.snapshot)?.afterKey, [[0x00, 0xff, 0x41]])
        // A finished snapshot stores an empty field, read back as none.
        cp.snapshot = nil
        XCTAssertEqual(cp.fields["snapshot"], "")
        XCTAssertNil(try XCTUnwrap(try Checkpoint(fields: cp.fields, sink: "test")).snapshot)
        XCTAssertNil(SnapshotProgress.decode("not json"))
    }

    /// Parallel readers finish tables out of order; the progress says where each goes on.
    func testProgressOfTablesReadInParallel() throws {
        var p = SnapshotProgress(tables: ["d.a", "d.b", "d.c", "d.d"], done: 0, after: nil, rows: 0)
        p.record(table: 1, lastKey: [[0x05]])          // b begun by a second reader
        p.record(table: 0, lastKey: [[0x07]])          // a, first chunk
        p.record(table: 1, lastKey: nil)               // b loaded completely
        p.record(table: 2, lastKey: [[0x01], [0x02]])  // c begun
        XCTAssertEqual(p.done, 0)
        XCTAssertEqual(p.resumeKey(0), .some([[0x07]]))
        XCTAssertEqual(p.resumeKey(1), .none)
        XCTAssertEqual(p.resumeKey(2), .some([[0x01], [0x02]]))
        XCTAssertEqual(p.resumeKey(3), .some(nil))
        XCTAssertFalse(p.complete)
        // Through the checkpoint's JSON and back.
        let back = try XCTUnwrap(SnapshotProgress.decode(p.encoded))
        XCTAssertEqual(back, p)
        // a done: b is skipped (done), c's key moves to `after`.
        p.record(table: 0, lastKey: nil)
        XCTAssertEqual(p.done, 2)
        XCTAssertEqual(p.afterKey, [[0x01], [0x02]])
        XCTAssertNil(p.ahead)
        p.record(table: 3, lastKey: nil)
        p.record(table: 2, lastKey: nil)
        XCTAssertEqual(p.done, 4)
        XCTAssertTrue(p.complete)
        XCTAssertNil(p.ahead)
        // A progress stored by a sequential reader (no `ahead`) still decodes.
        let old = try XCTUnwrap(SnapshotProgress.decode(#"{"tables":["d.a","d.b"],"done":1,"after":["0a"],"rows":3}"#))
        XCTAssertEqual(old.resumeKey(0), .none)
        XCTAssertEqual(old.resumeKey(1), .some([[0x0a]]))
    }

    func testKeyPatternsAndGlobs() throws {
        let config = try PipelineConfig.parse(yaml: """
            name: t
            source: {host: 127.0.0.1, user: u, server_id: 9}
            redis: {url: "redis://127.0.0.1:6379/0"}
            tables:
              shop.orders: {redis: {key: "order:{shop}:{id}"}}
              shop.*: {redis: {key: "{@table}[x]*:{id}"}}
            """)
        let orders = try XCTUnwrap(config.mapping(schema: "shop", table: "orders"))
        XCTAssertEqual(Resync.keyPattern(orders), "order:*:*")
        let odd = try XCTUnwrap(config.mapping(schema: "shop", table: "a?b"))
        XCTAssertEqual(Resync.keyPattern(odd), "a\\?b\\[x\\]\\*:*")
        XCTAssertTrue(Glob.matches("order:*:*", "order:1:2"))
        XCTAssertFalse(Glob.matches("order:*:*", "order:12"))
        XCTAssertTrue(Glob.matches("a\\?b\\[x\\]\\*:*", "a?b[x]*:5"))
        XCTAssertFalse(Glob.matches("a\\?b\\[x\\]\\*:*", "aXb[x]*:5"))
    }
}
