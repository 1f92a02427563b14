#!/usr/bin/env bash
# The pipeline into a Redis Cluster (scripts/redis-cluster.sh: 3 masters, AOF on) while
# transactions are being written: a steady load, slots resharded under it (MOVED/ASK),
# the replicator killed with kill -9 between data and checkpoint, a master killed with
# kill -9 and restarted from its AOF. After each, the cache equals the source table, read
# back from every master with redis-cli, and the checkpoint reaches the source's GTID.
#   integration/native/cluster.sh PATH/TO/distributary
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: cluster.sh PATH/TO/distributary}")
eval "$(../../scripts/servers.sh env)"
eval "$(../../scripts/redis-cluster.sh env)"
source ./lib.sh
IFS=, read -r -a NODES <<<"$DST_REDIS_CLUSTER_PORTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-cluster.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17710}
LOG="$WORK/replicator.log"
CHURN_PIDS=()
trap 'st=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; for p in "${CHURN_PIDS[@]}"; do kill "$p" 2>/dev/null; done; exit $st' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"

cat >"$WORK/cluster.yml" <<YAML
name: clutest
source:
  host: 127.0.0.1
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DST_TEST_PASSWORD
  server_id: 4401
  start: latest
  reconnect: {initial_delay: 0.2, max_delay: 1}
redis:
  url: redis://127.0.0.1:${NODES[0]}
  cluster: true
  batch: {commands: 500}
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  clutest.items:
    redis:
      key: "item:{id}"
      mode: hash
      columns: [v, note]
  clutest.items_json:
    redis:
      key: "doc:{id}"
      mode: json
YAML

ccli() { redis-cli -h 127.0.0.1 -p "${NODES[0]}" -c --raw "$@"; }
# The source table as "id v note" lines, and the same read back from every master.
source_rows() { sql "SELECT id, v, IFNULL(note, '') FROM clutest.items ORDER BY id" | tr '\t' ' '; }
cluster_rows() {
    for port in "${NODES[@]}"; do
        local keys
        keys=$(redis-cli -h 127.0.0.1 -p "$port" --raw KEYS 'item:*' | sed 's/^item://')
        [ -z "$keys" ] && continue
        paste <(printf '%s\n' $keys) <(printf 'HMGET item:%s v note\n' $keys | redis-cli -h 127.0.0.1 -p "$port" --raw | paste - -) | tr '\t' ' '
    done | sort -n
}
source_docs() { sql "SELECT id, v FROM clutest.items_json ORDER BY id" | tr '\t' ' '; }
cluster_docs() {
    for port in "${NODES[@]}"; do
        local keys
        keys=$(redis-cli -h 127.0.0.1 -p "$port" --raw KEYS 'doc:*')
        [ -z "$keys" ] && continue
        printf 'GET %s\n' $keys | redis-cli -h 127.0.0.1 -p "$port" --raw
    done | python3 -c 'import json,sys
for d in sorted((json.loads(l) for l in sys.stdin if l.strip()), key=lambda d: d["id"]): print(d["id"], d["v"])'
}

converged() {
    local name=$1
    eventually "$name: the cluster equals the source table ($(source_rows | wc -l) rows)" "$(source_rows | md5sum)" \
        bash -c "$(declare -f cluster_rows); NODES=(${NODES[*]}); cluster_rows | md5sum"
    eventually "$name: json documents equal the source table" "$(source_docs | md5sum)" \
        bash -c "$(declare -f cluster_docs); NODES=(${NODES[*]}); cluster_docs | md5sum"
    eventually "$name: checkpoint reaches the source's GTID position" "$(sql 'SELECT @@gtid_binlog_pos')" ccli HGET distributary:clutest:checkpoint gtid_position
}

# churn FIRST N: N transactions in the background (insert FIRST+i in both tables, bump the
# previous row twice, delete every third older one), a few ms apart.
churn() {
    sql "CALL clutest.churn($1, $2)" >/dev/null 2>&1 &
    CHURN_PIDS+=($!)
}
wait_churn() { for p in "${CHURN_PIDS[@]}"; do wait "$p" 2>/dev/null; done; CHURN_PIDS=(); }
node_id() { redis-cli -p "$1" CLUSTER MYID; }
slots_of() { redis-cli -p "${NODES[0]}" CLUSTER NODES | awk -v id="$1" '$1 == id { n = 0; for (i = 9; i <= NF; i++) { split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }'; }

