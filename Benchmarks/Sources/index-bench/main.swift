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
// integration/bench/index/tantivy_bench.py:
//
//   index-bench CORPUS_DIR INDEX_DIR [--commit-every N]
//
// Indexing time covers upserts and commits (documents are parsed from JSON first); by
// default everything is committed once, as the tantivy script does; --commit-every N
// commits every N documents, as the pipeline does with its batches. Each query is parsed
// and searched (top 10 and the total count), timed one by one; every query runs 5 times
// after a warm-up pass.

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
struct Report: Encodable {
    var engine: String
    var docs: Int
    var index_seconds: Double
    var index_bytes: Int
    var latency_us: [String: [Double]]
    var top10_hits: [String: Int]
}
let report = Report(
    engine: "distributary", docs: documents.count, index_seconds: indexSeconds, index_bytes: indexBytes,
    latency_us: latencies, top10_hits: hits)
print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
