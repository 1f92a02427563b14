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

    func testASCIIWordsNextToOtherScriptsAndCapitals() {
        XCTAssertEqual(terms("caféBar ABCÉ abc東京 Ünïcödé x"), ["cafebar", "abce", "abc", "東京", "unicode", "x"])
        XCTAssertEqual(terms("e\u{301}tude NAÏVE naïve"), ["etude", "naive", "naive"])
        XCTAssertEqual(terms("end"), ["end"])
        XCTAssertEqual(terms("MiXeD9 42x"), ["mixed9", "42x"])
        XCTAssertEqual(
            Analyzer.analyze("Running DOGS, the cats", TextAnalysis(stem: .english, stopWords: .english)).map(\.term),
            ["run", "dog", "cat"])
    }

    /// Words reach the sink with the offsets of the source text they come from.
    func testSourceOffsetsOfWords() {
        struct Offsets: TermSink {
            var ranges: [Range<Int>] = []
            mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>) {
                ranges.append(source)
            }
        }
        var sink = Offsets()
        var scanner = TermScanner()
        scanner.scan("ab Cd é fg", into: &sink)
        XCTAssertEqual(sink.ranges, [0..<2, 3..<5, 6..<8, 9..<11])
    }
}
