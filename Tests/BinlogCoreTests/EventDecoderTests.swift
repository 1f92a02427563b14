import XCTest
@testable import BinlogCore

/// Whole events built in the test: header, FORMAT_DESCRIPTION state, checksums,
/// TABLE_MAP optional metadata, ROWS v1/v2 and the errors bad bytes produce.
final class EventDecoderTests: XCTestCase {
    func testCRC32FoldingAgreesWithTables() throws {
        try XCTSkipUnless(CRC32.usesCarrylessMultiply, "this CPU has no PCLMULQDQ; only the table path runs")
        var generator = SystemRandomNumberGenerator()
        for length in Array(60...300) + [1024, 4099, 65536 + 13] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes.withUnsafeBytes { b in
                for start: UInt32 in [0, 0xDEAD_BEEF] {
                    XCTAssertEqual(CRC32.checksum(b, crc: start, fold: true), CRC32.checksum(b, crc: start, fold: false), "length \(length)")
                }
            }
        }
        // A long known vector: 1 MiB of the bytes i*31+7; zlib's crc32() gives 0xd424bdc1.
        let long = (0..<1_048_576).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        XCTAssertEqual(long.withUnsafeBytes { CRC32.checksum($0, crc: 0, fold: true) }, 0xD424_BDC1)
        XCTAssertEqual(long.withUnsafeBytes { CRC32.checksum($0, crc: 0, fold: false) }, 0xD424_BDC1)
    }

    func testCRC32KnownVector() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let split = long.withUnsafeBytes { b in
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: b[13...]), crc: CRC32.checksum(UnsafeRawBufferPointer(rebasing: b[..<13])))
        }
        XCTAssertEqual(split, CRC32.checksum(long))
    }

    func testFormatDescriptionWithInUseFlagVerifies() throws {
        var decoder = EventDecoder(file: "mariadb-bin.000001")
        let fde = Build.formatDescription(checksum: true, flags: 0x0001)
        let e = try decoder.decode(fde, at: 4)
        guard case .formatDescription(4, "10.11.6-MariaDB-log", true) = e.event else { return XCTFail("\(e.event)") }
        XCTAssertTrue(decoder.checksumEnabled)
        XCTAssertEqual(e.position, BinlogPosition(file: "mariadb-bin.000001", offset: 4))
    }

    func testChecksumMismatchNamesPosition() throws {
        var decoder = EventDecoder(file: "mysql-bin.000007")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        var xid = Build.event(type: EventType.xid, body: Build.le(42, 8), checksum: true, at: 300)
        XCTAssertEqual(try decoder.decode(xid, at: 300).event.xidValue, 42)
        xid[20] ^= 0x01
        XCTAssertThrowsError(try decoder.decode(xid, at: 300)) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .checksumMismatch)
            XCTAssertEqual(e?.position, BinlogPosition(file: "mysql-bin.000007", offset: 300))
            XCTAssertTrue(e?.description.contains("mysql-bin.000007:300") ?? false)
        }
    }

    func testStreamStartsWithFakeRotateThenLearnsPositions() throws {
        var decoder = EventDecoder()
        let name = Array("mysql-bin.000042".utf8)
        // The fake ROTATE: timestamp 0, nextPosition 0, CRC32 trailer before any FDE.
        let rotate = Build.event(type: EventType.rotate, body: Build.le(4, 8) + name, checksum: true, timestamp: 0, nextPosition: 0)
        let r = try decoder.decode(rotate.withUnsafeBytes { Array($0) })
        guard case .rotate("mysql-bin.000042", 4) = r.event else { return XCTFail("\(r.event)") }
        XCTAssertEqual(r.position, BinlogPosition(file: "mysql-bin.000042", offset: 0))
        XCTAssertEqual(decoder.file, "mysql-bin.000042")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true))
        let begin = Build.query("BEGIN", checksum: true, at: 1000)
        let q = try begin.withUnsafeBytes { try decoder.decode($0) }
        XCTAssertEqual(q.position, BinlogPosition(file: "mysql-bin.000042", offset: 1000))
        guard case .query("shop", "BEGIN") = q.event else { return XCTFail("\(q.event)") }
    }

    /// shop.items(id BIGINT UNSIGNED PK, name VARCHAR(40) utf8mb4, price DECIMAL(10,2),
    /// state ENUM('new','sold'), tags SET('a','b','c'), at DATETIME(3), note TEXT NULL)
    func itemsMap(at offset: UInt32, checksum: Bool) -> [UInt8] {
        let types: [UInt8] = [ColumnType.longlong, ColumnType.varchar, ColumnType.newdecimal, ColumnType.string,
                              ColumnType.string, ColumnType.datetime2, ColumnType.blob]
        let meta: [UInt8] = Build.le(160, 2) + [10, 2] + [0xF7, 0x01] + [0xF8, 0x01] + [3] + [2]
        let names = ["id", "name", "price", "state", "tags", "at", "note"].flatMap(Build.lenencString)
        let optional: [(UInt8, [UInt8])] = [
            (1, Build.msbBitmap([true, false])),                               // SIGNEDNESS: id unsigned, price signed
            (2, Build.lenenc(255) + Build.lenenc(1) + Build.lenenc(63)),       // DEFAULT_CHARSET 255, char column 1 (note) binary
            (4, names),                                                        // COLUMN_NAME
            (5, Build.lenenc(3) + ["a", "b", "c"].flatMap(Build.lenencString)), // SET_STR_VALUE
            (6, Build.lenenc(2) + ["new", "sold"].flatMap(Build.lenencString)), // ENUM_STR_VALUE
            (9, Build.lenenc(0) + Build.lenenc(0) + Build.lenenc(1) + Build.lenenc(10)), // PRIMARY_KEY_WITH_PREFIX
            (10, Build.lenenc(45)),                                           // ENUM_AND_SET_DEFAULT_CHARSET
            (99, [1, 2, 3]),                                                  // unknown fields are skipped
        ]
        return Build.tableMap(id: 77, schema: "shop", table: "items", types: types, meta: meta,
                              nullable: [false, false, false, false, false, false, true], optional: optional,
                              checksum: checksum, at: offset)
    }

    func itemsRow(id: UInt64, name: String, note: [UInt8]?, fraction: UInt64 = 1230) -> [UInt8] {
        let datetime = Build.be(0x80_0000_0000 + ((2024 * 13 + 1) << 22 | 31 << 17 | 10 << 12), 5) + Build.be(fraction, 2)
        var values = Build.le(id, 8) + [UInt8(name.utf8.count)] + Array(name.utf8)
        values += [0x80, 0x00, 0x00, 0x0C, 0x1E]  // DECIMAL(10,2) 12.30
        values += [2, 0b101] + datetime
        if let note { values += Build.le(UInt64(note.count), 2) + note }
        return Build.bitmap([false, false, false, false, false, false, note == nil]) + values
    }

    /// `RowImage.sameValue` on an update's images: a DATETIME(3) that changed only in its
    /// fraction (kept beside the packed seconds, not in the bytes) is different; a column
    /// that went from NULL to a value is different; the rest is the same.
    func testSameValueOfDecodedUpdateImages() throws {
        var decoder = EventDecoder(file: "binlog.000003")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        _ = try decoder.decode(itemsMap(at: 200, checksum: true), at: 200)
        let images = itemsRow(id: 2, name: "b", note: nil, fraction: 1230) + itemsRow(id: 2, name: "b", note: [7], fraction: 1240)
            + itemsRow(id: 3, name: "cd", note: [7, 8], fraction: 1230) + itemsRow(id: 3, name: "ce", note: [7, 8], fraction: 1230)
        let all = Array(repeating: true, count: 7)
        let e = try decoder.decode(Build.rows(type: EventType.updateRowsV2, id: 77, width: 7, present: all, presentAfter: all,
                                              images: images, checksum: true, at: 400), at: 400)
        guard case .rows(let changes) = e.event, changes.count == 2 else { return XCTFail("\(e.event)") }
        func same(_ c: RowChange) throws -> [Bool] {
            let before = try XCTUnwrap(c.before), after = try XCTUnwrap(c.after)
            return (0..<7).map { after.sameValue($0, as: before) }
        }
        XCTAssertEqual(try same(changes[0]), [true, true, true, true, true, false, false])
        XCTAssertEqual(try same(changes[1]), [true, false, true, true, true, true, true])
    }

    func testTableMapOptionalMetadataAndWriteRowsV2() throws {
        var decoder = EventDecoder(file: "binlog.000003")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        let mapEvent = try decoder.decode(itemsMap(at: 200, checksum: true), at: 200)
        guard case .tableMap(let map) = mapEvent.event else { return XCTFail("\(mapEvent.event)") }
        XCTAssertEqual(map.tableID, 77)
        XCTAssertEqual(map.columnCount, 7)
        XCTAssertEqual(map.columnNames, ["id", "name", "price", "state", "tags", "at", "note"])
        XCTAssertEqual(map.primaryKey, [0, 1])
        XCTAssertEqual(map.primaryKeyPrefixes, [0, 10])
        XCTAssertEqual(map.unsigned, [true, false, false, false, false, false, false])
        XCTAssertEqual(map.collations ?? [], [nil, 255, nil, 45, 45, nil, 63])
        XCTAssertEqual(map.nullable, [false, false, false, false, false, false, true])
        XCTAssertEqual(map.realType(ofColumn: 3), ColumnType.enumeration)

        let images = itemsRow(id: UInt64.max, name: "ünï", note: [0xde, 0xad]) + itemsRow(id: 2, name: "b", note: nil)
        let partition: [UInt8] = [1] + Build.le(3, 2)  // extra row info: partition id 3
        let rows = Build.rows(type: EventType.writeRowsV2, id: 77, width: 7, present: Array(repeating: true, count: 7),
                              extra: partition, images: images, checksum: true, at: 400)
        let e = try decoder.decode(rows, at: 400)
        guard case .rows(let changes) = e.event else { return XCTFail("\(e.event)") }
        XCTAssertTrue(e.isStatementEnd)
        XCTAssertEqual(changes.count, 2)
        XCTAssertEqual(changes[0].kind, .insert)
        XCTAssertEqual(changes[0].after, [.uint(UInt64.max), .string("ünï"), .decimal("12.30"), .enumeration(index: 2, label: "sold"),
                                          .set(bits: 5, labels: ["a", "c"]), .datetime("2024-01-31 10:00:00.123"), .bytes([0xde, 0xad])])
        XCTAssertEqual(changes[1].after?[6], .null)
        XCTAssertEqual(changes[1].table.columnName(1), "name")
        XCTAssertTrue(decoder.tableMaps.isEmpty, "maps end with their statement")
    }

    func testUpdateRowsV1WithMinimalImages() throws {
        var decoder = EventDecoder(file: "mariadb-bin.000002")
        _ = try decoder.decode(Build.formatDescription(checksum: false), at: 4)
        let map = Build.tableMap(id: 5, schema: "s", table: "t", types: [ColumnType.long, ColumnType.varchar, ColumnType.tiny],
                                 meta: Build.le(20, 2), nullable: [false, true, true], checksum: false, at: 100)
        _ = try decoder.decode(map, at: 100)
        // before image: id only; after image: name and flag (flag NULL).
        let before = Build.bitmap([false]) + Build.le(9, 4)
        let after = Build.bitmap([false, true]) + [2] + Array("zz".utf8)
        let rows = Build.rows(type: EventType.updateRowsV1, id: 5, width: 3, present: [true, false, false],
                              presentAfter: [false, true, true], images: before + after, checksum: false, at: 150)
        let e = try decoder.decode(rows, at: 150)
        guard case .rows(let changes) = e.event else { return XCTFail("\(e.event)") }
        XCTAssertEqual(changes.count, 1)
        XCTAssertEqual(changes[0].kind, .update)
        XCTAssertEqual(changes[0].before, [.int(9), nil, nil])
        XCTAssertEqual(changes[0].after, [nil, .string("zz"), .null])
        XCTAssertEqual(changes[0].table.columnName(2), "@3")
    }

    /// MariaDB lists YEAR among SIGNEDNESS columns and GEOMETRY among charset columns
    /// (checked against MariaDB 10.11.19); MySQL lists neither.
    func testMariaDBCountsYearAsNumericAndGeometryAsCharacter() throws {
        let types: [UInt8] = [ColumnType.year, ColumnType.geometry, ColumnType.tiny, ColumnType.varchar]
        let meta: [UInt8] = [4] + Build.le(80, 2)
        let optional: [(UInt8, [UInt8])] = [
            (1, Build.msbBitmap([true, false])),                          // YEAR unsigned, TINYINT signed
            (2, Build.lenenc(45) + Build.lenenc(0) + Build.lenenc(63)),   // GEOMETRY binary, VARCHAR utf8mb4
        ]
        let row = Build.bitmap([false, false, false, false]) + [124] + Build.le(2, 4) + [0xAB, 0xCD] + [0xff] + [2] + Array("ok".utf8)
        var decoder = EventDecoder(file: "mariadb-bin.000001")
        _ = try decoder.decode(Build.formatDescription(server: "10.11.6-MariaDB-log", checksum: false), at: 4)
        let mariaMap = Build.tableMap(id: 4, schema: "s", table: "t", types: types, meta: meta,
                                      nullable: [true, true, true, true], optional: optional, checksum: false, at: 200)
        guard case .tableMap(let m) = try decoder.decode(mariaMap, at: 200).event else { return XCTFail() }
        XCTAssertEqual(m.unsigned, [true, false, false, false])
        XCTAssertEqual(m.collations ?? [], [nil, 63, nil, 45])
        let rows = Build.rows(type: EventType.writeRowsV1, id: 4, width: 4, present: [true, true, true, true],
                              images: row, checksum: false, at: 300)
        guard case .rows(let changes) = try decoder.decode(rows, at: 300).event else { return XCTFail() }
        XCTAssertEqual(changes.first?.after, [.year(2024), .geometry([0xAB, 0xCD]), .int(-1), .string("ok")])

        var mysql = EventDecoder(file: "binlog.000001")
        _ = try mysql.decode(Build.formatDescription(server: "8.0.36", checksum: false), at: 4)
        let map = Build.tableMap(id: 4, schema: "s", table: "t", types: types, meta: meta,
                                 nullable: [true, true, true, true], optional: [(1, Build.msbBitmap([true])), (2, Build.lenenc(45))],
                                 checksum: false, at: 200)
        guard case .tableMap(let t) = try mysql.decode(map, at: 200).event else { return XCTFail() }
        XCTAssertEqual(t.unsigned, [false, false, true, false])
        XCTAssertEqual(t.collations ?? [], [nil, nil, nil, 45])
    }

    func testRowsWithoutTableMapAndTruncatedEventsThrow() throws {
        var decoder = EventDecoder(file: "binlog.000009")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: false), at: 4)
        let rows = Build.rows(type: EventType.writeRowsV2, id: 12, width: 1, present: [true], images: [0, 1, 0, 0, 0], checksum: false, at: 500)
        XCTAssertThrowsError(try decoder.decode(rows, at: 500)) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .unknownTable)
            XCTAssertTrue(e?.message.contains("binlog.000009:500") ?? false, e?.message ?? "")
        }
        var map = Build.tableMap(id: 12, schema: "s", table: "t", types: [ColumnType.long], meta: [], nullable: [false], checksum: false, at: 600)
        map.removeLast(3)
        map[9] = UInt8(map.count)
        XCTAssertThrowsError(try decoder.decode(map, at: 600)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .truncated)
            XCTAssertTrue((error as? BinlogError)?.message.contains("binlog.000009:600") ?? false)
        }
        XCTAssertThrowsError(try decoder.decode([UInt8](repeating: 0, count: 10), at: 700)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .truncated)
        }
        var sizeLies = Build.event(type: EventType.xid, body: Build.le(1, 8), checksum: false, at: 800)
        sizeLies[9] = 200
        XCTAssertThrowsError(try decoder.decode(sizeLies, at: 800)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .truncated)
        }
        let extra = Build.rows(type: EventType.writeRowsV2, id: 12, width: 1, present: [true], extra: [7, 0], images: [], checksum: false, at: 900)
        XCTAssertThrowsError(try decoder.decode(extra, at: 900)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
        }
    }

    func testUnknownColumnTypeInTableMapThrows() throws {
        var decoder = EventDecoder(file: "binlog.000001")
        let map = Build.tableMap(id: 1, schema: "s", table: "t", types: [100], meta: [], nullable: [false], checksum: false, at: 120)
        XCTAssertThrowsError(try decoder.decode(map, at: 120)) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .unknownColumnType)
        }
    }

    func testGTIDEvents() throws {
        var decoder = EventDecoder(file: "mariadb-bin.000001")
        _ = try decoder.decode(Build.formatDescription(checksum: true), at: 4)
        let gtid = Build.event(type: EventType.mariadbGTID, body: Build.le(100, 8) + Build.le(2, 4) + [0x03] + Build.le(77, 8),
                               checksum: true, at: 300, serverID: 9)
        guard case .mariadbGTID(let g) = try decoder.decode(gtid, at: 300).event else { return XCTFail() }
        XCTAssertEqual(g.description, "2-9-100")
        XCTAssertTrue(g.isStandalone)
        XCTAssertEqual(g.commitID, 77)
        let list = Build.event(type: EventType.mariadbGTIDList, body: Build.le(1, 4) + Build.le(0, 4) + Build.le(1, 4) + Build.le(55, 8),
                               checksum: true, at: 256)
        guard case .gtidList(let l) = try decoder.decode(list, at: 256).event else { return XCTFail() }
        XCTAssertEqual(l.map(\.description), ["0-1-55"])
        let sid: [UInt8] = [0x87, 0xce, 0xe3, 0xa4, 0x6b, 0x31, 0x11, 0xe7, 0xbd, 0xfd, 0x0d, 0x98, 0xd6, 0x69, 0x88, 0x70]
        let mysql = Build.event(type: EventType.gtid, body: [1] + sid + Build.le(14918, 8) + [2] + Build.le(0, 16), checksum: true, at: 400)
        guard case .gtid(let text) = try decoder.decode(mysql, at: 400).event else { return XCTFail() }
        XCTAssertEqual(text, "87cee3a4-6b31-11e7-bdfd-0d98d6698870:14918")
    }

    func testMySQLTaggedGTIDs() throws {
        let events = try Corpus.decode("blackbeam__rust_mysql_common/test-data/binlogs/binlog_transaction_with_GTID_TAG.000001")
        let gtids = events.compactMap { e -> String? in if case .gtid(let g) = e.event { return g } else { return nil } }
        XCTAssertEqual(gtids, ["55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3"])
        let previous = events.compactMap { e -> String? in if case .previousGTIDs(let g) = e.event { return g } else { return nil } }
        XCTAssertEqual(previous, ["55778904-0299-11f1-b1b8-4ef0c4956feb:1-13,55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:1-2"])
    }
}

