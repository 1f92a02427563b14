import Foundation
import XCTest
@testable import SearchIndex

/// Stop words and stemming chosen per text field, at indexing and at query time.
final class TextAnalysisTests: IndexTestCase {
    let english = TextAnalysis(stem: .english, stopWords: .english)

    func testStopWordsLeaveGapsAndStemsReplaceWords() {
        let tokens = Analyzer.analyze("The running dogs of war", english)
        XCTAssertEqual(tokens.map(\.term), ["run", "dog", "war"])
        XCTAssertEqual(tokens.map(\.position), [1, 2, 4])
        XCTAssertEqual(Analyzer.analyze("The running dogs", TextAnalysis(stopWords: .english)).map(\.term), ["running", "dogs"])
        XCTAssertEqual(Analyzer.analyze("The running dogs", TextAnalysis(stem: .english)).map(\.term), ["the", "run", "dog"])
    }

    private func openDocs(_ analysis: [String: TextAnalysis]) throws -> IndexStore {
        try IndexStore(directory: directory, schemas: [
            "docs": IndexSchema(fields: ["body": .text, "plain": .text], stored: ["body"], analysis: analysis),
        ])
    }

    func testSearchesOfAStemmedFieldMatchOtherFormsAndPhrasesKeepGaps() throws {
        let store = try openDocs(["body": english])
        for (id, text) in [("1", "The running dogs of war"), ("2", "A dog runs to the war"), ("3", "dogs war")] {
            try store.upsert(index: "docs", document: Document(
                id: id, fields: ["body": .text(text), "plain": .text(text)], stored: ["body": .string(text)]))
        }
        try store.commit(payload: [:])
        let snapshot = store.snapshot()
        XCTAssertEqual(try docIDs(snapshot, "body:runs").sorted(), ["1", "2"])
        XCTAssertEqual(try docIDs(snapshot, "plain:runs"), ["2"], "the other field is not stemmed")
        XCTAssertEqual(try docIDs(snapshot, "body:the"), [], "stop words are not indexed")
        XCTAssertEqual(try docIDs(snapshot, "body:\"dogs of war\""), ["1"], "the phrase keeps the stop word's gap")
        XCTAssertEqual(try docIDs(snapshot, "body:\"dog war\""), ["3"])
        let highlighted = try snapshot.search(index: "docs", query: "body:running", options: SearchOptions(highlight: ["body"]))
        XCTAssertEqual(highlighted.hits.first { $0.id == "2" }?.highlights["body"], "A dog <em>runs</em> to the war")
    }

    private func docIDs(_ snapshot: IndexSnapshot, _ query: String) throws -> [String] {
        try snapshot.search(index: "docs", query: query, limit: 100).hits.map(\.id)
    }

    func testChangingAFieldsAnalysisNeedsARebuild() throws {
        _ = try openDocs([:])
        let error = assertSearchError(.schemaMismatch) { _ = try self.openDocs(["body": self.english]) }
        XCTAssertTrue(error?.message.contains("rebuild") ?? false, error?.message ?? "")
    }

    func testSchemasWithoutAnalysisDecode() throws {
        let schema = try JSONDecoder().decode(IndexSchema.self, from: Data(#"{"fields":{"a":"text"},"stored":[]}"#.utf8))
        XCTAssertEqual(schema, IndexSchema(fields: ["a": .text], stored: []))
        XCTAssertEqual(IndexSchema(fields: ["a": .text], stored: [], analysis: ["a": .standard]), schema)
    }
}
