import XCTest
@testable import BinlogCore

/// Builds MySQL binary JSON (small containers) for tests.
indirect enum JSONB {
    case object([(String, JSONB)])
    case array([JSONB])
    case string(String)
    case int16(Int16)
    case null, bool(Bool)

    var type: UInt8 {
        switch self {
        case .object: return 0x00
        case .array: return 0x02
        case .string: return 0x0c
        case .int16: return 0x05
        case .null, .bool: return 0x04
        }
    }

    /// The document: type byte, then the value.
    var document: [UInt8] { [type] + body }

    var body: [UInt8] {
        switch self {
        case .string(let s): return [UInt8(s.utf8.count)] + Array(s.utf8)
        case .int16(let v): return Build.le(UInt64(UInt16(bitPattern: v)), 2)
        case .null: return [0]
        case .bool(let b): return [b ? 1 : 2]
        case .object(let members): return Self.container(members.map { ($0.0, $0.1) })
        case .array(let items): return Self.container(items.map { (nil, $0) })
        }
    }

    private static func container(_ entries: [(String?, JSONB)]) -> [UInt8] {
        let n = entries.count
        let keyed = entries.contains { $0.0 != nil }
        var offset = 4 + (keyed ? 4 * n : 0) + 3 * n
        var keyEntries: [UInt8] = [], valueEntries: [UInt8] = [], tail: [UInt8] = []
        for (key, _) in entries {
            guard let key else { continue }
            keyEntries += Build.le(UInt64(offset), 2) + Build.le(UInt64(key.utf8.count), 2)
            tail += Array(key.utf8)
            offset += key.utf8.count
        }
        for (_, value) in entries {
            switch value {
            case .int16, .null, .bool:
                valueEntries += [value.type] + (value.body + [0, 0]).prefix(2)
            default:
                valueEntries += [value.type] + Build.le(UInt64(offset), 2)
                tail += value.body
                offset += value.body.count
            }
        }
        return Build.le(UInt64(n), 2) + Build.le(UInt64(offset), 2) + keyEntries + valueEntries + tail
    }
}

/// PARTIAL_UPDATE_ROWS (event 39, `binlog_row_value_options=PARTIAL_JSON`): JSON diffs
/// applied to the before image. mariadb-binlog cannot print MySQL JSON columns (it exits
/// at their first row event), so expected documents follow the server's own rules
/// (`apply_json_diffs`, key order of binary JSON objects) and the SQL behind the files.
final class PartialJSONUpdateTests: XCTestCase {
    enum Op: UInt8 { case replace = 0, insert = 1, remove = 2 }

    func diff(_ op: Op, _ path: String, _ value: JSONB? = nil) -> [UInt8] {
        var out = [op.rawValue] + Build.lenencString(path)
        if let value { out += Build.lenenc(value.document.count) + value.document }
        return out
    }

    func jsonValue(_ bytes: [UInt8]) -> [UInt8] { Build.le(UInt64(bytes.count), 4) + bytes }

    /// t(id INT, doc JSON, other JSON, note VARCHAR(10)); the event's rows follow.
    func decodePartial(before: [UInt8], beforePresent: [Bool], after: [UInt8], afterPresent: [Bool],
                       at offset: UInt32 = 700) throws -> [RowChange] {
        var decoder = EventDecoder(file: "binlog.000021")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        let map = Build.tableMap(id: 9, schema: "s", table: "t", types: [ColumnType.long, ColumnType.json, ColumnType.json, ColumnType.varchar],
                                 meta: [4, 4] + Build.le(40, 2), nullable: [false, true, true, true],
                                 optional: [(4, ["id", "doc", "other", "note"].flatMap(Build.lenencString))], checksum: true, at: 600)
        _ = try decoder.decode(map, at: 600)
        let rows = Build.rows(type: EventType.partialUpdateRows, id: 9, width: 4, present: beforePresent, presentAfter: afterPresent,
                              images: before + after, checksum: true, at: offset)
        let e = try decoder.decode(rows, at: UInt64(offset))
        guard case .rows(let changes) = e.event else { XCTFail("\(e.event)"); return [] }
        return changes
    }

    let doc = JSONB.object([("a", .int16(1)), ("b", .array([.int16(1), .int16(2)])), ("k", .string("x"))])

    func fullBefore() -> [UInt8] {
        Build.bitmap([false, false, false, false]) + Build.le(1, 4) + jsonValue(doc.document)
            + jsonValue(JSONB.array([.int16(1)]).document) + [1] + Array("n".utf8)
    }

