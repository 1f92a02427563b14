@_spi(Benchmarks) import BinlogCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A binlog file held in memory, so that a measurement sees decoding only, no I/O.
public struct BinlogImage: Sendable {
    public let path: String
    public let bytes: [UInt8]

    /// Reads the whole file; stops the process with a message when it cannot.
    public init(path: String) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { fatal("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { fatal("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { fatal("reading \(path) failed at offset \(done)") }
            done += n
        }
        guard bytes.count >= 4, Array(bytes[0..<4]) == [0xfe, 0x62, 0x69, 0x6e] else {
            fatal("\(path) is not a binlog file (no fe 62 69 6e magic)")
        }
        self.bytes = bytes
    }

    /// The binlog named by `DST_BENCH_BINLOG`, else the largest file of the shared
    /// corpus (with a note on stderr saying so, since its numbers mean little).
    public static func fromEnvironment() -> BinlogImage {
        if let path = getenv("DST_BENCH_BINLOG").map({ String(cString: $0) }), !path.isEmpty {
            return BinlogImage(path: path)
        }
        let corpus = ["../../shared/testdata/binlogs", "../shared/testdata/binlogs"].first { isDirectory($0) }
        guard let corpus, let largest = largestBinlog(under: corpus) else {
            fatal("set DST_BENCH_BINLOG=FILE (make one with integration/bench/make-package-binlog.sh OUTDIR); no shared corpus at ../../shared/testdata/binlogs to fall back to")
        }
        let note = "note: DST_BENCH_BINLOG is not set; measuring the largest corpus file \(largest.path) (\(largest.size) bytes), far too small for a throughput figure — make a >1M-row binlog with integration/bench/make-package-binlog.sh OUTDIR\n"
        writeStderr(note)
        return BinlogImage(path: largest.path)
    }
}

/// What one pass over a binlog saw.
public struct DecodeTally: Sendable, Equatable {
    /// Events decoded (every event of the file).
    public var events = 0
    /// ROWS events (WRITE/UPDATE/DELETE, any version).
    public var rowsEvents = 0
    /// Changed rows (one per inserted, updated or deleted row): the "row events" of the throughput figure.
    public var rowChanges = 0
    /// Column values looked at (before and after images).
    public var values = 0
    /// Committed transactions assembled.
    public var transactions = 0
    /// A fold over every value, so the optimizer cannot drop any decoding.
    public var digest: UInt64 = 0
    /// The first error, as text (corpus files include deliberately broken ones).
    public var error: String?

    public init() {}
}

/// How a pass looks at each column value.
public enum ValueAccess: String, Sendable, CaseIterable {
    /// The decoded form (numbers parsed, temporal values unpacked, DECIMAL checked, text
    /// and binary located in the event's bytes): what every consumer gets for free.
    case decoded
    /// A `ColumnValue` per value, Strings included (what `row[i]` costs).
    case materialized
}

/// Decodes every event of `image` with `EventDecoder`, assembles transactions with
/// `TransactionAssembler` and looks at every column value of every row.
public func decodeAll(_ image: BinlogImage, access: ValueAccess = .decoded) -> DecodeTally {
    var tally = DecodeTally()
    var decoder = EventDecoder(file: image.path.split(separator: "/").last.map(String.init))
    var assembler = TransactionAssembler()
    image.bytes.withUnsafeBytes { file in
        var offset = 4
        do {
            while offset < file.count {
                guard file.count - offset >= 19 else {
                    tally.error = "file ends inside an event header at \(offset)"; return
                }
                let size = Int(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: offset + 9, as: UInt32.self)))
                guard size >= 19, size <= file.count - offset else {
                    tally.error = "event at \(offset) claims \(size) bytes"; return
                }
                let event = try decoder.decode(UnsafeRawBufferPointer(rebasing: file[offset..<(offset + size)]), at: UInt64(offset))
                tally.events += 1
                if case .rows = event.event { tally.rowsEvents += 1 }
                if let transaction = try assembler.consume(event) {
                    tally.transactions += 1
                    for change in transaction.changes {
                        tally.rowChanges += 1
                        if let before = change.before { touch(before, access, &tally) }
                        if let after = change.after { touch(after, access, &tally) }
                    }
                }
                offset += size
            }
            try assembler.finish()
        } catch {
            tally.error = "\(error)"
        }
    }
    return tally
}

@inline(__always)
private func touch(_ row: RowImage, _ access: ValueAccess, _ tally: inout DecodeTally) {
    tally.values += row.count
    switch access {
    case .decoded:
        for i in 0..<row.count { tally.digest = tally.digest &* 31 &+ row.decodedDigest(i) }
    case .materialized:
        for value in row { tally.digest = tally.digest &* 31 &+ digest(value) }
    }
}

private func digest(_ value: ColumnValue?) -> UInt64 {
    guard let value else { return 0 }
    switch value {
    case .null: return 1
    case .int(let v): return UInt64(bitPattern: v)
    case .uint(let v): return v
    case .float(let v): return UInt64(v.bitPattern)
    case .double(let v): return v.bitPattern
    case .decimal(let s), .string(let s), .date(let s), .datetime(let s), .time(let s),
         .timestamp(let s), .json(let s):
        return UInt64(s.utf8.count) &+ UInt64(s.utf8.last ?? 0)
    case .bytes(let b), .geometry(let b): return UInt64(b.count) &+ UInt64(b.last ?? 0)
    case .year(let y): return UInt64(y)
    case .enumeration(let index, let label): return UInt64(index) &+ UInt64(label?.utf8.count ?? 0)
    case .set(let bits, let labels): return bits &+ UInt64(labels?.count ?? 0)
    }
}

private func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The largest file under `root` that starts with the binlog magic.
private func largestBinlog(under root: String) -> (path: String, size: Int)? {
    var best: (path: String, size: Int)?
    var stack = [root]
    while let dir = stack.popLast() {
        guard let handle = opendir(dir) else { continue }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = dir + "/" + name
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR { stack.append(path); continue }
            let size = Int(st.st_size)
            guard size > (best?.size ?? 0), hasMagic(path) else { continue }
            best = (path, size)
        }
    }
    return best
}

private func hasMagic(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 4)
    return head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) } == 4 && head == [0xfe, 0x62, 0x69, 0x6e]
}

private func fatal(_ message: String) -> Never {
    writeStderr("error: \(message)\n")
    exit(1)
}

private func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}
