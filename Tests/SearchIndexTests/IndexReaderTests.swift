import Foundation
import XCTest
@testable import SearchIndex

/// The read-only reader `distributary verify` uses beside a writer in another process.
final class IndexReaderTests: IndexTestCase {
    func testReopenSeesEachCommitAndListsLiveIDs() throws {
        let store = try openStore()
        XCTAssertThrowsError(try IndexReader(directory: directory + "/absent").open(), "no index there")
        let reader = IndexReader(directory: directory)
        try store.upsert(index: "products", document: product("1", "Red shoes"))
        try store.upsert(index: "products", document: product("2", "Green hat"))
        try store.commit(payload: ["pos": "100"])
        let first = try reader.open()
        XCTAssertEqual(first.payload, ["pos": "100"])
        XCTAssertEqual(first.documentIDs(index: "products").sorted(), ["1", "2"])
        XCTAssertEqual(try IndexStore.committedPayload(directory: directory), ["pos": "100"])

        try store.delete(index: "products", id: "2")
        try store.upsert(index: "products", document: product("1", "Blue boots", price: 20))
        try store.upsert(index: "products", document: product("3", "Yellow cap"))
        try store.commit(payload: ["pos": "200"])
        let second = try reader.open()
        XCTAssertEqual(second.payload, ["pos": "200"])
        XCTAssertEqual(second.documentIDs(index: "products").sorted(), ["1", "3"], "deleted and replaced versions are not listed")
        XCTAssertEqual(second.document(index: "products", id: "1")?["name"], .string("Blue boots"))
        XCTAssertEqual(second.documentIDs(index: "unknown"), [])
        XCTAssertEqual(first.documentIDs(index: "products").sorted(), ["1", "2"], "an older snapshot keeps its state")
    }

    func testKeepsUpWithAWriterThatCommitsAndMergesContinuously() throws {
        let store = try openStore()
        try store.upsert(index: "products", document: product("0", "start"))
        try store.commit(payload: ["commit": "0"])
        let reader = IndexReader(directory: directory)
        let documents = (1...300).map { product(String($0 % 50), "item \($0)") }
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for n in 1...300 {
                try? store.upsert(index: "products", document: documents[n - 1])
                try? store.commit(payload: ["commit": String(n)])
            }
            done.signal()
        }
        var opened = 0
        while done.wait(timeout: .now()) == .timedOut {
            let snapshot = try reader.open()
            XCTAssertEqual(snapshot.documentIDs(index: "products").count, try snapshot.documentCount(index: "products"))
            opened += 1
        }
        store.waitForMerges()
        let last = try reader.open()
        XCTAssertEqual(last.payload, ["commit": "300"])
        XCTAssertEqual(Set(last.documentIDs(index: "products")), Set((0..<50).map(String.init)))
        XCTAssertGreaterThan(opened, 0)
    }
}
