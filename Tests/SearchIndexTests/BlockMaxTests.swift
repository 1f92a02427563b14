import XCTest
@testable import SearchIndex

/// Block-max pruning of two-clause disjunctions (skipping the scoring of blocks whose
/// bound cannot enter the top k, counting them from cursor positions) returns what the
/// unpruned evaluation of the same query returns: the exact total and a valid top k.
final class BlockMaxTests: XCTestCase {
    /// Word numbers with a skewed (Zipf-like) distribution over 300 words.
    private func word(_ random: inout ReferenceScorerTests.Random) -> String {
        let u = Double(random.below(1000)) / 1000
        return "w\(Int(u * u * u * 300))"
    }

    private func snapshot(documents: Int, seed: UInt64) -> (IndexSnapshot, IndexView) {
        var random = ReferenceScorerTests.Random(state: seed)
        var builder = SegmentBuilder(fields: ["body": .text, "tag": .keyword])
        for doc in 0..<documents {
            var words = (0..<(1 + random.below(40))).map { _ in word(&random) }
            // Some documents repeat a word many times: high frequencies in a few blocks.
            if random.below(50) == 0 { words += Array(repeating: word(&random), count: 5 + random.below(30)) }
            builder.add(Document(
                id: String(format: "%05d", doc),
                fields: ["body": .text(words.joined(separator: " ")), "tag": .keyword("t\(random.below(7))")]))
        }
        let view = IndexView(
            schema: IndexSchema(fields: ["body": .text, "tag": .keyword], stored: []),
            segments: [SegmentView(segment: builder.build(name: "s"), deletes: nil, deleteGeneration: 0)])
        return (IndexSnapshot(generation: 1, payload: [:], indexes: ["i": view]), view)
    }

    func testTwoTermDisjunctionsMatchTheUnprunedEvaluation() throws {
        let (snapshot, view) = snapshot(documents: 5000, seed: 5)
        var random = ReferenceScorerTests.Random(state: 9)
        var pruned = 0
        for round in 0..<300 {
            let first = word(&random)
            let second = round % 10 == 0 ? "t\(random.below(7))" : word(&random)
            let field = second.hasPrefix("t") ? "tag" : "body"
            let limit = 1 + random.below(20)
            let query = field == "tag" ? "\(first) tag:\(second)" : "\(first) \(second)"
            let results = try snapshot.search(index: "i", query: query, limit: limit)
            let all = QueryEvaluator(view: view).evaluate(
                .any([.term(field: "body", term: first), .term(field: field, term: second)]), in: 0)
            XCTAssertEqual(results.total, all.docs.count, "total of \(query)")
            var scores: [String: Double] = [:]
            for (doc, score) in zip(all.docs, all.scores) { scores[String(format: "%05d", doc)] = score }
            let best = all.scores.sorted(by: >).prefix(limit)
            XCTAssertEqual(results.hits.count, best.count, "hits of \(query)")
            for (hit, score) in zip(results.hits, best) {
                XCTAssertEqual(hit.score, score, accuracy: 1e-9, "rank of \(hit.id) in \(query) top \(limit)")
                XCTAssertEqual(hit.score, scores[hit.id] ?? -1, accuracy: 1e-9, "score of \(hit.id) in \(query)")
            }
            if all.docs.count > 4 * Segment.blockSize && limit < 5 { pruned += 1 }
            if XCTestCase.failureCount(self) > 10 { break }
        }
        XCTAssertGreaterThan(pruned, 20, "long lists with a small k, where whole blocks are skipped")
    }

    /// A block's impact bounds the scores of all its postings, and a term's blocks cover
    /// its postings.
    func testBlockImpactsBoundTheirPostings() throws {
        let (_, view) = snapshot(documents: 3000, seed: 6)
        let field = try XCTUnwrap(view.segments[0].segment.fields["body"])
        XCTAssertEqual(field.blockStart.count, field.terms.count + 1)
        for term in field.terms.indices {
            let postings = field.postings(term)
            let blocks = field.blockStart[term]..<field.blockStart[term + 1]
            XCTAssertEqual(blocks.count, (postings.count + Segment.blockSize - 1) / Segment.blockSize)
            for posting in postings {
                let impact = field.blockImpacts[blocks.lowerBound + (posting - postings.lowerBound) / Segment.blockSize]
                XCTAssertLessThanOrEqual(field.freqs[posting], UInt32(impact >> 32))
                XCTAssertGreaterThanOrEqual(field.lengths[Int(field.docs[posting])], UInt32(impact & 0xFFFF_FFFF))
            }
        }
    }
}
