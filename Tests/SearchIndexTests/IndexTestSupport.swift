import Foundation
import XCTest
@testable import SearchIndex

/// A temporary directory removed when the test ends.
class IndexTestCase: XCTestCase {
    var directory: String = ""

    let productSchema = IndexSchema(
        fields: ["name": .text, "description": .text, "status": .keyword, "price": .number],
        stored: ["name", "price"])

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("searchindex-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func openStore() throws -> IndexStore {
        try IndexStore(directory: directory, schemas: ["products": productSchema])
    }

    func product(_ id: String, _ name: String, description: String = "", status: String = "active", price: Double = 10)
        -> Document
    {
        Document(
            id: id,
            fields: [
                "name": .text(name), "description": .text(description), "status": .keyword(status),
                "price": .number(price),
            ],
            stored: ["name": .string(name), "price": .double(price)])
    }

    func ids(_ snapshot: IndexSnapshot, _ query: String) throws -> [String] {
        try snapshot.search(index: "products", query: query, limit: 100).hits.map(\.id)
    }

    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func assertSearchError(
        _ code: SearchError.Code, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
    ) -> SearchError? {
        do {
            try body()
            XCTFail("expected a \(code) error", file: file, line: line)
        } catch let error as SearchError {
            XCTAssertEqual(error.code, code, error.description, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }
}
