import Foundation

/// A segment together with the deletes that apply to it in one committed state.
struct SegmentView: Sendable {
    let segment: Segment
    let deletes: DeleteSet?
    /// The generation of `deletes` (0 when there are none), which names its file.
    let deleteGeneration: Int

    var liveCount: Int { segment.docCount - (deletes?.count ?? 0) }

    func isLive(_ doc: Int) -> Bool { !(deletes?.contains(doc) ?? false) }
}

/// One index in one committed state: its schema, its segments and the collection
/// statistics BM25 needs (live document count, average text field lengths).
struct IndexView: Sendable {
    let schema: IndexSchema
    let segments: [SegmentView]
    let liveCount: Int
    let lengthTotals: [String: LengthTotal]

    init(schema: IndexSchema, segments: [SegmentView]) {
        self.schema = schema
        self.segments = segments
        self.liveCount = segments.reduce(0) { $0 + $1.liveCount }
        var totals: [String: LengthTotal] = [:]
        for field in schema.textFields {
            var total = LengthTotal()
            for view in segments {
                guard let segmentTotal = view.segment.lengthTotals[field] else { continue }
                total.sum += segmentTotal.sum
                total.documents += segmentTotal.documents
                guard let deletes = view.deletes, let lengths = view.segment.fields[field]?.lengths else { continue }
                for doc in deletes.members where lengths[doc] > 0 {
                    total.sum -= Int(lengths[doc])
                    total.documents -= 1
                }
            }
            totals[field] = total
        }
        self.lengthTotals = totals
    }

    /// The segment and document number of the live document `id`, if any.
    func locate(_ id: String) -> (segment: Int, doc: Int)? {
        for index in segments.indices.reversed() {
            if let doc = segments[index].segment.doc(for: id), segments[index].isLive(doc) {
                return (index, doc)
            }
        }
        return nil
    }
}

/// An immutable view of the last commit of an `IndexStore`: searching it never blocks
/// the writer, and it stays valid (and unchanged) after later commits. Segments are
/// shared between snapshots, not copied.
public struct IndexSnapshot: Sendable {
    /// The number of the commit this snapshot shows; it grows with every commit, so two
    /// snapshots with the same generation show the same state.
    public let generation: Int
    let indexes: [String: IndexView]

    /// The payload stored with this commit (the replication checkpoint).
    public let payload: [String: String]

    init(generation: Int, payload: [String: String], indexes: [String: IndexView]) {
        self.generation = generation
        self.payload = payload
        self.indexes = indexes
    }

    /// The names of the indexes, sorted.
    public var indexNames: [String] { indexes.keys.sorted() }

    private func view(_ index: String) throws -> IndexView {
        guard let view = indexes[index] else { throw SearchError.unknownIndex(index, known: indexNames) }
        return view
    }

    /// Runs `query` (Lucene classic syntax) against `index`: the total number of matching
    /// documents and the hits from `offset`, at most `limit`, by BM25 score descending then id.
    public func search(index: String, query: String, limit: Int = 10, offset: Int = 0) throws -> SearchResults {
        try search(index: index, query: query, options: SearchOptions(limit: limit, offset: offset))
    }

    /// Runs `query` against `index` with filters, a sort order and highlighted snippets
    /// (see `SearchOptions`). Field names of the options are checked like the query's.
    public func search(index: String, query: String, options: SearchOptions) throws -> SearchResults {
        let view = try view(index)
        let resolver = QueryResolver(schema: view.schema)
        let node = try resolver.resolve(try QueryParser.parse(query))
        let filters = try options.filters.map { try resolver.resolve(try QueryParser.parse($0)) }
        if case .number(let field, _) = options.sort {
            guard view.schema.fields[field] == .number else {
                throw SearchError(
                    code: view.schema.fields[field] == nil ? .unknownField : .fieldType,
                    message: "cannot sort by '\(field)': only number fields sort hits, and the index's number fields are \(view.schema.fields.filter { $0.value == .number }.keys.sorted().joined(separator: ", ")); sort by one of them or leave the sort out")
            }
        }
        let highlighter = try options.highlight.isEmpty ? nil : Highlighter(node: node, fields: options.highlight, schema: view.schema)
        let evaluator = QueryEvaluator(view: view)
        let (wanted, overflow) = max(options.offset, 0).addingReportingOverflow(max(options.limit, 0))
        var best = TopHits(capacity: overflow ? Int.max : wanted)
        var total = 0
        for segmentIndex in view.segments.indices {
            total += evaluator.collect(node, filters: filters, sort: options.sort, in: segmentIndex, into: &best)
        }
        let ranked = best.sorted()
        let start = min(max(options.offset, 0), ranked.count)
        let hits = ranked[start...].map { entry in
            let fields = view.segments[entry.segment].segment.stored[entry.doc]
            return SearchHit(
                id: entry.id, score: entry.score, fields: fields, highlights: highlighter?.highlights(fields) ?? [:])
        }
        return SearchResults(total: total, hits: hits)
    }

