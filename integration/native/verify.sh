#!/usr/bin/env bash
# `distributary verify` against the MariaDB and Redis of scripts/servers.sh: a clean pipeline
# verifies clean; entries corrupted by hand (read back with redis-cli and mariadb) are named
# with the right kind; a stopped replicator is reported as behind; --table limits the check;
# a verify during a concurrent write load reports no false differences.
#   integration/native/verify.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: verify.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-verify.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
LOG="$WORK/replicator.log"
DB=3   # a Redis database of its own
LOADER=""
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; [ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

vcli() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" -n "$DB" --raw "$@"; }

write_config() { # write_config FILE [REDIS_PORT] [SOURCE_PORT]
    cat >"$1" <<YAML
name: vtest
source:
  host: 127.0.0.1
  port: ${3:-$DST_MARIADB_PORT}
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4301
  start: latest
  connect_timeout: 2
redis:
  url: redis://127.0.0.1:${2:-$DST_REDIS_PORT}/$DB
index:
  path: $WORK/index
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  vtest.products:
    redis:
      key: "vp:{id}"
      mode: hash
      columns: [name, price, status, released]
    index:
      name: vproducts
      fields: {name: text, description: text, status: keyword, price: number}
      stored: [name, price]
  vtest.orders:
    redis:
      key: "vo:{shop}:{id}"
      mode: json
  vtest.notes:
    index:
      name: vnotes
      fields: {body: text, tag: keyword}
      stored: [tag]
  vtest.users:
    redis:
      key: "vu:{id}"
  vtest.user_prefs:
    redis:
      key: "vu:{id}:prefs"
  vtest.sessions:
    redis:
      key: "vs:{id}"
      mode: invalidate
YAML
}

# verify_json OUT [ARGS...]: runs verify --json; its exit status goes to VSTATUS, stdout to OUT.json, stderr to OUT.err
VSTATUS=""
verify_json() {
    local out=$1; shift
    VSTATUS=0
    "$DISTRIBUTARY" verify --config "$WORK/vtest.yml" --json "$@" >"$out.json" 2>"$out.err" || VSTATUS=$?
}
# field OUT PYTHON-EXPRESSION: evaluates the expression over the JSON report (`r`) and the
# result of a table and sink (`t("db.table", "sink")`).
field() {
    python3 - "$1.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def t(table, sink):
    return next(x for x in r["results"] if x["table"] == table and x["sink"] == sink)
def keys(table, sink, kind):
    return " ".join(sorted(t(table, sink)[kind + "_keys"] if kind != "different" else [d["key"] for d in t(table, sink)["different_keys"]]))
v = eval(sys.argv[2])
print(v if not isinstance(v, bool) else str(v).lower())
PY
}
# touch_index: a write to an indexed table, so that the index commits its checkpoint (a batch
# without index writes only moves the index checkpoint with the next one that has some)
touch_index() { sql "INSERT INTO vtest.notes VALUES (999, 'marker', 'marker') ON DUPLICATE KEY UPDATE body = CONCAT('marker ', NOW(6))"; }
# caught_up: both checkpoints hold the source's GTID position
caught_up() {
    local head; head=$(sql "SELECT @@gtid_binlog_pos")
    "$DISTRIBUTARY" status --config "$WORK/vtest.yml" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["sinks"]
print(" ".join(s[k].get("gtid_position") or "-" for k in ("redis", "index")))' | grep -qx "$head $head" && echo yes
}

echo "== setup"
vcli FLUSHDB >/dev/null
sql "DROP DATABASE IF EXISTS vtest; CREATE DATABASE vtest;
     CREATE TABLE vtest.products (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, description TEXT,
        price DECIMAL(10,2), status CHAR(10), released DATE);
     CREATE TABLE vtest.orders (shop SMALLINT NOT NULL, id INT NOT NULL, total DECIMAL(12,3), note VARCHAR(50),
        PRIMARY KEY (shop, id));
     CREATE TABLE vtest.notes (id INT PRIMARY KEY, body TEXT, tag VARCHAR(20));
     CREATE TABLE vtest.users (id INT PRIMARY KEY, name VARCHAR(50));
     CREATE TABLE vtest.user_prefs (id INT PRIMARY KEY, theme VARCHAR(20));
     CREATE TABLE vtest.sessions (id INT PRIMARY KEY, data VARCHAR(50));"
write_config "$WORK/vtest.yml"
start_replicator "$WORK/vtest.yml" "$LOG" || { fail "replicator starts"; finish; exit 1; }
pass "replicator starts"
sql "INSERT INTO vtest.products SELECT seq, CONCAT('product ', seq), CONCAT('the description of item ', seq),
        seq * 1.25, IF(seq % 3 = 0, 'sold', 'active'), IF(seq % 4 = 0, NULL, DATE('2024-01-01') + INTERVAL seq DAY)
     FROM vtest.seq_1_to_5000;
     INSERT INTO vtest.orders SELECT 1 + seq % 3, seq, seq / 7, IF(seq % 5 = 0, NULL, CONCAT('note ', seq)) FROM vtest.seq_1_to_600;
     INSERT INTO vtest.users SELECT seq, CONCAT('user ', seq) FROM vtest.seq_1_to_50;
     INSERT INTO vtest.user_prefs SELECT seq, 'dark' FROM vtest.seq_1_to_50;
     INSERT INTO vtest.sessions SELECT seq, 'x' FROM vtest.seq_1_to_10;
     INSERT INTO vtest.notes SELECT seq, CONCAT('note body ', seq), CONCAT('tag', seq % 10) FROM vtest.seq_1_to_399;"
touch_index
eventually "setup: both sinks reach the source's GTID position" "yes" caught_up
check "setup: redis-cli sees 5000 product hashes" "5000" "$(vcli EVAL "return #redis.call('KEYS', 'vp:*')" 0)"

echo "== a clean pipeline verifies clean"
verify_json "$WORK/clean"
check "clean: exit status 0" "0" "$VSTATUS"
check "clean: matches" "true" "$(field "$WORK/clean" 'r["matches"]')"
check "clean: every product row checked in Redis" "5000" "$(field "$WORK/clean" 't("vtest.products","redis")["checked"]')"
check "clean: every product row checked in the index" "5000" "$(field "$WORK/clean" 't("vtest.products","index")["checked"]')"
check "clean: json orders checked" "600" "$(field "$WORK/clean" 't("vtest.orders","redis")["checked"]')"
check "clean: index-only table checked" "400" "$(field "$WORK/clean" 't("vtest.notes","index")["checked"]')"
check "clean: vu:{id}:prefs keys are not extras of vu:{id}" "0 50" "$(field "$WORK/clean" '" ".join(str(t("vtest.users","redis")[k]) for k in ("extra","checked"))')"
check_contains "clean: invalidate mode is skipped with a note" "invalidate" "$(field "$WORK/clean" 't("vtest.sessions","redis")["skipped"]')"
text=$("$DISTRIBUTARY" verify --config "$WORK/vtest.yml" 2>/dev/null); status=$?
check "clean: text output exits 0" "0" "$status"
check_contains "clean: text output says so" "result: every entry matches the source" "$text"

echo "== Redis corrupted by hand (replicator running and caught up)"
vcli DEL vp:5 >/dev/null
vcli HSET vp:6 price 99.99 >/dev/null
vcli HSET vp:9999 name ghost >/dev/null
vcli SET vo:1:3 '{"shop":1,"id":3,"total":"0.429","note":"changed"}' >/dev/null
vcli SET vo:9:9 '{}' >/dev/null
vcli SET vu:77 x >/dev/null
vcli HDEL vp:8 status >/dev/null
vcli DEL vp:10 >/dev/null; vcli SET vp:10 "not a hash" >/dev/null
check "corrupt: redis-cli reads the changed field back" "99.99" "$(vcli HGET vp:6 price)"
verify_json "$WORK/corrupt"
check "corrupt: exit status 1" "1" "$VSTATUS"
check "corrupt: products missing" "vp:5" "$(field "$WORK/corrupt" 'keys("vtest.products","redis","missing")')"
check "corrupt: products different" "vp:10 vp:6 vp:8" "$(field "$WORK/corrupt" 'keys("vtest.products","redis","different")')"
check "corrupt: products extra" "vp:9999" "$(field "$WORK/corrupt" 'keys("vtest.products","redis","extra")')"
check "corrupt: products counts (missing, different, extra)" "1 3 1" "$(field "$WORK/corrupt" '" ".join(str(t("vtest.products","redis")[k]) for k in ("missing","different","extra"))')"
check "corrupt: the diff names the field, expected and actual" "price 7.50 99.99" "$(field "$WORK/corrupt" '" ".join(next(d for d in t("vtest.products","redis")["different_keys"] if d["key"]=="vp:6")["diff"][0][k] for k in ("field","expected","actual"))')"
check "corrupt: a removed field is expected vs absent" "status active None" "$(field "$WORK/corrupt" '" ".join(str(next(d for d in t("vtest.products","redis")["different_keys"] if d["key"]=="vp:8")["diff"][0][k]) for k in ("field","expected","actual"))')"
check "corrupt: a key of another type" "(entry) hash of 4 fields a key of another type (not a hash)" "$(field "$WORK/corrupt" '" ".join(next(d for d in t("vtest.products","redis")["different_keys"] if d["key"]=="vp:10")["diff"][0][k] for k in ("field","expected","actual"))')"
check "corrupt: json different, with the member" "vo:1:3 note" "$(field "$WORK/corrupt" 'keys("vtest.orders","redis","different") + " " + t("vtest.orders","redis")["different_keys"][0]["diff"][0]["field"]')"
check "corrupt: json extra (two-column key parsed back)" "vo:9:9" "$(field "$WORK/corrupt" 'keys("vtest.orders","redis","extra")')"
check "corrupt: extra under an overlapping pattern" "vu:77" "$(field "$WORK/corrupt" 'keys("vtest.users","redis","extra")')"
check "corrupt: user_prefs clean" "true" "$(field "$WORK/corrupt" 't("vtest.user_prefs","redis")["matches"]')"
check "corrupt: the index is clean" "true true" "$(field "$WORK/corrupt" 'str(t("vtest.products","index")["matches"]).lower() + " " + str(t("vtest.notes","index")["matches"]).lower()')"
check "corrupt: no sink reported behind" "{}" "$(field "$WORK/corrupt" 'r["behind"]')"
text=$("$DISTRIBUTARY" verify --config "$WORK/vtest.yml" 2>/dev/null); status=$?
check "corrupt: text output exits 1" "1" "$status"
check_contains "corrupt: text names the missing key" "missing    vp:5" "$text"
check_contains "corrupt: text shows the diff" 'different  vp:6  price: expected "7.50", actual "99.99"' "$text"
check_contains "corrupt: text names the extra key" "extra      vp:9999" "$text"
check_contains "corrupt: text verdict" "result: 8 entries differ from the source" "$text"

echo "== --table limits the check"
vcli HSET vu:5:x:prefs theme light >/dev/null
verify_json "$WORK/only-users" --table vtest.user_prefs --table vtest.notes
vcli DEL vu:5:x:prefs >/dev/null
check "--table: clean tables exit 0" "0" "$VSTATUS"
check "--table: only those tables" "vtest.notes/index vtest.user_prefs/redis" "$(field "$WORK/only-users" '" ".join(sorted(x["table"]+"/"+x["sink"] for x in r["results"]))')"
check_contains "--table: vu:* keys of the unchecked vtest.users are not judged" "not checked in this run" "$(field "$WORK/only-users" '" ".join(t("vtest.user_prefs","redis")["notes"])')"
verify_json "$WORK/only-orders" --table 'vtest.ord*'
check "--table pattern: corrupted table exits 1" "1" "$VSTATUS"
check "--table pattern: only its keys" "vtest.orders vo:1:3 vo:9:9" "$(field "$WORK/only-orders" '" ".join(x["table"] for x in r["results"]) + " " + keys("vtest.orders","redis","different") + " " + keys("vtest.orders","redis","extra")')"
verify_json "$WORK/nope" --table vtest.nope
check "--table: an unmapped table exits 2" "2" "$VSTATUS"
check_contains "--table: the message names it" "--table vtest.nope: the configuration maps no existing table" "$(cat "$WORK/nope.err")"

echo "== replicator stopped, source changed: differences reported as they are, sink behind"
stop_replicator
sql "DELETE FROM vtest.notes WHERE id = 3; UPDATE vtest.notes SET tag = 'changed' WHERE id = 4;
     INSERT INTO vtest.notes VALUES (500, 'written while stopped', 'late');"
writes() { vcli INFO commandstats | grep -E '^cmdstat_(set|hset|hdel|del|unlink|expire|multi|exec|evalsha|eval|flushdb|flushall):' | sed 's/.*calls=\([0-9]*\).*/\1/' | paste -sd+ | bc; }
writes_before=$(writes); cp_before=$(vcli HGETALL distributary:vtest:checkpoint | paste -sd' '); manifest_before=$(md5sum <"$WORK/index/manifest.json")
verify_json "$WORK/behind" --wait 2
check "behind: verify wrote nothing to Redis (INFO commandstats)" "$writes_before" "$(writes)"
check "behind: the Redis checkpoint is untouched" "$cp_before" "$(vcli HGETALL distributary:vtest:checkpoint | paste -sd' ')"
check "behind: the index manifest is untouched" "$manifest_before" "$(md5sum <"$WORK/index/manifest.json")"
check "behind: exit status 1" "1" "$VSTATUS"
check "behind: index missing / different / extra" "500|4|3" "$(field "$WORK/behind" '"|".join(keys("vtest.notes","index",k) for k in ("missing","different","extra"))')"
check "behind: the document diff" "tag changed tag4" "$(field "$WORK/behind" '" ".join(t("vtest.notes","index")["different_keys"][0]["diff"][0][k] for k in ("field","expected","actual"))')"
check_contains "behind: the index is reported behind" "did not reach the source" "$(field "$WORK/behind" 'r["behind"].get("index","")')"
check_contains "behind: verify said it was waiting" "waiting up to" "$(cat "$WORK/behind.err")"

echo "== replicator restarted, Redis repaired through the source: clean again"
start_replicator "$WORK/vtest.yml" "$LOG" || fail "restart: replicator starts"
vcli DEL vp:10 >/dev/null
sql "UPDATE vtest.products SET status = 'fixed' WHERE id IN (5, 6, 8, 10); UPDATE vtest.orders SET note = 'fixed' WHERE shop = 1 AND id = 3"
touch_index
vcli DEL vp:9999 vo:9:9 vu:77 >/dev/null
eventually "restart: both sinks catch up" "yes" caught_up
check "restart: redis-cli sees the repaired hash" "fixed" "$(vcli HGET vp:5 status)"
verify_json "$WORK/repaired"
check "restart: verify exits 0" "0" "$VSTATUS"
check "restart: the index-only table is clean again" "400 0 0 0" "$(field "$WORK/repaired" '" ".join(str(t("vtest.notes","index")[k]) for k in ("checked","missing","different","extra"))')"

echo "== a stopped replicator started while verify waits: no differences once it caught up"
stop_replicator
sql "$(for i in $(seq 1 300); do echo "UPDATE vtest.products SET price = price + 0.01 WHERE id = $i;"; done)"
touch_index
VSTATUS=0
"$DISTRIBUTARY" verify --config "$WORK/vtest.yml" --json --wait 60 >"$WORK/catchup.json" 2>"$WORK/catchup.err" &
verifier=$!
for _ in $(seq 1 100); do grep -q "waiting up to" "$WORK/catchup.err" && break; sleep 0.1; done
check_contains "catch-up: verify waits for the sink" "to reach the source's" "$(cat "$WORK/catchup.err")"
start_replicator "$WORK/vtest.yml" "$LOG" || fail "catch-up: replicator starts"
wait "$verifier" || VSTATUS=$?
check "catch-up: verify exits 0 once the sink passed the changes" "0" "$VSTATUS"
check "catch-up: the 300 changed rows (and their documents) were re-checked" "1" "$(field "$WORK/catchup" 'int(r["rechecked"] >= 600)')"
check "catch-up: no sink reported behind" "{}" "$(field "$WORK/catchup" 'r["behind"]')"

echo "== verify during a concurrent write load"
( for i in $(seq 1 100000); do
      [ -e "$WORK/stop-load" ] && break
      k=$(( (i * 37) % 5000 + 1 )); o=$(( (i * 13) % 600 + 1 )); n=$(( (i * 7) % 400 + 1 ))
      echo "UPDATE vtest.products SET price = price + 1, status = IF(status = 'a', 'b', 'a') WHERE id = $k;
            UPDATE vtest.orders SET total = total + 1 WHERE id = $o;
            START TRANSACTION; DELETE FROM vtest.products WHERE id = $(( k % 500 + 1 ));
            INSERT INTO vtest.products VALUES ($(( k % 500 + 1 )), 'reborn $i', 'reinserted row', $i, 'new', NULL); COMMIT;
            INSERT INTO vtest.notes VALUES ($((1000 + i)), 'load $i', 'load') ON DUPLICATE KEY UPDATE tag = 'again';
            UPDATE vtest.notes SET body = CONCAT('body ', $i) WHERE id = $n;
            DO SLEEP(0.004);"
  done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot ) &
LOADER=$!
sleep 1
before=$(sql "SELECT @@gtid_binlog_pos")
verify_json "$WORK/load" --chunk-rows 250 --progress-every 0.2
after=$(sql "SELECT @@gtid_binlog_pos")
for n in 2 3 4; do
    verify_json "$WORK/load$n" --chunk-rows 100
    check "load: verify run $n during the load exits 0" "0" "$VSTATUS"
done
touch "$WORK/stop-load"; wait "$LOADER"; LOADER=""
touch_index
check "load: the load wrote while verify ran" "1" "$([ "$before" != "$after" ] && echo 1)"
check "load: verify exits 0 (no false differences)" "0" "$VSTATUS"
check "load: nothing reported" "0 0 0" "$(field "$WORK/load" '" ".join(str(sum(x[k] for x in r["results"])) for k in ("missing","different","extra"))')"
rechecked=$(field "$WORK/load" 'r["rechecked"]')
check "load: entries that changed during the run were re-checked ($rechecked, verify took $(field "$WORK/load" 'round(r["seconds"], 1)') s)" "1" "$([ "${rechecked:-0}" -gt 0 ] && echo 1)"
check "load: none left unsettled" "0" "$(field "$WORK/load" 'sum(x["unsettled"] for x in r["results"])')"
check "load: every product row checked" "1" "$(field "$WORK/load" 'int(t("vtest.products","redis")["checked"] == 5000)')"
grep -Eq "^verify: [0-9]+ rows checked, [0-9]+ rows/s \(vtest\.[a-z_]+\)$" "$WORK/load.err" && pass "load: progress (rows checked, rows/s) on stderr" || fail "load: progress (rows checked, rows/s) on stderr" "$(cat "$WORK/load.err")"
eventually "load: both sinks catch up after the load" "yes" caught_up
verify_json "$WORK/after-load"
check "load: verify after the load exits 0" "0" "$VSTATUS"

echo "== Redis Cluster (when scripts/redis-cluster.sh env is set)"
if [ -n "${DST_REDIS_CLUSTER_PORTS:-}" ]; then
    stop_replicator
    ports=(${DST_REDIS_CLUSTER_PORTS//,/ })
    ccli() { redis-cli -c -h 127.0.0.1 -p "${ports[0]}" "$@"; }
    sql "CREATE TABLE vtest.cl (id INT PRIMARY KEY, name VARCHAR(50), n INT)"
    cat >"$WORK/cluster.yml" <<YAML
name: vtestc
source:
  host: 127.0.0.1
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4302
  start: latest
redis:
  url: redis://127.0.0.1:${ports[0]}
  cluster: true
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  vtest.cl:
    redis:
      key: "vc:{id}"
YAML
    for p in "${ports[@]}"; do redis-cli -p "$p" --scan --pattern 'vc:*' | xargs -r -n1 redis-cli -p "$p" DEL >/dev/null; done
    ccli DEL distributary:vtestc:checkpoint >/dev/null
    start_replicator "$WORK/cluster.yml" "$WORK/cluster.log" || fail "cluster: replicator starts"
    sql "INSERT INTO vtest.cl SELECT seq, CONCAT('c', seq), IF(seq % 2 = 0, NULL, seq) FROM vtest.seq_1_to_40"
    count_keys() { local n=0; for p in "${ports[@]}"; do n=$((n + $(redis-cli -p "$p" --scan --pattern 'vc:*' | wc -l))); done; echo $n; }
    eventually "cluster: 40 hashes over the masters (read with redis-cli on each)" "40" count_keys
    masters=0; for p in "${ports[@]}"; do [ "$(redis-cli -p "$p" --scan --pattern 'vc:*' | wc -l)" -gt 0 ] && masters=$((masters + 1)); done
    check "cluster: keys on every master" "${#ports[@]}" "$masters"
    VSTATUS=0; "$DISTRIBUTARY" verify --config "$WORK/cluster.yml" --json >"$WORK/cl-clean.json" 2>"$WORK/cl-clean.err" || VSTATUS=$?
    check "cluster: clean verify exits 0" "0" "$VSTATUS"
    check "cluster: every row checked" "40" "$(field "$WORK/cl-clean" 't("vtest.cl","redis")["checked"]')"
    ccli DEL vc:3 >/dev/null; ccli HSET vc:4 name changed >/dev/null; ccli HSET vc:999 name ghost >/dev/null; ccli HSET vc:5 n 6 >/dev/null
    VSTATUS=0; "$DISTRIBUTARY" verify --config "$WORK/cluster.yml" --json >"$WORK/cl-bad.json" 2>"$WORK/cl-bad.err" || VSTATUS=$?
    check "cluster: corrupted verify exits 1" "1" "$VSTATUS"
    check "cluster: missing / different / extra" "vc:3|vc:4 vc:5|vc:999" "$(field "$WORK/cl-bad" '"|".join(keys("vtest.cl","redis",k) for k in ("missing","different","extra"))')"
    stop_replicator
    for p in "${ports[@]}"; do redis-cli -p "$p" --scan --pattern 'vc:*' | xargs -r -n1 redis-cli -p "$p" DEL >/dev/null; done
    ccli DEL distributary:vtestc:checkpoint >/dev/null
    start_replicator "$WORK/vtest.yml" "$LOG" || fail "cluster: the main replicator restarts"
else
    echo "  (skipped: no DST_REDIS_CLUSTER_PORTS; run scripts/redis-cluster.sh start and eval its env)"
fi

echo "== errors name what and where"
write_config "$WORK/bad-redis.yml" 1
"$DISTRIBUTARY" verify --config "$WORK/bad-redis.yml" >/dev/null 2>"$WORK/bad-redis.err"; status=$?
check "errors: Redis unreachable exits 2" "2" "$status"
check_contains "errors: the message names the Redis URL" "127.0.0.1:1" "$(cat "$WORK/bad-redis.err")"
write_config "$WORK/bad-source.yml" "$DST_REDIS_PORT" 1
"$DISTRIBUTARY" verify --config "$WORK/bad-source.yml" >/dev/null 2>"$WORK/bad-source.err"; status=$?
check "errors: source unreachable exits 2" "2" "$status"
check_contains "errors: the message names the source" "127.0.0.1:1" "$(cat "$WORK/bad-source.err")"

stop_replicator
check "replicator stops cleanly" "0" "$STOP_STATUS"
sql "DROP DATABASE vtest"
vcli FLUSHDB >/dev/null
rm -rf "$WORK"
finish
