import XCTest
@testable import SearchIndex

final class QueryParserTests: XCTestCase {
    private func syntaxError(_ query: String, file: StaticString = #filePath, line: UInt = #line) -> SearchError? {
        do {
            _ = try QueryParser.parse(query)
            XCTFail("expected a syntax error for \(query)", file: file, line: line)
            return nil
        } catch let error as SearchError {
            XCTAssertEqual(error.code, .querySyntax, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    func testBareTermsAreOptionalClauses() throws {
        XCTAssertEqual(
            try QueryParser.parse("red shoes"),
            .boolean([
                .init(occur: .should, query: .term(field: nil, text: "red", position: 0)),
                .init(occur: .should, query: .term(field: nil, text: "shoes", position: 4)),
            ]))
    }

    func testModifiersAndOperators() throws {
        XCTAssertEqual(
            try QueryParser.parse("+a -b NOT c"),
            .boolean([
                .init(occur: .must, query: .term(field: nil, text: "a", position: 1)),
                .init(occur: .mustNot, query: .term(field: nil, text: "b", position: 4)),
                .init(occur: .mustNot, query: .term(field: nil, text: "c", position: 10)),
            ]))
        XCTAssertEqual(
            try QueryParser.parse("a AND b OR c"),
            .boolean([
                .init(occur: .must, query: .term(field: nil, text: "a", position: 0)),
                .init(occur: .must, query: .term(field: nil, text: "b", position: 6)),
                .init(occur: .should, query: .term(field: nil, text: "c", position: 11)),
            ]))
    }

    func testFieldsPhrasesPrefixesRangesAndGroups() throws {
        XCTAssertEqual(try QueryParser.parse("name:shoe*"), .prefix(field: "name", text: "shoe", position: 5))
        XCTAssertEqual(try QueryParser.parse("name:\"red shoes\""), .phrase(field: "name", text: "red shoes", position: 5))
        XCTAssertEqual(
            try QueryParser.parse("price:[10 TO *}"),
            .range(field: "price", lower: "10", upper: nil, includeLower: true, includeUpper: false, position: 6))
        XCTAssertEqual(try QueryParser.parse("price:-5"), .term(field: "price", text: "-5", position: 6))
        XCTAssertEqual(
            try QueryParser.parse("name:(a b)"),
            .boolean([
                .init(occur: .should, query: .term(field: "name", text: "a", position: 6)),
                .init(occur: .should, query: .term(field: "name", text: "b", position: 8)),
            ]))
        XCTAssertEqual(try QueryParser.parse("*:*"), .matchAll)
        XCTAssertEqual(try QueryParser.parse("wi-fi a\\:b"), .boolean([
            .init(occur: .should, query: .term(field: nil, text: "wi-fi", position: 0)),
            .init(occur: .should, query: .term(field: nil, text: "a:b", position: 6)),
        ]))
    }

    func testSyntaxErrorsCarryTheirPosition() {
        XCTAssertEqual(syntaxError("(red shoes")?.position, 0)
        XCTAssertEqual(syntaxError("red) shoes")?.position, 3)
        XCTAssertEqual(syntaxError("red AND")?.position, 4)
        XCTAssertEqual(syntaxError("AND red")?.position, 0)
        XCTAssertEqual(syntaxError("red \"shoes")?.position, 4)
        XCTAssertEqual(syntaxError("name: shoes")?.position, 5)
        XCTAssertEqual(syntaxError("price:[1 5]")?.position, 9)
        XCTAssertEqual(syntaxError("[1 TO 5]")?.position, 0)
        XCTAssertEqual(syntaxError("sh*oe")?.position, 2)
        XCTAssertEqual(syntaxError("a - b")?.position, 2)
        XCTAssertEqual(syntaxError("shoes^2")?.position, 5)
        XCTAssertEqual(syntaxError("   ")?.position, 0)
    }

    func testSyntaxErrorMessagesSayWhatToDo() {
        let error = syntaxError("(red shoes")
        XCTAssertTrue(error?.message.contains("add a ')'") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.description.contains("character 0") ?? false)
    }
}
