#!/usr/bin/env bash
# End-to-end catch-up throughput: writes ROWS rows into MariaDB (autocommit INSERT …
# SELECT transactions of BATCH rows) while the replicator is stopped, then starts it at
# the position before them and times how long until the sinks' checkpoints reach the
# source's head. Prints rows/s for Redis alone and for Redis + index.
#   integration/bench/throughput.sh PATH/TO/distributary [ROWS] [BATCH]
# Uses the servers of scripts/servers.sh (started if needed). Build with -c release.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:?usage: throughput.sh PATH/TO/distributary [ROWS] [BATCH]}")
ROWS=${2:-200000}
BATCH=${3:-1000}
HTTP_PORT=${DST_HTTP_PORT:-17701}
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot -N -B -e "$1"; }
rcli() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw "$@"; }

run_case() { # run_case LABEL WITH_INDEX
    local label=$1 with_index=$2
    sql "DROP DATABASE IF EXISTS bench; CREATE DATABASE bench;
         CREATE TABLE bench.items (id INT PRIMARY KEY, name VARCHAR(100), description TEXT, price DECIMAL(10,2),
           status VARCHAR(16), qty INT, updated DATETIME)"
    rcli FLUSHALL >/dev/null
    read -r file pos < <(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')
    local start_ns; start_ns=$(date +%s%N)
    for ((lo = 1; lo <= ROWS; lo += BATCH)); do
        local hi=$((lo + BATCH - 1)); [ "$hi" -gt "$ROWS" ] && hi=$ROWS
        echo "INSERT INTO bench.items SELECT seq, CONCAT('item ', seq), CONCAT('a fine product number ', seq, ' for every kitchen and garden'), seq % 1000 + 0.99, IF(seq % 3 = 0, 'active', 'gone'), seq % 50, '2024-01-31 10:00:00' FROM bench.seq_${lo}_to_${hi};"
    done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot
    local load_s; load_s=$(( ($(date +%s%N) - start_ns) / 1000000 ))
    read -r head_file head_pos < <(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')
    local index_yaml=""
    if [ "$with_index" = 1 ]; then
        index_yaml="    index:
      name: items
      fields: {name: text, description: text, status: keyword, price: number}
      stored: [name, price]"
    fi
    cat >"$WORK/bench.yml" <<YAML
name: bench
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: BENCH_PW, server_id: 4301, start: {file: $file, pos: $pos}}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
index: {path: $WORK/index-$label}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  bench.items:
    redis: {key: "item:{id}", mode: hash, columns: [name, price, status, qty, updated]}
$index_yaml
YAML
    local t0; t0=$(date +%s%N)
    BENCH_PW="$DST_REPL_PASSWORD" "$BIN" run --config "$WORK/bench.yml" --log-level warning >"$WORK/$label.log" 2>&1 &
    local pid=$!
    while :; do
        local cp; cp=$(rcli HMGET distributary:bench:checkpoint file pos | paste -sd' ')
        [ "$cp" = "$head_file $head_pos" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$label.log"; exit 1; }
        sleep 0.05
    done
    if [ "$with_index" = 1 ]; then
        while ! grep -q "\"pos\" *: *\"$head_pos\"" "$WORK/index-$label/manifest.json" 2>/dev/null; do sleep 0.05; done
    fi
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    kill -TERM "$pid"; wait "$pid" || true
    local keys; keys=$(rcli DBSIZE)
    [ "$keys" -ge "$ROWS" ] || { echo "only $keys keys for $ROWS rows" >&2; exit 1; }
    printf '%-14s %8d rows  load %6d ms  catch-up %6d ms  %8d rows/s\n' "$label" "$ROWS" "$load_s" "$ms" $(( ROWS * 1000 / (ms > 0 ? ms : 1) ))
}

echo "catch-up throughput, $ROWS rows in transactions of $BATCH ($(nproc) cores)"
run_case redis-hash 0
run_case redis+index 1