extension BinlogEvent {
    var xidValue: UInt64? { if case .xid(let v) = self { return v } else { return nil } }
}

final class SmallEventTests: XCTestCase {
    func decode(_ type: UInt8, _ body: [UInt8], at offset: UInt64? = 400, flags: UInt16 = 0) throws -> BinlogEvent {
        try Self.decode(type, body, at: offset, flags: flags)
    }

    /// One event of `type` after a MariaDB FORMAT_DESCRIPTION with CRC32, at `offset`.
    static func decode(_ type: UInt8, _ body: [UInt8], at offset: UInt64? = 400, flags: UInt16 = 0) throws -> BinlogEvent {
        var decoder = EventDecoder(file: "mariadb-bin.000001")
        _ = try decoder.decode(Build.formatDescription(checksum: true), at: 4)
        let bytes = Build.event(type: type, body: body, checksum: true, at: UInt32(offset ?? 400), flags: flags)
        return try decoder.decode(bytes, at: offset).event
    }

    func testControlEvents() throws {
        guard case .heartbeat = try decode(EventType.heartbeat, Array("mariadb-bin.000001".utf8)) else { return XCTFail() }
        guard case .stop = try decode(EventType.stop, []) else { return XCTFail() }
        guard case .binlogCheckpoint("mariadb-bin.000001") = try decode(EventType.mariadbBinlogCheckpoint, Build.le(18, 4) + Array("mariadb-bin.000001".utf8)) else { return XCTFail() }
        guard case .annotateRows("insert into t values (1)") = try decode(EventType.mariadbAnnotateRows, Array("insert into t values (1)".utf8)) else { return XCTFail() }
        guard case .rowsQuery("update t set a=1") = try decode(EventType.rowsQuery, [16] + Array("update t set a=1".utf8)) else { return XCTFail() }
        guard case .heartbeat = try decode(EventType.heartbeatV2, [1, 2, 3]) else { return XCTFail() }
        for known in [EventType.intvar, EventType.userVar, EventType.ignorable, EventType.transactionContext, EventType.viewChange] {
            guard case .other(type: known) = try decode(known, [1, 2, 3]) else { return XCTFail("\(known)") }
        }
        guard case .incident(1, "LOST_EVENTS") = try decode(EventType.incident, Build.le(1, 2) + [11] + Array("LOST_EVENTS".utf8)) else { return XCTFail() }
    }

