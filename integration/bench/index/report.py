"""Prints the index benchmark's table from the JSON lines of index-bench and
tantivy_bench.py: docs/s, index bytes, per query kind mean/p50/p99 latency, and the
ratio ours/tantivy for each (for docs/s: tantivy/ours, so below 1 is better everywhere
except where noted)."""
import json
import sys

ours, theirs = (json.load(open(path)) for path in sys.argv[1:3])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def row(name, a, b, unit, better):
    ratio = a / b if b else float("inf")
    print(f"  {name:<22} {a:>12.1f} {b:>12.1f}  {unit:<6} ratio {ratio:6.2f}  ({better})")


print(f"documents: {ours['docs']} (tantivy {theirs['docs']});  engines: {ours['engine']} vs {theirs['engine']}")
print(f"  {'measure':<22} {'distributary':>12} {'tantivy':>12}")
row("indexing docs/s", ours["docs"] / ours["index_seconds"], theirs["docs"] / theirs["index_seconds"], "doc/s",
    "ours/tantivy, >= 1 is as fast")
row("index size", ours["index_bytes"] / 1e6, theirs["index_bytes"] / 1e6, "MB", "ours/tantivy, target <= 1.2")
for kind in ("or", "and", "phrase"):
    a, b = ours["latency_us"][kind], theirs["latency_us"][kind]
    for label, f in (("mean", lambda v: sum(v) / len(v)), ("p50", lambda v: percentile(v, 0.5)),
                     ("p99", lambda v: percentile(v, 0.99))):
        row(f"{kind} top-10 {label}", f(a), f(b), "us", "ours/tantivy, <= 1 is as fast")
for kind in ("or", "and", "phrase"):
    same = ours["top10_hits"][kind] == theirs["top10_hits"][kind]
    print(f"  check {kind}: top-10 hits over all queries {ours['top10_hits'][kind]} vs {theirs['top10_hits'][kind]}"
          + ("" if same else "  (DIFFERENT)"))
