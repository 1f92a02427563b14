/// One clause of a top-level query, iterated document by document: either the postings of
/// a term (scored lazily, only for documents that are collected) or the matches of any
/// other clause, evaluated beforehand.
struct ClauseCursor {
    private let docs: [UInt32]
    private let freqs: [UInt32]
    private let lengths: [UInt32]
    private let scores: [Double]
    private let isTermPostings: Bool
    private let usesLengths: Bool
    /// idf·(k1 + 1), k1·(1 − b), and k1·b / average length: BM25 with its constants folded.
    private let scale: Double
    private let base: Double
    private let perLength: Double
    private let average: Double
    /// No document of this clause scores more: for a text term, BM25 of its largest
    /// frequency at its shortest length; the best evaluated score otherwise.
    let maxScore: Double
    private(set) var position: Int
    private let end: Int
    /// The current document, or `UInt32.max` once exhausted.
    private(set) var doc: UInt32
    /// Text terms: the term's block impacts (see `FieldIndex.blockImpacts`) and the
    /// position of its first posting.
    private let impacts: ArraySlice<UInt64>
    private let start: Int
    /// The block holding `position`: where it ends and the bound of its scores.
    private var blockEnd = 0
    private var blockBound = 0.0

    /// The postings of `ordinal` in `field`, scored with BM25 (`weight` is the term's idf).
    init(field: FieldIndex, ordinal: Int, weight: Double, average: Double) {
        let range = field.postings(ordinal)
        docs = field.docs
        freqs = field.freqs
        lengths = field.lengths
        scores = []
        isTermPostings = true
        usesLengths = field.type == .text
        scale = weight * (QueryEvaluator.k1 + 1)
        base = QueryEvaluator.k1 * (1 - QueryEvaluator.b)
        perLength = QueryEvaluator.k1 * QueryEvaluator.b / average
        self.average = average
        position = range.lowerBound
        end = range.upperBound
        start = range.lowerBound
        doc = position < end ? docs[position] : UInt32.max
        if usesLengths {
            impacts = field.blockImpacts[field.blockStart[ordinal]..<field.blockStart[ordinal + 1]]
            maxScore = Self.bound(field.termImpacts[ordinal], scale: scale, base: base, perLength: perLength)
        } else {
            impacts = []
            // A keyword's frequency is 1 and its length the average: every posting scores the same.
            maxScore = Self.inflated(scale / (1 + base + perLength * average))
        }
    }

    /// BM25 of an impact's frequency at its length, rounded up a little so that no score
    /// computed by `score` (same formula, a smaller frequency or longer length) exceeds it.
    private static func bound(_ impact: UInt64, scale: Double, base: Double, perLength: Double) -> Double {
        let frequency = Double(impact >> 32)
        let length = Double(impact & 0xFFFF_FFFF)
        return inflated(scale * frequency / (frequency + base + perLength * length))
    }

    private static func inflated(_ bound: Double) -> Double { bound * (1 + 1e-9) + 1e-12 }

    /// Already evaluated matches.
    init(_ matches: Matches) {
        docs = matches.docs.map { UInt32($0) }
        freqs = []
        lengths = []
        scores = matches.scores
        isTermPostings = false
        usesLengths = false
        scale = 0
        base = 0
        perLength = 0
        average = 1
        maxScore = matches.scores.max() ?? 0
        position = 0
        end = docs.count
        doc = docs.first ?? UInt32.max
        impacts = []
        start = 0
    }

    /// The number of documents left, an upper bound of the matches still to come.
    var remaining: Int { end - position }

    /// The score of the current document.
    var score: Double {
        guard isTermPostings else { return scores[position] }
        let frequency = Double(freqs[position])
        let length = usesLengths ? Double(lengths[Int(doc)]) : average
        return scale * frequency / (frequency + base + perLength * length)
    }

