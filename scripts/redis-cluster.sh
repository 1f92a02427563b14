#!/usr/bin/env bash
# A throwaway 3-master Redis Cluster on loopback (no replicas), AOF on.
#
#   scripts/redis-cluster.sh start    start the three nodes and create the cluster (idempotent)
#   scripts/redis-cluster.sh stop     stop them and remove their directory
#   scripts/redis-cluster.sh env      print DST_REDIS_CLUSTER_PORTS for tests
#   scripts/redis-cluster.sh kill N   kill -9 node N (1..3), keeping its data
#   scripts/redis-cluster.sh revive N start node N again from its AOF
#
# Environment:
#   DST_RUN_DIR               parent directory (${TMPDIR:-/tmp}/distributary-servers); nodes live in cluster/
#   DST_REDIS_CLUSTER_PORT    port of the first node (7101); the others follow it
set -euo pipefail

RUN_DIR=${DST_RUN_DIR:-${TMPDIR:-/tmp}/distributary-servers}
BASE=${DST_REDIS_CLUSTER_PORT:-7101}
DIR="$RUN_DIR/cluster"
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")

die() { echo "redis-cluster.sh: $*" >&2; exit 1; }
up() { redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }

start_node() {
    local port=$1
    up "$port" && return 0
    local redis
    redis=$(command -v redis-server || ls /usr/bin/redis-server 2>/dev/null) || die "redis-server not found: apt-get install redis-server"
    mkdir -p "$DIR/$port"
    "$redis" --port "$port" --bind 127.0.0.1 --dir "$DIR/$port" --daemonize yes \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
        --cluster-allow-replica-migration no \
        --appendonly yes --appendfsync no --save "" \
        --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" >/dev/null
    for _ in $(seq 1 50); do up "$port" && return 0; sleep 0.2; done
    tail -n 20 "$DIR/$port/redis.log" >&2 || true
    die "node on port $port did not answer (log: $DIR/$port/redis.log; is the port taken? set DST_REDIS_CLUSTER_PORT)"
}

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

wait_ok() {
    for _ in $(seq 1 100); do
        local all=1
        for p in "${PORTS[@]}"; do cluster_ok "$p" || all=0; done
        [ "$all" = 1 ] && return 0
        sleep 0.2
    done
    die "the cluster did not reach cluster_state:ok in 20 s (logs in $DIR/*/redis.log)"
}

stop_node() {
    local port=$1 signal=${2:-TERM}
    local pidfile="$DIR/$port/redis.pid"
    [ -f "$pidfile" ] || return 0
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$signal" "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    start)
        for p in "${PORTS[@]}"; do start_node "$p"; done
        if ! cluster_ok "$BASE"; then
            slots=$(redis-cli -p "$BASE" cluster info | sed -n 's/^cluster_slots_assigned:\([0-9]*\).*/\1/p')
            if [ "${slots:-0}" = 0 ]; then
                redis-cli --cluster create "127.0.0.1:${PORTS[0]}" "127.0.0.1:${PORTS[1]}" "127.0.0.1:${PORTS[2]}" \
                    --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 \
                    || { cat "$DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
            fi
        fi
        wait_ok
        echo "Redis Cluster running on 127.0.0.1:${PORTS[0]},${PORTS[1]},${PORTS[2]} (3 masters)"
        ;;
    stop)
        for p in "${PORTS[@]}"; do stop_node "$p"; done
        rm -rf "$DIR"
        echo "cluster stopped"
        ;;
    kill)
        stop_node "${PORTS[$(( ${2:?node 1..3} - 1 ))]}" KILL
        ;;
    revive)
        start_node "${PORTS[$(( ${2:?node 1..3} - 1 ))]}"
        wait_ok
        ;;
    env)
        echo "export DST_REDIS_CLUSTER_PORTS='${PORTS[0]},${PORTS[1]},${PORTS[2]}'"
        ;;
    *)
        echo "usage: $0 start|stop|env|kill N|revive N" >&2
        exit 2
        ;;
esac
