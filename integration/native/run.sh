#!/usr/bin/env bash
# Native integration scenarios against the MariaDB and Redis of scripts/servers.sh.
# Every result is read back through mariadb, redis-cli and curl.
#   integration/native/run.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: run.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-itest.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
LOG="$WORK/replicator.log"
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

write_config() { # write_config FILE [extra table yaml]
    cat >"$1" <<YAML
name: itest
source:
  host: 127.0.0.1
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4201
  start: latest
redis:
  url: redis://127.0.0.1:$DST_REDIS_PORT/0
  changed_fields_only: true
index:
  path: $WORK/index
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  itest.products:
    redis:
      key: "product:{id}"
      mode: hash
      columns: [name, price, status, released]
    index:
      name: products
      fields: {name: text, description: text, status: keyword, price: number}
      stored: [name, price]
  itest.orders:
    redis:
      key: "order:{shop}:{id}"
      mode: json
${2:-}
YAML
}

echo "== setup"
rcli FLUSHALL >/dev/null
sql "DROP DATABASE IF EXISTS itest; CREATE DATABASE itest;
     CREATE TABLE itest.products (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, description TEXT,
        price DECIMAL(10,2), status CHAR(10), released DATE, updated DATETIME(3), stock BIGINT UNSIGNED);
     CREATE TABLE itest.orders (shop SMALLINT NOT NULL, id INT NOT NULL, total DECIMAL(12,3), note VARCHAR(50),
        placed DATETIME, PRIMARY KEY (shop, id));
     CREATE TABLE itest.unmapped (id INT PRIMARY KEY, v VARCHAR(10));"
write_config "$WORK/itest.yml"
start_replicator "$WORK/itest.yml" "$LOG" || { fail "replicator starts"; finish; exit 1; }
pass "replicator starts and answers /health"

echo "== insert"
sql "INSERT INTO itest.products VALUES
      (1, 'Vim editor', 'Vi IMproved, a highly configurable text editor', 12.50, 'active', '2024-01-31', '2024-01-31 10:00:00.125', 18446744073709551615),
      (2, 'Emacs', 'The extensible self-documenting text editor', -3.75, 'active', NULL, NULL, 0);
     INSERT INTO itest.unmapped VALUES (1, 'x');"
eventually "insert: hash of product:1" "name=Vim editor price=12.50 released=2024-01-31 status=active" hash_of product:1
eventually "insert: NULL column is an absent field" "name=Emacs price=-3.75 status=active" hash_of product:2
eventually "insert: search finds both editors" "1 2" search_ids products editor
check "insert: stored fields in hits" "Vim editor|12.50" "$(curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/products/search?q=vim" | python3 -c 'import json,sys;h=json.load(sys.stdin)["hits"][0]["fields"];print(h["name"]+"|"+str(h["price"]))')"
check "insert: field:term query" "2" "$(search_ids products 'description:extensible')"
check "insert: keyword field" "1 2" "$(search_ids products 'status:active')"
check "insert: unmapped table writes nothing" "" "$(rraw KEYS 'unmapped*')"

echo "== update"
sql "UPDATE itest.products SET price = 13.00, released = NULL, description = 'Vi IMproved, now with a fast plugin system' WHERE id = 1"
eventually "update: hash replaced, NULL field removed" "name=Vim editor price=13.00 status=active" hash_of product:1
eventually "update: new text searchable" "1" search_ids products plugin
check "update: old text gone" "0" "$(search_total products configurable)"

echo "== hash updates set only the changed fields (Redis keeps keys without a TTL)"
check_contains "changed fields: the log says so, with Redis's policy" "maxmemory_policy=noeviction" "$(grep 'hash updates set only the changed fields' "$LOG")"
rcli HSET product:1 status tampered >/dev/null
sql "UPDATE itest.products SET price = 14.00, stock = 7 WHERE id = 1"
eventually "changed fields: the changed column is set" "14.00" rraw HGET product:1 price
check "changed fields: an unchanged field is not rewritten (set by hand before, still there)" "tampered" "$(rraw HGET product:1 status)"
sql "UPDATE itest.products SET stock = 8 WHERE id = 1; UPDATE itest.products SET status = 'paused' WHERE id = 1;
     UPDATE itest.products SET status = 'active' WHERE id = 1"
eventually "changed fields: an update of unmapped columns only leaves the entry, the next sets its field" "name=Vim editor price=14.00 status=active" hash_of product:1

echo "== delete"
sql "DELETE FROM itest.products WHERE id = 2"
eventually "delete: key removed" "0" rraw EXISTS product:2
eventually "delete: document removed" "0" search_total products emacs

echo "== multi-statement transaction"
sql "START TRANSACTION;
     INSERT INTO itest.orders VALUES (7, 100, 19.990, 'gift', '2024-02-01 08:30:00');
     INSERT INTO itest.orders VALUES (7, 101, 5.000, NULL, '2024-02-01 09:00:00');
     UPDATE itest.products SET status = 'sold' WHERE id = 1;
     INSERT INTO itest.products VALUES (3, 'Nano', 'Small and friendly editor', 0, 'active', '2020-05-05', NULL, 5);
     COMMIT;"
