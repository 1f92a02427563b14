import CZstd

/// MySQL 8 TRANSACTION_PAYLOAD (`binlog_transaction_compression=ON`): a header of
/// type-length-value fields, then the transaction's events, zstd-compressed or stored.
///
/// The header fields are length-encoded integers: a field type (0 ends the header,
/// 1 = payload size, 2 = compression type, 3 = uncompressed size), the byte length of
/// the value, then the value. Unknown field types are skipped by their length. The
/// decompressed bytes are whole events with a 19-byte header and no CRC32 trailer.
enum TransactionPayload {
    /// Compression type 0: one or more zstd frames.
    static let zstd: UInt64 = 0
    /// Compression type 255: the events are stored as they are.
    static let none: UInt64 = 255
    /// The largest uncompressed payload accepted. A server cannot ship a transaction
    /// larger than `max_allowed_packet`, whose maximum is 1 GiB.
    static let maxUncompressedSize: UInt64 = 1 << 30

    /// Reads the header and returns the payload's events as bytes, decompressed.
    static func events(_ r: inout ByteReader) throws -> [UInt8] {
        var payloadSize: UInt64?
        var compression: UInt64?
        var uncompressedSize: UInt64?
        while true {
            let field = try r.lenenc()
            if field == 0 { break }
            let length = try r.lenencCount()
            try r.require(length)
            var value = ByteReader(r.buffer, offset: r.offset, end: r.offset + length, eventType: r.eventType, position: r.position)
            switch field {
            case 1: payloadSize = try value.lenenc()
            case 2: compression = try value.lenenc()
            case 3: uncompressedSize = try value.lenenc()
            default: break
            }
            try r.skip(length)
        }
        guard let payloadSize, let compression else {
            throw r.error(.corrupt, "the TRANSACTION_PAYLOAD header lacks its \(payloadSize == nil ? "payload size" : "compression type") field; the event is corrupt")
        }
        guard payloadSize == UInt64(r.remaining) else {
            throw r.error(.corrupt, "the TRANSACTION_PAYLOAD header announces \(payloadSize) payload bytes but \(r.remaining) follow; the event is corrupt or cut short — re-copy the binlog or restart the stream")
        }
        let start = r.offset
        let payload = r.rest()
        switch compression {
        case none:
            return Array(payload)
        case zstd:
            return try decompress(payload, declaredSize: uncompressedSize, r: &r, start: start)
        default:
            r.offset = start
            throw r.error(.unsupported, "TRANSACTION_PAYLOAD compression type \(compression) is unknown (0 = zstd, 255 = none); upgrade distributary, or set `binlog_transaction_compression=OFF` on the server and restart from a position after this transaction")
        }
    }

    private static func decompress(_ payload: UnsafeRawBufferPointer, declaredSize: UInt64?, r: inout ByteReader, start: Int) throws -> [UInt8] {
        r.offset = start
        var size = declaredSize
        if size == nil, let base = payload.baseAddress {
            let frameSize = ZSTD_getFrameContentSize(base, payload.count)
            if frameSize != UInt64.max && frameSize != UInt64.max - 1 { size = frameSize }
        }
        guard let size else {
            throw r.error(.corrupt, "the zstd TRANSACTION_PAYLOAD declares no uncompressed size, neither in its header nor in its zstd frame; the event is corrupt")
        }
        guard size <= maxUncompressedSize else {
            throw r.error(.corrupt, "the TRANSACTION_PAYLOAD declares \(size) bytes uncompressed, more than the \(maxUncompressedSize) (1 GiB) a server can ship; the event is corrupt — re-copy the binlog or restart the stream")
        }
        if size == 0 { return [] }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, out.count, payload.baseAddress, payload.count)
        }
        if ZSTD_isError(written) != 0 {
            let reason = String(cString: ZSTD_getErrorName(written))
            throw r.error(.corrupt, "the zstd TRANSACTION_PAYLOAD does not decompress into its declared \(size) bytes (zstd: \(reason)); the event is corrupt — re-copy the binlog or restart the stream")
        }
        guard UInt64(written) == size else {
            throw r.error(.corrupt, "the zstd TRANSACTION_PAYLOAD decompresses to \(written) bytes but declares \(size); the event is corrupt — re-copy the binlog or restart the stream")
        }
        return output
    }
}
