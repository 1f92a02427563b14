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
    static func analyze(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var word = String.UnicodeScalarView()
        var ideographs: [Unicode.Scalar] = []

        func emit(_ term: String) {
            tokens.append(Token(term: term, position: tokens.count))
        }
        func flushWord() {
            if !word.isEmpty {
                emit(String(word))
                word = String.UnicodeScalarView()
            }
        }
        func flushIdeographs() {
            if ideographs.count == 1 {
                emit(String(Character(ideographs[0])))
            } else if ideographs.count > 1 {
                for index in 0..<(ideographs.count - 1) {
                    var pair = String.UnicodeScalarView()
                    pair.append(ideographs[index])
                    pair.append(ideographs[index + 1])
                    emit(String(pair))
                }
            }
            ideographs.removeAll()
        }

        forEachFoldedScalar(of: text) { scalar in
            if isBigrammed(scalar) {
                flushWord()
                ideographs.append(scalar)
            } else if isWordScalar(scalar) {
                flushIdeographs()
                word.append(scalar)
            } else {
                flushWord()
                flushIdeographs()
            }
        }
        flushWord()
        flushIdeographs()
        return tokens
    }

    /// Lowercases and folds `text` without splitting it.
    static func normalize(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        forEachFoldedScalar(of: text) { result.append($0) }
        return String(result)
    }

    /// Calls `body` with the folded scalars of `text`: ASCII directly, other scalars
    /// through a cache of their folded forms; a combining mark after a Latin, Greek or
    /// Cyrillic letter is dropped.
    private static func forEachFoldedScalar(of text: String, _ body: (Unicode.Scalar) -> Void) {
        var afterFoldedLetter = false
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                body((0x41...0x5A).contains(value) ? Unicode.Scalar(UInt8(value + 0x20)) : scalar)
                afterFoldedLetter = true
                continue
            }
            if scalar.properties.generalCategory == .nonspacingMark {
                if !afterFoldedLetter { body(scalar) }
                continue
            }
            for folded in foldCache.folded(scalar) { body(folded) }
            afterFoldedLetter = isFoldedScript(scalar)
        }
    }

    private static let foldCache = FoldCache()

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

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
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
    private static func isFoldedScript(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x0530 || (0x1E00...0x1FFF).contains(value) || (0x2C60...0x2C7F).contains(value)
            || (0xA720...0xA7FF).contains(value)
    }

    /// Han ideographs, Hiragana and Katakana: scripts written without spaces.
    private static func isBigrammed(_ scalar: Unicode.Scalar) -> Bool {
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
private final class FoldCache: @unchecked Sendable {
    private let lock = NSLock()
    private var folds: [Unicode.Scalar: [Unicode.Scalar]] = [:]

    func folded(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if let cached = lock.withLock({ folds[scalar] }) { return cached }
        let computed = Analyzer.fold(scalar)
        lock.withLock { folds[scalar] = computed }
        return computed
    }
}
