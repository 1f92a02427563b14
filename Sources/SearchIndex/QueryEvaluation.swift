import Foundation

/// A query resolved against a schema: every leaf names one field and analyzed terms.
indirect enum QueryNode {
    /// A term of a text field (BM25) or the exact value of a keyword field.
    case term(field: String, term: String)
    /// Analyzed terms of a text field at these positions relative to each other
    /// (consecutive, except where stop words were removed).
    case phrase(field: String, terms: [String], positions: [Int])
    /// Every term of the field starting with `prefix` (constant score).
    case prefix(field: String, prefix: String)
    /// Number field values in a range; nil bounds are open (constant score).
    case range(field: String, lower: Double?, upper: Double?, includeLower: Bool, includeUpper: Bool)
    case all
    case none
    /// Documents matching any child; scores add up.
    case any([QueryNode])
    /// All `must`, none of `mustNot`; `should` adds to the score (and, without `must`,
    /// at least one of them has to match).
    case boolean(must: [QueryNode], should: [QueryNode], mustNot: [QueryNode])
}

/// Turns a parsed `Query` into `QueryNode`s using the index's schema: bare terms go
/// to every text field (analyzed) and every keyword field (exact); field names and
/// value types are checked.
struct QueryResolver {
    let schema: IndexSchema

    func resolve(_ query: Query) throws -> QueryNode {
        switch query {
        case .matchAll:
            return .all
        case .term(let field, let text, let position), .phrase(let field, let text, let position):
            return try anyOf(fields(field, position: position)) { name, type in
                switch type {
                case .text: return textNode(name, Analyzer.analyze(text, schema.analysis(of: name)))
                case .keyword: return .term(field: name, term: text)
                case .number: return try numberEquals(name, text, position: position)
                }
            }
        case .prefix(let field, let text, let position):
            return try anyOf(fields(field, position: position)) { name, type in
                switch type {
                case .text:
                    let tokens = Analyzer.analyze(text)
                    return tokens.count == 1 ? .prefix(field: name, prefix: tokens[0].term) : .none
                case .keyword:
                    return .prefix(field: name, prefix: text)
                case .number:
                    throw SearchError(
                        code: .fieldType,
                        message: "'\(name)' is a number field and takes no prefix query (at character \(position)); use a range such as \(name):[10 TO 20]",
                        position: position)
                }
            }
        case .range(let name, let lower, let upper, let includeLower, let includeUpper, let position):
            guard let type = schema.fields[name] else { throw unknownField(name, position: position) }
            guard type == .number else {
                throw SearchError(
                    code: .fieldType,
                    message: "range queries need a number field, but '\(name)' is a \(type.rawValue) field (at character \(position))",
                    position: position)
            }
            return .range(
                field: name, lower: try lower.map { try number($0, field: name, position: position) },
                upper: try upper.map { try number($0, field: name, position: position) },
                includeLower: includeLower, includeUpper: includeUpper)
        case .boolean(let clauses):
            var must: [QueryNode] = []
            var should: [QueryNode] = []
            var mustNot: [QueryNode] = []
            for clause in clauses {
                let node = try resolve(clause.query)
                switch clause.occur {
                case .must: must.append(node)
                case .should: should.append(node)
                case .mustNot: mustNot.append(node)
                }
            }
            if must.isEmpty && should.isEmpty { must = [.all] }
            return .boolean(must: must, should: should, mustNot: mustNot)
        }
    }

    /// The searched fields: the named one, or all text and keyword fields.
    private func fields(_ field: String?, position: Int) throws -> [(String, FieldType)] {
        if let field {
            guard let type = schema.fields[field] else { throw unknownField(field, position: position) }
            return [(field, type)]
        }
        return schema.textFields.map { ($0, FieldType.text) } + schema.keywordFields.map { ($0, FieldType.keyword) }
    }

    private func anyOf(
        _ fields: [(String, FieldType)], _ make: (String, FieldType) throws -> QueryNode
    ) throws -> QueryNode {
        let nodes = try fields.map { try make($0.0, $0.1) }
        return nodes.count == 1 ? nodes[0] : .any(nodes)
    }

    private func textNode(_ field: String, _ tokens: [Token]) -> QueryNode {
        switch tokens.count {
        case 0: return .none
        case 1: return .term(field: field, term: tokens[0].term)
        default: return .phrase(field: field, terms: tokens.map(\.term), positions: tokens.map(\.position))
        }
    }

