import XCTest
@testable import BinlogCore

final class RowDumpWriterTests: XCTestCase {
    private func table(_ names: [String]?, count: Int, schema: String = "shop", name: String = "products") -> TableMap {
        TableMap(tableID: 7, schema: schema, table: name,
                 columnTypes: [UInt8](repeating: ColumnType.long, count: count),
                 columnMeta: [UInt16](repeating: 0, count: count),
                 nullable: [Bool](repeating: true, count: count), columnNames: names)
    }

    private func event(_ event: BinlogEvent, at offset: UInt64, rowsFlags: UInt16 = 0) -> DecodedEvent {
        DecodedEvent(header: EventHeader(timestamp: 1, type: 0, serverID: 1, eventSize: 0, nextPosition: 0, flags: 0),
                     position: BinlogPosition(file: "binlog.000001", offset: offset), event: event, rowsFlags: rowsFlags)
    }

    private func rendered(_ format: RowDumpWriter.Format, _ body: (inout RowDumpWriter) -> Void) -> String {
        var writer = RowDumpWriter(format: format, capacity: 64)
        body(&writer)
        var bytes: [UInt8] = []
        writer.drain { bytes.append(contentsOf: $0) }
        XCTAssertEqual(writer.pendingByteCount, 0)
        return String(decoding: bytes, as: UTF8.self)
    }

    func testInsertLineWithEveryValueKind() {
        let values: [(String, ColumnValue)] = [
            ("i", .int(-9_223_372_036_854_775_808)), ("u", .uint(18_446_744_073_709_551_615)),
            ("f", .float(0.5)), ("d", .double(-1.25)), ("dec", .decimal("-12.50")),
            ("s", .string("caf\u{e9} \u{1F600}")), ("b", .bytes([0xde, 0xad, 0x00])),
            ("date", .date("2024-01-31")), ("dt", .datetime("2024-01-31 10:00:00.123456")),
            ("t", .time("-838:59:59")), ("ts", .timestamp("1970-01-01 00:00:01")), ("y", .year(2024)),
            ("e", .enumeration(index: 2, label: "b")), ("e2", .enumeration(index: 3, label: nil)),
            ("set", .set(bits: 5, labels: ["x", "z"])), ("set2", .set(bits: 5, labels: nil)),
            ("j", .json("{\"a\": [1, null]}")), ("g", .geometry([0, 0, 0, 0, 1])), ("n", .null),
        ]
        let map = table(values.map(\.0), count: values.count)
        let change = RowChange(kind: .insert, table: map, before: nil, after: RowImage(values.map(\.1)))
        let out = rendered(.jsonl) { $0.append(change, file: "binlog.000001", position: 1043, gtid: "0-1-2") }
        XCTAssertEqual(out, """
            {"file":"binlog.000001","pos":1043,"gtid":"0-1-2","db":"shop","table":"products","op":"insert","before":null,"after":\
            {"i":-9223372036854775808,"u":18446744073709551615,"f":0.5,"d":-1.25,"dec":"-12.50","s":"café 😀",\
            "b":{"hex":"dead00"},"date":"2024-01-31","dt":"2024-01-31 10:00:00.123456","t":"-838:59:59",\
            "ts":"1970-01-01 00:00:01","y":2024,"e":"b","e2":3,"set":"x,z","set2":5,"j":{"a": [1, null]},\
            "g":{"hex":"0000000001"},"n":null}}

            """)
    }

    func testUpdateWithoutNamesUsesPositionsAndLeavesOutMissingColumns() {
        let map = table(nil, count: 3)
        let change = RowChange(kind: .update, table: map,
                               before: [.int(1), nil, nil], after: [.int(1), .string("new"), .null])
        let out = rendered(.jsonl) { $0.append(change, file: "mysql-bin.000004", position: 4, gtid: nil) }
        XCTAssertEqual(out, """
            {"file":"mysql-bin.000004","pos":4,"gtid":null,"db":"shop","table":"products","op":"update",\
            "before":{"@1":1},"after":{"@1":1,"@2":"new","@3":null}}

            """)
    }

