#!/usr/bin/env bash
# The integration scenarios of integration/native/ against MySQL 8.4 and MariaDB 11 (with
# Redis 7) in containers (integration/docker-compose.test.yml), one database after the
# other. Exits non-zero when any scenario fails on any of them.
#
#   integration/docker/run.sh [PATH/TO/distributary]
#
# Where things run: the databases and Redis in containers, on loopback ports of this host
# (host networking); the replicator (the binary given, or `swift build`'s) and the
# scenarios' clients (mariadb, redis-cli, curl, python3) on this host, exactly as in the
# native mode. The scenarios run with DST_EXTERNAL=1 (see integration/native/lib.sh): SQL
# over TCP as an account with every privilege, server stops, pauses and kills through
# `docker compose` (stop/start/pause/unpause/kill). Needs Docker on Linux (host networking)
# with `docker compose` or docker-compose, and on the host the mariadb client, redis-cli,
# curl and python3 (Debian: mariadb-client redis-tools curl python3), plus Swift and the
# build dependencies (scripts/install-deps.sh) when no binary is given.
#
# Scenarios (issue 9), each ending with `distributary verify` clean and a read-back:
#   types     1. every column type family inserted, updated and deleted   (types.sh)
#   chaos     2. a seeded random workload, the replicator SIGKILLed 20×     (chaos.sh)
#   source    3. rotation, our connection KILLed, a paused server, MariaDB/MySQL restarted,
#                Redis SIGKILLed and restarted, DDL, purged start position (source.sh; its
#                GTID-failover part needs a second native server and says SKIP)
#   faults    4. purge while down → error → resync → verify; 5. DDL under load (faults.sh)
#   snapshot  6. a replicator started on a database that has data      (snapshot.sh)
# On MySQL, a script that does not declare "# flavors: mariadb mysql" and uses SQL MySQL
# does not have (MariaDB's sequence tables and @@gtid_binlog_pos, SHOW MASTER STATUS, gone
# in 8.4) is not run: the summary says SKIP with the constructs it found.
#
# Environment:
#   DST_DOCKER_FLAVORS     databases, in order                    ("mysql mariadb")
#   DST_DOCKER_SCENARIOS   scenarios, in order                    ("types chaos source faults snapshot")
#   DST_DOCKER_MYSQL_PORT / DST_DOCKER_MARIADB_PORT / DST_DOCKER_REDIS_PORT   (33406 / 33407 / 63906)
#   DST_HTTP_PORT          the replicator's HTTP port; types.sh also takes the next one (17906)
#   DST_CHAOS_KILLS        SIGKILLs in chaos.sh                   (20)
#   DOCKER_COMPOSE         the compose command                    ("docker compose", else docker-compose)
#   DST_COMPOSE_PROJECT    the compose project name               (distributary-test)
#   DST_DOCKER_KEEP=1      leave the last database running (for a look) instead of removing it
#   DST_DOCKER_LOGS        where each scenario's output is kept   (a temporary directory)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