echo "== setup"
for port in "${NODES[@]}"; do redis-cli -p "$port" FLUSHALL >/dev/null; done
sql "DROP DATABASE IF EXISTS clutest; CREATE DATABASE clutest;
     CREATE TABLE clutest.items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(80));
     CREATE TABLE clutest.items_json (id INT PRIMARY KEY, v INT NOT NULL);"
mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot <<'SQL'
DELIMITER //
CREATE PROCEDURE clutest.churn(first INT, n INT)
BEGIN
  DECLARE i INT DEFAULT first;
  WHILE i < first + n DO
    START TRANSACTION;
    INSERT INTO clutest.items (id, v, note) VALUES (i, i, CONCAT('row ', i));
    INSERT INTO clutest.items_json (id, v) VALUES (i, i);
    UPDATE clutest.items SET v = v + 1000 WHERE id = i - 1;
    UPDATE clutest.items SET v = v + 1, note = NULL WHERE id = i - 1;
    UPDATE clutest.items_json SET v = v + 7 WHERE id = i - 2;
    IF MOD(i, 3) = 0 THEN DELETE FROM clutest.items WHERE id = i - 5; DELETE FROM clutest.items_json WHERE id = i - 4; END IF;
    COMMIT;
    DO SLEEP(0.002);
    SET i = i + 1;
  END WHILE;
END //
DELIMITER ;
SQL
start_replicator "$WORK/cluster.yml" "$LOG" || { fail "replicator starts"; finish; exit 1; }
pass "replicator starts"
churn 1 500
wait_churn
converged "steady load"
for port in "${NODES[@]}"; do
    check "steady load: master $port holds a share of the keys" "1" "$([ "$(redis-cli -p "$port" DBSIZE)" -gt 100 ] && echo 1)"
done

echo "== slots resharded while writing (MOVED and ASK)"
# From the master with the most slots to another one (runs on a reused cluster stay balanced enough).
biggest=${NODES[0]}
for p in "${NODES[@]}"; do [ "$(slots_of "$(node_id "$p")")" -gt "$(slots_of "$(node_id "$biggest")")" ] && biggest=$p; done
others=(); for p in "${NODES[@]}"; do [ "$p" != "$biggest" ] && others+=("$p"); done
from=$(node_id "$biggest"); to=$(node_id "${others[0]}")
before=$(slots_of "$to")
churn 1000 1500
sleep 0.5
redis-cli --cluster reshard "127.0.0.1:${NODES[0]}" --cluster-from "$from" --cluster-to "$to" \
    --cluster-slots 1200 --cluster-yes >"$WORK/reshard.log" 2>&1
check "reshard: redis-cli moved 1200 slots" "$((before + 1200))" "$(slots_of "$to")"
redis-cli --cluster reshard "127.0.0.1:${NODES[0]}" --cluster-from "$to" --cluster-to "$(node_id "${others[1]}")" \
    --cluster-slots 600 --cluster-yes >>"$WORK/reshard.log" 2>&1
wait_churn
converged "reshard"
check_contains "reshard: the replicator followed the new slot map" "slot map reloaded" "$(cat "$LOG")"
check "reshard: the replicator is still running" "0" "$(kill -0 "$REPLICATOR_PID" 2>/dev/null; echo $?)"

echo "== replicator killed (kill -9) while writing, restarted"
churn 3000 1500
sleep 1
kill -9 "$REPLICATOR_PID"; wait "$REPLICATOR_PID" 2>/dev/null; REPLICATOR_PID=""
sleep 0.5
start_replicator "$WORK/cluster.yml" "$LOG" || fail "kill -9: replicator restarts"
wait_churn
converged "kill -9 replicator"

echo "== a master killed (kill -9) while writing, restarted from its AOF"
retries_before=$(grep -c "sink connection failed; reconnecting" "$LOG")
churn 5000 1500
sleep 1
../../scripts/redis-cluster.sh kill 2
sleep 2
../../scripts/redis-cluster.sh revive 2 >/dev/null
wait_churn
converged "master restart"
check "master restart: the lost connection is logged and retried" "1" "$([ "$(grep -c "sink connection failed; reconnecting" "$LOG")" -gt "$retries_before" ] && echo 1)"
check "master restart: the replicator is still running" "0" "$(kill -0 "$REPLICATOR_PID" 2>/dev/null; echo $?)"

echo "== clean stop"
stop_replicator
check "SIGTERM: exit 0" "0" "$STOP_STATUS"
finish
