import Foundation
import XCTest
@testable import SearchIndex

/// Random corpora (several commits, so several segments, merges, updates and deletes)
/// searched with random queries of every kind; each result is checked against a
/// brute-force scorer over a plain model of the live documents: the same matching
/// documents, BM25 scores equal to 1e-6, and pages (offset/limit) that are the best
/// scores in order.
final class ReferenceScorerTests: IndexTestCase {
    /// Deterministic random numbers (SplitMix64), so a failure can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    }

    struct ModelDocument {
        var title: [String]
        var body: [String]
        var tag: String?
        var n: Double?
    }

    /// A query as generated: rendered to text for the index, evaluated directly by the model.
    indirect enum TestQuery {
        case term(field: String?, word: String)
        case phrase(field: String?, words: [String])
        case prefix(field: String?, prefix: String)
        case keyword(String)
        case range(low: Int?, high: Int?, includeLow: Bool, includeHigh: Bool)
        case group([(occur: Character?, query: TestQuery)])

        var text: String {
            switch self {
            case .term(let field, let word): return (field.map { "\($0):" } ?? "") + word
            case .phrase(let field, let words): return (field.map { "\($0):" } ?? "") + "\"\(words.joined(separator: " "))\""
            case .prefix(let field, let prefix): return (field.map { "\($0):" } ?? "") + prefix + "*"
            case .keyword(let value): return "tag:\(value)"
            case .range(let low, let high, let includeLow, let includeHigh):
                return "n:\(includeLow ? "[" : "{")\(low.map(String.init) ?? "*") TO \(high.map(String.init) ?? "*")\(includeHigh ? "]" : "}")"
            case .group(let clauses):
                return "(" + clauses.map { (clause) in (clause.occur.map(String.init) ?? "") + clause.query.text }
                    .joined(separator: " ") + ")"
            }
        }
    }