    /// The bound of the scores of the current block (of `Segment.blockSize` postings) and
    /// its last document; 0 and `UInt32.max` once exhausted. Clauses that are not text
    /// terms are one block bounded by `maxScore`.
    mutating func currentBlock() -> (bound: Double, lastDoc: UInt32) {
        guard position < end else { return (0, UInt32.max) }
        if position >= blockEnd {
            if impacts.isEmpty {
                blockEnd = end
                blockBound = maxScore
            } else {
                let block = (position - start) / Segment.blockSize
                blockEnd = min(end, start + (block + 1) * Segment.blockSize)
                blockBound = Self.bound(impacts[impacts.startIndex + block], scale: scale, base: base, perLength: perLength)
            }
        }
        return (blockBound, docs[blockEnd - 1])
    }

    /// Moves past the documents up to `last`.
    mutating func skip(through last: UInt32) {
        guard doc <= last else { return }
        position = last == UInt32.max ? end : QueryEvaluator.firstPosting(in: docs, from: position, to: end, atLeast: last + 1)
        doc = position < end ? docs[position] : UInt32.max
    }

    mutating func next() {
        position += 1
        doc = position < end ? docs[position] : UInt32.max
    }

    /// Moves to the first document at or after `target`.
    mutating func advance(to target: UInt32) {
        guard doc < target else { return }
        position = QueryEvaluator.firstPosting(in: docs, from: position, to: end, atLeast: target)
        doc = position < end ? docs[position] : UInt32.max
    }
}

extension QueryEvaluator {
    /// Offers the matches of `node` that also match every one of `filters` in one segment
    /// to `best` and returns how many there are. A boolean query (or a disjunction) is run
    /// document at a time over cursors of its clauses: conjunctions leapfrog from their
    /// shortest clause, and a document's score is computed only when the bound of its
    /// clauses can enter `best`.
    /// Scores are summed in clause order, as `evaluate` sums them; filters do not score.
    /// Hits are ranked by score, or by the number field of `sort`.
    func collect(
        _ node: QueryNode, filters: [QueryNode] = [], sort: SearchSort = .score, in segmentIndex: Int,
        into best: inout TopHits
    ) -> Int {
        let segmentView = view.segments[segmentIndex]
        var ranking = Ranking(sort: sort, segment: segmentView.segment)
        var filterCursors = filters.map { cursor($0, segmentView, segmentIndex) }
        var must: [QueryNode]
        var should: [QueryNode]
        var mustNot: [QueryNode]
        switch node {
        case .boolean(let mustClauses, let shouldClauses, let mustNotClauses):
            (must, should, mustNot) = (mustClauses, shouldClauses, mustNotClauses)
        case .any(let children):
            (must, should, mustNot) = ([], children, [])
        default:
            (must, should, mustNot) = ([node], [], [])
        }
        var mustCursors = must.map { cursor($0, segmentView, segmentIndex) }
        var shouldCursors = should.map { cursor($0, segmentView, segmentIndex) }
        var mustNotCursors = mustNot.map { cursor($0, segmentView, segmentIndex) }
        let ids = segmentView.segment.ids
        var total = 0

        if !mustCursors.isEmpty {
            let lead = mustCursors.indices.min { mustCursors[$0].remaining < mustCursors[$1].remaining }!
            // No match scores more (summed in the scores' order); ranked by score, a match
            // that cannot enter `best` is only counted.
            var bound = 0.0
            for cursor in mustCursors { bound += cursor.maxScore }
            for cursor in shouldCursors { bound += cursor.maxScore }
            var candidate = mustCursors[lead].doc
            search: while candidate != UInt32.max {
                for index in mustCursors.indices {
                    mustCursors[index].advance(to: candidate)
                    let doc = mustCursors[index].doc
                    if doc != candidate {
                        candidate = doc
                        continue search
                    }
                }
                if segmentView.isLive(Int(candidate)) && (mustNotCursors.isEmpty || !Self.excluded(candidate, &mustNotCursors))
                    && (filterCursors.isEmpty || Self.included(candidate, &filterCursors))
                {
                    total += 1
                    if ranking.byScore && !best.wants(bound) {
                        mustCursors[lead].next()
                        candidate = mustCursors[lead].doc
                        continue search
                    }
                    var score = 0.0
                    for index in mustCursors.indices { score += mustCursors[index].score }
                    for index in shouldCursors.indices {
                        shouldCursors[index].advance(to: candidate)
                        if shouldCursors[index].doc == candidate { score += shouldCursors[index].score }
                    }
                    offer(score, ranking.key(Int(candidate), score: score), Int(candidate), segmentIndex, ids, &best)
                }
                mustCursors[lead].next()
                candidate = mustCursors[lead].doc
            }
            return total
        }

        if shouldCursors.count == 2 && mustNotCursors.isEmpty && filterCursors.isEmpty && segmentView.deletes == nil
            && ranking.byScore
        {
            var first = shouldCursors[0]
            var second = shouldCursors[1]
            return twoClauseUnion(&first, &second, segmentIndex, ids, &best)
        }

        shouldCursors.withUnsafeMutableBufferPointer { cursors in
            while true {
                var doc = UInt32.max
                for index in cursors.indices where cursors[index].doc < doc { doc = cursors[index].doc }
                guard doc != UInt32.max else { break }
                if segmentView.isLive(Int(doc)) && (mustNotCursors.isEmpty || !Self.excluded(doc, &mustNotCursors))
                    && (filterCursors.isEmpty || Self.included(doc, &filterCursors))
                {
                    total += 1
                    var bound = 0.0
                    if ranking.byScore {
                        for index in cursors.indices where cursors[index].doc == doc { bound += cursors[index].maxScore }
                    } else {
                        bound = ranking.key(Int(doc), score: 0)
                    }
                    if best.wants(bound) {
                        var score = 0.0
                        for index in cursors.indices where cursors[index].doc == doc { score += cursors[index].score }
                        offer(score, ranking.key(Int(doc), score: score), Int(doc), segmentIndex, ids, &best)
                    }
                }
                for index in cursors.indices where cursors[index].doc == doc { cursors[index].next() }
            }
        }
        return total
    }

