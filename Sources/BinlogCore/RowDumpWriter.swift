/// Renders the row changes of decoded binlog events as `distributary binlog dump` prints
/// them, into a reusable byte buffer the caller drains in large chunks.
///
/// Feed every decoded event of a file in log order with `consume(_:)`: the writer keeps
/// track of the transaction's GTID (MariaDB GTID or MySQL GTID event; none for anonymous
/// or pre-GTID logs) and renders each changed row of each ROWS event, in log order,
/// including rows of groups later rolled back (those rows were logged because a
/// non-transactional table changed anyway). It does no I/O, so its output is tested
/// byte for byte.
///
/// `jsonl`: one JSON object per changed row, as DESIGN.md specifies:
/// `{"file","pos","gtid","db","table","op","before","after"}` where `pos` is the start
/// offset of the ROWS event that carries the row (rows of one event share it), `gtid` the
/// transaction's GTID or `null`, and `before`/`after` map each column present in the
/// logged image, in column order, to its value, spelled as `ColumnValue.appendJSON(to:)`
/// spells it (the common kinds are written straight into the byte buffer); a column
/// absent from a partial image (`binlog_row_image=MINIMAL`) is left out, and a missing
/// image is `null`.
///
/// `text`: one block per row in the style of `mysqlbinlog -vv`, with column names:
///
/// ```
/// # at 1043 in mysql-bin.000001, GTID 0-1-2
/// ### UPDATE `shop`.`products`
/// ### WHERE
/// ###   id=7
/// ###   name='Tea'
/// ### SET
/// ###   id=7
/// ###   name='Green tea'
/// ```
public struct RowDumpWriter: Sendable {
    /// The output formats of `binlog dump`.
    public enum Format: String, Sendable, CaseIterable {
        /// One JSON object per line and changed row.
        case jsonl
        /// Readable blocks in the style of `mysqlbinlog -vv`.
        case text
    }

    /// The format this writer renders.
    public let format: Format
    /// The GTID of the transaction the next row belongs to, if any.
    public private(set) var gtid: String?
    /// Rows rendered so far.
    public private(set) var rowCount = 0

    /// Rendered UTF-8 output not yet drained (copied on write when the writer is copied).
    private var buffer: ByteBuffer
    /// Scratch text for the value kinds rendered through `ColumnValue`'s own spelling.
    private var scratch = ""
    /// `true` between BEGIN (or a MariaDB GTID that stands for it) and its COMMIT/XID/ROLLBACK.
    private var inGroup = false
    /// Rendered column keys of the last table seen, reused while its TABLE_MAP stays the same.
    private var keyCache: (tableID: UInt64, schema: String, table: String, names: [String]?, count: Int, keys: [[UInt8]])?

    /// Creates a writer whose buffer starts with room for `capacity` bytes.
    public init(format: Format, capacity: Int = 1 << 20) {
        self.format = format
        buffer = ByteBuffer(capacity: capacity)
        scratch.reserveCapacity(64)
    }

    /// UTF-8 bytes waiting to be drained.
    public var pendingByteCount: Int { buffer.count }

    /// Feeds the next decoded event in log order; renders the rows of ROWS events.
    public mutating func consume(_ event: DecodedEvent) {
        switch event.event {
        case .gtid(let id):
            gtid = id; inGroup = false
        case .anonymousGTID:
            gtid = nil; inGroup = false
        case .mariadbGTID(let id):
            gtid = id.description; inGroup = !id.isStandalone
        case .query(_, let sql):
            switch QueryKind(sql) {
            case .begin, .xaStart:
                inGroup = true
            case .commit, .rollback:
                gtid = nil; inGroup = false
            case .other:
                // A statement outside BEGIN…COMMIT (DDL) is its GTID's whole group.
                if !inGroup { gtid = nil }
            }
        case .xid:
            gtid = nil; inGroup = false
        case .rows(let changes):
            for change in changes {
                append(change, file: event.position.file, position: event.position.offset, gtid: gtid)
            }
            // Rows without BEGIN (non-transactional engines) end their group at the statement's end.
            if !inGroup && event.isStatementEnd { gtid = nil }
        case .transactionPayload(let nested):
            // MySQL 8 compressed transaction: its events stand where the payload is.
            for inner in nested { consume(inner) }
        case .rotate, .formatDescription:
            gtid = nil; inGroup = false
        default:
            break
        }
    }

    /// Renders one changed row.
    public mutating func append(_ change: RowChange, file: String, position: UInt64, gtid: String?) {
        rowCount += 1
        if !isKnownUniquelyReferenced(&buffer) { buffer = buffer.copy() }
        switch format {
        case .jsonl: appendJSONLine(change, file: file, position: position, gtid: gtid)
        case .text: appendTextBlock(change, file: file, position: position, gtid: gtid)
        }
    }

