import XCTest
@testable import BinlogCore

/// MariaDB `log_bin_compress=ON` events and the inflater behind them. The zlib
/// streams are built here: stored blocks and fixed-Huffman blocks with literals and a
/// back-reference (dynamic-Huffman blocks were checked against MariaDB 10.11.19 output).
final class CompressedEventTests: XCTestCase {
    /// LSB-first bit writer; Huffman codes go in most-significant bit first.
    struct BitWriter {
        var bytes: [UInt8] = []
        var bitCount = 0
        mutating func write(_ value: Int, bits: Int) {
            for i in 0..<bits { put((value >> i) & 1) }
        }
        mutating func writeCode(_ code: Int, bits: Int) {
            for i in stride(from: bits - 1, through: 0, by: -1) { put((code >> i) & 1) }
        }
        private mutating func put(_ bit: Int) {
            if bitCount % 8 == 0 { bytes.append(0) }
            bytes[bytes.count - 1] |= UInt8(bit) << UInt8(bitCount % 8)
            bitCount += 1
        }
    }

    func adler(_ data: [UInt8]) -> [UInt8] { Build.be(UInt64(Inflate.adler32(data)), 4) }

    /// "abc" as fixed-Huffman literals, then a length-6 distance-3 match: "abcabcabc".
    func fixedHuffmanStream() -> (zlib: [UInt8], plain: [UInt8]) {
        var w = BitWriter()
        w.write(1, bits: 1)  // final block
        w.write(1, bits: 2)  // fixed codes
        for c in "abc".utf8 { w.writeCode(0x30 + Int(c), bits: 8) }
        w.writeCode(260 - 256, bits: 7)  // length 6
        w.writeCode(2, bits: 5)          // distance 3
        w.writeCode(0, bits: 7)          // end of block
        let plain = Array("abcabcabc".utf8)
        return ([0x78, 0x9c] + w.bytes + adler(plain), plain)
    }

    func storedStream(_ plain: [UInt8]) -> [UInt8] {
        let n = UInt64(plain.count)
        return [0x78, 0x01, 0x01] + Build.le(n, 2) + Build.le(~n & 0xffff, 2) + plain + adler(plain)
    }

    func testInflateFixedAndStoredBlocks() throws {
        let (fixed, plain) = fixedHuffmanStream()
        XCTAssertEqual(try fixed.withUnsafeBytes { try Inflate.zlib($0, expectedSize: plain.count) }, plain)
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(try storedStream(data).withUnsafeBytes { try Inflate.zlib($0, expectedSize: 300) }, data)
    }

    func testInflateRejectsBadStreams() {
        let (fixed, plain) = fixedHuffmanStream()
        var badAdler = fixed
        badAdler[badAdler.count - 1] ^= 1
        for (stream, size) in [(badAdler, plain.count), (fixed, plain.count - 1), (Array(fixed.prefix(5)), plain.count),
                               ([0x78, 0x9d] + fixed.dropFirst(2), plain.count), ([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff], 10)] {
            XCTAssertThrowsError(try stream.withUnsafeBytes { try Inflate.zlib($0, expectedSize: size) })
        }
    }

    func compressed(_ plain: [UInt8]) -> [UInt8] {
        [0x81, UInt8(plain.count)] + storedStream(plain)
    }

    func testCompressedQueryAndRows() throws {
        var decoder = EventDecoder(file: "mariadb-bin.000005")
        _ = try decoder.decode(Build.formatDescription(checksum: true), at: 4)
        let (zlib, plain) = fixedHuffmanStream()
        let sqlPayload = [0x81, UInt8(plain.count)] + zlib
        let status: [UInt8] = [0x00] + Build.le(0, 4)
        let queryBody = Build.le(7, 4) + Build.le(0, 4) + [4] + Build.le(0, 2) + Build.le(5, 2) + status + Array("shop".utf8) + [0] + sqlPayload
        let query = Build.event(type: EventType.mariadbQueryCompressed, body: queryBody, checksum: true, at: 300)
        guard case .query("shop", "abcabcabc") = try decoder.decode(query, at: 300).event else { return XCTFail() }

        let map = Build.tableMap(id: 16, schema: "shop", table: "cz", types: [ColumnType.long, ColumnType.varchar],
                                 meta: Build.le(200, 2), nullable: [false, true], checksum: true, at: 400)
        _ = try decoder.decode(map, at: 400)
        let rowsPlain = [0] + Build.le(1, 4) + [3] + Array("abc".utf8) + [2] + Build.le(2, 4)
        var body = Build.le(16, 6) + Build.le(1, 2) + [2] + Build.bitmap([true, true]) + compressed(rowsPlain)
        let rows = Build.event(type: EventType.mariadbWriteRowsCompressed, body: body, checksum: true, at: 500)
        guard case .rows(let changes) = try decoder.decode(rows, at: 500).event else { return XCTFail() }
        XCTAssertEqual(changes.map(\.after), [[.int(1), .string("abc")], [.int(2), .null]])

        _ = try decoder.decode(map, at: 600)
        body[body.count - 5] ^= 0xff  // corrupt the payload (inside the stored block)
        let bad = Build.event(type: EventType.mariadbWriteRowsCompressed, body: body, checksum: true, at: 700)
        XCTAssertThrowsError(try decoder.decode(bad, at: 700)) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .corrupt)
            XCTAssertTrue(e?.message.contains("mariadb-bin.000005:700") ?? false, e?.message ?? "")
        }
    }
}
