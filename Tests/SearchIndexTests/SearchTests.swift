import Foundation
import XCTest
@testable import SearchIndex

final class SearchTests: IndexTestCase {
    private var snapshot: IndexSnapshot!
    private var store: IndexStore!

    override func setUpWithError() throws {
        try super.setUpWithError()
        store = try openStore()
        let documents = [
            product("1", "Red running shoes", description: "Light shoes for the road", status: "active", price: 80),
            product("2", "Blue suede shoes", description: "Classic shoes, blue as the sky", status: "active", price: 120),
            product("3", "Red wool hat", description: "A warm hat", status: "discontinued", price: 25),
            product("4", "Café table", description: "Round table for a small café", status: "active", price: 300),
            product("5", "東京 guide", description: "京都 and 東京都 travel", status: "Sold Out", price: 15.5),
        ]
        for document in documents { try store.upsert(index: "products", document: document) }
        try store.commit(payload: [:])
        snapshot = store.snapshot()
    }

    override func tearDownWithError() throws {
        store = nil
        snapshot = nil
        try super.tearDownWithError()
    }

    private func matching(_ query: String) throws -> [String] {
        try snapshot.search(index: "products", query: query, limit: 100).hits.map(\.id).sorted()
    }

    func testBareTermsAreOredOverTextAndKeywordFields() throws {
        XCTAssertEqual(try matching("shoes"), ["1", "2"])
        XCTAssertEqual(try matching("hat table"), ["3", "4"])
        XCTAssertEqual(try matching("SHOES"), ["1", "2"], "text fields are case-insensitive")
        XCTAssertEqual(try matching("cafe"), ["4"], "diacritics are folded")
        XCTAssertEqual(try matching("discontinued"), ["3"], "keyword fields match exactly")
        XCTAssertEqual(try matching("\"Sold Out\""), ["5"])
        XCTAssertEqual(try matching("nothing"), [])
    }

    func testFieldTerms() throws {
        XCTAssertEqual(try matching("name:shoes"), ["1", "2"])
        XCTAssertEqual(try matching("description:hat"), ["3"])
        XCTAssertEqual(try matching("name:road"), [])
        XCTAssertEqual(try matching("status:active"), ["1", "2", "4"])
        XCTAssertEqual(try matching("status:Active"), [])
        XCTAssertEqual(try matching("price:15.5"), ["5"])
    }

    func testRequiredAndProhibitedClauses() throws {
        XCTAssertEqual(try matching("+red +shoes"), ["1"])
        XCTAssertEqual(try matching("shoes -blue"), ["1"])
        XCTAssertEqual(try matching("red AND shoes"), ["1"])
        XCTAssertEqual(try matching("red OR table"), ["1", "3", "4"])
        XCTAssertEqual(try matching("red NOT hat"), ["1"])
        XCTAssertEqual(try matching("(hat OR table) AND status:active"), ["4"])
        XCTAssertEqual(try matching("-shoes"), ["3", "4", "5"], "a purely negative query excludes from all documents")
        XCTAssertEqual(try matching("*:*"), ["1", "2", "3", "4", "5"])
    }

    func testRequiredClausesMakeOptionalOnesRankOnly() throws {
        let results = try snapshot.search(index: "products", query: "+shoes blue", limit: 10)
        XCTAssertEqual(results.hits.map(\.id), ["2", "1"])
        XCTAssertEqual(results.total, 2)
    }

    func testPhrases() throws {
        XCTAssertEqual(try matching("\"red running\""), ["1"])
        XCTAssertEqual(try matching("\"running red\""), [])
        XCTAssertEqual(try matching("name:\"suede shoes\""), ["2"])
        XCTAssertEqual(try matching("\"blue as the sky\""), ["2"])
        XCTAssertEqual(try matching("東京都"), ["5"], "ideograph bigrams form a phrase")
        XCTAssertEqual(try matching("京都"), ["5"])
    }

    func testPrefixes() throws {
        XCTAssertEqual(try matching("sho*"), ["1", "2"])
        XCTAssertEqual(try matching("name:ru*"), ["1"])
        XCTAssertEqual(try matching("status:disc*"), ["3"])
        XCTAssertEqual(try matching("Caf*"), ["4"])
        XCTAssertEqual(try matching("zz*"), [])
    }

    func testNumberRanges() throws {
        XCTAssertEqual(try matching("price:[80 TO 120]"), ["1", "2"])
        XCTAssertEqual(try matching("price:{80 TO 120]"), ["2"])
        XCTAssertEqual(try matching("price:[* TO 25]"), ["3", "5"])
        XCTAssertEqual(try matching("price:[100 TO *]"), ["2", "4"])
        XCTAssertEqual(try matching("shoes AND price:[* TO 100]"), ["1"])
    }

    func testRarerTermRanksHigher() throws {
        // "shoes" is in two documents, "suede" in one.
        let results = try snapshot.search(index: "products", query: "shoes suede")
        XCTAssertEqual(results.hits.first?.id, "2")
        let common = try snapshot.search(index: "products", query: "name:shoes").hits.map(\.score).max() ?? 0
        let rare = try snapshot.search(index: "products", query: "name:suede").hits.first?.score ?? 0
        XCTAssertGreaterThan(rare, common)
    }