eventually "transaction: json entry" '{"shop":7,"id":100,"total":"19.990","note":"gift","placed":"2024-02-01 08:30:00"}' rraw GET order:7:100
eventually "transaction: json null" '{"shop":7,"id":101,"total":"5.000","note":null,"placed":"2024-02-01 09:00:00"}' rraw GET order:7:101
eventually "transaction: hash update in same transaction" "sold" rraw HGET product:1 status
eventually "transaction: new row searchable" "1 3" search_ids products editor

echo "== rollback"
sql "START TRANSACTION; INSERT INTO itest.products VALUES (4, 'Ghost', 'never committed', 1, 'active', NULL, NULL, 1); ROLLBACK;
     INSERT INTO itest.products VALUES (5, 'Marker', 'written after the rollback', 1, 'active', NULL, NULL, 1);"
eventually "rollback: later row arrives" "name=Marker price=1.00 status=active" hash_of product:5
check "rollback: rolled-back row absent in Redis" "0" "$(rraw EXISTS product:4)"
check "rollback: rolled-back row absent in index" "0" "$(search_total products ghost)"

echo "== key change"
sql "UPDATE itest.products SET id = 6 WHERE id = 5"
eventually "key change: new key written" "name=Marker price=1.00 status=active" hash_of product:6
check "key change: old key deleted" "0" "$(rraw EXISTS product:5)"
check "key change: document re-keyed" "6" "$(search_ids products marker)"

echo "== binlog rotation"
old_file=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
sql "FLUSH BINARY LOGS; INSERT INTO itest.products VALUES (20, 'Rotated', 'written in the next binlog file', 2, 'active', NULL, NULL, 1)"
new_file=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
check "rotation: the server moved to a new file" "1" "$([ "$old_file" != "$new_file" ] && echo 1)"
eventually "rotation: row in the new file arrives" "name=Rotated price=2.00 status=active" hash_of product:20
eventually "rotation: checkpoint names the new file" "$new_file" rraw HGET distributary:itest:checkpoint file

echo "== DDL on a mapped table"
sql "ALTER TABLE itest.products ADD COLUMN color VARCHAR(10) FIRST;
     INSERT INTO itest.products (id, name, description, price, status, color) VALUES (21, 'Kakoune', 'modal editor', 3, 'active', 'red')"
eventually "DDL: columns are found by name after ADD COLUMN" "name=Kakoune price=3.00 status=active" hash_of product:21
sql "ALTER TABLE itest.products DROP COLUMN color"
sql "DELETE FROM itest.products WHERE id IN (20, 21)"
eventually "DDL: delete after DROP COLUMN" "0" rraw EXISTS product:21

echo "== checkpoint"
master=$(sql "SHOW MASTER STATUS" | awk '{print $1" "$2}')
eventually "checkpoint: Redis reaches the source's head position" "$master" bash -c "redis-cli -p $DST_REDIS_PORT --raw HMGET distributary:itest:checkpoint file pos | paste -sd' '"
cp_file=$(rraw HGET distributary:itest:checkpoint file)
check "checkpoint: file named" "$new_file" "$cp_file"
check "checkpoint: source server_id" "1" "$(rraw HGET distributary:itest:checkpoint server_id)"

echo "== search CLI"
cli=$("$DISTRIBUTARY" search --config "$WORK/itest.yml" --index products editor 2>&1)
check_contains "search CLI: hit count" "2 hits" "$cli"
check_contains "search CLI: stored field" "name=Nano" "$cli"
check "HTTP: malformed query is 400" "400" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/indexes/products/search?q=%28editor")"
check "HTTP: unknown index is 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/indexes/nope/search?q=x")"

echo "== restart"
stop_replicator
check "SIGTERM exits 0" "0" "$STOP_STATUS"
check_contains "clean stop is logged" "stopped cleanly" "$(cat "$LOG")"
sql "INSERT INTO itest.products VALUES (10, 'Helix', 'A post-modern modal editor', 20, 'active', NULL, NULL, 1);
     UPDATE itest.products SET price = 14.25 WHERE id = 1;
     UPDATE itest.products SET price = 15.75 WHERE id = 1;
     DELETE FROM itest.products WHERE id = 3;
     INSERT INTO itest.orders VALUES (8, 1, 1.000, 'late', '2024-03-01 00:00:00');"
