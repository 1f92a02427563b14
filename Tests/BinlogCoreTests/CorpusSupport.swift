import XCTest
@testable import BinlogCore

/// Access to the shared real-server binlog corpus (`../shared/testdata/binlogs`).
enum Corpus {
    /// …/Tests/BinlogCoreTests/X.swift → up 3 levels = repository root.
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/../shared/testdata/binlogs"
    }()

    static func requireRoot() throws -> String {
        guard FileManager.default.fileExists(atPath: root + "/SOURCES.md") else {
            throw XCTSkip("binlog corpus \(root) absent")
        }
        return root
    }

    static func path(_ relative: String) throws -> String {
        try requireRoot() + "/" + relative
    }

    /// Every corpus file, relative to the root, sorted.
    static func allFiles() throws -> [String] {
        let base = try requireRoot()
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var files: [String] = []
        for case let rel as String in walker {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + rel, isDirectory: &isDir), !isDir.boolValue, rel != "SOURCES.md" {
                files.append(rel)
            }
        }
        return files.sorted()
    }

    /// Decompresses a gzip file (RFC 1952) with the module's inflater into a temporary
    /// file, for the corpus binlogs stored gzipped; returns its path.
    static func gunzip(_ relative: String) throws -> String {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try path(relative))))
        guard data.count > 18, data[0] == 0x1f, data[1] == 0x8b, data[2] == 8 else { throw XCTSkip("\(relative) is not gzip") }
        let flags = data[3]
        var at = 10
        if flags & 0x04 != 0 { at += 2 + Int(data[at]) | Int(data[at + 1]) << 8 }
        if flags & 0x08 != 0 { while data[at] != 0 { at += 1 }; at += 1 }
        if flags & 0x10 != 0 { while data[at] != 0 { at += 1 }; at += 1 }
        if flags & 0x02 != 0 { at += 2 }
        let n = data.count
        let size = Int(data[n - 4]) | Int(data[n - 3]) << 8 | Int(data[n - 2]) << 16 | Int(data[n - 1]) << 24
        let plain = try data.withUnsafeBytes { try Inflate.deflate($0, from: at, expectedSize: size).output }
        let out = NSTemporaryDirectory() + (relative.split(separator: "/").last.map(String.init) ?? "binlog")
            .replacingOccurrences(of: ".gz", with: "")
        try Data(plain).write(to: URL(fileURLWithPath: out))
        return out
    }

    /// Decodes every event of a file in the corpus.
    static func decode(_ relative: String) throws -> [DecodedEvent] {
        try decode(path: try path(relative))
    }

    /// Decodes every event of a binlog file.
    static func decode(path: String) throws -> [DecodedEvent] {
        var reader = try BinlogFileReader(path: path)
        var decoder = EventDecoder(file: reader.fileName)
        var events: [DecodedEvent] = []
        while let event = try reader.nextEvent({ bytes, offset in try decoder.decode(bytes, at: offset) }) {
            events.append(event)
        }
        return events
    }

    /// Decodes a file and assembles its transactions.
    static func transactions(_ relative: String) throws -> [Transaction] {
        var assembler = TransactionAssembler()
        return try decode(relative).compactMap { try assembler.consume($0) }
    }
}
