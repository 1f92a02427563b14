/// MySQL's binary DECIMAL format → exact decimal text (`-12.50`).
///
/// Digits are stored in groups of nine per four bytes, big-endian, integer part first;
/// a leading partial group holds the remaining digits. The sign is the inverted top
/// bit of the first byte, and negative values have every byte inverted.
enum DecimalCodec {
    /// Bytes used by a partial group of 0…8 digits.
    private static let digitBytes: [Int] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]

    static func size(precision: Int, scale: Int) -> Int {
        let intg = precision - scale
        return intg / 9 * 4 + digitBytes[intg % 9] + scale / 9 * 4 + digitBytes[scale % 9]
    }

    static func decode(_ r: inout ByteReader, precision: Int, scale: Int) throws -> String {
        guard precision >= 1, precision <= 65, scale >= 0, scale <= 38, scale <= precision else {
            throw r.error(.corrupt, "DECIMAL(\(precision),\(scale)) in TABLE_MAP metadata is impossible; the TABLE_MAP is corrupt")
        }
        let n = size(precision: precision, scale: scale)
        let start = r.offset
        let raw = try r.bytes(n)
        let negative = raw[0] & 0x80 == 0
        let mask: UInt8 = negative ? 0xFF : 0x00
        let intg = precision - scale
        var corrupt = false

        let text = String(unsafeUninitializedCapacity: precision + 3) { out -> Int in
            var pos = 0
            var cursor = 0
            func group(_ bytes: Int) -> UInt32 {
                var v: UInt32 = 0
                for k in 0..<bytes {
                    var b = raw[cursor + k]
                    if cursor + k == 0 { b ^= 0x80 }
                    v = v << 8 | UInt32(b ^ mask)
                }
                cursor += bytes
                return v
            }
            func put(_ value: UInt32, digits: Int, trimLeading: Bool) {
                var divisor: UInt32 = 1
                for _ in 1..<max(digits, 1) { divisor *= 10 }
                var v = value
                if digits == 0 { return }
                if v / divisor >= 10 { corrupt = true; v %= divisor * 10 }
                var d = divisor
                while d > 0 {
                    let digit = UInt8(v / d)
                    v %= d
                    d /= 10
                    if trimLeading && pos == (negative ? 1 : 0) && digit == 0 { continue }
                    out[pos] = 0x30 + digit
                    pos += 1
                }
            }
            if negative { out[0] = UInt8(ascii: "-"); pos = 1 }
            let lead = intg % 9
            if lead > 0 { put(group(digitBytes[lead]), digits: lead, trimLeading: true) }
            for _ in 0..<(intg / 9) { put(group(4), digits: 9, trimLeading: true) }
            if pos == (negative ? 1 : 0) { out[pos] = UInt8(ascii: "0"); pos += 1 }
            if scale > 0 {
                out[pos] = UInt8(ascii: "."); pos += 1
                for _ in 0..<(scale / 9) { put(group(4), digits: 9, trimLeading: false) }
                let tail = scale % 9
                if tail > 0 { put(group(digitBytes[tail]), digits: tail, trimLeading: false) }
            }
            return pos
        }
        if corrupt {
            r.offset = start
            throw r.error(.corrupt, "DECIMAL(\(precision),\(scale)) value has a digit group over its range; the row image is corrupt or the TABLE_MAP does not match the table")
        }
        return text
    }
}
