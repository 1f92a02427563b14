/// How a character column's bytes become text, chosen from its collation id.
enum TextCodec: Sendable, Equatable {
    case utf8
    /// MySQL `latin1` (Windows-1252).
    case latin1
    /// `binary` (collation 63): the value stays bytes.
    case binary
    case utf16BE
    case utf16LE
    case utf32BE
    /// No charset in the log: UTF-8 text when the bytes are valid UTF-8, else bytes.
    case unknown

    init(collation: UInt32?) {
        guard let c = collation else { self = .unknown; return }
        switch c {
        case 63: self = .binary
        case 5, 8, 15, 31, 47, 48, 49, 94: self = .latin1
        case 35, 54, 55, 90, 101...124, 128...151, 159: self = .utf16BE
        case 56, 62: self = .utf16LE
        case 60, 61, 160...183: self = .utf32BE
        default: self = .utf8
        }
    }

    /// Windows-1252 code points for bytes 0x80…0x9F (MySQL's latin1 maps the five
    /// undefined ones to the C1 controls).
    private static let cp1252High: [UInt16] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]

    /// Whether `bytes` decode to exactly themselves as UTF-8 text (ASCII in any of these
    /// charsets, valid UTF-8 in utf8), so a writer may copy them instead of making a String.
    @inline(__always)
    func isVerbatim(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .utf8: return UTF8Check.isASCII(bytes) || UTF8Check.isValid(bytes)
        case .latin1, .unknown: return UTF8Check.isASCII(bytes)
        default: return false
        }
    }

    /// An ENUM or SET label: always text (binary labels keep their bytes as UTF-8).
    func label(_ bytes: [UInt8]) -> String {
        let decoded = bytes.withUnsafeBytes { value($0) }
        if case .string(let s) = decoded { return s }
        return String(decoding: bytes, as: UTF8.self)
    }

    func value(_ bytes: UnsafeRawBufferPointer) -> ColumnValue {
        switch self {
        case .utf8:
            return .string(String(decoding: bytes, as: UTF8.self))
        case .unknown:
            // Decoding repairs invalid UTF-8; unchanged bytes mean it was valid.
            let s = String(decoding: bytes, as: UTF8.self)
            return s.utf8.elementsEqual(bytes) ? .string(s) : .bytes(Array(bytes))
        case .binary:
            return .bytes(Array(bytes))
        case .latin1:
            var ascii = true
            for b in bytes where b >= 0x80 { ascii = false; break }
            if ascii { return .string(String(decoding: bytes, as: UTF8.self)) }
            var s = String.UnicodeScalarView()
            for b in bytes {
                let v = (0x80...0x9F).contains(b) ? UInt32(TextCodec.cp1252High[Int(b) - 0x80]) : UInt32(b)
                s.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            }
            return .string(String(s))
        case .utf16BE, .utf16LE:
            var units: [UInt16] = []
            units.reserveCapacity(bytes.count / 2)
            var i = 0
            while i + 1 < bytes.count {
                let hi = UInt16(bytes[i]), lo = UInt16(bytes[i + 1])
                units.append(self == .utf16BE ? hi << 8 | lo : lo << 8 | hi)
                i += 2
            }
            return .string(String(decoding: units, as: UTF16.self))
        case .utf32BE:
            var s = String.UnicodeScalarView()
            var i = 0
            while i + 3 < bytes.count {
                let v = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
                s.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                i += 4
            }
            return .string(String(s))
        }
    }
}

/// How one column's value is laid out in a row image, resolved once per TABLE_MAP.
enum ColumnCodec: Sendable {
    case integer(width: Int, unsigned: Bool)
    case float
    case double
    case decimal(precision: Int, scale: Int)
    case year
    case date
    case timeOld
    case datetimeOld
    case timestampOld
    case time2(fsp: Int)
    case datetime2(fsp: Int)
    case timestamp2(fsp: Int)
    /// VARCHAR and CHAR: a 1- or 2-byte length, then the bytes.
    case string(lengthBytes: Int, text: TextCodec)
    /// BINARY(n): like CHAR, padded back to `length` bytes with zeros.
    case fixedBinary(lengthBytes: Int, length: Int)
    /// BLOB/TEXT family: a 1…4-byte length, then the bytes.
    case blob(lengthBytes: Int, text: TextCodec)
    /// ENUM and SET: the index or member bits in `size` bytes; their labels, which hold
    /// references, live beside the codecs (`TableMap.valueLabels`) so codecs stay plain
    /// values that decoding copies for free.
    case enumeration(size: Int)
    case set(size: Int)
    case bit(bytes: Int)
    /// MySQL binary JSON.
    case json(lengthBytes: Int)
    case geometry(lengthBytes: Int)
    /// MySQL 9 VECTOR: raw little-endian floats.
    case vector(lengthBytes: Int)
    case null
    /// A type this decoder cannot read; decoding a non-NULL value of it throws.
    case unknown(type: UInt8)

