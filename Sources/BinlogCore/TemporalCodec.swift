/// Binlog temporal formats → ISO text as `mysqlbinlog -vv` prints them
/// (TIMESTAMP converted to UTC).
///
/// Decoding keeps the packed number (`read…`); text is written only when a consumer
/// asks for it, straight into the caller's bytes (`write…`, for the dump writer) or
/// into a new String's storage (`format…`). No intermediate arrays.
enum TemporalCodec {
    /// Longest text of each kind: `YYYY-MM-DD`, `YYYY-MM-DD hh:mm:ss.ffffff`, `-hhhh:mm:ss.ffffff`.
    static let maxDateBytes = 10
    static let maxDateTimeBytes = 26
    static let maxTimeBytes = 18

    /// Writes `value` as exactly `width` decimal digits.
    @inline(__always)
    private static func put(_ value: Int, width: Int, into out: UnsafeMutablePointer<UInt8>, at pos: inout Int) {
        var v = value
        var i = width - 1
        while i >= 0 {
            out[pos + i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
            i -= 1
        }
        pos += width
    }

    @inline(__always)
    private static func putChar(_ c: UInt8, into out: UnsafeMutablePointer<UInt8>, at pos: inout Int) {
        out[pos] = c
        pos += 1
    }

    /// Appends `.ffffff` cut to `fsp` digits.
    @inline(__always)
    private static func putFraction(_ micros: Int, fsp: Int, into out: UnsafeMutablePointer<UInt8>, at pos: inout Int) {
        guard fsp > 0 else { return }
        putChar(0x2e, into: out, at: &pos)
        var digits = micros
        for _ in 0..<(6 - min(fsp, 6)) { digits /= 10 }
        put(digits, width: min(fsp, 6), into: out, at: &pos)
    }

    // MARK: - Writers (into at least max…Bytes of room; return the bytes written)

    static func writeDate(year: Int, month: Int, day: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var p = 0
        put(year % 10000, width: 4, into: out, at: &p); putChar(0x2d, into: out, at: &p)
        put(month, width: 2, into: out, at: &p); putChar(0x2d, into: out, at: &p)
        put(day, width: 2, into: out, at: &p)
        return p
    }

    static func writeDateTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, micros: Int, fsp: Int,
                              to out: UnsafeMutablePointer<UInt8>) -> Int {
        var p = writeDate(year: year, month: month, day: day, to: out)
        putChar(0x20, into: out, at: &p)
        put(hour, width: 2, into: out, at: &p); putChar(0x3a, into: out, at: &p)
        put(minute, width: 2, into: out, at: &p); putChar(0x3a, into: out, at: &p)
        put(second, width: 2, into: out, at: &p)
        putFraction(micros, fsp: fsp, into: out, at: &p)
        return p
    }

    static func writeTime(negative: Bool, hour: Int, minute: Int, second: Int, micros: Int, fsp: Int,
                          to out: UnsafeMutablePointer<UInt8>) -> Int {
        var p = 0
        if negative { putChar(0x2d, into: out, at: &p) }
        let h = hour % 10000
        put(h, width: h >= 100 ? (h >= 1000 ? 4 : 3) : 2, into: out, at: &p)
        putChar(0x3a, into: out, at: &p)
        put(minute, width: 2, into: out, at: &p); putChar(0x3a, into: out, at: &p)
        put(second, width: 2, into: out, at: &p)
        putFraction(micros, fsp: fsp, into: out, at: &p)
        return p
    }

    static func formatDate(year: Int, month: Int, day: Int) -> String {
        String(unsafeUninitializedCapacity: maxDateBytes) { writeDate(year: year, month: month, day: day, to: $0.baseAddress!) }
    }

