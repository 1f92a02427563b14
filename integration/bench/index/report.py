"""Prints the index benchmark's table from the JSON lines of index-bench and
tantivy_bench.py: docs/s, index bytes, per query kind mean/p50/p99 latency, and the
ratio ours/tantivy for each.

    report.py OURS.json[,OURS2.json…] TANTIVY.json[,TANTIVY2.json…]

With several runs per engine (the script alternates them), each number is the best of
that engine's runs: the machine may be shared, and noise only ever slows a run down.
"""
import json
import sys


def best_of(paths):
    runs = [json.load(open(path)) for path in paths.split(",")]
    best = dict(runs[0])
    best["index_seconds"] = min(r["index_seconds"] for r in runs)
    if "open_seconds" in runs[0]:
        best["open_seconds"] = min(r["open_seconds"] for r in runs)
    best["latency_us"] = {}
    for kind in runs[0]["latency_us"]:
        # The run with the lowest mean for this kind supplies all of its numbers.
        best["latency_us"][kind] = min((r["latency_us"][kind] for r in runs), key=lambda v: sum(v) / len(v))
    best["runs"] = len(runs)
    return best


ours, theirs = best_of(sys.argv[1]), best_of(sys.argv[2])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def row(name, a, b, unit, better):
    ratio = a / b if b else float("inf")
    print(f"  {name:<22} {a:>12.1f} {b:>12.1f}  {unit:<6} ratio {ratio:6.2f}  ({better})")


print(f"documents: {ours['docs']} (tantivy {theirs['docs']});  engines: {ours['engine']} vs {theirs['engine']};"
      f"  best of {ours['runs']} runs each")
print(f"  {'measure':<22} {'distributary':>12} {'tantivy':>12}")
row("indexing docs/s", ours["docs"] / ours["index_seconds"], theirs["docs"] / theirs["index_seconds"], "doc/s",
    "ours/tantivy, >= 1 is as fast")
row("index size", ours["index_bytes"] / 1e6, theirs["index_bytes"] / 1e6, "MB", "ours/tantivy, target <= 1.2")
for kind in ("or", "and", "phrase"):
    a, b = ours["latency_us"][kind], theirs["latency_us"][kind]
    for label, f in (("mean", lambda v: sum(v) / len(v)), ("p50", lambda v: percentile(v, 0.5)),
                     ("p99", lambda v: percentile(v, 0.99))):
        row(f"{kind} top-10 {label}", f(a), f(b), "us", "ours/tantivy, <= 1 is as fast")
if "open_seconds" in ours:
    print(f"  {'open (decode), ours':<22} {ours['open_seconds'] * 1e3:>12.1f} {'':>12}  ms     (read-only open of the committed index)")
for kind in ("or", "and", "phrase"):
    same = ours["top10_hits"][kind] == theirs["top10_hits"][kind]
    print(f"  check {kind}: top-10 hits over all queries {ours['top10_hits'][kind]} vs {theirs['top10_hits'][kind]}"
          + ("" if same else "  (DIFFERENT)"))
