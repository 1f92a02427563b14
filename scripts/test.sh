#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts throwaway MariaDB and
# Redis, runs the unit tests (server-backed ones included) and the native integration
# scenarios, stops the servers. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

export DST_RUN_DIR=${DST_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/distributary-test.XXXXXX")}
trap 'scripts/redis-cluster.sh stop >/dev/null 2>&1 || true; scripts/servers.sh stop >/dev/null 2>&1 || true' EXIT
scripts/servers.sh start
eval "$(scripts/servers.sh env)"
scripts/redis-cluster.sh start
eval "$(scripts/redis-cluster.sh env)"

echo "== build"
swift build --build-tests

echo "== unit tests (and wrappers against the real servers)"
swift test --skip-build

BIN="$(swift build --show-bin-path)/distributary"
echo "== binlog decoding against mariadb-binlog (shared corpus)"
python3 scripts/compare-mysqlbinlog.py --distributary "$BIN"

echo "== binlog decoding against mariadb-binlog (type-family binlogs made here)"
DISTRIBUTARY="$BIN" DST_RUN_DIR="$DST_RUN_DIR/types" DST_MARIADB_PORT=33091 DST_REDIS_PORT=63811 \
    integration/binlogs/make-types.sh "$DST_RUN_DIR/type-binlogs"

echo "== fuzzing the binlog decoder (libFuzzer, bounded)"
scripts/fuzz.sh "${DST_FUZZ_SECONDS:-60}"

echo "== integration scenarios (native MariaDB + Redis)"
integration/native/run.sh "$BIN"

echo "== column types: every type family inserted, updated and deleted into hashes, json and the index, verify after each phase"
integration/native/types.sh "$BIN"

echo "== snapshot scenarios (every type equal to streamed, concurrent writes, kill and resume, no primary key)"
integration/native/snapshot.sh "$BIN"

echo "== read-your-writes scenarios (GET /wait, distributary wait)"
integration/native/wait.sh "$BIN"

echo "== chaos: a seeded random workload, the replicator SIGKILLed 20 times, then verify"
integration/native/chaos.sh "$BIN" 20

echo "== faults: purge while down then resync, DDL under load (each ending with verify)"
integration/native/faults.sh "$BIN"

echo "== source scenarios (rotation, KILL, silent server, restarts, DDL, purged, GTID failover; verify after each)"
integration/native/source.sh "$BIN"

echo "== Redis Cluster scenarios (3 masters: resharding, kill -9 of the replicator and of a master)"
integration/native/cluster.sh "$BIN"

echo "== verify scenarios (clean, corrupted by hand, sink behind, --table, under a write load)"
integration/native/verify.sh "$BIN"
