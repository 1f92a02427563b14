"""Indexes docs.jsonl with tantivy (one indexing thread) and runs queries.tsv against it,
printing one JSON line of results (the same measurements index-bench makes).

    tantivy_bench.py CORPUS_DIR INDEX_DIR

Schema: `text` (default tokenizer, positions, not stored) and `id` (raw, stored).
Indexing time covers reading nothing: documents are parsed first, then added, committed
and merged. Each query is parsed and searched for its top 10 (no total count), timed
one by one; every query runs 5 times after a warm-up pass.
"""
import json
import os
import sys
import time

import tantivy

corpus, index_dir = sys.argv[1], sys.argv[2]
docs = [json.loads(line) for line in open(f"{corpus}/docs.jsonl")]
queries = [line.rstrip("\n").split("\t", 1) for line in open(f"{corpus}/queries.tsv")]

builder = tantivy.SchemaBuilder()
builder.add_text_field("id", stored=True, tokenizer_name="raw")
builder.add_text_field("text", stored=False, index_option="position")
schema = builder.build()
index = tantivy.Index(schema, path=index_dir)

start = time.perf_counter()
writer = index.writer(heap_size=256_000_000, num_threads=1)
for doc in docs:
    writer.add_document(tantivy.Document(id=doc["id"], text=doc["text"]))
writer.commit()
writer.wait_merging_threads()
index_seconds = time.perf_counter() - start
index_bytes = sum(os.path.getsize(os.path.join(index_dir, f)) for f in os.listdir(index_dir))

index.reload()
searcher = index.searcher()
latencies = {}
hits = {}
for repeat in range(6):
    for kind, text in queries:
        began = time.perf_counter_ns()
        result = searcher.search(index.parse_query(text, ["text"]), 10)
        elapsed = time.perf_counter_ns() - began
        if repeat > 0:
            latencies.setdefault(kind, []).append(elapsed / 1e3)
        else:
            hits[kind] = hits.get(kind, 0) + len(result.hits)
print(json.dumps({
    "engine": "tantivy " + getattr(tantivy, "__version__", "0.27"),
    "docs": len(docs), "index_seconds": index_seconds, "index_bytes": index_bytes,
    "latency_us": latencies, "top10_hits": hits,
}))