# A policy that may evict any key: updates then write the whole hash (an evicted entry
# comes back whole, not as the changed fields alone).
rcli CONFIG SET maxmemory-policy allkeys-lru >/dev/null
start_replicator "$WORK/itest.yml" "$LOG" || fail "replicator restarts"
eventually "restart: rows written while down arrive" "name=Helix price=20.00 status=active" hash_of product:10
eventually "restart: latest value wins" "15.75" rraw HGET product:1 price
eventually "restart: delete while down applied" "0" rraw EXISTS product:3
eventually "restart: every row exactly once in Redis" "product:1 product:10 product:6" bash -c "redis-cli -p $DST_REDIS_PORT --raw KEYS 'product:*' | sort | tr '\n' ' ' | sed 's/ \$//'"
eventually "restart: every row exactly once in the index" "1 10 6" search_ids products 'status:active status:sold'
check "restart: json entry" '{"shop":8,"id":1,"total":"1.000","note":"late","placed":"2024-03-01 00:00:00"}' "$(rraw GET order:8:1)"
check_contains "allkeys-lru: hash updates set every field" "maxmemory_policy=allkeys-lru" "$(grep 'hash updates set' "$LOG" | tail -n 1 | grep 'every field')"
rcli DEL product:6 >/dev/null   # as an eviction would
sql "UPDATE itest.products SET price = 2 WHERE id = 6"
eventually "allkeys-lru: an update of an evicted entry writes it whole" "name=Marker price=2.00 status=active" hash_of product:6
rcli CONFIG SET maxmemory-policy noeviction >/dev/null
stop_replicator
check "SIGTERM exits 0 again" "0" "$STOP_STATUS"

echo "== SIGTERM under load, then restart: nothing lost, nothing doubled"
start_replicator "$WORK/itest.yml" "$LOG" || fail "load stop: replicator starts"
( for b in $(seq 0 299); do
      echo "START TRANSACTION;
            INSERT INTO itest.products (id, name, description, price, status, stock)
              SELECT 200000 + $b * 10 + seq, CONCAT('load ', $b), 'sigterm load row', $b, 'load', seq FROM itest.seq_1_to_10;
            UPDATE itest.products SET price = price + 1000 WHERE id = 200000 + $b * 10 + 1;
            COMMIT; DO SLEEP(0.005);"
  done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot ) &
writer=$!
sleep 1
stop_replicator
check "load stop: SIGTERM mid-load exits 0" "0" "$STOP_STATUS"
mid=$(rraw EVAL "return #redis.call('KEYS', 'product:2?????')" 0)
wait "$writer"
start_replicator "$WORK/itest.yml" "$LOG" || fail "load stop: replicator restarts"
head=$(sql "SHOW MASTER STATUS" | awk '{print $2}')
eventually "load stop: the checkpoint reaches the head" "$head" rraw HGET distributary:itest:checkpoint pos
check "load stop: the stop came mid-load ($mid of 3,000 rows applied)" "1" "$([ "$mid" -gt 0 ] && [ "$mid" -lt 3000 ] && echo 1)"
check "load stop: all 3,000 rows in Redis" "3000" "$(rraw EVAL "return #redis.call('KEYS', 'product:2?????')" 0)"
check "load stop: updated rows hold the update" "1299.00" "$(rraw HGET product:202991 price)"
check "load stop: 3,000 documents, none doubled" "3000" "$(search_total products 'status:load')"
stop_replicator
sql "DELETE FROM itest.products WHERE id >= 200000"
start_replicator "$WORK/itest.yml" "$LOG" || fail "load stop: replicator restarts to clean up"
eventually "load stop: cleanup replicated" "0" search_total products 'status:load'
stop_replicator

echo "== metrics, readiness and the API key"
write_config "$WORK/ops-base.yml"
sed 's/^  listen: \(.*\)$/  listen: \1\n  api_key_env: DST_TEST_API_KEY\n  ready_max_lag: 1.5/' "$WORK/ops-base.yml" >"$WORK/ops.yml"
export DST_TEST_API_KEY="k-$RANDOM-$RANDOM"
start_replicator "$WORK/ops.yml" "$WORK/ops.log" --log-format json || fail "ops: replicator starts"
api() { curl -sS -H "Authorization: Bearer $DST_TEST_API_KEY" "$@"; }
metric() { # metric NAME LABEL... : the value of the sample that has every label
    api "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v name="$1" -v labels="${*:2}" '
        index($0, name "{") == 1 || $1 == name { ok = 1; n = split(labels, want, " "); for (i = 1; i <= n; i++) if (index($1, want[i]) == 0) ok = 0; if (ok) print $2 }'
}
check "ops: /health needs no key" "200" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/health")"
check "ops: /metrics without the key is 401" "401" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/metrics")"
check "ops: a wrong key is 401" "401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "http://127.0.0.1:$HTTP_PORT/ready")"
check "ops: search without the key is 401" "401" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/indexes/products/search?q=vim")"
eventually "ops: /ready with the key is 200 once streaming" "200" api -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/ready"
check_contains "ops: /ready says caught up" '"ready":true' "$(api "http://127.0.0.1:$HTTP_PORT/ready")"
sql "START TRANSACTION;
     INSERT INTO itest.products VALUES (30, 'Kakoune', 'modal', 1, 'active', NULL, NULL, 1), (31, 'Micro', 'simple', 1, 'active', NULL, NULL, 1),
                                       (32, 'Joe', 'old', 1, 'active', NULL, NULL, 1);
     COMMIT;
     UPDATE itest.products SET price = 2 WHERE id IN (30, 31);
     DELETE FROM itest.products WHERE id = 32;"
