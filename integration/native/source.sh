#!/usr/bin/env bash
# The binlog source under stress, against the real MariaDB and Redis of scripts/servers.sh
# (or external servers: DST_EXTERNAL=1, see lib.sh): binlog rotation, our connection KILLed,
# a silent server (SIGSTOP: heartbeat timeout), MariaDB restarted, Redis killed and
# restarted from its AOF, DDL, all while transactions are being written; then a purged start
# position. After each, the derived stores must equal the source table, read back
# through `mariadb`, `redis-cli` and curl, the checkpoint must reach the source's position
# (GTID position on MariaDB, file and position on MySQL), and `distributary verify` must be
# clean. Then, natively only (a second MariaDB with TLS), a GTID start and a failover.
#   integration/native/source.sh PATH/TO/distributary
# flavors: mariadb mysql   (integration/docker/run.sh runs it on both)
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: source.sh PATH/TO/distributary}")
[ "${DST_EXTERNAL:-0}" = 1 ] || eval "$(../../scripts/servers.sh env)"
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
  host: $DST_MARIADB_HOST
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4301
  start: ${2:-latest}
redis:
  url: redis://$DST_REDIS_HOST:$DST_REDIS_PORT/0
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
redis_rows() { # one redis-cli for all keys: HMGET replies come back two lines per key
    local keys
    keys=$(rraw KEYS 'item:*' | sed 's/^item://' | sort -n)
    [ -z "$keys" ] && return 0
    paste <(printf '%s\n' $keys) <(printf 'HMGET item:%s v note\n' $keys | rraw | paste - -) | tr '\t' ' '
}
redis_rows_md5() { redis_rows | md5sum; }
index_ids() {
    curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/items/search?limit=10000&q=note:row" |
        python3 -c 'import json,sys;print(" ".join(sorted((h["id"] for h in json.load(sys.stdin)["hits"]), key=int)))'
}
source_ids() { sql "SELECT id FROM srctest.items WHERE note LIKE '%row%' ORDER BY id" | paste -sd' '; }

# converged NAME: Redis and the index equal the source table, the checkpoint is the source's
# position (GTID position on MariaDB, file:pos on MySQL), and verify is clean.
converged() {
    local name=$1 want
    want=$(source_rows | md5sum)
    eventually "$name: Redis equals the source table" "$want" redis_rows_md5
    check "$name: Redis has every row ($(source_rows | wc -l))" "$(source_rows | wc -l)" "$(redis_rows | wc -l)"
    eventually "$name: the index holds exactly the source's rows" "$(source_ids)" index_ids
    eventually "$name: checkpoint reaches the source's position" "$(source_head)" checkpoint_of srctest
    check_verify "$name: verify clean (Redis and index)" "$WORK/src.yml"
}

# churn FIRST N: N transactions in the background (insert row FIRST+i, bump the previous
# one, delete every third older one), a few ms apart.
churn() {
    sql "CALL srctest.churn($1, $2)" >/dev/null 2>&1 &
    CHURN_PIDS+=($!)
}
wait_churn() { for p in "${CHURN_PIDS[@]}"; do wait "$p" 2>/dev/null; done; CHURN_PIDS=(); }
dump_thread() {
    local list=information_schema.PROCESSLIST
    is_mariadb || list=performance_schema.processlist   # MySQL 8.4 deprecates the former
    sql "SELECT ID FROM $list WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '$DST_REPL_USER'" | head -1
}

echo "== setup"
rcli FLUSHALL >/dev/null
sql "DROP DATABASE IF EXISTS srctest; CREATE DATABASE srctest;
     CREATE TABLE srctest.items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(80));"
mdb <<'SQL'
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
first_file=$(binlog_status | awk '{print $1}')
churn 1000 300
for _ in 1 2 3; do sleep 0.3; sql "FLUSH BINARY LOGS"; done
wait_churn
check "rotation: the server wrote new files" "1" "$([ "$(binlog_status | awk '{print $1}')" != "$first_file" ] && echo 1)"
converged "rotation"
eventually "rotation: checkpoint file is the server's current file" "$(binlog_status | awk '{print $1}')" rraw HGET distributary:srctest:checkpoint file

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
server_ctl pause-mariadb || fail "silent: MariaDB paused"
sleep 6
server_ctl resume-mariadb || fail "silent: MariaDB resumed"
wait_churn
converged "silent"
check_contains "silent: the dead connection is detected by the missing heartbeats" "no event and no heartbeat" "$(cat "$LOG")"

