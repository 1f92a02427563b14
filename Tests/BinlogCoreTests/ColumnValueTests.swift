import BinlogCore
import XCTest

final class ColumnValueTests: XCTestCase {
    func json(_ v: ColumnValue) -> String {
        var s = ""
        v.appendJSON(to: &s)
        return s
    }

    func testFloatsPrintTheirShortestForm() {
        XCTAssertEqual(json(.float(0.1)), "0.1")
        XCTAssertEqual(json(.float(3.142)), "3.142")
        XCTAssertEqual(ColumnValue.float(3.142).text, "3.142")
        XCTAssertEqual(json(.double(0.1)), "0.1")
        XCTAssertEqual(json(.float(2)), "2")
        XCTAssertEqual(json(.double(.nan)), "null")
    }

    func testTextAndJSONOfEachKind() {
        XCTAssertEqual(ColumnValue.null.text, nil)
        XCTAssertEqual(json(.null), "null")
        XCTAssertEqual(json(.uint(UInt64.max)), "18446744073709551615")
        XCTAssertEqual(json(.decimal("-0.50")), #""-0.50""#)
        XCTAssertEqual(ColumnValue.decimal("-0.50").number, -0.5)
        XCTAssertEqual(json(.bytes([0, 0xab])), #"{"hex":"00ab"}"#)
        XCTAssertEqual(ColumnValue.bytes([0, 0xab]).text, "00ab")
        XCTAssertEqual(json(.string("a\"b\n\u{1}")), #""a\"b\n\u0001""#)
        XCTAssertEqual(json(.enumeration(index: 2, label: "red")), #""red""#)
        XCTAssertEqual(json(.enumeration(index: 2, label: nil)), "2")
        XCTAssertEqual(ColumnValue.set(bits: 5, labels: ["a", "c"]).text, "a,c")
        XCTAssertEqual(json(.json(#"{"a":[1]}"#)), #"{"a":[1]}"#)
    }
}

/// `binlog dump` and the pipeline read the same log: every committed row the assembler
/// yields is also a dumped row, compressed MySQL 8 transactions included.
final class DumpMatchesAssemblerTests: XCTestCase {
    func testCompressedTransactionsAreDumped() throws {
        let file = "debian-mariadb-test-data_10.11.19/std_data/mdev35643_mysql_80_binlog.000001"
        let events = try Corpus.decode(file)
        var writer = RowDumpWriter(format: .jsonl)
        for event in events { writer.consume(event) }
        let committed = try Corpus.transactions(file).reduce(0) { $0 + $1.changes.count }
        XCTAssertGreaterThan(committed, 100)
        XCTAssertEqual(writer.rowCount, committed)
    }
}
