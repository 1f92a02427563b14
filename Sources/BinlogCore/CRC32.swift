import CBinlogAccel

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum MySQL and
/// MariaDB append to events when `binlog_checksum=CRC32`.
///
/// On x86-64 CPUs with PCLMULQDQ, runs of 64 bytes and more are folded with carry-less
/// multiplication (CBinlogAccel, ~10× faster); the rest is table-driven, eight bytes per
/// step ("slicing-by-8"); the tables are built once.
public enum CRC32 {
    /// Whether the folding path runs on this CPU (checked once).
    public static let usesCarrylessMultiply: Bool = dst_crc32_fold_available() != 0

    /// 8 × 256 entries: table k maps a byte to its CRC contribution k bytes further on.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<8 {
                c = (c >> 8) ^ t[Int(c & 0xff)]
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// Continues a CRC over `bytes`; start with `crc: 0`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        checksum(bytes, crc: crc, fold: usesCarrylessMultiply)
    }

    /// `fold: false` forces the table path (tests compare the two).
    static func checksum(_ bytes: UnsafeRawBufferPointer, crc: UInt32, fold: Bool) -> UInt32 {
        var c = ~crc
        let n = bytes.count
        var i = 0
        if n >= 64 && fold, let base = bytes.baseAddress {
            i = n & ~15
            c = dst_crc32_fold(c, base.assumingMemoryBound(to: UInt8.self), i)
        }
        tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                  ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                  ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                  ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t[Int((c ^ UInt32(bytes[i])) & 0xff)]
                i += 1
            }
        }
        return ~c
    }

    /// The CRC of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