eventually "ops: rows read, inserts" "3" metric distributary_source_rows_total 'table="itest.products"' 'type="insert"'
check "ops: rows read, updates" "2" "$(metric distributary_source_rows_total 'table="itest.products"' 'type="update"')"
check "ops: rows read, deletes" "1" "$(metric distributary_source_rows_total 'table="itest.products"' 'type="delete"')"
check "ops: transactions read" "3" "$(metric distributary_source_transactions_total)"
eventually "ops: transactions applied to Redis" "3" metric distributary_sink_transactions_total 'sink="redis"'
check "ops: transactions applied to the index" "3" "$(metric distributary_sink_transactions_total 'sink="index"')"
check "ops: batch durations are recorded" "1" "$([ "$(metric distributary_sink_batch_duration_seconds_count 'sink="redis"')" -ge 1 ] && echo 1)"
check "ops: bytes read counted" "1" "$([ "$(metric distributary_source_bytes_total)" -gt 100 ] && echo 1)"
check_contains "ops: lag gauge present" "distributary_sink_lag_seconds" "$(api "http://127.0.0.1:$HTTP_PORT/metrics")"
check "ops: no credential in the metrics" "0" "$(api "http://127.0.0.1:$HTTP_PORT/metrics" | grep -c -e "$DST_TEST_API_KEY")"
kill -STOP "$(cat "$DST_RUN_DIR/redis.pid")"   # Redis stalls (DEBUG SLEEP is disabled in Redis 7)
( sleep 5; kill -CONT "$(cat "$DST_RUN_DIR/redis.pid")" ) &
stall=$!
sql "UPDATE itest.products SET price = 3 WHERE id = 30"
eventually "ops: /ready is 503 while Redis stalls" "503" api -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/ready"
check_contains "ops: and says how far behind" "behind the source by" "$(api "http://127.0.0.1:$HTTP_PORT/ready")"
wait "$stall"
eventually "ops: /ready is 200 again once Redis answers" "200" api -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/ready"
stop_replicator
check "ops: SIGTERM exits 0" "0" "$STOP_STATUS"
out=$("$DISTRIBUTARY" status --config "$WORK/ops.yml" 2>&1); status=$?
check "status: exit 0" "0" "$status"
check_contains "status: the source's head" "head $(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')" "$out"
check_contains "status: redis at the head" "redis     checkpoint $(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')" "$out"
check_contains "status: the process is not running" "process   not running" "$out"
sql "UPDATE itest.products SET price = 4 WHERE id = 30"
out=$("$DISTRIBUTARY" status --config "$WORK/ops.yml" 2>&1)
check_contains "status: a stopped replicator is behind by bytes" "behind " "$out"
check "status: --json parses and has both sinks" "redis index 1" "$("$DISTRIBUTARY" status --config "$WORK/ops.yml" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(d["sinks"]), int(d["sinks"]["redis"]["behind_bytes"] > 0 and d["process"]["running"] is False))')"
start_replicator "$WORK/ops.yml" "$WORK/ops.log" --log-format json || fail "status: replicator restarts"
eventually "status: caught up and running" "2 1" bash -c "'$DISTRIBUTARY' status --config '$WORK/ops.yml' | grep -c 'at the head' | tr '\n' ' '; '$DISTRIBUTARY' status --config '$WORK/ops.yml' | grep -c 'process   running'"
check "status: the API key is not printed" "0" "$("$DISTRIBUTARY" status --config "$WORK/ops.yml" --json | grep -c "$DST_TEST_API_KEY")"
stop_replicator
echo "== a changed mapping names the tables to resync"
sed 's/key: "product:{id}"/key: "prod:{id}"/' "$WORK/ops-base.yml" >"$WORK/changed.yml"
check "mapping change: the edit took" "1" "$(grep -c 'prod:{id}' "$WORK/changed.yml")"
start_replicator "$WORK/changed.yml" "$WORK/changed.log" || fail "mapping change: replicator starts"
stop_replicator
check_contains "mapping change: start-up warns and names the table" "tables=itest.products" "$(grep 'configuration changed' "$WORK/changed.log" | grep 'sink=redis')"
check "mapping change: the index mapping did not change, no warning for it" "0" "$(grep 'configuration changed' "$WORK/changed.log" | grep -c 'sink=index')"
check_contains "mapping change: status lists it" "needs resync (mapping changed since its data was built, or DDL not yet resynced): itest.products" "$("$DISTRIBUTARY" status --config "$WORK/changed.yml")"
start_replicator "$WORK/changed.yml" "$WORK/changed2.log" || fail "mapping change: replicator restarts"
stop_replicator
check "mapping change: the warning repeats at the next start" "1" "$(grep -c 'configuration changed' "$WORK/changed2.log")"
start_replicator "$WORK/ops-base.yml" "$WORK/changed3.log" || fail "mapping change: replicator starts with the old mapping"
stop_replicator
check "mapping change: back to the mapping the data was built with, no warning" "0" "$(grep -c 'configuration changed' "$WORK/changed3.log")"

echo "== catching up a backlog: progress"
sql "INSERT INTO itest.products (id, name, description, price, status, stock) SELECT 100000 + seq, CONCAT('bulk ', seq), REPEAT('backlog text ', 20), 1, 'bulk', seq FROM itest.seq_1_to_40000;
     UPDATE itest.products SET price = 2 WHERE status = 'bulk'"
