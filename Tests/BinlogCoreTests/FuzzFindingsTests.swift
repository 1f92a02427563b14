@testable import BinlogCore
import XCTest

/// Inputs the libFuzzer target (scripts/fuzz.sh) found; each once hung or crashed.
final class FuzzFindingsTests: XCTestCase {
    func decoder() throws -> EventDecoder {
        var decoder = EventDecoder(file: "binlog.000003")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: false), at: 4)
        _ = try decoder.decode(Build.tableMap(id: 12, schema: "s", table: "t", types: [ColumnType.long], meta: [],
                                              nullable: [false], checksum: false, at: 100), at: 100)
        return decoder
    }

    /// A rows event that lists no present column reads no bytes per row: it used to
    /// loop forever over the rest of the event, growing memory.
    func testRowImagesOfNoBytesAreCorruptNotAHang() throws {
        var decoder = try decoder()
        let rows = Build.rows(type: EventType.writeRowsV2, id: 12, width: 1, present: [false], images: [0, 0, 0],
                              checksum: false, at: 500)
        XCTAssertThrowsError(try decoder.decode(rows, at: 500)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
            XCTAssertTrue("\(error)".contains("binlog.000003:500"), "\(error)")
        }
    }

    /// A GTID interval starting at UInt64.max used to overflow (`first + 1`) and trap.
    func testGTIDIntervalAtTheTopOfTheRangeDoesNotTrap() throws {
        var decoder = try decoder()
        let sid = [UInt8](repeating: 0xab, count: 16)
        let body = Build.le(1, 8) + sid + Build.le(1, 8) + Build.le(UInt64.max, 8) + Build.le(0, 8)
        let event = Build.event(type: EventType.previousGTIDs, body: body, checksum: false, at: 600)
        guard case .previousGTIDs(let set) = try decoder.decode(event, at: 600).event else { return XCTFail() }
        XCTAssertTrue(set.hasSuffix(":18446744073709551615"), set)
    }
}
