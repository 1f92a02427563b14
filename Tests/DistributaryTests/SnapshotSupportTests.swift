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