    /// The disjunction of two clauses in a segment without deletes (block-max MaxScore
    /// with an exact count). Both clauses are cut into windows that end with the first of
    /// their current blocks (of `Segment.blockSize` postings). In a window where both
    /// blocks' bounds may enter the top k, documents are merged and scored. Where only one
    /// may, only its documents are walked, the other clause is advanced to each of them
    /// (galloping) for its score, and the other's own documents are counted from its
    /// cursor's positions; where neither may, only the intersection is walked. Once the
    /// top k's worst beats both clauses' bounds, the rest is one such window.
    private func twoClauseUnion(
        _ a: inout ClauseCursor, _ b: inout ClauseCursor, _ segmentIndex: Int, _ ids: [String], _ best: inout TopHits
    ) -> Int {
        var total = 0
        let single = max(a.maxScore, b.maxScore)
        while a.doc != UInt32.max || b.doc != UInt32.max {
            guard best.wants(single) else { break }
            let (boundA, lastA) = a.currentBlock()
            let (boundB, lastB) = b.currentBlock()
            total += window(
                &a, &b, through: min(lastA, lastB), walkA: best.wants(boundA), walkB: best.wants(boundB),
                boundA: boundA, boundB: boundB, segmentIndex, ids, &best)
        }
        return total
            + window(
                &a, &b, through: UInt32.max, walkA: false, walkB: false, boundA: a.maxScore, boundB: b.maxScore,
                segmentIndex, ids, &best)
    }

