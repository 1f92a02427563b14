#!/bin/bash
# Runs once, when the MariaDB container initializes its data directory (from
# integration/docker-compose.test.yml): the accounts scripts/servers.sh creates — the
# replication user, on 127.0.0.1 and localhost — and an account with every privilege that the
# scenarios use where the native mode uses root over the unix socket.
set -euo pipefail
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" <<SQL
CREATE USER '$DST_REPL_USER'@'127.0.0.1' IDENTIFIED BY '$DST_REPL_PASSWORD';
CREATE USER '$DST_REPL_USER'@'localhost' IDENTIFIED BY '$DST_REPL_PASSWORD';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO '$DST_REPL_USER'@'127.0.0.1';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO '$DST_REPL_USER'@'localhost';
CREATE USER '$DST_MARIADB_USER'@'127.0.0.1' IDENTIFIED BY '$DST_MARIADB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DST_MARIADB_USER'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
