import XCTest
@testable import BinlogCore

/// Decodes the real-server corpus; expected values come from
/// `mariadb-binlog --base64-output=decode-rows -vv FILE` (MariaDB 10.11.19), which
/// prints DATE as `1990:01:01`, TIMESTAMP as epoch seconds and SET as bits.
final class CorpusDecodeTests: XCTestCase {
    /// Upstream fixtures that are truncated, corrupt or encrypted on purpose.
    static let negative: Set<String> = [
        "debian-mariadb-test-data_10.11.19/std_data/binlog_before_20574.bin",
        "debian-mariadb-test-data_10.11.19/std_data/bug11747416_32228_binlog.000001",
        "debian-mariadb-test-data_10.11.19/std_data/corrupt-relay-bin.000624",
        "debian-mariadb-test-data_10.11.19/std_data/mdev-39404-binlog.000001",
        "debian-mariadb-test-data_10.11.19/std_data/trunc_binlog.000001",
        "debian-mariadb-test-data_10.11.19/suite/binlog/std_data/invalid_row_v2_tag.001",
        "blackbeam__rust_mysql_common/test-data/binlogs/binlog_truncated_event.000001",
        "blackbeam__rust_mysql_common/test-data/binlogs/binlog_truncated_prev_gtid_event.000001",
    ]

    /// Valid files this decoder refuses, loudly, with the reason.
    static let unsupported: [String: BinlogError.Code] = [
        // MySQL 5.1 pre-GA row events (record layout)
        "blackbeam__rust_mysql_common/test-data/binlogs/ver_5_1-wl2325_s.001": .unsupported,
        "debian-mariadb-test-data_10.11.19/suite/binlog/std_data/bug32407.001": .unsupported,
        "debian-mariadb-test-data_10.11.19/suite/binlog/std_data/ver_5_1-telco.001": .unsupported,
        "debian-mariadb-test-data_10.11.19/suite/binlog/std_data/ver_5_1_17.001": .unsupported,
        // a gzip copy of a binlog, not a binlog (testGzippedSakilaLoad unpacks it)
        "osheroff__mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila.gz": .badMagic,
        // MariaDB 10.0 hires TIMESTAMP(3) in the pre-10.1 format: its TABLE_MAP carries no
        // fractional precision, so the row cannot be measured (mariadb-binlog fails too)
        "pingcap__tiflow/mysql-bin.000001": .truncated,
    ]

