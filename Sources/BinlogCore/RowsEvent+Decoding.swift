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
        if skippedTableIDs.contains(tableID) {
            try r.skip(r.remaining)
            return ([], flags)
        }
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
        let partial = type == EventType.partialUpdateRows
        let imagesPerRow = kind == .update ? 2 : 1
        let codecs = table.codecs
        // Every row of the event becomes `imagesPerRow` runs of `width` slots in one
        // buffer; the bytes stay where they are (a copy of the event owned by the rows).
        var slots = SlotBuffer(capacity: width * imagesPerRow * 4)
        var extras: [String] = []
        var storageTookSlots = false
        defer { if !storageTookSlots { slots.deallocate() } }
        let bytes: [UInt8]
        if compressed {
            bytes = try EventDecoder.decompress(&r)
            try bytes.withUnsafeBytes { buffer in
                var inner = ByteReader(buffer, eventType: r.eventType, position: r.position)
                try decodeImages(&inner, kind: kind, partial: partial, table: table, codecs: codecs, width: width,
                                 beforeColumns: beforeColumns, beforeCount: beforeCount,
                                 afterColumns: afterColumns, afterCount: afterCount, slots: &slots, extras: &extras)
            }
        } else {
            // Offsets stay those of the event, so messages name the byte in the event.
            bytes = Array(UnsafeRawBufferPointer(rebasing: r.buffer[0..<r.end]))
            try bytes.withUnsafeBytes { buffer in
                var inner = ByteReader(buffer, offset: r.offset, end: r.end, eventType: r.eventType, position: r.position)
                try decodeImages(&inner, kind: kind, partial: partial, table: table, codecs: codecs, width: width,
                                 beforeColumns: beforeColumns, beforeCount: beforeCount,
                                 afterColumns: afterColumns, afterCount: afterCount, slots: &slots, extras: &extras)
            }
            r.offset = r.end
        }
        let stride = width * imagesPerRow
        guard stride > 0, slots.count > 0 else { return ([], flags) }
        let slotCount = slots.count
        let storage = RowStorage(bytes: bytes, slots: slots, extras: extras, table: table)
        storageTookSlots = true
        var changes: [RowChange] = []
        changes.reserveCapacity(slotCount / stride)
        var base = 0
        while base < slotCount {
            let first = RowImage(storage: storage, base: base, count: width)
            switch kind {
            case .insert: changes.append(RowChange(kind: .insert, table: table, before: nil, after: first))
            case .delete: changes.append(RowChange(kind: .delete, table: table, before: first, after: nil))
            case .update:
                changes.append(RowChange(kind: .update, table: table, before: first,
                                         after: RowImage(storage: storage, base: base + width, count: width)))
            }
            base += stride
        }
        return (changes, flags)
    }

    /// Every row of a ROWS event's body into slots: one image per row for inserts and
    /// deletes, before then after for updates.
    private func decodeImages(_ r: inout ByteReader, kind: RowChange.Kind, partial: Bool, table: TableMap,
                              codecs: [ColumnCodec], width: Int,
                              beforeColumns: UnsafeRawBufferPointer, beforeCount: Int,
                              afterColumns: UnsafeRawBufferPointer, afterCount: Int,
                              slots: inout SlotBuffer, extras: inout [String]) throws {
        let rowsStart = r.offset
        var reserved = false
        try codecs.withUnsafeBufferPointer { codecs in
            while !r.isAtEnd {
                let rowStart = r.offset
                switch kind {
                case .insert:
                    try Self.decodeImage(&r, codecs: codecs, width: width, present: afterColumns, presentCount: afterCount,
                                         slots: &slots, extras: &extras)
                case .delete:
                    try Self.decodeImage(&r, codecs: codecs, width: width, present: beforeColumns, presentCount: beforeCount,
                                         slots: &slots, extras: &extras)
                case .update:
                    let beforeBase = slots.count
                    try Self.decodeImage(&r, codecs: codecs, width: width, present: beforeColumns, presentCount: beforeCount,
                                         slots: &slots, extras: &extras)
                    if partial {
                        try decodePartialImage(&r, table: table, width: width, present: afterColumns, presentCount: afterCount,
                                               beforeBase: beforeBase, slots: &slots, extras: &extras)
                    } else {
                        try Self.decodeImage(&r, codecs: codecs, width: width, present: afterColumns, presentCount: afterCount,
                                             slots: &slots, extras: &extras)
                    }
                }
                try Self.requireProgress(&r, since: rowStart)
                if !reserved {
                    // Rows of one event are alike: size the slots from the first one.
                    reserved = true
                    let rows = min(r.remaining / max(r.offset - rowsStart, 1) + 1, 1 << 16)
                    slots.reserve(rows * slots.count)
                }
            }
        }
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

    private static func countBits(_ bitmap: UnsafeRawBufferPointer, width: Int) -> Int {
        var n = 0
        for i in 0..<width where bitmap[i >> 3] & (1 << UInt8(i & 7)) != 0 { n += 1 }
        return n
    }

    /// One row image: a NULL bitmap over the present columns, then their values, into
    /// `width` new slots (absent columns stay `absent`).
    @inline(__always)
    private static func decodeImage(_ r: inout ByteReader, codecs: UnsafeBufferPointer<ColumnCodec>, width: Int,
                                    present: UnsafeRawBufferPointer, presentCount: Int,
                                    slots: inout SlotBuffer, extras: inout [String]) throws {
        let nulls = try r.bytes((presentCount + 7) / 8)
        let first = slots.appendAbsent(width)
        let out = slots.base + first
        var j = 0
        for i in 0..<width where present[i >> 3] & (1 << UInt8(i & 7)) != 0 {
            if nulls[j >> 3] & (1 << UInt8(j & 7)) != 0 {
                out[i].state = ValueSlot.null
            } else {
                try codecs[i].decode(&r, column: i, into: &out[i], extras: &extras)
            }
            j += 1
        }
    }

    /// The after image of a PARTIAL_UPDATE_ROWS event: `value_options` (bit 0 =
    /// PARTIAL_JSON_UPDATES), then when set one bit per JSON column of the table (present
    /// in the image or not) saying whether its value is a list of diffs, then the image.
    /// Diffs are applied to the before image's document (its slot at `beforeBase`) and
    /// yield the whole new document; when the before image lacks the column
    /// (`binlog_row_image=MINIMAL`), the new document cannot be known and the column is
    /// absent, like any column the image lacks.
    private func decodePartialImage(_ r: inout ByteReader, table: TableMap, width: Int, present: UnsafeRawBufferPointer,
                                    presentCount: Int, beforeBase: Int, slots: inout SlotBuffer, extras: inout [String]) throws {
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
        let base = slots.appendAbsent(width)
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
                slots.base[base + i].state = ValueSlot.null
            } else if isDiff {
                if let text = try applyDiffs(&r, table: table, column: i, before: slots.base[beforeBase + i]) {
                    extras.append(text)
                    slots.base[base + i] = ValueSlot(payload: UInt64(extras.count - 1), state: ValueSlot.value)
                }
            } else {
                try codecs[i].decode(&r, column: i, into: &slots.base[base + i], extras: &extras)
            }
        }
    }

    /// Reads one column's JSON diff list (a 4-byte length, then the diffs) and applies it
    /// to the column's before-image document (whose bytes the before slot locates in the
    /// reader's buffer); `nil` when the before image lacks the column.
    private func applyDiffs(_ r: inout ByteReader, table: TableMap, column: Int, before: ValueSlot) throws -> String? {
        let start = r.offset
        let length = Int(try r.u32())
        let diffs = try r.bytes(length)
        if before.state == ValueSlot.null {
            r.offset = start
            throw r.error(.corrupt, "column \(column + 1) (`\(table.columnName(column))`) of `\(table.schema)`.`\(table.table)` is a partial JSON update of a NULL value, which the server never logs; the event is corrupt")
        }
        guard before.state == ValueSlot.value else { return nil }
        let document = UnsafeRawBufferPointer(rebasing: r.buffer[Int(before.offset)..<(Int(before.offset) + Int(before.length))])
        do {
            return try JSONDiff.apply(diffs, to: document)
        } catch let failure as MySQLJSON.Failure {
            r.offset = start
            throw r.error(.corrupt, "the partial JSON update of column \(column + 1) (`\(table.columnName(column))`) of `\(table.schema)`.`\(table.table)` does not apply to its before image (\(failure.reason)); the event is corrupt or the before image is not the row's full value — check `binlog_row_image=FULL` and resync the table")
        }
    }

    /// A row image always holds at least its NULL bitmap or a value; a row that read no
    /// bytes (no column present) would repeat forever over the rest of the event.
    static func requireProgress(_ r: inout ByteReader, since start: Int) throws {
        if r.offset == start {
            throw r.error(.corrupt, "a row image of no bytes (the event lists no present columns) with \(r.remaining) bytes left; the event is corrupt")
        }
    }
}
