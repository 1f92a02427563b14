/// The English (Porter2) stemmer as described by the Snowball project (the 2006 rules; Snowball
/// 3 later added R1 exceptions such as "organ", "past", "univers" and an "ogist" rule, so a
/// few dozen words in 50,000 stem differently), on lowercase ASCII words held
/// as bytes: "running" → "run", "generously" → "generous", "skies" → "sky".
///
/// Words with a byte outside a–z (and apostrophe) are left as they are; others are
/// replaced in the caller's buffer.
enum EnglishStemmer {
    private static let a = UInt8(ascii: "a"), e = UInt8(ascii: "e"), i = UInt8(ascii: "i"), o = UInt8(ascii: "o")
    private static let u = UInt8(ascii: "u"), y = UInt8(ascii: "y"), bigY = UInt8(ascii: "Y")
    private static let apostrophe = UInt8(ascii: "'")

    private static func isVowel(_ c: UInt8) -> Bool { c == a || c == e || c == i || c == o || c == u || c == y }

    /// Stems `word` in place.
    static func stem(_ word: inout [UInt8]) {
        guard word.count > 2, word.allSatisfy({ (0x61...0x7A).contains($0) || $0 == apostrophe }) else { return }
        if let exception = exceptions1[word] {
            word = exception
            return
        }
        if word.first == apostrophe { word.removeFirst() }
        if word.first == y { word[0] = bigY }
        var index = 1
        while index < word.count {
            if word[index] == y && isVowel(word[index - 1]) { word[index] = bigY }
            index += 1
        }
        let r1 = region1(word)
        let r2 = region(after: r1, in: word)
        var w = Word(bytes: word, r1: r1, r2: r2)
        w.step0()
        w.step1a()
        if invariantAfter1a.contains(w.bytes) {
            word = w.bytes.map { $0 == bigY ? y : $0 }
            return
        }
        w.step1b()
        w.step1c()
        w.step2()
        w.step3()
        w.step4()
        w.step5()
        word = w.bytes.map { $0 == bigY ? y : $0 }
    }

    private static func region1(_ word: [UInt8]) -> Int {
        for prefix in ["gener", "commun", "arsen"] where word.starts(with: prefix.utf8) { return prefix.utf8.count }
        return region(after: 0, in: word)
    }

    /// The start of the region after the first non-vowel following a vowel, from `start`.
    private static func region(after start: Int, in word: [UInt8]) -> Int {
        var index = start + 1
        while index < word.count {
            if !isVowel(word[index]) && isVowel(word[index - 1]) { return index + 1 }
            index += 1
        }
        return word.count
    }

    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private static let exceptions1: [[UInt8]: [UInt8]] = {
        let pairs = [
            "skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie", "idly": "idl",
            "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli", "singly": "singl", "sky": "sky",
            "news": "news", "howe": "howe", "atlas": "atlas", "cosmos": "cosmos", "bias": "bias", "andes": "andes",
        ]
        var table: [[UInt8]: [UInt8]] = [:]
        for (word, stem) in pairs { table[bytes(word)] = bytes(stem) }
        return table
    }()

    private static let invariantAfter1a: Set<[UInt8]> = Set(
        ["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"].map(bytes))

    /// A word being stemmed with its regions R1 and R2 (start offsets).
    private struct Word {
        var bytes: [UInt8]
        let r1: Int
        let r2: Int

        func ends(_ suffix: String) -> Bool {
            let count = suffix.utf8.count
            guard bytes.count >= count else { return false }
            return bytes[(bytes.count - count)...].elementsEqual(suffix.utf8)
        }

        /// The start of `suffix` if the word ends with it.
        func start(of suffix: String) -> Int? { ends(suffix) ? bytes.count - suffix.utf8.count : nil }

        mutating func replace(_ suffix: String, with replacement: String) {
            bytes.removeLast(suffix.utf8.count)
            bytes.append(contentsOf: replacement.utf8)
        }

        /// The longest of `suffixes` the word ends with.
        func longest(_ suffixes: [String]) -> String? {
            suffixes.filter { ends($0) }.max { $0.utf8.count < $1.utf8.count }
        }

        func hasVowel(before end: Int) -> Bool { bytes[..<end].contains(where: EnglishStemmer.isVowel) }

        /// A short syllable ends at `end` (exclusive).
        func shortSyllable(endingAt end: Int) -> Bool {
            if end == 2 {
                return EnglishStemmer.isVowel(bytes[0]) && !EnglishStemmer.isVowel(bytes[1])
            }
            guard end >= 3 else { return false }
            let last = bytes[end - 1]
            return !EnglishStemmer.isVowel(bytes[end - 3]) && EnglishStemmer.isVowel(bytes[end - 2])
                && !EnglishStemmer.isVowel(last) && last != UInt8(ascii: "w") && last != UInt8(ascii: "x")
                && last != EnglishStemmer.bigY
        }