    func testEveryValidFileDecodesAndAssembles() throws {
        var failures: [String] = []
        var decodedFiles = 0
        for file in try Corpus.allFiles() where !Self.negative.contains(file) {
            do {
                let events = try Corpus.decode(file)
                var assembler = TransactionAssembler()
                for event in events {
                    if case .incident = event.event { break }
                    _ = try assembler.consume(event)
                }
                if Self.unsupported[file] != nil {
                    failures.append("\(file): decoded, but is listed as unsupported")
                }
                decodedFiles += 1
            } catch let error as BinlogError {
                if Self.unsupported[file] != error.code {
                    failures.append("\(file): \(error)")
                }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertGreaterThan(decodedFiles, 100)
    }

    func testNegativeFilesThrowNamingTheOffset() throws {
        for file in Self.negative.sorted() {
            do {
                let events = try Corpus.decode(file)
                var assembler = TransactionAssembler()
                for event in events { _ = try assembler.consume(event) }
                try assembler.finish()
                XCTFail("\(file) decoded without error")
            } catch let error as BinlogError {
                let position = try XCTUnwrap(error.position, "\(file): \(error)")
                XCTAssertTrue(error.message.contains("\(position.offset)"), "\(file): \(error.message)")
            }
        }
    }

    func testUnsupportedFilesSayHowToFixIt() throws {
        _ = try Corpus.requireRoot()
        XCTAssertThrowsError(try Corpus.decode("debian-mariadb-test-data_10.11.19/suite/binlog/std_data/ver_5_1_17.001")) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .unsupported)
            XCTAssertTrue(e?.message.contains("upgrade the source to MySQL ≥ 5.1.18") ?? false, e?.message ?? "")
            XCTAssertTrue(e.map { $0.message.contains("\($0.position?.offset ?? 0)") } ?? false, e?.message ?? "")
        }
        XCTAssertThrowsError(try Corpus.decode("debian-mariadb-test-data_10.11.19/std_data/mdev-39404-binlog.000001")) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .checksumMismatch)
        }
    }

    func rows(_ file: String) throws -> [(DecodedEvent, RowChange)] {
        try Corpus.decode(file).flatMap { e -> [(DecodedEvent, RowChange)] in
            if case .rows(let changes) = e.event { return changes.map { (e, $0) } }
            return []
        }
    }

    func testMySQL57DecimalAndGTIDs() throws {
        let file = "EasyPost__rust-mysql-binlog/test_data/bin-log.000001"
        let r = try rows(file)
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r[0].0.position.offset, 652)
        XCTAssertEqual(r[0].1.after, [.int(1), .decimal("0.10000"), .string("zero point one")])
        XCTAssertEqual(r[1].1.after, [.int(2), .decimal("1.00000"), .string("one point zero")])
        let txs = try Corpus.transactions(file)
        XCTAssertEqual(txs.map(\.gtid), ["87cee3a4-6b31-11e7-bdfd-0d98d6698870:14918", "87cee3a4-6b31-11e7-bdfd-0d98d6698870:14919"])
        XCTAssertEqual(txs[0].start.offset, 459)
        XCTAssertEqual(txs[0].end.offset, 749)
        XCTAssertEqual(txs[0].end.file, "bin-log.000001")
        let events = try Corpus.decode(file)
        guard case .previousGTIDs(let set) = events[1].event else { return XCTFail("\(events[1].event)") }
        XCTAssertEqual(set, "87cee3a4-6b31-11e7-bdfd-0d98d6698870:1-14916")
    }

    func testMariaDBFullMetadata() throws {
        let file = "blackbeam__rust_mysql_common/test-data/binlogs/mariadb-bin.000001"
        let r = try rows(file)
        XCTAssertEqual(r.count, 2)
        let map = r[0].1.table
        XCTAssertEqual(map.columnNames, ["id", "topic", "event_type", "event", "created"])
        XCTAssertEqual(map.primaryKey, [0])
        XCTAssertEqual(map.enumLabels?[2], ["BLOB", "JSON", "PROTOBUF"])
        // @1=62 @2='foo' @3=2 @4='{"foo":1}' (BLOB, binary charset) @5=1650493084
        XCTAssertEqual(r[0].1.after, [.int(62), .string("foo"), .enumeration(index: 2, label: "JSON"),
                                      .bytes(Array(#"{"foo":1}"#.utf8)), .timestamp("2022-04-20 22:18:04")])
        XCTAssertEqual(r[1].1.after?[4], .timestamp("2022-04-20 22:19:55"))
        let txs = try Corpus.transactions(file)
        XCTAssertEqual(txs.map(\.gtid), ["0-1-1", "0-1-2"])
        XCTAssertEqual(txs.map(\.start.offset), [330, 702])
        XCTAssertEqual(txs.map(\.end.offset), [702, 1074])
        XCTAssertEqual(txs[0].changes.count, 1)
    }

    func testCharOver255EnumAndSetLabels() throws {
        let r = try rows("blackbeam__rust_mysql_common/test-data/binlogs/mysql-enum-string-set.000001")
        let first = try XCTUnwrap(r.first?.1.after)
        // @1 CHAR(512) meta=56832, @3=1 ENUM, @4=b'00000101' SET, @5='0123456789' TEXT
        XCTAssertEqual(first[0], .string("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"))
        guard case .enumeration(1, _)? = first[2] else { return XCTFail("\(String(describing: first[2]))") }
        guard case .set(5, let labels)? = first[3] else { return XCTFail("\(String(describing: first[3]))") }
        XCTAssertEqual(labels?.count, 2)
        XCTAssertEqual(first[4], .string("0123456789"))
        let update = try XCTUnwrap(r.first { $0.1.kind == .update }?.1)
        XCTAssertEqual(update.after?[0], .string("field1"))
        XCTAssertEqual(update.after?[1], .string("field_2"))
        guard case .set(10, _)? = update.after?[3] else { return XCTFail("\(String(describing: update.after?[3]))") }
    }

    func testBitTimeAndTimestamp() throws {
        let bits = try rows("blackbeam__rust_mysql_common/test-data/binlogs/mysql_type_bit.000001")
        // @1=b'100' BIT(3), @2='foo', @3=b'00100000' BIT(8)
        XCTAssertEqual(bits.first?.1.after, [.bytes([0b100]), .string("foo"), .bytes([0b0010_0000])])
        let time = try rows("blackbeam__rust_mysql_common/test-data/binlogs/time_issue.000001")
        XCTAssertEqual(time.first?.1.after, [.time("-507:48:27")])
        let crc = try rows("osheroff__mysql-binlog-connector-java/src/test/resources/mysql-bin.checksum-crc32")
        // @1=12300113 @2='test2' @5=1525422719 (TIMESTAMP) @8=0 (TINYINT)
        let row = try XCTUnwrap(crc.first?.1.after)
        XCTAssertEqual(row[0], .int(12_300_113))
        XCTAssertEqual(row[1], .string("test2"))
        XCTAssertEqual(row[4], .timestamp("2018-05-04 08:31:59"))
        XCTAssertEqual(row[7], .int(0))
    }

    /// The sakila load (MySQL 5.7): 47,273 inserts over 16 tables, unpacked with our own inflater.
    func testGzippedSakilaLoad() throws {
        let path = try Corpus.gunzip("osheroff__mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let events = try Corpus.decode(path: path)
        var assembler = TransactionAssembler()
        var inserts: [String: Int] = [:]
        var firstFilm: RowImage?, firstPayment: RowImage?
        for event in events {
            guard let tx = try assembler.consume(event) else { continue }
            for change in tx.changes where change.kind == .insert {
                inserts[change.table.table, default: 0] += 1
                if change.table.table == "film" && firstFilm == nil { firstFilm = change.after }
                if change.table.table == "payment" && firstPayment == nil { firstPayment = change.after }
            }
        }
        XCTAssertEqual(inserts.values.reduce(0, +), 47_273)
        XCTAssertEqual(inserts["payment"], 16_049)
        XCTAssertEqual(inserts["rental"], 16_044)
        // film: @4=2006 YEAR, @6=NULL, @8=0.99 DECIMAL(4,2), @11=2 ENUM, @12=b'00001100' SET, @13=1139976222 TIMESTAMP
        let film = try XCTUnwrap(firstFilm)
        XCTAssertEqual(film[0], .int(1))
        XCTAssertEqual(film[1], .string("ACADEMY DINOSAUR"))
        XCTAssertEqual(film[3], .year(2006))
        XCTAssertEqual(film[5], .null)
        XCTAssertEqual(film[7], .decimal("0.99"))
        XCTAssertEqual(film[9], .decimal("20.99"))
        XCTAssertEqual(film[10], .enumeration(index: 2, label: nil))
        XCTAssertEqual(film[11], .set(bits: 12, labels: nil))
        XCTAssertEqual(film[12], .timestamp("2006-02-15 04:03:42"))
        // payment: @5=2.99, @6='2005-05-25 11:30:37' (old DATETIME), @7=1140037950
        let payment = try XCTUnwrap(firstPayment)
        XCTAssertEqual(payment[4], .decimal("2.99"))
        XCTAssertEqual(payment[5], .datetime("2005-05-25 11:30:37"))
        XCTAssertEqual(payment[6], .timestamp("2006-02-15 21:12:30"))
    }

    /// MySQL binary JSON, including opaque DATE/DATETIME/TIME/DECIMAL values; mariadb-binlog
    /// cannot print MySQL JSON, so these are MySQL's own JSON text rules.
    func testMySQLBinaryJSONWithOpaqueValues() throws {
        let docs = try rows("blackbeam__rust_mysql_common/test-data/binlogs/json-opaque.binlog").compactMap { $0.1.after?.first ?? nil }
        XCTAssertEqual(docs, [.json(#"{"a": "base64:type15:VQ=="}"#), .json(#"{"b": "2012-03-18"}"#),
                              .json(#"{"c": "2012-03-18 11:30:45.000000"}"#), .json(#"{"c": "87:31:46.654321"}"#),
                              .json(#"{"d": 123.456}"#), .json(#"{"e": 9.00}"#), .json(#"{"e": [0, 1, true, false]}"#),
                              .json(#"{"e": null}"#)])
    }

    func testOldFormatsDecode() throws {
        // MySQL 4.1 (binlog v3, START_V3) and a relay log with two FORMAT_DESCRIPTIONs
        let v3 = try Corpus.decode("debian-mariadb-test-data_10.11.19/std_data/bug47142_master-bin.000001")
        guard case .formatDescription(3, _, false) = v3[0].event else { return XCTFail("\(v3[0].event)") }
        XCTAssertTrue(v3.contains { if case .query = $0.event { return true } else { return false } })
        let relay = try Corpus.decode("debian-mariadb-test-data_10.11.19/std_data/bug33029-slave-relay-bin.000001")
        XCTAssertTrue(relay.allSatisfy { $0.position.file == "bug33029-slave-relay-bin.000001" })
    }
}

final class TableFilterTests: XCTestCase {
    /// With a table filter, rows of rejected tables are not decoded and every other
    /// event (rows of kept tables included) decodes exactly as without it.
    func testFilteredTablesYieldNoRowsAndOthersDecodeAsBefore() throws {
        var keptRows = 0, skippedRows = 0, files = 0
        let wanted: @Sendable (String, String) -> Bool = { _, table in table.utf8.count % 2 == 0 }
        for file in try Corpus.allFiles() where !CorpusDecodeTests.negative.contains(file) && CorpusDecodeTests.unsupported[file] == nil {
            guard let plain = try? Corpus.decode(file) else { continue }
            var reader = try BinlogFileReader(path: try Corpus.path(file))
            var decoder = EventDecoder(file: reader.fileName)
            decoder.tableFilter = wanted
            var filtered: [DecodedEvent] = []
            while let event = try reader.nextEvent({ bytes, offset in try decoder.decode(bytes, at: offset) }) { filtered.append(event) }
            XCTAssertEqual(plain.count, filtered.count, file)
            files += 1
            for (a, b) in zip(plain, filtered) {
                XCTAssertEqual(a.position, b.position, file)
                guard case .rows(let all) = a.event else { continue }
                guard case .rows(let kept) = b.event else { XCTFail("\(file) \(a.position): not a rows event"); continue }
                if let table = all.first?.table, !wanted(table.schema, table.table) {
                    XCTAssertTrue(kept.isEmpty, "\(file) \(a.position)")
                    skippedRows += all.count
                } else {
                    XCTAssertEqual(all.map(\.kind), kept.map(\.kind), "\(file) \(a.position)")
                    XCTAssertEqual(all.map(\.before), kept.map(\.before), "\(file) \(a.position)")
                    XCTAssertEqual(all.map(\.after), kept.map(\.after), "\(file) \(a.position)")
                    keptRows += kept.count
                }
            }
        }
        try XCTSkipIf(files == 0, "no corpus")
        XCTAssertGreaterThan(keptRows, 1000)
        XCTAssertGreaterThan(skippedRows, 1000)
    }
}