# Writes to Redis paused for 5 s: the backlog stays whole for at least two of the
# monitor's polls (2 s apart) however fast the catch-up is afterwards.
rcli CLIENT PAUSE 5000 WRITE >/dev/null
start_replicator "$WORK/ops-base.yml" "$WORK/progress.log" || fail "progress: replicator starts"
eventually "progress: caught up (40,000 bulk rows in Redis)" "40000" bash -c "redis-cli -p $DST_REDIS_PORT --scan --pattern 'product:1?????' | wc -l"
for _ in $(seq 1 600); do grep -q 'caught up with the source' "$WORK/progress.log" && break; sleep 0.1; done
check "progress: then says it caught up (within 60 s)" "1" "$(grep -c 'caught up with the source' "$WORK/progress.log")"
check_contains "progress: a catching-up line with rows/s, backlog, percentage and ETA" "catching up" "$(grep -E 'rows_per_s=[0-9]+ ' "$WORK/progress.log" | grep 'done_percent=' | grep 'eta=' | grep -m1 'behind_bytes=')"
stop_replicator
sql "DELETE FROM itest.products WHERE status = 'bulk'"
check "ops: --log-format json writes one JSON object per line" "ok" "$(python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = lines and all({"time", "level", "message"} <= set(l) for l in lines)
ok = ok and any(l["message"] == "stopped cleanly" and "checkpoint" in l for l in lines)
print("ok" if ok else lines)' "$WORK/ops.log" 2>&1)"
out=$(env -u DST_TEST_API_KEY "$DISTRIBUTARY" run --config "$WORK/ops.yml" 2>&1); status=$?
check "ops: an unset API key variable exits 1" "1" "$status"
check_contains "ops: and names it" "DST_TEST_API_KEY" "$out"

echo "== a sink added later catches up on its own; a sink restored from an older checkpoint replays alone"
from=$(sql "SHOW MASTER STATUS" | awk '{print "{file: "$1", pos: "$2"}"}')
cat >"$WORK/late-redis.yml" <<YAML
name: latetest
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4204, start: $from}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  itest.late:
    redis: {key: "late:{id}", mode: hash}
YAML
sed 's|^http:|index: {path: "'"$WORK"'/late-index"}\nhttp:|; s|    redis: {key: "late:{id}", mode: hash}|    redis: {key: "late:{id}", mode: hash}\n    index: {name: late, fields: {v: text}, stored: [v]}|' "$WORK/late-redis.yml" >"$WORK/late-both.yml"
sql "CREATE TABLE itest.late (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL);
     INSERT INTO itest.late SELECT seq, CONCAT('early ', seq) FROM itest.seq_1_to_300;"
start_replicator "$WORK/late-redis.yml" "$WORK/late.log" || fail "late: Redis-only replicator starts"
eventually "late: Redis has the first 300 rows" "300" rraw EVAL "return #redis.call('KEYS', 'late:*')" 0
stop_replicator
sql "INSERT INTO itest.late SELECT seq, CONCAT('later ', seq) FROM itest.seq_301_to_400; UPDATE itest.late SET v = 'early changed' WHERE id = 7"
start_replicator "$WORK/late-both.yml" "$WORK/late.log" || fail "late: replicator with the index added starts"
check_contains "late: the index starts from source.start" "sink has no checkpoint; starting from source.start" "$(grep 'sink=index' "$WORK/late.log" | tail -1)"
eventually "late: the added index catches up with every row" "400" bash -c "curl -fsS 'http://127.0.0.1:$HTTP_PORT/indexes/late/search?q=early%20later%20changed&limit=0' | python3 -c 'import json,sys;print(json.load(sys.stdin)[\"total\"])'"
eventually "late: Redis has each row once" "400" rraw EVAL "return #redis.call('KEYS', 'late:*')" 0
check "late: Redis has the update" "early changed" "$(rraw HGET late:7 v)"
# (the index stores a checkpoint that moved without documents within a second)
late_positions() { echo "$(rraw HGET distributary:latetest:checkpoint pos) $("$DISTRIBUTARY" status --config "$WORK/late-both.yml" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["sinks"]["index"]["pos"])')"; }
eventually "late: both checkpoints at the head" "$(sql "SHOW MASTER STATUS" | awk '{print $2" "$2}')" late_positions
stop_replicator
# Redis restored from an old backup: its checkpoint goes back to the start, its rows are stale.
rraw HSET distributary:latetest:checkpoint file "$(sed 's/.*file: \([^,]*\),.*/\1/' <<<"$from")" pos "$(sed 's/.*pos: \([0-9]*\)}.*/\1/' <<<"$from")" gtid_position "" >/dev/null
rraw HSET late:7 v stale >/dev/null
rraw DEL late:400 >/dev/null
start_replicator "$WORK/late-both.yml" "$WORK/late2.log" || fail "late: replicator restarts"
eventually "late: the restored Redis replays its rows" "early changed" rraw HGET late:7 v
eventually "late: and gets back the missing row" "later 400" rraw HGET late:400 v
check_contains "late: the index resumes from its own checkpoint" "resuming sink" "$(grep 'sink=index' "$WORK/late2.log" | tail -1)"
check "late: no document doubled in the index" "400" "$(curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/late/search?q=early%20later%20changed&limit=0" | python3 -c 'import json,sys;print(json.load(sys.stdin)["total"])')"
stop_replicator
sql "DROP TABLE itest.late"

