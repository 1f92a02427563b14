import Foundation
import SearchIndex

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Indexes CORPUS_DIR/docs.jsonl ({"id", "text"} per line) into a new SearchIndex store in
// INDEX_DIR on one thread, then runs CORPUS_DIR/queries.tsv ("kind<TAB>query" lines) for
// their top 10, and prints one JSON line with the same measurements as
// integration/bench/index/tantivy_bench.py (plus `open_seconds`: opening the committed
// index read-only, which decodes its segments):
//
//   index-bench CORPUS_DIR INDEX_DIR [--commit-every N]
//   index-bench CORPUS_DIR INDEX_DIR --freshness RATE SECONDS [--commit-ms MS]
//
// Indexing time covers upserts and commits (documents are parsed from JSON first); by
// default everything is committed once, as the tantivy script does; --commit-every N
// commits every N documents, as the pipeline does with its batches. Each query is parsed
// and searched (top 10 and the total count), timed one by one; every query runs 5 times
// after a warm-up pass.
//
// --freshness: indexes the corpus, then changes RATE documents per second for SECONDS
// (each change re-upserts a corpus document with a new unique word), committing every MS
// milliseconds (default 50) on the same thread, as the pipeline's index sink does with its
// batches, and prints the p50/p99/max time from a change's arrival (its scheduled time) to
// the end of the commit that makes it searchable; each commit's last change is searched
// for in the new snapshot to check it is there.

struct Line: Decodable {
    var id: String
    var text: String
}

func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("index-bench: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: index-bench CORPUS_DIR INDEX_DIR [--commit-every N]") }
let corpus = arguments[1]
let indexDirectory = arguments[2]
var commitEvery = Int.max
if let flag = arguments.firstIndex(of: "--commit-every"), flag + 1 < arguments.count,
    let value = Int(arguments[flag + 1]), value > 0
{
    commitEvery = value
}

guard let docsData = FileManager.default.contents(atPath: corpus + "/docs.jsonl"),
    let queriesText = try? String(contentsOfFile: corpus + "/queries.tsv", encoding: .utf8)
else { fail("cannot read docs.jsonl and queries.tsv in \(corpus); make them with integration/bench/index-vs-tantivy.sh") }

let decoder = JSONDecoder()
var documents: [Document] = []
for line in docsData.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
    guard let parsed = try? decoder.decode(Line.self, from: Data(line)) else { fail("bad JSON line in docs.jsonl") }
    documents.append(Document(id: parsed.id, fields: ["text": .text(parsed.text)]))
}
let queries: [(kind: String, text: String)] = queriesText.split(separator: "\n").compactMap { line in
    let parts = line.split(separator: "\t", maxSplits: 1)
    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
}

let schema = IndexSchema(fields: ["text": .text], stored: [])
if let flag = arguments.firstIndex(of: "--freshness"), flag + 2 < arguments.count,
    let rate = Double(arguments[flag + 1]), let seconds = Double(arguments[flag + 2]), rate > 0, seconds > 0
{
    var commitMilliseconds = 50.0
    if let option = arguments.firstIndex(of: "--commit-ms"), option + 1 < arguments.count,
        let value = Double(arguments[option + 1]), value > 0
    {
        commitMilliseconds = value
    }
    try freshness(
        documents: documents, schema: schema, directory: indexDirectory, rate: rate, seconds: seconds,
        commitMilliseconds: commitMilliseconds)
    exit(0)
}