echo "== MariaDB restarted while writing"
churn 4000 2000
sleep 0.5
server_ctl stop-mariadb || fail "restart: MariaDB stops"
wait_churn
sleep 1
server_ctl start-mariadb || fail "restart: MariaDB comes back"
churn 7000 100
wait_churn
converged "restart"
check_contains "restart: reconnected after the restart" "reconnected; streaming binlog" "$(cat "$LOG")"

echo "== Redis killed (kill -9) while writing, restarted from its AOF"
rcli CONFIG SET appendonly yes >/dev/null
aof_busy() { rraw INFO persistence | grep -c 'aof_rewrite_in_progress:1\|aof_rewrite_scheduled:1'; }
eventually "Redis: the AOF is written" "0" aof_busy
retries_before=$(grep -c "sink connection failed; reconnecting" "$LOG")
churn 10000 1500
sleep 1
server_ctl kill-redis || fail "Redis restart: Redis killed"
sleep 2
server_ctl start-redis || fail "Redis restart: Redis comes back"
wait_churn
converged "Redis restart"
check "Redis restart: the lost connection is logged and retried" "1" "$([ "$(grep -c "sink connection failed; reconnecting" "$LOG")" -gt "$retries_before" ] && echo 1)"
check_contains "Redis restart: replays from Redis's own checkpoint" "replaying from its checkpoint" "$(cat "$LOG")"
check "Redis restart: the replicator is still running" "0" "$(kill -0 "$REPLICATOR_PID" 2>/dev/null; echo $?)"

echo "== DDL while streaming"
churn 8000 200
sleep 0.2
sql "ALTER TABLE srctest.items ADD COLUMN extra INT DEFAULT 7 FIRST"
sleep 0.2
sql "ALTER TABLE srctest.items CHANGE note note VARCHAR(90) AFTER id"
wait_churn
converged "DDL"
sql "ALTER TABLE srctest.items RENAME COLUMN extra TO extra2; UPDATE srctest.items SET v = v + 1 WHERE MOD(id, 5) = 0"
converged "DDL: after RENAME COLUMN"
sql "ALTER TABLE srctest.items DROP COLUMN extra2; UPDATE srctest.items SET v = v + 1 WHERE MOD(id, 2) = 0"
converged "DDL: after DROP COLUMN"

echo "== no column names in the log (binlog_row_metadata = MINIMAL while streaming)"
sql "SET GLOBAL binlog_row_metadata = 'MINIMAL'"
churn 9000 60
wait_churn
converged "MINIMAL metadata"
check_contains "MINIMAL metadata: warns that names come from information_schema" "naming its columns from information_schema" "$(cat "$LOG")"
stop_replicator
sql "INSERT INTO srctest.items (id, v, note) VALUES (9500, 1, 'row logged without names'); ALTER TABLE srctest.items ADD COLUMN late INT"
sql "SET GLOBAL binlog_row_metadata = 'FULL'"
out=$(timeout 60 "$DISTRIBUTARY" run --config "$WORK/src.yml" 2>&1); status=$?
check "MINIMAL metadata: a column count that changed since exits 1" "1" "$status"
check_contains "MINIMAL metadata: the refusal names the table and the counts" "the change at" "$out"
check_contains "MINIMAL metadata: the refusal gives the fix" "binlog_row_metadata = FULL" "$out"
sql "ALTER TABLE srctest.items DROP COLUMN late"
start_replicator "$WORK/src.yml" "$LOG" || fail "MINIMAL metadata: replicator restarts"
converged "MINIMAL metadata: after the table matches the log again"

stop_replicator
check "SIGTERM exits 0 after all of it" "0" "$STOP_STATUS"

echo "== purged start position"
sql "INSERT INTO srctest.items (id, v, note) VALUES (90000, 1, 'row written while stopped')"
sql "FLUSH BINARY LOGS"
sql "INSERT INTO srctest.items (id, v, note) VALUES (90001, 1, 'row in the newest file')"
newest=$(binlog_status | awk '{print $1}')
purge_binlogs_to "$newest"
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

if is_external; then
    skip "GTID start, GTID failover to a replica, TLS, a diverged server" \
        "they need a second MariaDB (a replica with TLS certificates) started by scripts/servers.sh: native mode only"
    finish
    exit
fi

