#!/usr/bin/env bash
# Snapshot scenarios against the MariaDB and Redis of scripts/servers.sh: rows loaded by a
# snapshot equal the same rows streamed from the log (every column type), a snapshot
# under concurrent writes followed by streaming converges, a killed snapshot resumes,
# tables without a primary key. Results are read back with mariadb, redis-cli and curl.
#   integration/native/snapshot.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: snapshot.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
source ./lib.sh
source ../binlogs/types-sql.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-snapshot.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"
sqlu() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot --default-character-set=utf8mb4 "$@"; }

config() { # config FILE NAME SERVER_ID TABLES-YAML [EXTRA-SOURCE-KEYS] [EXTRA-TOP-LEVEL-YAML]
    cat >"$1" <<YAML
name: $2
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: $3${5:+, $5}}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
${6:-}
tables:
$4
YAML
}
head_pos() { sql "SHOW MASTER STATUS" | awk '{print $2}'; }
# wait_checkpoint NAME: until the pipeline's Redis checkpoint reaches the source's head
wait_checkpoint() {
    local head; head=$(head_pos)
    for _ in $(seq 1 300); do [ "$(rraw HGET "distributary:$1:checkpoint" pos)" = "$head" ] && return 0; sleep 0.1; done
    return 1
}
count_keys() { rraw EVAL "return #redis.call('KEYS', ARGV[1])" 0 "$1"; }

echo "== snapshot rows equal streamed rows, every column type"
rcli FLUSHALL >/dev/null
start_file=$(sql "SHOW MASTER STATUS" | awk '{print $1}'); start_pos=$(head_pos)
{ schema; inserts; updates; } | sqlu
sid=4410
for mode in hash json; do
    sid=$((sid + 2))
    config "$WORK/stream-$mode.yml" "stream_$mode" "$sid" "  types.*: {redis: {key: \"s$mode:{@table}:{id}\", mode: $mode}}" \
        "start: {file: $start_file, pos: $start_pos}, snapshot: never"
    start_replicator "$WORK/stream-$mode.yml" "$WORK/stream.log" || fail "types: streaming replicator starts ($mode)"
    wait_checkpoint "stream_$mode" || fail "types: streaming caught up ($mode)"
    stop_replicator
    config "$WORK/snap-$mode.yml" "snap_$mode" "$((sid + 1))" "  types.*: {redis: {key: \"t$mode:{@table}:{id}\", mode: $mode}}"
    out=$("$DISTRIBUTARY" snapshot --config "$WORK/snap-$mode.yml" 2>&1); status=$?
    check "types: snapshot exits 0 ($mode)" "0" "$status"
    python3 redis_dump.py "$DST_REDIS_PORT" "s$mode:*" --strip "s$mode:" >"$WORK/s-$mode.txt"
    python3 redis_dump.py "$DST_REDIS_PORT" "t$mode:*" --strip "t$mode:" >"$WORK/t-$mode.txt"
    rows=$(sql "SELECT $(for t in t_int t_num t_time t_str t_bin t_enum t_bit t_json t_geo t_myisam; do printf '(SELECT COUNT(*) FROM types.%s)+' $t; done)0")
    check "types: the stream wrote one entry per row ($mode)" "$rows" "$(wc -l <"$WORK/s-$mode.txt")"
    if diff "$WORK/s-$mode.txt" "$WORK/t-$mode.txt" >"$WORK/diff-$mode.txt"; then
        pass "types: $rows snapshot entries byte-identical to the streamed ones ($mode)"
    else
        fail "types: snapshot entries differ from the streamed ones ($mode)" "$(cut -c1-400 "$WORK/diff-$mode.txt" | head -20)"
    fi
done

echo "== a snapshot under concurrent writes, then streaming: converges to the source"
sql "DROP DATABASE IF EXISTS snapw; CREATE DATABASE snapw;
     CREATE TABLE snapw.items (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, qty INT, note TEXT);
     INSERT INTO snapw.items SELECT seq, CONCAT('item ', seq), seq % 97, REPEAT('n', seq % 50) FROM snapw.seq_1_to_60000;
     CREATE TABLE snapw.more (id INT PRIMARY KEY, v VARCHAR(40));
     INSERT INTO snapw.more SELECT seq, CONCAT('m', seq) FROM snapw.seq_1_to_30000;"