func freshness(
    documents: [Document], schema: IndexSchema, directory: String, rate: Double, seconds: Double, commitMilliseconds: Double
) throws {
    let store = try IndexStore(directory: directory, schemas: ["bench": schema])
    for document in documents { try store.upsert(index: "bench", document: document) }
    try store.commit(payload: [:])
    let changes = Int(rate * seconds)
    var arrivals: [UInt64] = []
    var latencies: [Double] = []
    var commitTimes: [Double] = []
    var missing = 0
    let start = now()
    var lastCommit = start
    for change in 0..<changes {
        let arrival = start + UInt64(Double(change) / rate * 1e9)
        while true {
            let current = now()
            guard current < arrival else { break }
            if arrival - current > 200_000 { usleep(UInt32((arrival - current) / 2000)) }
        }
        var document = documents[change % documents.count]
        if case .text(let text)? = document.fields["text"] { document.fields["text"] = .text(text + " fresh\(change)") }
        try store.upsert(index: "bench", document: document)
        arrivals.append(arrival)
        if Double(now() - lastCommit) / 1e6 >= commitMilliseconds || change == changes - 1 {
            let began = now()
            try store.commit(payload: ["change": String(change)])
            let visible = now()
            commitTimes.append(Double(visible - began) / 1e6)
            for time in arrivals { latencies.append(Double(visible - time) / 1e6) }
            arrivals.removeAll(keepingCapacity: true)
            lastCommit = visible
            if try store.snapshot().search(index: "bench", query: "fresh\(change)", limit: 1).total != 1 { missing += 1 }
        }
    }
    let elapsed = Double(now() - start) / 1e9
    latencies.sort()
    commitTimes.sort()
    func percentile(_ values: [Double], _ p: Double) -> Double { values[min(values.count - 1, Int(p * Double(values.count)))] }
    print("freshness: \(changes) changes in \(String(format: "%.2f", elapsed)) s (\(Int(Double(changes) / elapsed))/s) on an index of \(documents.count) documents, \(commitTimes.count) commits every \(Int(commitMilliseconds)) ms")
    print(String(format: "  change → searchable: p50 %.1f ms, p99 %.1f ms, max %.1f ms", percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.last ?? 0))
    print(String(format: "  commit duration: p50 %.1f ms, p99 %.1f ms, max %.1f ms", percentile(commitTimes, 0.5), percentile(commitTimes, 0.99), commitTimes.last ?? 0))
    print("  live documents at the end: \(try store.snapshot().documentCount(index: "bench")) (the corpus repeats a few package names); changes not found after their commit: \(missing)")
}
let started = now()
let store = try IndexStore(directory: indexDirectory, schemas: ["bench": schema])
var sinceCommit = 0
for document in documents {
    try store.upsert(index: "bench", document: document)
    sinceCommit += 1
    if sinceCommit == commitEvery {
        try store.commit(payload: [:])
        sinceCommit = 0
    }
}
try store.commit(payload: [:])
let indexSeconds = Double(now() - started) / 1e9
var indexBytes = 0
for name in try FileManager.default.contentsOfDirectory(atPath: indexDirectory) {
    let attributes = try FileManager.default.attributesOfItem(atPath: indexDirectory + "/" + name)
    indexBytes += (attributes[.size] as? Int) ?? 0
}

let snapshot = store.snapshot()
var latencies: [String: [Double]] = [:]
var hits: [String: Int] = [:]
for pass in 0..<6 {
    for (kind, text) in queries {
        let began = now()
        let results = try snapshot.search(index: "bench", query: text, limit: 10)
        let elapsed = now() - began
        if pass > 0 {
            latencies[kind, default: []].append(Double(elapsed) / 1e3)
        } else {
            hits[kind, default: 0] += results.hits.count
        }
    }
}
// Opening the committed index as a reader (the CLI's path) decodes every segment.
let openStarted = now()
_ = try IndexStore.openReadOnly(directory: indexDirectory)
let openSeconds = Double(now() - openStarted) / 1e9

struct Report: Encodable {
    var engine: String
    var docs: Int
    var index_seconds: Double
    var index_bytes: Int
    var latency_us: [String: [Double]]
    var top10_hits: [String: Int]
    var open_seconds: Double
}
let report = Report(
    engine: "distributary", docs: documents.count, index_seconds: indexSeconds, index_bytes: indexBytes,
    latency_us: latencies, top10_hits: hits, open_seconds: openSeconds)
print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