    private func numberEquals(_ field: String, _ text: String, position: Int) throws -> QueryNode {
        let value = try number(text, field: field, position: position)
        return .range(field: field, lower: value, upper: value, includeLower: true, includeUpper: true)
    }

    private func number(_ text: String, field: String, position: Int) throws -> Double {
        guard let value = Double(text), !value.isNaN else {
            throw SearchError(
                code: .fieldType,
                message: "'\(text)' is not a number, but '\(field)' is a number field (at character \(position)); write a number such as \(field):42 or \(field):[1 TO 9.5]",
                position: position)
        }
        return value
    }

    private func unknownField(_ name: String, position: Int) -> SearchError {
        SearchError(
            code: .unknownField,
            message: "the index has no field '\(name)' (at character \(position)); its fields are \(schema.fields.keys.sorted().joined(separator: ", ")); fix the query or add the field to the index configuration",
            position: position)
    }
}

/// Matching documents of one segment in ascending document order, with their scores.
struct Matches {
    var docs: [Int] = []
    var scores: [Double] = []

    mutating func append(_ doc: Int, _ score: Double) {
        docs.append(doc)
        scores.append(score)
    }

    /// Documents in either; scores add up.
    static func union(_ left: Matches, _ right: Matches) -> Matches {
        var result = Matches()
        var i = 0
        var j = 0
        while i < left.docs.count || j < right.docs.count {
            if j == right.docs.count || (i < left.docs.count && left.docs[i] < right.docs[j]) {
                result.append(left.docs[i], left.scores[i])
                i += 1
            } else if i == left.docs.count || right.docs[j] < left.docs[i] {
                result.append(right.docs[j], right.scores[j])
                j += 1
            } else {
                result.append(left.docs[i], left.scores[i] + right.scores[j])
                i += 1
                j += 1
            }
        }
        return result
    }

    /// Documents in both (scores add up), or with `keepLeft` the documents of `left`
    /// plus the scores of those also in `right`.
    static func intersect(_ left: Matches, _ right: Matches, keepLeft: Bool = false) -> Matches {
        var result = Matches()
        var j = 0
        for i in left.docs.indices {
            while j < right.docs.count && right.docs[j] < left.docs[i] { j += 1 }
            if j < right.docs.count && right.docs[j] == left.docs[i] {
                result.append(left.docs[i], left.scores[i] + right.scores[j])
            } else if keepLeft {
                result.append(left.docs[i], left.scores[i])
            }
        }
        return result
    }

    /// Documents of `left` not in `right`.
    static func subtract(_ left: Matches, _ right: Matches) -> Matches {
        var result = Matches()
        var j = 0
        for i in left.docs.indices {
            while j < right.docs.count && right.docs[j] < left.docs[i] { j += 1 }
            if j == right.docs.count || right.docs[j] != left.docs[i] {
                result.append(left.docs[i], left.scores[i])
            }
        }
        return result
    }
}

/// Evaluates `QueryNode`s segment by segment with BM25 (k1 = 1.2, b = 0.75):
/// idf = ln(1 + (N − df + 0.5) / (df + 0.5)) over the live documents of the whole index,
/// tf = f·(k1 + 1) / (f + k1·(1 − b + b·dl/avgdl)). Phrases use their frequency and the sum
/// of their terms' idf; prefix, range and match-all clauses score a constant 1.
final class QueryEvaluator {
    static let k1 = 1.2
    static let b = 0.75

    let view: IndexView
    private var idfCache: [String: Double] = [:]

    init(view: IndexView) {
        self.view = view
    }

