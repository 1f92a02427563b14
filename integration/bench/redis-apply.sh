#!/usr/bin/env bash
# Redis writer throughput from pre-decoded transactions: makes a binlog of ROWS rows of a
# table with an id and 7 text fields (~120 bytes of values) on a throwaway MariaDB,
# inserted in transactions of 1,000 rows, decodes it into memory, then routes and applies
# it to a throwaway Redis through RedisSink (MULTI/EXEC batches with the checkpoint), and
# runs `redis-benchmark -P 64` with the same 7-field HSETs on the same Redis in the same run.
# Then the versioned writer (RedisClusterSink: per-key Lua calls, checkpoint after the
# data) on the same server, and on a throwaway 3-master cluster (scripts/redis-cluster.sh)
# beside `redis-benchmark --cluster`.
#
#   integration/bench/redis-apply.sh [ROWS] [BATCH_ROWS]
#
# Servers: DST_RUN_DIR (default /tmp/dst-redis-bench), DST_MARIADB_PORT (33101),
# DST_REDIS_PORT (63821), DST_REDIS_CLUSTER_PORT (7201..7203). Builds Benchmarks/ in release.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-1000000}
BATCH=${2:-1000}
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-redis-bench}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33101}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63821}
export DST_REDIS_CLUSTER_PORT=${DST_REDIS_CLUSTER_PORT:-7201}
trap 'scripts/redis-cluster.sh stop >/dev/null 2>&1 || true; scripts/servers.sh stop >/dev/null 2>&1 || true' EXIT
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
SQL=(mariadb --no-defaults -uroot -S "$DST_RUN_DIR/mariadb.sock")

echo "== building Benchmarks/redis-apply (release)"
(cd Benchmarks && swift build -c release --product redis-apply 2>&1 | tail -1) || exit 1
[ -x Benchmarks/.build/release/redis-apply ] || { echo "build of redis-apply failed" >&2; exit 1; }

echo "== writing $ROWS rows in transactions of 1,000"
"${SQL[@]}" -e "DROP DATABASE IF EXISTS bench; CREATE DATABASE bench;
  CREATE TABLE bench.items (id INT PRIMARY KEY, name VARCHAR(40), sku VARCHAR(40), digest CHAR(32),
    category VARCHAR(20), status VARCHAR(10), price VARCHAR(12), note VARCHAR(30)); FLUSH BINARY LOGS;"
FIRST=$("${SQL[@]}" -N -e "SHOW MASTER STATUS" | cut -f1)
for ((start = 1; start <= ROWS; start += 1000)); do
    end=$((start + 999 > ROWS ? ROWS : start + 999))
    echo "INSERT INTO bench.items SELECT seq, CONCAT('product name ', seq), CONCAT('SKU-', LPAD(seq, 10, '0')),
      MD5(seq), CONCAT('category-', seq % 97), IF(seq % 3 = 0, 'sold', 'active'), CONCAT(seq % 1000, '.', seq % 100),
      CONCAT('note about item ', seq) FROM seq_${start}_to_${end};"
done | "${SQL[@]}" -D bench
"${SQL[@]}" -e "FLUSH BINARY LOGS"
DATADIR="$DST_RUN_DIR/mariadb"
FILES=$("${SQL[@]}" -N -e "SHOW BINARY LOGS" | cut -f1 | awk -v first="$FIRST" '$1 >= first' | head -n -1 | sed "s|^|$DATADIR/|")
redis-cli -p "$DST_REDIS_PORT" FLUSHALL >/dev/null
redis-cli -p "$DST_REDIS_PORT" CONFIG RESETSTAT >/dev/null

