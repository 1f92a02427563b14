#!/usr/bin/env bash
# Writes binlogs holding every column type family with edge values on a throwaway
# MariaDB (scripts/servers.sh), then checks `distributary binlog dump` against
# mariadb-binlog on them with scripts/compare-mysqlbinlog.py.
#
#   integration/binlogs/make-types.sh [OUTDIR]
#
# One table per type family (integers of every width signed and unsigned at their
# limits, DECIMAL up to (65,30), FLOAT/DOUBLE, DATE/DATETIME/TIMESTAMP/TIME with 0-6
# fractional digits and zero dates, YEAR, CHAR/VARCHAR/TEXT in utf8mb4, utf8mb3,
# latin1 and ucs2, BINARY/VARBINARY/BLOB, ENUM/SET, BIT, JSON, GEOMETRY, values over
# 64 KiB, NULL in every column), each inserted, updated and deleted; the workload runs
# three times: row image FULL with metadata FULL, then row image MINIMAL, then
# metadata MINIMAL (no column names, so `@1`, `@2`…). The binlog files are copied to
# OUTDIR (default ${TMPDIR:-/tmp}/distributary-type-binlogs) and kept.
#
# Environment: DST_RUN_DIR, DST_MARIADB_PORT, DST_REDIS_PORT as scripts/servers.sh
# (defaults here: /tmp/dst-types, 33091, 63811, so they do not clash with the test
# servers); DISTRIBUTARY = the binary to test (default: the newest .build one).
# Exit status: 0 when every row and value agrees, 1 otherwise.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-types}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33091}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63811}
OUT=${1:-${TMPDIR:-/tmp}/distributary-type-binlogs}
SERVERS="$REPO/scripts/servers.sh"

cleanup() { "$SERVERS" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$SERVERS" start

SOCKET="$DST_RUN_DIR/mariadb.sock"
sql() { mariadb --no-defaults --socket="$SOCKET" -uroot --default-character-set=utf8mb4 "$@"; }

source "$REPO/integration/binlogs/types-sql.sh"

current_file() { sql -N -e "SHOW MASTER STATUS" | awk '{print $1}'; }

sql -e "FLUSH BINARY LOGS"
first=$(current_file)
schema | sql
workload | sql
# Partial row images: only the key in before images, changed columns in after images.
schema | sql
echo "SET SESSION binlog_row_image = 'MINIMAL';" | cat - <(workload) | sql
# No optional metadata: no column names, signedness or labels in the log.
sql -e "SET GLOBAL binlog_row_metadata = 'MINIMAL'"
schema | sql
workload | sql
sql -e "SET GLOBAL binlog_row_metadata = 'FULL'"
sql -e "FLUSH BINARY LOGS"
last=$(current_file)

rm -rf "$OUT"; mkdir -p "$OUT"
for f in "$DST_RUN_DIR"/mariadb/binlog.[0-9]*; do
    name=$(basename "$f")
    if [[ "$name" > "$first" || "$name" == "$first" ]] && [[ "$name" < "$last" ]]; then cp "$f" "$OUT/"; fi
done
echo "make-types: binlogs in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
python3 "$REPO/scripts/compare-mysqlbinlog.py" -v "$OUT"