    func testDiffsApplyInOrderWithTheServersRules() throws {
        let diffs = diff(.replace, "$.a", .string("A"))
            + diff(.insert, "$.b[1]", .int16(5))
            + diff(.insert, #"$."c d""#, .null)
            + diff(.remove, "$.k")
            + diff(.insert, "$.b[9]", .int16(7))
            + diff(.remove, "$.b[last]")
            + diff(.insert, "$.e", .int16(3))
            + diff(.replace, "$ . b [0]", .string("x\"y"))
        // value_options = PARTIAL_JSON_UPDATES; partial bits: doc yes, other no (full value)
        let after = [1, 0b01] + Build.bitmap([false, false, false, false]) + Build.le(1, 4) + jsonValue(diffs)
            + jsonValue(JSONB.object([("z", .bool(true))]).document) + [1] + Array("m".utf8)
        let changes = try decodePartial(before: fullBefore(), beforePresent: [true, true, true, true],
                                        after: after, afterPresent: [true, true, true, true])
        XCTAssertEqual(changes.count, 1)
        XCTAssertEqual(changes[0].kind, .update)
        XCTAssertEqual(changes[0].before?[1], .json(#"{"a": 1, "b": [1, 2], "k": "x"}"#))
        // keys: shorter first, then bytewise — "e" lands before "c d"
        XCTAssertEqual(changes[0].after, [.int(1), .json(#"{"a": "A", "b": ["x\"y", 5, 2], "e": 3, "c d": null}"#),
                                          .json(#"{"z": true}"#), .string("m")])
    }

    func testOnlyPresentColumnsAndNullsConsumeImageBitsButEveryJSONColumnHasAPartialBit() throws {
        // after image: doc NULL, other is a diff (second partial bit), note absent
        let after = [1, 0b10] + Build.bitmap([false, true, false]) + Build.le(1, 4) + jsonValue(diff(.insert, "$[0]", .int16(0)))
        let changes = try decodePartial(before: fullBefore(), beforePresent: [true, true, true, true],
                                        after: after, afterPresent: [true, true, true, false])
        XCTAssertEqual(changes.first?.after, [.int(1), .null, .json("[0, 1]"), nil])
        // value_options 0: no partial bits at all, whole documents
        let plain = [0] + Build.bitmap([false, false]) + Build.le(2, 4) + jsonValue(JSONB.string("s").document)
        let whole = try decodePartial(before: fullBefore(), beforePresent: [true, true, true, true],
                                      after: plain, afterPresent: [true, false, true, false])
        XCTAssertEqual(whole.first?.after, [.int(2), nil, .json(#""s""#), nil])
    }

    /// With `binlog_row_image=MINIMAL` the before image lacks the document: the new one
    /// cannot be known, so the column is absent (`nil`), as in any minimal image.
    func testMinimalBeforeImageLeavesTheColumnAbsent() throws {
        let before = Build.bitmap([false]) + Build.le(1, 4)
        let after = [1, 0b01] + Build.bitmap([false]) + jsonValue(diff(.replace, "$.a", .int16(2)))
        let changes = try decodePartial(before: before, beforePresent: [true, false, false, false],
                                        after: after, afterPresent: [false, true, false, false])
        XCTAssertEqual(changes.first?.before, [.int(1), nil, nil, nil])
        XCTAssertEqual(changes.first?.after, [nil, nil, nil, nil])
    }

    func expectCorrupt(_ diffs: [UInt8], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let after = [1, 0b01] + Build.bitmap([false]) + jsonValue(diffs)
        XCTAssertThrowsError(try decodePartial(before: fullBefore(), beforePresent: [true, true, true, true],
                                               after: after, afterPresent: [false, true, false, false], at: 800), file: file, line: line) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .corrupt, "\(error)", file: file, line: line)
            XCTAssertEqual(e?.position, BinlogPosition(file: "binlog.000021", offset: 800), file: file, line: line)
            XCTAssertTrue(e?.message.contains(words) ?? false, e?.message ?? "", file: file, line: line)
            XCTAssertTrue(e?.message.contains("binlog.000021:800") ?? false, e?.message ?? "", file: file, line: line)
        }
    }

    func testDiffsThatDoNotApplyThrow() throws {
        try expectCorrupt(diff(.replace, "$.missing", .null), "`$.missing` is not in the before image")
        try expectCorrupt(diff(.remove, "$.b[2]"), "`$.b[2]`")
        try expectCorrupt(diff(.insert, "$.a", .null), "already exists")
        try expectCorrupt(diff(.replace, "$.a.b", .null), "`$.a.b`")
        try expectCorrupt(diff(.replace, "$", .null), "whole document")
        try expectCorrupt(diff(.replace, "$.*", .null), "wildcard")
        try expectCorrupt([7] + Build.lenencString("$.a"), "unknown diff operation 7")
        try expectCorrupt(Array(diff(.replace, "$.a", .int16(1)).dropLast()), "remain")
        try expectCorrupt(diff(.replace, "$.a", nil), "cut short")
        // a diff on a NULL before value
        let nullBefore = Build.bitmap([false, true, false, false]) + Build.le(1, 4) + jsonValue(JSONB.array([]).document) + [0]
        XCTAssertThrowsError(try decodePartial(before: nullBefore, beforePresent: [true, true, true, true],
                                               after: [1, 1] + Build.bitmap([false]) + jsonValue(diff(.remove, "$.a")),
                                               afterPresent: [false, true, false, false])) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
            XCTAssertTrue((error as? BinlogError)?.message.contains("NULL") ?? false)
        }
        // unknown value_options bits
        XCTAssertThrowsError(try decodePartial(before: fullBefore(), beforePresent: [true, true, true, true],
                                               after: [2, 0], afterPresent: [true, false, false, false])) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
        }
    }

    func testPathsParseAsTheServerPrintsThem() throws {
        func parse(_ s: String) throws -> [JSONDiff.Leg] { try Array(s.utf8).withUnsafeBytes { try JSONDiff.parsePath($0) } }
        XCTAssertEqual(try parse(#"$.a[2]."b \"c\""[last-1][last]"#), [.member("a"), .index(2), .member(#"b "c""#), .fromLast(1), .fromLast(0)])
        XCTAssertEqual(try parse(#"$."\u00e9\ud83d\ude00""#), [.member("é😀")])
        XCTAssertEqual(try parse(" $ . name [ 0 ] "), [.member("name"), .index(0)])
        XCTAssertEqual(try parse("$"), [])
        for bad in ["a", "$.", "$[1 to 2]", "$[*]", "$**.a", #"$."open"#, "$[x]"] {
            XCTAssertThrowsError(try parse(bad), bad)
        }
    }

    // MARK: - Corpus

    /// MySQL 8.0.40, MariaDB's rpl_from_mysql80.test: `UPDATE t2 SET b=JSON_REPLACE(b,
    /// '$.b', REPEAT("oOo", 50))` on the row inserted as `{"a": "hulu", "b":
    /// "[zyzzy]"×100, "c": "bulu"}` — the before document is what the test's .result shows.
    func testMariaDBTestSuiteJSONReplace() throws {
        let txs = try Corpus.transactions("debian-mariadb-test-data_10.11.19/std_data/mdev35643_mysql_80_binlog.000001")
        let change = try XCTUnwrap(txs.last?.changes.first)
        XCTAssertEqual(change.table.table, "t2")
        XCTAssertEqual(change.before, [.int(1), .json(#"{"a": "hulu", "b": ""# + String(repeating: "[zyzzy]", count: 100) + #"", "c": "bulu"}"#)])
        XCTAssertEqual(change.after, [.int(1), .json(#"{"a": "hulu", "b": ""# + String(repeating: "oOo", count: 50) + #"", "c": "bulu"}"#)])
        XCTAssertEqual(txs.last?.end.offset, 4390)
    }

    /// MySQL 8.0.22 (rust_mysql_common), `binlog_row_image=MINIMAL` for the partial update:
    /// before images hold `id` only, after images a REPLACE of `$.age` plus the generated
    /// columns `name` and `age` (reasoned from the event bytes: the diff's value equals the
    /// generated `age`, and the names match the rows inserted earlier in the file).
    func testRustMySQLCommonMinimalImagePartialUpdate() throws {
        let events = try Corpus.decode("blackbeam__rust_mysql_common/test-data/binlogs/json.binlog.000001")
        let partial = try XCTUnwrap(events.first { $0.header.type == EventType.partialUpdateRows })
        XCTAssertEqual(partial.position.offset, 3750)
        guard case .rows(let changes) = partial.event else { return XCTFail("\(partial.event)") }
        XCTAssertEqual(changes.count, 6)
        XCTAssertEqual(changes.map(\.before), (1...6).map { [.int(Int64($0)), nil, nil, nil] })
        XCTAssertEqual(changes.prefix(3).map(\.after), [[nil, nil, .string("Joe"), .int(26)], [nil, nil, .string("Sue"), .int(34)],
                                                        [nil, nil, .string("Pete"), .int(42)]])
    }
}
