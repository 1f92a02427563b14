import Foundation

/// One analyzed term of a text value and its position (0, 1, 2, …) in the value.
struct Token: Equatable {
    var term: String
    var position: Int
}

/// The analyzer of `text` fields, used identically when indexing and when querying.
///
/// Normalization lowercases, applies Unicode compatibility decomposition (full-width
/// forms, ligatures), removes combining marks from Latin, Greek and Cyrillic letters
/// ("Café" → "cafe") and maps a few letters without a decomposition (ß → ss, ø → o, …).
/// Tokenization keeps runs of letters, digits and marks of every script and splits on
/// everything else; runs of Han ideographs and kana become overlapping bigrams
/// ("東京都" → "東京", "京都"), a single ideograph stays a unigram.
enum Analyzer {
    static func analyze(_ text: String, _ analysis: TextAnalysis = .standard) -> [Token] {
        var collector = TokenCollector()
        var scanner = TermScanner(analysis)
        scanner.scan(text, into: &collector)
        return collector.tokens
    }

    static let foldCache = FoldCache()

    /// The folded form of one non-ASCII scalar: lowercased, compatibility-decomposed,
    /// without the marks of folded scripts, recomposed, with `letterFolds` applied.
    fileprivate static func fold(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        let decomposed = String(Character(scalar)).lowercased().decomposedStringWithCompatibilityMapping
        var kept = String.UnicodeScalarView()
        var lastBase: Unicode.Scalar?
        for part in decomposed.unicodeScalars {
            if part.properties.generalCategory == .nonspacingMark {
                if let base = lastBase, isFoldedScript(base) { continue }
            } else {
                lastBase = part
            }
            kept.append(part)
        }
        var result: [Unicode.Scalar] = []
        for part in String(kept).precomposedStringWithCanonicalMapping.unicodeScalars {
            if let replacement = letterFolds[part] {
                result.append(contentsOf: replacement.unicodeScalars)
            } else {
                result.append(part)
            }
        }
        return result
    }

    private static let letterFolds: [Unicode.Scalar: String] = [
        "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h",
    ]

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return (0x61...0x7A).contains(scalar.value) || (0x30...0x39).contains(scalar.value)
        }
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    /// Latin, Greek and Cyrillic: scripts whose accents are folded away.
    static func isFoldedScript(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x0530 || (0x1E00...0x1FFF).contains(value) || (0x2C60...0x2C7F).contains(value)
            || (0xA720...0xA7FF).contains(value)
    }

    /// Han ideographs, Hiragana and Katakana: scripts written without spaces.
    static func isBigrammed(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.value >= 0x3040 else { return false }
        switch scalar.value {
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F:
            return scalar.properties.isAlphabetic || scalar.properties.generalCategory == .modifierLetter
        default:
            return false
        }
    }
}

/// Folded forms of non-ASCII scalars, computed once per scalar and shared by all threads.
final class FoldCache: @unchecked Sendable {
    private let lock = NSLock()
    private var folds: [Unicode.Scalar: [Unicode.Scalar]] = [:]

    func folded(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if let cached = lock.withLock({ folds[scalar] }) { return cached }
        let computed = Analyzer.fold(scalar)
        lock.withLock { folds[scalar] = computed }
        return computed
    }
}

/// Receives the terms of analyzed text as UTF-8 bytes, valid only during the call, with
/// the range of UTF-8 offsets of the original text they come from.
protocol TermSink {
    mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>)
}

/// Collects terms as `Token`s (queries and tests; indexing takes the bytes directly).
private struct TokenCollector: TermSink {
    var tokens: [Token] = []

    mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>) {
        tokens.append(Token(term: String(decoding: bytes, as: UTF8.self), position: position))
    }
}

/// The analyzer's tokenizer (see `Analyzer`), reusable across values so that indexing
/// allocates nothing per token: ASCII is lowercased and classified byte by byte, other
/// scalars are folded through the shared cache; words are built in a reused byte buffer.
struct TermScanner {
    private var word: [UInt8] = []
    private var wordStart = 0
    private var wordEnd = 0
    private var ideographs: [Unicode.Scalar] = []
    private var ideographStarts: [Int] = []
    private var pair: [UInt8] = []
    /// The UTF-8 offset of the scalar being scanned, and the offset after it.
    private var offset = 0
    private var nextOffset = 0
    /// The number of positions of the last scanned value (stop words take one too).
    private(set) var count = 0
    /// The number of terms of the last scanned value (the BM25 length).
    private(set) var emitted = 0
    private let stemEnglish: Bool
    private let englishStopWords: Bool

    init(_ analysis: TextAnalysis = .standard) {
        stemEnglish = analysis.stem == .english
        englishStopWords = analysis.stopWords == .english
    }

    /// Lucene's English stop words.
    private static let englishStops: Set<[UInt8]> = Set(
        [
            "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
            "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
            "will", "with",
        ].map { Array($0.utf8) })

    /// Calls `sink.term` for every term of `text`, with positions 0, 1, 2, …
    mutating func scan<Sink: TermSink>(_ text: String, into sink: inout Sink) {
        count = 0
        emitted = 0
        word.removeAll(keepingCapacity: true)
        ideographs.removeAll(keepingCapacity: true)
        ideographStarts.removeAll(keepingCapacity: true)
        var text = text
        text.withUTF8 { scanBytes($0, &sink) }
        flushWord(&sink)
        flushIdeographs(&sink)
    }

