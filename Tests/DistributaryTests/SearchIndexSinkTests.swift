import BinlogCore
@testable import Distributary
import Foundation
import Routing
import SearchIndex
import XCTest

/// The index sink on a real store in a temporary directory: what a commit makes
/// searchable, and what it holds back while a backlog is caught up.
final class SearchIndexSinkTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "sink-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeSink() throws -> SearchIndexSink {
        let store = try IndexStore(directory: directory, schemas: ["items": IndexSchema(fields: ["title": .text], stored: ["title"])])
        return try SearchIndexSink(store: store, mappings: [:])
    }

    func transaction(_ offset: UInt64, _ writes: [IndexWrite]) -> RoutedTransaction {
        RoutedTransaction(end: BinlogPosition(file: "binlog.000001", offset: offset), gtid: nil, timestamp: 0, rowCount: writes.count,
                          cache: CacheWrites(), index: writes)
    }

    func upsert(_ id: String, _ title: String) -> IndexWrite {
        .upsert(index: "items", id: id, fields: [(name: "title", kind: .text, value: .string(title))], stored: [(name: "title", value: .string(title))])
    }

    func checkpoint(_ offset: UInt64) -> Checkpoint {
        Checkpoint(position: BinlogPosition(file: "binlog.000001", offset: offset), gtid: nil, sourceServerID: 1, timestamp: 0)
    }

    func apply(_ sink: SearchIndexSink, _ offset: UInt64, _ writes: [IndexWrite]) throws -> Bool {
        try sink.apply([transaction(offset, writes)][...], checkpoint: checkpoint(offset), checkpointAfter: { _ in self.checkpoint(offset) })
    }

    func titles(_ sink: SearchIndexSink, _ query: String) throws -> [String] {
        try sink.store.snapshot().search(index: "items", query: query, limit: 100).hits.map(\.id).sorted()
    }

    /// Outside a catch-up every batch with index writes is committed: searchable at once.
    func testEveryBatchIsCommittedWhenNotCatchingUp() throws {
        let sink = try makeSink()
        sink.catchingUp = { false }
        XCTAssertTrue(try apply(sink, 100, [upsert("1", "red apple")]))
        XCTAssertEqual(try titles(sink, "apple"), ["1"])
        XCTAssertEqual(sink.store.committedPayload["pos"], "100")
    }

    /// While catching up, batches are held (apply says so) until the commit interval or
    /// the buffer bound passes, or the sink is flushed; a document written several times
    /// in between is indexed once, in its last version, and a delete in between wins.
    func testCatchUpHoldsCommitsAndKeepsEachDocumentsLastWrite() throws {
        let sink = try makeSink()
        var behind = true
        sink.catchingUp = { behind }
        sink.catchUpCommitSeconds = 3600
        XCTAssertTrue(try apply(sink, 100, [upsert("1", "red apple"), upsert("2", "green pear")]), "the first batch commits (no commit yet)")
        XCTAssertFalse(try apply(sink, 200, [upsert("1", "yellow banana"), upsert("3", "blue plum")]))
        XCTAssertFalse(try apply(sink, 300, [upsert("3", "black plum"), .delete(index: "items", id: "2")]))
        XCTAssertEqual(try titles(sink, "apple"), ["1"], "held writes are not searchable yet")
        XCTAssertEqual(try titles(sink, "banana"), [])
        XCTAssertEqual(sink.store.committedPayload["pos"], "100")
        try sink.flush()
        XCTAssertEqual(try titles(sink, "apple"), [], "document 1's last version replaced it")
        XCTAssertEqual(try titles(sink, "banana"), ["1"])
        XCTAssertEqual(try titles(sink, "plum"), ["3"])
        XCTAssertEqual(try titles(sink, "blue"), [], "document 3 indexed once, in its last version")
        XCTAssertEqual(try titles(sink, "pear"), [], "the delete came last")
        XCTAssertEqual(sink.store.committedPayload["pos"], "300")
        XCTAssertEqual(sink.store.snapshot().documentIDs(index: "items").sorted(), ["1", "3"])

        // The buffer bound commits without waiting for the interval.
        sink.catchUpPendingBytes = 1
        XCTAssertTrue(try apply(sink, 400, [upsert("4", "white grape")]))
        XCTAssertEqual(try titles(sink, "grape"), ["4"])
        // Caught up: the next batch commits at once, with what was held.
        sink.catchUpPendingBytes = 64 << 20
        XCTAssertFalse(try apply(sink, 500, [upsert("5", "orange lemon")]))
        behind = false
        XCTAssertTrue(try apply(sink, 600, [upsert("6", "purple fig")]))
        XCTAssertEqual(try titles(sink, "lemon"), ["5"])
        XCTAssertEqual(try titles(sink, "fig"), ["6"])
        XCTAssertEqual(sink.store.committedPayload["pos"], "600")
    }
}
