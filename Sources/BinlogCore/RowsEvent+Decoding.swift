extension EventDecoder {
    /// WRITE/UPDATE/DELETE_ROWS (v1, v2 and MariaDB's compressed forms): post-header,
    /// v2 extra data, the columns-present bitmap(s), then row images of NULL bitmap +
    /// values (zlib-compressed in MariaDB's 166–171), each decoded with the TABLE_MAP in
    /// force for the event's table id.
    func decodeRows(_ r: inout ByteReader, type: UInt8) throws -> ([RowChange], UInt16) {
        let compressed = type >= EventType.mariadbWriteRowsCompressed
        let kind: RowChange.Kind
        switch type {
        case EventType.preGAWriteRows, EventType.writeRowsV1, EventType.writeRowsV2,
             EventType.mariadbWriteRowsCompressed, EventType.mariadbWriteRowsCompressedV1: kind = .insert
        case EventType.preGAUpdateRows, EventType.updateRowsV1, EventType.updateRowsV2, EventType.partialUpdateRows,
             EventType.mariadbUpdateRowsCompressed, EventType.mariadbUpdateRowsCompressedV1: kind = .update
        default: kind = .delete
        }
        // v2 layouts (MySQL 30–32 and 39, MariaDB 169–171) add an extra-data length to the post-header.
        let defaultLength = (type >= EventType.writeRowsV2 && type <= EventType.deleteRowsV2) || type == EventType.partialUpdateRows
            || type >= EventType.mariadbWriteRowsCompressedV1 ? 10 : 8
        let ph = postHeaderLength(type, default: defaultLength)
        let tableID: UInt64 = ph == 6 ? UInt64(try r.u32()) : try r.u48()
        let flags = try r.u16()
        var fixed = ph == 6 ? 6 : 8
        if ph >= 10 {
            let extraLength = Int(try r.u16())
            fixed += 2
            guard extraLength >= 2 else {
                throw r.error(.corrupt, "ROWS extra-data length \(extraLength) is below its own 2 bytes; the event is corrupt")
            }
            try r.require(extraLength - 2)
            var x = ByteReader(r.buffer, offset: r.offset, end: r.offset + extraLength - 2, eventType: r.eventType, position: r.position)
            try r.skip(extraLength - 2)
            try skipExtraRowInfo(&x, isUpdate: kind == .update)
        }
        if ph > fixed { try r.skip(ph - fixed) }
        // MySQL 5.1 could log a rows event with no body at all: nothing changed.
        if r.isAtEnd { return ([], flags) }
        if type <= EventType.preGADeleteRows {
            throw r.error(.unsupported, "pre-GA row events (MySQL 5.1.5–5.1.17) store rows in the storage engine's record layout, which this decoder does not read; upgrade the source to MySQL ≥ 5.1.18 and take a new snapshot")
        }

        let width = try r.lenencCount()
        guard let table = tableMaps[tableID] else {
            throw r.error(.unknownTable, "rows for table id \(tableID) arrive without its TABLE_MAP; start reading at the transaction's first event (its GTID or BEGIN), not in its middle")
        }
        guard width == table.columnCount else {
            throw r.error(.corrupt, "rows carry \(width) columns but the TABLE_MAP of `\(table.schema)`.`\(table.table)` (table id \(tableID)) has \(table.columnCount); the event does not belong to that TABLE_MAP or is corrupt — re-copy the binlog or restart the stream from the transaction's start")
        }
        let bitmapBytes = (width + 7) / 8
        let beforeColumns = try r.bytes(bitmapBytes)
        let afterColumns = kind == .update && type != EventType.preGAUpdateRows ? try r.bytes(bitmapBytes) : beforeColumns

        let beforeCount = EventDecoder.countBits(beforeColumns, width: width)
        let afterCount = EventDecoder.countBits(afterColumns, width: width)
        if type == EventType.partialUpdateRows {
            var changes: [RowChange] = []
            while !r.isAtEnd {
                let rowStart = r.offset
                var documents: [Int: UnsafeRawBufferPointer] = [:]
                let before = try decodeImage(&r, table: table, width: width, present: beforeColumns,
                                             presentCount: beforeCount, documents: &documents)
                let after = try decodePartialImage(&r, table: table, width: width, present: afterColumns,
                                                   presentCount: afterCount, before: before, documents: documents)
                changes.append(RowChange(kind: .update, table: table, before: before, after: after))
                try Self.requireProgress(&r, since: rowStart)
            }
            return (changes, flags)
        }
        func images(_ r: inout ByteReader) throws -> [RowChange] {
            var changes: [RowChange] = []
            while !r.isAtEnd {
                let rowStart = r.offset
                switch kind {
                case .insert:
                    let after = try decodeImage(&r, table: table, width: width, present: afterColumns, presentCount: afterCount)
                    changes.append(RowChange(kind: .insert, table: table, before: nil, after: after))
                case .delete:
                    let before = try decodeImage(&r, table: table, width: width, present: beforeColumns, presentCount: beforeCount)
                    changes.append(RowChange(kind: .delete, table: table, before: before, after: nil))
                case .update:
                    let before = try decodeImage(&r, table: table, width: width, present: beforeColumns, presentCount: beforeCount)
                    let after = try decodeImage(&r, table: table, width: width, present: afterColumns, presentCount: afterCount)
                    changes.append(RowChange(kind: .update, table: table, before: before, after: after))
                }
                try Self.requireProgress(&r, since: rowStart)
            }
            return changes
        }
        if !compressed { return (try images(&r), flags) }
        let rows = try EventDecoder.decompress(&r)
        let changes = try rows.withUnsafeBytes { buffer in
            var inner = ByteReader(buffer, eventType: r.eventType, position: r.position)
            return try images(&inner)
        }
        return (changes, flags)
    }

    /// MariaDB's compressed payload: a byte `0x80 | n`, the uncompressed length in `n`
    /// big-endian bytes, then a zlib stream.
    static func decompress(_ r: inout ByteReader) throws -> [UInt8] {
        let head = try r.u8()
        let lengthBytes = Int(head & 0x07)
        guard head & 0x80 != 0, (1...4).contains(lengthBytes) else {
            throw r.error(.corrupt, "compressed payload header 0x\(String(head, radix: 16)) is invalid; the event is corrupt")
        }
        let length = Int(try r.uintBE(lengthBytes))
        let start = r.offset
        do {
            return try Inflate.zlib(r.rest(), expectedSize: length)
        } catch let failure as Inflate.Failure {
            r.offset = start
            throw r.error(.corrupt, "compressed payload does not inflate (\(failure.reason)); the event is corrupt — re-copy the binlog or restart the stream")
        }
    }

    /// v2 extra row info: TLV entries, NDB info (tag 0: length incl. its 2 header
    /// bytes) and partition info (tag 1: one or, for updates, two partition ids).
    private func skipExtraRowInfo(_ x: inout ByteReader, isUpdate: Bool) throws {
        while !x.isAtEnd {
            let tag = try x.u8()
            switch tag {
            case 0:
                let length = Int(try x.u8())
                guard length >= 2 else {
                    throw x.error(.corrupt, "extra row info (NDB) length \(length) is below its 2-byte header; the event is corrupt")
                }
                try x.skip(length - 1)
            case 1:
                try x.skip(isUpdate ? 4 : 2)
            default:
                throw x.error(.corrupt, "unknown extra row info tag \(tag) in a ROWS_V2 event; the event is corrupt or from an unsupported server")
            }
        }
    }

    /// One row image: a NULL bitmap over the present columns, then their values.
    /// Columns absent from the image are `nil`.
    private static func countBits(_ bitmap: UnsafeRawBufferPointer, width: Int) -> Int {
        var n = 0
        for i in 0..<width where bitmap[i >> 3] & (1 << UInt8(i & 7)) != 0 { n += 1 }
        return n
    }

    /// A before image that also keeps each JSON column's binary document (the bytes stay
    /// in the event buffer), for the JSON diffs of the after image to apply to.
    private func decodeImage(_ r: inout ByteReader, table: TableMap, width: Int, present: UnsafeRawBufferPointer,
                             presentCount: Int, documents: inout [Int: UnsafeRawBufferPointer]) throws -> [ColumnValue?] {
        let nulls = try r.bytes((presentCount + 7) / 8)
        var row = [ColumnValue?](repeating: nil, count: table.columnCount)
        let codecs = table.codecs
        var j = 0
        for i in 0..<width where present[i >> 3] & (1 << UInt8(i & 7)) != 0 {
            if nulls[j >> 3] & (1 << UInt8(j & 7)) != 0 {
                row[i] = .null
            } else {
                let start = r.offset
                row[i] = try codecs[i].decode(&r, column: i)
                if case .json(let lengthBytes) = codecs[i] {
                    documents[i] = UnsafeRawBufferPointer(rebasing: r.buffer[(start + lengthBytes)..<r.offset])
                }
            }
            j += 1
        }
        return row
    }

    /// The after image of a PARTIAL_UPDATE_ROWS event: `value_options` (bit 0 =
    /// PARTIAL_JSON_UPDATES), then when set one bit per JSON column of the table (present
    /// in the image or not) saying whether its value is a list of diffs, then the image.
    /// Diffs are applied to the before image's document and yield the whole new document;
    /// when the before image lacks the column (`binlog_row_image=MINIMAL`), the new
    /// document cannot be known and the column is `nil`, like any column the image lacks.
    private func decodePartialImage(_ r: inout ByteReader, table: TableMap, width: Int, present: UnsafeRawBufferPointer,
                                    presentCount: Int, before: [ColumnValue?],
                                    documents: [Int: UnsafeRawBufferPointer]) throws -> [ColumnValue?] {
        let optionsAt = r.offset
        let options = try r.lenenc()
        guard options <= 1 else {
            r.offset = optionsAt
            throw r.error(.corrupt, "PARTIAL_UPDATE_ROWS value options \(options) are unknown (only bit 0, PARTIAL_JSON_UPDATES, exists); the event is corrupt")
        }
        let codecs = table.codecs
        var partialBits: UnsafeRawBufferPointer?
        if options & 1 != 0 {
            var jsonColumns = 0
            for codec in codecs { if case .json = codec { jsonColumns += 1 } }
            partialBits = try r.bytes((jsonColumns + 7) / 8)
        }
        let nulls = try r.bytes((presentCount + 7) / 8)
        var row = [ColumnValue?](repeating: nil, count: table.columnCount)
        var j = 0
        var jsonIndex = 0
        for i in 0..<width {
            var isDiff = false
            if case .json = codecs[i], let bits = partialBits {
                isDiff = bits[jsonIndex >> 3] & (1 << UInt8(jsonIndex & 7)) != 0
                jsonIndex += 1
            }
            guard present[i >> 3] & (1 << UInt8(i & 7)) != 0 else { continue }
            defer { j += 1 }
            if nulls[j >> 3] & (1 << UInt8(j & 7)) != 0 {
                row[i] = .null
            } else if isDiff {
                row[i] = try applyDiffs(&r, table: table, column: i, before: before[i], document: documents[i]).map(ColumnValue.json)
            } else {
                row[i] = try codecs[i].decode(&r, column: i)
            }
        }
        return row
    }

    /// Reads one column's JSON diff list (a 4-byte length, then the diffs) and applies it
    /// to the column's before-image document; `nil` when the before image lacks the column.
    private func applyDiffs(_ r: inout ByteReader, table: TableMap, column: Int, before: ColumnValue?,
                            document: UnsafeRawBufferPointer?) throws -> String? {
        let start = r.offset
        let length = Int(try r.u32())
        let diffs = try r.bytes(length)
        if case .null? = before {
            r.offset = start
            throw r.error(.corrupt, "column \(column + 1) (`\(table.columnName(column))`) of `\(table.schema)`.`\(table.table)` is a partial JSON update of a NULL value, which the server never logs; the event is corrupt")
        }
        guard let document else { return nil }
        do {
            return try JSONDiff.apply(diffs, to: document)
        } catch let failure as MySQLJSON.Failure {
            r.offset = start
            throw r.error(.corrupt, "the partial JSON update of column \(column + 1) (`\(table.columnName(column))`) of `\(table.schema)`.`\(table.table)` does not apply to its before image (\(failure.reason)); the event is corrupt or the before image is not the row's full value — check `binlog_row_image=FULL` and resync the table")
        }
    }

    @inline(__always)
    private func decodeImage(_ r: inout ByteReader, table: TableMap, width: Int,
                             present: UnsafeRawBufferPointer, presentCount: Int) throws -> [ColumnValue?] {
        let nulls = try r.bytes((presentCount + 7) / 8)
        var row = [ColumnValue?](repeating: nil, count: table.columnCount)
        let codecs = table.codecs
        var j = 0
        for i in 0..<width where present[i >> 3] & (1 << UInt8(i & 7)) != 0 {
            if nulls[j >> 3] & (1 << UInt8(j & 7)) != 0 {
                row[i] = .null
            } else {
                row[i] = try codecs[i].decode(&r, column: i)
            }
            j += 1
        }
        return row
    }

    /// A row image always holds at least its NULL bitmap or a value; a row that read no
    /// bytes (no column present) would repeat forever over the rest of the event.
    static func requireProgress(_ r: inout ByteReader, since start: Int) throws {
        if r.offset == start {
            throw r.error(.corrupt, "a row image of no bytes (the event lists no present columns) with \(r.remaining) bytes left; the event is corrupt")
        }
    }
}