    /// Scans valid UTF-8: ASCII byte by byte, other scalars decoded and folded.
    private mutating func scanBytes<Sink: TermSink>(_ bytes: UnsafeBufferPointer<UInt8>, _ sink: inout Sink) {
        var afterFoldedLetter = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 && word.isEmpty && ideographs.isEmpty && Self.isASCIIWordByte(byte) {
                index = scanASCIIWord(bytes, from: index, &sink)
                afterFoldedLetter = true
                continue
            }
            if byte < 0x80 {
                afterFoldedLetter = true
                let lower = byte | 0x20
                if (0x61...0x7A).contains(lower) || (0x30...0x39).contains(byte) {
                    if !ideographs.isEmpty { flushIdeographs(&sink) }
                    if word.isEmpty { wordStart = index }
                    word.append((0x41...0x5A).contains(byte) ? lower : byte)
                    wordEnd = index + 1
                } else if !word.isEmpty || !ideographs.isEmpty {
                    flushWord(&sink)
                    flushIdeographs(&sink)
                }
                index += 1
                continue
            }
            var length = 4
            var value = UInt32(byte & 0x07)
            if byte < 0xE0 {
                length = 2
                value = UInt32(byte & 0x1F)
            } else if byte < 0xF0 {
                length = 3
                value = UInt32(byte & 0x0F)
            }
            length = min(length, bytes.count - index)
            for continuation in 1..<max(length, 1) { value = value << 6 | UInt32(bytes[index + continuation] & 0x3F) }
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            offset = index
            nextOffset = index + length
            index += max(length, 1)
            if scalar.properties.generalCategory == .nonspacingMark {
                if !afterFoldedLetter { accept(scalar, &sink) }
                continue
            }
            for folded in Analyzer.foldCache.folded(scalar) { accept(folded, &sink) }
            afterFoldedLetter = Analyzer.isFoldedScript(scalar)
        }
    }

    private static func isASCIIWordByte(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- 0x61 < 26 || byte &- 0x30 < 10
    }

    /// Scans the run of ASCII letters and digits starting at `start` (with no word or
    /// ideographs pending) and returns the index after it. A run that ends the text or is
    /// followed by ASCII is a whole word: without capitals and optional steps it goes to
    /// the sink straight from `bytes`, else through the word buffer. A run followed by a
    /// non-ASCII scalar stays in the word buffer, which that scalar may extend.
    private mutating func scanASCIIWord<Sink: TermSink>(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ sink: inout Sink
    ) -> Int {
        var end = start
        var capitals = false
        while end < bytes.count {
            let byte = bytes[end]
            guard byte < 0x80, Self.isASCIIWordByte(byte) else { break }
            capitals = capitals || byte &- 0x41 < 26
            end += 1
        }
        let whole = end == bytes.count || bytes[end] < 0x80
        if whole && !capitals && !stemEnglish && !englishStopWords {
            sink.term(UnsafeBufferPointer(rebasing: bytes[start..<end]), position: count, source: start..<end)
            count += 1
            emitted += 1
            return end
        }
        word.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
        if capitals {
            for index in word.indices where word[index] &- 0x41 < 26 { word[index] |= 0x20 }
        }
        wordStart = start
        wordEnd = end
        if whole { flushWord(&sink) }
        return end
    }

    private mutating func accept<Sink: TermSink>(_ scalar: Unicode.Scalar, _ sink: inout Sink) {
        if Analyzer.isBigrammed(scalar) {
            flushWord(&sink)
            ideographs.append(scalar)
            ideographStarts.append(offset)
        } else if Analyzer.isWordScalar(scalar) {
            if !ideographs.isEmpty { flushIdeographs(&sink) }
            if word.isEmpty { wordStart = offset }
            Self.appendUTF8(scalar, to: &word)
            wordEnd = nextOffset
        } else {
            flushWord(&sink)
            flushIdeographs(&sink)
        }
    }

    private mutating func flushWord<Sink: TermSink>(_ sink: inout Sink) {
        guard !word.isEmpty else { return }
        defer {
            count += 1
            word.removeAll(keepingCapacity: true)
        }
        if englishStopWords && word.count <= 5 && Self.englishStops.contains(word) { return }
        if stemEnglish { EnglishStemmer.stem(&word) }
        let position = count
        let source = wordStart..<wordEnd
        word.withUnsafeBufferPointer { sink.term($0, position: position, source: source) }
        emitted += 1
    }

    private mutating func flushIdeographs<Sink: TermSink>(_ sink: inout Sink) {
        guard !ideographs.isEmpty else { return }
        if ideographs.count == 1 {
            emitPair(0, single: true, &sink)
        } else {
            for index in 0..<(ideographs.count - 1) { emitPair(index, single: false, &sink) }
        }
        ideographs.removeAll(keepingCapacity: true)
        ideographStarts.removeAll(keepingCapacity: true)
    }

    /// Emits the ideograph at `index` alone, or with the next one.
    private mutating func emitPair<Sink: TermSink>(_ index: Int, single: Bool, _ sink: inout Sink) {
        pair.removeAll(keepingCapacity: true)
        Self.appendUTF8(ideographs[index], to: &pair)
        let last = single ? index : index + 1
        if !single { Self.appendUTF8(ideographs[last], to: &pair) }
        let source = ideographStarts[index]..<(ideographStarts[last] + UTF8.width(ideographs[last]))
        let position = count
        pair.withUnsafeBufferPointer { sink.term($0, position: position, source: source) }
        count += 1
        emitted += 1
    }

    private static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        if let encoded = UTF8.encode(scalar) { bytes.append(contentsOf: encoded) }
    }
}