echo "== GTID start"
REPLICA_PORT=${DST_REPLICA_PORT:-$((DST_MARIADB_PORT + 1))}
REPLICA_DIR="$DST_RUN_DIR-replica"
write_failover_config() { # FILE PORT START [SOCKET]
    cat >"$1" <<YAML
name: failtest
source:
  host: 127.0.0.1
  port: $2
${4:+  socket: $4}
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4302
  start: $3
redis:
  url: redis://127.0.0.1:$DST_REDIS_PORT/0
index:
  path: $WORK/failindex
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  failtest.items:
    redis:
      key: "f:{id}"
      mode: hash
      columns: [v, note]
YAML
}
f_rows() { # f_rows PORT-SOCKET-SQL: the table on a server as "id v note" lines
    mariadb --no-defaults --socket="$1" -uroot -N -B -e "SELECT id, v, IFNULL(note, '') FROM failtest.items ORDER BY id" | tr '\t' ' '
}
f_redis_rows() {
    local keys
    keys=$(redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw KEYS 'f:*' | sed 's/^f://' | sort -n)
    [ -z "$keys" ] && return 0
    paste <(printf '%s\n' $keys) <(printf 'HMGET f:%s v note\n' $keys | redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw | paste - -) | tr '\t' ' '
}
rcli DEL distributary:failtest:checkpoint >/dev/null
sql "DROP DATABASE IF EXISTS failtest; CREATE DATABASE failtest;
     CREATE TABLE failtest.items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(80));
     INSERT INTO failtest.items VALUES (1, 1, 'before the start GTID');"
start_gtid=$(sql "SELECT @@gtid_binlog_pos")
sql "INSERT INTO failtest.items VALUES (2, 2, 'after the start GTID')"
# Through the unix socket this time.
write_failover_config "$WORK/gtid.yml" "$DST_MARIADB_PORT" "{gtid: \"$start_gtid\"}" "$DST_MARIADB_SOCKET"
start_replicator "$WORK/gtid.yml" "$LOG" || fail "GTID start: replicator starts"
eventually "GTID start: the transaction after the GTID arrives" "v 2 note after the start GTID" bash -c "redis-cli -p $DST_REDIS_PORT --raw HGETALL f:2 | paste -sd' '"
check "GTID start: the insert before the GTID is not replayed" "0" "$(rraw EXISTS f:1)"
check_contains "unix socket: the stream came through source.socket" "source=distributary@$DST_MARIADB_SOCKET" "$(cat "$LOG")"
sql "DELETE FROM failtest.items WHERE id = 1"  # from here on, Redis must equal the table
stop_replicator
check "GTID start: SIGTERM exits 0" "0" "$STOP_STATUS"
sed 's/start: .*/start: {gtid: "0-1"}/; s/name: failtest/name: badgtid/; s/server_id: 4302/server_id: 4303/' "$WORK/gtid.yml" >"$WORK/badgtid.yml"
bad_gtid=$(timeout 30 "$DISTRIBUTARY" run --config "$WORK/badgtid.yml" 2>&1); status=$?
check "GTID start: a malformed GTID exits 1" "1" "$status"
check_contains "GTID start: a malformed GTID names the key and the form" "source.start.gtid" "$bad_gtid"

echo "== GTID failover to a replica"
primary_pos=$(sql "SELECT @@gtid_binlog_pos")
# The replica also speaks TLS, with certificates from a throwaway CA: the replicator
# reaches it with source.tls verify_identity and a client certificate.
TLS="$WORK/tls"; mkdir -p "$TLS"
(
    cd "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=distributary test CA" -keyout ca.key -out ca.pem
    for who in server client; do
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout $who.key -out $who.csr
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >$who.ext
        openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $who.ext -out $who.pem
    done
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" -keyout other.key -out other.pem
) >"$WORK/openssl.log" 2>&1 || fail "TLS: test certificates" "$(cat "$WORK/openssl.log")"
(cd ../.. && DST_RUN_DIR="$REPLICA_DIR" DST_MARIADB_PORT="$REPLICA_PORT" DST_MARIADB_SERVER_ID=2 DST_SKIP_REDIS=1 \
    DST_MARIADB_ARGS="--log-slave-updates --gtid-strict-mode=ON --ssl-ca=$TLS/ca.pem --ssl-cert=$TLS/server.pem --ssl-key=$TLS/server.key" \
    scripts/servers.sh start >/dev/null) || fail "failover: the replica starts"
trap 'st=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; for p in "${CHURN_PIDS[@]}"; do kill "$p" 2>/dev/null; done; (cd ../.. && DST_RUN_DIR="$REPLICA_DIR" scripts/servers.sh stop >/dev/null 2>&1); exit $st' EXIT
RSOCK="$REPLICA_DIR/mariadb.sock"
rsql() { mariadb --no-defaults --socket="$RSOCK" -uroot -N -B -e "$1"; }
# The replica starts with the primary's data at primary_pos, then follows it by GTID.
mariadb-dump --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot --databases failtest srctest --routines 2>/dev/null |
    mariadb --no-defaults --socket="$RSOCK" -uroot --init-command="SET sql_log_bin = 0"
