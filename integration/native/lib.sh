# Helpers for the native integration scenarios: assertions, waiting, the replicator
# process, and the independent clients (mariadb, redis-cli, curl) that read results back.
#
# Two ways to reach the servers:
# * native (the default): the MariaDB and Redis of scripts/servers.sh; expects the variables
#   of `scripts/servers.sh env`. MariaDB through its unix socket as root; server stops,
#   pauses and kills through servers.sh and the pid files.
# * external (DST_EXTERNAL=1): servers run by someone else (integration/docker/run.sh: MySQL
#   8.4 or MariaDB 11 and Redis in containers). Reads:
#     DST_MARIADB_HOST/PORT/USER/PASSWORD  an account with every privilege (the scenarios'
#                                          "root"), over TCP
#     DST_REPL_USER/DST_REPL_PASSWORD      the replication account the replicator uses
#     DST_REDIS_HOST/PORT                  Redis
#     DST_FLAVOR                           mariadb or mysql (asked from the server when unset)
#     DST_STOP_MARIADB DST_START_MARIADB DST_PAUSE_MARIADB DST_RESUME_MARIADB
#     DST_KILL_REDIS DST_START_REDIS       commands (bash -c) behind server_ctl; an unset one
#                                          fails the step that needs it
#   In this mode `mariadb` is a function that turns the scenarios' native client calls
#   (`mariadb --no-defaults --socket=… -uroot …`) into the same call over TCP with that
#   account, so scenarios written for the native servers reach the external one unchanged.

PASSED=0
FAILED=0
FAILURES=()

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "  FAIL $1${2:+: $2}"; }
# skip NAME REASON: a check or step that cannot run against these servers, said so.
SKIPPED=0
skip() { SKIPPED=$((SKIPPED + 1)); echo "  SKIP $1: $2"; }

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}

# check_contains NAME NEEDLE HAYSTACK
check_contains() {
    if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1" "[$2] not in [$3]"; fi
}

# eventually NAME EXPECTED COMMAND... : retries COMMAND for up to 15 s until it prints EXPECTED.
eventually() {
    local name=$1 expected=$2; shift 2
    local actual=""
    for _ in $(seq 1 150); do
        actual=$("$@" 2>/dev/null || true)
        [ "$actual" == "$expected" ] && { pass "$name"; return 0; }
        sleep 0.1
    done
    fail "$name" "expected [$expected], last got [$actual]"
}

DST_EXTERNAL=${DST_EXTERNAL:-0}
DST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
is_external() { [ "$DST_EXTERNAL" = 1 ]; }
if is_external; then
    : "${DST_MARIADB_HOST:=127.0.0.1}" "${DST_MARIADB_PORT:?DST_EXTERNAL=1 needs DST_MARIADB_PORT}"
    : "${DST_MARIADB_USER:?DST_EXTERNAL=1 needs DST_MARIADB_USER (an account with every privilege)}"
    : "${DST_MARIADB_PASSWORD=}" "${DST_REDIS_HOST:=127.0.0.1}" "${DST_REDIS_PORT:?DST_EXTERNAL=1 needs DST_REDIS_PORT}"
    : "${DST_REPL_USER:?DST_EXTERNAL=1 needs DST_REPL_USER}" "${DST_REPL_PASSWORD=}" "${DST_MARIADB_SOCKET=}"
    mariadb() {
        local args=() a
        for a in "$@"; do
            case "$a" in --no-defaults | --socket=* | -uroot) ;; *) args+=("$a") ;; esac
        done
        command mariadb --no-defaults --protocol=TCP -h "$DST_MARIADB_HOST" -P "$DST_MARIADB_PORT" \
            -u"$DST_MARIADB_USER" --password="$DST_MARIADB_PASSWORD" "${args[@]}"
    }
    export -f mariadb
fi
DST_REDIS_HOST=${DST_REDIS_HOST:-127.0.0.1}