    /// The stored fields of the live document `id`, or nil when the index has no such
    /// document (or no such index).
    public func document(index: String, id: String) -> [String: StoredValue]? {
        guard let view = indexes[index], let location = view.locate(id) else { return nil }
        return view.segments[location.segment].segment.stored[location.doc]
    }

    /// The number of live documents in `index`.
    public func documentCount(index: String) throws -> Int {
        try view(index).liveCount
    }

    /// The number of segments of `index` (for tests and metrics).
    func segmentCount(index: String) -> Int {
        indexes[index]?.segments.count ?? 0
    }
}

/// The result of a search: how many documents matched, and the requested page of hits.
public struct SearchResults: Sendable {
    /// The number of documents matching the query (not only those in `hits`).
    public var total: Int
    /// The hits from `offset`, at most `limit`, best first.
    public var hits: [SearchHit]

    public init(total: Int, hits: [SearchHit]) {
        self.total = total
        self.hits = hits
    }
}

/// One matching document: its primary key, its BM25 score, its stored fields, and the
/// highlighted snippets asked for (`SearchOptions.highlight`).
public struct SearchHit: Sendable {
    public var id: String
    public var score: Double
    public var fields: [String: StoredValue]
    /// Field name → a snippet of its stored text around the matched terms, HTML-escaped,
    /// with each match in `<em>…</em>`; fields without a match are absent.
    public var highlights: [String: String]

    public init(id: String, score: Double, fields: [String: StoredValue], highlights: [String: String] = [:]) {
        self.id = id
        self.score = score
        self.fields = fields
        self.highlights = highlights
    }
}

/// How hits are ranked.
public enum SearchSort: Sendable, Equatable {
    /// BM25 score descending, then id.
    case score
    /// The value of a number field (documents without one last), then id.
    case number(field: String, descending: Bool)
}

/// What a search returns besides the query's matches.
public struct SearchOptions: Sendable {
    /// The number of hits to return, from `offset` in the ranking.
    public var limit: Int
    public var offset: Int
    public var sort: SearchSort
    /// Queries (same syntax) that every hit must also match, without changing its score:
    /// keyword filters such as `status:active`, ranges such as `price:[10 TO 20]`.
    public var filters: [String]
    /// Stored text fields to return highlighted snippets of.
    public var highlight: [String]

    public init(
        limit: Int = 10, offset: Int = 0, sort: SearchSort = .score, filters: [String] = [], highlight: [String] = []
    ) {
        self.limit = limit
        self.offset = offset
        self.sort = sort
        self.filters = filters
        self.highlight = highlight
    }
}

/// The best `capacity` hits seen so far (score descending, then id ascending), kept in a
/// binary heap whose root is the worst of them, so a search is linear in its matches.
struct TopHits {
    struct Entry {
        var score: Double
        var id: String
        var segment: Int
        var doc: Int
        /// What ranks the hit (greater first): its score, or its sort value.
        var key: Double

        init(score: Double, id: String, segment: Int, doc: Int, key: Double? = nil) {
            self.score = score
            self.id = id
            self.segment = segment
            self.doc = doc
            self.key = key ?? score
        }

        func ranks(before other: Entry) -> Bool {
            key != other.key ? key > other.key : utf8Precedes(id, other.id)
        }
    }

    let capacity: Int
    private var heap: [Entry] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Whether a hit with ranking key `key` may enter the kept hits (ties are decided by
    /// id in `offer`).
    func wants(_ key: Double) -> Bool {
        if heap.count < capacity { return true }
        guard let worst = heap.first else { return false }
        return key >= worst.key
    }

    mutating func offer(_ entry: Entry) {
        if heap.count < capacity {
            heap.append(entry)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[parent].ranks(before: heap[child]) else { break }
                heap.swapAt(parent, child)
                child = parent
            }
        } else if let worst = heap.first, entry.ranks(before: worst) {
            heap[0] = entry
            var parent = 0
            while true {
                var worstIndex = parent
                for child in [2 * parent + 1, 2 * parent + 2] where child < heap.count {
                    if heap[worstIndex].ranks(before: heap[child]) { worstIndex = child }
                }
                guard worstIndex != parent else { break }
                heap.swapAt(parent, worstIndex)
                parent = worstIndex
            }
        }
    }

    /// The kept hits, best first.
    func sorted() -> [Entry] { heap.sorted { $0.ranks(before: $1) } }
}
