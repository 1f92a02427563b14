/// A bounds-checked cursor over one event's bytes.
///
/// Every read checks the remaining length and throws a `BinlogError` that names the
/// event type, its position and the byte offset inside the event; nothing on input
/// bytes can trap.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    /// Offset of the next byte to read, counted from the start of the event.
    var offset: Int
    /// One past the last readable byte (the checksum trailer is excluded).
    var end: Int
    let eventType: UInt8
    let position: BinlogPosition?

    init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil, eventType: UInt8, position: BinlogPosition?) {
        self.buffer = buffer
        self.offset = offset
        self.end = min(end ?? buffer.count, buffer.count)
        self.eventType = eventType
        self.position = position
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    func error(_ code: BinlogError.Code, _ detail: String) -> BinlogError {
        BinlogError(code: code, position: position,
                    message: "\(EventType.name(eventType)) event\(position.map { " at \($0)" } ?? ""), byte \(offset) of the event: \(detail)")
    }

    func truncated(_ needed: Int) -> BinlogError {
        error(.truncated, "needs \(needed) more byte(s) but only \(max(remaining, 0)) remain; the event is cut short or corrupt — re-copy the binlog file from the server or restart the stream from an earlier position")
    }

    @inline(__always)
    func require(_ n: Int) throws {
        if n < 0 || n > end - offset { throw truncated(n) }
    }

    @inline(__always)
    mutating func skip(_ n: Int) throws {
        try require(n)
        offset += n
    }

    @inline(__always)
    mutating func u8() throws -> UInt8 {
        try require(1)
        let v = buffer[offset]
        offset += 1
        return v
    }

    @inline(__always)
    mutating func u16() throws -> UInt16 {
        try require(2)
        let v = UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        offset += 2
        return v
    }

    @inline(__always)
    mutating func u24() throws -> UInt32 {
        try require(3)
        let v = UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8 | UInt32(buffer[offset + 2]) << 16
        offset += 3
        return v
    }

    @inline(__always)
    mutating func u32() throws -> UInt32 {
        try require(4)
        let v = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        offset += 4
        return v
    }

    @inline(__always)
    mutating func u48() throws -> UInt64 {
        try require(6)
        let lo = UInt64(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        let hi = UInt64(buffer[offset + 4]) | UInt64(buffer[offset + 5]) << 8
        offset += 6
        return lo | hi << 32
    }

    @inline(__always)
    mutating func u64() throws -> UInt64 {
        try require(8)
        let v = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        offset += 8
        return v
    }

    /// A little-endian unsigned integer of `n` bytes (0…8).
    @inline(__always)
    mutating func uintLE(_ n: Int) throws -> UInt64 {
        try require(n)
        var v: UInt64 = 0
        var i = n - 1
        while i >= 0 { v = v << 8 | UInt64(buffer[offset + i]); i -= 1 }
        offset += n
        return v
    }

    /// A big-endian unsigned integer of `n` bytes (0…8).
    @inline(__always)
    mutating func uintBE(_ n: Int) throws -> UInt64 {
        try require(n)
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(buffer[offset + i]) }
        offset += n
        return v
    }

    /// A length-encoded integer (1, 3, 4 or 9 bytes).
    mutating func lenenc() throws -> UInt64 {
        let first = try u8()
        switch first {
        case 0..<251: return UInt64(first)
        case 252: return UInt64(try u16())
        case 253: return UInt64(try u24())
        case 254: return try u64()
        default:
            offset -= 1
            throw error(.corrupt, "invalid length-encoded integer prefix 0x\(String(first, radix: 16)); the event is corrupt")
        }
    }

    /// A length-encoded integer that must fit a count or length in this event.
    mutating func lenencCount() throws -> Int {
        let v = try lenenc()
        guard v <= UInt64(Int32.max) else {
            throw error(.corrupt, "length \(v) is impossible in one event; the event is corrupt")
        }
        return Int(v)
    }

    @inline(__always)
    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        try require(n)
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        offset += n
        return slice
    }

    mutating func array(_ n: Int) throws -> [UInt8] {
        Array(try bytes(n))
    }

    /// `n` bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    mutating func string(_ n: Int) throws -> String {
        String(decoding: try bytes(n), as: UTF8.self)
    }

    /// The rest of the readable bytes.
    mutating func rest() -> UnsafeRawBufferPointer {
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<max(offset, end)])
        offset = max(offset, end)
        return slice
    }

    mutating func restString() -> String {
        String(decoding: rest(), as: UTF8.self)
    }
}
