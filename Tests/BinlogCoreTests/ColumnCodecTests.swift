import XCTest
@testable import BinlogCore

/// Value codecs on bytes laid out as the server writes them.
final class ColumnCodecTests: XCTestCase {
    func value(_ type: UInt8, meta: UInt16 = 0, unsigned: Bool = false, collation: UInt32? = nil,
               enumLabels: [String]? = nil, setLabels: [String]? = nil, _ bytes: [UInt8],
               file: StaticString = #filePath, line: UInt = #line) throws -> ColumnValue {
        let codec = ColumnCodec(type: type, meta: meta, unsigned: unsigned, text: TextCodec(collation: collation))
        return try bytes.withUnsafeBytes { buffer in
            var r = ByteReader(buffer, eventType: EventType.writeRowsV2, position: BinlogPosition(file: "t.000001", offset: 4))
            let v = try codec.decode(&r, column: 0, labels: TableMap.realType(type, meta: meta) == ColumnType.set ? setLabels : enumLabels)
            XCTAssertEqual(r.remaining, 0, "bytes left over", file: file, line: line)
            return v
        }
    }

    func testIntegersSignedAndUnsigned() throws {
        XCTAssertEqual(try value(ColumnType.tiny, [0xff]), .int(-1))
        XCTAssertEqual(try value(ColumnType.tiny, unsigned: true, [0xff]), .uint(255))
        XCTAssertEqual(try value(ColumnType.short, [0x00, 0x80]), .int(-32768))
        XCTAssertEqual(try value(ColumnType.int24, [0x00, 0x00, 0x80]), .int(-8_388_608))
        XCTAssertEqual(try value(ColumnType.int24, unsigned: true, [0xff, 0xff, 0xff]), .uint(16_777_215))
        XCTAssertEqual(try value(ColumnType.long, [0x00, 0x00, 0x00, 0x80]), .int(Int64(Int32.min)))
        XCTAssertEqual(try value(ColumnType.long, unsigned: true, [0xff, 0xff, 0xff, 0xff]), .uint(4_294_967_295))
        XCTAssertEqual(try value(ColumnType.longlong, unsigned: true, Build.le(UInt64.max, 8)), .uint(UInt64.max))
        XCTAssertEqual(try value(ColumnType.longlong, Build.le(UInt64.max, 8)), .int(-1))
        XCTAssertEqual(try value(ColumnType.longlong, Build.le(UInt64(bitPattern: Int64.min), 8)), .int(Int64.min))
    }

    func testFloatingPoint() throws {
        XCTAssertEqual(try value(ColumnType.float, meta: 4, Build.le(UInt64(Float(1.5).bitPattern), 4)), .float(1.5))
        XCTAssertEqual(try value(ColumnType.double, meta: 8, Build.le((-2.25).bitPattern, 8)), .double(-2.25))
    }

    func decimalMeta(_ precision: Int, _ scale: Int) -> UInt16 { UInt16(precision << 8 | scale) }

