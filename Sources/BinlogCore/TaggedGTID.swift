/// MySQL 8.3+ tagged GTIDs (GTID_TAGGED_LOG events and tagged PREVIOUS_GTIDS sets),
/// written in MySQL's `mysql::serialization` format: variable-length integers whose
/// first byte's trailing one-bits count the extra bytes, signed values zigzag-coded,
/// and messages as (field id, value) pairs in field order.
enum TaggedGTID {
    /// A variable-length unsigned integer (1…9 bytes).
    static func varlen(_ r: inout ByteReader) throws -> UInt64 {
        let first = try r.u8()
        let extra = first == 0xff ? 8 : (~first).trailingZeroBitCount
        if extra == 0 { return UInt64(first >> 1) }
        let rest = try r.uintLE(extra)
        if extra == 8 { return rest }
        let all = rest << 8 | UInt64(first)
        return all >> UInt64(extra + 1)
    }

    static func zigzag(_ v: UInt64) -> Int64 {
        Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    /// A tag: a length (variable-length integer) and that many ASCII bytes.
    static func tag(_ r: inout ByteReader) throws -> String {
        let n = try varlen(&r)
        guard n <= 255 else { throw r.error(.corrupt, "GTID tag length \(n) exceeds 255; the event is corrupt") }
        return try r.string(Int(n))
    }

    /// GTID_TAGGED_LOG → `uuid:tag:gno` (or `uuid:gno` when untagged).
    static func decode(_ r: inout ByteReader) throws -> String {
        _ = try varlen(&r)  // serialization format version
        _ = try varlen(&r)  // message size
        _ = try varlen(&r)  // last non-ignorable field id
        var uuid: String?
        var gno: Int64?
        var tagText = ""
        while !r.isAtEnd {
            let field = try varlen(&r)
            switch field {
            case 0:
                _ = try varlen(&r)
            case 1:
                var raw: (UInt64, UInt64) = (0, 0)
                for i in 0..<16 {
                    let b = try varlen(&r)
                    guard b <= 0xff else { throw r.error(.corrupt, "GTID source id byte \(b) exceeds 255; the event is corrupt") }
                    if i < 8 { raw.0 |= b << UInt64(8 * i) } else { raw.1 |= b << UInt64(8 * (i - 8)) }
                }
                uuid = withUnsafeBytes(of: raw) { EventDecoder.uuid($0) }
            case 2:
                gno = zigzag(try varlen(&r))
            case 3:
                tagText = try tag(&r)
            default:
                break
            }
            if field >= 3 { break }
        }
        guard let uuid, let gno else {
            throw r.error(.corrupt, "GTID_TAGGED_LOG event lacks its source id or sequence number; the event is corrupt")
        }
        return tagText.isEmpty ? "\(uuid):\(gno)" : "\(uuid):\(tagText):\(gno)"
    }
}