FLAVORS=${DST_DOCKER_FLAVORS:-mysql mariadb}
SCENARIOS=${DST_DOCKER_SCENARIOS:-types chaos source faults snapshot}
KILLS=${DST_CHAOS_KILLS:-20}
LOGS=${DST_DOCKER_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/distributary-docker.XXXXXX")}
mkdir -p "$LOGS"

# What the compose file reads (its defaults are the same) and what the scenarios read.
export DST_DOCKER_MYSQL_PORT=${DST_DOCKER_MYSQL_PORT:-33406}
export DST_DOCKER_MARIADB_PORT=${DST_DOCKER_MARIADB_PORT:-33407}
export DST_DOCKER_REDIS_PORT=${DST_DOCKER_REDIS_PORT:-63906}
export DST_DOCKER_ROOT_PASSWORD=${DST_DOCKER_ROOT_PASSWORD:-dst-root}
export DST_MARIADB_USER=${DST_MARIADB_USER:-dst}
export DST_MARIADB_PASSWORD=${DST_MARIADB_PASSWORD:-dst-test}
export DST_REPL_USER=${DST_REPL_USER:-distributary}
export DST_REPL_PASSWORD=${DST_REPL_PASSWORD:-distributary}
export DST_HTTP_PORT=${DST_HTTP_PORT:-17906}

die() { echo "docker/run.sh: $*" >&2; exit 2; }

# --- preflight --------------------------------------------------------------------------
if [ -n "${DOCKER_COMPOSE:-}" ]; then
    read -r -a COMPOSE_BASE <<<"$DOCKER_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    COMPOSE_BASE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE_BASE=(docker-compose)
else
    die "neither 'docker compose' nor docker-compose found (set DOCKER_COMPOSE)"
fi
COMPOSE=("${COMPOSE_BASE[@]}" -f "$ROOT/integration/docker-compose.test.yml" -p "${DST_COMPOSE_PROJECT:-distributary-test}")
compose() { "${COMPOSE[@]}" "$@"; }
# The same command as one string for the hooks (lib.sh runs them with bash -c).
COMPOSE_STR=$(printf '%q ' "${COMPOSE[@]}")

command -v docker >/dev/null 2>&1 || die "docker not found"
for tool in mariadb redis-cli curl python3 md5sum awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found on this host (Debian: apt-get install mariadb-client redis-tools curl python3)"
done
compose config -q || die "integration/docker-compose.test.yml does not validate"

if [ -n "${1:-}" ]; then
    BIN=$(realpath "$1") || die "no such binary: $1"
else
    echo "== build (swift build --product distributary)"
    swift build --product distributary || die "swift build failed (or pass PATH/TO/distributary)"
    BIN="$(swift build --show-bin-path)/distributary"
fi
[ -x "$BIN" ] || die "not executable: $BIN"

# --- servers ----------------------------------------------------------------------------
DB_SERVICE=""
cleanup() {
    if [ -n "$DB_SERVICE" ] && [ "${DST_DOCKER_KEEP:-0}" != 1 ]; then
        compose down -v --remove-orphans >/dev/null 2>&1 || true
    fi
}
trap 'st=$?; cleanup; exit $st' EXIT
trap 'exit 130' INT TERM

# wait_healthy SERVICE...: until docker reports every container healthy (5 minutes at most).
wait_healthy() {
    local svc id state
    for svc in "$@"; do
        for _ in $(seq 1 300); do
            id=$(compose ps -q "$svc" 2>/dev/null)
            state=$([ -n "$id" ] && docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
            [ "$state" = healthy ] && break
            sleep 1
        done
        [ "$state" = healthy ] || { echo "$svc is not healthy (state: ${state:-no container}); its log:"; compose logs --tail 40 "$svc"; return 1; }
    done
}
db_sql() {
    mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$1" -u"$DST_MARIADB_USER" --password="$DST_MARIADB_PASSWORD" -N -B -e "$2"
}

# start_flavor FLAVOR: a fresh database container of that flavor and a fresh Redis, and the
# environment the scenarios read.
start_flavor() {
    local flavor=$1 port
    case $flavor in
        mysql) port=$DST_DOCKER_MYSQL_PORT ;;
        mariadb) port=$DST_DOCKER_MARIADB_PORT ;;
        *) echo "unknown flavor $flavor (mysql or mariadb)"; return 1 ;;
    esac
    DB_SERVICE=$flavor
    compose down -v --remove-orphans >/dev/null 2>&1
    compose up -d "$DB_SERVICE" redis || return 1
    wait_healthy "$DB_SERVICE" redis || return 1
    # The init script ran before the server opened TCP; check the account anyway.
    local version
    version=$(db_sql "$port" "SELECT VERSION()") || { echo "cannot log in as $DST_MARIADB_USER on 127.0.0.1:$port"; return 1; }
    echo "   $flavor $version on 127.0.0.1:$port, Redis on 127.0.0.1:$DST_DOCKER_REDIS_PORT"
    export DST_EXTERNAL=1 DST_FLAVOR=$flavor
    export DST_MARIADB_HOST=127.0.0.1 DST_MARIADB_PORT=$port
    export DST_REDIS_HOST=127.0.0.1 DST_REDIS_PORT=$DST_DOCKER_REDIS_PORT
    # faults.sh and snapshot.sh still `eval scripts/servers.sh env`: give that a directory
    # of its own (nothing is started there).
    export DST_RUN_DIR="$LOGS/run-$flavor"
    unset DST_MARIADB_SOCKET
    export DST_STOP_MARIADB="$COMPOSE_STR stop -t 60 $DB_SERVICE"
    export DST_START_MARIADB="$COMPOSE_STR start $DB_SERVICE"
    export DST_PAUSE_MARIADB="$COMPOSE_STR pause $DB_SERVICE"
    export DST_RESUME_MARIADB="$COMPOSE_STR unpause $DB_SERVICE"
    export DST_KILL_REDIS="$COMPOSE_STR kill -s SIGKILL redis"
    export DST_START_REDIS="$COMPOSE_STR start redis"
}

