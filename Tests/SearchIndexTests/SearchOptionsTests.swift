import Foundation
import XCTest
@testable import SearchIndex

/// Filters, sorting by a number field and highlighted snippets.
final class SearchOptionsTests: IndexTestCase {
    private var store: IndexStore!

    override func setUpWithError() throws {
        try super.setUpWithError()
        store = try IndexStore(directory: directory, schemas: [
            "products": IndexSchema(
                fields: ["name": .text, "description": .text, "status": .keyword, "price": .number],
                stored: ["name", "description", "price"]),
        ])
        let rows: [(String, String, String, String, Double?)] = [
            ("1", "Red running shoes", "Light <shoes> & laces for the road", "active", 80),
            ("2", "Blue suede shoes", "Classic shoes, blue as the sky", "active", 120),
            ("3", "Red wool hat", "A warm hat", "discontinued", 25),
            ("4", "Shoe rack", "Holds twelve pairs of shoes", "active", nil),
            ("5", "東京 guide", "京都 and 東京都 travel, a long text " + String(repeating: "filler words ", count: 40) + "and shoes at the end", "active", 15),
        ]
        for (id, name, description, status, price) in rows {
            var fields: [String: FieldValue] = ["name": .text(name), "description": .text(description), "status": .keyword(status)]
            var stored: [String: StoredValue] = ["name": .string(name), "description": .string(description)]
            if let price {
                fields["price"] = .number(price)
                stored["price"] = .double(price)
            }
            try store.upsert(index: "products", document: Document(id: id, fields: fields, stored: stored))
        }
        try store.commit(payload: [:])
    }

    override func tearDownWithError() throws {
        store = nil
        try super.tearDownWithError()
    }

    private func search(_ query: String, _ options: SearchOptions) throws -> SearchResults {
        try store.snapshot().search(index: "products", query: query, options: options)
    }

    func testFiltersRestrictWithoutChangingScores() throws {
        let plain = try search("shoes", SearchOptions(limit: 10))
        let filtered = try search("shoes", SearchOptions(limit: 10, filters: ["status:active", "price:[50 TO *]"]))
        XCTAssertEqual(filtered.total, 2)
        XCTAssertEqual(filtered.hits.map(\.id), ["2", "1"].filter { id in plain.hits.contains { $0.id == id } }
            .sorted { a, b in plain.hits.firstIndex { $0.id == a }! < plain.hits.firstIndex { $0.id == b }! })
        for hit in filtered.hits {
            XCTAssertEqual(hit.score, plain.hits.first { $0.id == hit.id }!.score, accuracy: 1e-12)
        }
        XCTAssertEqual(try search("*:*", SearchOptions(filters: ["-status:active"])).hits.map(\.id), ["3"])
    }

    func testSortByNumberFieldPutsDocumentsWithoutValueLast() throws {
        let ascending = try search("shoes OR hat", SearchOptions(limit: 10, sort: .number(field: "price", descending: false)))
        XCTAssertEqual(ascending.hits.map(\.id), ["5", "3", "1", "2", "4"])
        let descending = try search("shoes OR hat", SearchOptions(limit: 2, offset: 1, sort: .number(field: "price", descending: true)))
        XCTAssertEqual(descending.hits.map(\.id), ["1", "3"])
        XCTAssertEqual(descending.total, 5)
        XCTAssertGreaterThan(descending.hits[0].score, 0, "hits keep their BM25 score")
    }

    func testSortByANonNumberFieldIsRefused() {
        let error = assertSearchError(.fieldType) {
            _ = try self.search("shoes", SearchOptions(sort: .number(field: "status", descending: false)))
        }
        XCTAssertTrue(error?.message.contains("sort by one of them") ?? false, error?.message ?? "")
        _ = assertSearchError(.unknownField) {
            _ = try self.search("shoes", SearchOptions(sort: .number(field: "weight", descending: false)))
        }
    }

    func testHighlightsMarkMatchedTermsAndEscapeHTML() throws {
        let results = try search("shoes OR road", SearchOptions(limit: 10, highlight: ["name", "description"]))
        let first = try XCTUnwrap(results.hits.first { $0.id == "1" })
        XCTAssertEqual(first.highlights["name"], "Red running <em>shoes</em>")
        XCTAssertEqual(first.highlights["description"], "Light &lt;<em>shoes</em>&gt; &amp; laces for the <em>road</em>")
        let long = try XCTUnwrap(results.hits.first { $0.id == "5" })
        XCTAssertNil(long.highlights["name"], "no match, no snippet")
        let snippet = try XCTUnwrap(long.highlights["description"])
        XCTAssertTrue(snippet.hasPrefix("…words filler words and <em>shoes</em>"), snippet)
        XCTAssertTrue(snippet.hasSuffix("at the end"), snippet)
        XCTAssertTrue(snippet.contains("<em>shoes</em>"), snippet)
    }

    func testHighlightsOfPhrasesPrefixesFoldedTextAndIdeographs() throws {
        let prefix = try search("name:runn*", SearchOptions(highlight: ["name"]))
        XCTAssertEqual(prefix.hits.first?.highlights["name"], "Red <em>running</em> shoes")
        let phrase = try search("\"blue suede\"", SearchOptions(highlight: ["name"]))
        XCTAssertEqual(phrase.hits.first?.highlights["name"], "<em>Blue</em> <em>suede</em> shoes")
        let ideographs = try search("東京", SearchOptions(highlight: ["description"]))
        XCTAssertTrue(ideographs.hits.first?.highlights["description"]?.hasPrefix("京都 and <em>東京</em>都") ?? false,
                      ideographs.hits.first?.highlights["description"] ?? "none")
    }

    func testHighlightOfAFieldThatIsNotStoredTextIsRefused() {
        let error = assertSearchError(.fieldType) {
            _ = try self.search("shoes", SearchOptions(highlight: ["status"]))
        }
        XCTAssertTrue(error?.message.contains("stored") ?? false, error?.message ?? "")
    }
}
