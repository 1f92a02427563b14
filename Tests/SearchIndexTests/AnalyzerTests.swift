import XCTest
@testable import SearchIndex

final class AnalyzerTests: XCTestCase {
    private func terms(_ text: String) -> [String] { Analyzer.analyze(text).map(\.term) }

    func testSplitsOnPunctuationAndLowercases() {
        XCTAssertEqual(terms("Hello, World! It's 2024-01-31."), ["hello", "world", "it", "s", "2024", "01", "31"])
    }

    func testFoldsDiacriticsAndSpecialLetters() {
        XCTAssertEqual(terms("Café Crème BRÛLÉE"), ["cafe", "creme", "brulee"])
        XCTAssertEqual(terms("Straße Łódź Ærø"), ["strasse", "lodz", "aero"])
        XCTAssertEqual(terms("ＦＵＬＬ ﬁx"), ["full", "fix"])
    }

    func testKeepsLettersOfOtherScripts() {
        XCTAssertEqual(terms("Привет мир"), ["привет", "мир"])
        XCTAssertEqual(terms("Ελληνικά"), ["ελληνικα"])
        XCTAssertEqual(terms("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"])
        XCTAssertEqual(terms("مرحبا بالعالم"), ["مرحبا", "بالعالم"])
    }

    func testIdeographsBecomeBigrams() {
        XCTAssertEqual(terms("東京都"), ["東京", "京都"])
        XCTAssertEqual(terms("東"), ["東"])
        XCTAssertEqual(terms("iPhone東京"), ["iphone", "東京"])
    }

    func testPositionsCountTokens() {
        XCTAssertEqual(Analyzer.analyze("a b  c").map(\.position), [0, 1, 2])
        XCTAssertEqual(terms("  --  "), [])
    }
}
