import XCTest
@testable import BinlogCore

final class TransactionAssemblerTests: XCTestCase {
    /// Decodes built events in order (file positions as a file reader gives them).
    struct Stream {
        var decoder = EventDecoder(file: "mariadb-bin.000004")
        var assembler = TransactionAssembler()
        var offset: UInt32 = 4

        mutating func feed(_ build: (UInt32) -> [UInt8]) throws -> Transaction? {
            let bytes = build(offset)
            let event = try decoder.decode(bytes, at: UInt64(offset))
            offset += UInt32(bytes.count)
            return try assembler.consume(event)
        }
    }

    func gtid(_ seq: UInt64, flags: UInt8 = 0) -> (UInt32) -> [UInt8] {
        { Build.event(type: EventType.mariadbGTID, body: Build.le(seq, 8) + Build.le(0, 4) + [flags] + Build.le(0, 6), checksum: true, at: $0) }
    }

    func map(_ at: UInt32) -> [UInt8] {
        Build.tableMap(id: 3, schema: "shop", table: "t", types: [ColumnType.long], meta: [], nullable: [false],
                       optional: [(4, Build.lenencString("id"))], checksum: true, at: at)
    }

    func insert(_ id: UInt64, flags: UInt16 = 1) -> (UInt32) -> [UInt8] {
        { Build.rows(type: EventType.writeRowsV1, id: 3, flags: flags, width: 1, present: [true], images: [0] + Build.le(id, 4), checksum: true, at: $0) }
    }

    func query(_ sql: String) -> (UInt32) -> [UInt8] { { Build.query(sql, checksum: true, at: $0) } }
    func xid(_ at: UInt32) -> [UInt8] { Build.event(type: EventType.xid, body: Build.le(9, 8), checksum: true, at: at) }

    func testMariaDBTransactionCommitsAtXID() throws {
        var s = Stream()
        XCTAssertNil(try s.feed { _ in Build.formatDescription(checksum: true) })
        let start = s.offset
        XCTAssertNil(try s.feed(gtid(100)))
        XCTAssertNil(try s.feed(query("BEGIN")))
        XCTAssertNil(try s.feed(map))
        XCTAssertNil(try s.feed(insert(1)))
        XCTAssertNil(try s.feed(map))
        XCTAssertNil(try s.feed(insert(2)))
        let tx = try XCTUnwrap(try s.feed(xid))
        XCTAssertEqual(tx.gtid, "0-1-100")
        XCTAssertEqual(tx.start, BinlogPosition(file: "mariadb-bin.000004", offset: UInt64(start)))
        XCTAssertEqual(tx.end, BinlogPosition(file: "mariadb-bin.000004", offset: UInt64(s.offset)))
        XCTAssertEqual(tx.changes.map(\.after), [[.int(1)], [.int(2)]])
        XCTAssertEqual(tx.changes[0].table.columnNames, ["id"])
        XCTAssertEqual(tx.timestamp, 1_700_000_000)
        XCTAssertNoThrow(try s.assembler.finish())
    }

    /// With `pieceBytes`, a large transaction comes out in pieces as it is read; the last
    /// piece carries the commit, and a ROLLBACK after pieces went out is an error.
    func testLargeTransactionComesOutInPieces() throws {
        var s = Stream(assembler: TransactionAssembler(pieceBytes: 60))
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        let start = s.offset
        _ = try s.feed(gtid(7))
        var pieces: [Transaction] = []
        for id in 1...6 {
            XCTAssertNil(try s.feed(map))
            let before = s.offset
            if let piece = try s.feed(insert(UInt64(id), flags: 0)) {
                XCTAssertTrue(piece.isPartial)
                XCTAssertEqual(piece.end.offset, UInt64(s.offset), "a piece ends after the rows event that filled it")
                XCTAssertGreaterThan(piece.end.offset, UInt64(before))
                pieces.append(piece)
            }
        }
        let last = try XCTUnwrap(try s.feed(xid))
        XCTAssertFalse(last.isPartial)
        XCTAssertGreaterThan(pieces.count, 1)
        XCTAssertEqual(pieces.first?.start.offset, UInt64(start))
        for (a, b) in zip(pieces, pieces.dropFirst() + [last]) { XCTAssertEqual(b.start, a.end, "pieces are contiguous") }
        XCTAssertEqual((pieces + [last]).flatMap(\.changes).map(\.after), (1...6).map { [.int(Int64($0))] }, "every row once, in order")
        XCTAssertTrue((pieces + [last]).allSatisfy { $0.gtid == "0-1-7" })

        // Without a limit, the same events make one transaction.
        var whole = Stream()
        _ = try whole.feed { _ in Build.formatDescription(checksum: true) }
        _ = try whole.feed(gtid(7))
        for id in 1...6 { _ = try whole.feed(map); XCTAssertNil(try whole.feed(insert(UInt64(id), flags: 0))) }
        XCTAssertEqual(try XCTUnwrap(try whole.feed(xid)).changes.count, 6)

        // A ROLLBACK after pieces were handed out cannot be undone: loud error.
        var rolled = Stream(assembler: TransactionAssembler(pieceBytes: 60))
        _ = try rolled.feed { _ in Build.formatDescription(checksum: true) }
        _ = try rolled.feed(gtid(8))
        for id in 1...6 { _ = try rolled.feed(map); _ = try rolled.feed(insert(UInt64(id), flags: 0)) }
        XCTAssertThrowsError(try rolled.feed(query("ROLLBACK"))) { error in
            XCTAssertTrue("\(error)".contains("memory_budget"), "\(error)")
        }
    }

