import Foundation
import XCTest
@testable import SearchIndex

/// Kills a writer process with SIGKILL in the middle of its commits and checks that the
/// directory reopens at a whole commit whose documents match its payload.
final class CrashRecoveryTests: IndexTestCase {
    private static let directoryVariable = "SEARCHINDEX_CRASH_HELPER_DIRECTORY"

    /// The documents live after `count` commits of `commitUntilKilled`.
    private static func liveIDs(afterCommits count: Int) -> [String] {
        (0..<count).filter { $0 == count - 1 || $0 % 2 == 1 }.map { "d\($0)" }.sorted()
    }

    /// The writer of the crash test when run as a child process; a no-op otherwise.
    func testCommitUntilKilledHelper() throws {
        guard let directory = ProcessInfo.processInfo.environment[Self.directoryVariable] else { return }
        let store = try IndexStore(directory: directory, schemas: ["products": productSchema])
        var count = Int(store.committedPayload["count"] ?? "0") ?? 0
        let filler = (0..<200).map { "filler\($0 % 37)" }.joined(separator: " ")
        while true {
            try store.upsert(index: "products", document: product("d\(count)", "item \(count) \(filler)"))
            if count % 2 == 1 { try store.delete(index: "products", id: "d\(count - 1)") }
            try store.commit(payload: ["count": String(count + 1)])
            count += 1
        }
    }

    func testKilledWriterReopensAtItsLastCommit() throws {
        #if !os(Linux)
        throw XCTSkip("re-running the test binary as a child process is set up for Linux only")
        #endif
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var reached = 0
        for round in 1...3 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["SearchIndexTests.CrashRecoveryTests/testCommitUntilKilledHelper"]
            child.environment = ProcessInfo.processInfo.environment.merging([Self.directoryVariable: directory]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            let target = reached + 15 * round
            var polls = 0
            while child.isRunning, polls < 60_000 {
                if let snapshot = try? IndexStore.openReadOnly(directory: directory),
                    Int(snapshot.payload["count"] ?? "0") ?? 0 >= target
                {
                    break
                }
                polls += 1
                usleep(1_000)
            }
            XCTAssertTrue(child.isRunning, "the helper writer stopped by itself")
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()

            let store = try openStore()
            let snapshot = store.snapshot()
            let count = Int(snapshot.payload["count"] ?? "0") ?? 0
            XCTAssertGreaterThanOrEqual(count, target)
            reached = count
            let expected = Self.liveIDs(afterCommits: count)
            XCTAssertEqual(try snapshot.documentCount(index: "products"), expected.count)
            let found = try snapshot.search(index: "products", query: "item", limit: 1_000).hits.map(\.id).sorted()
            XCTAssertEqual(found, expected)
            let referenced = try XCTUnwrap(Manifest.read(directory: directory)).referencedFiles
            for name in try files() where Manifest.isIndexFile(name) {
                XCTAssertTrue(referenced.contains(name), "\(name) should have been removed on open")
            }
        }
    }
}
