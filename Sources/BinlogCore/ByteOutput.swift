/// Somewhere rendered UTF-8 goes: the dump writer's buffer, or a `[UInt8]` a consumer
/// builds a Redis command or a document in. The helpers below write numbers, hex and
/// escaped strings without making Strings.
protocol ByteOutput {
    mutating func append(_ byte: UInt8)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>)
    /// Lets `body` write at most `maxBytes` bytes at the end; it returns how many it wrote.
    mutating func write(maxBytes: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int)
}

enum HexDigits {
    static let lower: [UInt8] = Array("0123456789abcdef".utf8)
}

extension ByteOutput {
    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) {
        append(bytes.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always) mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    @inline(__always) mutating func put(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    mutating func putUInt(_ v: UInt64) {
        if v < 10 { append(0x30 &+ UInt8(v)); return }
        write(maxBytes: 20) { out in
            var digits = 1
            var t = v
            while t >= 10 { t /= 10; digits += 1 }
            var n = v
            var i = digits - 1
            while n > 0 { out[i] = 0x30 &+ UInt8(n % 10); n /= 10; i -= 1 }
            return digits
        }
    }

    mutating func putInt(_ v: Int64) {
        if v < 0 { append(0x2d) }
        putUInt(v.magnitude)
    }

    mutating func putHex(_ bytes: UnsafeRawBufferPointer) {
        HexDigits.lower.withUnsafeBufferPointer { digits in
            var at = 0
            while at < bytes.count {
                let n = min(bytes.count - at, 512)
                write(maxBytes: n * 2) { out in
                    for k in 0..<n {
                        let b = bytes[at + k]
                        out[2 * k] = digits[Int(b >> 4)]
                        out[2 * k + 1] = digits[Int(b & 0x0f)]
                    }
                    return n * 2
                }
                at += n
            }
        }
    }

    mutating func putHex(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { putHex($0) }
    }

    /// A JSON string literal, escaped exactly as `JSONText.appendString` escapes.
    mutating func putJSONString(_ s: String) {
        var s = s
        s.withUTF8 { putJSONString($0) }
    }

    mutating func putJSONString(_ utf8: UnsafeBufferPointer<UInt8>) {
        append(0x22)
        var runStart = 0
        for i in 0..<utf8.count {
            let b = utf8[i]
            if b >= 0x20 && b != 0x22 && b != 0x5c { continue }
            if i > runStart { append(UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
            runStart = i + 1
            append(0x5c)
            switch b {
            case 0x22: append(0x22)
            case 0x5c: append(0x5c)
            case 0x0a: append(0x6e)
            case 0x0d: append(0x72)
            case 0x09: append(0x74)
            default:
                append(0x75); append(0x30); append(0x30)
                append(HexDigits.lower[Int(b >> 4)]); append(HexDigits.lower[Int(b & 0x0f)])
            }
        }
        if utf8.count > runStart { append(UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count])) }
        append(0x22)
    }

    /// `'…'` with `\'`, `\\`, `\n`, `\r`, `\t` and `\xNN` for other control characters.
    mutating func putQuoted(_ s: String) {
        var s = s
        s.withUTF8 { putQuoted($0) }
    }

    mutating func putQuoted(_ utf8: UnsafeBufferPointer<UInt8>) {
        append(0x27)
        for b in utf8 {
            switch b {
            case 0x27: append(0x5c); append(0x27)
            case 0x5c: append(0x5c); append(0x5c)
            case 0x0a: append(0x5c); append(0x6e)
            case 0x0d: append(0x5c); append(0x72)
            case 0x09: append(0x5c); append(0x74)
            case 0..<0x20, 0x7f:
                append(0x5c); append(0x78)
                append(HexDigits.lower[Int(b >> 4)]); append(HexDigits.lower[Int(b & 0x0f)])
            default:
                append(b)
            }
        }
        append(0x27)
    }
}

extension Array: ByteOutput where Element == UInt8 {
    @inline(__always) mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(contentsOf: bytes)
    }

    @inline(__always) mutating func write(maxBytes: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxBytes) { scratch in
            let n = body(scratch.baseAddress!)
            append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<n]))
        }
    }
}

/// A growable byte buffer written through a raw pointer: rendering appends millions of
/// small pieces, and this keeps each append to a bounds check and a copy.
final class ByteBuffer: ByteOutput, @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    func copy() -> ByteBuffer {
        let other = ByteBuffer(capacity: capacity)
        other.base.update(from: base, count: count)
        other.count = count
        return other
    }

    @inline(__always) func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always) func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always) func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).update(from: from, count: bytes.count)
        count += bytes.count
    }

    @inline(__always) func write(maxBytes: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maxBytes)
        count += body(base + count)
    }
}

