#!/usr/bin/env bash
# Read-your-writes scenarios (GET /wait, `distributary wait`) against the MariaDB and
# Redis of scripts/servers.sh: a writer that commits and waits never sees its own write
# missing in Redis or search, under a concurrent load; timeouts; GTIDs of another domain
# or from the future wait and time out; metrics.
#   integration/native/wait.sh PATH/TO/distributary [ITERATIONS]
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: wait.sh PATH/TO/distributary [ITERATIONS]}")
ITERATIONS=${2:-2000}
eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-wait.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
LOADER=""
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; rm -f "$WORK/load.on"; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

sql "DROP DATABASE IF EXISTS ryw; CREATE DATABASE ryw;
     CREATE TABLE ryw.items (id INT PRIMARY KEY, v INT NOT NULL, tag VARCHAR(20) NOT NULL);
     CREATE TABLE ryw.load (id INT PRIMARY KEY, n INT NOT NULL, pad VARCHAR(100));
     INSERT INTO ryw.items SELECT seq, 0, 't0' FROM ryw.seq_0_to_49;
     INSERT INTO ryw.load SELECT seq, 0, REPEAT('x', 80) FROM ryw.seq_1_to_5000;"
cat >"$WORK/w.yml" <<YAML
name: ryw
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4601, start: latest}
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
start_replicator "$WORK/w.yml" "$WORK/w.log" || { fail "replicator starts"; finish; exit 1; }

echo "== a writer that waits sees its own writes, under a concurrent load"
touch "$WORK/load.on"
( i=0; while [ -f "$WORK/load.on" ]; do i=$((i + 1)); echo "UPDATE ryw.load SET n = n + 1 WHERE id % 100 = $((i % 100)); DO SLEEP(0.01);"; done |
      mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot >/dev/null 2>&1 ) &
LOADER=$!
out=$(python3 ryw.py --socket "$DST_MARIADB_SOCKET" --redis-port "$DST_REDIS_PORT" --http-port "$HTTP_PORT" \
      --iterations "$ITERATIONS" --search --latency 2>&1); status=$?
echo "$out" | tail -3 | sed 's/^/  /'
check "ryw: $ITERATIONS commit-wait-read rounds (Redis and search), none stale" "0" "$status"
out=$(python3 ryw.py --socket "$DST_MARIADB_SOCKET" --redis-port "$DST_REDIS_PORT" --http-port "$HTTP_PORT" \
      --iterations 300 --sink redis --latency 2>&1); status=$?
check "ryw: waiting for Redis alone, none stale" "0" "$status"
rm -f "$WORK/load.on"; wait "$LOADER" 2>/dev/null; LOADER=""