    func testShorterDocumentRanksHigher() throws {
        try store.upsert(index: "products", document: product("10", "lamp", description: ""))
        try store.upsert(
            index: "products", document: product("11", "lamp with a very long and wordy name indeed", description: ""))
        try store.commit(payload: [:])
        let hits = try store.snapshot().search(index: "products", query: "lamp").hits
        XCTAssertEqual(hits.map(\.id), ["10", "11"])
        XCTAssertGreaterThan(hits[0].score, hits[1].score)
    }

    func testTotalOffsetLimitAndStoredFields() throws {
        let all = try snapshot.search(index: "products", query: "*:*", limit: 10)
        XCTAssertEqual(all.total, 5)
        XCTAssertEqual(all.hits.map(\.id), ["1", "2", "3", "4", "5"], "equal scores are ordered by id")
        let page = try snapshot.search(index: "products", query: "*:*", limit: 2, offset: 3)
        XCTAssertEqual(page.total, 5)
        XCTAssertEqual(page.hits.map(\.id), ["4", "5"])
        XCTAssertEqual(page.hits[0].fields, ["name": .string("Café table"), "price": .double(300)])
        XCTAssertEqual(try snapshot.search(index: "products", query: "*:*", limit: 2, offset: 10).hits.count, 0)
        XCTAssertEqual(try snapshot.search(index: "products", query: "*:*", limit: -1, offset: -5).hits.count, 0)
    }

    func testScoresAreUnchangedByMerging() throws {
        let before = try snapshot.search(index: "products", query: "red shoes").hits.map { "\($0.id) \($0.score)" }
        for round in 0..<12 {
            try store.upsert(index: "products", document: product("x\(round)", "filler"))
            try store.delete(index: "products", id: "x\(round)")
            try store.commit(payload: [:])
        }
        let after = try store.snapshot().search(index: "products", query: "red shoes").hits.map { "\($0.id) \($0.score)" }
        XCTAssertEqual(after, before)
    }

    func testQueryErrors() throws {
        let syntax = assertSearchError(.querySyntax) { _ = try self.snapshot.search(index: "products", query: "name:(red") }
        XCTAssertEqual(syntax?.position, 5)
        let field = assertSearchError(.unknownField) { _ = try self.snapshot.search(index: "products", query: "colour:red") }
        XCTAssertTrue(field?.message.contains("name, price, status") ?? false, field?.message ?? "")
        _ = assertSearchError(.fieldType) { _ = try self.snapshot.search(index: "products", query: "price:cheap") }
        _ = assertSearchError(.fieldType) { _ = try self.snapshot.search(index: "products", query: "name:[1 TO 2]") }
        _ = assertSearchError(.fieldType) { _ = try self.snapshot.search(index: "products", query: "price:1*") }
    }

    func testStoredValuesEncodeAsPlainJSON() throws {
        let values: [String: StoredValue] = ["a": .string("x"), "b": .int(42), "c": .double(1.5)]
        let json = String(decoding: try JSONEncoder().encode(values), as: UTF8.self)
        XCTAssertTrue(json.contains("\"b\":42"), json)
        XCTAssertTrue(json.contains("\"a\":\"x\""), json)
        XCTAssertEqual(try JSONDecoder().decode([String: StoredValue].self, from: Data(json.utf8)), values)
    }

    func testArbitraryQueryTextNeverCrashes() throws {
        let pieces = ["(", ")", "\"", "[", "]", "}", ":", "+", "-", "*", "\\", " ", "AND ", "NOT ", " TO ", "red", "price", "1", "é"]
        var queries = pieces
        for first in pieces {
            for second in pieces {
                queries.append(first + second)
                for third in pieces { queries.append(first + second + third) }
            }
        }
        var parsed = 0
        for query in queries {
            do {
                _ = try snapshot.search(index: "products", query: query)
                parsed += 1
            } catch let error as SearchError {
                XCTAssertFalse(error.message.isEmpty)
                if error.code == .querySyntax {
                    let position = try XCTUnwrap(error.position)
                    XCTAssertTrue((0...query.count).contains(position), "\(query): position \(position)")
                }
            }
        }
        XCTAssertGreaterThan(parsed, 0)
    }

    func testTopHitsKeepsTheBestInOrder() {
        let entries = (0..<200).map { TopHits.Entry(score: Double(($0 * 37) % 11), id: "id\($0)", segment: 0, doc: $0) }
        let expected = entries.sorted { $0.ranks(before: $1) }.prefix(7).map(\.id)
        var top = TopHits(capacity: 7)
        for entry in entries { top.offer(entry) }
        XCTAssertEqual(top.sorted().map(\.id), expected)
        XCTAssertEqual(try snapshot.search(index: "products", query: "*:*", limit: Int.max, offset: 1).hits.count, 4)
    }
}