    init(type: UInt8, meta: UInt16, unsigned: Bool, text: TextCodec) {
        switch type {
        case ColumnType.tiny: self = .integer(width: 1, unsigned: unsigned)
        case ColumnType.short: self = .integer(width: 2, unsigned: unsigned)
        case ColumnType.int24: self = .integer(width: 3, unsigned: unsigned)
        case ColumnType.long: self = .integer(width: 4, unsigned: unsigned)
        case ColumnType.longlong: self = .integer(width: 8, unsigned: unsigned)
        case ColumnType.float: self = .float
        case ColumnType.double: self = .double
        case ColumnType.newdecimal: self = .decimal(precision: Int(meta >> 8), scale: Int(meta & 0xff))
        case ColumnType.year: self = .year
        case ColumnType.date, ColumnType.newdate: self = .date
        case ColumnType.time: self = .timeOld
        case ColumnType.datetime: self = .datetimeOld
        case ColumnType.timestamp: self = .timestampOld
        case ColumnType.time2: self = .time2(fsp: Int(meta))
        case ColumnType.datetime2: self = .datetime2(fsp: Int(meta))
        case ColumnType.timestamp2: self = .timestamp2(fsp: Int(meta))
        case ColumnType.varchar, ColumnType.varString:
            self = .string(lengthBytes: meta > 255 ? 2 : 1, text: text)
        case ColumnType.string, ColumnType.enumeration, ColumnType.set:
            let (realType, length) = TableMap.stringMetadata(meta)
            switch realType {
            case ColumnType.enumeration: self = .enumeration(size: length)
            case ColumnType.set: self = .set(size: length)
            default:
                // BINARY(n) values are zero-padded to n; the log drops the trailing zeros.
                self = text == .binary ? .fixedBinary(lengthBytes: length > 255 ? 2 : 1, length: length)
                                       : .string(lengthBytes: length > 255 ? 2 : 1, text: text)
            }
        case ColumnType.tinyBlob, ColumnType.mediumBlob, ColumnType.longBlob, ColumnType.blob:
            self = .blob(lengthBytes: Int(meta), text: text)
        case ColumnType.bit:
            let bits = Int(meta >> 8), bytes = Int(meta & 0xff)
            self = .bit(bytes: bytes + (bits > 0 ? 1 : 0))
        case ColumnType.json: self = .json(lengthBytes: Int(meta))
        case ColumnType.geometry: self = .geometry(lengthBytes: Int(meta))
        case ColumnType.vector: self = .vector(lengthBytes: Int(meta))
        case ColumnType.null: self = .null
        default: self = .unknown(type: type)
        }
    }

