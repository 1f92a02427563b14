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

        for scalar in normalize(text).unicodeScalars {
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
        let decomposed = text.lowercased().decomposedStringWithCompatibilityMapping
        var kept = String.UnicodeScalarView()
        var lastBase: Unicode.Scalar?
        for scalar in decomposed.unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark, let base = lastBase, isFoldedScript(base) {
                continue
            }
            if scalar.properties.generalCategory != .nonspacingMark {
                lastBase = scalar
            }
            kept.append(scalar)
        }
        var result = String.UnicodeScalarView()
        for scalar in String(kept).precomposedStringWithCanonicalMapping.unicodeScalars {
            if let replacement = letterFolds[scalar] {
                result.append(contentsOf: replacement.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private static let letterFolds: [Unicode.Scalar: String] = [
        "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h",
    ]

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
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
        switch scalar.value {
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F:
            return scalar.properties.isAlphabetic || scalar.properties.generalCategory == .modifierLetter
        default:
            return false
        }
    }
}
