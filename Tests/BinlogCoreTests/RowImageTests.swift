import XCTest
@testable import BinlogCore

/// Row images keep values in the event's bytes; these tests hold the two ways of
/// reading them — a `ColumnValue` per element, or the dump writer rendering the bytes
/// directly — to the same result on every real binlog of the corpus.
final class RowImageTests: XCTestCase {
    /// Renders every row twice: from the decoded image, and from an image of the same
    /// values made with `RowImage(_:)` (which renders through `ColumnValue`).
    func testDirectRenderingEqualsColumnValueRenderingOnTheCorpus() throws {
        var rows = 0
        var mismatches: [String] = []
        for file in try Corpus.allFiles() where !CorpusDecodeTests.negative.contains(file) {
            guard let events = try? Corpus.decode(file) else { continue }
            for format in RowDumpWriter.Format.allCases {
                var direct = RowDumpWriter(format: format)
                var viaValues = RowDumpWriter(format: format)
                func feed(_ event: DecodedEvent) {
                    switch event.event {
                    case .rows(let changes):
                        for change in changes {
                            var copy = change
                            copy.before = change.before.map { RowImage($0.values) }
                            copy.after = change.after.map { RowImage($0.values) }
                            direct.append(change, file: "f", position: event.position.offset, gtid: nil)
                            viaValues.append(copy, file: "f", position: event.position.offset, gtid: nil)
                            rows += 1
                        }
                    case .transactionPayload(let nested):
                        nested.forEach(feed)
                    default:
                        break
                    }
                }
                events.forEach(feed)
                var a = [UInt8](), b = [UInt8]()
                direct.drain { a.append(contentsOf: $0) }
                viaValues.drain { b.append(contentsOf: $0) }
                if a != b {
                    let at = zip(a, b).prefix { $0 == $1 }.count
                    mismatches.append("\(file) \(format): differs at byte \(at): \(String(decoding: a[max(0, at - 60)..<min(a.count, at + 60)], as: UTF8.self))")
                }
            }
        }
        XCTAssertEqual(mismatches, [])
        XCTAssertGreaterThan(rows, 10_000)
    }

    /// `sameValue` (slots and bytes, no values made) never calls two different values of
    /// an update's images the same, and recognises most unchanged columns of the corpus.
    func testSameValueOfUpdateImagesOnTheCorpus() throws {
        var same = 0, equal = 0
        var wrong: [String] = []
        for file in try Corpus.allFiles() where !CorpusDecodeTests.negative.contains(file) {
            guard let events = try? Corpus.decode(file) else { continue }
            func feed(_ event: DecodedEvent) {
                switch event.event {
                case .rows(let changes):
                    for change in changes {
                        guard let before = change.before, let after = change.after else { continue }
                        for i in 0..<min(before.count, after.count) {
                            let isSame = after.sameValue(i, as: before)
                            let isEqual = before[i] != nil && before[i] == after[i]
                            if isSame && !isEqual { wrong.append("\(file) at \(event.position.offset) column \(i): \(String(describing: before[i])) vs \(String(describing: after[i]))") }
                            if isSame { same += 1 }
                            if isEqual { equal += 1 }
                        }
                    }
                case .transactionPayload(let nested): nested.forEach(feed)
                default: break
                }
            }
            events.forEach(feed)
        }
        XCTAssertEqual(wrong, [])
        XCTAssertGreaterThan(equal, 1000)
        XCTAssertGreaterThan(Double(same), 0.9 * Double(equal), "unchanged columns are recognised")
        // Literal images compare their values; a literal and a decoded image never match.
        let a: RowImage = [.int(1), .string("x"), .null, nil]
        let b: RowImage = [.int(1), .string("y"), .null, nil]
        XCTAssertEqual((0..<4).map { a.sameValue($0, as: b) }, [true, false, true, false])
    }

    /// `appendText`/`appendJSON` (straight from the bytes) spell every corpus value as
    /// `ColumnValue.text`/`appendJSON` do.
    func testAppendTextAndJSONEqualColumnValueSpellingsOnTheCorpus() throws {
        var checked = 0
        var mismatches: [String] = []
        for file in try Corpus.allFiles() where !CorpusDecodeTests.negative.contains(file) {
            guard let events = try? Corpus.decode(file) else { continue }
            func check(_ image: RowImage?) {
                guard let image else { return }
                for i in 0..<image.count {
                    let value = image[i]
                    var text: [UInt8] = []
                    let hasText = image.appendText(i, to: &text)
                    let expectedText = value?.text
                    if hasText != (expectedText != nil) || (expectedText.map { Array($0.utf8) != text } ?? false) {
                        mismatches.append("\(file) column \(i) text: \(String(decoding: text, as: UTF8.self)) vs \(expectedText ?? "nil")")
                    }
                    var json: [UInt8] = []
                    let hasJSON = image.appendJSON(i, to: &json)
                    var expectedJSON = ""
                    value?.appendJSON(to: &expectedJSON)
                    if hasJSON != (value != nil) || Array(expectedJSON.utf8) != json {
                        mismatches.append("\(file) column \(i) json: \(String(decoding: json, as: UTF8.self)) vs \(expectedJSON)")
                    }
                    checked += 1
                }
            }
            func feed(_ event: DecodedEvent) {
                switch event.event {
                case .rows(let changes): changes.forEach { check($0.before); check($0.after) }
                case .transactionPayload(let nested): nested.forEach(feed)
                default: break
                }
            }
            events.forEach(feed)
        }
        XCTAssertEqual(Array(mismatches.prefix(10)), [])
        XCTAssertGreaterThan(checked, 50_000)
    }

    func testElementsPresenceAndEquality() throws {
        let image: RowImage = [.int(1), nil, .null, .string("x")]
        XCTAssertEqual(image.count, 4)
        XCTAssertEqual(image.values, [.int(1), nil, .null, .string("x")])
        XCTAssertEqual((0..<4).map(image.isPresent), [true, false, true, true])
        XCTAssertEqual((0..<4).map(image.isNull), [false, false, true, false])
        XCTAssertNotEqual(image, [.int(1), nil, .null, .string("y")])
        XCTAssertEqual(image.description, "[Optional(BinlogCore.ColumnValue.int(1)), nil, Optional(BinlogCore.ColumnValue.null), Optional(BinlogCore.ColumnValue.string(\"x\"))]")
    }

    func testUTF8Check() {
        func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes(UTF8Check.isValid) }
        func ascii(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes(UTF8Check.isASCII) }
        XCTAssertTrue(ascii(Array("plain ascii text over eight bytes".utf8)))
        XCTAssertFalse(ascii(Array("caf\u{e9} au lait, long enough".utf8)))
        XCTAssertTrue(valid(Array("caf\u{e9} \u{1F600} \u{FFFD}".utf8)))
        for bad: [UInt8] in [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                             [0xF5, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82], [0x61, 0xFF]] {
            XCTAssertFalse(valid(bad), "\(bad)")
            // The check agrees with what String(decoding:) keeps unchanged.
            XCTAssertNotEqual(Array(String(decoding: bad, as: UTF8.self).utf8), bad)
        }
    }
}