# mdb [ARGS...]: the mariadb client on the test server as its most privileged user (for
# piping SQL in); sql SQL: one query, tab-separated rows without a header.
mdb() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot "$@"; }
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot -N -B -e "$1"; }
rcli() { redis-cli -h "$DST_REDIS_HOST" -p "$DST_REDIS_PORT" --no-raw "$@" | tr -d '"'; }
rraw() { redis-cli -h "$DST_REDIS_HOST" -p "$DST_REDIS_PORT" --raw "$@"; }

# The source's flavor: mariadb (scripts/servers.sh always) or mysql.
if ! is_external; then
    DST_FLAVOR=mariadb
elif [ -z "${DST_FLAVOR:-}" ]; then
    DST_FLAVOR=$(sql "SELECT IF(VERSION() LIKE '%MariaDB%', 'mariadb', 'mysql')" 2>/dev/null)
    [ -n "$DST_FLAVOR" ] || echo "lib.sh: cannot reach the external server at $DST_MARIADB_HOST:$DST_MARIADB_PORT" >&2
fi
is_mariadb() { [ "$DST_FLAVOR" = mariadb ]; }
# binlog_status: the server's current binlog file and position (SHOW MASTER STATUS; MySQL
# 8.2+ only knows SHOW BINARY LOG STATUS).
binlog_status() {
    if is_mariadb; then sql "SHOW MASTER STATUS"; else sql "SHOW BINARY LOG STATUS" 2>/dev/null || sql "SHOW MASTER STATUS"; fi
}
# purge_binlogs_to FILE: purges every binlog before FILE, retrying for up to 10 s (MariaDB
# keeps a file until its binlog checkpoint is written, and a stopped replicator's dump
# thread may hold it a moment longer: "log in use"). Prints nothing; check the result.
purge_binlogs_to() {
    for _ in $(seq 1 50); do
        sql "PURGE BINARY LOGS TO '$1'" 2>/dev/null
        [ "$(sql "SHOW BINARY LOGS" | head -1 | awk '{print $1}')" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}
# source_head: where the source's log ends, in the form checkpoint_of prints: the GTID
# position on MariaDB, file:pos on MySQL (which resumes by file and position).
source_head() {
    if is_mariadb; then sql "SELECT @@gtid_binlog_pos"; else binlog_status | awk '{print $1 ":" $2}'; fi
}
# checkpoint_of PIPELINE: the Redis checkpoint of the pipeline, in source_head's form.
checkpoint_of() {
    if is_mariadb; then rraw HGET "distributary:$1:checkpoint" gtid_position; else rraw HMGET "distributary:$1:checkpoint" file pos | paste -sd:; fi
}
# wait_checkpoint_head PIPELINE [TENTHS]: until the pipeline's Redis checkpoint reaches the
# source's head (default 30 s); status 1 when it does not.
wait_checkpoint_head() {
    local head; head=$(source_head)
    for _ in $(seq 1 "${2:-300}"); do [ "$(checkpoint_of "$1")" = "$head" ] && return 0; sleep 0.1; done
    return 1
}

# server_ctl ACTION: stop-mariadb (graceful, data kept) | start-mariadb | pause-mariadb
# (SIGSTOP: a silent server) | resume-mariadb | kill-redis (kill -9) | start-redis (again,
# from its AOF: turn appendonly on first). Native: scripts/servers.sh and the pid files;
# external: the DST_* command of that action, then (starts) until the server answers.
server_ctl() {
    if is_external; then
        local var
        case "$1" in
            stop-mariadb) var=DST_STOP_MARIADB ;; start-mariadb) var=DST_START_MARIADB ;;
            pause-mariadb) var=DST_PAUSE_MARIADB ;; resume-mariadb) var=DST_RESUME_MARIADB ;;
            kill-redis) var=DST_KILL_REDIS ;; start-redis) var=DST_START_REDIS ;;
            *) echo "server_ctl: unknown action $1" >&2; return 2 ;;
        esac
        [ -n "${!var:-}" ] || { echo "server_ctl $1: set $var to the command that does it" >&2; return 1; }
        bash -c "${!var}" || return 1
        case "$1" in
            start-mariadb) for _ in $(seq 1 240); do sql "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1 ;;
            start-redis) for _ in $(seq 1 240); do rraw PING 2>/dev/null | grep -q PONG && return 0; sleep 0.5; done; return 1 ;;
        esac
        return 0
    fi
    case "$1" in
        stop-mariadb) (cd "$DST_ROOT" && scripts/servers.sh stop-mariadb >/dev/null) ;;
        start-mariadb) (cd "$DST_ROOT" && scripts/servers.sh start >/dev/null) ;;
        pause-mariadb) kill -STOP "$(cat "$DST_RUN_DIR/mariadb.pid")" ;;
        resume-mariadb) kill -CONT "$(cat "$DST_RUN_DIR/mariadb.pid")" ;;
        kill-redis) kill -9 "$(cat "$DST_RUN_DIR/redis.pid")" ;;
        start-redis)
            redis-server --port "$DST_REDIS_PORT" --bind 127.0.0.1 --dir "$DST_RUN_DIR/redis" --daemonize yes \
                --pidfile "$DST_RUN_DIR/redis.pid" --logfile "$DST_RUN_DIR/redis.log" --save "" \
                --appendonly yes --appendfsync everysec >/dev/null ;;
        *) echo "server_ctl: unknown action $1" >&2; return 2 ;;
    esac
}
# hash_of KEY: the hash as sorted field=value lines joined by spaces
hash_of() { rraw HGETALL "$1" | paste - - | awk -F'\t' '{print $1"="$2}' | sort | tr '\n' ' ' | sed 's/ $//'; }
search_total() { curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/$1/search?q=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$2")" | python3 -c 'import json,sys;print(json.load(sys.stdin)["total"])'; }
search_ids() { curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/$1/search?limit=100&q=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$2")" | python3 -c 'import json,sys;print(" ".join(sorted(h["id"] for h in json.load(sys.stdin)["hits"])))'; }