echo "== a transaction of a million rows, within a memory budget of 32 MiB"
sql "CREATE TABLE itest.big (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)"
cat >"$WORK/big.yml" <<YAML
name: bigtest
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4202, start: latest}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
memory_budget: 33554432
tables:
  itest.big:
    redis: {key: "big:{id}", mode: hash}
YAML
start_replicator "$WORK/big.yml" "$WORK/big.log" || fail "big: replicator starts"
before=$(sql "SHOW MASTER STATUS" | awk '{print $2}')
sql "INSERT INTO itest.big SELECT seq, CONCAT('value ', seq) FROM itest.seq_1_to_1000000"
head=$(sql "SHOW MASTER STATUS" | awk '{print $2}')
seen=""
peak=0
for _ in $(seq 1 1800); do
    pos=$(rraw HGET distributary:bigtest:checkpoint pos)
    [ -n "$pos" ] && [[ " $seen " != *" $pos "* ]] && seen="$seen $pos"
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$REPLICATOR_PID/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    [ "$pos" = "$head" ] && break
    sleep 0.1
done
check "big: the checkpoint reaches the head" "$head" "$pos"
check "big: the checkpoint never stood inside the transaction (only before it, then after it)" "$before $head" "$(echo $seen)"
check "big: all 1,000,000 rows in Redis" "1000000" "$(rraw EVAL "return #redis.call('KEYS', 'big:*')" 0)"
check "big: a row from the end" "value 999999" "$(rraw HGET big:999999 v)"
echo "  peak RSS of the replicator: $((peak / 1024)) MiB"
check "big: peak memory stayed bounded (< 400 MiB)" "1" "$([ "$peak" -lt 409600 ] && echo 1)"
check_contains "big: it was applied in pieces" "more than" "$(grep -m1 'large transaction' "$WORK/big.log" || echo none)"
stop_replicator
rraw EVAL "for _, k in ipairs(redis.call('KEYS', 'big:*')) do redis.call('UNLINK', k) end return 1" 0 >/dev/null
sql "DROP TABLE itest.big"

echo "== SIGTERM while Redis does not answer: the stop is bounded, nothing is lost"
start_replicator "$WORK/ops-base.yml" "$WORK/stall.log" || fail "stalled stop: replicator starts"
kill -STOP "$(cat "$DST_RUN_DIR/redis.pid")"
sql "UPDATE itest.products SET price = 5 WHERE id = 30"
sleep 1
t0=$(date +%s)
kill -TERM "$REPLICATOR_PID"
status=0; wait "$REPLICATOR_PID" || status=$?
t1=$(date +%s)
REPLICATOR_PID=""
kill -CONT "$(cat "$DST_RUN_DIR/redis.pid")"
check "stalled stop: exits non-zero (the batch could not be checkpointed)" "1" "$([ "$status" -ne 0 ] && echo 1)"
check "stalled stop: within 30 s and a margin ($((t1 - t0)) s)" "1" "$([ $((t1 - t0)) -le 40 ] && echo 1)"
start_replicator "$WORK/ops-base.yml" "$WORK/stall.log" || fail "stalled stop: replicator restarts"
eventually "stalled stop: the change arrives after the restart" "5.00" rraw HGET product:30 price
stop_replicator
check "stalled stop: a clean stop afterwards exits 0" "0" "$STOP_STATUS"

echo "== table patterns and exclusions"
sql "DROP DATABASE IF EXISTS itestp; CREATE DATABASE itestp;
     CREATE TABLE itestp.alpha (id INT PRIMARY KEY, v VARCHAR(20));
     CREATE TABLE itestp.beta (id INT PRIMARY KEY, v VARCHAR(20));
     CREATE TABLE itestp.secret_keys (id INT PRIMARY KEY, v VARCHAR(20));
     CREATE TABLE itestp.named (id INT PRIMARY KEY, v VARCHAR(20));"
cat >"$WORK/patterns.yml" <<YAML
name: pattest
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4203, start: latest}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  itestp.named:
    redis: {key: "named:{id}", mode: hash}
  itestp.*:
    redis: {key: "p:{@table}:{id}", mode: json}
