#!/usr/bin/env bash
# Snapshot speed: loads (1) Debian's English package descriptions (the Translation-en list,
# ~64k rows, ~26 MB of text) and (2) a table of 1,000,000 short rows made from the package
# list, with `distributary snapshot`, into Redis alone and into Redis + the index, and
# prints rows/s, seconds and the replicator's peak RSS for each, with the memory budget.
#
#   integration/bench/snapshot.sh [ROWS_BIG]        (default 1000000)
#
# Runs its own MariaDB and Redis (scripts/servers.sh) in DST_RUN_DIR (default
# /tmp/dst-snapbench) on DST_MARIADB_PORT (33095) / DST_REDIS_PORT (63825), stops them on
# exit; builds the release binary. Needs the Translation-en list (as root:
# apt-get -o Acquire::Languages=en update) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIG=${1:-1000000}
export DST_RUN_DIR=${DST_RUN_DIR:-/tmp/dst-snapbench}
export DST_MARIADB_PORT=${DST_MARIADB_PORT:-33095}
export DST_REDIS_PORT=${DST_REDIS_PORT:-63825}
BUDGET=$((256 << 20))
LIST=$(ls -S /var/lib/apt/lists/*_main_i18n_Translation-en* 2>/dev/null | head -1 || true)
[ -n "$LIST" ] || { echo "no Translation-en list under /var/lib/apt/lists; run (as root): apt-get -o Acquire::Languages=en update" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }

echo "== build (release)"
swift build -c release --product distributary 2>&1 | tail -1
BIN="$(swift build -c release --show-bin-path)/distributary"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dst-snapbench.XXXXXX")
cleanup() { scripts/servers.sh stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
scripts/servers.sh start >/dev/null
eval "$(scripts/servers.sh env)"
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot --local-infile=1 "$@"; }

echo "== corpus"
/usr/lib/apt/apt-helper cat-file "$LIST" | python3 -c '
import sys
package, lines, n = None, [], 0
def esc(s): return s.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")
def flush():
    global n
    if package is not None:
        n += 1
        print(f"{n}\t{esc(package)}\t{esc(chr(10).join(lines))}")
for raw in sys.stdin:
    line = raw.rstrip("\n")
    if line.startswith("Package: "):
        flush(); package, lines = line[9:], []
    elif line.startswith("Description-en: "):
        lines.append(line[16:])
    elif line.startswith(" ") and package is not None:
        lines.append("" if line == " ." else line[1:])
flush()
' >"$WORK/descriptions.tsv"
python3 - "$WORK/descriptions.tsv" "$BIG" >"$WORK/items.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
big = int(sys.argv[2])
for i in range(big):
    _, name, desc = rows[i % len(rows)]
    synopsis = desc.split("\\n", 1)[0][:200]
    print(f"{i + 1}\t{name}-{i // len(rows)}\t{synopsis}\t{(i * 7919) % 100000}")
PY
sql -e "SET GLOBAL local_infile = 1; CREATE DATABASE bench;
        CREATE TABLE bench.descriptions (id INT PRIMARY KEY, package VARCHAR(100) NOT NULL, description TEXT NOT NULL);
        CREATE TABLE bench.items (id INT PRIMARY KEY, name VARCHAR(120) NOT NULL, synopsis VARCHAR(255), size INT);
        LOAD DATA LOCAL INFILE '$WORK/descriptions.tsv' INTO TABLE bench.descriptions;
        LOAD DATA LOCAL INFILE '$WORK/items.tsv' INTO TABLE bench.items;"
echo "descriptions: $(sql -N -e "SELECT COUNT(*), ROUND(SUM(LENGTH(description)) / 1048576, 1) FROM bench.descriptions" | awk '{print $1 " rows, " $2 " MB of text"}')"
echo "items: $(sql -N -e "SELECT COUNT(*) FROM bench.items") rows"

# run NAME TABLE SINKS: one snapshot into a fresh Redis (and index); prints a result line.
RESULTS=()
run() {
    local name=$1 table=$2 sinks=$3
    redis-cli -p "$DST_REDIS_PORT" FLUSHALL >/dev/null
    rm -rf "$WORK/index"
    local mapping="    redis: {key: \"$table:{id}\", mode: hash}"
    local fields="{package: keyword, description: text}"
    [ "$table" = items ] && fields="{name: keyword, synopsis: text, size: number}"
    [ "$sinks" = "redis+index" ] && mapping="$mapping
    index: {name: $table, fields: $fields}"
    cat >"$WORK/$name.yml" <<YAML
name: bench
source: {host: 127.0.0.1, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_BENCH_PW, server_id: 4501}
redis: {url: "redis://127.0.0.1:$DST_REDIS_PORT/0"}
index: {path: "$WORK/index"}
http: {listen: "127.0.0.1:17795"}
memory_budget: $BUDGET
batch_rows: 5000
tables:
  bench.$table:
$mapping
YAML
    DST_BENCH_PW=$DST_REPL_PASSWORD /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" snapshot --config "$WORK/$name.yml" >"$WORK/$name.log" 2>&1
    read -r seconds rss <"$WORK/time"
    local rows; rows=$(grep -o 'rows=[0-9]* rows_per_s' "$WORK/$name.log" | tail -1 | grep -o '[0-9]*')
    local keys; keys=$(redis-cli -p "$DST_REDIS_PORT" DBSIZE)
    local rate; rate=$(python3 -c "print(int($rows / $seconds))")
    RESULTS+=("$(printf '%-13s %-12s %9s %8s %10s %9s %10s' "$table" "$sinks" "$rows" "$seconds" "$rate" "$((rss / 1024))" "$((keys - 1))")")
    echo "${RESULTS[-1]}"
}
header=$(printf '%-13s %-12s %9s %8s %10s %9s %10s' table sinks rows seconds "rows/s" "RSS MiB" "redis keys")
echo "== snapshots (process start to exit, release build; memory_budget $((BUDGET >> 20)) MiB)"
echo "$header"
run desc-redis descriptions redis
run desc-both descriptions redis+index
run items-redis items redis
run items-both items redis+index
echo
echo "== result (this machine: $(nproc) cores; MariaDB, Redis and the replicator share them)"
echo "$header"
printf '%s\n' "${RESULTS[@]}"
echo "target: at least 200,000 rows/s into Redis; peak RSS within memory_budget ($((BUDGET >> 20)) MiB)"
