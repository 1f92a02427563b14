import BinlogCore

// One fuzz input is a binlog byte stream: optionally the file magic `fe 62 69 6e`, then
// events one after another, each cut at the length its header claims (the rest, when
// the claim does not fit, goes in as a final cut-short event). An input that does not
// begin with a FORMAT_DESCRIPTION gets a real MariaDB 10.11 one (CRC32) in front, so
// bare TABLE_MAP/ROWS/GTID events reach their decoders. With CRC32 announced, the
// harness rewrites each event's trailer to match its bytes; otherwise nearly every
// mutation would stop at the checksum. Inputs with the magic are decoded as a file
// (offsets given), inputs without as a replication stream (offsets from the headers).
//
// Every decoded value is rendered as text and as JSON, as the sinks and `binlog dump` do.

/// FORMAT_DESCRIPTION of MariaDB 10.11.19 (Debian 12), binlog_checksum=CRC32.
let mariaDBFormatDescription: [UInt8] = [
    0x4c, 0x1b, 0x03, 0x6b, 0x0f, 0x01, 0x00, 0x00, 0x00, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x31, 0x30, 0x2e, 0x31, 0x31, 0x2e, 0x31, 0x39, 0x2d, 0x4d, 0x61, 0x72, 0x69, 0x61, 0x44, 0x42, 0x2d,
    0x30, 0x2b, 0x64, 0x65, 0x62, 0x31, 0x32, 0x75, 0x31, 0x2d, 0x6c, 0x6f, 0x67, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x13, 0x38, 0x0d, 0x00, 0x08, 0x00, 0x12, 0x00, 0x04, 0x04, 0x04, 0x04, 0x12, 0x00, 0x00, 0xe4, 0x00, 0x04, 0x1a,
    0x08, 0x00, 0x00, 0x00, 0x08, 0x08, 0x08, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x0a, 0x0a, 0x0a,
] + [UInt8](repeating: 0, count: 109) + [
    0x04, 0x13, 0x04, 0x00, 0x0d, 0x08, 0x08, 0x08, 0x0a, 0x0a, 0x0a, 0x01, 0xc7, 0xb4, 0xe7, 0x45,
]

let crcTable: [UInt32] = (0..<256).map { (n: Int) -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

/// Rewrites the last four bytes of `event` to the CRC32 of the rest.
func fixChecksum(_ event: inout [UInt8]) {
    guard event.count >= 19 + 4 else { return }
    let crc = crc32(event[0..<(event.count - 4)])
    for i in 0..<4 { event[event.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
}

func isFormatDescription(_ event: ArraySlice<UInt8>) -> Bool {
    event.count >= 19 && event[event.startIndex + 4] == 15
}

/// Checksum algorithm byte of a FORMAT_DESCRIPTION (5th byte from the end), 1 = CRC32.
func announcesCRC32(_ event: [UInt8]) -> Bool {
    event.count >= 19 + 57 + 5 && event[event.count - 5] == 1
}

func render(_ row: RowImage?, _ sink: inout Int) {
    guard let row else { return }
    var json = ""
    for value in row {
        guard let value else { continue }
        sink &+= value.text?.utf8.count ?? 0
        _ = value.number
        value.appendJSON(to: &json)
    }
    sink &+= json.utf8.count
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBinlog(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))[...]
    let isFile = input.starts(with: [0xfe, 0x62, 0x69, 0x6e])
    if isFile { input = input.dropFirst(4) }
    var events: [[UInt8]] = []
    if !isFormatDescription(input) { events.append(mariaDBFormatDescription) }
    while !input.isEmpty {
        var length = input.count
        if input.count >= 19 {
            let i = input.startIndex + 9
            let claimed = Int(input[i]) | Int(input[i + 1]) << 8 | Int(input[i + 2]) << 16 | Int(input[i + 3]) << 24
            if claimed >= 19 && claimed <= input.count { length = claimed }
        }
        events.append(Array(input.prefix(length)))
        input = input.dropFirst(length)
    }

    var decoder = EventDecoder(file: isFile ? "fuzz-bin.000001" : nil)
    var assembler = TransactionAssembler()
    var offset: UInt64 = 4
    var crc = false
    var sink = 0
    for var event in events {
        if isFormatDescription(event[...]) {
            crc = announcesCRC32(event)
            if crc { fixChecksum(&event) }
        } else if crc {
            fixChecksum(&event)
        }
        do {
            let decoded = try decoder.decode(event, at: isFile ? offset : nil)
            if case .formatDescription(_, _, let checksum) = decoded.event { crc = checksum }
            if case .rows(let changes) = decoded.event {
                for change in changes {
                    render(change.before, &sink)
                    render(change.after, &sink)
                }
            }
            if let transaction = try assembler.consume(decoded) {
                sink &+= transaction.changes.count
            }
        } catch is BinlogError {
            // The expected answer to bad input; later events may still decode.
        } catch {
            fatalError("decoding threw \(type(of: error)), not BinlogError: \(error)")
        }
        offset &+= UInt64(event.count)
    }
    do { try assembler.finish() } catch is BinlogError {} catch { fatalError("finish threw \(error)") }
    if sink == Int.min { print(sink) }
    return 0
}