    func testStartEncryptionIsAnErrorInFilesOnly() throws {
        XCTAssertThrowsError(try decode(EventType.mariadbStartEncryption, [1] + Build.le(1, 4) + [UInt8](repeating: 0, count: 12))) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .unsupported)
        }
        guard case .other = try decode(EventType.mariadbStartEncryption, [1] + Build.le(1, 4) + [UInt8](repeating: 0, count: 12), at: nil) else { return XCTFail() }
    }
}

/// Unknown event types and bad bytes: each a typed error naming the position, never a trap.
final class BadInputTests: XCTestCase {
    func testUnknownEventsAreSkippedOnlyWhenMarkedIgnorable() throws {
        let small = SmallEventTests.self
        // Aurora's type 100 padding carries LOG_EVENT_IGNORABLE_F, as in the corpus file.
        guard case .other(type: 100) = try small.decode(100, [1, 2, 3], flags: EventHeader.ignorableFlag) else { return XCTFail() }
        guard case .other(type: 60) = try small.decode(60, [], flags: 0x0080 | 0x0001) else { return XCTFail() }
        for type: UInt8 in [0, 43, 100, 172, 255] {
            XCTAssertThrowsError(try small.decode(type, [1, 2, 3])) { error in
                let e = error as? BinlogError
                XCTAssertEqual(e?.code, .unsupported)
                XCTAssertEqual(e?.position?.offset, 400)
                XCTAssertTrue(e?.message.contains("event type \(type)") ?? false, e?.message ?? "")
                XCTAssertTrue(e?.message.contains("offset 400") ?? false, e?.message ?? "")
                XCTAssertTrue(e?.message.contains("LOG_EVENT_IGNORABLE_F") ?? false, e?.message ?? "")
                XCTAssertTrue(e?.message.contains("upgrade distributary") ?? false, e?.message ?? "")
            }
        }
    }

