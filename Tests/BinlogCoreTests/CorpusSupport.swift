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

    /// Decodes every event of a file.
    static func decode(_ relative: String) throws -> [DecodedEvent] {
        var reader = try BinlogFileReader(path: try path(relative))
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
