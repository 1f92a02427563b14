#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a throwaway MariaDB and Redis,
# loads a sample shop whose products are Debian packages (name and description from
# `apt-cache dumpavail`), starts the replicator, applies a few changes and shows the
# Redis entry and a search result before and after each one.
#   scripts/demo.sh        run the demo (the replicator keeps running afterwards)
#   scripts/demo.sh stop   stop the replicator and the servers
set -euo pipefail
cd "$(dirname "$0")/.."
export DST_RUN_DIR=${DST_RUN_DIR:-${TMPDIR:-/tmp}/distributary-demo}
HTTP_PORT=${DST_HTTP_PORT:-7700}

if [ "${1:-}" = "stop" ]; then
    [ -f "$DST_RUN_DIR/replicator.pid" ] && kill "$(cat "$DST_RUN_DIR/replicator.pid")" 2>/dev/null || true
    scripts/servers.sh stop
    exit 0
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing what is missing and building"
scripts/install-deps.sh
swift build --product distributary 2>&1 | tail -n 3
BIN="$(swift build --show-bin-path)/distributary"

step "starting MariaDB and Redis in $DST_RUN_DIR"
scripts/servers.sh start
eval "$(scripts/servers.sh env)"
sql() { mariadb --no-defaults --socket="$DST_MARIADB_SOCKET" -uroot "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$DST_REDIS_PORT" "$@"; }

step "loading the sample shop (products = Debian packages)"
sql -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop;
        CREATE TABLE shop.products (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, description TEXT,
          price DECIMAL(10,2) NOT NULL, status VARCHAR(20) NOT NULL, updated DATETIME NOT NULL);
        CREATE DATABASE IF NOT EXISTS distributary;
        CREATE TABLE IF NOT EXISTS distributary.watermarks (pipeline VARCHAR(64) PRIMARY KEY, value VARCHAR(64) NOT NULL);
        GRANT SELECT, INSERT, UPDATE ON distributary.watermarks TO '$DST_REPL_USER'@'127.0.0.1';"
if ! apt-cache dumpavail 2>/dev/null | grep -q '^Package:' && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq   # a fresh machine has no package lists yet
fi
apt-cache dumpavail 2>/dev/null | python3 -c '
import sys, random
random.seed(7)
rows, pkg, seen = [], {}, set()
def flush():
    if "Package" in pkg and "Description" in pkg and pkg["Package"] not in seen:
        seen.add(pkg["Package"]); rows.append((pkg["Package"], pkg["Description"]))
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        flush(); pkg = {}
    elif line[0] not in " \t" and ":" in line:
        k, v = line.split(":", 1); pkg[k] = v.strip()
flush()
def q(s): return "'"'"'" + s.replace("\\", "\\\\").replace("'"'"'", "\\'"'"'") + "'"'"'"
rows = rows[:5000]
for i in range(0, len(rows), 500):
    vals = ",".join("(%d,%s,%s,%.2f,%s,NOW())" % (i + j + 1, q(n), q(d), random.uniform(1, 99), q(random.choice(["active", "active", "discontinued"])))
                    for j, (n, d) in enumerate(rows[i:i + 500]))
    print("INSERT INTO shop.products VALUES " + vals + ";")
' > "$DST_RUN_DIR/products.sql"
sql < "$DST_RUN_DIR/products.sql"
count=$(sql -N -e "SELECT COUNT(*) FROM shop.products")
echo "$count products"
if [ "$count" -eq 0 ]; then
    echo "apt-cache dumpavail gave no packages (run apt-get update first)" >&2
    exit 1
fi

cat > "$DST_RUN_DIR/demo.yml" <<YAML
name: demo
source:
  host: 127.0.0.1
  port: $DST_MARIADB_PORT
  user: $DST_REPL_USER
  password_env: DEMO_MYSQL_PASSWORD
  server_id: 4201
  start: earliest        # the demo's server is new: its binlog holds every row ever written
