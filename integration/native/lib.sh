# Helpers for the native integration scenarios: assertions, waiting, the replicator
# process, and the independent clients (mariadb, redis-cli, curl) that read results back.
# Expects the variables of `scripts/servers.sh env`.

PASSED=0
FAILED=0
FAILURES=()

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "  FAIL $1${2:+: $2}"; }

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

sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot -N -B -e "$1"; }
rcli() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --no-raw "$@" | tr -d '"'; }
rraw() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" --raw "$@"; }
# hash_of KEY: the hash as sorted field=value lines joined by spaces
hash_of() { rraw HGETALL "$1" | paste - - | awk -F'\t' '{print $1"="$2}' | sort | tr '\n' ' ' | sed 's/ $//'; }
search_total() { curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/$1/search?q=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$2")" | python3 -c 'import json,sys;print(json.load(sys.stdin)["total"])'; }
search_ids() { curl -fsS "http://127.0.0.1:$HTTP_PORT/indexes/$1/search?limit=100&q=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$2")" | python3 -c 'import json,sys;print(" ".join(sorted(h["id"] for h in json.load(sys.stdin)["hits"])))'; }

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
    echo "integration: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