    static let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                        "lambda", "mu", "alps", "alto", "betamax", "gammon"]
    static let tags = ["red", "green", "blue", "Sold Out"]

    let schema = IndexSchema(fields: ["title": .text, "body": .text, "tag": .keyword, "n": .number], stored: ["n"])

    private func randomWords(_ random: inout Random, max: Int) -> [String] {
        // Skewed: early words are frequent, so idf and frequencies vary.
        (0..<random.below(max + 1)).map { _ in Self.words[min(random.below(Self.words.count), random.below(Self.words.count))] }
    }

    private func randomQuery(_ random: inout Random, model: [String: ModelDocument], depth: Int) -> TestQuery {
        let fields: [String?] = [nil, nil, "title", "body"]
        switch random.below(depth > 1 ? 6 : 9) {
        case 0, 1: return .term(field: random.pick(fields), word: random.pick(Self.words))
        case 2:
            // Mostly phrases that occur somewhere.
            let bodies = model.values.map(\.body).filter { $0.count >= 3 }
            if let body = bodies.isEmpty ? nil : random.pick(bodies), random.below(4) > 0 {
                let length = 2 + random.below(2)
                let start = random.below(body.count - length + 1)
                return .phrase(field: random.pick([nil, "body"]), words: Array(body[start..<(start + length)]))
            }
            return .phrase(field: random.pick(fields), words: [random.pick(Self.words), random.pick(Self.words)])
        case 3: return .prefix(field: random.pick(fields), prefix: String(random.pick(Self.words).prefix(1 + random.below(3))))
        case 4: return .keyword(random.pick(Self.tags).replacingOccurrences(of: " ", with: "\\ "))
        case 5:
            let low = random.below(3) == 0 ? nil : random.below(12)
            let high = random.below(3) == 0 ? nil : (low ?? 0) + random.below(12)
            return .range(low: low, high: high, includeLow: random.below(2) == 0, includeHigh: random.below(2) == 0)
        default:
            let count = 1 + random.below(4)
            return .group((0..<count).map { _ in
                (random.pick([nil, nil, "+", "-"]), randomQuery(&random, model: model, depth: depth + 1))
            })
        }
    }

    // MARK: - The reference scorer

    struct Reference {
        let documents: [String: ModelDocument]

        var count: Double { Double(documents.count) }

        func idf(_ field: String, _ term: String) -> Double {
            let df = Double(documents.values.filter { terms(of: $0, field).contains(term) }.count)
            return log(1 + (count - df + 0.5) / (df + 0.5))
        }

        func terms(of document: ModelDocument, _ field: String) -> [String] {
            switch field {
            case "title": return document.title
            case "body": return document.body
            case "tag": return document.tag.map { [$0] } ?? []
            default: return []
            }
        }

        func averageLength(_ field: String) -> Double {
            let lengths = documents.values.map { terms(of: $0, field).count }.filter { $0 > 0 }
            guard !lengths.isEmpty else { return 1 }
            return Double(lengths.reduce(0, +)) / Double(lengths.count)
        }

        func tf(_ frequency: Double, _ length: Double, _ average: Double) -> Double {
            frequency * 2.2 / (frequency + 1.2 * (0.25 + 0.75 * length / average))
        }

        /// Scores of the matching documents.
        func evaluate(_ query: TestQuery) -> [String: Double] {
            switch query {
            case .term(let field, let word):
                if let field { return termScores(field, word) }
                return sum([termScores("body", word), termScores("title", word), keywordScores(word)])
            case .phrase(let field, let words):
                if let field { return phraseScores(field, words) }
                return sum([phraseScores("body", words), phraseScores("title", words), keywordScores(words.joined(separator: " "))])
            case .prefix(let field, let prefix):
                let searched = field.map { [$0] } ?? ["body", "title", "tag"]
                return sum(searched.map { name in
                    documents.filter { terms(of: $0.value, name).contains { $0.hasPrefix(prefix) } }.mapValues { _ in 1.0 }
                })
            case .keyword(let escaped):
                return keywordScores(escaped.replacingOccurrences(of: "\\ ", with: " "))
            case .range(let low, let high, let includeLow, let includeHigh):
                return documents.filter { entry in
                    guard let n = entry.value.n else { return false }
                    if let low, includeLow ? n < Double(low) : n <= Double(low) { return false }
                    if let high, includeHigh ? n > Double(high) : n >= Double(high) { return false }
                    return true
                }.mapValues { _ in 1.0 }
            case .group(let clauses):
                if clauses.count == 1 && clauses[0].occur == nil { return evaluate(clauses[0].query) }
                let must = clauses.filter { $0.occur == "+" }.map { evaluate($0.query) }
                let should = clauses.filter { $0.occur == nil }.map { evaluate($0.query) }
                let mustNot = clauses.filter { $0.occur == "-" }.map { evaluate($0.query) }
                var result: [String: Double]
                if must.isEmpty && should.isEmpty {
                    result = documents.mapValues { _ in 1.0 }
                } else if must.isEmpty {
                    result = sum(should)
                } else {
                    result = must[0]
                    for clause in must.dropFirst() {
                        result = result.filter { clause[$0.key] != nil }.reduce(into: [:]) { $0[$1.key] = $1.value + clause[$1.key]! }
                    }
                    for clause in should {
                        for (id, score) in result { if let extra = clause[id] { result[id] = score + extra } }
                    }
                }
                for clause in mustNot { result = result.filter { clause[$0.key] == nil } }
                return result
            }
        }

        func sum(_ parts: [[String: Double]]) -> [String: Double] {
            var result: [String: Double] = [:]
            for part in parts { for (id, score) in part { result[id, default: 0] += score } }
            return result
        }

        func termScores(_ field: String, _ term: String) -> [String: Double] {
            let weight = idf(field, term)
            let average = averageLength(field)
            var result: [String: Double] = [:]
            for (id, document) in documents {
                let terms = terms(of: document, field)
                let frequency = terms.filter { $0 == term }.count
                if frequency > 0 { result[id] = weight * tf(Double(frequency), Double(terms.count), average) }
            }
            return result
        }

        func keywordScores(_ value: String) -> [String: Double] {
            let weight = idf("tag", value)
            return documents.filter { $0.value.tag == value }.mapValues { _ in weight * tf(1, 1, 1) }
        }

        func phraseScores(_ field: String, _ words: [String]) -> [String: Double] {
            let weight = words.reduce(0) { $0 + idf(field, $1) }
            let average = averageLength(field)
            var result: [String: Double] = [:]
            for (id, document) in documents {
                let terms = terms(of: document, field)
                guard terms.count >= words.count else { continue }
                let starts = (0...(terms.count - words.count)).filter { Array(terms[$0..<($0 + words.count)]) == words }
                if !starts.isEmpty { result[id] = weight * tf(Double(starts.count), Double(terms.count), average) }
            }
            return result
        }
    }

    // MARK: - Tests

    private func document(_ id: String, _ model: ModelDocument) -> Document {
        var fields: [String: FieldValue] = [
            "title": .text(model.title.joined(separator: " ")), "body": .text(model.body.joined(separator: ", ")),
        ]
        if let tag = model.tag { fields["tag"] = .keyword(tag) }
        var stored: [String: StoredValue] = [:]
        if let n = model.n {
            fields["n"] = .number(n)
            stored["n"] = .double(n)
        }
        return Document(id: id, fields: fields, stored: stored)
    }

    /// Returns the number of segments the index ended with.
    @discardableResult
    private func check(seed: UInt64, commits: Int, queries: Int) throws -> Int {
        var random = Random(state: seed)
        let store = try IndexStore(directory: directory + "-\(seed)", schemas: ["docs": schema])
        defer { try? FileManager.default.removeItem(atPath: directory + "-\(seed)") }
        var model: [String: ModelDocument] = [:]
        for _ in 0..<commits {
            for _ in 0..<(5 + random.below(30)) {
                let id = "d\(random.below(150))"
                if random.below(6) == 0 {
                    model[id] = nil
                    try store.delete(index: "docs", id: id)
                } else {
                    let entry = ModelDocument(
                        title: randomWords(&random, max: 4), body: randomWords(&random, max: 14),
                        tag: random.below(5) == 0 ? nil : random.pick(Self.tags),
                        n: random.below(6) == 0 ? nil : Double(random.below(20)))
                    model[id] = entry
                    try store.upsert(index: "docs", document: document(id, entry))
                }
            }
            try store.commit(payload: [:])
        }
        store.waitForMerges()
        let snapshot = store.snapshot()
        XCTAssertEqual(try snapshot.documentCount(index: "docs"), model.count)
        for (id, entry) in model {
            XCTAssertEqual(
                snapshot.document(index: "docs", id: id), entry.n.map { ["n": .double($0)] } ?? [:],
                "stored fields of live document \(id) (seed \(seed))")
        }
        let reference = Reference(documents: model)
        var nonEmpty = 0
        for _ in 0..<queries {
            let query = randomQuery(&random, model: model, depth: 0)
            let expected = reference.evaluate(query)
            if !expected.isEmpty { nonEmpty += 1 }
            let all = try snapshot.search(index: "docs", query: query.text, limit: 1000)
            XCTAssertEqual(all.total, expected.count, "total of \(query.text) (seed \(seed))")
            XCTAssertEqual(Set(all.hits.map(\.id)), Set(expected.keys), "hits of \(query.text) (seed \(seed))")
            for hit in all.hits {
                guard let score = expected[hit.id] else { continue }
                XCTAssertEqual(hit.score, score, accuracy: 1e-6, "score of \(hit.id) for \(query.text) (seed \(seed))")
            }
            let ranked = expected.values.sorted(by: >)
            let offset = random.below(4)
            let limit = 1 + random.below(5)
            let page = try snapshot.search(index: "docs", query: query.text, limit: limit, offset: offset)
            XCTAssertEqual(page.total, expected.count, "paged total of \(query.text)")
            let wanted = Array(ranked.dropFirst(offset).prefix(limit))
            XCTAssertEqual(page.hits.count, wanted.count, "page size of \(query.text) offset \(offset) limit \(limit)")
            for (hit, score) in zip(page.hits, wanted) {
                XCTAssertEqual(hit.score, score, accuracy: 1e-6, "rank of \(hit.id) for \(query.text) offset \(offset)")
            }
            if XCTestCase.failureCount(self) > 20 { break }
        }
        XCTAssertGreaterThan(nonEmpty, queries / 3, "most random queries should match something (seed \(seed))")
        return snapshot.segmentCount(index: "docs")
    }

    func testEveryQueryKindMatchesTheReferenceScorer() throws {
        for seed: UInt64 in [1, 2, 3] { try check(seed: seed, commits: 4, queries: 150) }
    }

    func testManyCommitsWithMergesMatchTheReferenceScorer() throws {
        // Small commits: tiers fill up and merge, dropping deleted and replaced documents.
        let segments = try check(seed: 42, commits: 30, queries: 150)
        XCTAssertLessThan(segments, 12, "30 commits were merged into a few segments")
    }
}

extension XCTestCase {
    static func failureCount(_ test: XCTestCase) -> Int { test.testRun?.failureCount ?? 0 }
}
