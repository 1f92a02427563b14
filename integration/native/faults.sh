#!/usr/bin/env bash
# Fault scenarios of issue 9 that end with `distributary verify` clean:
#   4. binlog rotation and purge while the replicator is down → the documented error →
#      resync of every mapped table → streaming again → verify clean;
#   5. DDL under load: a column added and another dropped in a mapped table while rows are
#      written → verify clean.
#   integration/native/faults.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: faults.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-faults.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

sql "DROP DATABASE IF EXISTS faults; CREATE DATABASE faults;
     CREATE TABLE faults.items (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, price DECIMAL(8,2), extra INT);
     CREATE TABLE faults.tags (id INT PRIMARY KEY, tag VARCHAR(30) NOT NULL);
     INSERT INTO faults.items SELECT seq, CONCAT('item ', seq), seq / 10, seq FROM faults.seq_1_to_2000;
     INSERT INTO faults.tags SELECT seq, CONCAT('tag', seq % 7) FROM faults.seq_1_to_500;"
cat >"$WORK/f.yml" <<YAML
name: faults
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4801, snapshot: initial}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
index: {path: "$WORK/index"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
  faults.items:
    redis: {key: "fi:{id}", mode: hash, columns: [name, price]}
    index: {name: fitems, fields: {name: text, price: number}, stored: [price]}
  faults.tags:
    redis: {key: "ft:{id}", mode: json}
YAML
verify_clean() { # verify_clean NAME
    local out status=0
    out=$("$DISTRIBUTARY" verify --config "$WORK/f.yml" 2>&1) || status=$?
    check "$1" "0" "$status"
    [ "$status" -eq 0 ] || echo "$out" | tail -20
}
wait_head() {
    local head; head=$(sql "SELECT @@gtid_binlog_pos")
    for _ in $(seq 1 300); do [ "$(rraw HGET distributary:faults:checkpoint gtid_position)" = "$head" ] && return 0; sleep 0.1; done
    return 1
}

echo "== 4. rotation and purge while the replicator is down"
start_replicator "$WORK/f.yml" "$WORK/f.log" || { fail "replicator starts"; finish; exit 1; }
wait_head || fail "purge: caught up"
stop_replicator
sql "UPDATE faults.items SET name = 'changed while down' WHERE id <= 10; DELETE FROM faults.items WHERE id BETWEEN 11 AND 20;
     DELETE FROM faults.tags WHERE id <= 5; FLUSH BINARY LOGS;"
current=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
for _ in $(seq 1 50); do
    sql "PURGE BINARY LOGS TO '$current'" 2>/dev/null
    [ "$(sql "SHOW BINARY LOGS" | head -1 | awk '{print $1}')" = "$current" ] && break
    sleep 0.1
done
out=$("$DISTRIBUTARY" run --config "$WORK/f.yml" 2>&1); status=$?
check "purge: run stops with exit 1" "1" "$status"
check_contains "purge: the documented error names resync" "distributary resync" "$out"
out=$("$DISTRIBUTARY" resync --config "$WORK/f.yml" --table faults.items 2>&1); status=$?
check "purge: a resync of only some tables is refused" "1" "$status"
check_contains "purge: … saying to reload every mapped table" "reload every mapped table at once" "$out"
out=$("$DISTRIBUTARY" resync --config "$WORK/f.yml" --table faults.items --table faults.tags 2>&1); status=$?
check "purge: a resync of every mapped table exits 0" "0" "$status"
check "purge: rows deleted while down are gone from Redis" "0" "$(rraw EXISTS fi:11 fi:20 ft:1 ft:5)"
start_replicator "$WORK/f.yml" "$WORK/f.log" || fail "purge: run starts after the resync"
sql "UPDATE faults.items SET price = 99.50 WHERE id = 1"
eventually "purge: streaming goes on" "99.50" rraw HGET fi:1 price
wait_head || fail "purge: caught up again"
verify_clean "purge: verify clean"

echo "== 5. DDL under load: a column added and one dropped"
touch "$WORK/load.on"
( i=0; while [ -f "$WORK/load.on" ]; do i=$((i + 1))
      echo "UPDATE faults.items SET price = price + 1 WHERE id = $((i % 1900 + 21)); INSERT INTO faults.tags VALUES ($((1000 + i)), 'load') ON DUPLICATE KEY UPDATE tag = 'again'; DO SLEEP(0.005);"
  done | mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot >/dev/null 2>&1 ) &
loader=$!
sleep 1
sql "ALTER TABLE faults.items ADD COLUMN note VARCHAR(40) NULL AFTER name"
sleep 1
sql "UPDATE faults.items SET note = 'after add', name = 'renamed after add' WHERE id <= 5"
sleep 1
sql "ALTER TABLE faults.items DROP COLUMN extra"
sleep 1
rm -f "$WORK/load.on"; wait "$loader"
sql "UPDATE faults.items SET name = 'after drop' WHERE id = 2"
eventually "ddl: a change after the DROP arrives" "after drop" rraw HGET fi:2 name
wait_head || fail "ddl: caught up"
check "ddl: the replicator is still running" "1" "$(kill -0 "$REPLICATOR_PID" 2>/dev/null && echo 1)"
check "ddl: a row changed between the ALTERs" "renamed after add" "$(rraw HGET fi:3 name)"
verify_clean "ddl: verify clean"
stop_replicator
check "clean stop" "0" "$STOP_STATUS"
finish