    /// Reads one non-NULL value into `slot`: numbers and packed temporal values are
    /// parsed into `slot.payload` (TIME2/DATETIME2/TIMESTAMP2 keep their microseconds in
    /// `slot.offset`); text, binary data and DECIMAL keep where their bytes are in the
    /// reader's buffer (`offset`, `length`; DECIMAL is checked); MySQL binary JSON is
    /// converted to text at once (it can fail) and kept in `extras` at index `payload`.
    @inline(__always)
    func decode(_ r: inout ByteReader, column: Int, into slot: inout ValueSlot, extras: inout [String]) throws {
        slot.state = ValueSlot.value
        switch self {
        case .integer(let width, let unsigned):
            let raw: UInt64
            switch width {
            case 1: raw = UInt64(try r.u8())
            case 2: raw = UInt64(try r.u16())
            case 3: raw = UInt64(try r.u24())
            case 4: raw = UInt64(try r.u32())
            default: raw = try r.u64()
            }
            if unsigned { slot.payload = raw; return }
            let shift = UInt64(64 - width * 8)
            slot.payload = UInt64(bitPattern: Int64(bitPattern: raw << shift) >> Int64(shift))
        case .float:
            slot.payload = UInt64(try r.u32())
        case .double:
            slot.payload = try r.u64()
        case .decimal(let precision, let scale):
            let (offset, length) = try DecimalCodec.read(&r, precision: precision, scale: scale)
            slot.offset = UInt32(truncatingIfNeeded: offset)
            slot.length = UInt32(truncatingIfNeeded: length)
        case .year:
            let v = try r.u8()
            slot.payload = v == 0 ? 0 : 1900 + UInt64(v)
        case .date, .timeOld:
            slot.payload = UInt64(try r.u24())
        case .datetimeOld:
            slot.payload = try r.u64()
        case .timestampOld:
            slot.payload = UInt64(try r.u32())
        case .time2(let fsp):
            slot.payload = UInt64(bitPattern: try TemporalCodec.readTime2(&r, fsp: fsp))
        case .datetime2(let fsp):
            let (packed, micros) = try TemporalCodec.readDateTime2(&r, fsp: fsp)
            slot.payload = UInt64(bitPattern: packed)
            slot.offset = UInt32(truncatingIfNeeded: micros)
        case .timestamp2(let fsp):
            slot.payload = try r.uintBE(4)
            slot.offset = UInt32(truncatingIfNeeded: try TemporalCodec.fraction(&r, fsp: fsp))
        case .string(let lengthBytes, _), .fixedBinary(let lengthBytes, _):
            let n = Int(lengthBytes == 1 ? UInt64(try r.u8()) : UInt64(try r.u16()))
            try r.require(n)
            slot.offset = UInt32(truncatingIfNeeded: r.offset)
            slot.length = UInt32(truncatingIfNeeded: n)
            r.offset += n
        case .blob(let lengthBytes, _), .geometry(let lengthBytes), .vector(let lengthBytes):
            let n = try ColumnCodec.length(&r, lengthBytes: lengthBytes)
            try r.require(n)
            slot.offset = UInt32(truncatingIfNeeded: r.offset)
            slot.length = UInt32(truncatingIfNeeded: n)
            r.offset += n
        case .enumeration(let size), .set(let size):
            slot.payload = try r.uintLE(min(size, 8))
        case .bit(let bytes):
            try r.require(bytes)
            slot.offset = UInt32(truncatingIfNeeded: r.offset)
            slot.length = UInt32(truncatingIfNeeded: bytes)
            r.offset += bytes
        case .json(let lengthBytes):
            let n = try ColumnCodec.length(&r, lengthBytes: lengthBytes)
            let start = r.offset
            let doc = try r.bytes(n)
            do {
                extras.append(try MySQLJSON.text(doc))
            } catch let error as MySQLJSON.Failure {
                throw BinlogError(code: .corrupt, position: r.position,
                                  message: "\(EventType.name(r.eventType)) event\(r.position.map { " at \($0)" } ?? ""), byte \(start) of the event: JSON value of column \(column + 1) is not valid MySQL binary JSON (\(error.reason)); the event is corrupt")
            }
            slot.payload = UInt64(extras.count - 1)
            slot.offset = UInt32(truncatingIfNeeded: start)
            slot.length = UInt32(truncatingIfNeeded: n)
        case .null:
            slot.state = ValueSlot.null
        case .unknown(let type):
            throw r.error(.unknownColumnType, "column \(column + 1) has column type \(type) (\(ColumnType.name(type))), which this decoder cannot read; change the column to a supported type or report the server version and column definition")
        }
    }

