/// MySQL's binary DECIMAL format → exact decimal text (`-12.50`).
///
/// Digits are stored in groups of nine per four bytes, big-endian, integer part first;
/// a leading partial group holds the remaining digits. The sign is the inverted top
/// bit of the first byte, and negative values have every byte inverted.
///
/// Decoding checks the value (`read`) and keeps its bytes; the text is written only
/// when a consumer asks for it (`write`, `format`).
enum DecimalCodec {
    /// Bytes used by a partial group of 0…8 digits.
    private static let digitBytes: [Int] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    private static let powersOf10: [UInt32] = [1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000]

    static func size(precision: Int, scale: Int) -> Int {
        let intg = precision - scale
        return intg / 9 * 4 + digitBytes[intg % 9] + scale / 9 * 4 + digitBytes[scale % 9]
    }

    /// Longest text of a DECIMAL(precision, …): sign, digits, point, a leading zero.
    static func maxTextBytes(precision: Int) -> Int { precision + 3 }

    /// Reads one value's bytes and checks every digit group is in range; returns where
    /// the bytes start in the reader's buffer and how many there are.
    @inline(__always)
    static func read(_ r: inout ByteReader, precision: Int, scale: Int) throws -> (offset: Int, length: Int) {
        guard precision >= 1, precision <= 65, scale >= 0, scale <= 38, scale <= precision else {
            throw r.error(.corrupt, "DECIMAL(\(precision),\(scale)) in TABLE_MAP metadata is impossible; the TABLE_MAP is corrupt")
        }
        let n = size(precision: precision, scale: scale)
        let start = r.offset
        let raw = try r.bytes(n)
        if !isValid(raw, precision: precision, scale: scale) {
            r.offset = start
            throw r.error(.corrupt, "DECIMAL(\(precision),\(scale)) value has a digit group over its range; the row image is corrupt or the TABLE_MAP does not match the table")
        }
        return (start, n)
    }

    /// Reads the big-endian digit groups of a value's bytes in order, undoing the sign
    /// encoding (top bit of the first byte; every byte inverted when negative).
    private struct Groups {
        let raw: UnsafeRawBufferPointer
        let mask: UInt8
        var cursor = 0

        init(_ raw: UnsafeRawBufferPointer) {
            self.raw = raw
            mask = raw[0] & 0x80 == 0 ? 0xFF : 0x00
        }

        var negative: Bool { mask == 0xFF }

        @inline(__always)
        mutating func next(_ bytes: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<bytes {
                var b = raw[cursor + k]
                if cursor + k == 0 { b ^= 0x80 }
                v = v << 8 | UInt32(b ^ mask)
            }
            cursor += bytes
            return v
        }
    }

    /// Walks the groups as `write` does: each must hold fewer digits than it may.
    private static func isValid(_ raw: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Bool {
        var groups = Groups(raw)
        let intg = precision - scale
        let lead = intg % 9
        if lead > 0 && groups.next(digitBytes[lead]) >= powersOf10[lead] { return false }
        for _ in 0..<(intg / 9) where groups.next(4) >= powersOf10[9] { return false }
        for _ in 0..<(scale / 9) where groups.next(4) >= powersOf10[9] { return false }
        let tail = scale % 9
        if tail > 0 && groups.next(digitBytes[tail]) >= powersOf10[tail] { return false }
        return true
    }

    /// Writes the text of a checked value into at least `maxTextBytes(precision:)` bytes.
    static func write(_ raw: UnsafeRawBufferPointer, precision: Int, scale: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var groups = Groups(raw)
        let negative = groups.negative
        let intg = precision - scale
        var pos = 0
        @inline(__always) func group(_ bytes: Int) -> UInt32 { groups.next(bytes) }
        @inline(__always) func put(_ value: UInt32, digits: Int, trimLeading: Bool) {
            if digits == 0 { return }
            var v = value % powersOf10[digits]
            var d = powersOf10[digits - 1]
            while d > 0 {
                let digit = UInt8(truncatingIfNeeded: v / d)
                v %= d
                d /= 10
                if trimLeading && pos == (negative ? 1 : 0) && digit == 0 { continue }
                out[pos] = 0x30 &+ digit
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

    static func format(_ raw: UnsafeRawBufferPointer, precision: Int, scale: Int) -> String {
        String(unsafeUninitializedCapacity: maxTextBytes(precision: precision)) {
            write(raw, precision: precision, scale: scale, to: $0.baseAddress!)
        }
    }

    /// Reads, checks and formats one value.
    static func decode(_ r: inout ByteReader, precision: Int, scale: Int) throws -> String {
        let (offset, length) = try read(&r, precision: precision, scale: scale)
        return format(UnsafeRawBufferPointer(rebasing: r.buffer[offset..<(offset + length)]), precision: precision, scale: scale)
    }
}