    func evaluate(_ node: QueryNode, in segmentIndex: Int) -> Matches {
        let segmentView = view.segments[segmentIndex]
        switch node {
        case .none:
            return Matches()
        case .all:
            var result = Matches()
            for doc in 0..<segmentView.segment.docCount where segmentView.isLive(doc) { result.append(doc, 1) }
            return result
        case .term(let name, let term):
            return termMatches(name, term, segmentView)
        case .phrase(let name, let terms, let positions):
            return phraseMatches(name, terms, positions, segmentView)
        case .prefix(let name, let prefix):
            guard let field = segmentView.segment.fields[name], field.type != .number else { return Matches() }
            var matched = [Bool](repeating: false, count: segmentView.segment.docCount)
            for ordinal in field.prefixOrdinals(prefix) {
                for posting in field.postings(ordinal) { matched[Int(field.docs[posting])] = true }
            }
            var result = Matches()
            for doc in matched.indices where matched[doc] && segmentView.isLive(doc) { result.append(doc, 1) }
            return result
        case .range(let name, let lower, let upper, let includeLower, let includeUpper):
            guard let field = segmentView.segment.fields[name], field.type == .number else { return Matches() }
            var result = Matches()
            for (doc, value) in field.numbers.enumerated() where !value.isNaN && segmentView.isLive(doc) {
                if let lower, includeLower ? value < lower : value <= lower { continue }
                if let upper, includeUpper ? value > upper : value >= upper { continue }
                result.append(doc, 1)
            }
            return result
        case .any(let children):
            return children.reduce(Matches()) { Matches.union($0, evaluate($1, in: segmentIndex)) }
        case .boolean(let must, let should, let mustNot):
            var result: Matches
            if let first = must.first {
                result = evaluate(first, in: segmentIndex)
                for clause in must.dropFirst() { result = Matches.intersect(result, evaluate(clause, in: segmentIndex)) }
                for clause in should {
                    result = Matches.intersect(result, evaluate(clause, in: segmentIndex), keepLeft: true)
                }
            } else {
                result = should.reduce(Matches()) { Matches.union($0, evaluate($1, in: segmentIndex)) }
            }
            for clause in mustNot { result = Matches.subtract(result, evaluate(clause, in: segmentIndex)) }
            return result
        }
    }

    private func termMatches(_ name: String, _ term: String, _ segmentView: SegmentView) -> Matches {
        guard let field = segmentView.segment.fields[name], field.type != .number,
            let ordinal = field.termOrdinal(term)
        else { return Matches() }
        let weight = idf(name, term)
        let average = averageLength(name)
        var result = Matches()
        for posting in field.postings(ordinal) {
            let doc = Int(field.docs[posting])
            guard segmentView.isLive(doc) else { continue }
            let length = field.type == .text ? Double(field.lengths[doc]) : average
            result.append(doc, weight * Self.tf(Double(field.freqs[posting]), length: length, average: average))
        }
        return result
    }

    /// Documents holding `terms` at consecutive positions: the postings are intersected
    /// by leapfrogging from the shortest list, then the positions of each document are
    /// merged (both sorted) to keep the phrase's start positions.
    private func phraseMatches(
        _ name: String, _ terms: [String], _ termPositions: [Int], _ segmentView: SegmentView
    ) -> Matches {
        guard let field = segmentView.segment.fields[name], field.type == .text else { return Matches() }
        var ranges: [Range<Int>] = []
        for term in terms {
            guard let ordinal = field.termOrdinal(term) else { return Matches() }
            ranges.append(field.postings(ordinal))
        }
        let weight = terms.reduce(0) { $0 + idf(name, $1) }
        let average = averageLength(name)
        if ranges.count == 2 {
            return twoTermPhrase(
                field, ranges[0], ranges[1], offset: UInt32(termPositions[1] - termPositions[0]), weight: weight,
                average: average, segmentView)
        }
        let docs = field.docs
        let lead = ranges.indices.min { ranges[$0].count < ranges[$1].count }!
        var cursors = ranges.map(\.lowerBound)
        var starts: [UInt32] = []
        var kept: [UInt32] = []
        var result = Matches()
        search: while cursors[lead] < ranges[lead].upperBound {
            let doc = docs[cursors[lead]]
            for index in ranges.indices where index != lead {
                cursors[index] = Self.firstPosting(in: docs, from: cursors[index], to: ranges[index].upperBound, atLeast: doc)
                guard cursors[index] < ranges[index].upperBound else { break search }
                let other = docs[cursors[index]]
                if other != doc {
                    cursors[lead] = Self.firstPosting(in: docs, from: cursors[lead], to: ranges[lead].upperBound, atLeast: other)
                    continue search
                }
            }
            cursors[lead] += 1
            guard segmentView.isLive(Int(doc)) else { continue }
            starts.removeAll(keepingCapacity: true)
            starts.append(contentsOf: field.positions(ofPosting: index(cursors, lead, 0)))
            for termIndex in 1..<ranges.count where !starts.isEmpty {
                let positions = field.positions(ofPosting: index(cursors, lead, termIndex))
                let offset = UInt32(termPositions[termIndex] - termPositions[0])
                kept.removeAll(keepingCapacity: true)
                var next = positions.startIndex
                for start in starts {
                    let wanted = start + offset
                    while next < positions.endIndex && positions[next] < wanted { next += 1 }
                    if next == positions.endIndex { break }
                    if positions[next] == wanted { kept.append(start) }
                }
                swap(&starts, &kept)
            }
            guard !starts.isEmpty else { continue }
            let length = Double(field.lengths[Int(doc)])
            result.append(Int(doc), weight * Self.tf(Double(starts.count), length: length, average: average))
        }
        return result
    }