# check_verify NAME CONFIG [VERIFY-OPTIONS...]: `distributary verify` must exit 0 (its
# report's end is printed otherwise).
check_verify() {
    local name=$1 config=$2 out status=0; shift 2
    out=$("$DISTRIBUTARY" verify --config "$config" "$@" 2>&1) || status=$?
    check "$name" "0" "$status"
    [ "$status" -eq 0 ] || echo "$out" | tail -n 25 | sed 's/^/      /'
}

REPLICATOR_PID=""
# start_replicator CONFIG LOG [RUN-OPTIONS...]
start_replicator() {
    "$DISTRIBUTARY" run --config "$1" "${@:3}" >>"$2" 2>&1 &
    REPLICATOR_PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 && return 0
        kill -0 "$REPLICATOR_PID" 2>/dev/null || { echo "replicator exited; log:"; tail -n 20 "$2"; return 1; }
        sleep 0.1
    done
    echo "replicator did not answer /health within 10 s; log:"; tail -n 20 "$2"; return 1
}

# stop_replicator: SIGTERM, wait; the exit status goes to STOP_STATUS
STOP_STATUS=""
stop_replicator() {
    kill -TERM "$REPLICATOR_PID"
    STOP_STATUS=0
    wait "$REPLICATOR_PID" || STOP_STATUS=$?
    REPLICATOR_PID=""
}

finish() {
    [ -n "$REPLICATOR_PID" ] && kill -9 "$REPLICATOR_PID" 2>/dev/null
    echo
    if [ "$FAILED" -gt 0 ]; then
        echo "failed checks:"; printf '  %s\n' "${FAILURES[@]}"
    fi
    if [ "$SKIPPED" -gt 0 ]; then
        echo "integration: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "integration: $PASSED passed, $FAILED failed"
    fi
    [ "$FAILED" -eq 0 ]
}
