@testable import BinlogCore

/// Builds binlog events byte by byte for tests, the way a server lays them out.
enum Build {
    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    static func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    static func lenenc(_ v: Int) -> [UInt8] {
        if v < 251 { return [UInt8(v)] }
        if v < 65536 { return [252] + le(UInt64(v), 2) }
        if v < 1 << 24 { return [253] + le(UInt64(v), 3) }
        return [254] + le(UInt64(v), 8)
    }

    static func lenencString(_ s: String) -> [UInt8] { lenenc(s.utf8.count) + Array(s.utf8) }

    /// A whole event: header + body (+ CRC32 when `checksum`).
    static func event(type: UInt8, body: [UInt8], checksum: Bool, at offset: UInt32 = 0, timestamp: UInt32 = 1_700_000_000,
                      serverID: UInt32 = 1, flags: UInt16 = 0, nextPosition: UInt32? = nil) -> [UInt8] {
        let size = UInt32(19 + body.count + (checksum ? 4 : 0))
        var bytes = le(UInt64(timestamp), 4) + [type] + le(UInt64(serverID), 4) + le(UInt64(size), 4)
        bytes += le(UInt64(nextPosition ?? (offset + size)), 4) + le(UInt64(flags), 2) + body
        if checksum { bytes += le(UInt64(CRC32.checksum(bytes)), 4) }
        return bytes
    }

    /// Post-header lengths as MySQL 8 / MariaDB 10.11 announce them.
    static let postHeaderLengths: [UInt8] = {
        var lengths = [UInt8](repeating: 0, count: 170)
        lengths[Int(EventType.query) - 1] = 13
        lengths[Int(EventType.rotate) - 1] = 8
        lengths[Int(EventType.tableMap) - 1] = 8
        for t in EventType.writeRowsV1...EventType.deleteRowsV1 { lengths[Int(t) - 1] = 8 }
        for t in EventType.writeRowsV2...EventType.deleteRowsV2 { lengths[Int(t) - 1] = 10 }
        lengths[Int(EventType.partialUpdateRows) - 1] = 10
        return lengths
    }()

    static func formatDescription(server: String = "10.11.6-MariaDB-log", checksum: Bool, flags: UInt16 = 0) -> [UInt8] {
        var body = le(4, 2) + Array(server.utf8) + [UInt8](repeating: 0, count: 50 - server.utf8.count)
        body += le(1_700_000_000, 4) + [19] + postHeaderLengths + [checksum ? 1 : 0]
        // The CRC is computed with LOG_EVENT_BINLOG_IN_USE_F clear; the flag is set afterwards.
        var bytes = event(type: EventType.formatDescription, body: body + (checksum ? [] : [0, 0, 0, 0]), checksum: checksum, at: 4)
        bytes[17] = UInt8(flags & 0xff)
        bytes[18] = UInt8(flags >> 8)
        return bytes
    }

    static func query(_ sql: String, schema: String = "shop", checksum: Bool, at offset: UInt32) -> [UInt8] {
        let status: [UInt8] = [0x00] + le(0, 4)  // Q_FLAGS2_CODE
        let body = le(7, 4) + le(0, 4) + [UInt8(schema.utf8.count)] + le(0, 2) + le(UInt64(status.count), 2)
            + status + Array(schema.utf8) + [0] + Array(sql.utf8)
        return event(type: EventType.query, body: body, checksum: checksum, at: offset)
    }

    static func tableMap(id: UInt64, schema: String, table: String, types: [UInt8], meta: [UInt8],
                         nullable: [Bool], optional: [(UInt8, [UInt8])] = [], checksum: Bool, at offset: UInt32) -> [UInt8] {
        var body = le(id, 6) + le(1, 2)
        body += [UInt8(schema.utf8.count)] + Array(schema.utf8) + [0]
        body += [UInt8(table.utf8.count)] + Array(table.utf8) + [0]
        body += lenenc(types.count) + types + lenenc(meta.count) + meta
        body += bitmap(nullable)
        for (type, value) in optional { body += [type] + lenenc(value.count) + value }
        return event(type: EventType.tableMap, body: body, checksum: checksum, at: offset)
    }

    /// LSB-first bitmap (NULL bitmaps, columns-present bitmaps).
    static func bitmap(_ bits: [Bool]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (i, b) in bits.enumerated() where b { out[i / 8] |= 1 << UInt8(i % 8) }
        return out
    }

    /// MSB-first bitmap (optional metadata SIGNEDNESS, COLUMN_VISIBILITY).
    static func msbBitmap(_ bits: [Bool]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (i, b) in bits.enumerated() where b { out[i / 8] |= 0x80 >> UInt8(i % 8) }
        return out
    }

    static func rows(type: UInt8, id: UInt64, flags: UInt16 = 1, width: Int, present: [Bool], presentAfter: [Bool]? = nil,
                     extra: [UInt8] = [], images: [UInt8], checksum: Bool, at offset: UInt32) -> [UInt8] {
        var body = le(id, 6) + le(UInt64(flags), 2)
        if type >= EventType.writeRowsV2 { body += le(UInt64(2 + extra.count), 2) + extra }
        body += lenenc(width) + bitmap(present)
        if let presentAfter { body += bitmap(presentAfter) }
        body += images
        return event(type: type, body: body, checksum: checksum, at: offset)
    }
}