// MARK: - Decoded values rendered from the event's bytes

extension RowStorage {
    /// Column `i`'s present, non-NULL value rendered from the event's bytes: as JSON
    /// (`json: true`, byte for byte what `ColumnValue.appendJSON(to:)` writes) or as text
    /// (what `ColumnValue.text` spells). Numbers, DECIMAL, temporal values, binary data and
    /// ASCII/valid UTF-8 text come straight from the bytes; the rare kinds (floats,
    /// ENUM/SET, BINARY(n), other charsets) go through `ColumnValue`.
    func render<O: ByteOutput>(column i: Int, slot: ValueSlot, bytes: UnsafeRawBufferPointer, json: Bool, into out: inout O) {
        var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Int(slot.offset)..<(Int(slot.offset) + Int(slot.length))]) }
        let codec = codecs[i]
        switch codec {
        case .integer(_, let unsigned):
            if unsigned { out.putUInt(slot.payload) } else { out.putInt(Int64(bitPattern: slot.payload)) }
            return
        case .year:
            out.putUInt(slot.payload)
            return
        case .decimal(let precision, let scale):
            if json { out.append(0x22) }
            out.write(maxBytes: DecimalCodec.maxTextBytes(precision: precision)) { DecimalCodec.write(raw, precision: precision, scale: scale, to: $0) }
            if json { out.append(0x22) }
            return
        case .date, .timeOld, .datetimeOld, .timestampOld, .time2, .datetime2, .timestamp2:
            if json { out.append(0x22) }
            out.write(maxBytes: TemporalCodec.maxDateTimeBytes) { codec.writeTemporal(slot, to: $0) }
            if json { out.append(0x22) }
            return
        case .string(_, let text), .blob(_, let text):
            if text == .binary {
                putHex(raw, json: json, into: &out)
                return
            }
            if text.isVerbatim(raw) {
                if json { out.putJSONString(raw.assumingMemoryBound(to: UInt8.self)) } else { out.append(raw) }
                return
            }
        case .bit, .vector, .geometry:
            putHex(raw, json: json, into: &out)
            return
        case .json:
            out.put(extras[Int(slot.payload)])
            return
        default:
            break
        }
        guard let value = value(ofColumn: i, slot: slot, in: bytes) else { return }
        if json {
            var scratch = ""
            value.appendJSON(to: &scratch)
            out.put(scratch)
        } else if let text = value.text {
            out.put(text)
        }
    }

    /// Binary data: `{"hex":"…"}` in JSON, bare hex as text.
    private func putHex<O: ByteOutput>(_ raw: UnsafeRawBufferPointer, json: Bool, into out: inout O) {
        if json { out.put("{\"hex\":\"") }
        out.putHex(raw)
        if json { out.put("\"}") }
    }
}

extension RowImage {
    /// Appends column `i` as `ColumnValue.text` spells it (UTF-8), without making a
    /// String for the common kinds; returns `false`, appending nothing, when the column
    /// is SQL NULL or absent from the image.
    public func appendText(_ i: Int, to out: inout [UInt8]) -> Bool {
        if storage.isLiteral {
            guard let text = self[i]?.text else { return false }
            out.put(text)
            return true
        }
        let slot = self.slot(i)
        guard slot.state == ValueSlot.value else { return false }
        storage.bytes.withUnsafeBytes { storage.render(column: i, slot: slot, bytes: $0, json: false, into: &out) }
        return true
    }

    /// Appends column `i` as JSON, as `ColumnValue.appendJSON(to:)` writes it (`null` for
    /// SQL NULL); returns `false`, appending nothing, when the column is absent.
    public func appendJSON(_ i: Int, to out: inout [UInt8]) -> Bool {
        if storage.isLiteral {
            guard let value = self[i] else { return false }
            var s = ""
            value.appendJSON(to: &s)
            out.put(s)
            return true
        }
        let slot = self.slot(i)
        switch slot.state {
        case ValueSlot.absent: return false
        case ValueSlot.null: out.put("null"); return true
        default:
            storage.bytes.withUnsafeBytes { storage.render(column: i, slot: slot, bytes: $0, json: true, into: &out) }
            return true
        }
    }
}
