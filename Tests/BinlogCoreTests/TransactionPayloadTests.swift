import CZstd
import XCTest
@testable import BinlogCore

/// MySQL 8 TRANSACTION_PAYLOAD (event 40): built payloads (zstd through libzstd, and
/// stored) and the four corpus files. mariadb-binlog refuses these files ("Found
/// incompatible MySQL 8.0 TRANSACTION_PAYLOAD_EVENT"), so corpus values are checked
/// against the SQL that produced them, as noted at each test.
final class TransactionPayloadTests: XCTestCase {
    /// TLV header: compression type, uncompressed size (when given), payload size, end mark.
    func payloadBody(_ payload: [UInt8], compression: Int, uncompressedSize: Int?) -> [UInt8] {
        func field(_ type: Int, _ value: Int) -> [UInt8] {
            let encoded = Build.lenenc(value)
            return Build.lenenc(type) + Build.lenenc(encoded.count) + encoded
        }
        var body = field(2, compression)
        if let uncompressedSize { body += field(3, uncompressedSize) }
        body += [9, 1, 0]  // an unknown field is skipped by its length
        body += field(1, payload.count) + [0]
        return body + payload
    }

    func zstd(_ plain: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(plain.count))
        let n = out.withUnsafeMutableBytes { o in plain.withUnsafeBytes { p in ZSTD_compress(o.baseAddress, o.count, p.baseAddress, p.count, 3) } }
        XCTAssertEqual(ZSTD_isError(n), 0)
        return Array(out.prefix(n))
    }

    /// BEGIN, TABLE_MAP, WRITE_ROWS (two rows), XID: as the server writes them inside a
    /// payload (no CRC32 trailer, log positions 0).
    func innerEvents() -> [UInt8] {
        let map = Build.tableMap(id: 3, schema: "shop", table: "t", types: [ColumnType.long, ColumnType.varchar], meta: Build.le(40, 2),
                                 nullable: [false, true], optional: [(4, ["id", "name"].flatMap(Build.lenencString))], checksum: false, at: 0)
        let images = Build.bitmap([false, false]) + Build.le(7, 4) + [3] + Array("abc".utf8) + Build.bitmap([false, true]) + Build.le(8, 4)
        let rows = Build.rows(type: EventType.writeRowsV2, id: 3, width: 2, present: [true, true], images: images, checksum: false, at: 0)
        return Build.query("BEGIN", checksum: false, at: 0) + map + rows
            + Build.event(type: EventType.xid, body: Build.le(77, 8), checksum: false, at: 0, timestamp: 1_700_000_123)
    }

    func decoder() throws -> EventDecoder {
        var decoder = EventDecoder(file: "binlog.000012")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        return decoder
    }

    func testZstdPayloadDecodesWithTheDecoderStateAndAssemblesOneTransaction() throws {
        var decoder = try decoder()
        var assembler = TransactionAssembler()
        let sid = [UInt8](repeating: 0xab, count: 16)
        let gtid = Build.event(type: EventType.gtid, body: [1] + sid + Build.le(5, 8), checksum: true, at: 300)
        XCTAssertNil(try assembler.consume(try decoder.decode(gtid, at: 300)))
        let plain = innerEvents()
        let body = payloadBody(zstd(plain), compression: 0, uncompressedSize: plain.count)
        let payload = Build.event(type: EventType.transactionPayload, body: body, checksum: true, at: 400)
        let e = try decoder.decode(payload, at: 400)
        guard case .transactionPayload(let nested) = e.event else { return XCTFail("\(e.event)") }
        XCTAssertEqual(nested.count, 4)
        XCTAssertTrue(nested.allSatisfy { $0.position == BinlogPosition(file: "binlog.000012", offset: 400) })
        guard case .rows(let changes) = nested[2].event else { return XCTFail("\(nested[2].event)") }
        XCTAssertEqual(changes.map(\.after), [[.int(7), .string("abc")], [.int(8), .null]])
        XCTAssertEqual(changes[0].table.columnNames, ["id", "name"])
        XCTAssertTrue(decoder.tableMaps.isEmpty, "the nested statement end clears the maps")

        let tx = try XCTUnwrap(try assembler.consume(e))
        XCTAssertEqual(tx.gtid, "abababab-abab-abab-abab-abababababab:5")
        XCTAssertEqual(tx.start, BinlogPosition(file: "binlog.000012", offset: 300))
        XCTAssertEqual(tx.end, BinlogPosition(file: "binlog.000012", offset: 400 + UInt64(payload.count)))
        XCTAssertEqual(tx.timestamp, 1_700_000_123)
        XCTAssertEqual(tx.changes.count, 2)
        XCTAssertFalse(assembler.isInTransaction)
    }

    func testStoredPayloadWithoutCompression() throws {
        var decoder = try decoder()
        let plain = innerEvents()
        let payload = Build.event(type: EventType.transactionPayload, body: payloadBody(plain, compression: 255, uncompressedSize: nil),
                                  checksum: true, at: 400)
        guard case .transactionPayload(let nested) = try decoder.decode(payload, at: 400).event else { return XCTFail() }
        XCTAssertEqual(nested.map(\.header.type), [EventType.query, EventType.tableMap, EventType.writeRowsV2, EventType.xid])
    }

    func expectError(_ body: [UInt8], _ code: BinlogError.Code, _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var decoder = try decoder()
        let payload = Build.event(type: EventType.transactionPayload, body: body, checksum: true, at: 900)
        XCTAssertThrowsError(try decoder.decode(payload, at: 900), file: file, line: line) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, code, "\(error)", file: file, line: line)
            XCTAssertEqual(e?.position, BinlogPosition(file: "binlog.000012", offset: 900), file: file, line: line)
            XCTAssertTrue(e?.message.contains(words) ?? false, e?.message ?? "", file: file, line: line)
        }
    }

    func testBadPayloadsThrowNamingThePosition() throws {
        let plain = innerEvents()
        // absurd declared size: refused before allocating
        try expectError(payloadBody(zstd(plain), compression: 0, uncompressedSize: 1 << 40), .corrupt, "1 GiB")
        // declared size smaller than the content
        try expectError(payloadBody(zstd(plain), compression: 0, uncompressedSize: plain.count - 1), .corrupt, "zstd")
        // declared size larger than the content
        try expectError(payloadBody(zstd(plain), compression: 0, uncompressedSize: plain.count + 1), .corrupt, "declares")
        // bit flip in the compressed bytes (no CRC32 would catch it in a stream without checksums)
        var flipped = zstd(plain)
        flipped[flipped.count / 2] ^= 0x40
        flipped[4] ^= 0xff
        try expectError(payloadBody(flipped, compression: 0, uncompressedSize: plain.count), .corrupt, "zstd")
        try expectError(payloadBody(plain, compression: 7, uncompressedSize: nil), .unsupported, "binlog_transaction_compression=OFF")
        // payload size field disagrees with the bytes that follow
        var short = payloadBody(plain, compression: 255, uncompressedSize: nil)
        short.removeLast()
        try expectError(short, .corrupt, "payload bytes")
        // a nested event claiming more bytes than remain
        var lying = plain
        lying[9] = 0xff
        lying[10] = 0x10
        try expectError(payloadBody(lying, compression: 255, uncompressedSize: nil), .corrupt, "byte 0 of the")
        // a nested event that does not decode names the payload and its byte
        let begin = Build.query("BEGIN", checksum: false, at: 0)
        try expectError(payloadBody(begin + Build.event(type: EventType.xid, body: [1], checksum: false), compression: 255, uncompressedSize: nil),
                        .truncated, "nested event at byte \(begin.count) of the decompressed payload")
        try expectError(payloadBody(Build.formatDescription(server: "8.0.36", checksum: false), compression: 255, uncompressedSize: nil),
                        .corrupt, "inside the TRANSACTION_PAYLOAD")
        try expectError([1, 1, 0, 0], .corrupt, "compression type")
        try expectError(payloadBody([], compression: 255, uncompressedSize: nil), .corrupt, "holds no events")
        try expectError(payloadBody(zstd(plain), compression: 0, uncompressedSize: 0), .corrupt, "holds no events")
    }

    func testNestedRowsWithoutTheirTableMapNameThePayload() throws {
        var decoder = try decoder()
        let rows = Build.rows(type: EventType.writeRowsV2, id: 3, width: 1, present: [true], images: [0, 1, 0, 0, 0], checksum: false, at: 0)
        let payload = Build.event(type: EventType.transactionPayload, body: payloadBody(rows, compression: 255, uncompressedSize: nil),
                                  checksum: true, at: 500)
        XCTAssertThrowsError(try decoder.decode(payload, at: 500)) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .unknownTable)
            XCTAssertTrue(e?.message.contains("inside the TRANSACTION_PAYLOAD at binlog.000012:500") ?? false, e?.message ?? "")
        }
    }

    // MARK: - Corpus

    func nestedRows(_ events: [DecodedEvent]) -> [RowChange] {
        events.flatMap { e -> [RowChange] in
            switch e.event {
            case .rows(let changes): return changes
            case .transactionPayload(let nested): return nestedRows(nested)
            default: return []
            }
        }
    }

    /// MySQL 8.0.32; the payload holds BEGIN, TABLE_MAP, WRITE_ROWS, XID (the order
    /// rust_mysql_common's own test of this file expects) inserting 1 into `test`.`tb1`.
    func testRustMySQLCommonCompressedTransaction() throws {
        let file = "blackbeam__rust_mysql_common/test-data/binlogs/transaction_compression.000001"
        let events = try Corpus.decode(file)
        guard case .transactionPayload(let nested) = events[3].event else { return XCTFail("\(events[3].event)") }
        XCTAssertEqual(events[3].position.offset, 274)
        XCTAssertEqual(nested.map(\.header.type), [EventType.query, EventType.tableMap, EventType.writeRowsV2, EventType.xid])
        let txs = try Corpus.transactions(file)
        XCTAssertEqual(txs.count, 1)
        XCTAssertNil(txs[0].gtid)
        XCTAssertEqual(txs[0].start.offset, 197)
        XCTAssertEqual(txs[0].end.offset, 431)
        XCTAssertEqual(txs[0].changes.map(\.table.table), ["tb1"])
        XCTAssertEqual(txs[0].changes.map(\.after), [[.int(1)]])
    }

    /// MySQL 8.0.40, from MariaDB's rpl_from_mysql80.test, whose comment holds the SQL:
    /// `INSERT INTO t1 VALUES ($i+1000, $i, CONCAT("--", $i, "--", REPEAT("\\/", 100), "--"))`
    /// for i in 0..<100 in one compressed transaction (`\/` in a MySQL string is `/`). The
    /// test restarts replication at 2297 as "the start of INSERT INTO t1 VALUES (5, …)",
    /// the event after the payload; its .result shows rows 1–5 of t1.
    func testMariaDBTestSuiteHundredRowPayload() throws {
        let file = "debian-mariadb-test-data_10.11.19/std_data/mdev35643_mysql_80_binlog.000001"
        let txs = try Corpus.transactions(file)
        let big = try XCTUnwrap(txs.first { $0.changes.count == 100 })
        XCTAssertEqual(big.start.offset, 1389)
        XCTAssertEqual(big.end.offset, 2297)
        for (i, change) in big.changes.enumerated() {
            XCTAssertEqual(change.kind, .insert)
            XCTAssertEqual(change.after, [.int(Int64(1000 + i)), .int(Int64(i)), .string("--\(i)--" + String(repeating: "/", count: 100) + "--")])
        }
        let plain = txs.filter { $0.changes.count == 1 && $0.changes[0].table.table == "t1" }.compactMap { $0.changes[0].after?[2] }
        XCTAssertEqual(plain, [.string(""), .string("skip"), .string("after compressed")])
        XCTAssertEqual(txs.first { $0.changes.count == 2 }?.changes.map(\.after), [[.int(2), .int(0), .string("hulu")], [.int(3), .int(0), .string("bulu")]])
    }

    /// MySQL 8.0.31 with ROWS_QUERY events inside the payloads: values checked against
    /// that SQL (`insert into b values(1)`; `update test_table_3 set enum_field='large',
    /// set_field='c', product_item_2='product_3_value' where product_id=55555`).
    func testApecloudPayloadsWithRowsQuery() throws {
        let file = "apecloud__mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057"
        let events = try Corpus.decode(file)
        let queries = events.flatMap { e -> [String] in
            guard case .transactionPayload(let nested) = e.event else { return [] }
            return nested.compactMap { if case .rowsQuery(let q) = $0.event { return q } else { return nil } }
        }
        XCTAssertEqual(queries.first, "insert into b values(1)")
        let txs = try Corpus.transactions(file)
        XCTAssertEqual(txs.map(\.gtid), ["76f3e7be-6720-11ed-9cad-0242ac110002:12", "76f3e7be-6720-11ed-9cad-0242ac110002:13"])
        XCTAssertEqual(txs.map(\.start.offset), [378, 651])
        XCTAssertEqual(txs.map(\.end.offset), [651, 1283])
        XCTAssertEqual(txs[0].changes.map(\.after), [[.int(1)]])
        let update = try XCTUnwrap(txs[1].changes.first { $0.kind == .update })
        XCTAssertEqual(update.after?[0], .int(55555))
        XCTAssertEqual(update.before?[10], .string("product_item_2_value"))
        XCTAssertEqual(update.after?[10], .string("product_3_value"))
        // SET('a','b','c','d'): 'd' (bit 3) becomes 'c' (bit 2); the ENUM stays 'large'.
        XCTAssertEqual(update.before?[7], .set(bits: 8, labels: nil))
        XCTAssertEqual(update.after?[7], .set(bits: 4, labels: nil))
        XCTAssertEqual(update.before?[6], update.after?[6])
        XCTAssertEqual(update.after?[9], .json(#"{"c": 1}"#))
        XCTAssertEqual(update.after?[8], .bytes([0x62, 0x33, 0]))  // BINARY(3) 'b3'
        XCTAssertEqual(txs[1].changes.count, 2)
    }

    /// MySQL 8.0.28 (mysql-binlog-connector-java): one UPDATE of `movies` inside a payload;
    /// only the genre changes (reasoned from the images: every other column is equal).
    func testConnectorJavaCompressedUpdate() throws {
        let txs = try Corpus.transactions("osheroff__mysql-binlog-connector-java/src/test/resources/mysql-bin.compressed")
        XCTAssertEqual(txs.count, 1)
        XCTAssertEqual(txs[0].start.offset, 157)
        XCTAssertEqual(txs[0].end.offset, 724)
        let change = try XCTUnwrap(txs[0].changes.first)
        XCTAssertEqual(change.table.table, "movies")
        XCTAssertEqual(change.before?[1], .string("Once Upon a Time in the West"))
        XCTAssertEqual(change.before?[4], .string("Western"))
        XCTAssertEqual(change.after?[4], .string("Western|Action"))
        let differing = (0..<11).filter { change.before?[$0] != change.after?[$0] }
        XCTAssertEqual(differing, [4])
    }
}
