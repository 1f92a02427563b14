#!/usr/bin/env bash
# Makes a big binlog of real text for the decoder benchmark: Debian's package list
# (`apt-cache dumpavail`, ~63k packages) inserted into a table, then updated in rounds
# and partly deleted, in statements (and transactions) of ~1000 rows, until the log
# holds more than 1,000,000 row events (changed rows). Copies the binlog file(s) to OUTDIR.
#
#   integration/bench/make-package-binlog.sh OUTDIR [ROUNDS]
#
# ROUNDS (default 15) update rounds over every row. Runs its own MariaDB (and Redis,
# which scripts/servers.sh starts alongside) in DST_RUN_DIR (default /tmp/dst-bench)
# on DST_MARIADB_PORT (33081) / DST_REDIS_PORT (63821), and stops them on exit.
# Then: cd Benchmarks && DST_BENCH_BINLOG=OUTDIR/binlog.NNNNNN swift run -c release decode-throughput
set -euo pipefail
cd "$(dirname "$0")/../.."
. integration/bench/package-workload.sh

OUT=${1:?usage: make-package-binlog.sh OUTDIR [ROUNDS]}
ROUNDS=${2:-15}
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 100 ] || { echo "ROUNDS must be 1..100, got $ROUNDS" >&2; exit 2; }
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-bench}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33081}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63821}
for tool in apt-cache mariadb mariadb-binlog awk; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install apt mariadb-client mariadb-server gawk" >&2; exit 1; }
done
if scripts/servers.sh status 2>/dev/null; then
    echo "servers already run in $DST_RUN_DIR (ports $DST_MARIADB_PORT/$DST_REDIS_PORT); this script stops its servers at the end, so it will not use them: stop them (DST_RUN_DIR=$DST_RUN_DIR scripts/servers.sh stop) or set another DST_RUN_DIR and ports" >&2
    exit 1
fi
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dst-package-binlog.XXXXXX")
cleanup() {
    scripts/servers.sh stop >/dev/null 2>&1 || echo "warning: stopping the servers in $DST_RUN_DIR failed" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT
START=$(date +%s)

echo "== package list"
package_tsv >"$WORK/packages.tsv"
N=$(wc -l <"$WORK/packages.tsv")
[ "$N" -ge 1000 ] || { echo "apt-cache dumpavail gave only $N packages; run apt-get update first" >&2; exit 1; }
echo "$N packages"

echo "== servers"
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot --local-infile=1 -N -B "$@"; }

sql -e "SET GLOBAL max_binlog_size = 1073741824; FLUSH BINARY LOGS"
FIRST=$(sql -e "SHOW MASTER STATUS" | awk '{print $1}')
{ package_schema_sql; package_staging_sql "$WORK/packages.tsv"; } | sql
LOADED=$(sql -e "SELECT COUNT(*) FROM bench.source")
[ "$LOADED" = "$N" ] || { echo "loaded $LOADED of $N packages into the staging table" >&2; exit 1; }

# Every statement below is an autocommit transaction of ~1000 rows.
echo "== insert $N rows"
package_insert_sql "$N" | sql

echo "== $ROUNDS update rounds"
for ((round = 1; round <= ROUNDS; round++)); do
    package_round_sql "$round" "$N" | sql
    echo "round $round done ($(( $(date +%s) - START )) s)"
done

echo "== delete every third row"
package_delete_sql "$N" | sql

sql -e "FLUSH BINARY LOGS"
LAST=$(sql -e "SHOW MASTER STATUS" | awk '{print $1}')
# Every file from FIRST up to (not including) the new current one.
mapfile -t FILES < <(sql -e "SHOW BINARY LOGS" | awk -v first="$FIRST" -v last="$LAST" '$1 >= first && $1 < last {print $1}')
[ "${#FILES[@]}" -ge 1 ] || { echo "no binlog files between $FIRST and $LAST" >&2; exit 1; }
for f in "${FILES[@]}"; do
    cp "$DST_RUN_DIR/mariadb/$f" "$OUT/$f"
done

echo "== counting with mariadb-binlog"
total=0
for f in "${FILES[@]}"; do
    rows=$(mariadb-binlog --no-defaults --base64-output=decode-rows -vv "$OUT/$f" | grep -c -E '^### (INSERT INTO|UPDATE|DELETE FROM) ' || true)
    size=$(stat -c %s "$OUT/$f")
    printf '%s  %d bytes (%.1f MiB)  %d row events\n' "$OUT/$f" "$size" "$(echo "$size / 1048576" | bc -l)" "$rows"
    total=$((total + rows))
done
echo "total row events: $total in ${#FILES[@]} file(s), $(( $(date +%s) - START )) s"
[ "$total" -gt 1000000 ] || echo "warning: only $total row events (want > 1,000,000): raise ROUNDS" >&2
