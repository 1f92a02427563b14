#!/bin/bash
# Runs once, when the MySQL container initializes its data directory (from
# integration/docker-compose.test.yml): the replication user (the grants of the README,
# RELOAD for snapshots' brief read lock) and an account with every privilege that the
# scenarios use where the native mode uses root over the unix socket. Both with
# mysql_native_password: Connector/C (the replicator, the mariadb client) cannot do
# caching_sha2_password's RSA exchange over a plain connection.
set -euo pipefail
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER '$DST_REPL_USER'@'127.0.0.1' IDENTIFIED WITH mysql_native_password BY '$DST_REPL_PASSWORD';
CREATE USER '$DST_REPL_USER'@'localhost' IDENTIFIED WITH mysql_native_password BY '$DST_REPL_PASSWORD';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD, SELECT ON *.* TO '$DST_REPL_USER'@'127.0.0.1';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD, SELECT ON *.* TO '$DST_REPL_USER'@'localhost';
CREATE USER '$DST_MARIADB_USER'@'127.0.0.1' IDENTIFIED WITH mysql_native_password BY '$DST_MARIADB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DST_MARIADB_USER'@'127.0.0.1' WITH GRANT OPTION;
SQL
