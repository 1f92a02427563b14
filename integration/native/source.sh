#!/usr/bin/env bash
# The binlog source under stress, against the real MariaDB and Redis of scripts/servers.sh:
# binlog rotation, our connection KILLed, a silent server (SIGSTOP: heartbeat timeout),
# MariaDB restarted, DDL, all while transactions are being written; then a purged start
# position. After each, the derived stores must equal the source table, read back
# through `mariadb`, `redis-cli` and curl, and the checkpoint must reach the source's GTID.
#   integration/native/source.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: source.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-source.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
LOG="$WORK/replicator.log"
CHURN_PIDS=()
trap 'st=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; for p in "${CHURN_PIDS[@]}"; do kill "$p" 2>/dev/null; done; exit $st' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

write_config() { # write_config FILE [start]
    cat >"$1" <<YAML
name: srctest
source:
  host: 127.0.0.1
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4301
  start: ${2:-latest}
redis:
  url: redis://127.0.0.1:$DST_REDIS_PORT/0
index:
  path: $WORK/index
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  srctest.items:
    redis:
      key: "item:{id}"
      mode: hash
      columns: [v, note]
    index:
      name: items
      fields: {note: text, v: number}
      stored: [v]
YAML
}

# The source table as "id v note" lines, and the same read back from Redis and the index.
source_rows() { sql "SELECT id, v, IFNULL(note, '') FROM srctest.items ORDER BY id" | tr '\t' ' '; }
redis_rows() {
    local keys
    keys=$(redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw KEYS 'item:*' | sed 's/^item://' | sort -n)
    for id in $keys; do
        printf '%s %s\n' "$id" "$(redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw HMGET "item:$id" v note | paste -sd' ')"
    done
}
index_ids() {
    curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/items/search?limit=10000&q=note:row" |
        python3 -c 'import json,sys;print(" ".join(sorted((h["id"] for h in json.load(sys.stdin)["hits"]), key=int)))'
}
source_ids() { sql "SELECT id FROM srctest.items WHERE note LIKE '%row%' ORDER BY id" | paste -sd' '; }

# converged NAME: Redis and the index equal the source table, the checkpoint is the source's GTID position.
converged() {
    local name=$1 want
    want=$(source_rows | md5sum)
    eventually "$name: Redis equals the source table" "$want" bash -c "$(declare -f redis_rows); DST_REDIS_PORT=$DST_REDIS_PORT redis_rows | md5sum"
    check "$name: Redis has every row ($(source_rows | wc -l))" "$(source_rows | wc -l)" "$(redis_rows | wc -l)"
    eventually "$name: the index holds exactly the source's rows" "$(source_ids)" index_ids
    eventually "$name: checkpoint reaches the source's GTID position" "$(sql 'SELECT @@gtid_binlog_pos')" rraw HGET distributary:srctest:checkpoint gtid_position
}

# churn FIRST N: N transactions in the background (insert row FIRST+i, bump the previous
# one, delete every third older one), a few ms apart.
churn() {
    sql "CALL srctest.churn($1, $2)" >/dev/null 2>&1 &
    CHURN_PIDS+=($!)
}
wait_churn() { for p in "${CHURN_PIDS[@]}"; do wait "$p" 2>/dev/null; done; CHURN_PIDS=(); }
dump_thread() { sql "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '$DST_REPL_USER'" | head -1; }

echo "== setup"
rcli FLUSHALL >/dev/null
sql "DROP DATABASE IF EXISTS srctest; CREATE DATABASE srctest;
     CREATE TABLE srctest.items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(80));"
mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot <<'SQL'
DELIMITER //
CREATE PROCEDURE srctest.churn(first INT, n INT)
BEGIN
  DECLARE i INT DEFAULT first;
  WHILE i < first + n DO
    START TRANSACTION;
    INSERT INTO srctest.items (id, v, note) VALUES (i, i, CONCAT('row ', i));
    UPDATE srctest.items SET v = v + 1000 WHERE id = i - 1;
    IF MOD(i, 3) = 0 THEN DELETE FROM srctest.items WHERE id = i - 5; END IF;
    COMMIT;
    DO SLEEP(0.004);
    SET i = i + 1;
  END WHILE;
END //
DELIMITER ;
SQL
write_config "$WORK/src.yml"
start_replicator "$WORK/src.yml" "$LOG" || { fail "replicator starts"; finish; exit 1; }
pass "replicator starts"
sql "INSERT INTO srctest.items (id, v, note) VALUES (1, 1, 'row one')"
converged "start"

