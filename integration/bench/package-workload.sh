# Sourced by make-package-binlog.sh and pipeline.sh: a workload of real text made from
# Debian's package list (`apt-cache dumpavail`, ~64k packages). Each function prints
# (SQL) text; nothing here runs a server.
#
#   package_tsv                 the list as TSV for LOAD DATA: id, name, version, section,
#                               priority, size, installed_kb, description (the synopsis)
#   package_schema_sql          CREATE DATABASE bench and the table bench.packages
#   package_staging_sql TSV     bench.source loaded from TSV, outside the binlog
#   package_insert_sql N        INSERT of rows 1..N from bench.source, 1000 rows a statement
#   package_round_sql ROUND N   one update round over every row, 1000 rows a statement: odd
#                               rounds a new version and size, even ones another package's
#                               description, section and priority (new real text)
#   package_delete_sql N        DELETE of every third row, 3000 ids a statement
# Every statement is an autocommit transaction.

package_tsv() {
    apt-cache dumpavail | awk -v OFS='\t' '
        function esc(s) { gsub(/\\/, "\\\\", s); gsub(/\t/, " ", s); return s }
        function flush() {
            if (name != "") {
                id++
                if (prio !~ /^(required|important|standard|optional|extra)$/) prio = "optional"
                print id, esc(name), esc(ver), esc(sec == "" ? "misc" : sec), prio, size + 0, isz + 0, esc(desc)
            }
            name = ver = sec = prio = desc = ""; size = isz = 0
        }
        /^Package: /        { flush(); name = substr($0, 10); next }
        /^Version: /        { ver = substr($0, 10); next }
        /^Section: /        { sec = substr($0, 10); next }
        /^Priority: /       { prio = substr($0, 11); next }
        /^Size: /           { size = substr($0, 7); next }
        /^Installed-Size: / { isz = substr($0, 17); next }
        /^Description: /    { desc = substr($0, 14); next }
        END                 { flush() }
    '
}

package_schema_sql() {
    cat <<'SQL'
CREATE DATABASE bench;
CREATE TABLE bench.packages (
  id INT UNSIGNED PRIMARY KEY,
  name VARCHAR(128) NOT NULL,
  version VARCHAR(160) NOT NULL,
  section VARCHAR(64) NOT NULL,
  priority ENUM('required','important','standard','optional','extra') NOT NULL,
  size BIGINT UNSIGNED NOT NULL,
  size_mb DECIMAL(12,3) NOT NULL,
  installed_kb INT UNSIGNED NOT NULL,
  description TEXT,
  updated DATETIME(6) NOT NULL
) CHARACTER SET utf8mb4;
SQL
}

package_staging_sql() {
    cat <<SQL
SET SESSION sql_log_bin = 0;
CREATE TABLE bench.source (id INT UNSIGNED PRIMARY KEY, name VARCHAR(128), version VARCHAR(160),
  section VARCHAR(64), priority VARCHAR(16), size BIGINT UNSIGNED, installed_kb INT UNSIGNED, description TEXT)
  CHARACTER SET utf8mb4;
LOAD DATA LOCAL INFILE '$1' INTO TABLE bench.source CHARACTER SET utf8mb4
  FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n';
SET SESSION sql_log_bin = 1;
SQL
}

package_insert_sql() {
    local n=$1 lo
    for ((lo = 1; lo <= n; lo += 1000)); do
        echo "INSERT INTO bench.packages SELECT id, name, version, section, priority, size, ROUND(size / 1048576, 3), installed_kb, description, TIMESTAMP('2024-01-31 10:00:00') + INTERVAL id SECOND FROM bench.source WHERE id BETWEEN $lo AND $((lo + 999));"
    done
}

package_round_sql() {
    local round=$1 n=$2 lo
    for ((lo = 1; lo <= n; lo += 1000)); do
        if ((round % 2)); then
            # a new version and size, as an upload would
            echo "UPDATE bench.packages SET version = CONCAT(SUBSTRING_INDEX(version, '+r', 1), '+r$round'), size = size + $round * 37, size_mb = ROUND((size + $round * 37) / 1048576, 3), updated = updated + INTERVAL $round HOUR WHERE id BETWEEN $lo AND $((lo + 999));"
        else
            # another package's description, section and priority: new real text
            echo "UPDATE bench.packages p JOIN bench.source s ON s.id = (p.id + $round * 7919) % $n + 1 SET p.description = s.description, p.section = s.section, p.priority = s.priority, p.updated = p.updated + INTERVAL $round MINUTE WHERE p.id BETWEEN $lo AND $((lo + 999));"
        fi
    done
}

package_delete_sql() {
    local n=$1 lo
    for ((lo = 1; lo <= n; lo += 3000)); do
        echo "DELETE FROM bench.packages WHERE id % 3 = 0 AND id BETWEEN $lo AND $((lo + 2999));"
    done
}