# mariadb_only SCRIPT: the MariaDB-only SQL constructs SCRIPT uses (empty when none).
mariadb_only() {
    local found=()
    grep -q 'seq_1_to_' "$1" && found+=("sequence tables (seq_1_to_N)")
    grep -q '@@gtid_binlog_pos' "$1" && found+=("@@gtid_binlog_pos")
    grep -q 'SHOW MASTER STATUS' "$1" && found+=("SHOW MASTER STATUS (SHOW BINARY LOG STATUS in MySQL 8.4)")
    local IFS=','; echo "${found[*]}" | sed 's/,/, /g'
}

# --- scenarios --------------------------------------------------------------------------
RESULTS=()
FAILED_RUNS=0
record() { RESULTS+=("$(printf '%-8s %-9s %-5s %s' "$1" "$2" "$3" "$4")"); }

# run_scenario FLAVOR NAME
run_scenario() {
    local flavor=$1 name=$2 script args=() reason log status counts
    case $name in
        types) script=integration/native/types.sh ;;
        chaos) script=integration/native/chaos.sh; args=("$KILLS") ;;
        source) script=integration/native/source.sh ;;
        faults) script=integration/native/faults.sh ;;
        snapshot) script=integration/native/snapshot.sh ;;
        *) record "$flavor" "$name" FAIL "unknown scenario"; FAILED_RUNS=$((FAILED_RUNS + 1)); return ;;
    esac
    # A script that handles both flavors says so in a line "# flavors: mariadb mysql"
    # (MariaDB-only parts of it then skip themselves); any other is searched.
    if [ "$flavor" = mysql ] && ! grep -q '^# flavors:.*mysql' "$script"; then
        reason=$(mariadb_only "$script")
        if [ -n "$reason" ]; then
            echo "== $flavor: $name — SKIP: $script uses MariaDB-only SQL: $reason"
            record "$flavor" "$name" SKIP "MariaDB-only SQL in $(basename "$script"): $reason"
            return
        fi
    fi
    log="$LOGS/$flavor-$name.log"
    echo "== $flavor: $name ($script)"
    "$script" "$BIN" ${args[@]+"${args[@]}"} 2>&1 | tee "$log" | sed 's/^/   /'
    status=${PIPESTATUS[0]}
    counts=$(grep -E '^integration: [0-9]+ passed' "$log" | tail -1 | sed 's/^integration: //')
    if [ "$status" -eq 0 ]; then
        record "$flavor" "$name" ok "${counts:-exit 0}"
    else
        record "$flavor" "$name" FAIL "${counts:-exit $status} (log: $log)"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
}

for flavor in $FLAVORS; do
    echo "== $flavor: starting the database and Redis (docker compose)"
    if ! start_flavor "$flavor"; then
        record "$flavor" "(servers)" FAIL "the containers did not come up"
        FAILED_RUNS=$((FAILED_RUNS + 1))
        continue
    fi
    for name in $SCENARIOS; do
        run_scenario "$flavor" "$name"
        # A scenario that left the database stopped or paused (a failure mid-step) would fail
        # the next one for the wrong reason: bring the containers back first.
        compose unpause "$DB_SERVICE" >/dev/null 2>&1
        compose start "$DB_SERVICE" redis >/dev/null 2>&1
        wait_healthy "$DB_SERVICE" redis >/dev/null || true
    done
    if [ "${DST_DOCKER_KEEP:-0}" = 1 ] && [ "$flavor" = "${FLAVORS##* }" ]; then
        echo "   (DST_DOCKER_KEEP=1: $flavor and Redis left running; remove them with: ${COMPOSE[*]} down -v)"
    else
        compose down -v --remove-orphans >/dev/null 2>&1
    fi
done

echo
echo "== summary (logs in $LOGS)"
printf '   %s\n' "${RESULTS[@]}"
if [ "$FAILED_RUNS" -gt 0 ]; then
    echo "docker: $FAILED_RUNS scenario run(s) failed"
    exit 1
fi
echo "docker: every scenario run passed or was skipped with its reason"