    func testAuroraPaddingFileDecodes() throws {
        let events = try Corpus.decode("osheroff__mysql-binlog-connector-java/src/test/resources/mysql-bin.aurora-padding")
        let padding = try XCTUnwrap(events.first { $0.header.type == 100 })
        XCTAssertEqual(padding.position.offset, 281)
        guard case .other(type: 100) = padding.event else { return XCTFail("\(padding.event)") }
    }

    func testRowsWhoseColumnCountDisagreesWithTheTableMapThrow() throws {
        var decoder = EventDecoder(file: "binlog.000031")
        _ = try decoder.decode(Build.formatDescription(server: "8.0.36", checksum: true), at: 4)
        let map = Build.tableMap(id: 5, schema: "s", table: "t", types: [ColumnType.long, ColumnType.long], meta: [],
                                 nullable: [false, false], checksum: true, at: 200)
        for width in [1, 3] {
            _ = try decoder.decode(map, at: 200)
            let images = Build.bitmap(Array(repeating: false, count: width)) + (0..<width).flatMap { Build.le(UInt64($0), 4) }
            let rows = Build.rows(type: EventType.writeRowsV2, id: 5, width: width, present: Array(repeating: true, count: width),
                                  images: images, checksum: true, at: 300)
            XCTAssertThrowsError(try decoder.decode(rows, at: 300)) { error in
                let e = error as? BinlogError
                XCTAssertEqual(e?.code, .corrupt)
                XCTAssertEqual(e?.position?.offset, 300)
                XCTAssertTrue(e?.message.contains("rows carry \(width) columns") ?? false, e?.message ?? "")
                XCTAssertTrue(e?.message.contains("binlog.000031:300") ?? false, e?.message ?? "")
            }
        }
    }

