/// Decodes binlog events one at a time, keeping the state later events depend on.
///
/// The state is the FORMAT_DESCRIPTION (checksum algorithm, post-header lengths), the
/// current file (from the caller or the latest ROTATE) and the TABLE_MAPs of the
/// current statement. CRC32 trailers are verified whenever the FORMAT_DESCRIPTION
/// announces them. Every failure throws a `BinlogError` naming the event's position;
/// malformed input never traps.
public struct EventDecoder: Sendable {
    /// The binlog file the events come from: given up front, or learned from ROTATE.
    public private(set) var file: String?
    /// `true` once a FORMAT_DESCRIPTION announced CRC32 checksums.
    public private(set) var checksumEnabled = false
    /// The binlog format version (4 for MySQL ≥ 5.0 and MariaDB).
    public private(set) var binlogVersion: UInt16 = 4
    /// The server version from the FORMAT_DESCRIPTION, once seen.
    public private(set) var serverVersion: String?
    /// The TABLE_MAPs in force, by table id.
    public private(set) var tableMaps: [UInt64: TableMap] = [:]

    /// When set, rows of tables for which it returns false are not decoded: their ROWS
    /// events yield no changes (checksums are still verified). `binlog dump` leaves it nil.
    public var tableFilter: (@Sendable (_ schema: String, _ table: String) -> Bool)?
    /// Table ids whose current TABLE_MAP the filter rejected.
    var skippedTableIDs: Set<UInt64> = []

    private var postHeaderLengths: [UInt8] = []
    /// Header length of events after the FORMAT_DESCRIPTION (19; more in some patched servers).
    private var commonHeaderLength = EventHeader.size
    private var sawFormatDescription = false

    public init(file: String? = nil) {
        self.file = file
    }

