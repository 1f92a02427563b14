#!/usr/bin/env bash
# The whole pipeline, MariaDB → distributary → Redis + the bundled index, measured in one
# run on its own servers (issue 9, integration/bench/), ending with one table:
#
# 1. catch-up: a backlog of more than a million row changes of real text (Debian's package
#    list, `apt-cache dumpavail`: inserted, updated in ROUNDS rounds, every third row
#    deleted; see package-workload.sh), written while no replicator runs, then
#    a. the raw transfer of that binlog range: `mariadb-binlog --read-from-remote-server --raw`;
#    b. distributary from the range's start until the sinks' checkpoints reach the source
#       head (process start included), into Redis alone and into Redis + the index;
#    c. py-replicator.py, the same mapping with python-mysql-replication and redis-py
#       (stopped after PY_SECONDS or at the head), and that replicator decoding only.
# 2. steady state: rate-writer.py at STEADY_RATE row changes/s (transactions of
#    STEADY_TX_ROWS rows) for STEADY_SECONDS, while lag-probe.py commits a marker row every
#    100 ms and times when it shows up in Redis and in search (GET /indexes/…/search).
# 3. memory: the replicator's peak RSS (VmHWM) in each phase (one process per phase).
#
#   integration/bench/pipeline.sh PATH/TO/distributary
#
# Environment: ROUNDS (15), PY_SECONDS (60), PY_DECODE_SECONDS (20; 0 skips the decode-only
# run), STEADY_SECONDS (60), STEADY_RATE (5000), STEADY_TX_ROWS (10); servers in DST_RUN_DIR
# (/tmp/dst-pipeline-bench) on DST_MARIADB_PORT (33111), DST_REDIS_PORT (63831), the replicator's HTTP API
# on DST_HTTP_PORT (17811). The Python packages (mysql-replication, redis) go into a virtual
# environment under ${XDG_CACHE_HOME:-~/.cache}/distributary-bench/venv (apt-get install
# python3-venv if `python3 -m venv` fails). Missed targets are reported, not failed on;
# the script exits non-zero only on errors. Takes about 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
. integration/bench/package-workload.sh
BIN=$(realpath "${1:?usage: pipeline.sh PATH/TO/distributary}")
[ -x "$BIN" ] || { echo "$BIN is not executable (build: swift build -c release --product distributary)" >&2; exit 2; }
ROUNDS=${ROUNDS:-15}
PY_SECONDS=${PY_SECONDS:-60}
PY_DECODE_SECONDS=${PY_DECODE_SECONDS:-20}
STEADY_SECONDS=${STEADY_SECONDS:-60}
STEADY_RATE=${STEADY_RATE:-5000}
STEADY_TX_ROWS=${STEADY_TX_ROWS:-10}
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-pipeline-bench}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33111}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63831}
HTTP_PORT=${DST_HTTP_PORT:-17811}
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || { echo "ROUNDS must be a positive integer, got $ROUNDS" >&2; exit 2; }
for tool in apt-cache mariadb mariadb-binlog awk curl redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install apt mariadb-client mariadb-server gawk curl redis-tools python3" >&2; exit 1; }
done
# This script's servers are its own: it measures them alone and stops them at the end, so
# it refuses a run directory or a port that a server (of another run, say) already uses.
if [ -S "$DST_RUN_DIR/mariadb.sock" ] || [ -f "$DST_RUN_DIR/redis.pid" ] || [ -f "$DST_RUN_DIR/mariadb.pid" ] \
    || redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" ping >/dev/null 2>&1 \
    || (exec 3<>"/dev/tcp/127.0.0.1/$DST_MARIADB_PORT") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; then
    echo "servers already use $DST_RUN_DIR or the ports $DST_MARIADB_PORT/$DST_REDIS_PORT/$HTTP_PORT; this script runs and stops servers of its own: stop those (DST_RUN_DIR=$DST_RUN_DIR scripts/servers.sh stop) or set another DST_RUN_DIR, DST_MARIADB_PORT, DST_REDIS_PORT and DST_HTTP_PORT" >&2
    exit 1
fi

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/distributary-bench
PY=$CACHE/venv/bin/python
if ! "$PY" -c 'import pymysqlreplication, pymysql, redis' 2>/dev/null; then
    echo "== virtual environment with mysql-replication and redis in $CACHE/venv"
    mkdir -p "$CACHE"
    [ -x "$PY" ] || python3 -m venv "$CACHE/venv" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
    "$CACHE/venv/bin/pip" install -q 'mysql-replication==1.0.*' 'redis>=5'