    func testDeleteAndEscaping() {
        let map = table(["na\"me", "ctl"], count: 2, schema: "d\\b", name: "t\tab")
        let change = RowChange(kind: .delete, table: map,
                               before: [.string("quote \" backslash \\ newline \n cr \r"), .string("\u{01}\u{1f}")], after: nil)
        let out = rendered(.jsonl) { $0.append(change, file: "f", position: 9, gtid: "3E11FA47-71CA-11E1-9E33-C80AA9429562:23") }
        XCTAssertEqual(out, """
            {"file":"f","pos":9,"gtid":"3E11FA47-71CA-11E1-9E33-C80AA9429562:23","db":"d\\\\b","table":"t\\tab","op":"delete",\
            "before":{"na\\"me":"quote \\" backslash \\\\ newline \\n cr \\r","ctl":"\\u0001\\u001f"},"after":null}

            """)
    }

    func testGTIDFollowsTransactions() {
        let map = table(["id"], count: 1)
        let insert = BinlogEvent.rows([RowChange(kind: .insert, table: map, before: nil, after: [.int(1)])])
        let out = rendered(.jsonl) { w in
            w.consume(event(.mariadbGTID(MariaDBGTID(domainID: 0, serverID: 1, sequence: 5)), at: 100))
            w.consume(event(.tableMap(map), at: 140))
            w.consume(event(insert, at: 180, rowsFlags: 1))
            w.consume(event(.xid(9), at: 220))
            // Rows of a non-transactional table, no BEGIN: no GTID.
            w.consume(event(insert, at: 260, rowsFlags: 1))
            w.consume(event(.gtid("3e11fa47-71ca-11e1-9e33-c80aa9429562:7"), at: 300))
            w.consume(event(.query(schema: "shop", sql: "BEGIN"), at: 360))
            w.consume(event(insert, at: 400, rowsFlags: 1))
            w.consume(event(.query(schema: "shop", sql: "COMMIT"), at: 440))
            w.consume(event(.anonymousGTID, at: 480))
            w.consume(event(insert, at: 520, rowsFlags: 1))
        }
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[0].hasPrefix(#"{"file":"binlog.000001","pos":180,"gtid":"0-1-5","#), lines[0])
        XCTAssertTrue(lines[1].hasPrefix(#"{"file":"binlog.000001","pos":260,"gtid":null,"#), lines[1])
        XCTAssertTrue(lines[2].hasPrefix(#"{"file":"binlog.000001","pos":400,"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:7","#), lines[2])
        XCTAssertTrue(lines[3].hasPrefix(#"{"file":"binlog.000001","pos":520,"gtid":null,"#), lines[3])
    }

    func testTextFormat() {
        let map = table(["id", "name", "raw", "price", "note"], count: 5, name: "pro`ducts")
        let update = RowChange(kind: .update, table: map,
                               before: [.int(7), .string("Tea"), .bytes([]), .decimal("1.50"), .null],
                               after: [.int(7), .string("it's \\ green\n\u{01}"), .bytes([0xab]), .decimal("2.00"), .null])
        let insert = RowChange(kind: .insert, table: map, before: nil,
                               after: [.int(8), .enumeration(index: 1, label: "a"), .geometry([1]), .set(bits: 3, labels: nil), .datetime("2024-01-31 10:00:00")])
        let delete = RowChange(kind: .delete, table: map, before: [.int(8), nil, nil, nil, nil], after: nil)
        let out = rendered(.text) { w in
            w.append(update, file: "binlog.000001", position: 1043, gtid: "0-1-2")
            w.append(insert, file: "binlog.000001", position: 2000, gtid: nil)
            w.append(delete, file: "binlog.000001", position: 3000, gtid: nil)
        }
        XCTAssertEqual(out, """
            # at 1043 in binlog.000001, GTID 0-1-2
            ### UPDATE `shop`.`pro``ducts`
            ### WHERE
            ###   id=7
            ###   name='Tea'
            ###   raw=''
            ###   price=1.50
            ###   note=NULL
            ### SET
            ###   id=7
            ###   name='it\\'s \\\\ green\\n\\x01'
            ###   raw=0xab
            ###   price=2.00
            ###   note=NULL
            # at 2000 in binlog.000001
            ### INSERT INTO `shop`.`pro``ducts`
            ### SET
            ###   id=8
            ###   name='a'
            ###   raw=0x01
            ###   price=3
            ###   note='2024-01-31 10:00:00'
            # at 3000 in binlog.000001
            ### DELETE FROM `shop`.`pro``ducts`
            ### WHERE
            ###   id=8

            """)
    }

    func testDrainKeepsNothingAndCountsRows() {
        let map = table(["id"], count: 1)
        var writer = RowDumpWriter(format: .jsonl)
        writer.append(RowChange(kind: .insert, table: map, before: nil, after: [.int(1)]), file: "f", position: 4, gtid: nil)
        XCTAssertGreaterThan(writer.pendingByteCount, 0)
        var chunks = 0
        writer.drain { _ in chunks += 1 }
        writer.drain { _ in chunks += 1 }
        XCTAssertEqual(chunks, 1, "an empty buffer is not handed out")
        XCTAssertEqual(writer.rowCount, 1)
        XCTAssertEqual(writer.pendingByteCount, 0)
    }

    func testValuesAreSpelledAsAppendJSONSpellsThem() {
        let values: [ColumnValue] = [
            .null, .int(0), .int(-1), .int(Int64.min), .int(Int64.max), .uint(0), .uint(9), .uint(10), .uint(UInt64.max),
            .float(0.1), .float(-3.5), .float(.infinity), .double(1e300), .double(-0.25), .double(.nan), .double(42),
            .decimal("0.000000000000000000000000000001"), .string(""), .string("\u{0}\u{7f}\u{1F600}\"\\\t"),
            .bytes([]), .bytes([0, 0x7f, 0xff]), .date("0000-00-00"), .datetime("9999-12-31 23:59:59.999999"),
            .time("-00:00:00.000001"), .timestamp("2038-01-19 03:14:07"), .year(0), .year(2155),
            .enumeration(index: 0, label: ""), .enumeration(index: 300, label: "e\"300"), .enumeration(index: 2, label: nil),
            .set(bits: 0, labels: []), .set(bits: 2049, labels: ["m1", "m12"]), .set(bits: UInt64.max, labels: nil),
            .json("{\"k\": \"v\"}"), .geometry([1, 2, 3]),
        ]
        let map = table(nil, count: values.count)
        let out = rendered(.jsonl) { $0.append(RowChange(kind: .insert, table: map, before: nil, after: RowImage(values)), file: "f", position: 4, gtid: nil) }
        var expected = #"{"file":"f","pos":4,"gtid":null,"db":"shop","table":"products","op":"insert","before":null,"after":{"#
        for (i, v) in values.enumerated() {
            if i > 0 { expected += "," }
            expected += "\"@\(i + 1)\":"
            v.appendJSON(to: &expected)
        }
        expected += "}}\n"
        XCTAssertEqual(out, expected)
    }

    func testTableChangesRenameColumns() {
        let first = table(["a"], count: 1)
        var second = first
        second.columnNames = ["b"]
        let out = rendered(.jsonl) { w in
            w.append(RowChange(kind: .insert, table: first, before: nil, after: [.int(1)]), file: "f", position: 4, gtid: nil)
            w.append(RowChange(kind: .insert, table: second, before: nil, after: [.int(2)]), file: "f", position: 5, gtid: nil)
            w.append(RowChange(kind: .insert, table: table(nil, count: 2, name: "other"), before: nil, after: [.int(3), .null]), file: "f", position: 6, gtid: nil)
        }
        XCTAssertEqual(out, """
            {"file":"f","pos":4,"gtid":null,"db":"shop","table":"products","op":"insert","before":null,"after":{"a":1}}
            {"file":"f","pos":5,"gtid":null,"db":"shop","table":"products","op":"insert","before":null,"after":{"b":2}}
            {"file":"f","pos":6,"gtid":null,"db":"shop","table":"other","op":"insert","before":null,"after":{"@1":3,"@2":null}}

            """)
    }
}
