#!/usr/bin/env bash
# Chaos: a seeded random workload (several tables, multi-statement transactions, rollbacks,
# primary-key changes) while the replicator is killed with SIGKILL at random moments and
# restarted, KILLS times (default 20); then `distributary verify` must be clean and the
# tables read back with mariadb and redis-cli must equal Redis entry for entry. Runs against
# scripts/servers.sh or external servers (DST_EXTERNAL=1, see lib.sh; MySQL too: the
# checkpoint is then compared by file and position).
#   integration/native/chaos.sh PATH/TO/distributary [KILLS] [SEED]
# flavors: mariadb mysql   (integration/docker/run.sh runs it on both)
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: chaos.sh PATH/TO/distributary [KILLS] [SEED]}")
KILLS=${2:-20}
SEED=${3:-$RANDOM}
[ "${DST_EXTERNAL:-0}" = 1 ] || eval "$(../../scripts/servers.sh env)"
source ./lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-chaos.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
trap 'finish_status=$?; [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null; exit $finish_status' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"
echo "seed $SEED, $KILLS kills (rerun with: chaos.sh BIN $KILLS $SEED)"

sql "DROP DATABASE IF EXISTS chaos; CREATE DATABASE chaos;
     CREATE TABLE chaos.accounts (id INT PRIMARY KEY, name VARCHAR(80) NOT NULL, balance INT NOT NULL, seen DATETIME(6));
     CREATE TABLE chaos.orders (shop SMALLINT NOT NULL, id INT NOT NULL, total DECIMAL(10,2), note VARCHAR(60), PRIMARY KEY (shop, id));
     CREATE TABLE chaos.notes (id INT PRIMARY KEY, body TEXT NOT NULL);"
cat >"$WORK/c.yml" <<YAML
name: chaos
source: {host: $DST_MARIADB_HOST, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4701, start: latest}
redis: {url: "redis://$DST_REDIS_HOST:$DST_REDIS_PORT/0"}
index: {path: "$WORK/index"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
batch_rows: 200
tables:
  chaos.accounts:
    redis: {key: "acct:{id}", mode: hash}
    index: {name: accounts, fields: {name: text, balance: number}, stored: [name, balance]}
  chaos.orders:
    redis: {key: "ord:{shop}:{id}", mode: json}
  chaos.notes:
    redis: {key: "note:{id}", mode: hash}
    index: {name: notes, fields: {body: text}}
YAML
start_replicator "$WORK/c.yml" "$WORK/c.log" || { fail "replicator starts"; finish; exit 1; }

echo "== $KILLS SIGKILLs during a random workload"
python3 workload.py "$SEED" 6000 --sleep-every 10 | mdb &
writer=$!
kills=0
RANDOM=$SEED
while [ "$kills" -lt "$KILLS" ]; do
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "$REPLICATOR_PID" 2>/dev/null
    wait "$REPLICATOR_PID" 2>/dev/null
    REPLICATOR_PID=""
    kills=$((kills + 1))
    start_replicator "$WORK/c.yml" "$WORK/c.log" || { fail "restart $kills"; break; }
done
check "chaos: killed and restarted $KILLS times" "$KILLS" "$kills"
still=$(kill -0 "$writer" 2>/dev/null && echo running || echo done)
echo "  the workload was $still when the last kill came"
wait "$writer"
head=$(source_head)
wait_checkpoint_head chaos
check "chaos: the Redis checkpoint reaches the source's position" "$head" "$(checkpoint_of chaos)"

out=$("$DISTRIBUTARY" verify --config "$WORK/c.yml" 2>&1); status=$?
check "chaos: verify is clean (Redis and index, every table)" "0" "$status"
[ "$status" -eq 0 ] || echo "$out" | tail -30
sql "SELECT id, name, balance, seen FROM chaos.accounts ORDER BY id" |
    awk -F'\t' '{ printf "%s\thash\tbalance=%s\tid=%s\tname=%s", $1, $3, $1, $2; if ($4 != "NULL") printf "\tseen=%s", $4; print "" }' | sort >"$WORK/a-source.txt"
python3 redis_dump.py "$DST_REDIS_PORT" "acct:*" --strip "acct:" >"$WORK/a-redis.txt"
if diff "$WORK/a-source.txt" "$WORK/a-redis.txt" >"$WORK/a-diff.txt"; then
    pass "chaos: accounts read with mariadb equal Redis ($(wc -l <"$WORK/a-source.txt") rows)"
else
    fail "chaos: accounts differ between mariadb and Redis" "$(head -10 "$WORK/a-diff.txt")"
fi
check "chaos: as many order entries as rows" "$(sql "SELECT COUNT(*) FROM chaos.orders")" "$(rraw EVAL "return #redis.call('KEYS', 'ord:*')" 0)"
check "chaos: as many account documents as rows" "$(sql "SELECT COUNT(*) FROM chaos.accounts")" "$(search_total accounts 'balance:[-1000000 TO 1000000]')"
stop_replicator
check "chaos: clean stop" "0" "$STOP_STATUS"
finish
