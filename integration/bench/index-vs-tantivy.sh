#!/usr/bin/env bash
# The bundled index against tantivy, in the same run, on the same documents and queries:
# Debian's English package descriptions (~64k packages, ~26 MB of text) from the
# Translation-en list, COPIES times over (copy k > 0 gets ids "name#k": the larger run).
#
#   integration/bench/index-vs-tantivy.sh [COPIES] [--commit-every N]
#
# ROUNDS (default 2) runs of each engine, alternating; the table shows each engine's best.
# Then freshness (ours only): FRESH_RATE changes/s (default 5000) for FRESH_SECONDS (10) on
# the indexed corpus, a commit every FRESH_COMMIT_MS (50): change → searchable p50/p99.
# Needs the Translation-en list (as root: apt-get -o Acquire::Languages=en update) and
# PyPI (a virtual environment with the `tantivy` package is made in
# DST_BENCH_CACHE, default ~/.cache/distributary-bench). Builds Benchmarks/ in release
# (holding `flock DST_BUILD_LOCK` during the build when that variable names a lock file,
# for machines where builds must not run at the same time).
# Prints indexing docs/s (one thread each), index bytes, and per query kind (two-term OR,
# two-term AND, two-word phrase; top 10) mean/p50/p99 latency, with ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
COPIES=${1:-1}
shift || true
CACHE=${DST_BENCH_CACHE:-$HOME/.cache/distributary-bench}
WORK=$(mktemp -d /tmp/index-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The largest list is the release's main one (the others are security and updates).
LIST=$(ls -S /var/lib/apt/lists/*_main_i18n_Translation-en* 2>/dev/null | head -1 || true)
[ -n "$LIST" ] || { echo "no Translation-en list under /var/lib/apt/lists; run (as root): apt-get -o Acquire::Languages=en update" >&2; exit 1; }
echo "== corpus from $LIST (x$COPIES)"
/usr/lib/apt/apt-helper cat-file "$LIST" | python3 integration/bench/index/make_corpus.py "$WORK" "$COPIES"

if [ ! -x "$CACHE/venv/bin/python" ] || ! "$CACHE/venv/bin/python" -c 'import tantivy' 2>/dev/null; then
    echo "== virtual environment with tantivy in $CACHE/venv"
    mkdir -p "$CACHE"
    python3 -m venv "$CACHE/venv"
    "$CACHE/venv/bin/pip" install -q 'tantivy==0.27.*'
fi

echo "== building Benchmarks/index-bench (release)"
BUILD=(swift build -c release --product index-bench)
[ -z "${DST_BUILD_LOCK:-}" ] || BUILD=(flock "$DST_BUILD_LOCK" "${BUILD[@]}")
(cd Benchmarks && "${BUILD[@]}" 2>&1 | tail -1) || exit 1
[ -x Benchmarks/.build/release/index-bench ] || { echo "build of index-bench failed" >&2; exit 1; }

ROUNDS=${ROUNDS:-2}
OURS=()
THEIRS=()
for ((round = 1; round <= ROUNDS; round++)); do
    echo "== round $round: distributary"
    rm -rf "$WORK/ours"
    Benchmarks/.build/release/index-bench "$WORK" "$WORK/ours" "$@" > "$WORK/ours$round.json"
    OURS+=("$WORK/ours$round.json")
    echo "== round $round: tantivy"
    rm -rf "$WORK/tantivy" && mkdir "$WORK/tantivy"
    "$CACHE/venv/bin/python" integration/bench/index/tantivy_bench.py "$WORK" "$WORK/tantivy" > "$WORK/tantivy$round.json"
    THEIRS+=("$WORK/tantivy$round.json")
done
echo "== results"
python3 integration/bench/index/report.py "$(IFS=,; echo "${OURS[*]}")" "$(IFS=,; echo "${THEIRS[*]}")"
echo "== freshness"
rm -rf "$WORK/fresh"
Benchmarks/.build/release/index-bench "$WORK" "$WORK/fresh" --freshness "${FRESH_RATE:-5000}" "${FRESH_SECONDS:-10}" \
    --commit-ms "${FRESH_COMMIT_MS:-50}"
