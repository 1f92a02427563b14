#!/usr/bin/env bash
# Throwaway MariaDB and Redis on loopback, in a directory of their own.
#
#   scripts/servers.sh start    start both (idempotent), wait until they answer
#   scripts/servers.sh stop     stop both by pid and remove the directory
#   scripts/servers.sh status   exit 0 if both answer
#   scripts/servers.sh stop-mariadb   stop MariaDB only, keeping its data (`start` brings it back)
#   scripts/servers.sh env      print the variables tests and the demo read
#
# Environment (defaults do not clash with a system server):
#   DST_RUN_DIR        where data, sockets, pids and logs live   (${TMPDIR:-/tmp}/distributary-servers)
#   DST_MARIADB_PORT   MariaDB TCP port                            (33061)
#   DST_REDIS_PORT     Redis TCP port                              (63791)
#   DST_REPL_USER / DST_REPL_PASSWORD   the replication user created at first start (distributary / distributary)
#   DST_MARIADB_SERVER_ID   the server's server_id                           (1)
#   DST_MARIADB_ARGS   extra mariadbd options, e.g. "--log-slave-updates --gtid-strict-mode=ON"
#   DST_SKIP_REDIS=1   start MariaDB only (a second MariaDB next to the first one's Redis)
set -euo pipefail

RUN_DIR=${DST_RUN_DIR:-${TMPDIR:-/tmp}/distributary-servers}
MARIADB_PORT=${DST_MARIADB_PORT:-33061}
REDIS_PORT=${DST_REDIS_PORT:-63791}
REPL_USER=${DST_REPL_USER:-distributary}
REPL_PASSWORD=${DST_REPL_PASSWORD:-distributary}
SERVER_ID=${DST_MARIADB_SERVER_ID:-1}
EXTRA_ARGS=${DST_MARIADB_ARGS:-}
MDB_DIR="$RUN_DIR/mariadb"
SOCKET="$RUN_DIR/mariadb.sock"

die() { echo "servers.sh: $*" >&2; exit 1; }

find_bin() {
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        for dir in /usr/sbin /usr/bin /usr/local/sbin; do
            [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
        done
    done
    return 1
}

mariadb_up() { mariadb-admin --no-defaults --socket="$SOCKET" -uroot ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_mariadb() {
    if mariadb_up; then echo "MariaDB already running on 127.0.0.1:$MARIADB_PORT"; return; fi
    local mariadbd install_db
    mariadbd=$(find_bin mariadbd mysqld) || die "mariadbd not found: apt-get install mariadb-server"
    install_db=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found: apt-get install mariadb-server"
    local fresh=0
    if [ ! -d "$MDB_DIR/mysql" ]; then
        mkdir -p "$MDB_DIR"
        "$install_db" --no-defaults --datadir="$MDB_DIR" --user="$(id -un)" \
            --auth-root-authentication-method=socket --skip-test-db >"$RUN_DIR/mariadb-install.log" 2>&1 \
            || { cat "$RUN_DIR/mariadb-install.log" >&2; die "mariadb-install-db failed (log above)"; }
        fresh=1
    fi
    "$mariadbd" --no-defaults --datadir="$MDB_DIR" --socket="$SOCKET" --port="$MARIADB_PORT" \
        --bind-address=127.0.0.1 --pid-file="$RUN_DIR/mariadb.pid" --log-error="$RUN_DIR/mariadb.err" \
        --user="$(id -un)" --server-id="$SERVER_ID" --log-bin="$MDB_DIR/binlog" --binlog-format=ROW \
        --binlog-row-image=FULL --binlog-row-metadata=FULL --skip-name-resolve \
        --innodb-buffer-pool-size=128M --innodb-log-file-size=64M --innodb-flush-log-at-trx-commit=2 \
        --sync-binlog=0 --max-connections=200 --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci $EXTRA_ARGS >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 120); do
        mariadb_up && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    mariadb_up || { tail -n 30 "$RUN_DIR/mariadb.err" >&2 || true; die "MariaDB did not start (log: $RUN_DIR/mariadb.err; is port $MARIADB_PORT taken? set DST_MARIADB_PORT)"; }
    if [ "$fresh" = 1 ]; then
        mariadb --no-defaults --socket="$SOCKET" -uroot <<SQL
CREATE USER '$REPL_USER'@'127.0.0.1' IDENTIFIED BY '$REPL_PASSWORD';
CREATE USER '$REPL_USER'@'localhost' IDENTIFIED BY '$REPL_PASSWORD';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO '$REPL_USER'@'127.0.0.1';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO '$REPL_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
    fi
    echo "MariaDB running on 127.0.0.1:$MARIADB_PORT (socket $SOCKET, data $MDB_DIR)"
}

start_redis() {
    if redis_up; then echo "Redis already running on 127.0.0.1:$REDIS_PORT"; return; fi
    local redis
    redis=$(find_bin redis-server) || die "redis-server not found: apt-get install redis-server"
    mkdir -p "$RUN_DIR/redis"
    "$redis" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --daemonize yes \
        --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log" --save "" --appendonly no >/dev/null
    for _ in $(seq 1 50); do
        redis_up && break
        sleep 0.2
    done
    redis_up || { tail -n 20 "$RUN_DIR/redis.log" >&2 || true; die "Redis did not answer within 10 s (log: $RUN_DIR/redis.log)"; }
    echo "Redis running on 127.0.0.1:$REDIS_PORT"
}

stop_pid() {
    local pidfile=$1 name=$2
    [ -f "$pidfile" ] || return 0
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { echo "$name did not stop in 20 s; killing" >&2; kill -9 "$pid" || true; }
    fi
    rm -f "$pidfile"
}

print_env() {
    cat <<ENV
export DST_RUN_DIR='$RUN_DIR'
export DST_MARIADB_HOST=127.0.0.1
export DST_MARIADB_PORT=$MARIADB_PORT
export DST_MARIADB_SOCKET='$SOCKET'
export DST_REDIS_PORT=$REDIS_PORT
export DST_REPL_USER='$REPL_USER'
export DST_REPL_PASSWORD='$REPL_PASSWORD'
ENV
}

case "${1:-}" in
    start)
        mkdir -p "$RUN_DIR"
        start_mariadb
        [ "${DST_SKIP_REDIS:-0}" = 1 ] || start_redis
        ;;
    stop-mariadb)
        stop_pid "$RUN_DIR/mariadb.pid" MariaDB
        echo "MariaDB stopped (data kept in $MDB_DIR)"
        ;;
    stop)
        stop_pid "$RUN_DIR/redis.pid" Redis
        stop_pid "$RUN_DIR/mariadb.pid" MariaDB
        rm -rf "$RUN_DIR"
        echo "servers stopped"
        ;;
    status)
        mariadb_up && redis_up
        ;;
    env)
        print_env
        ;;
    *)
        echo "usage: $0 start|stop|stop-mariadb|status|env" >&2
        exit 2
        ;;
esac
