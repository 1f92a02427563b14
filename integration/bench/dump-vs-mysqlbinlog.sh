#!/usr/bin/env bash
# Offline decoding speed: `distributary binlog dump --format jsonl` against MariaDB's
# `mariadb-binlog --base64-output=decode-rows -vv`, both to /dev/null, 3 runs each;
# prints best and median wall time, row events/s and the ratio.
#
#   integration/bench/dump-vs-mysqlbinlog.sh PATH/TO/distributary FILE [RUNS]
#
# Build distributary with -c release. Make a big FILE with
# integration/bench/make-package-binlog.sh OUTDIR. Row events (changed rows) are
# counted once from mariadb-binlog's `### INSERT/UPDATE/DELETE` lines.
set -euo pipefail
BIN=${1:?usage: dump-vs-mysqlbinlog.sh PATH/TO/distributary FILE [RUNS]}
FILE=${2:?usage: dump-vs-mysqlbinlog.sh PATH/TO/distributary FILE [RUNS]}
RUNS=${3:-3}
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 50 ] || { echo "RUNS must be 1..50" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN is not an executable (build it: swift build -c release --product distributary)" >&2; exit 1; }
[ -f "$FILE" ] || { echo "no binlog file $FILE (make one: integration/bench/make-package-binlog.sh OUTDIR)" >&2; exit 1; }
MDB=$(command -v mariadb-binlog || command -v mysqlbinlog) || { echo "mariadb-binlog not found: apt-get install mariadb-client" >&2; exit 1; }
if ! "$BIN" binlog dump --help >/dev/null 2>&1; then
    echo "$BIN has no working 'binlog dump' subcommand yet" >&2; exit 1
fi

# One timed run of a command to /dev/null, in seconds (fails loudly if the command fails).
time_run() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "scale=6; ($t1 - $t0) / 1000000000" | bc
}

echo "counting row events with $MDB ..."
ROWS=$("$MDB" --no-defaults --base64-output=decode-rows -vv "$FILE" | grep -c -E '^### (INSERT INTO|UPDATE|DELETE FROM) ' || true)
[ "$ROWS" -gt 0 ] || { echo "$MDB printed no row events for $FILE" >&2; exit 1; }
DUMP_LINES=$("$BIN" binlog dump --format jsonl "$FILE" | wc -l)
[ "$DUMP_LINES" = "$ROWS" ] || echo "warning: distributary printed $DUMP_LINES JSON lines for $ROWS row events" >&2
echo "$FILE: $(stat -c %s "$FILE") bytes, $ROWS row events, $(nproc) cores, best of $RUNS"

# summarize LABEL TIMES... -> prints the line and sets BEST
summarize() {
    local label=$1; shift
    local sorted; sorted=$(printf '%s\n' "$@" | sort -n)
    BEST=$(echo "$sorted" | head -n 1)
    local median; median=$(echo "$sorted" | sed -n "$(( ($# + 1) / 2 ))p")
    printf '%-34s best %7.3f s (%9.0f row events/s)   median %7.3f s (%9.0f row events/s)\n' \
        "$label" "$BEST" "$(echo "$ROWS / $BEST" | bc -l)" "$median" "$(echo "$ROWS / $median" | bc -l)"
}

dump_times=(); mdb_times=()
for ((i = 1; i <= RUNS; i++)); do
    dump_times+=("$(time_run "$BIN" binlog dump --format jsonl "$FILE")")
    mdb_times+=("$(time_run "$MDB" --no-defaults --base64-output=decode-rows -vv "$FILE")")
done
summarize "distributary binlog dump (jsonl)" "${dump_times[@]}"; dump_best=$BEST
summarize "$(basename "$MDB") -vv decode-rows" "${mdb_times[@]}"; mdb_best=$BEST
printf 'ratio (best): distributary is %.2fx the speed of %s\n' "$(echo "$mdb_best / $dump_best" | bc -l)" "$(basename "$MDB")"