echo "== timeouts"
# timed_wait QUERY: prints "STATUS MILLISECONDS"
timed_wait() { curl -s -o "$WORK/body" -w '%{http_code} %{time_total}' "http://127.0.0.1:$HTTP_PORT/wait?$1" | awk '{printf "%s %d", $1, $2 * 1000}'; }
last=$(sql "SELECT @@gtid_binlog_pos")
seq=${last##*-}
read -r code ms <<<"$(timed_wait "gtid=0-1-$((seq + 1000))&timeout_ms=400")"
check "timeout: a future GTID answers 408" "408" "$code"
check "timeout: within the timeout and a margin (${ms} ms for 400)" "1" "$([ "$ms" -ge 390 ] && [ "$ms" -lt 1000 ] && echo 1)"
check_contains "timeout: the body says it was not applied" '"applied":false' "$(cat "$WORK/body")"
read -r code ms <<<"$(timed_wait "gtid=77-1-1&timeout_ms=300")"
check "timeout: a GTID of a domain the log never had waits and times out" "408" "$code"
read -r code ms <<<"$(timed_wait "file=binlog.999999&pos=4&timeout_ms=300")"
check "timeout: a future file and position times out" "408" "$code"
read -r code ms <<<"$(timed_wait "gtid=$last&timeout_ms=5000")"
check "wait: the last committed GTID answers 200 at once (${ms} ms)" "200" "$code"
check_contains "wait: the body holds each sink's position" '"redis":{"file":' "$(cat "$WORK/body")"
head_file=$(sql "SHOW MASTER STATUS" | awk '{print $1}'); head_pos=$(sql "SHOW MASTER STATUS" | awk '{print $2}')
read -r code ms <<<"$(timed_wait "file=$head_file&pos=$head_pos&sink=index&timeout_ms=5000")"
check "wait: by file and position, one sink" "200" "$code"
check "wait: a malformed GTID is 400" "400" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/wait?gtid=nonsense")"
check "wait: an unknown sink is 400" "400" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/wait?gtid=$last&sink=nope")"

echo "== distributary wait (CLI)"
gtid=$(sql "UPDATE ryw.items SET v = -1 WHERE id = 1; SELECT @@last_gtid;")
"$DISTRIBUTARY" wait --config "$WORK/w.yml" --gtid "$gtid" >/dev/null; status=$?
check "cli: exit 0 once applied" "0 -1" "$status $(rraw HGET item:1 v)"
"$DISTRIBUTARY" wait --config "$WORK/w.yml" --gtid "0-1-$((seq + 100000))" --timeout-ms 200 >/dev/null; status=$?
check "cli: exit 1 at the timeout" "1" "$status"

echo "== metrics"
metrics=$(curl -sS "http://127.0.0.1:$HTTP_PORT/metrics")
ok=$(awk '/^distributary_waits_total\{outcome="ok"\}/ {print $2}' <<<"$metrics")
timeouts=$(awk '/^distributary_waits_total\{outcome="timeout"\}/ {print $2}' <<<"$metrics")
check "metrics: waits that succeeded counted" "1" "$([ "${ok:-0}" -ge $((ITERATIONS + 300)) ] && echo 1)"
check "metrics: timeouts counted (4)" "4" "$timeouts"
check_contains "metrics: wait durations" "distributary_wait_duration_seconds_count" "$metrics"
stop_replicator
check "clean stop" "0" "$STOP_STATUS"

echo "== a backlog caught up: a wait on the index ends only once search holds the transaction"
# While the source is megabytes ahead the index buffers writes and commits every few
# seconds; waiters of the index must still be woken only by the commit that holds theirs.
ROUNDS=8
: >"$WORK/gtids"
read -r file0 pos0 <<<"$(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')"
for r in $(seq 1 "$ROUNDS"); do
    sql "UPDATE ryw.load SET n = n + 1, pad = REPEAT(CHAR(64 + $r), 100);" >/dev/null
    sql "UPDATE ryw.items SET v = $r, tag = 'round'; SELECT @@last_gtid;" >>"$WORK/gtids"
done
read -r file1 pos1 <<<"$(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')"
check "catch-up: a backlog of more than 4 MiB (the progress monitor's threshold)" "1" \
    "$([ "$file0" != "$file1" ] || [ $((pos1 - pos0)) -gt $((4 << 20)) ] && echo 1)"
start_replicator "$WORK/w.yml" "$WORK/w.log" || { fail "replicator restarts"; finish; exit 1; }
out=$(python3 - "$HTTP_PORT" "$WORK/gtids" <<'PY'
import json, sys, urllib.request
port, gtids = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
bad = []
for r, gtid in enumerate(gtids, 1):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/wait?gtid={gtid}&sink=index&timeout_ms=60000") as resp:
        assert resp.status == 200
    hits = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/indexes/items/search?q=tag:round&limit=100"))
    low = min((h["fields"]["v"] for h in hits["hits"]), default=None)
    if hits["total"] != 50 or low is None or low < r:
        bad.append(f"round {r}: {hits['total']} items found, lowest v {low}")
print("; ".join(bad) or f"{len(gtids)} waits, each followed by a search holding its round")
PY
)
check "catch-up: every index wait is followed by a search that holds its transaction ($out)" "1" "$(grep -q '^[0-9]* waits' <<<"$out" && echo 1)"
check_verify "catch-up: verify clean" "$WORK/w.yml"
stop_replicator
check "catch-up: clean stop" "0" "$STOP_STATUS"

finish