    /// Decodes one complete event (19-byte header + body + optional 4-byte CRC32 trailer),
    /// positioned from its header (`nextPosition − eventSize`), as in a network stream.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer) throws -> DecodedEvent {
        try decode(bytes, at: nil)
    }

    /// Decodes one complete event whose start offset in `file` is known (file reading;
    /// relay logs, whose headers carry the source's positions, need this).
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, at offset: UInt64?) throws -> DecodedEvent {
        try decode(bytes, at: offset, nestedIn: nil)
    }

    /// Decodes one event; `outer` is the position of the TRANSACTION_PAYLOAD that holds
    /// it (nested events carry no checksum and share their container's position).
    private mutating func decode(_ bytes: UnsafeRawBufferPointer, at offset: UInt64?, nestedIn outer: BinlogPosition?) throws -> DecodedEvent {
        let unknownPosition = offset.map { BinlogPosition(file: file ?? "", offset: $0) }
        guard bytes.count >= EventHeader.size else {
            throw BinlogError(code: .truncated, position: unknownPosition,
                              message: "event\(unknownPosition.map { " at \($0)" } ?? "") of \(bytes.count) bytes is shorter than the 19-byte event header; the file or stream is cut short — re-copy the binlog or restart the stream")
        }
        var h = ByteReader(bytes, eventType: bytes[4], position: unknownPosition)
        let header = EventHeader(timestamp: try h.u32(), type: try h.u8(), serverID: try h.u32(),
                                 eventSize: try h.u32(), nextPosition: try h.u32(), flags: try h.u16())
        let start: UInt64
        if let offset {
            start = offset
        } else if header.nextPosition == 0 {
            start = 0
        } else {
            start = UInt64(header.nextPosition) >= UInt64(header.eventSize) ? UInt64(header.nextPosition - header.eventSize) : 0
        }
        var position = outer ?? BinlogPosition(file: file ?? "", offset: start)
        let name = EventType.name(header.type)
        guard Int(header.eventSize) == bytes.count else {
            throw BinlogError(code: Int(header.eventSize) > bytes.count ? .truncated : .corrupt, position: position,
                              message: "\(name) event at \(position): its header says \(header.eventSize) bytes but \(bytes.count) were given; the event is cut short or the stream is out of step — restart the stream from an earlier position")
        }

        var end = bytes.count
        if outer != nil {
            switch header.type {
            case EventType.formatDescription, EventType.startV3, EventType.rotate, EventType.transactionPayload:
                throw BinlogError(code: .corrupt, position: position,
                                  message: "a \(name) event inside the TRANSACTION_PAYLOAD at \(position); servers never put one there — the binlog is corrupt")
            default:
                break
            }
        } else if header.type == EventType.formatDescription {
            return try decodeFormatDescription(bytes, header: header, position: position)
        } else if checksumEnabled {
            end -= 4
            try verifyChecksum(bytes, header: header, position: position)
        } else if !sawFormatDescription && bytes.count >= EventHeader.size + 4 {
            // Before any FORMAT_DESCRIPTION (the stream's fake ROTATE) the checksum
            // setting is unknown: a trailer that verifies is a trailer.
            let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
            if CRC32.checksum(body) == stored { end -= 4 }
        }

        var r = ByteReader(bytes, offset: 0, end: end, eventType: header.type, position: position)
        try r.skip(commonHeaderLength)
        var rowsFlags: UInt16 = 0
        let event: BinlogEvent
        switch header.type {
        case EventType.startV3:
            event = try decodeStartV3(&r)
        case EventType.query:
            event = try decodeQuery(&r, compressed: false)
        case EventType.xid:
            event = .xid(try r.u64())
        case EventType.rotate:
            let ph = postHeaderLength(EventType.rotate, default: binlogVersion > 1 ? 8 : 0)
            let pos: UInt64 = ph >= 8 ? try r.u64() : 4
            if ph > 8 { try r.skip(ph - 8) }
            let next = r.restString()
            tableMaps.removeAll(keepingCapacity: true)
            // With caller-given offsets the events come from one physical file, whose
            // name stays (a relay log's ROTATEs name the source's files); in a stream
            // the ROTATE names the file the following events belong to.
            if offset == nil {
                file = next
                // The stream's opening ROTATE (nextPosition 0) stands for the named file.
                if header.nextPosition == 0 { position.file = next }
            }
            event = .rotate(file: next, position: pos)
        case EventType.stop:
            event = .stop
        case EventType.tableMap:
            let map = try decodeTableMap(&r)
            tableMaps[map.tableID] = map
            if let filter = tableFilter {
                if filter(map.schema, map.table) { skippedTableIDs.remove(map.tableID) } else { skippedTableIDs.insert(map.tableID) }
            }
            event = .tableMap(map)
        case EventType.preGAWriteRows...EventType.deleteRowsV1, EventType.writeRowsV2...EventType.deleteRowsV2,
             EventType.partialUpdateRows, EventType.mariadbWriteRowsCompressed...EventType.mariadbDeleteRowsCompressedV1:
            let (changes, flags) = try decodeRows(&r, type: header.type)
            rowsFlags = flags
            if flags & 0x0001 != 0 { tableMaps.removeAll(keepingCapacity: true) }
            event = .rows(changes)
        case EventType.gtid, EventType.anonymousGTID:
            _ = try r.u8()
            let sid = try r.bytes(16)
            let gno = try r.u64()
            event = header.type == EventType.anonymousGTID ? .anonymousGTID : .gtid("\(EventDecoder.uuid(sid)):\(gno)")
        case EventType.gtidTagged:
            event = .gtid(try TaggedGTID.decode(&r))
        case EventType.previousGTIDs:
            event = .previousGTIDs(try decodeGTIDSet(&r))
        case EventType.rowsQuery:
            try r.skip(1)
            event = .rowsQuery(r.restString())
        case EventType.heartbeat, EventType.heartbeatV2:
            event = .heartbeat
        case EventType.incident:
            let number = try r.u16()
            let length = Int(try r.u8())
            let message = try r.string(min(length, r.remaining))
            event = .incident(number: number, message: message)
        case EventType.mariadbGTID:
            let seq = try r.u64()
            let domain = try r.u32()
            let flags = try r.u8()
            let commitID: UInt64? = flags & 0x02 != 0 ? try r.u64() : nil
            event = .mariadbGTID(MariaDBGTID(domainID: domain, serverID: header.serverID, sequence: seq, flags: flags, commitID: commitID))
        case EventType.mariadbGTIDList:
            let count = Int(try r.u32() & 0x0FFF_FFFF)
            try r.require(count * 16)
            var list: [MariaDBGTID] = []
            list.reserveCapacity(count)
            for _ in 0..<count {
                let domain = try r.u32(), server = try r.u32(), seq = try r.u64()
                list.append(MariaDBGTID(domainID: domain, serverID: server, sequence: seq))
            }
            event = .gtidList(list)
        case EventType.mariadbBinlogCheckpoint:
            let n = Int(try r.u32())
            event = .binlogCheckpoint(file: try r.string(n))
        case EventType.mariadbAnnotateRows:
            event = .annotateRows(r.restString())
        case EventType.mariadbStartEncryption:
            // In a file the events after it are ciphertext; a server streams them decrypted.
            if offset != nil {
                throw r.error(.unsupported, "the binlog file is encrypted (encrypt_binlog=ON) and the events after this one are ciphertext; read it through the server (`distributary run`), which decrypts, instead of offline")
            }
            event = .other(type: header.type)
        case EventType.mariadbQueryCompressed:
            event = try decodeQuery(&r, compressed: true)
        case EventType.transactionPayload:
            event = .transactionPayload(try decodeNested(try TransactionPayload.events(&r), outer: position))
        case EventType.intvar...EventType.userVar, EventType.beginLoadQuery, EventType.executeLoadQuery,
             EventType.ignorable, EventType.transactionContext...EventType.xaPrepare:
            event = .other(type: header.type)
        default:
            // LOG_EVENT_IGNORABLE_F: the server allows readers that do not know the type to skip it.
            guard header.flags & EventHeader.ignorableFlag != 0 else {
                throw r.error(.unsupported, "event type \(header.type) (\(name)) at offset \(position.offset) is unknown to this decoder and not marked ignorable (LOG_EVENT_IGNORABLE_F), so skipping it could lose changes; upgrade distributary to a version that knows this server (\(serverVersion ?? "unknown version")), or report the server version")
            }
            event = .other(type: header.type)
        }
        return DecodedEvent(header: header, position: position, event: event, rowsFlags: rowsFlags)
    }

    /// Convenience for byte arrays (tests, the file reader).
    public mutating func decode(_ bytes: [UInt8], at offset: UInt64? = nil) throws -> DecodedEvent {
        try bytes.withUnsafeBytes { try decode($0, at: offset) }
    }

    /// Decodes the events of a decompressed TRANSACTION_PAYLOAD with this decoder's state
    /// (their TABLE_MAPs serve the ROWS events after them).
    private mutating func decodeNested(_ payload: [UInt8], outer: BinlogPosition) throws -> [DecodedEvent] {
        guard !payload.isEmpty else {
            throw BinlogError(code: .corrupt, position: outer,
                              message: "TRANSACTION_PAYLOAD at \(outer) (offset \(outer.offset)) holds no events, but a payload always holds a whole transaction; the event is corrupt — re-copy the binlog or restart the stream")
        }
        return try payload.withUnsafeBytes { buffer in
            var events: [DecodedEvent] = []
            var at = 0
            while at < buffer.count {
                let available = buffer.count - at
                let size = available >= EventHeader.size
                    ? Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: at + 9, as: UInt32.self))) : 0
                guard available >= EventHeader.size, size >= EventHeader.size, size <= available else {
                    throw BinlogError(code: .corrupt, position: outer,
                                      message: "TRANSACTION_PAYLOAD at \(outer) (offset \(outer.offset)): the nested event at byte \(at) of the \(buffer.count) decompressed bytes \(available < EventHeader.size ? "has no room for its 19-byte header" : "claims \(size) bytes but \(available) remain"); the event is corrupt — re-copy the binlog or restart the stream")
                }
                do {
                    events.append(try decode(UnsafeRawBufferPointer(rebasing: buffer[at..<(at + size)]), at: nil, nestedIn: outer))
                } catch var error as BinlogError {
                    error.message = "inside the TRANSACTION_PAYLOAD at \(outer) (offset \(outer.offset)), nested event at byte \(at) of the decompressed payload: " + error.message
                    throw error
                }
                at += size
            }
            return events
        }
    }

    // MARK: - Checksums and FORMAT_DESCRIPTION

    private func verifyChecksum(_ bytes: UnsafeRawBufferPointer, header: EventHeader, position: BinlogPosition) throws {
        guard bytes.count >= EventHeader.size + 4 else {
            throw BinlogError(code: .truncated, position: position,
                              message: "\(EventType.name(header.type)) event at \(position) of \(bytes.count) bytes has no room for its CRC32 trailer; the event is cut short")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        let computed = CRC32.checksum(body)
        if computed == stored { return }
        if header.type == EventType.formatDescription && header.flags & 0x0001 != 0 {
            // The server computes the FORMAT_DESCRIPTION's CRC with LOG_EVENT_BINLOG_IN_USE_F
            // cleared and sets the flag in place while the file is open.
            let head = UnsafeRawBufferPointer(rebasing: bytes[0..<17])
            let flagsLow = bytes[17] & 0xFE
            var crc = CRC32.checksum(head)
            crc = withUnsafeBytes(of: flagsLow) { CRC32.checksum($0, crc: crc) }
            crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[18..<(bytes.count - 4)]), crc: crc)
            if crc == stored { return }
        }
        throw BinlogError(code: .checksumMismatch, position: position,
                          message: "\(EventType.name(header.type)) event at \(position) (\(bytes.count) bytes) fails its CRC32 check (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))); the binlog is corrupt — re-copy it from the server, or restart the stream from this position")
    }

    private static func versionProduct(_ version: String) -> Int {
        var parts: [Int] = []
        var current = 0, inNumber = false
        for c in version.utf8 {
            if c >= 0x30 && c <= 0x39 {
                current = current * 10 + Int(c - 0x30); inNumber = true
                if current > 1_000_000 { break }
            } else {
                if inNumber { parts.append(current) }
                current = 0; inNumber = false
                if c != UInt8(ascii: ".") || parts.count == 3 { break }
            }
        }
        if inNumber && parts.count < 3 { parts.append(current) }
        while parts.count < 3 { parts.append(0) }
        return parts[0] * 65536 + parts[1] * 256 + parts[2]
    }

    private mutating func decodeFormatDescription(_ bytes: UnsafeRawBufferPointer, header: EventHeader, position: BinlogPosition) throws -> DecodedEvent {
        var r = ByteReader(bytes, offset: EventHeader.size, eventType: header.type, position: position)
        let version = try r.u16()
        let serverRaw = try r.bytes(50)
        let serverBytes = serverRaw.prefix { $0 != 0 }
        let server = String(decoding: serverBytes, as: UTF8.self)
        _ = try r.u32()
        let headerLength = try r.u8()
        guard headerLength >= 19 else {
            throw r.error(.unsupported, "event header length \(headerLength) is below the v4 length 19; the FORMAT_DESCRIPTION is corrupt")
        }
        let product = EventDecoder.versionProduct(server)
        let isMariaDB = server.contains("MariaDB")
        let hasAlgorithm = isMariaDB ? product >= 0x05_03_00 : product >= 0x05_06_01
        var lengthsEnd = bytes.count
        var checksum = false
        if hasAlgorithm {
            guard bytes.count - 5 >= r.offset else { throw r.truncated(5) }
            let algorithm = bytes[bytes.count - 5]
            switch algorithm {
            case 0, 255: checksum = false
            case 1: checksum = true
            default:
                throw r.error(.unsupported, "checksum algorithm \(algorithm) is unknown (0 = NONE, 1 = CRC32); set `binlog_checksum=CRC32` or `NONE` on the server")
            }
            lengthsEnd = bytes.count - 5
            if checksum { try verifyChecksum(bytes, header: header, position: position) }
        }
        postHeaderLengths = Array(UnsafeRawBufferPointer(rebasing: bytes[r.offset..<lengthsEnd]))
        checksumEnabled = checksum
        commonHeaderLength = Int(headerLength)
        binlogVersion = version
        serverVersion = server
        sawFormatDescription = true
        tableMaps.removeAll()
        return DecodedEvent(header: header, position: position,
                            event: .formatDescription(binlogVersion: version, serverVersion: server, checksum: checksum))
    }

    private mutating func decodeStartV3(_ r: inout ByteReader) throws -> BinlogEvent {
        let version = try r.u16()
        let server = String(decoding: try r.bytes(50).prefix { $0 != 0 }, as: UTF8.self)
        binlogVersion = version
        serverVersion = server
        checksumEnabled = false
        commonHeaderLength = EventHeader.size
        // Binlog v1/v3 post-header lengths: QUERY 11 bytes (no status variables), ROTATE 8 (v3).
        postHeaderLengths = [0, 11, 0, version > 1 ? 8 : 0]
        sawFormatDescription = true
        return .formatDescription(binlogVersion: version, serverVersion: server, checksum: false)
    }

    /// The post-header length the FORMAT_DESCRIPTION gives for `type`, else `value`.
    func postHeaderLength(_ type: UInt8, default value: Int) -> Int {
        let i = Int(type) - 1
        guard i >= 0, i < postHeaderLengths.count else { return value }
        return Int(postHeaderLengths[i])
    }

    // MARK: - QUERY

    private func decodeQuery(_ r: inout ByteReader, compressed: Bool) throws -> BinlogEvent {
        let ph = postHeaderLength(EventType.query, default: 13)
        let fixedStart = r.offset
        _ = try r.u32()
        _ = try r.u32()
        let schemaLength = Int(try r.u8())
        _ = try r.u16()
        var statusLength = 0
        if ph >= 13 { statusLength = Int(try r.u16()) }
        let consumed = r.offset - fixedStart
        if ph > consumed { try r.skip(ph - consumed) }
        try r.skip(statusLength)
        let schema = try r.string(schemaLength)
        try r.skip(1)
        if compressed {
            return .query(schema: schema, sql: String(decoding: try EventDecoder.decompress(&r), as: UTF8.self))
        }
        return .query(schema: schema, sql: r.restString())
    }

    // MARK: - GTID sets

    static func uuid(_ b: UnsafeRawBufferPointer) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { out in
            var p = 0
            for i in 0..<min(b.count, 16) {
                if i == 4 || i == 6 || i == 8 || i == 10 { out[p] = UInt8(ascii: "-"); p += 1 }
                out[p] = digits[Int(b[i] >> 4)]; out[p + 1] = digits[Int(b[i] & 0x0f)]
                p += 2
            }
            return p
        }
    }

    /// PREVIOUS_GTIDS: `uuid:1-5:7-9,…`; MySQL 8.3+ tagged sets mark the count with
    /// format byte 1 in its first and last byte and add a tag after each uuid.
    private func decodeGTIDSet(_ r: inout ByteReader) throws -> String {
        let raw = try r.u64()
        let tagged = raw >> 56 == 1
        let sidCount = tagged ? (raw >> 8) & 0xFFFF_FFFF_FFFF : raw
        guard sidCount <= UInt64(r.remaining / 24) else {
            throw r.error(.truncated, "GTID set announces \(sidCount) source ids but only \(r.remaining) bytes remain; the event is cut short or corrupt")
        }
        var out = ""
        for k in 0..<Int(sidCount) {
            if k > 0 { out += "," }
            out += EventDecoder.uuid(try r.bytes(16))
            if tagged {
                let tag = try TaggedGTID.tag(&r)
                if !tag.isEmpty { out += ":" + tag }
            }
            let intervals = try r.u64()
            guard intervals <= UInt64(r.remaining / 16) else {
                throw r.error(.truncated, "GTID set announces \(intervals) intervals but only \(r.remaining) bytes remain; the event is cut short or corrupt")
            }
            for _ in 0..<Int(intervals) {
                let first = try r.u64(), endExclusive = try r.u64()
                out += endExclusive > first && endExclusive - first > 1 ? ":\(first)-\(endExclusive - 1)" : ":\(first)"
            }
        }
        return out
    }
}
