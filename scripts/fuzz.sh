#!/usr/bin/env bash
# Fuzzes the binlog decoder (EventDecoder + TransactionAssembler) with libFuzzer for a
# bounded time. Any crash, trap, sanitizer report, timeout or out-of-memory is a bug.
#
#   scripts/fuzz.sh [SECONDS]        (default 60)
#
# Builds Fuzz/ in release with libFuzzer and AddressSanitizer. Swift 6.3 on Linux needs
# both spellings: SwiftPM's --sanitize=fuzzer keeps libFuzzer's main (with -Xswiftc
# alone the link fails: undefined BinlogFuzz_main), and -Xswiftc -sanitize=fuzzer is what
# instruments the Swift code for coverage (--sanitize alone links an uninstrumented binary), seeds a corpus from the shared
# binlogs (../shared/testdata/binlogs; whole small files, larger ones cut into windows of
# events behind their FORMAT_DESCRIPTION), runs the fuzzer with -max_total_time=SECONDS
# and exits non-zero on a finding, printing the input's path and bytes. The corpus
# grows in Fuzz/.build/corpus across runs; findings land in Fuzz/.build/findings/.
# Reproduce one: Fuzz/.build/release/BinlogFuzz FILE
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_TO_RUN=${1:-60}
[[ "$SECONDS_TO_RUN" =~ ^[0-9]+$ ]] && [ "$SECONDS_TO_RUN" -ge 1 ] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
SHARED=${DST_SHARED_DIR:-$ROOT/../shared}/testdata/binlogs
OUT=$ROOT/Fuzz/.build
SEEDS=$OUT/seeds
CORPUS=$OUT/corpus
FINDINGS=$OUT/findings

echo "== building Fuzz/ (release, -sanitize=fuzzer,address)"
# Swift builds share two cores with other work on this machine: take the shared lock.
LOCK=${SWIFT_BUILD_LOCK:-/tmp/swift-build.lock}
(cd Fuzz && flock "$LOCK" swift build -c release --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library) \
    || { echo "fuzz: building Fuzz/ failed (output above)" >&2; exit 1; }
BIN=$(cd Fuzz && swift build -c release --show-bin-path)/BinlogFuzz
[ -x "$BIN" ] || { echo "fuzz: no fuzzer binary at $BIN" >&2; exit 1; }
probe=$("$BIN" -runs=0 2>&1 || true)
grep -q "inline 8-bit counters" <<<"$probe" \
    || { echo "fuzz: $BIN has no coverage instrumentation (libFuzzer sees no counters); check the build flags" >&2; exit 1; }

rm -rf "$SEEDS"
mkdir -p "$SEEDS" "$CORPUS" "$FINDINGS"
if [ -d "$SHARED" ]; then
    python3 - "$SHARED" "$SEEDS" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
MAGIC, WHOLE, WINDOW = b"\xfebin", 32 * 1024, 8 * 1024
n = 0
def write(name, data):
    global n
    n += 1
    with open(os.path.join(dst, "%05d-%s" % (n, name)), "wb") as f:
        f.write(data)
for root, _, files in os.walk(src):
    for fname in sorted(files):
        data = open(os.path.join(root, fname), "rb").read()
        if not data.startswith(MAGIC):
            continue
        name = os.path.relpath(os.path.join(root, fname), src).replace("/", "_")
        if len(data) <= WHOLE:
            write(name, data)
            continue
        # Events of a large file: keep the FORMAT_DESCRIPTION, cut the rest into windows.
        events, off = [], 4
        while off + 19 <= len(data):
            size = struct.unpack_from("<I", data, off + 9)[0]
            if size < 19 or off + size > len(data):
                break
            events.append(data[off:off + size]); off += size
        head = MAGIC + (events[0] if events and events[0][4] == 15 else b"")
        window = b""
        for ev in events[1:]:
            if window and len(window) + len(ev) > WINDOW:
                write(name, head + window); window = b""
            window += ev
        if window:
            write(name, head + window)
print("%d seeds from %s" % (n, src))
PY
else
    echo "NOTE: no shared binlogs at $SHARED: not seeding; fuzzing from the corpus in $CORPUS and the built-in FORMAT_DESCRIPTION only"
fi

echo "== fuzzing for ${SECONDS_TO_RUN}s ($BIN)"
STAMP=$OUT/.fuzz-start
touch "$STAMP"
# -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a bounded decoder of
# bounded input never needs 2 GiB. The first directory receives new corpus inputs.
set +e
"$BIN" "$CORPUS" "$SEEDS" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FINDINGS/" 2>&1 | tee "$OUT/fuzz.log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
status=${PIPESTATUS[0]}
set -e
mapfile -t found < <(find "$FINDINGS" -type f -newer "$STAMP" | sort)
if [ "$status" -ne 0 ] || [ "${#found[@]}" -gt 0 ]; then
    echo "FUZZ FAILURE: libFuzzer exited $status; full log $OUT/fuzz.log" >&2
    for f in "${found[@]}"; do
        echo "input: $f ($(stat -c %s "$f") bytes); reproduce: $BIN $f" >&2
        od -An -tx1 -v "$f" | head -n 32 >&2
    done
    exit 1
fi
echo "fuzz: no findings in ${SECONDS_TO_RUN}s (corpus $(find "$CORPUS" -type f | wc -l) inputs)"