    static func formatDateTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, micros: Int, fsp: Int) -> String {
        String(unsafeUninitializedCapacity: maxDateTimeBytes) {
            writeDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                          micros: micros, fsp: fsp, to: $0.baseAddress!)
        }
    }

    static func formatTime(negative: Bool, hour: Int, minute: Int, second: Int, micros: Int, fsp: Int) -> String {
        String(unsafeUninitializedCapacity: maxTimeBytes) {
            writeTime(negative: negative, hour: hour, minute: minute, second: second, micros: micros, fsp: fsp, to: $0.baseAddress!)
        }
    }

    // MARK: - Packed values → text

    /// DATE: 3 bytes little-endian, day 5 bits, month 4 bits, year the rest.
    static func writeDate(_ v: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        writeDate(year: Int(v >> 9), month: Int((v >> 5) & 0x0f), day: Int(v & 0x1f), to: out)
    }

    /// Old TIME: 3-byte signed little-endian integer HHMMSS.
    static func writeTimeOld(_ raw: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let v = Int(Int32(bitPattern: raw << 8) >> 8)
        let a = abs(v)
        return writeTime(negative: v < 0, hour: a / 10000, minute: a / 100 % 100, second: a % 100, micros: 0, fsp: 0, to: out)
    }

    /// Old DATETIME: 8-byte integer YYYYMMDDhhmmss.
    static func writeDateTimeOld(_ v: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let d = Int(v / 1_000_000), t = Int(v % 1_000_000)
        return writeDateTime(year: d / 10000, month: d / 100 % 100, day: d % 100,
                             hour: t / 10000, minute: t / 100 % 100, second: t % 100, micros: 0, fsp: 0, to: out)
    }

    /// TIMESTAMP: seconds since the epoch, rendered in UTC; 0 is the zero timestamp.
    static func writeTimestamp(seconds: UInt32, micros: Int, fsp: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        if seconds == 0 && micros == 0 {
            return writeDateTime(year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, micros: 0, fsp: fsp, to: out)
        }
        let s = Int(seconds)
        let (y, m, d) = civil(fromDays: s / 86400)
        let t = s % 86400
        return writeDateTime(year: y, month: m, day: d, hour: t / 3600, minute: t / 60 % 60, second: t % 60,
                             micros: micros, fsp: fsp, to: out)
    }

    /// DATETIME2 packed as `readDateTime2` keeps it: sign bit removed, year*13+month
    /// 17 bits, day 5, hour 5, minute 6, second 6.
    static func writeDateTime2(packed: Int64, micros: Int, fsp: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let v = packed < 0 ? -packed : packed
        let ym = Int((v >> 22) & 0x1FFFF)
        return writeDateTime(year: ym / 13, month: ym % 13, day: Int((v >> 17) & 0x1f),
                             hour: Int((v >> 12) & 0x1f), minute: Int((v >> 6) & 0x3f), second: Int(v & 0x3f),
                             micros: micros, fsp: fsp, to: out)
    }

    /// TIME2 packed as `readTime2` keeps it: `hms << 24 | micros`, negative for negative times.
    static func writeTime2(packed: Int64, fsp: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let negative = packed < 0
        let v = negative ? -packed : packed
        let hms = v >> 24
        return writeTime(negative: negative, hour: Int((hms >> 12) & 0x3FF), minute: Int((hms >> 6) & 0x3f),
                         second: Int(hms & 0x3f), micros: Int(v & 0xFF_FFFF), fsp: fsp, to: out)
    }

    /// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    // MARK: - Readers (bytes → packed numbers)

    /// The fractional part of TIME2/DATETIME2/TIMESTAMP2, in microseconds (unsigned reading).
    @inline(__always)
    static func fraction(_ r: inout ByteReader, fsp: Int) throws -> Int {
        switch fsp {
        case 1, 2: return Int(try r.u8()) * 10000
        case 3, 4: return Int(try r.uintBE(2)) * 100
        case 5, 6: return Int(try r.uintBE(3))
        default: return 0
        }
    }

    /// DATETIME2: 5 bytes big-endian offset by 2^39; the fraction follows.
    @inline(__always)
    static func readDateTime2(_ r: inout ByteReader, fsp: Int) throws -> (packed: Int64, micros: Int) {
        let packed = Int64(try r.uintBE(5)) - 0x80_0000_0000
        return (packed, try fraction(&r, fsp: fsp))
    }

    /// TIME2: 3 bytes big-endian offset by 0x800000 (hour 10 bits, minute 6, second 6)
    /// and a signed fraction; negative times borrow from the integer part.
    @inline(__always)
    static func readTime2(_ r: inout ByteReader, fsp: Int) throws -> Int64 {
        switch fsp {
        case 1, 2, 3, 4:
            var intPart = Int64(try r.uintBE(3)) - 0x80_0000
            let bytes = fsp <= 2 ? 1 : 2
            var frac = Int64(try r.uintBE(bytes))
            if intPart < 0 && frac != 0 {
                intPart += 1
                frac -= bytes == 1 ? 0x100 : 0x1_0000
            }
            return intPart << 24 + frac * (bytes == 1 ? 10000 : 100)
        case 5, 6:
            return Int64(try r.uintBE(6)) - 0x8000_0000_0000
        default:
            return (Int64(try r.uintBE(3)) - 0x80_0000) << 24
        }
    }
}