echo "== binlog rotation (FLUSH BINARY LOGS) while writing"
first_file=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
churn 1000 300
for _ in 1 2 3; do sleep 0.3; sql "FLUSH BINARY LOGS"; done
wait_churn
check "rotation: the server wrote new files" "1" "$([ "$(sql "SHOW MASTER STATUS" | awk '{print $1}')" != "$first_file" ] && echo 1)"
converged "rotation"
eventually "rotation: checkpoint file is the server's current file" "$(sql "SHOW MASTER STATUS" | awk '{print $1}')" rraw HGET distributary:srctest:checkpoint file

echo "== our connection KILLed while writing"
retries_before=$(grep -c "source connection failed; reconnecting" "$LOG")
killed=0
churn 2000 400
for _ in 1 2 3; do
    sleep 0.5
    id=$(dump_thread)
    [ -n "$id" ] && sql "KILL $id" && killed=$((killed + 1))
done
wait_churn
converged "KILL"
retries=$(( $(grep -c "source connection failed; reconnecting" "$LOG") - retries_before ))
check "KILL: each of the $killed kills is logged as a retry" "$killed" "$retries"
check_contains "KILL: the cause is named" "Lost connection" "$(grep 'reconnecting' "$LOG" | head -1)"
check "KILL: the replicator is still running" "0" "$(kill -0 "$REPLICATOR_PID" 2>/dev/null; echo $?)"

echo "== silent server (SIGSTOP for 6 s: heartbeat timeout)"
churn 3000 300
sleep 0.3
mdb_pid=$(cat "$DST_RUN_DIR/mariadb.pid")
kill -STOP "$mdb_pid"
sleep 6
kill -CONT "$mdb_pid"
wait_churn
converged "silent"
check_contains "silent: the dead connection is detected by the missing heartbeats" "no event and no heartbeat" "$(cat "$LOG")"

echo "== MariaDB restarted while writing"
churn 4000 2000
sleep 0.5
(cd ../.. && scripts/servers.sh stop-mariadb >/dev/null)
wait_churn
sleep 1
(cd ../.. && scripts/servers.sh start >/dev/null) || fail "restart: MariaDB comes back"
churn 7000 100
wait_churn
converged "restart"
check_contains "restart: reconnected after the restart" "reconnected; streaming binlog" "$(cat "$LOG")"

echo "== DDL while streaming"
churn 8000 200
sleep 0.2
sql "ALTER TABLE srctest.items ADD COLUMN extra INT DEFAULT 7 FIRST"
sleep 0.2
sql "ALTER TABLE srctest.items CHANGE note note VARCHAR(90) AFTER id"
wait_churn
converged "DDL"
sql "ALTER TABLE srctest.items DROP COLUMN extra; UPDATE srctest.items SET v = v + 1 WHERE MOD(id, 2) = 0"
converged "DDL: after DROP COLUMN"

stop_replicator
check "SIGTERM exits 0 after all of it" "0" "$STOP_STATUS"

echo "== purged start position"
sql "INSERT INTO srctest.items (id, v, note) VALUES (9000, 1, 'row written while stopped')"
sql "FLUSH BINARY LOGS"
sql "INSERT INTO srctest.items (id, v, note) VALUES (9001, 1, 'row in the newest file')"
newest=$(sql "SHOW MASTER STATUS" | awk '{print $1}')
# MariaDB keeps a binlog until its binlog checkpoint is written: retry the purge.
for _ in $(seq 1 50); do
    sql "PURGE BINARY LOGS TO '$newest'" 2>/dev/null
    [ "$(sql "SHOW BINARY LOGS" | head -1 | awk '{print $1}')" == "$newest" ] && break
    sleep 0.2
done
check "purged: the server purged every older binlog" "$newest" "$(sql "SHOW BINARY LOGS" | head -1 | awk '{print $1}')"
out=$(timeout 60 "$DISTRIBUTARY" run --config "$WORK/src.yml" 2>&1); status=$?
check "purged: exits 1" "1" "$status"
check_contains "purged: tells the user to resync" "distributary resync" "$out"
check_contains "purged: says the binlog is gone" "no longer has the binlog" "$out"
write_config "$WORK/purged.yml" "{file: binlog.000001, pos: 4}"
rcli FLUSHALL >/dev/null; rm -rf "$WORK/index"
out=$(timeout 60 "$DISTRIBUTARY" run --config "$WORK/purged.yml" 2>&1); status=$?
check "purged file:pos start: exits 1" "1" "$status"
check_contains "purged file:pos start: names the file and resync" "binlog binlog.000001 is not on" "$out"
check_contains "purged file:pos start: tells the user to resync" "distributary resync" "$out"

finish
