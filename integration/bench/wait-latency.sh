#!/usr/bin/env bash
# Read-your-writes latency: with a background load of about RATE row changes/s (default
# 5,000) on another table, a writer commits one row change, waits for it with GET /wait and
# reads it back from Redis (then also from search); prints the added latency of wait + read
# (p50/p99/max) for the Redis sink alone and for every sink, and the load actually reached.
#
#   integration/bench/wait-latency.sh [ITERATIONS] [RATE]      (defaults 2000, 5000)
#
# Runs its own MariaDB and Redis (scripts/servers.sh) in DST_RUN_DIR (default
# /tmp/dst-waitbench) on DST_MARIADB_PORT (33096) / DST_REDIS_PORT (63826), stops them on
# exit; builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERATIONS=${1:-2000}
RATE=${2:-5000}
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-waitbench}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33096}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63826}
HTTP_PORT=17797

echo "== build (release)"
swift build -c release --product distributary 2>&1 | tail -1
BIN="$(swift build -c release --show-bin-path)/distributary"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dst-waitbench.XXXXXX")
PID=""
cleanup() {
    rm -f "$WORK/load.on"
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    wait 2>/dev/null || true
    scripts/servers.sh stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot -N -B -e "$1"; }
sql "CREATE DATABASE ryw;
     CREATE TABLE ryw.items (id INT PRIMARY KEY, v INT NOT NULL, tag VARCHAR(20) NOT NULL);
     CREATE TABLE ryw.load (id INT PRIMARY KEY, n INT NOT NULL, pad VARCHAR(100));
     INSERT INTO ryw.items SELECT seq, 0, 't0' FROM ryw.seq_0_to_49;
     INSERT INTO ryw.load SELECT seq, 0, REPEAT('x', 80) FROM ryw.seq_1_to_10000;"
cat >"$WORK/w.yml" <<YAML
name: rywbench
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_BENCH_PW, server_id: 4602, start: latest}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
index: {path: "$WORK/index"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  ryw.items:
    redis: {key: "item:{id}", mode: hash}
    index: {name: items, fields: {tag: keyword, v: number}, stored: [v]}
  ryw.load:
    redis: {key: "load:{id}", mode: hash}
YAML
DST_BENCH_PW=$DST_REPL_PASSWORD "$BIN" run --config "$WORK/w.yml" >"$WORK/run.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

# The load: rounds of one UPDATE of RATE×12/1000 rows of ryw.load (one transaction) and a 10 ms sleep.
touch "$WORK/load.on"
# (each round takes about 12 ms: the 10 ms sleep and the UPDATE)
per=$((RATE * 12 / 1000))
( i=0; while [ -f "$WORK/load.on" ]; do
      i=$((i + 1)); lo=$(( (i * per) % 10000 ))
      echo "UPDATE ryw.load SET n = n + 1 WHERE id > $lo AND id <= $((lo + per)); DO SLEEP(0.01);"
  done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot >/dev/null 2>&1 ) &
sleep 2
before=$(curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^distributary_source_rows_total\{.*ryw.load/ {s += $2} END {print s + 0}')
t0=$(date +%s.%N)
echo "== commit → wait (Redis) → read, $ITERATIONS rounds"
redis_out=$(python3 integration/native/ryw.py --socket "$DST_MARIADB_SOCKET" --redis-port "$DST_REDIS_PORT" --http-port "$HTTP_PORT" \
    --iterations "$ITERATIONS" --sink redis --latency)
echo "$redis_out"
echo "== commit → wait (Redis and index) → read Redis and search, $ITERATIONS rounds"
all_out=$(python3 integration/native/ryw.py --socket "$DST_MARIADB_SOCKET" --redis-port "$DST_REDIS_PORT" --http-port "$HTTP_PORT" \
    --iterations "$ITERATIONS" --search --latency)
echo "$all_out"
t1=$(date +%s.%N)
after=$(curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^distributary_source_rows_total\{.*ryw.load/ {s += $2} END {print s + 0}')
rm -f "$WORK/load.on"
load=$(python3 -c "print(int(($after - $before) / ($t1 - $t0)))")
echo
echo "== result (this machine: $(nproc) cores shared by MariaDB, Redis, the replicator, the load and the client)"
echo "background load: $load row changes/s (asked: $RATE)"
echo "redis only:       $(grep latency_ms <<<"$redis_out")   $(grep -o 'failures=[0-9]*' <<<"$redis_out")"
echo "redis + index:    $(grep latency_ms <<<"$all_out")   $(grep -o 'failures=[0-9]*' <<<"$all_out")  (the read includes a search)"
echo "target: p99 below 50 ms for Redis"
