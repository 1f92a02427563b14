import Foundation

/// Appends little-endian integers, LEB128 varints and length-prefixed strings to a byte buffer.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    mutating func write(_ raw: ArraySlice<UInt8>) { bytes.append(contentsOf: raw) }

    mutating func write(_ raw: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: raw) }

    mutating func writeByte(_ value: UInt8) { bytes.append(value) }

    mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func writeVarint(_ value: UInt64) {
        if value < 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value))
            return
        }
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    mutating func writeVarint(_ value: Int) { writeVarint(UInt64(value)) }

    mutating func writeDouble(_ value: Double) { writeUInt64(value.bitPattern) }

    mutating func writeString(_ value: String) {
        let utf8 = Array(value.utf8)
        writeVarint(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    /// Appends `values` bit-packed: one byte with the bit width of the largest, then the
    /// values' low `width` bits, least significant first (`⌈values.count · width / 8⌉` bytes).
    mutating func writePacked(_ values: [UInt32]) {
        values.withUnsafeBufferPointer { writePacked($0) }
    }

    mutating func writePacked(_ values: UnsafeBufferPointer<UInt32>) {
        var all: UInt32 = 0
        for value in values { all |= value }
        let width = 32 - all.leadingZeroBitCount
        bytes.append(UInt8(width))
        guard width > 0 else { return }
        var index = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: (values.count * width + 7) / 8))
        bytes.withUnsafeMutableBufferPointer { output in
            var buffer: UInt64 = 0
            var filled = 0
            for value in values {
                buffer |= UInt64(value) << UInt64(filled)
                filled += width
                while filled >= 8 {
                    output[index] = UInt8(truncatingIfNeeded: buffer)
                    index += 1
                    buffer >>= 8
                    filled -= 8
                }
            }
            if filled > 0 { output[index] = UInt8(truncatingIfNeeded: buffer) }
        }
    }

    /// Appends the checksum of everything written so far.
    mutating func finishWithChecksum() { writeUInt64(bytes.withUnsafeBufferPointer { fnv1a($0) }) }
}

/// Reads what `ByteWriter` wrote; every read checks bounds and throws `corrupt` naming the file.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int
    private let end: Int
    let path: String

    /// Verifies the trailing checksum and prepares to read the bytes before it.
    init(bytes: [UInt8], path: String) throws {
        guard bytes.count >= 8 else { throw SearchError.corrupt(path, "file is truncated (\(bytes.count) bytes)") }
        let bodyEnd = bytes.count - 8
        var stored: UInt64 = 0
        for index in 0..<8 { stored |= UInt64(bytes[bodyEnd + index]) << UInt64(8 * index) }
        guard stored == bytes.withUnsafeBufferPointer({ fnv1a(UnsafeBufferPointer(rebasing: $0[0..<bodyEnd])) }) else {
            throw SearchError.corrupt(path, "checksum mismatch (the file was truncated or overwritten)")
        }
        self.bytes = bytes
        self.offset = 0
        self.end = bodyEnd
        self.path = path
    }

    /// Reads all of `bytes`, which carry no checksum (a part of a checked file, such as a
    /// decompressed block).
    init(unchecked bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
        self.path = path
    }

    var isAtEnd: Bool { offset == end }

    /// The bytes in `range` (offsets of this reader), without moving.
    func slice(_ range: Range<Int>) -> ArraySlice<UInt8> { bytes[range] }

    func fail(_ detail: String) -> SearchError { SearchError.corrupt(path, "\(detail) at byte \(offset)") }

    mutating func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= end - offset else { throw fail("unexpected end of data reading \(count) bytes") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func readByte() throws -> UInt8 {
        guard offset < end else { throw fail("unexpected end of data") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt32() throws -> UInt32 {
        var value: UInt32 = 0
        for (index, byte) in try readBytes(4).enumerated() { value |= UInt32(byte) << UInt32(8 * index) }
        return value
    }

    mutating func readUInt64() throws -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in try readBytes(8).enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
        return value
    }

    mutating func readVarint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            guard shift < 64 else { throw fail("varint too long") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// Reads a varint that must be at most `limit` (a count or an index).
    mutating func readCount(max limit: Int) throws -> Int {
        let value = try readVarint()
        guard value <= UInt64(limit) else { throw fail("value \(value) exceeds the limit \(limit)") }
        return Int(value)
    }

    /// Reads what `writePacked` wrote for `values.count` values into `values`.
    mutating func readPacked(into values: inout [UInt32]) throws {
        try values.withUnsafeMutableBufferPointer { try readPacked(into: $0) }
    }

    mutating func readPacked(into values: UnsafeMutableBufferPointer<UInt32>) throws {
        let width = Int(try readByte())
        guard width <= 32 else { throw fail("bit width \(width) of a packed block") }
        guard width > 0 else {
            values.update(repeating: 0)
            return
        }
        let count = (values.count * width + 7) / 8
        guard count <= end - offset else { throw fail("unexpected end of data reading \(count) bytes") }
        let mask: UInt64 = (1 << UInt64(width)) - 1
        bytes.withUnsafeBufferPointer { raw in
            var next = offset
            var buffer: UInt64 = 0
            var filled = 0
            for index in values.indices {
                while filled < width {
                    buffer |= UInt64(raw[next]) << UInt64(filled)
                    next += 1
                    filled += 8
                }
                values[index] = UInt32(truncatingIfNeeded: buffer & mask)
                buffer >>= UInt64(width)
                filled -= width
            }
        }
        offset += count
    }

    mutating func readDouble() throws -> Double { Double(bitPattern: try readUInt64()) }

    mutating func readString() throws -> String {
        let length = try readCount(max: end - offset)
        let raw = try readBytes(length)
        guard let string = String(bytes: raw, encoding: .utf8) else { throw fail("invalid UTF-8 string") }
        return string
    }

    /// The number of bytes not read yet; bounds counts read from the file.
    var remaining: Int { end - offset }
}

/// The order of two byte strings: memcmp of the common length, then the shorter first.
func utf8Compare(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Int {
    let common = min(left.count, right.count)
    if common > 0, let l = left.baseAddress, let r = right.baseAddress {
        let compared = memcmp(l, r, common)
        if compared != 0 { return Int(compared) }
    }
    return left.count - right.count
}

/// 64-bit FNV-1a, the checksum of segment and delete files.
func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// Whether `left` sorts before `right` by UTF-8 bytes (the order of ids and terms).
func utf8Precedes(_ left: String, _ right: String) -> Bool { utf8Compare(left, right) < 0 }

/// The order of `left` and `right` by UTF-8 bytes (negative, zero or positive), comparing
/// contiguous storage with memcmp. Zero means the same bytes (unlike `==`, which also
/// equates canonically equivalent strings).
func utf8Compare(_ left: String, _ right: String) -> Int {
    let order = left.utf8.withContiguousStorageIfAvailable { leftBytes in
        right.utf8.withContiguousStorageIfAvailable { utf8Compare(leftBytes, $0) }
    }
    if let order = order ?? nil { return order }
    if left.utf8.elementsEqual(right.utf8) { return 0 }
    return left.utf8.lexicographicallyPrecedes(right.utf8) ? -1 : 1
}
