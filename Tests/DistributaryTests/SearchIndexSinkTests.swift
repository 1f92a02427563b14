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

    /// A sink catching up (no commit by time), its first batch committed at offset 100.
    func catchingUpSink() throws -> SearchIndexSink {
        let sink = try makeSink()
        sink.catchingUp = { true }
        sink.catchUpCommitSeconds = 3600
        XCTAssertTrue(try apply(sink, 100, [upsert("0", "first")]), "the first batch commits")
        return sink
    }

    /// An upsert routed from the log that reads its values from a row image it shares
    /// (as the router's do: the event's image, here 4 KB of other columns beside the title).
    func sharedRowUpsert(_ id: String, _ title: String) -> IndexWrite {
        let row = RowImage([.string(id), .string(title), .string(String(repeating: "x", count: 4000))])
        let layout = IndexColumns(names: ["title"], kinds: [.text], columns: [1])
        return .upsert(index: "items", id: id, fields: IndexFieldValues(row: row, layout: layout, sharesRow: true),
                       stored: StoredFieldValues(row: row, layout: layout, sharesRow: true))
    }

    /// What a write of `title` takes once its values are made: the fixed cost and id, and
    /// the title in a row of its own, once for the field and once stored.
    func materializedBytes(_ id: String, _ title: String) -> Int {
        64 + id.utf8.count + 2 * RowImage([.string(title)]).storageBytes
    }

    /// While catching up, writes that share their event's row image keep it alive until
    /// the buffer reaches its bound; then the writes that stand get their values made and
    /// drop the images (no commit, since the values alone fit), a write replaced before
    /// that never has its values made, and the commit indexes each document's last version.
    func testSharedRowsGiveUpTheirEventsAtTheBound() throws {
        let sink = try catchingUpSink()
        let values = (1...5).reduce(0) { $0 + materializedBytes("\($1)", "plum \($1)") }
        guard case .upsert(_, _, let fields, _) = sharedRowUpsert("1", "plum 1") else { return XCTFail() }
        sink.catchUpPendingBytes = fields.row.storageBytes * 7 / 2  // three and a half images
        XCTAssertLessThan(values, sink.catchUpPendingBytes / 2)
        XCTAssertFalse(try apply(sink, 200, [sharedRowUpsert("1", "red plum"), sharedRowUpsert("2", "plum 2")]))
        XCTAssertEqual(sink.heldEventCount, 2, "under the bound the images are kept")
        XCTAssertFalse(try apply(sink, 300, [sharedRowUpsert("1", "plum 1")]))
        XCTAssertEqual(sink.heldEventCount, 2, "the replaced write let its image go")
        XCTAssertGreaterThan(sink.bufferedBytes, 2 * 4000, "two images counted once each")
        XCTAssertFalse(try apply(sink, 400, (3...5).map { sharedRowUpsert("\($0)", "plum \($0)") }), "the values fit: no commit")
        XCTAssertEqual(sink.heldEventCount, 0, "at the bound every held write had its values made")
        XCTAssertEqual(sink.bufferedBytes, values)
        XCTAssertFalse(sink.materializeOnArrival, "the values take less than half the bound")
        XCTAssertFalse(try apply(sink, 500, [sharedRowUpsert("2", "green pear")]))
        XCTAssertEqual(sink.heldEventCount, 1)
        XCTAssertEqual(sink.store.committedPayload["pos"], "100")
        try sink.flush()
        XCTAssertEqual(sink.store.committedPayload["pos"], "500")
        XCTAssertEqual(try titles(sink, "plum"), ["1", "3", "4", "5"])
        XCTAssertEqual(try titles(sink, "red"), [], "document 1 in its last version")
        XCTAssertEqual(try titles(sink, "pear"), ["2"])
        XCTAssertEqual(sink.store.snapshot().document(index: "items", id: "2"), ["title": .string("green pear")])
        XCTAssertEqual(sink.heldEventCount, 0)
        XCTAssertEqual(sink.bufferedBytes, 0)
    }

    /// A bound too small to hold a round of rows with their events: once the values made
    /// at the bound take half of it, later writes have their values made as they arrive
    /// (no image is kept) until the commit, which comes when the values reach the bound.
    func testSmallBoundMakesValuesOnArrival() throws {
        let sink = try catchingUpSink()
        let three = (1...3).reduce(0) { $0 + materializedBytes("\($1)", "plum \($1)") }
        sink.catchUpPendingBytes = three * 3 / 2
        XCTAssertFalse(try apply(sink, 200, (1...3).map { sharedRowUpsert("\($0)", "plum \($0)") }))
        XCTAssertEqual(sink.heldEventCount, 0)
        XCTAssertTrue(sink.materializeOnArrival)
        XCTAssertFalse(try apply(sink, 300, [sharedRowUpsert("4", "plum 4")]))
        XCTAssertEqual(sink.heldEventCount, 0, "made on arrival")
        XCTAssertTrue(try apply(sink, 400, [sharedRowUpsert("5", "plum 5"), sharedRowUpsert("6", "plum 6")]), "the values reached the bound: committed")
        XCTAssertEqual(sink.store.committedPayload["pos"], "400")
        XCTAssertEqual(try titles(sink, "plum"), ["1", "2", "3", "4", "5", "6"])
        XCTAssertFalse(sink.materializeOnArrival, "until the commit")
    }

    /// A few documents written many times while catching up: the list of writes that read
    /// their events stays within a bound (replaced entries are dropped), the images of
    /// replaced writes are let go, and the commit indexes each document's last version.
    func testManyRewritesKeepTheEventListBounded() throws {
        let sink = try catchingUpSink()
        for round in 1...1000 {
            XCTAssertFalse(try apply(sink, UInt64(100 + round), (1...10).map { sharedRowUpsert("\($0)", "round\(round) doc\($0)") }))
            XCTAssertLessThanOrEqual(sink.eventBackedCount, 4096 + 10)
        }
        XCTAssertEqual(sink.heldEventCount, 10, "only the last write of each document keeps its image")
        try sink.flush()
        XCTAssertEqual(try titles(sink, "round1000"), (1...10).map(String.init).sorted())
        XCTAssertEqual(try titles(sink, "round999"), [])
        XCTAssertEqual(sink.store.committedPayload["pos"], "1100")
    }
}
