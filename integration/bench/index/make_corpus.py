"""Makes the index benchmark's corpus and query list from Debian's English package
descriptions (a Translation-en file, decompressed on stdin).

    make_corpus.py OUT_DIR COPIES < Translation-en

Writes OUT_DIR/docs.jsonl: one {"id", "text"} object per package and copy (the
description with its package name; copy k > 0 gets ids "name#k"), and
OUT_DIR/queries.tsv: "kind<TAB>query" lines, 200 of each kind, drawn with a fixed
seed from the corpus' own words: `or` (two terms), `and` (+a +b) and `phrase`
("a b", two words adjacent in some description). Only lowercase ASCII words of 3+
letters are used, so every engine tokenizes them the same way.
"""
import collections
import json
import random
import re
import sys

out_dir, copies = sys.argv[1], int(sys.argv[2])
docs = []
package = None
lines = []


def flush():
    if package is not None:
        docs.append((package, "\n".join(lines)))


for raw in sys.stdin:
    line = raw.rstrip("\n")
    if line.startswith("Package: "):
        flush()
        package, lines = line[len("Package: "):], []
    elif line.startswith("Description-en: "):
        lines.append(line[len("Description-en: "):])
    elif line.startswith(" ") and package is not None:
        lines.append("" if line == " ." else line[1:])
flush()

with open(f"{out_dir}/docs.jsonl", "w") as out:
    for copy in range(copies):
        for name, text in docs:
            doc_id = name if copy == 0 else f"{name}#{copy}"
            out.write(json.dumps({"id": doc_id, "text": f"{name}\n{text}"}) + "\n")

word = re.compile(r"[a-z]{3,}")
frequency = collections.Counter()
tokenized = []
for _, text in docs:
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    tokenized.append(words)
    frequency.update(set(w for w in words if word.fullmatch(w)))
# Terms that are neither ubiquitous nor rare: document frequency 100..20,000.
vocabulary = sorted(w for w, df in frequency.items() if 100 <= df <= 20000)
rng = random.Random(6)
with open(f"{out_dir}/queries.tsv", "w") as out:
    for _ in range(200):
        a, b = rng.sample(vocabulary, 2)
        out.write(f"or\t{a} {b}\n")
    for _ in range(200):
        a, b = rng.sample(vocabulary, 2)
        out.write(f"and\t+{a} +{b}\n")
    made = 0
    while made < 200:
        words = tokenized[rng.randrange(len(tokenized))]
        if len(words) < 2:
            continue
        i = rng.randrange(len(words) - 1)
        a, b = words[i], words[i + 1]
        if word.fullmatch(a) and word.fullmatch(b) and frequency[a] >= 100 and frequency[b] >= 100:
            out.write(f'phrase\t"{a} {b}"\n')
            made += 1
print(f"corpus: {len(docs) * copies} documents ({len(docs)} packages x {copies}), 600 queries", file=sys.stderr)