fi
PYVERSIONS=$("$PY" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ("mysql-replication", "PyMySQL", "redis")))')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dst-pipeline.XXXXXX")
DST_PID="" WRITER_PID=""
cleanup() {
    rm -f "$WORK/writer.on"
    for pid in $DST_PID $WRITER_PID; do kill "$pid" 2>/dev/null || true; done
    for pid in $DST_PID $WRITER_PID; do wait "$pid" 2>/dev/null || true; done
    scripts/servers.sh stop >/dev/null 2>&1 || echo "warning: stopping the servers in $DST_RUN_DIR failed" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
START=$(date +%s)
elapsed() { echo "$(( $(date +%s) - START )) s"; }

echo "== package list"
package_tsv >"$WORK/packages.tsv"
N=$(wc -l <"$WORK/packages.tsv")
[ "$N" -ge 1000 ] || { echo "apt-cache dumpavail gave only $N packages; run apt-get update first" >&2; exit 1; }
echo "$N packages"

echo "== servers ($DST_RUN_DIR, MariaDB :$DST_MARIADB_PORT, Redis :$DST_REDIS_PORT)"
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot --local-infile=1 -N -B "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw "$@"; }
export DST_BENCH_PW=$DST_REPL_PASSWORD
{ package_schema_sql; package_staging_sql "$WORK/packages.tsv"; } | sql
[ "$(sql -e "SELECT COUNT(*) FROM bench.source")" = "$N" ] || { echo "the staging table does not hold $N packages" >&2; exit 1; }
sql -e "SET GLOBAL max_binlog_size = 1073741824; FLUSH BINARY LOGS"
FIRST=$(sql -e "SHOW MASTER STATUS" | awk '{print $1}')

echo "== backlog: insert $N rows, $ROUNDS update rounds, delete every third row (no replicator running)"
t=$(date +%s%N)
{
    package_insert_sql "$N"
    for ((round = 1; round <= ROUNDS; round++)); do package_round_sql "$round" "$N"; done
    package_delete_sql "$N"
} | sql
BACKLOG_S=$(awk -v ns=$(( $(date +%s%N) - t )) 'BEGIN {printf "%.1f", ns / 1e9}')
read -r HEAD_FILE HEAD_POS < <(sql -e "SHOW MASTER STATUS" | awk '{print $1, $2}')
mapfile -t FILES < <(sql -e "SHOW BINARY LOGS" | awk -v first="$FIRST" -v last="$HEAD_FILE" '$1 >= first && $1 <= last {print $1}')
BACKLOG_BYTES=$(sql -e "SHOW BINARY LOGS" | awk -v first="$FIRST" -v last="$HEAD_FILE" '$1 >= first && $1 <= last {s += $2} END {print s}')
ROWS=$(( N * (ROUNDS + 1) + N / 3 ))   # every row inserted, changed in every round; N/3 deleted
printf 'backlog: %d row changes, %.1f MB of binlog (%s … %s:%s), written in %s s (%s)\n' \
    "$ROWS" "$(echo "$BACKLOG_BYTES / 1000000" | bc -l)" "$FIRST" "$HEAD_FILE" "$HEAD_POS" "$BACKLOG_S" "$(elapsed)"

echo "== raw transfer: mariadb-binlog --read-from-remote-server --raw"
mkdir -p "$WORK/raw"
t=$(date +%s%N)
mariadb-binlog --no-defaults --read-from-remote-server --raw --host=127.0.0.1 --port="$DST_MARIADB_PORT" \
    --user="$DST_REPL_USER" --password="$DST_REPL_PASSWORD" --result-file="$WORK/raw/" "${FILES[@]}"
RAW_NS=$(( $(date +%s%N) - t ))
RAW_BYTES=$(cat "$WORK/raw"/* | wc -c)
[ "$RAW_BYTES" -ge "$BACKLOG_BYTES" ] || { echo "mariadb-binlog fetched $RAW_BYTES bytes of $BACKLOG_BYTES" >&2; exit 1; }
RAW_S=$(awk -v ns="$RAW_NS" 'BEGIN {printf "%.2f", ns / 1e9}')
RAW_MBS=$(awk -v b="$RAW_BYTES" -v ns="$RAW_NS" 'BEGIN {printf "%.0f", b / 1e6 / (ns / 1e9)}')
rm -rf "$WORK/raw"
echo "$RAW_BYTES bytes in $RAW_S s: $RAW_MBS MB/s"

# config WITH_INDEX: the mapping, from the backlog's first byte
config() {
    cat <<YAML
name: bench
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_BENCH_PW, server_id: 4801, start: {file: $FIRST, pos: 4}}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0", changed_fields_only: true}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  bench.packages:
    redis: {key: "pkg:{id}", mode: hash}
YAML
    [ "$1" = 1 ] && cat <<YAML
    index: {name: packages, fields: {name: text, description: text, section: keyword, priority: keyword, size: number}, stored: [name, version]}
index: {path: "$WORK/index"}
YAML
    return 0
}
start_dst() { # start_dst CONFIG LOG: sets DST_PID and T0_NS
    T0_NS=$(date +%s%N)
    "$BIN" run --config "$1" --log-level warning >"$2" 2>&1 &
    DST_PID=$!
}
stop_dst() {
    kill -TERM "$DST_PID"
    wait "$DST_PID" || { echo "distributary exited with $? (log above)" >&2; exit 1; }
    DST_PID=""
}
hwm_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$DST_PID/status"; }
source_rows() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^distributary_source_rows_total\{.*bench\.packages/ {s += $2} END {printf "%d", s}'; }
json() { "$PY" -c $'import json, sys\nd = json.load(open(sys.argv[1]))\nfor k in sys.argv[2:]: d = d[k]\nprint(d)' "$@"; }
# sink_stats: the applier's time per batch for each sink since the process started (from
# /metrics: the Redis MULTI/EXEC round trip; the index's writes and commit with its fsyncs).
# One applier thread runs both sinks in turn, so their sum is what a batch costs.
sink_stats() {
    curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | awk '
        /^distributary_sink_batch_duration_seconds_sum\{/ { split($0, a, "\""); d[a[2]] = $2 }
        /^distributary_sink_batch_duration_seconds_count\{/ { split($0, a, "\""); n[a[2]] = $2 }
        /^distributary_sink_batch_rows_sum\{/ { split($0, a, "\""); r[a[2]] = $2 }
        END {
            s = ""; k = (n["redis"] > 0 ? "redis" : "index")
            if (n["redis"] > 0) s = sprintf("Redis %.1f ms", d["redis"] / n["redis"] * 1000)
            if (n["index"] > 0) s = s (s == "" ? "" : ", ") sprintf("index %.1f ms", d["index"] / n["index"] * 1000)
            if (n[k] > 0) printf "%s per batch of %.0f rows (%d batches)", s, r[k] / n[k], n[k]
        }'
}
mbs() { awk -v b="$BACKLOG_BYTES" -v s="$1" 'BEGIN {printf "%.1f", b / 1e6 / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}'; }

catch_up() { # catch_up LABEL WITH_INDEX: sets CU_S (to the head), CU_RATE (rows/s), CU_HWM (MiB), CU_REDIS_S, CU_INDEX_S
    local label=$1 with_index=$2
    rcli FLUSHALL >/dev/null
    rm -rf "$WORK/index"
    config "$with_index" >"$WORK/$label.yml"
    start_dst "$WORK/$label.yml" "$WORK/$label.log"
    "$PY" integration/bench/catchup-wait.py --redis-port "$DST_REDIS_PORT" --name bench --head-file "$HEAD_FILE" \
        --head-pos "$HEAD_POS" --t0-ns "$T0_NS" --pid "$DST_PID" $([ "$with_index" = 1 ] && echo "--index $WORK/index") \
        >"$WORK/$label.wait" || { cat "$WORK/$label.log" >&2; exit 1; }
    CU_HWM=$(hwm_mib)
    CU_STATS=$(sink_stats)
    CU_CPU=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$DST_PID/stat")
    local seen; seen=$(source_rows)
    stop_dst
    [ "$seen" = "$ROWS" ] || { echo "$label: the replicator read $seen row changes of bench.packages, expected $ROWS" >&2; exit 1; }
    local keys; keys=$(rcli DBSIZE)
    [ "$keys" = $(( N - N / 3 + 1 )) ] || { echo "$label: Redis holds $keys keys, expected $(( N - N / 3 )) rows and the checkpoint" >&2; exit 1; }
    CU_REDIS_S=$(json "$WORK/$label.wait" redis_s)
    CU_INDEX_S="" CU_S=$CU_REDIS_S
    if [ "$with_index" = 1 ]; then
        CU_INDEX_S=$(json "$WORK/$label.wait" index_s)
        CU_S=$(awk -v a="$CU_REDIS_S" -v b="$CU_INDEX_S" 'BEGIN {print (a > b ? a : b)}')
    fi
    CU_RATE=$(awk -v r="$ROWS" -v s="$CU_S" 'BEGIN {printf "%.0f", r / s}')
}

py_replicator() { # py_replicator SECONDS [--decode-only]
    "$PY" integration/bench/py-replicator.py --port "$DST_MARIADB_PORT" --user "$DST_REPL_USER" --password-env DST_BENCH_PW \
        --redis-port "$DST_REDIS_PORT" --file "$FIRST" --pos 4 --seconds "$@"
}
PYDEC_RATE=""
if [ "$PY_DECODE_SECONDS" != 0 ]; then
    echo "== Python replicator, decoding only, up to $PY_DECODE_SECONDS s ($(elapsed))"
    py_replicator "$PY_DECODE_SECONDS" --decode-only >"$WORK/pydec.json"
    cat "$WORK/pydec.json"
    PYDEC_RATE=$(json "$WORK/pydec.json" rows_per_s)
fi
echo "== Python replicator into Redis, up to $PY_SECONDS s ($(elapsed))"
rcli FLUSHALL >/dev/null
py_replicator "$PY_SECONDS" >"$WORK/py.json"
cat "$WORK/py.json"
PY_RATE=$(json "$WORK/py.json" rows_per_s)
PY_ROWS=$(json "$WORK/py.json" rows)
PY_S=$(json "$WORK/py.json" seconds)
[ "$PY_ROWS" -gt 0 ] || { echo "the Python replicator applied no rows" >&2; exit 1; }

echo "== distributary catch-up into Redis alone ($(elapsed))"
catch_up redis 0
REDIS_S=$CU_S REDIS_RATE=$CU_RATE REDIS_HWM=$CU_HWM REDIS_STATS=$CU_STATS
echo "$ROWS rows in $REDIS_S s: $REDIS_RATE rows/s, peak RSS $REDIS_HWM MiB"
echo "applier: $REDIS_STATS; replicator CPU $CU_CPU s"
echo "== distributary catch-up into Redis + index ($(elapsed))"
catch_up both 1
BOTH_S=$CU_S BOTH_RATE=$CU_RATE BOTH_HWM=$CU_HWM BOTH_REDIS_S=$CU_REDIS_S BOTH_INDEX_S=$CU_INDEX_S BOTH_STATS=$CU_STATS
echo "$ROWS rows in $BOTH_S s (Redis at the head after $BOTH_REDIS_S s, index after $BOTH_INDEX_S s): $BOTH_RATE rows/s, peak RSS $BOTH_HWM MiB"
echo "applier: $BOTH_STATS; replicator CPU $CU_CPU s"

echo "== steady state: $STEADY_RATE row changes/s for $STEADY_SECONDS s, lag probe ($(elapsed))"
# A new process on the Redis + index state the catch-up above left (at the head): its
# VmHWM is the steady state's alone.
start_dst "$WORK/both.yml" "$WORK/steady.log"
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$DST_PID" 2>/dev/null || { cat "$WORK/steady.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null || { echo "the replicator is not ready after 30 s" >&2; cat "$WORK/steady.log" >&2; exit 1; }
touch "$WORK/writer.on"
"$PY" integration/bench/rate-writer.py --socket "$DST_MARIADB_SOCKET" --rate "$STEADY_RATE" --rows "$STEADY_TX_ROWS" \
    --seconds $((STEADY_SECONDS + 30)) --run-flag "$WORK/writer.on" >"$WORK/writer.json" &
WRITER_PID=$!
sleep 2
rows0=$(source_rows); t=$(date +%s%N)
"$PY" integration/bench/lag-probe.py --socket "$DST_MARIADB_SOCKET" --redis-port "$DST_REDIS_PORT" \
    --http-port "$HTTP_PORT" --seconds "$STEADY_SECONDS" >"$WORK/probe.json"
rows1=$(source_rows); t1=$(date +%s%N)
rm -f "$WORK/writer.on"
wait "$WRITER_PID" || { echo "the writer failed" >&2; exit 1; }
WRITER_PID=""
STEADY_HWM=$(hwm_mib)
STEADY_STATS=$(sink_stats)
stop_dst
cat "$WORK/writer.json" "$WORK/probe.json"
# the load the replicator saw while the probe ran (the writer's rows and the markers)
LOAD_RATE=$(awk -v r=$((rows1 - rows0)) -v ns=$((t1 - t)) 'BEGIN {printf "%.0f", r / (ns / 1e9)}')
lat() { echo "$(json "$WORK/probe.json" "$1" p50_ms) / $(json "$WORK/probe.json" "$1" p99_ms) / $(json "$WORK/probe.json" "$1" max_ms) ms"; }
R99=$(json "$WORK/probe.json" redis p99_ms); S99=$(json "$WORK/probe.json" search p99_ms)
MARKERS=$(json "$WORK/probe.json" markers)
MISSED="$(json "$WORK/probe.json" redis missed)/$(json "$WORK/probe.json" search missed)"

met() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {ok = (op == ">=" ? v + 0 >= t : v + 0 <= t); print (v == "None" ? "no" : (ok ? "yes" : "no"))}'; }
fmt() { awk -v n="$1" 'BEGIN {s = sprintf("%.0f", n); while (s ~ /[0-9]{4}/) sub(/[0-9]{3}($|,)/, ",&", s); print s}'; }
BOTH_X=$(ratio "$BOTH_RATE" "$PY_RATE"); REDIS_X=$(ratio "$REDIS_RATE" "$PY_RATE")
echo
echo "== result ($(nproc) cores shared by MariaDB, Redis, the replicator, the load, the probe and other work on the machine: numbers are noisy; total $(elapsed))"
echo "backlog: $(fmt "$ROWS") row changes of bench.packages ($N Debian packages, $ROUNDS update rounds), $(awk -v b="$BACKLOG_BYTES" 'BEGIN {printf "%.0f", b / 1e6}') MB of binlog; Python: $PYVERSIONS"
{
    echo "metric|value|target|met?"
    echo "raw binlog transfer (mariadb-binlog --raw)|$RAW_MBS MB/s ($RAW_S s)|—|"
    echo "catch-up → Redis + index, end to end|$(fmt "$BOTH_RATE") rows/s ($BOTH_S s, $(mbs "$BOTH_S") MB/s of binlog)|≥ 200,000 rows/s|$(met "$BOTH_RATE" 200000 ">=")"
    echo "catch-up → Redis alone|$(fmt "$REDIS_RATE") rows/s ($REDIS_S s, $(mbs "$REDIS_S") MB/s of binlog)|—|"
    echo "Python replicator → Redis|$(fmt "$PY_RATE") rows/s ($(fmt "$PY_ROWS") rows in $PY_S s)|—|"
    [ -n "$PYDEC_RATE" ] && echo "Python replicator, decoding only|$(fmt "$PYDEC_RATE") rows/s|—|"
    echo "ratio: Redis + index / Python|${BOTH_X}×|≥ 20×|$(met "$BOTH_X" 20 ">=")"
    echo "ratio: Redis alone / Python (same sink)|${REDIS_X}×|≥ 20×|$(met "$REDIS_X" 20 ">=")"
    echo "steady load seen by the replicator|$(fmt "$LOAD_RATE") row changes/s (writer: $(json "$WORK/writer.json" rows_per_s)/s)|$(fmt "$STEADY_RATE")/s (±5 %)|$(met "$LOAD_RATE" $((STEADY_RATE * 95 / 100)) ">=")"
    echo "lag commit → Redis p50/p99/max|$(lat redis)|p99 ≤ 50 ms|$(met "$R99" 50 "<=")"
    echo "lag commit → search p50/p99/max|$(lat search)|p99 ≤ 250 ms|$(met "$S99" 250 "<=")"
    echo "markers probed (not seen in 10 s: Redis/search)|$MARKERS ($MISSED)|—|"
    echo "applier time, catch-up → Redis + index|$BOTH_STATS|—|"
    echo "applier time, catch-up → Redis alone|$REDIS_STATS|—|"
    echo "applier time, steady state|$STEADY_STATS|—|"
    echo "peak RSS, catch-up Redis + index|$BOTH_HWM MiB (Redis alone: $REDIS_HWM MiB)|—|"
    echo "peak RSS, steady state|$STEADY_HWM MiB|—|"
} | awk -F'|' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
    END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= 4; i++) line = line sprintf("%-" w[i] "s", cell[r, i]) (i < 4 ? " | " : ""); print line } }'