    /// The value a decoded slot stands for, as a `ColumnValue` (this is where Strings are
    /// made); `nil` when the column is absent from the image. `labels` are the column's
    /// ENUM or SET labels when the log carries them.
    func value(of slot: ValueSlot, in bytes: UnsafeRawBufferPointer, extras: [String], labels: [String]?) -> ColumnValue? {
        switch slot.state {
        case ValueSlot.absent: return nil
        case ValueSlot.null: return .null
        default: break
        }
        @inline(__always) func raw() -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[Int(slot.offset)..<(Int(slot.offset) + Int(slot.length))])
        }
        switch self {
        case .integer(_, let unsigned):
            return unsigned ? .uint(slot.payload) : .int(Int64(bitPattern: slot.payload))
        case .float:
            return .float(Float(bitPattern: UInt32(truncatingIfNeeded: slot.payload)))
        case .double:
            return .double(Double(bitPattern: slot.payload))
        case .decimal(let precision, let scale):
            return .decimal(DecimalCodec.format(raw(), precision: precision, scale: scale))
        case .year:
            return .year(Int(slot.payload))
        case .date:
            return .date(String(unsafeUninitializedCapacity: TemporalCodec.maxDateBytes) {
                TemporalCodec.writeDate(UInt32(truncatingIfNeeded: slot.payload), to: $0.baseAddress!)
            })
        case .timeOld, .time2, .datetimeOld, .timestampOld, .datetime2, .timestamp2:
            let text = String(unsafeUninitializedCapacity: TemporalCodec.maxDateTimeBytes) {
                writeTemporal(slot, to: $0.baseAddress!)
            }
            switch self {
            case .timeOld, .time2: return .time(text)
            case .timestampOld, .timestamp2: return .timestamp(text)
            default: return .datetime(text)
            }
        case .string(_, let text), .blob(_, let text):
            return text.value(raw())
        case .fixedBinary(_, let length):
            var bytes = Array(raw())
            if bytes.count < length { bytes.append(contentsOf: repeatElement(0, count: length - bytes.count)) }
            return .bytes(bytes)
        case .enumeration:
            let index = Int(truncatingIfNeeded: slot.payload)
            let label = labels.flatMap { index >= 1 && index <= $0.count ? $0[index - 1] : nil }
            return .enumeration(index: index, label: label)
        case .set:
            let bits = slot.payload
            guard let labels else { return .set(bits: bits, labels: nil) }
            var chosen: [String] = []
            for (i, label) in labels.enumerated() where i < 64 && bits & (1 << UInt64(i)) != 0 {
                chosen.append(label)
            }
            return .set(bits: bits, labels: chosen)
        case .bit, .vector:
            return .bytes(Array(raw()))
        case .geometry:
            return .geometry(Array(raw()))
        case .json:
            return .json(extras[Int(slot.payload)])
        case .null, .unknown:
            return .null
        }
    }

    /// Writes a temporal slot's text (at most `TemporalCodec.maxDateTimeBytes`); 0 for other kinds.
    @inline(__always)
    func writeTemporal(_ slot: ValueSlot, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch self {
        case .date: return TemporalCodec.writeDate(UInt32(truncatingIfNeeded: slot.payload), to: out)
        case .timeOld: return TemporalCodec.writeTimeOld(UInt32(truncatingIfNeeded: slot.payload), to: out)
        case .datetimeOld: return TemporalCodec.writeDateTimeOld(slot.payload, to: out)
        case .timestampOld: return TemporalCodec.writeTimestamp(seconds: UInt32(truncatingIfNeeded: slot.payload), micros: 0, fsp: 0, to: out)
        case .time2(let fsp): return TemporalCodec.writeTime2(packed: Int64(bitPattern: slot.payload), fsp: fsp, to: out)
        case .datetime2(let fsp):
            return TemporalCodec.writeDateTime2(packed: Int64(bitPattern: slot.payload), micros: Int(slot.offset), fsp: fsp, to: out)
        case .timestamp2(let fsp):
            return TemporalCodec.writeTimestamp(seconds: UInt32(truncatingIfNeeded: slot.payload), micros: Int(slot.offset), fsp: fsp, to: out)
        default: return 0
        }
    }

    /// Reads one non-NULL value as a `ColumnValue` (tests and one-off callers; row
    /// images decode into slots instead).
    func decode(_ r: inout ByteReader, column: Int, labels: [String]? = nil) throws -> ColumnValue {
        var slot = ValueSlot()
        var extras: [String] = []
        try decode(&r, column: column, into: &slot, extras: &extras)
        return value(of: slot, in: r.buffer, extras: extras, labels: labels) ?? .null
    }

    private static func length(_ r: inout ByteReader, lengthBytes: Int) throws -> Int {
        guard (1...4).contains(lengthBytes) else {
            throw r.error(.corrupt, "length prefix of \(lengthBytes) bytes in TABLE_MAP metadata is impossible (1…4); the TABLE_MAP is corrupt")
        }
        return Int(try r.uintLE(lengthBytes))
    }
}