exclude_tables: ["itestp.secret_*"]
YAML
start_replicator "$WORK/patterns.yml" "$WORK/patterns.log" || fail "patterns: replicator starts"
sql "INSERT INTO itestp.alpha VALUES (1, 'a'); INSERT INTO itestp.beta VALUES (1, 'b');
     INSERT INTO itestp.secret_keys VALUES (1, 's'); INSERT INTO itestp.named VALUES (1, 'n');
     CREATE TABLE itestp.gamma (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO itestp.gamma VALUES (1, 'g');"
eventually "patterns: a table created while running is followed" '{"id":1,"v":"g"}' rraw GET p:gamma:1
check "patterns: alpha through the pattern, {@table} in the key" '{"id":1,"v":"a"}' "$(rraw GET p:alpha:1)"
check "patterns: beta through the pattern" '{"id":1,"v":"b"}' "$(rraw GET p:beta:1)"
check "patterns: the exact mapping wins over the pattern" "id=1 v=n" "$(hash_of named:1)"
check "patterns: nothing of itestp.named under the pattern's key" "0" "$(rraw EXISTS p:named:1)"
check "patterns: the excluded table writes nothing" "" "$(rraw KEYS 'p:secret*')"
check "patterns: the excluded table's rows are not even read" "" "$(curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" | grep 'distributary_source_rows_total' | grep secret_keys)"
check_contains "patterns: rows of followed tables are counted" 'table="itestp.gamma"' "$(curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" | grep 'distributary_source_rows_total')"
stop_replicator
check "patterns: clean stop" "0" "$STOP_STATUS"
out=$("$DISTRIBUTARY" config check --config "$WORK/patterns.yml" 2>&1)
check_contains "patterns: config check shows the pattern" "itestp.* → redis json" "$out"
rraw EVAL "for _, k in ipairs(redis.call('KEYS', 'p:*')) do redis.call('UNLINK', k) end return 1" 0 >/dev/null
sql "DROP DATABASE itestp"

echo "== the README's minimal Redis ACL is enough"
rraw ACL SETUSER dstacl on '>acl-pw' '~product:*' '~order:*' '~distributary:*' +multi +exec +hset +hdel +del +set +expire +hgetall +select >/dev/null
sed -e "s|url: redis://127.0.0.1:$DST_REDIS_PORT/0|url: redis://dstacl:acl-pw@127.0.0.1:$DST_REDIS_PORT/0|" -e '/^index:/,/^  path:/d' \
    -e '/^    index:/,/^      stored:/d' "$WORK/itest.yml" >"$WORK/acl.yml"
start_replicator "$WORK/acl.yml" "$WORK/acl.log" || fail "acl: replicator starts as the restricted user"
sql "UPDATE itest.products SET name = 'Vim (acl)' WHERE id = 1"
eventually "acl: writes arrive through the restricted user" "Vim (acl)" rraw HGET product:1 name
stop_replicator
check "acl: clean stop" "0" "$STOP_STATUS"
check "acl: no permission error logged" "0" "$(grep -ci 'NOPERM' "$WORK/acl.log")"
rraw ACL DELUSER dstacl >/dev/null

echo "== a stalled sink holds memory flat"
sql "CREATE TABLE itest.stall (id INT PRIMARY KEY, v VARCHAR(255))"
sed -e 's/^name: bigtest/name: stalltest/' -e 's/itest.big:/itest.stall:/' -e 's/key: "big:{id}"/key: "stall:{id}"/' "$WORK/big.yml" >"$WORK/stall.yml"
start_replicator "$WORK/stall.yml" "$WORK/stall-mem.log" || fail "stall: replicator starts"
kill -STOP "$(cat "$DST_RUN_DIR/redis.pid")"
rss() { awk '/VmRSS/ {print $2}' "/proc/$REPLICATOR_PID/status"; }
load() { # load FIRST-BATCH LAST-BATCH: 1,000-row transactions of ~240-byte rows
    for b in $(seq "$1" "$2"); do
        echo "INSERT INTO itest.stall SELECT $b * 1000 + seq, REPEAT(CONCAT('row ', $b * 1000 + seq, ' '), 20) FROM itest.seq_1_to_1000;"
    done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot
}
load 0 149
sleep 3
mid=$(rss)
load 150 299
sleep 3
end=$(rss)
kill -CONT "$(cat "$DST_RUN_DIR/redis.pid")"
echo "  RSS while Redis was stopped: $((mid / 1024)) MiB after 150,000 rows (36 MB of binlog), $((end / 1024)) MiB after 300,000 (72 MB)"
check "stall: memory did not grow with the backlog (< 24 MiB more)" "1" "$([ $((end - mid)) -lt 24576 ] && echo 1)"
check "stall: memory stayed under 300 MiB" "1" "$([ "$end" -lt 307200 ] && echo 1)"
head=$(sql "SHOW MASTER STATUS" | awk '{print $2}')
for _ in $(seq 1 600); do [ "$(rraw HGET distributary:stalltest:checkpoint pos)" = "$head" ] && break; sleep 0.1; done
check "stall: after Redis resumes, the checkpoint reaches the head" "$head" "$(rraw HGET distributary:stalltest:checkpoint pos)"
check "stall: all 300,000 rows arrived" "300000" "$(rraw EVAL "return #redis.call('KEYS', 'stall:*')" 0)"
stop_replicator
check "stall: clean stop" "0" "$STOP_STATUS"
rraw EVAL "for _, k in ipairs(redis.call('KEYS', 'stall:*')) do redis.call('UNLINK', k) end return 1" 0 >/dev/null