    /// Hands the pending output to `body` as UTF-8 bytes, then empties the buffer
    /// (keeping its capacity). Nothing is removed when `body` throws.
    public mutating func drain(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if buffer.count == 0 { return }
        try body(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count))
        if !isKnownUniquelyReferenced(&buffer) { buffer = ByteBuffer(capacity: buffer.capacity) } else { buffer.count = 0 }
    }

    /// A value's JSON, byte for byte what `ColumnValue.appendJSON(to:)` writes.
    private mutating func putJSON(_ value: ColumnValue) {
        switch value {
        case .null: buffer.put("null")
        case .int(let v): buffer.putInt(v)
        case .uint(let v): buffer.putUInt(v)
        case .year(let y): buffer.putInt(Int64(y))
        case .decimal(let s), .string(let s), .date(let s), .datetime(let s), .time(let s), .timestamp(let s):
            buffer.putJSONString(s)
        case .bytes(let b), .geometry(let b):
            buffer.put("{\"hex\":\""); buffer.putHex(b); buffer.put("\"}")
        case .json(let s):
            buffer.put(s)
        case .float, .double, .enumeration, .set:
            scratch.removeAll(keepingCapacity: true)
            value.appendJSON(to: &scratch)
            buffer.put(scratch)
        }
    }

    /// `"name":` for each column of the table, cached while the table stays the same.
    private mutating func columnKeys(_ table: TableMap) -> [[UInt8]] {
        let names = table.columnNames
        if let cache = keyCache, cache.tableID == table.tableID, cache.count == table.columnCount,
           cache.schema == table.schema, cache.table == table.table, cache.names == names {
            return cache.keys
        }
        var scratchBytes = ByteBuffer(capacity: 64)
        var keys: [[UInt8]] = []
        keys.reserveCapacity(table.columnCount)
        for i in 0..<table.columnCount {
            scratchBytes.count = 0
            switch format {
            case .jsonl: scratchBytes.putJSONString(table.columnName(i)); scratchBytes.append(0x3a)
            case .text: scratchBytes.put("###   "); scratchBytes.put(table.columnName(i)); scratchBytes.append(0x3d)
            }
            keys.append(Array(UnsafeBufferPointer(start: scratchBytes.base, count: scratchBytes.count)))
        }
        keyCache = (table.tableID, table.schema, table.table, names, table.columnCount, keys)
        return keys
    }

    // MARK: - JSON lines

    private mutating func appendJSONLine(_ change: RowChange, file: String, position: UInt64, gtid: String?) {
        buffer.put("{\"file\":")
        buffer.putJSONString(file)
        buffer.put(",\"pos\":")
        buffer.putUInt(position)
        buffer.put(",\"gtid\":")
        if let gtid { buffer.putJSONString(gtid) } else { buffer.put("null") }
        buffer.put(",\"db\":")
        buffer.putJSONString(change.table.schema)
        buffer.put(",\"table\":")
        buffer.putJSONString(change.table.table)
        switch change.kind {
        case .insert: buffer.put(",\"op\":\"insert\",\"before\":")
        case .update: buffer.put(",\"op\":\"update\",\"before\":")
        case .delete: buffer.put(",\"op\":\"delete\",\"before\":")
        }
        let keys = columnKeys(change.table)
        appendJSONImage(change.before, keys: keys)
        buffer.put(",\"after\":")
        appendJSONImage(change.after, keys: keys)
        buffer.put("}\n")
    }

    private mutating func appendJSONImage(_ image: RowImage?, keys: [[UInt8]]) {
        guard let image else { buffer.put("null"); return }
        buffer.append(0x7b)
        var first = true
        if image.storage.isLiteral {
            for i in 0..<image.count {
                guard let value = image[i] else { continue }
                if !first { buffer.append(0x2c) }
                first = false
                putKey(i, keys: keys)
                putJSON(value)
            }
        } else {
            let storage = image.storage
            storage.bytes.withUnsafeBytes { bytes in
                for i in 0..<image.count {
                    let slot = storage.slots[image.base + i]
                    if slot.state == ValueSlot.absent { continue }
                    if !first { buffer.append(0x2c) }
                    first = false
                    putKey(i, keys: keys)
                    if slot.state == ValueSlot.null { buffer.put("null"); continue }
                    storage.render(column: i, slot: slot, bytes: bytes, json: true, into: &buffer)
                }
            }
        }
        buffer.append(0x7d)
    }

    @inline(__always)
    private mutating func putKey(_ i: Int, keys: [[UInt8]]) {
        if i < keys.count { buffer.append(keys[i]) } else { buffer.putJSONString("@\(i + 1)"); buffer.append(0x3a) }
    }

    // MARK: - Text

    private mutating func appendTextBlock(_ change: RowChange, file: String, position: UInt64, gtid: String?) {
        buffer.put("# at ")
        buffer.putUInt(position)
        buffer.put(" in ")
        buffer.put(file)
        if let gtid { buffer.put(", GTID "); buffer.put(gtid) }
        switch change.kind {
        case .insert: buffer.put("\n### INSERT INTO ")
        case .update: buffer.put("\n### UPDATE ")
        case .delete: buffer.put("\n### DELETE FROM ")
        }
        putQuotedName(change.table.schema)
        buffer.append(0x2e)
        putQuotedName(change.table.table)
        buffer.append(0x0a)
        let keys = columnKeys(change.table)
        if let before = change.before {
            buffer.put("### WHERE\n")
            appendTextImage(before, keys: keys)
        }
        if let after = change.after {
            buffer.put("### SET\n")
            appendTextImage(after, keys: keys)
        }
    }

    private mutating func appendTextImage(_ image: RowImage, keys: [[UInt8]]) {
        let storage = image.storage
        storage.bytes.withUnsafeBytes { bytes in
            for i in 0..<image.count {
                if !storage.isLiteral {
                    let slot = storage.slots[image.base + i]
                    if slot.state == ValueSlot.absent { continue }
                    putTextKey(i, keys: keys)
                    if slot.state == ValueSlot.null { buffer.put("NULL") } else { putText(slot, column: i, codec: storage.codecs[i], bytes: bytes, storage: storage) }
                } else {
                    guard let value = image[i] else { continue }
                    putTextKey(i, keys: keys)
                    putText(value)
                }
                buffer.append(0x0a)
            }
        }
    }

    @inline(__always)
    private mutating func putTextKey(_ i: Int, keys: [[UInt8]]) {
        if i < keys.count { buffer.append(keys[i]) } else { buffer.put("###   @\(i + 1)=") }
    }

    /// A decoded value as the text format shows it, straight from the event's bytes for
    /// the common kinds; the rest through `ColumnValue`, with identical output.
    private mutating func putText(_ slot: ValueSlot, column: Int, codec: ColumnCodec, bytes: UnsafeRawBufferPointer, storage: RowStorage) {
        switch codec {
        case .integer, .decimal:
            storage.render(column: column, slot: slot, bytes: bytes, json: false, into: &buffer)
            return
        case .date, .timeOld, .datetimeOld, .timestampOld, .time2, .datetime2, .timestamp2:
            buffer.append(0x27)
            storage.render(column: column, slot: slot, bytes: bytes, json: false, into: &buffer)
            buffer.append(0x27)
            return
        case .string(_, let text), .blob(_, let text):
            let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(slot.offset)..<(Int(slot.offset) + Int(slot.length))])
            if text.isVerbatim(raw) { buffer.putQuoted(raw.assumingMemoryBound(to: UInt8.self)); return }
        default:
            break
        }
        putText(storage.value(ofColumn: column, slot: slot, in: bytes) ?? .null)
    }

    private mutating func putQuotedName(_ name: String) {
        buffer.append(0x60)
        for b in name.utf8 {
            buffer.append(b)
            if b == 0x60 { buffer.append(b) }
        }
        buffer.append(0x60)
    }

    /// A value as the text format shows it: SQL-like literals — numbers bare, text and
    /// temporal values in single quotes with backslash escapes, binary data as `0x…`
    /// (`''` when empty), `NULL`.
    private mutating func putText(_ value: ColumnValue) {
        switch value {
        case .null:
            buffer.put("NULL")
        case .int(let v):
            buffer.putInt(v)
        case .uint(let v):
            buffer.putUInt(v)
        case .float, .double, .decimal, .year:
            buffer.put(value.text ?? "NULL")
        case .bytes(let b), .geometry(let b):
            if b.isEmpty { buffer.put("''") } else { buffer.put("0x"); buffer.putHex(b) }
        case .enumeration(_, let label):
            if label == nil { buffer.put(value.text ?? "NULL") } else { buffer.putQuoted(value.text ?? "") }
        case .set(_, let labels):
            if labels == nil { buffer.put(value.text ?? "NULL") } else { buffer.putQuoted(value.text ?? "") }
        case .string(let s), .date(let s), .datetime(let s), .time(let s), .timestamp(let s), .json(let s):
            buffer.putQuoted(s)
        }
    }

}

/// UTF-8 checks that let valid text go to the output as the bytes it is.
enum UTF8Check {
    /// `true` when every byte is below 0x80 (eight at a time).
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 0
        var acc: UInt64 = 0
        while n - i >= 8 {
            acc |= bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n { acc |= UInt64(bytes[i]); i += 1 }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    /// `true` when the bytes are well-formed UTF-8 (no overlongs, surrogates or values
    /// over U+10FFFF), i.e. `String(decoding:as:)` would keep them unchanged.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && bytes[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard cont(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard cont(1), cont(2) else { return false }
                let b1 = bytes[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return false }
                if b0 == 0xED && b1 > 0x9F { return false }
                i += 3
            case 0xF0...0xF4:
                guard cont(1), cont(2), cont(3) else { return false }
                let b1 = bytes[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return false }
                if b0 == 0xF4 && b1 > 0x8F { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }
}
