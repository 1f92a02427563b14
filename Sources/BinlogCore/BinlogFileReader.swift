#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a binlog file offline and yields its events' raw bytes in order.
///
/// Checks the `0xfe 'bin'` magic, then walks the event headers; reads are buffered
/// (1 MiB windows) and bounded by the file size, so a corrupt length cannot make it
/// allocate beyond the file. An event cut off by the end of the file throws
/// `.truncated` naming its offset.
public struct BinlogFileReader {
    /// The file's base name (`mysql-bin.000003`), as positions name it.
    public let fileName: String
    public let path: String
    /// Offset of the next event.
    public private(set) var offset: UInt64 = 4
    /// The file's size when it was opened.
    public let fileSize: UInt64

    private let handle: FileHandleBox
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0

    public static let magic: [UInt8] = [0xfe, 0x62, 0x69, 0x6e]
    private static let windowSize = 1 << 20

    public init(path: String) throws {
        self.path = path
        self.fileName = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw BinlogError(code: .io, position: nil, message: "cannot open binlog file \(path): \(reason); check the path and its read permission")
        }
        handle = FileHandleBox(fd: fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw BinlogError(code: .io, position: nil, message: "cannot stat binlog file \(path): \(String(cString: strerror(errno)))")
        }
        fileSize = UInt64(st.st_size)
        var head = [UInt8](repeating: 0, count: 4)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        guard n == 4, head == BinlogFileReader.magic else {
            throw BinlogError(code: .badMagic, position: BinlogPosition(file: fileName, offset: 0),
                              message: "\(path) does not start with the binlog magic fe 62 69 6e; it is not a MySQL/MariaDB binary log (a relay-log index, a compressed copy, or another file?)")
        }
    }

    /// The next event's bytes and its offset, or `nil` at the end of the file.
    public mutating func next() throws -> (bytes: [UInt8], offset: UInt64)? {
        try nextEvent { bytes, offset in (Array(bytes), offset) }
    }

    /// Calls `body` with the next event's bytes (valid only during the call) and its
    /// offset; `nil` at the end of the file. Avoids copying each event.
    public mutating func nextEvent<T>(_ body: (UnsafeRawBufferPointer, UInt64) throws -> T) throws -> T? {
        if offset == fileSize { return nil }
        let position = BinlogPosition(file: fileName, offset: offset)
        guard fileSize - offset >= UInt64(EventHeader.size) else {
            throw BinlogError(code: .truncated, position: position,
                              message: "the file ends \(fileSize - offset) byte(s) into an event header at offset \(offset); the binlog is cut short — re-copy it from the server (if the server is still writing it, read up to its last complete event)")
        }
        try fill(offset, count: EventHeader.size)
        let at = Int(offset - windowStart)
        let size = window.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at + 9, as: UInt32.self)) }
        guard size >= UInt32(EventHeader.size) else {
            throw BinlogError(code: .corrupt, position: position,
                              message: "event at offset \(offset) claims \(size) bytes, less than its 19-byte header; the binlog is corrupt from here on")
        }
        guard UInt64(size) <= fileSize - offset else {
            throw BinlogError(code: .truncated, position: position,
                              message: "event at offset \(offset) claims \(size) bytes but the file ends after \(fileSize - offset); the binlog is cut short — re-copy it from the server")
        }
        try fill(offset, count: Int(size))
        let start = Int(offset - windowStart)
        let eventOffset = offset
        offset += UInt64(size)
        return try window.withUnsafeBytes { buffer in
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + Int(size))]), eventOffset)
        }
    }

    /// Makes the window hold `[from, from + count)`.
    private mutating func fill(_ from: UInt64, count: Int) throws {
        if from >= windowStart && from + UInt64(count) <= windowStart + UInt64(window.count) { return }
        let want = Int(min(UInt64(max(count, BinlogFileReader.windowSize)), fileSize - from))
        if window.count != want { window = [UInt8](repeating: 0, count: want) }
        var done = 0
        let fd = handle.fd
        while done < want {
            let n = window.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return pread(fd, base + done, want - done, off_t(from) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw BinlogError(code: .io, position: BinlogPosition(file: fileName, offset: from),
                                  message: "reading \(path) at offset \(from) failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw BinlogError(code: .truncated, position: BinlogPosition(file: fileName, offset: from),
                                  message: "\(path) became shorter while being read (now ends at \(from + UInt64(done))); was it truncated or replaced?")
            }
            done += n
        }
        windowStart = from
    }
}

/// Owns the file descriptor and closes it when the last reader copy goes away.
private final class FileHandleBox {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