    /// A phrase of two terms whose postings are `first` and `second`, the second `offset`
    /// positions after the first: the postings are intersected (galloping on both sides),
    /// and a document's phrase frequency is the number of the first term's positions
    /// followed by the second's, counted by merging both sorted lists in place.
    private func twoTermPhrase(
        _ field: FieldIndex, _ first: Range<Int>, _ second: Range<Int>, offset: UInt32, weight: Double,
        average: Double, _ segmentView: SegmentView
    ) -> Matches {
        var result = Matches()
        field.docs.withUnsafeBufferPointer { docs in
            field.positions.withUnsafeBufferPointer { positions in
                field.positionStart.withUnsafeBufferPointer { starts in
                    var i = first.lowerBound
                    var j = second.lowerBound
                    while i < first.upperBound && j < second.upperBound {
                        let doc = docs[i]
                        let other = docs[j]
                        if doc < other {
                            i = Self.firstPosting(in: docs, from: i, to: first.upperBound, atLeast: other)
                            continue
                        }
                        if other < doc {
                            j = Self.firstPosting(in: docs, from: j, to: second.upperBound, atLeast: doc)
                            continue
                        }
                        if segmentView.isLive(Int(doc)) {
                            var next = Int(starts[j])
                            let end = Int(starts[j + 1])
                            var frequency = 0
                            for index in Int(starts[i])..<Int(starts[i + 1]) {
                                let wanted = positions[index] + offset
                                while next < end && positions[next] < wanted { next += 1 }
                                if next == end { break }
                                if positions[next] == wanted { frequency += 1 }
                            }
                            if frequency > 0 {
                                let length = Double(field.lengths[Int(doc)])
                                result.append(Int(doc), weight * Self.tf(Double(frequency), length: length, average: average))
                            }
                        }
                        i += 1
                        j += 1
                    }
                }
            }
        }
        return result
    }

    /// The posting of term `termIndex` at the current document (the lead's cursor has
    /// already moved past it).
    private func index(_ cursors: [Int], _ lead: Int, _ termIndex: Int) -> Int {
        termIndex == lead ? cursors[lead] - 1 : cursors[termIndex]
    }

    /// The first index in `from..<to` whose document is at least `target` (`to` if none):
    /// galloping, then binary search.
    static func firstPosting(in docs: [UInt32], from: Int, to end: Int, atLeast target: UInt32) -> Int {
        docs.withUnsafeBufferPointer { firstPosting(in: $0, from: from, to: end, atLeast: target) }
    }

    static func firstPosting(in docs: UnsafeBufferPointer<UInt32>, from: Int, to end: Int, atLeast target: UInt32) -> Int {
        guard from < end, docs[from] < target else { return from }
        var low = from
        var step = 1
        var high = from + 1
        while high < end, docs[high] < target {
            low = high
            step <<= 1
            high = low + step
        }
        var first = low + 1
        var last = min(high, end)
        while first < last {
            let middle = (first + last) >> 1
            if docs[middle] < target { first = middle + 1 } else { last = middle }
        }
        return first
    }

    private static func tf(_ frequency: Double, length: Double, average: Double) -> Double {
        frequency * (k1 + 1) / (frequency + k1 * (1 - b + b * length / average))
    }

    func averageLength(_ field: String) -> Double {
        guard let total = view.lengthTotals[field], total.documents > 0, total.sum > 0 else { return 1 }
        return Double(total.sum) / Double(total.documents)
    }

    /// The idf of `term` in `field`, counting live documents across all segments.
    func idf(_ field: String, _ term: String) -> Double {
        let key = field + "\u{0}" + term
        if let cached = idfCache[key] { return cached }
        var documentFrequency = 0
        for segmentView in view.segments {
            guard let index = segmentView.segment.fields[field], let ordinal = index.termOrdinal(term) else { continue }
            let postings = index.postings(ordinal)
            if let deletes = segmentView.deletes {
                for posting in postings where !deletes.contains(Int(index.docs[posting])) { documentFrequency += 1 }
            } else {
                documentFrequency += postings.count
            }
        }
        let count = Double(view.liveCount)
        let frequency = Double(documentFrequency)
        let value = log(1 + (count - frequency + 0.5) / (frequency + 0.5))
        idfCache[key] = value
        return value
    }
}