echo "== route + apply through RedisSink (batches of ~$BATCH rows)"
Benchmarks/.build/release/redis-apply "$DST_REDIS_PORT" $FILES --batch-rows "$BATCH"
echo "Redis time per command (usec_per_call, from INFO commandstats):"
redis-cli -p "$DST_REDIS_PORT" INFO commandstats | grep -E '^cmdstat_(hset|multi|exec):' | sed 's/^/  /'
KEYS=$(redis-cli -p "$DST_REDIS_PORT" DBSIZE)
SAMPLE=$(redis-cli -p "$DST_REDIS_PORT" HGET item:777 sku)
echo "check: $KEYS keys in Redis (expect $ROWS + 1 checkpoint), item:777 sku = $SAMPLE"
[ "$KEYS" = "$((ROWS + 1))" ] && [ "$SAMPLE" = "SKU-0000000777" ] || { echo "FAILED: Redis does not hold the rows" >&2; exit 1; }

HSET_ARGS=(HSET "item:__rand_int__" name "product name 123456" sku "SKU-0000123456" digest e10adc3949ba59abbe56e057f20f883e
    category category-42 status active price 456.56 note "note about item 123456")
echo "== redis-benchmark -P 64, the same 7-field HSET (~120 bytes of values), same Redis"
for clients in 1 50; do
    redis-cli -p "$DST_REDIS_PORT" FLUSHALL >/dev/null
    printf '%2d connection(s): ' "$clients"
    redis-benchmark -p "$DST_REDIS_PORT" -q -P 64 -c "$clients" -n "$ROWS" -r 1000000 "${HSET_ARGS[@]}" 2>&1 | tr '\r' '\n' | tail -1 | sed 's/.*: //'
done

echo "== versioned writer (per-key Lua call with its version, checkpoint after the data), same Redis"
redis-cli -p "$DST_REDIS_PORT" FLUSHALL >/dev/null
redis-cli -p "$DST_REDIS_PORT" CONFIG RESETSTAT >/dev/null
Benchmarks/.build/release/redis-apply "$DST_REDIS_PORT" $FILES --batch-rows "$BATCH" --writer versioned
redis-cli -p "$DST_REDIS_PORT" INFO commandstats | grep -E '^cmdstat_(evalsha|hset|hget):' | sed 's/^/  /'
SAMPLE=$(redis-cli -p "$DST_REDIS_PORT" HGET item:777 sku)
[ "$SAMPLE" = "SKU-0000000777" ] || { echo "FAILED: item:777 sku = $SAMPLE" >&2; exit 1; }
echo "memory: $(redis-cli -p "$DST_REDIS_PORT" INFO memory | grep '^used_memory_human' | tr -d '\r') with versions"

echo "== Redis Cluster (3 masters on this machine): versioned writer and redis-benchmark --cluster"
scripts/redis-cluster.sh start >/dev/null
eval "$(scripts/redis-cluster.sh env)"
IFS=, read -r -a NODES <<<"$DST_REDIS_CLUSTER_PORTS"
for p in "${NODES[@]}"; do redis-cli -p "$p" FLUSHALL >/dev/null; done
Benchmarks/.build/release/redis-apply "${NODES[0]}" $FILES --batch-rows "$BATCH" --writer versioned
KEYS=0; for p in "${NODES[@]}"; do KEYS=$((KEYS + $(redis-cli -p "$p" --scan --pattern 'item:*' | wc -l))); done
SAMPLE=$(redis-cli -c -p "${NODES[0]}" HGET item:777 sku)
echo "check: $KEYS item keys across the masters (expect $ROWS), item:777 sku = $SAMPLE"
[ "$KEYS" = "$ROWS" ] && [ "$SAMPLE" = "SKU-0000000777" ] || { echo "FAILED: the cluster does not hold the rows" >&2; exit 1; }
for p in "${NODES[@]}"; do redis-cli -p "$p" FLUSHALL >/dev/null; done
printf 'redis-benchmark --cluster -P 64, 50 connections: '
CLUSTER_ARGS=("${HSET_ARGS[@]}")
CLUSTER_ARGS[1]='item:{tag}:__rand_int__'
redis-benchmark --cluster -p "${NODES[0]}" -q -P 64 -c 50 -n "$ROWS" -r 1000000 "${CLUSTER_ARGS[@]}" 2>&1 | tr '\r' '\n' | grep -v '^ *$' | tail -1 | sed 's/.*: //'