    /// MariaDB writes no BEGIN: its GTID event opens the group, several statements follow.
    func testMariaDBGTIDStandsForBegin() throws {
        var s = Stream()
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        _ = try s.feed(gtid(11))
        XCTAssertNil(try s.feed(map))
        XCTAssertNil(try s.feed(insert(1)))
        XCTAssertNil(try s.feed(map))
        XCTAssertNil(try s.feed(insert(2)))
        let tx = try XCTUnwrap(try s.feed(xid))
        XCTAssertEqual(tx.gtid, "0-1-11")
        XCTAssertEqual(tx.changes.count, 2)
        XCTAssertEqual(tx.end.offset, UInt64(s.offset))
    }

    func testRollbackAndDDLYieldNothing() throws {
        var s = Stream()
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        _ = try s.feed(gtid(7))
        _ = try s.feed(query("BEGIN"))
        _ = try s.feed(map)
        _ = try s.feed(insert(1))
        XCTAssertNil(try s.feed(query("ROLLBACK")))
        XCTAssertNil(try s.feed(gtid(8, flags: 0x01)))
        XCTAssertNil(try s.feed(query("CREATE TABLE x (id INT)")))
        XCTAssertFalse(s.assembler.isInTransaction)
        _ = try s.feed(gtid(9))
        _ = try s.feed(query("BEGIN"))
        _ = try s.feed(map)
        _ = try s.feed(insert(5))
        let tx = try XCTUnwrap(try s.feed(query("COMMIT")))
        XCTAssertEqual(tx.gtid, "0-1-9")
        XCTAssertEqual(tx.changes.count, 1)
    }

    func testRowsOutsideBeginEndWithTheirStatement() throws {
        var s = Stream()
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        let start = s.offset
        _ = try s.feed(map)
        XCTAssertNil(try s.feed(insert(1, flags: 0)))
        let tx = try XCTUnwrap(try s.feed(insert(2, flags: 1)))
        XCTAssertNil(tx.gtid)
        XCTAssertEqual(tx.start.offset, UInt64(start))
        XCTAssertEqual(tx.changes.count, 2)
    }

    func testUnterminatedTransactionFailsAtFinish() throws {
        var s = Stream()
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        let start = s.offset
        _ = try s.feed(gtid(3))
        _ = try s.feed(query("BEGIN"))
        XCTAssertThrowsError(try s.assembler.finish()) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .truncated)
            XCTAssertEqual(e?.position?.offset, UInt64(start))
            XCTAssertTrue(e?.message.contains("\(start)") ?? false)
        }
    }

    func testIncidentStopsAssembly() throws {
        var s = Stream()
        _ = try s.feed { _ in Build.formatDescription(checksum: true) }
        let incident = { (at: UInt32) in
            Build.event(type: EventType.incident, body: Build.le(1, 2) + [4] + Array("LOST".utf8), checksum: true, at: at)
        }
        XCTAssertThrowsError(try s.feed(incident)) { error in
            XCTAssertTrue((error as? BinlogError)?.message.contains("resync") ?? false)
        }
    }

    func testQueryKinds() {
        XCTAssertEqual(QueryKind("BEGIN"), .begin)
        XCTAssertEqual(QueryKind("begin work"), .begin)
        XCTAssertEqual(QueryKind("START TRANSACTION"), .begin)
        XCTAssertEqual(QueryKind("COMMIT"), .commit)
        XCTAssertEqual(QueryKind("ROLLBACK"), .rollback)
        XCTAssertEqual(QueryKind("ROLLBACK TO SAVEPOINT a"), .other)
        XCTAssertEqual(QueryKind("COMMITTED_TABLE_DROP"), .other)
        XCTAssertEqual(QueryKind(""), .other)
        XCTAssertEqual(QueryKind("XA START 'x'"), .xaStart)
        XCTAssertEqual(QueryKind("XA COMMIT 'x'"), .other)
    }
}

final class BinlogFileReaderTests: XCTestCase {
    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "binlog-reader-\(UUID().uuidString).000001"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testReadsEventsAndOffsets() throws {
        let fde = Build.formatDescription(checksum: true)
        let xid = Build.event(type: EventType.xid, body: Build.le(5, 8), checksum: true, at: UInt32(4 + fde.count))
        var reader = try BinlogFileReader(path: try temporaryFile(BinlogFileReader.magic + fde + xid))
        let first = try XCTUnwrap(try reader.next())
        XCTAssertEqual(first.offset, 4)
        XCTAssertEqual(first.bytes, fde)
        let second = try XCTUnwrap(try reader.next())
        XCTAssertEqual(second.offset, UInt64(4 + fde.count))
        XCTAssertNil(try reader.next())
    }

    func testBadMagicAndTruncatedEvent() throws {
        XCTAssertThrowsError(try BinlogFileReader(path: try temporaryFile([0x1f, 0x8b, 0x08, 0x00, 0x00]))) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .badMagic)
        }
        let fde = Build.formatDescription(checksum: true)
        var reader = try BinlogFileReader(path: try temporaryFile(BinlogFileReader.magic + fde.dropLast(7)))
        XCTAssertThrowsError(try reader.next()) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .truncated)
            XCTAssertTrue(e?.message.contains("offset 4") ?? false)
        }
        XCTAssertThrowsError(try BinlogFileReader(path: "/nonexistent/binlog.000001")) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .io)
        }
    }
}
