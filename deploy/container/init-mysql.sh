#!/bin/bash
# Runs once when the MySQL container initializes its data directory: the replication user
# Distributary connects as (the grants of the README) and a sample table.
set -euo pipefail
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER 'repl'@'%' IDENTIFIED WITH mysql_native_password BY '${DISTRIBUTARY_MYSQL_PASSWORD}';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT, RELOAD ON *.* TO 'repl'@'%';
-- The watermark table of online resyncs (also started by DDL on a mapped table).
CREATE DATABASE IF NOT EXISTS distributary;
CREATE TABLE distributary.watermarks (pipeline VARCHAR(64) PRIMARY KEY, value VARCHAR(64) NOT NULL);
GRANT SELECT, INSERT, UPDATE ON distributary.watermarks TO 'repl'@'%';
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE shop.products (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, description TEXT,
  price DECIMAL(10,2), status VARCHAR(20));
INSERT INTO shop.products VALUES (1, 'Vim', 'Vi IMproved, a highly configurable text editor', 12.50, 'active');
SQL