    /// Writes `bytes` as a binlog file and decodes it the way `binlog dump` does.
    func decodeFile(_ bytes: [UInt8]) throws -> [DecodedEvent] {
        let path = NSTemporaryDirectory() + "bad-input-\(UInt32.random(in: 0...UInt32.max)).000001"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Corpus.decode(path: path)
    }

    func goodFile() -> [UInt8] {
        var bytes = BinlogFileReader.magic + Build.formatDescription(server: "8.0.36", checksum: true)
        bytes += Build.query("BEGIN", checksum: true, at: UInt32(bytes.count))
        bytes += Build.event(type: EventType.xid, body: Build.le(3, 8), checksum: true, at: UInt32(bytes.count))
        return bytes
    }

    func testTruncatedFilesThrowNamingTheOffset() throws {
        let good = goodFile()
        XCTAssertEqual(try decodeFile(good).count, 3)
        let lastEvent = UInt64(good.count - 31)
        for cut in [1, 5, 20, 30] {
            XCTAssertThrowsError(try decodeFile(Array(good.dropLast(cut))), "cut \(cut)") { error in
                let e = error as? BinlogError
                XCTAssertEqual(e?.code, .truncated, "\(error)")
                XCTAssertEqual(e?.position?.offset, lastEvent)
                XCTAssertTrue(e?.message.contains("offset \(lastEvent)") ?? false, e?.message ?? "")
                XCTAssertTrue(e?.message.contains("re-copy") ?? false, e?.message ?? "")
            }
        }
        XCTAssertThrowsError(try decodeFile(Array(good.prefix(3)))) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .badMagic)
        }
    }

    func testEveryFlippedBitFailsItsChecksumOrIsCaught() throws {
        let good = goodFile()
        let firstEvent = 4 + Build.formatDescription(server: "8.0.36", checksum: true).count
        // Every bit of the BEGIN and XID events' bodies and trailers (headers may fail earlier
        // with a size or type error, which the loop accepts as long as it is a BinlogError).
        var mismatches = 0
        for byte in firstEvent..<good.count {
            for bit in 0..<8 {
                var bad = good
                bad[byte] ^= 1 << UInt8(bit)
                do {
                    _ = try decodeFile(bad)
                    XCTFail("byte \(byte) bit \(bit) went unnoticed")
                } catch let error as BinlogError {
                    XCTAssertNotNil(error.position, "\(error)")
                    if error.code == .checksumMismatch { mismatches += 1 }
                }
            }
        }
        XCTAssertGreaterThan(mismatches, (good.count - firstEvent) * 8 / 2)
    }
}