    func testDecimalExamplesFromMySQLSource() throws {
        // decimal.c documents 1234567890.1234 as DECIMAL(14,4): 81 0D FB 38 D2 04 D2.
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(14, 4), [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]),
                       .decimal("1234567890.1234"))
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(14, 4), [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]),
                       .decimal("-1234567890.1234"))
    }

    func testDecimalEdgeCases() throws {
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(5, 2), [0x80, 0x00, 0x00]), .decimal("0.00"))
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(3, 1), [0x80, 0x05]), .decimal("0.5"))
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(3, 1), [0x7f, 0xfa]), .decimal("-0.5"))
        XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(10, 0), encodeDecimal("-42", 10, 0)), .decimal("-42"))
        for (text, p, s) in [("12345678901234567890123456789012345.123456789012345678901234567890", 65, 30),
                             ("-99999999999999999999999999999999999.999999999999999999999999999999", 65, 30),
                             ("0.000000001", 20, 9), ("-7.050", 6, 3), ("100000000", 9, 0), ("0.1", 1, 1)] {
            XCTAssertEqual(try value(ColumnType.newdecimal, meta: decimalMeta(p, s), encodeDecimal(text, p, s)), .decimal(text), text)
        }
    }

    func testDecimalWithImpossibleDigitsThrows() {
        // DECIMAL(9,0) is one 4-byte group; 0xFFFFFFFF minus the sign bit is over 999999999.
        XCTAssertThrowsError(try value(ColumnType.newdecimal, meta: decimalMeta(9, 0), [0xff, 0xff, 0xff, 0xff])) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
        }
    }

    func testDates() throws {
        XCTAssertEqual(try value(ColumnType.date, Build.le(UInt64(31 | 1 << 5 | 2024 << 9), 3)), .date("2024-01-31"))
        XCTAssertEqual(try value(ColumnType.date, [0, 0, 0]), .date("0000-00-00"))
        XCTAssertEqual(try value(ColumnType.datetime, Build.le(20_240_131_100_000, 8)), .datetime("2024-01-31 10:00:00"))
        XCTAssertEqual(try value(ColumnType.datetime, Build.le(0, 8)), .datetime("0000-00-00 00:00:00"))
        XCTAssertEqual(try value(ColumnType.year, [124]), .year(2024))
        XCTAssertEqual(try value(ColumnType.year, [0]), .year(0))
    }

    func datetime2(_ y: UInt64, _ mo: UInt64, _ d: UInt64, _ h: UInt64, _ mi: UInt64, _ s: UInt64) -> [UInt8] {
        Build.be(0x80_0000_0000 + ((y * 13 + mo) << 22 | d << 17 | h << 12 | mi << 6 | s), 5)
    }

    func testDatetime2WithFractions() throws {
        XCTAssertEqual(try value(ColumnType.datetime2, meta: 0, datetime2(2024, 1, 31, 10, 0, 0)), .datetime("2024-01-31 10:00:00"))
        XCTAssertEqual(try value(ColumnType.datetime2, meta: 6, datetime2(2024, 1, 31, 10, 0, 0) + Build.be(123_456, 3)),
                       .datetime("2024-01-31 10:00:00.123456"))
        XCTAssertEqual(try value(ColumnType.datetime2, meta: 3, datetime2(1999, 12, 31, 23, 59, 59) + Build.be(1230, 2)),
                       .datetime("1999-12-31 23:59:59.123"))
        XCTAssertEqual(try value(ColumnType.datetime2, meta: 1, datetime2(2000, 2, 29, 0, 0, 1) + [50]),
                       .datetime("2000-02-29 00:00:01.5"))
        XCTAssertEqual(try value(ColumnType.datetime2, meta: 0, datetime2(0, 0, 0, 0, 0, 0)), .datetime("0000-00-00 00:00:00"))
    }

    func testTimestampsAreUTC() throws {
        XCTAssertEqual(try value(ColumnType.timestamp2, meta: 0, Build.be(1_650_493_084, 4)), .timestamp("2022-04-20 22:18:04"))
        XCTAssertEqual(try value(ColumnType.timestamp2, meta: 2, Build.be(951_782_400, 4) + [7]), .timestamp("2000-02-29 00:00:00.07"))
        XCTAssertEqual(try value(ColumnType.timestamp2, meta: 0, Build.be(0, 4)), .timestamp("0000-00-00 00:00:00"))
        XCTAssertEqual(try value(ColumnType.timestamp, Build.le(2_147_483_647, 4)), .timestamp("2038-01-19 03:14:07"))
    }

    func time2(_ negative: Bool, _ h: Int64, _ m: Int64, _ s: Int64) -> [UInt8] {
        let hms = h << 12 | m << 6 | s
        return Build.be(UInt64(0x80_0000 + (negative ? -hms : hms)), 3)
    }

    func testTime2() throws {
        XCTAssertEqual(try value(ColumnType.time2, meta: 0, time2(true, 838, 59, 59)), .time("-838:59:59"))
        XCTAssertEqual(try value(ColumnType.time2, meta: 0, time2(false, 838, 59, 59)), .time("838:59:59"))
        XCTAssertEqual(try value(ColumnType.time2, meta: 0, time2(false, 0, 0, 0)), .time("00:00:00"))
        // -00:00:01.5 (fsp 1): the server stores floor(packed >> 24) = -2 and the fraction -50 as a byte.
        XCTAssertEqual(try value(ColumnType.time2, meta: 1, Build.be(UInt64(0x80_0000 - 2), 3) + [0xCE]), .time("-00:00:01.5"))
        XCTAssertEqual(try value(ColumnType.time2, meta: 4, time2(false, 12, 34, 56) + Build.be(1234, 2)), .time("12:34:56.1234"))
        // fsp 6: one 6-byte big-endian value, offset 0x800000000000.
        let packed = Int64(12 << 12 | 34 << 6 | 56) << 24 + 654_321
        XCTAssertEqual(try value(ColumnType.time2, meta: 6, Build.be(UInt64(0x8000_0000_0000 - packed), 6)), .time("-12:34:56.654321"))
        XCTAssertEqual(try value(ColumnType.time, Build.le(UInt64(bitPattern: -123_456) & 0xFF_FFFF, 3)), .time("-12:34:56"))
    }

    func testStringsByCharset() throws {
        XCTAssertEqual(try value(ColumnType.varchar, meta: 40, collation: 45, [3] + Array("héé".utf8).prefix(3)), .string("h\u{e9}"))
        XCTAssertEqual(try value(ColumnType.varchar, meta: 300, collation: 255, Build.le(5, 2) + Array("hello".utf8)), .string("hello"))
        XCTAssertEqual(try value(ColumnType.varchar, meta: 40, collation: 8, [3, 0xE9, 0x80, 0x41]), .string("é€A"))
        XCTAssertEqual(try value(ColumnType.varchar, meta: 40, collation: 63, [2, 0x00, 0xff]), .bytes([0x00, 0xff]))
        XCTAssertEqual(try value(ColumnType.varchar, meta: 40, [2, 0xc3, 0x28]), .bytes([0xc3, 0x28]), "no charset, invalid UTF-8")
        XCTAssertEqual(try value(ColumnType.blob, meta: 2, collation: 63, Build.le(3, 2) + [1, 2, 3]), .bytes([1, 2, 3]))
        XCTAssertEqual(try value(ColumnType.blob, meta: 4, collation: 224, Build.le(4, 4) + Array("🙂".utf8)), .string("🙂"))
        XCTAssertEqual(try value(ColumnType.blob, meta: 1, collation: 54, [4, 0x00, 0x41, 0xD8, 0x3D]), .string("A\u{FFFD}"))
    }

    func testCharLengthOver255() throws {
        // CHAR(300) in utf8mb3: 900 bytes; the high length bits live in the real-type byte.
        let meta = UInt16(0xFE ^ ((900 & 0x300) >> 4)) << 8 | UInt16(900 & 0xFF)
        XCTAssertEqual(TableMap.stringMetadata(meta).realType, ColumnType.string)
        XCTAssertEqual(TableMap.stringMetadata(meta).length, 900)
        XCTAssertEqual(try value(ColumnType.string, meta: meta, collation: 33, Build.le(2, 2) + Array("ab".utf8)), .string("ab"))
        XCTAssertEqual(try value(ColumnType.string, meta: 0xFE28, collation: 33, [2] + Array("ab".utf8)), .string("ab"))
        // BINARY(16) (MariaDB UUID, INET6): trailing zero bytes come back.
        XCTAssertEqual(try value(ColumnType.string, meta: 0xFE10, collation: 63, [3, 0x12, 0x3e, 0x45]),
                       .bytes([0x12, 0x3e, 0x45] + [UInt8](repeating: 0, count: 13)))
    }

    func testEnumSetAndBit() throws {
        XCTAssertEqual(try value(ColumnType.string, meta: 0xF701, enumLabels: ["x", "y"], [2]), .enumeration(index: 2, label: "y"))
        XCTAssertEqual(try value(ColumnType.string, meta: 0xF701, enumLabels: ["x", "y"], [0]), .enumeration(index: 0, label: nil))
        XCTAssertEqual(try value(ColumnType.string, meta: 0xF702, [0x2c, 0x01]), .enumeration(index: 300, label: nil))
        XCTAssertEqual(try value(ColumnType.string, meta: 0xF801, setLabels: ["a", "b", "c"], [5]), .set(bits: 5, labels: ["a", "c"]))
        XCTAssertEqual(try value(ColumnType.string, meta: 0xF808, Build.le(1 << 63, 8)), .set(bits: 1 << 63, labels: nil))
        XCTAssertEqual(try value(ColumnType.bit, meta: 0x0300, [0b100]), .bytes([0b100]))
        XCTAssertEqual(try value(ColumnType.bit, meta: 0x0101, [0x01, 0xff]), .bytes([0x01, 0xff]), "BIT(9)")
    }

    func testMySQLBinaryJSON() throws {
        // {"a": 1, "b": [true, null]}: a small object with an inlined int16 and a nested small array.
        let array: [UInt8] = [0x02, 0x00, 0x0a, 0x00, 0x04, 0x01, 0x00, 0x04, 0x00, 0x00]
        var doc: [UInt8] = [0x00, 0x02, 0x00, 0x1e, 0x00, 0x12, 0x00, 0x01, 0x00, 0x13, 0x00, 0x01, 0x00]
        doc += [0x05, 0x01, 0x00, 0x02, 0x14, 0x00, 0x61, 0x62] + array
        XCTAssertEqual(try value(ColumnType.json, meta: 4, Build.le(UInt64(doc.count), 4) + doc), .json(#"{"a": 1, "b": [true, null]}"#))
        let string: [UInt8] = [0x0c, 0x03] + Array("x\"y".utf8)
        XCTAssertEqual(try value(ColumnType.json, meta: 4, Build.le(UInt64(string.count), 4) + string), .json(#""x\"y""#))
        let double: [UInt8] = [0x0b] + Build.le((2.5).bitPattern, 8)
        XCTAssertEqual(try value(ColumnType.json, meta: 4, Build.le(9, 4) + double), .json("2.5"))
        XCTAssertThrowsError(try value(ColumnType.json, meta: 4, Build.le(3, 4) + [0x00, 0x05, 0x00])) { error in
            XCTAssertEqual((error as? BinlogError)?.code, .corrupt)
        }
    }

    func testGeometryAndTruncation() throws {
        XCTAssertEqual(try value(ColumnType.geometry, meta: 4, Build.le(3, 4) + [9, 8, 7]), .geometry([9, 8, 7]))
        XCTAssertThrowsError(try value(ColumnType.blob, meta: 4, Build.le(1000, 4) + [1, 2])) { error in
            let e = error as? BinlogError
            XCTAssertEqual(e?.code, .truncated)
            XCTAssertTrue(e?.message.contains("t.000001:4") ?? false, e?.message ?? "")
        }
    }

    /// Test-side encoder of MySQL's binary DECIMAL, the inverse of `DecimalCodec`.
    func encodeDecimal(_ text: String, _ precision: Int, _ scale: Int) -> [UInt8] {
        let negative = text.hasPrefix("-")
        let body = negative ? String(text.dropFirst()) : text
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        let intg = precision - scale
        let intDigits = String((String(repeating: "0", count: intg) + parts[0]).suffix(intg))
        let fracDigits = (parts.count > 1 ? String(parts[1]) : "") + String(repeating: "0", count: scale - (parts.count > 1 ? parts[1].count : 0))
        let sizes = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
        var out: [UInt8] = []
        func put(_ digits: Substring) {
            guard !digits.isEmpty else { return }
            out += Build.be(UInt64(digits) ?? 0, digits.count == 9 ? 4 : sizes[digits.count])
        }
        let lead = intg % 9
        put(Substring(intDigits.prefix(lead)))
        var rest = Substring(intDigits.dropFirst(lead))
        while !rest.isEmpty { put(rest.prefix(9)); rest = rest.dropFirst(9) }
        var frac = Substring(fracDigits)
        while frac.count >= 9 { put(frac.prefix(9)); frac = frac.dropFirst(9) }
        put(frac)
        out[0] ^= 0x80
        return negative ? out.map { ~$0 } : out
    }
}