        var isShort: Bool { r1 >= bytes.count && shortSyllable(endingAt: bytes.count) }

        mutating func step0() {
            if let suffix = longest(["'s'", "'s", "'"]) { bytes.removeLast(suffix.utf8.count) }
        }

        mutating func step1a() {
            if ends("sses") {
                replace("sses", with: "ss")
            } else if ends("ied") || ends("ies") {
                bytes.removeLast(3)
                bytes.append(contentsOf: bytes.count > 1 ? "i".utf8 : "ie".utf8)
            } else if ends("us") || ends("ss") {
                return
            } else if ends("s") {
                // Delete if the part before the s holds a vowel not immediately before it.
                if bytes.count >= 3 && hasVowel(before: bytes.count - 2) { bytes.removeLast() }
            }
        }

        mutating func step1b() {
            if let suffix = longest(["eed", "eedly"]) {
                if bytes.count - suffix.utf8.count >= r1 { replace(suffix, with: "ee") }
                return
            }
            guard let suffix = longest(["ed", "edly", "ing", "ingly"]) else { return }
            let stemEnd = bytes.count - suffix.utf8.count
            guard hasVowel(before: stemEnd) else { return }
            bytes.removeLast(suffix.utf8.count)
            if ends("at") || ends("bl") || ends("iz") {
                bytes.append(UInt8(ascii: "e"))
            } else if let last = bytes.last, bytes.count >= 2, bytes[bytes.count - 2] == last,
                "bdfgmnprt".utf8.contains(last)
            {
                bytes.removeLast()
            } else if isShort {
                bytes.append(UInt8(ascii: "e"))
            }
        }

        mutating func step1c() {
            guard bytes.count > 2, let last = bytes.last, last == EnglishStemmer.y || last == EnglishStemmer.bigY,
                !EnglishStemmer.isVowel(bytes[bytes.count - 2])
            else { return }
            bytes[bytes.count - 1] = EnglishStemmer.i
        }

        private static let step2Rules: [(String, String)] = [
            ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("abli", "able"), ("entli", "ent"),
            ("izer", "ize"), ("ization", "ize"), ("ational", "ate"), ("ation", "ate"), ("ator", "ate"),
            ("alism", "al"), ("aliti", "al"), ("alli", "al"), ("fulness", "ful"), ("ousli", "ous"),
            ("ousness", "ous"), ("iveness", "ive"), ("iviti", "ive"), ("biliti", "ble"), ("bli", "ble"),
            ("ogi", "og"), ("fulli", "ful"), ("lessli", "less"), ("li", ""),
        ]

        mutating func step2() {
            guard let suffix = longest(Self.step2Rules.map(\.0)), let stemEnd = start(of: suffix), stemEnd >= r1 else { return }
            switch suffix {
            case "ogi":
                if stemEnd >= 1 && bytes[stemEnd - 1] == UInt8(ascii: "l") { replace("ogi", with: "og") }
            case "li":
                if stemEnd >= 1 && "cdeghkmnrt".utf8.contains(bytes[stemEnd - 1]) { bytes.removeLast(2) }
            default:
                replace(suffix, with: Self.step2Rules.first { $0.0 == suffix }!.1)
            }
        }

        private static let step3Rules: [(String, String)] = [
            ("tional", "tion"), ("ational", "ate"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
            ("ical", "ic"), ("ful", ""), ("ness", ""), ("ative", ""),
        ]

        mutating func step3() {
            guard let suffix = longest(Self.step3Rules.map(\.0)), let stemEnd = start(of: suffix), stemEnd >= r1 else { return }
            if suffix == "ative" {
                if stemEnd >= r2 { bytes.removeLast(5) }
            } else {
                replace(suffix, with: Self.step3Rules.first { $0.0 == suffix }!.1)
            }
        }

        private static let step4Suffixes = [
            "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ism", "ate", "iti",
            "ous", "ive", "ize", "ion",
        ]

        mutating func step4() {
            guard let suffix = longest(Self.step4Suffixes), let stemEnd = start(of: suffix), stemEnd >= r2 else { return }
            if suffix == "ion" {
                if stemEnd >= 1 && (bytes[stemEnd - 1] == UInt8(ascii: "s") || bytes[stemEnd - 1] == UInt8(ascii: "t")) {
                    bytes.removeLast(3)
                }
            } else {
                bytes.removeLast(suffix.utf8.count)
            }
        }

        mutating func step5() {
            guard let last = bytes.last else { return }
            let position = bytes.count - 1
            if last == EnglishStemmer.e {
                if position >= r2 || (position >= r1 && !shortSyllable(endingAt: position)) { bytes.removeLast() }
            } else if last == UInt8(ascii: "l") {
                if position >= r2 && position >= 1 && bytes[position - 1] == UInt8(ascii: "l") { bytes.removeLast() }
            }
        }
    }
}
