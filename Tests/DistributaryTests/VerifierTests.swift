import BinlogCore
@testable import Distributary
import Routing
import SearchIndex
import XCTest

/// The pure parts of `distributary verify`: key patterns (SCAN glob, matching, parsing a key
/// back into column values), expected entries and diffs.
final class VerifierTests: XCTestCase {
    func pattern(_ template: String, db: String = "shop", table: String = "products") throws -> KeyPattern {
        KeyPattern(template: try KeyTemplate(parsing: template, keyPath: "k"), schema: db, table: table)
    }

    func testGlobEscapesLiteralsAndResolvesTableNames() throws {
        XCTAssertEqual(try pattern("product:{id}").glob, "product:*")
        XCTAssertEqual(try pattern("{@db}:{@table}:{id}").glob, "shop:products:*")
        XCTAssertEqual(try pattern("p[*]?:{id}").glob, #"p\[\*\]\?:*"#)
        XCTAssertEqual(try pattern("o:{shop}:{id}").glob, "o:*:*")
    }

    func testMatchesOnlyKeysOfTheTemplate() throws {
        let p = try pattern("user:{id}:prefs")
        XCTAssertTrue(p.matches(Array("user:1:prefs".utf8)))
        XCTAssertTrue(p.matches(Array("user:a:b:prefs".utf8)))
        XCTAssertFalse(p.matches(Array("user:1".utf8)))
        XCTAssertFalse(p.matches(Array("user:1:prefsx".utf8)))
        XCTAssertTrue(try pattern("user:{id}").matches(Array("user:1:prefs".utf8)))
    }

    func testParsesSingleColumnKeys() throws {
        let p = try pattern("user:{id}:prefs")
        XCTAssertEqual(p.parse(Array("user:1:x:prefs".utf8)), [Array("1:x".utf8)])
        XCTAssertNil(p.parse(Array("user:1".utf8)))
        XCTAssertEqual(try pattern("p:{id}").parse(Array(#"p:a\b"#.utf8)), [Array(#"a\b"#.utf8)])
    }

    func testParsesEscapedMultiColumnKeys() throws {
        let p = try pattern("o:{shop}:{id}")
        XCTAssertEqual(p.parse(Array("o:7:100".utf8)), [Array("7".utf8), Array("100".utf8)])
        // The Router escapes `\` and the separator inside values of multi-column keys.
        XCTAssertEqual(p.parse(Array(#"o:a\:b:c\\d"#.utf8)), [Array("a:b".utf8), Array(#"c\d"#.utf8)])
        XCTAssertNil(p.parse(Array("x:7:100".utf8)))
        XCTAssertNil(try pattern("{a}{b}").parse(Array("12".utf8)), "adjacent columns are ambiguous")
    }

    func testExpectedEntriesLeaveNullColumnsOutAndSkipDeletes() {
        let writes: CacheWrites = [
            .hash(key: "p:1", fields: [("name", "a"), ("price", "1.00")], removed: ["released"]),
            .hash(key: "p:2", fields: [], removed: ["name"]),
            .string(key: "o:1", value: #"{"a":1}"#),
            .delete(key: "s:1"),
        ]
        let entries = Verifier.expectedEntries(writes)
        XCTAssertEqual(entries.map(\.key), ["p:1", "p:2", "o:1"])
        XCTAssertEqual(entries[0].value, .hash(["name": "a", "price": "1.00"]))
        XCTAssertNil(entries[1].value, "a hash without fields does not exist in Redis")
        XCTAssertEqual(entries[2].value, .string(#"{"a":1}"#))
    }

    func testDiffsNameFields() {
        let hash = Verifier.redisDiff(.hash(["name": "a", "price": "1.00"]), .hash(["name": "a", "price": "9", "extra": "x"]))
        XCTAssertEqual(hash.map(\.field), ["extra", "price"])
        XCTAssertEqual(hash[1].expected, "1.00")
        XCTAssertEqual(hash[1].actual, "9")
        XCTAssertNil(hash[0].expected)
        let json = Verifier.redisDiff(.string(#"{"a":1,"b":"x"}"#), .string(#"{"a":1,"b":"y"}"#))
        XCTAssertEqual(json.map(\.field), ["b"])
        XCTAssertEqual(json[0].expected, #""x""#)
        let doc = Verifier.documentDiff(["tag": .string("a"), "n": .int(1)], ["tag": .string("b"), "n": .int(1)])
        XCTAssertEqual(doc.map(\.field), ["tag"])
    }

    func testReportJSONCarriesKeysAndVerdict() throws {
        var report = VerifyReport(pipeline: "p", source: "127.0.0.1:3306")
        var r = VerifyReport.Result(table: "shop.products", sink: "redis", target: "product:{id}")
        r.checked = 3
        r.missing = 1
        r.missingKeys = ["product:2"]
        r.different = 1
        r.differentKeys = [("product:3", [VerifyReport.FieldDiff(field: "price", expected: "1", actual: nil)])]
        report.results = [r]
        XCTAssertFalse(report.matches)
        let object = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
        XCTAssertEqual(object["matches"] as? Bool, false)
        let result = (object["results"] as! [[String: Any]])[0]
        XCTAssertEqual(result["missing_keys"] as? [String], ["product:2"])
        let diff = ((result["different_keys"] as! [[String: Any]])[0]["diff"] as! [[String: Any]])[0]
        XCTAssertEqual(diff["field"] as? String, "price")
        XCTAssertTrue(diff["actual"] is NSNull)
        XCTAssertTrue(report.text.contains(#"different  product:3  price: expected "1", actual absent"#))
        XCTAssertTrue(report.text.contains("result: 2 entries differ from the source"))
    }
}