redis:
  url: redis://127.0.0.1:$DST_REDIS_PORT/0
index:
  path: $DST_RUN_DIR/index
http:
  listen: 127.0.0.1:$HTTP_PORT
tables:
  shop.products:
    redis:
      key: "product:{id}"
      mode: hash
      columns: [name, price, status]
    index:
      name: products
      fields: {name: text, description: text, status: keyword, price: number}
      stored: [name, price, status]
YAML

step "starting the replicator (log: $DST_RUN_DIR/replicator.log)"
rcli FLUSHALL >/dev/null
rm -rf "$DST_RUN_DIR/index"
DEMO_MYSQL_PASSWORD="$DST_REPL_PASSWORD" nohup "$BIN" run --config "$DST_RUN_DIR/demo.yml" >"$DST_RUN_DIR/replicator.log" 2>&1 &
echo $! > "$DST_RUN_DIR/replicator.pid"
for _ in $(seq 1 300); do
    [ "$(rcli HGET product:"$count" name 2>/dev/null)" != "" ] && break
    kill -0 "$(cat "$DST_RUN_DIR/replicator.pid")" 2>/dev/null || { cat "$DST_RUN_DIR/replicator.log"; exit 1; }
    sleep 0.1
done
echo "caught up: $(rcli --scan --pattern 'product:*' | wc -l) products in Redis"

search() { curl -s "http://127.0.0.1:$HTTP_PORT/indexes/products/search?limit=3&q=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  search: %d hits" % r["total"])
for h in r["hits"]: print("    %-6s %.2f  %s" % (h["id"], h["score"], h["fields"]))'; }
show() { echo "  redis HGETALL product:$1 → $(rcli HGETALL "product:$1" | paste -sd' ')"; }
settle() { sleep 0.5; }

ID=$(sql -N -e "SELECT id FROM shop.products WHERE description LIKE '%editor%' ORDER BY id LIMIT 1")
NAME=$(sql -N -e "SELECT name FROM shop.products WHERE id = $ID")

step "change 1: UPDATE shop.products SET price = 0.99, description = 'now with a rocket mode' WHERE id = $ID ($NAME)"
echo " before:"; show "$ID"; search rocket
sql -e "UPDATE shop.products SET price = 0.99, description = CONCAT(description, ' now with a rocket mode'), updated = NOW() WHERE id = $ID"
settle
echo " after:";  show "$ID"; search rocket

step "change 2: INSERT a new product 'distributary'"
echo " before:"; show 999999; search distributary
sql -e "INSERT INTO shop.products VALUES (999999, 'distributary', 'follows the binlog into Redis and a search index', 42.00, 'active', NOW())"
settle
echo " after:";  show 999999; search distributary

step "change 3: DELETE the product $ID"
echo " before:"; show "$ID"; search rocket
sql -e "DELETE FROM shop.products WHERE id = $ID"
settle
echo " after:";  show "$ID"; search rocket

step "try it yourself"
cat <<TXT
The replicator keeps running. Change rows and watch Redis and the index follow:
  mariadb --socket=$DST_MARIADB_SOCKET -uroot shop -e "UPDATE products SET price = 1 WHERE id = 1"
  redis-cli -p $DST_REDIS_PORT HGETALL product:1
  curl 'http://127.0.0.1:$HTTP_PORT/indexes/products/search?q=editor&limit=5'
  curl 'http://127.0.0.1:$HTTP_PORT/indexes/products/search?q=%2Bstatus:active+python'
  $BIN search --config $DST_RUN_DIR/demo.yml --index products 'name:vim'
  $BIN resync --online --config $DST_RUN_DIR/demo.yml --table shop.products
  $BIN verify --config $DST_RUN_DIR/demo.yml
  redis-cli -p $DST_REDIS_PORT HGETALL distributary:demo:checkpoint
Stop everything with: make demo-stop
TXT