    /// Counts the documents of `a` or `b` up to `last` and moves both past them. Merges
    /// both clauses' documents when `walkA` and `walkB` (scoring each), walks those of
    /// `a` when only `walkA` (or of `b`), else only the intersection; documents of both
    /// are scored when the sum of the bounds may enter `best`. The documents not walked
    /// are counted from the cursors' positions.
    private func window(
        _ a: inout ClauseCursor, _ b: inout ClauseCursor, through last: UInt32, walkA: Bool, walkB: Bool,
        boundA: Double, boundB: Double, _ segmentIndex: Int, _ ids: [String], _ best: inout TopHits
    ) -> Int {
        let startA = a.position
        let startB = b.position
        var both = 0
        if walkA && walkB {
            while true {
                let doc = min(a.doc, b.doc)
                guard doc <= last && doc != UInt32.max else { break }
                if a.doc == b.doc {
                    both += 1
                    if best.wants(boundA + boundB) {
                        let score = a.score + b.score
                        offer(score, score, Int(doc), segmentIndex, ids, &best)
                    }
                    a.next()
                    b.next()
                } else if a.doc < b.doc {
                    let score = a.score
                    offer(score, score, Int(doc), segmentIndex, ids, &best)
                    a.next()
                } else {
                    let score = b.score
                    offer(score, score, Int(doc), segmentIndex, ids, &best)
                    b.next()
                }
            }
        } else if walkA || walkB {
            while true {
                let doc = walkA ? a.doc : b.doc
                guard doc <= last && doc != UInt32.max else { break }
                if walkA { b.advance(to: doc) } else { a.advance(to: doc) }
                if a.doc == b.doc {
                    both += 1
                    if best.wants(boundA + boundB) {
                        let score = a.score + b.score
                        offer(score, score, Int(doc), segmentIndex, ids, &best)
                    }
                } else {
                    let score = walkA ? a.score : b.score
                    offer(score, score, Int(doc), segmentIndex, ids, &best)
                }
                if walkA { a.next() } else { b.next() }
                if a.doc == doc { a.next() }
                if b.doc == doc { b.next() }
            }
        } else {
            while a.doc <= last && b.doc <= last && a.doc != UInt32.max && b.doc != UInt32.max {
                if a.doc < b.doc {
                    a.advance(to: b.doc)
                } else if b.doc < a.doc {
                    b.advance(to: a.doc)
                } else {
                    both += 1
                    if best.wants(boundA + boundB) {
                        let score = a.score + b.score
                        offer(score, score, Int(a.doc), segmentIndex, ids, &best)
                    }
                    a.next()
                    b.next()
                }
            }
        }
        a.skip(through: last)
        b.skip(through: last)
        return (a.position - startA) + (b.position - startB) - both
    }

    private static func excluded(_ doc: UInt32, _ cursors: inout [ClauseCursor]) -> Bool {
        for index in cursors.indices {
            cursors[index].advance(to: doc)
            if cursors[index].doc == doc { return true }
        }
        return false
    }

    private static func included(_ doc: UInt32, _ cursors: inout [ClauseCursor]) -> Bool {
        for index in cursors.indices {
            cursors[index].advance(to: doc)
            if cursors[index].doc != doc { return false }
        }
        return true
    }

    private func offer(
        _ score: Double, _ key: Double, _ doc: Int, _ segmentIndex: Int, _ ids: [String], _ best: inout TopHits
    ) {
        if best.wants(key) {
            best.offer(TopHits.Entry(score: score, id: ids[doc], segment: segmentIndex, doc: doc, key: key))
        }
    }

    private func cursor(_ node: QueryNode, _ segmentView: SegmentView, _ segmentIndex: Int) -> ClauseCursor {
        if case .term(let name, let term) = node {
            guard let field = segmentView.segment.fields[name], field.type != .number,
                let ordinal = field.termOrdinal(term)
            else { return ClauseCursor(Matches()) }
            return ClauseCursor(field: field, ordinal: ordinal, weight: idf(name, term), average: averageLength(name))
        }
        return ClauseCursor(evaluate(node, in: segmentIndex))
    }
}

/// The ranking key of a hit (greater ranks first): its score, or the value of a number
/// field (negated for ascending order); documents without the value rank last.
private struct Ranking {
    let byScore: Bool
    private let values: [Double]
    private let descending: Bool

    init(sort: SearchSort, segment: Segment) {
        switch sort {
        case .score:
            byScore = true
            values = []
            descending = true
        case .number(let field, let descending):
            byScore = false
            values = segment.fields[field]?.numbers ?? Array(repeating: .nan, count: segment.docCount)
            self.descending = descending
        }
    }

    func key(_ doc: Int, score: Double) -> Double {
        guard !byScore else { return score }
        let value = values[doc]
        return value.isNaN ? -.infinity : descending ? value : -value
    }
}
