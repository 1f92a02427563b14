import CZstd

/// zstd compression of the stored-field blocks of segment files.
enum Zstd {
    /// Level 3 (zstd's default): fast enough to compress every commit's new segment.
    static let level: Int32 = 3

    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { destination in
            bytes.withUnsafeBytes { source in
                ZSTD_compress(destination.baseAddress, bound, source.baseAddress, bytes.count, level)
            }
        }
        // Compressing into a buffer of ZSTD_compressBound bytes cannot fail.
        precondition(ZSTD_isError(written) == 0, "zstd compression failed")
        output.removeLast(bound - written)
        return output
    }

    /// The `length` bytes `frame` holds, or nil when it does not decompress to exactly
    /// that many (its header must announce `length`, so a damaged length allocates nothing).
    static func decompress(_ frame: ArraySlice<UInt8>, length: Int) -> [UInt8]? {
        frame.withUnsafeBytes { source -> [UInt8]? in
            guard ZSTD_getFrameContentSize(source.baseAddress, source.count) == UInt64(length) else { return nil }
            var output = [UInt8](repeating: 0, count: length)
            let read = output.withUnsafeMutableBytes { destination in
                ZSTD_decompress(destination.baseAddress, length, source.baseAddress, source.count)
            }
            guard ZSTD_isError(read) == 0, read == length else { return nil }
            return output
        }
    }
}