echo "== shutdown_timeout: a stop that cannot finish ends the process"
sed 's/^memory_budget: .*/shutdown_timeout: 2/' "$WORK/stall.yml" >"$WORK/watchdog.yml"
start_replicator "$WORK/watchdog.yml" "$WORK/watchdog.log" || fail "watchdog: replicator starts"
kill -STOP "$(cat "$DST_RUN_DIR/redis.pid")"
sql "UPDATE itest.stall SET v = 'changed' WHERE id = 1"
sleep 1
t0=$(date +%s.%N)
kill -TERM "$REPLICATOR_PID"
status=0; wait "$REPLICATOR_PID" || status=$?
t1=$(date +%s.%N)
REPLICATOR_PID=""
kill -CONT "$(cat "$DST_RUN_DIR/redis.pid")"
elapsed=$(python3 -c "print(round($t1 - $t0, 1))")
check "watchdog: exits 1" "1" "$status"
check "watchdog: after shutdown_timeout (2 s), before the 10 s Redis timeout ($elapsed s)" "1" "$(python3 -c "print(1 if 1.5 <= $elapsed < 8 else 0)")"
check_contains "watchdog: says why" "did not stop within 2.0 s (shutdown_timeout" "$(cat "$WORK/watchdog.log")"
start_replicator "$WORK/watchdog.yml" "$WORK/watchdog.log" || fail "watchdog: replicator restarts"
eventually "watchdog: the change arrives after the restart" "changed" rraw HGET stall:1 v
stop_replicator
sql "DROP TABLE itest.stall"

echo "== bad config"
bad() { # bad NAME NEEDLE CONFIG-TEXT
    printf '%s\n' "$3" >"$WORK/bad.yml"
    local out status=0
    out=$("$DISTRIBUTARY" run --config "$WORK/bad.yml" 2>&1) || status=$?
    if [ "$status" -ne 0 ] && [[ "$out" == *"$2"* ]]; then pass "$1"; else fail "$1" "status $status, output: $out"; fi
}
write_config "$WORK/good.yml"
bad "unknown key names its path" "source.hots" "$(sed 's/  host: 127.0.0.1/  hots: 127.0.0.1/' "$WORK/good.yml")"
bad "missing required key names its path" "source.server_id" "$(grep -v server_id "$WORK/good.yml")"
bad "wrong value names its path" "tables.itest.products.redis.mode" "$(sed 's/mode: hash/mode: hashh/' "$WORK/good.yml")"
bad "missing column names its path" "tables.itest.products.redis.columns[1]" "$(sed 's/columns: \[name, price/columns: [name, prize/' "$WORK/good.yml")"
bad "missing index field names its path" "tables.itest.products.index.fields.descr" "$(sed 's/description: text/descr: text/' "$WORK/good.yml")"
bad "missing table names its path" "tables.itest.nothere" "$(sed 's/itest.orders:/itest.nothere:/' "$WORK/good.yml")"

echo "== config check (no server contacted)"
out=$("$DISTRIBUTARY" config check --config "$WORK/good.yml" 2>&1); status=$?
check "config check: a valid file exits 0" "0" "$status"
check_contains "config check: lists the tables" "itest.products → redis hash" "$out"
sed 's|  url: redis://127.0.0.1:[0-9]*/0|  url: ${DST_TEST_REDIS_URL}|' "$WORK/good.yml" >"$WORK/env.yml"
out=$(DST_TEST_REDIS_URL="redis://app:hunter2@127.0.0.1:1/0" "$DISTRIBUTARY" config check --config "$WORK/env.yml" 2>&1); status=$?
check "config check: \${VAR} is read from the environment" "0" "$status"
check_contains "config check: the password is masked" "redis://app:***@127.0.0.1:1/0" "$out"
check "config check: the password is never printed" "0" "$(grep -c hunter2 <<<"$out")"
out=$(env -u DST_TEST_REDIS_URL "$DISTRIBUTARY" config check --config "$WORK/env.yml" 2>&1); status=$?
check "config check: an unset variable exits 1" "1" "$status"
check_contains "config check: names the key and the variable" "redis.url" "$out"
check_contains "config check: says the variable is not set" "DST_TEST_REDIS_URL is not set" "$out"
sed 's/mode: hash/mode: hashh/' "$WORK/good.yml" >"$WORK/bad.yml"
out=$("$DISTRIBUTARY" config check --config "$WORK/bad.yml" 2>&1); status=$?
check "config check: an invalid file exits 1 naming the key" "1 1" "$status $(grep -c 'tables.itest.products.redis.mode' <<<"$out")"

echo "== wrong server settings"
sql "SET GLOBAL binlog_format = 'STATEMENT'; SET GLOBAL binlog_row_image = 'MINIMAL'"
out=$("$DISTRIBUTARY" run --config "$WORK/good.yml" 2>&1); status=$?
sql "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'"
check "wrong settings: exit non-zero" "1" "$status"
check_contains "wrong settings: names binlog_format fix" "SET GLOBAL binlog_format = 'ROW'" "$out"
check_contains "wrong settings: names binlog_row_image fix" "SET GLOBAL binlog_row_image = 'FULL'" "$out"

finish