config "$WORK/w.yml" "snapw" 4403 "  snapw.items:
    redis: {key: \"w:{id}\", mode: hash}
    index: {name: witems, fields: {name: text, qty: number}, stored: [qty]}
  snapw.more: {redis: {key: \"wm:{id}\"}}" "snapshot: initial" "index: {path: \"$WORK/w-index\"}
batch_rows: 2000"
( for i in $(seq 1 150); do
      echo "UPDATE snapw.items SET qty = qty + 1000, note = 'changed $i' WHERE id % 150 = $i;
            DELETE FROM snapw.items WHERE id = $((i * 397));
            INSERT INTO snapw.items VALUES ($((100000 + i)), 'new $i', $i, NULL);
            UPDATE snapw.more SET v = 'changed $i' WHERE id % 150 = $i;
            DO SLEEP(0.02);"
  done | sqlu ) &
writer=$!
# Single-row commits back to back: the read views of the parallel readers must still be
# lined up at one position (or the snapshot falls back to one reader and says why).
( for i in $(seq 1 3000); do echo "INSERT INTO snapw.more VALUES ($((50000 + i)), 'fast $i');"; done | sqlu ) &
writer2=$!
start_replicator "$WORK/w.yml" "$WORK/w.log" || fail "concurrent: replicator starts"
wait "$writer" "$writer2"
wait_checkpoint snapw || fail "concurrent: caught up"
check_contains "concurrent: a snapshot ran first" "snapshot finished" "$(cat "$WORK/w.log")"
if grep -q 'read_threads=2' "$WORK/w.log"; then
    pass "concurrent: both tables read in parallel, at one position ($(grep -o 'snapshot started ([^)]*)' "$WORK/w.log"))"
elif grep -q 'reading one table at a time' "$WORK/w.log"; then
    pass "concurrent: read views could not be lined up without RELOAD; one reader, and the log says why"
else
    fail "concurrent: neither parallel reads nor the reason why not in the log" "$(grep snapshot "$WORK/w.log" | head -5)"
fi
check "concurrent: as many Redis entries as rows of the second table" "$(sql "SELECT COUNT(*) FROM snapw.more")" "$(count_keys 'wm:*')"
sql "SELECT id, name, qty, note FROM snapw.items ORDER BY id" |
    awk -F'\t' '{ printf "%s\thash\tid=%s\tname=%s", $1, $1, $2; if ($4 != "NULL") printf "\tnote=%s", $4; if ($3 != "NULL") printf "\tqty=%s", $3; print "" }' |
    sort >"$WORK/w-source.txt"
python3 redis_dump.py "$DST_REDIS_PORT" "w:*" --strip "w:" >"$WORK/w-redis.txt"
check "concurrent: as many Redis entries as rows" "$(sql "SELECT COUNT(*) FROM snapw.items")" "$(wc -l <"$WORK/w-redis.txt")"
if diff "$WORK/w-source.txt" "$WORK/w-redis.txt" >"$WORK/w-diff.txt"; then pass "concurrent: every Redis entry equals its row"; else fail "concurrent: Redis differs from the source" "$(head -c 2000 "$WORK/w-diff.txt")"; fi
check "concurrent: as many documents as rows" "$(sql "SELECT COUNT(*) FROM snapw.items")" "$(search_total witems 'qty:[0 TO 100000]')"
check "concurrent: updated rows searchable with their update" "$(sql "SELECT COUNT(*) FROM snapw.items WHERE qty >= 1000")" "$(search_total witems 'qty:[1000 TO 100000]')"
out=$("$DISTRIBUTARY" verify --config "$WORK/w.yml" 2>&1); status=$?
check "concurrent: verify is clean after the snapshot and the stream" "0" "$status"
sql "INSERT INTO snapw.items VALUES (200000, 'after the snapshot', 1, NULL)"
eventually "concurrent: streaming goes on after the snapshot" "after the snapshot" rraw HGET w:200000 name
stop_replicator
check "concurrent: clean stop" "0" "$STOP_STATUS"

echo "== parallel read views that cannot be lined up without a lock"
# DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS=0 skips the lock-free attempts, as a source that
# commits all the time would: without RELOAD one reader does it all and the log says why;
# with RELOAD a brief FLUSH TABLES WITH READ LOCK lines the views up.
config "$WORK/l.yml" "snapl" 4407 "  snapw.items: {redis: {key: \"l:{id}\"}}
  snapw.more: {redis: {key: \"lm:{id}\"}}" "" "batch_rows: 2000"
out=$(DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS=0 "$DISTRIBUTARY" snapshot --config "$WORK/l.yml" 2>&1); status=$?
check "no RELOAD: the snapshot exits 0" "0" "$status"
check_contains "no RELOAD: says it reads one table at a time and how to change that" "GRANT RELOAD ON" "$out"
check_contains "no RELOAD: one reader" "read_threads=1" "$out"
check "no RELOAD: verify is clean" "0" "$("$DISTRIBUTARY" verify --config "$WORK/l.yml" >/dev/null 2>&1; echo $?)"
sql "CREATE USER IF NOT EXISTS 'dst_lock'@'127.0.0.1' IDENTIFIED BY '$DST_REPL_PASSWORD';
     GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD ON *.* TO 'dst_lock'@'127.0.0.1'"
config "$WORK/l2.yml" "snapl2" 4408 "  snapw.items: {redis: {key: \"l2:{id}\"}}
  snapw.more: {redis: {key: \"l2m:{id}\"}}" "" "batch_rows: 2000"
sed -i "s/user: $DST_REPL_USER,/user: dst_lock,/" "$WORK/l2.yml"
out=$(DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS=0 "$DISTRIBUTARY" snapshot --config "$WORK/l2.yml" 2>&1); status=$?
check "RELOAD: the snapshot exits 0" "0" "$status"
check_contains "RELOAD: the views were lined up under the lock" "global read lock held only while the read views were opened" "$out"
check_contains "RELOAD: two readers" "read_threads=2" "$out"
check_contains "RELOAD: logs how long the lock was held" "global_read_lock_ms=" "$out"
check "RELOAD: verify is clean" "0" "$("$DISTRIBUTARY" verify --config "$WORK/l2.yml" >/dev/null 2>&1; echo $?)"
check "RELOAD: all rows of both tables" "$(sql "SELECT (SELECT COUNT(*) FROM snapw.items) + (SELECT COUNT(*) FROM snapw.more)")" "$(( $(count_keys 'l2:*') + $(count_keys 'l2m:*') ))"
# A write statement running for 8 s (it changes nothing): the lock waits for it, holding
# other writes back meanwhile, so it is given up after 2 s and one reader does the work.
rcli DEL distributary:snapl2:checkpoint >/dev/null
sql "UPDATE snapw.more SET v = CONCAT(v, '') WHERE id = 1 AND SLEEP(8) = 0" >/dev/null &
sleeper=$!
sleep 0.5
started=$(date +%s%N)
out=$(DISTRIBUTARY_SNAPSHOT_LINEUP_ATTEMPTS=0 "$DISTRIBUTARY" snapshot --config "$WORK/l2.yml" 2>&1); status=$?
waited_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check "lock not granted: the snapshot exits 0" "0" "$status"
check_contains "lock not granted: says so" "was not granted within 2 s" "$out"
check_contains "lock not granted: one reader" "read_threads=1" "$out"
check "lock not granted: it gave up on the lock instead of waiting for the statement ($waited_ms ms)" "1" "$([ "$waited_ms" -lt 7000 ] && echo 1)"
check "lock not granted: verify is clean" "0" "$("$DISTRIBUTARY" verify --config "$WORK/l2.yml" >/dev/null 2>&1; echo $?)"
wait "$sleeper"
sql "DROP USER 'dst_lock'@'127.0.0.1'"

echo "== a snapshot killed halfway resumes from its last chunk"
sql "DROP DATABASE IF EXISTS snapk; CREATE DATABASE snapk;
     CREATE TABLE snapk.a (id INT PRIMARY KEY, v VARCHAR(40));
     CREATE TABLE snapk.b (k VARCHAR(20) PRIMARY KEY, v VARCHAR(40));
     INSERT INTO snapk.a SELECT seq, CONCAT('a', seq) FROM snapk.seq_1_to_150000;
     INSERT INTO snapk.b SELECT CONCAT('key', seq), CONCAT('b', seq) FROM snapk.seq_1_to_150000;"
config "$WORK/k.yml" "snapk" 4404 "  snapk.a: {redis: {key: \"ka:{id}\"}}
  snapk.b: {redis: {key: \"kb:{k}\"}}" "" "batch_rows: 2000"
"$DISTRIBUTARY" snapshot --config "$WORK/k.yml" >"$WORK/k.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ "$(count_keys 'kb:*')" -gt 1000 ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
progress=$(rraw HGET distributary:snapk:checkpoint snapshot)
loaded=$(( $(count_keys 'ka:*') + $(count_keys 'kb:*') ))
# The two tables are read in parallel: both are part-loaded, b's key is kept under "ahead".
check_contains "killed: read both tables in parallel" "read_threads=2" "$(cat "$WORK/k.log")"
check_contains "killed: the checkpoint holds both tables' progress" '"ahead":{"1":' "$progress"
check "killed: stopped part-way ($loaded of 300000 rows)" "1" "$([ "$(count_keys 'ka:*')" -lt 150000 ] && [ "$(count_keys 'kb:*')" -lt 150000 ] && [ "$loaded" -gt 1000 ] && echo 1)"
sql "UPDATE snapk.a SET v = 'changed after the kill' WHERE id = 7; DELETE FROM snapk.b WHERE k = 'key7'"
config "$WORK/k-run.yml" "snapk" 4404 "  snapk.a: {redis: {key: \"ka:{id}\"}}
  snapk.b: {redis: {key: \"kb:{k}\"}}" "snapshot: never" "batch_rows: 2000"
start_replicator "$WORK/k-run.yml" "$WORK/k-run.log" || fail "killed: run starts"
wait_checkpoint snapk || fail "killed: caught up after resuming"
check_contains "killed: run resumed the snapshot (even with snapshot: never)" "resuming an interrupted snapshot" "$(cat "$WORK/k-run.log")"
check "killed: the snapshot field is cleared" "" "$(rraw HGET distributary:snapk:checkpoint snapshot)"
check "killed: all of a" "150000" "$(count_keys 'ka:*')"
check "killed: all of b but the deleted row" "149999" "$(count_keys 'kb:*')"
check "killed: a change made while it was down" "changed after the kill" "$(rraw HGET ka:7 v)"
check "killed: the deleted row is gone" "0" "$(rraw EXISTS kb:key7)"
stop_replicator

echo "== a snapshot into Redis and the index killed halfway resumes from the sink that got least far"
# Each sink applies chunks on a thread of its own, so after a kill -9 their progress can
# differ by a chunk or two: the resume starts from the one behind.
sql "DROP DATABASE IF EXISTS snapk2; CREATE DATABASE snapk2;
     CREATE TABLE snapk2.a (id INT PRIMARY KEY, v VARCHAR(40));
     CREATE TABLE snapk2.b (id INT PRIMARY KEY, v VARCHAR(40));
     INSERT INTO snapk2.a SELECT seq, CONCAT('alpha ', seq) FROM snapk2.seq_1_to_60000;
     INSERT INTO snapk2.b SELECT seq, CONCAT('beta ', seq) FROM snapk2.seq_1_to_60000;"
tables2="  snapk2.a: {redis: {key: \"k2a:{id}\"}, index: {name: k2a, fields: {v: text}}}
  snapk2.b: {redis: {key: \"k2b:{id}\"}, index: {name: k2b, fields: {v: text}}}"
# One reader (snapshot_threads: 1): tables one after the other.
config "$WORK/k2.yml" "snapk2" 4406 "$tables2" "snapshot_threads: 1" "batch_rows: 2000
index: {path: \"$WORK/k2-index\"}"
"$DISTRIBUTARY" snapshot --config "$WORK/k2.yml" >"$WORK/k2.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ "$(count_keys 'k2b:*')" -gt 1000 ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
check_contains "killed (Redis + index): the Redis checkpoint holds the progress" '"done":1' "$(rraw HGET distributary:snapk2:checkpoint snapshot)"
config "$WORK/k2-run.yml" "snapk2" 4406 "$tables2" "snapshot: never" "batch_rows: 2000
index: {path: \"$WORK/k2-index\"}"
start_replicator "$WORK/k2-run.yml" "$WORK/k2-run.log" || fail "killed (Redis + index): run starts"
eventually "killed (Redis + index): the snapshot finishes (its progress field is cleared)" "" rraw HGET distributary:snapk2:checkpoint snapshot
check_contains "killed (Redis + index): run resumed the snapshot" "resuming an interrupted snapshot" "$(cat "$WORK/k2-run.log")"
sql "UPDATE snapk2.b SET v = 'beta changed' WHERE id = 59999"
eventually "killed (Redis + index): streaming goes on after it" "beta changed" rraw HGET k2b:59999 v
check "killed (Redis + index): all of a and b in Redis" "60000 60000" "$(count_keys 'k2a:*') $(count_keys 'k2b:*')"
eventually "killed (Redis + index): all of a in the index" "60000" search_total k2a alpha
eventually "killed (Redis + index): all of b in the index" "60000" search_total k2b beta
stop_replicator

echo "== SIGTERM stops a snapshot at a chunk boundary; running it again finishes it"
rcli EVAL "for _, k in ipairs(redis.call('KEYS', 'ka:*')) do redis.call('UNLINK', k) end return 1" 0 >/dev/null
rcli DEL distributary:snapk:checkpoint >/dev/null
"$DISTRIBUTARY" snapshot --config "$WORK/k.yml" >"$WORK/k2.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ "$(count_keys 'ka:*')" -gt 10000 ] && break; sleep 0.05; done
kill -TERM "$pid"; status=0; wait "$pid" || status=$?
check "sigterm: exit 1 (not finished)" "1" "$status"
check_contains "sigterm: says how to resume" "run the same command again" "$(cat "$WORK/k2.log")"
out=$("$DISTRIBUTARY" snapshot --config "$WORK/k.yml" 2>&1); status=$?
check "sigterm: the second run exits 0" "0" "$status"
check_contains "sigterm: the second run resumed" "resuming an interrupted snapshot" "$out"
check "sigterm: all of a" "150000" "$(count_keys 'ka:*')"

echo "== tables without a primary key"
sql "CREATE TABLE snapk.nopk (sku VARCHAR(20) NOT NULL, v INT, UNIQUE KEY (sku)); INSERT INTO snapk.nopk VALUES ('s1', 1), ('s2', 2)"
config "$WORK/nopk.yml" "nopk" 4405 "  snapk.nopk: {redis: {key: \"np:{sku}\"}}"
out=$("$DISTRIBUTARY" snapshot --config "$WORK/nopk.yml" 2>&1); status=$?
check "no key: exit 1" "1" "$status"
check_contains "no key: names the table and the fix" "snapk.nopk has no primary key" "$out"
check_contains "no key: names the config key" "tables.snapk.nopk.unique_key" "$out"
config "$WORK/nopk.yml" "nopk" 4405 "  snapk.nopk: {redis: {key: \"np:{sku}\"}, unique_key: [sku]}"
out=$("$DISTRIBUTARY" snapshot --config "$WORK/nopk.yml" 2>&1); status=$?
check "no key: with unique_key it loads" "0 v=2" "$status $(rraw HGET np:s2 v | sed 's/^/v=/')"

echo "== resync of a table whose Redis entries and documents went wrong"
sql "DROP DATABASE IF EXISTS snapr; CREATE DATABASE snapr;
     CREATE TABLE snapr.r (id INT PRIMARY KEY, name VARCHAR(40), kind VARCHAR(10));
     CREATE TABLE snapr.other (id INT PRIMARY KEY, v INT);
     INSERT INTO snapr.r SELECT seq, CONCAT('row ', seq), IF(seq % 2, 'odd', 'even') FROM snapr.seq_1_to_5000;
     INSERT INTO snapr.other VALUES (1, 1);"
config "$WORK/r.yml" "snapr" 4406 "  snapr.r:
    redis: {key: \"r:{id}\"}
    index: {name: rdocs, fields: {name: text, kind: keyword}, stored: [name]}
  snapr.other:
    redis: {key: \"r:other:{id}\"}" "snapshot: initial" "index: {path: \"$WORK/r-index\"}"
start_replicator "$WORK/r.yml" "$WORK/r.log" || fail "resync: replicator starts"
wait_checkpoint snapr || fail "resync: caught up"
# The Redis checkpoint can reach the head just before the index commits the snapshot's last documents.
eventually "resync: 5,000 documents before" "5000" search_total rdocs 'kind:odd kind:even'
stop_replicator
rraw HSET r:5 name "edited by hand" >/dev/null
rraw DEL r:6 >/dev/null
rraw HSET r:99999 name "no such row" >/dev/null
# Rows that vanish from the source without a binlog event: what a sink that missed deletes holds.
sql "SET SESSION sql_log_bin = 0; DELETE FROM snapr.r WHERE id BETWEEN 4001 AND 4100;"
"$DISTRIBUTARY" verify --config "$WORK/r.yml" --table snapr.r --json >"$WORK/r-verify.json" 2>"$WORK/r-verify.err"; status=$?
check "resync: verify finds the damage first (exit 1)" "1" "$status"
vkeys() { python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if o.get("table") == "snapr.r" and o.get("sink") == sys.argv[2]: return o
        for v in o.values():
            r = find(v)
            if r: return r
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r: return r
t = find(report) or {}
k = sys.argv[3]
keys = [d["key"] for d in t.get("different_keys", [])] if k == "different" else t.get(k + "_keys", [])
print(t.get(k, "?"), " ".join(sorted(keys)[:3]))
' "$WORK/r-verify.json" "$@"; }
check "resync: verify names the edited entry" "1 r:5" "$(vkeys redis different)"
check "resync: verify names the deleted key" "1 r:6" "$(vkeys redis missing)"
check "resync: verify counts the extra keys (one by hand, 100 of vanished rows)" "101" "$(vkeys redis extra | cut -d' ' -f1)"
check "resync: verify counts the extra documents" "100" "$(vkeys index extra | cut -d' ' -f1)"
out=$("$DISTRIBUTARY" resync --config "$WORK/r.yml" --table snapr.r 2>&1); status=$?
check "resync: exits 0" "0" "$status"
"$DISTRIBUTARY" verify --config "$WORK/r.yml" >"$WORK/r-verify2.txt" 2>&1; status=$?
check "resync: verify is clean afterwards" "0" "$status"
check "resync: a field edited by hand is restored" "row 5" "$(rraw HGET r:5 name)"
check "resync: a deleted key is back" "row 6" "$(rraw HGET r:6 name)"
check "resync: a key no row produced is gone" "0" "$(rraw EXISTS r:99999)"
check "resync: entries of rows deleted behind the sink's back are gone" "0" "$(rraw EXISTS r:4001 r:4050 r:4100)"
check "resync: another table's keys under the same prefix are kept" "v=1" "$(rraw HGET r:other:1 v | sed 's/^/v=/')"
check_contains "resync: logs the sweep" "stale=101" "$out"
start_replicator "$WORK/r.yml" "$WORK/r.log" || fail "resync: replicator restarts"
check "resync: the index lost the vanished rows' documents" "4900" "$(search_total rdocs 'kind:odd kind:even')"
sql "UPDATE snapr.r SET name = 'after resync' WHERE id = 1"
eventually "resync: streaming goes on" "after resync" rraw HGET r:1 name
stop_replicator

echo "== online resync (watermarks) under a concurrent write load"
sql "DROP TABLE IF EXISTS distributary.watermarks" # (left by an earlier run on this server)
start_replicator "$WORK/r.yml" "$WORK/r.log" || fail "online: replicator starts"
out=$(curl -sS -X POST "http://127.0.0.1:$HTTP_PORT/resync?table=snapr.r")
check_contains "online: without the watermark table the resync fails, naming the fix" "CREATE TABLE" "$(sleep 1; curl -sS "http://127.0.0.1:$HTTP_PORT/resync")"
sql "CREATE DATABASE IF NOT EXISTS distributary;
     CREATE TABLE IF NOT EXISTS distributary.watermarks (pipeline VARCHAR(64) PRIMARY KEY, value VARCHAR(64) NOT NULL);
     GRANT SELECT, INSERT, UPDATE ON distributary.watermarks TO '$DST_REPL_USER'@'127.0.0.1';"
rraw HSET r:7 name "edited by hand" >/dev/null
rraw HSET r:88888 name "no such row" >/dev/null
sql "SET SESSION sql_log_bin = 0; DELETE FROM snapr.r WHERE id BETWEEN 3001 AND 3050;"
( for i in $(seq 1 200); do
      echo "UPDATE snapr.r SET name = CONCAT('live ', $i) WHERE id % 200 = $((i % 200));
            INSERT INTO snapr.r VALUES ($((10000 + i)), 'inserted during resync', 'new');
            DELETE FROM snapr.r WHERE id = $((i * 11));
            DO SLEEP(0.01);"
  done | sqlu ) &
writer=$!
out=$("$DISTRIBUTARY" resync --config "$WORK/r.yml" --table snapr.r --online 2>&1); status=$?
check "online: resync --online exits 0" "0" "$status"
check_contains "online: reports what it did" "stale entries deleted" "$out"
echo "  $out"
wait "$writer"
wait_checkpoint snapr || fail "online: caught up"
sql "SELECT id, name, kind FROM snapr.r ORDER BY id" |
    awk -F'\t' '{ printf "%s\thash\tid=%s\tkind=%s\tname=%s\n", $1, $1, $3, $2 }' | sort >"$WORK/r-source.txt"
python3 redis_dump.py "$DST_REDIS_PORT" "r:*" --strip "r:" | grep -v '^other:' >"$WORK/r-redis.txt"
if diff "$WORK/r-source.txt" "$WORK/r-redis.txt" >"$WORK/r-diff.txt"; then
    pass "online: every Redis entry equals its row ($(wc -l <"$WORK/r-source.txt") rows), concurrent changes included"
else
    fail "online: Redis differs from the source" "$(head -20 "$WORK/r-diff.txt")"
fi
"$DISTRIBUTARY" verify --config "$WORK/r.yml" >"$WORK/r-verify3.txt" 2>&1; status=$?
check "online: verify is clean after the online resync (replicator running)" "0" "$status"
check "online: the key no row produced is gone" "0" "$(rraw EXISTS r:88888)"
check "online: entries of rows that vanished behind its back are gone" "0" "$(rraw EXISTS r:3001 r:3050)"
check "online: documents equal rows" "$(sql "SELECT COUNT(*) FROM snapr.r")" "$(search_total rdocs 'kind:odd kind:even kind:new')"
check "online: a second resync may start once the first is done" "202" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HTTP_PORT/resync?table=snapr.r")"
check "online: an unknown table is 400" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HTTP_PORT/resync?table=snapr.nope")"
eventually "online: the second one finishes" "done" bash -c "curl -sS http://127.0.0.1:$HTTP_PORT/resync | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])'"
stop_replicator
check "online: clean stop" "0" "$STOP_STATUS"

echo "== a snapshot next to a running replicator is refused"
start_replicator "$WORK/k-run.yml" "$WORK/k-run.log" || fail "refuse: run starts"
out=$("$DISTRIBUTARY" snapshot --config "$WORK/k-run.yml" 2>&1); status=$?
check "refuse: exit 1" "1" "$status"
check_contains "refuse: says why" "is running" "$out"
stop_replicator

echo "== when_needed: a checkpoint whose binlog was purged is reloaded and swept"
config "$WORK/p.yml" "snapp" 4407 "  snapr.r: {redis: {key: \"pr:{id}\"}}" "snapshot: when_needed"
start_replicator "$WORK/p.yml" "$WORK/p.log" || fail "purged: replicator starts"
wait_checkpoint snapp || fail "purged: caught up"
stop_replicator
sql "DELETE FROM snapr.r WHERE id = 2; UPDATE snapr.r SET name = 'changed while down' WHERE id = 3; FLUSH BINARY LOGS;"
current=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
purge_binlogs_to "$current"
check "purged: the old binlogs are gone" "$current" "$(sql "SHOW BINARY LOGS" | head -1 | awk '{print $1}')"
start_replicator "$WORK/p.yml" "$WORK/p.log" || fail "purged: replicator restarts"
sql "UPDATE snapr.r SET name = 'after the purge' WHERE id = 4"
eventually "purged: streaming goes on" "after the purge" rraw HGET pr:4 name
wait_checkpoint snapp || fail "purged: caught up again"
check_contains "purged: says why it reloads" "no longer in the server's binlogs (purged)" "$(cat "$WORK/p.log")"
check "purged: the change made while down is there" "changed while down" "$(rraw HGET pr:3 name)"
check "purged: the row deleted while down is swept" "0" "$(rraw EXISTS pr:2)"
check "purged: as many keys as rows" "$(sql "SELECT COUNT(*) FROM snapr.r")" "$(count_keys 'pr:*')"
stop_replicator

finish