rsql "RESET MASTER; SET GLOBAL gtid_slave_pos = '$primary_pos';
      CHANGE MASTER TO master_host='127.0.0.1', master_port=$DST_MARIADB_PORT, master_user='$DST_REPL_USER',
        master_password='$DST_REPL_PASSWORD', master_use_gtid=slave_pos;
      START SLAVE;"
start_replicator "$WORK/gtid.yml" "$LOG" || fail "failover: replicator starts on the primary"
for i in $(seq 10 60); do sql "INSERT INTO failtest.items VALUES ($i, $i, 'row $i on the primary'); UPDATE failtest.items SET v = v + 1 WHERE id = $((i - 1))"; done
head_pos=$(sql "SELECT @@gtid_binlog_pos")
check "failover: the replica applied everything" "0" "$(rsql "SELECT MASTER_GTID_WAIT('$head_pos', 20)")"
eventually "failover: Redis follows the primary" "$head_pos" rraw HGET distributary:failtest:checkpoint gtid_position
check_verify "failover: verify clean on the primary" "$WORK/gtid.yml"
stop_replicator
# Failover: the primary goes away, the replica is promoted and takes writes.
server_ctl stop-mariadb
rsql "STOP SLAVE; RESET SLAVE ALL;"
for i in $(seq 61 80); do rsql "INSERT INTO failtest.items VALUES ($i, $i, 'row $i on the new primary'); DELETE FROM failtest.items WHERE id = $((i - 40))"; done
rsql "UPDATE failtest.items SET note = 'changed after failover' WHERE id = 2"
write_failover_config "$WORK/failover.yml" "$REPLICA_PORT" latest
# Only TLS connections with a client certificate may log in as the replication user now.
rsql "ALTER USER '$DST_REPL_USER'@'127.0.0.1' REQUIRE X509"
sed -i "s|^  start: latest|  start: latest\n  tls: {mode: verify_identity, ca: $TLS/ca.pem, cert: $TLS/client.pem, key: $TLS/client.key}|" "$WORK/failover.yml"
sed "s|ca: $TLS/ca.pem|ca: $TLS/other.pem|; s/server_id: 4302/server_id: 4304/" "$WORK/failover.yml" >"$WORK/wrongca.yml"
out=$(timeout 30 "$DISTRIBUTARY" run --config "$WORK/wrongca.yml" 2>&1); status=$?
check "TLS: a server certificate from another CA exits 1" "1" "$status"
check_contains "TLS: the error names the TLS settings" "source.tls" "$out"
sed "s|^  tls: .*|  tls: {mode: required}|; s/server_id: 4302/server_id: 4305/" "$WORK/failover.yml" >"$WORK/nocert.yml"
out=$(timeout 30 "$DISTRIBUTARY" run --config "$WORK/nocert.yml" 2>&1); status=$?
check "TLS: without the client certificate the X509 user is refused" "1" "$status"
start_replicator "$WORK/failover.yml" "$LOG" || fail "failover: replicator starts on the new primary"
want=$(f_rows "$RSOCK" | md5sum)
eventually "failover: Redis equals the new primary's table" "$want" bash -c "$(declare -f f_redis_rows); DST_REDIS_PORT=$DST_REDIS_PORT f_redis_rows | md5sum"
eventually "failover: checkpoint reaches the new primary's GTID position" "$(rsql 'SELECT @@gtid_binlog_pos')" rraw HGET distributary:failtest:checkpoint gtid_position
check "failover: checkpoint names the new server" "2" "$(rraw HGET distributary:failtest:checkpoint server_id)"
check "TLS: the replicator's connections use TLS (the user REQUIREs X509)" "1" "$(grep -c 'attempt=0 from=GTID position .* server_id=2' "$LOG")"
check_contains "failover: resumed by GTID on the other server" "checkpoint comes from another server; resuming by GTID" "$(cat "$LOG")"
check_verify "failover: verify clean against the new primary (over TLS)" "$WORK/failover.yml"
stop_replicator
check "failover: SIGTERM exits 0" "0" "$STOP_STATUS"
server_ctl start-mariadb || fail "failover: the old primary comes back"

echo "== back to a server that lacks transactions the stores hold"
# The stores now hold the new primary's 0-2-… transactions, which the old primary never saw.
out=$(timeout 60 "$DISTRIBUTARY" run --config "$WORK/gtid.yml" 2>&1); status=$?
check "diverged: exits 1" "1" "$status"
check_contains "diverged: tells the user to resync" "distributary resync" "$out"
check_contains "diverged: names the GTID position it asked for" "$(rraw HGET distributary:failtest:checkpoint gtid_position)" "$out"

finish
