#!/usr/bin/env bash
# Scenario 1 of issue 9: every column type family (integration/binlogs/types-sql.sh: integers,
# decimals and floats, dates and times, strings in five character sets, binary strings,
# ENUM/SET, BIT, JSON, geometry, a MyISAM table) inserted, updated and deleted while two
# replicators stream it: one into Redis hashes and the bundled index (a document per row,
# with text, keyword and number fields and stored columns of every family), one into Redis
# json entries. After each phase `distributary verify` must be clean for both, and rows read
# with `mariadb` must equal the entries read back with `redis-cli` (and a search with curl);
# entries corrupted by hand must make verify exit 1 naming them, and clean again once repaired.
#   integration/native/types.sh PATH/TO/distributary
# flavors: mariadb mysql   (integration/docker/run.sh runs it on both)
set -uo pipefail
cd "$(dirname "$0")"
DISTRIBUTARY=$(realpath "${1:?usage: types.sh PATH/TO/distributary}")
[ "${DST_EXTERNAL:-0}" = 1 ] || eval "$(../../scripts/servers.sh env)"
source ./lib.sh
source ../binlogs/types-sql.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/distributary-types.XXXXXX")
HTTP_PORT=${DST_HTTP_PORT:-17700}
JSON_HTTP_PORT=${DST_HTTP_PORT2:-$((HTTP_PORT + 1))}
JSON_PID=""
trap 'st=$?; for p in "$REPLICATOR_PID" "$JSON_PID"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; exit $st' EXIT
export DST_TEST_PASSWORD="$DST_REPL_PASSWORD"
TABLES="t_int t_num t_time t_str t_bin t_enum t_bit t_json t_geo t_myisam"
sqlu() { mdb --default-character-set=utf8mb4 "$@"; }

# Pipeline types_h: every table by name, a hash per row and a document per row in an index of
# its own. Pipeline types_j: the whole database through one pattern, a json entry per row.
index_of() {
    case $1 in
        t_int) echo "{name: ty_int, fields: {bi: number, biu: number, ti: keyword}, stored: [i, biu, bo]}" ;;
        t_num) echo "{name: ty_num, fields: {d65: number, db: number, f: number}, stored: [d65, d30, f, fp]}" ;;
        t_time) echo "{name: ty_time, fields: {d: keyword, dt6: keyword, ts6: keyword}, stored: [t6, y, ts, dt3]}" ;;
        t_str) echo "{name: ty_str, fields: {vc: text, c: keyword, tx: {type: text, stem: english}, lt: text}, stored: [vc, l1, ucs, mt]}" ;;
        t_bin) echo "{name: ty_bin, fields: {vb: keyword}, stored: [b8, lb]}" ;;
        t_enum) echo "{name: ty_enum, fields: {e: keyword, s12: text}, stored: [e300, s]}" ;;
        t_bit) echo "{name: ty_bit, fields: {b64: keyword}, stored: [b5, b17]}" ;;
        t_json) echo "{name: ty_json, fields: {j: text}, stored: [j]}" ;;
        t_geo) echo "{name: ty_geo, fields: {g: keyword}, stored: [p]}" ;;
        t_myisam) echo "{name: ty_myisam, fields: {v: text}, stored: [v]}" ;;
    esac
}
{
    cat <<YAML
name: types_h
source: {host: $DST_MARIADB_HOST, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4901, start: latest}
redis: {url: "redis://$DST_REDIS_HOST:$DST_REDIS_PORT/0"}
index: {path: "$WORK/index"}
http: {listen: "127.0.0.1:$HTTP_PORT"}
tables:
YAML
    for t in $TABLES; do
        printf '  types.%s:\n    redis: {key: "th:%s:{id}", mode: hash}\n    index: %s\n' "$t" "$t" "$(index_of "$t")"
    done
} >"$WORK/h.yml"
cat >"$WORK/j.yml" <<YAML
name: types_j
source: {host: $DST_MARIADB_HOST, port: $DST_MARIADB_PORT, user: $DST_REPL_USER, password_env: DST_TEST_PASSWORD, server_id: 4902, start: latest}
redis: {url: "redis://$DST_REDIS_HOST:$DST_REDIS_PORT/0"}
http: {listen: "127.0.0.1:$JSON_HTTP_PORT"}
tables:
  types.*: {redis: {key: "tj:{@table}:{id}", mode: json}}
YAML

count_keys() { rraw EVAL "return #redis.call('KEYS', ARGV[1])" 0 "$1"; }
rows() { sql "SELECT $(for t in $TABLES; do printf '(SELECT COUNT(*) FROM types.%s)+' "$t"; done)0"; }

# phase NAME: both pipelines reach the source's head, verify is clean for both, and there
# are as many hashes and as many json entries as rows.
phase() {
    wait_checkpoint_head types_h || fail "$1: the hash pipeline reaches the source's head"
    wait_checkpoint_head types_j || fail "$1: the json pipeline reaches the source's head"
    check_verify "$1: verify clean (hashes and index)" "$WORK/h.yml"
    check_verify "$1: verify clean (json)" "$WORK/j.yml"
    local n; n=$(rows)
    check "$1: one hash per row ($n)" "$n" "$(count_keys 'th:*')"
    check "$1: one json entry per row ($n)" "$n" "$(count_keys 'tj:*')"
}

# readback TABLE ID FIELDS SQL-EXPRESSIONS: the row read with mariadb (one expression per
# field, giving the text the entries hold) equals the hash's fields and the json entry's
# members read with redis-cli. Binary strings, BIT and geometry are hex in both.
readback() {
    local table=$1 id=$2 fields=$3 exprs=$4 want want_hash hash json
    want=$(sqlu -N -B -r -e "SET time_zone = '+00:00'; SELECT $exprs FROM types.$table WHERE id = $id")
    # NULL: an absent field in a hash, null in a json entry
    want_hash=$(awk -F'\t' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "NULL") $i = ""; print }' <<<"$want")
    hash=$(rraw HMGET "th:$table:$id" $fields | paste -sd$'\t')
    json=$(rraw GET "tj:$table:$id" | python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
def text(v):
    if v is None: return "NULL"
    if isinstance(v, dict) and set(v) == {"hex"}: return v["hex"]
    # (a MySQL JSON column may come as a nested value: printed the way MySQL prints JSON)
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
print("\t".join(text(doc.get(f)) for f in sys.argv[1:]))' $fields 2>&1)
    if [ -z "$want" ]; then fail "read-back: types.$table has row $id"; return; fi
    check "read-back: th:$table:$id ($fields) equals the row" "$want_hash" "$hash"
    check "read-back: tj:$table:$id ($fields) equals the row" "$want" "$json"
}
# readbacks OFFSET: a row of every family (id OFFSET+n) read back both ways.
readbacks() {
    local o=$1
    readback t_int $((o + 2)) "id ti tiu si siu mi miu i iu bi biu bo" "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, bo"
    readback t_int $((o + 1)) "bi biu" "bi, biu"
    readback t_num $((o + 5)) "d65 d10 d5 d30 d18u" "d65, d10, d5, d30, d18u"
    readback t_num $((o + 1)) "d65 d30" "d65, d30"
    readback t_time $((o + 3)) "d dt dt3 dt6 ts ts6 t t6 y" "d, dt, dt3, dt6, ts, ts6, t, t6, y"
    readback t_time $((o + 2)) "t t1 t3 t6 ts1" "t, t1, t3, t6, ts1"
    readback t_str $((o + 3)) "c vc l1 l1c u3 ucs tt" "c, vc, l1, l1c, u3, ucs, tt"
    readback t_str $((o + 2)) "c vc l1c ucs tx" "c, vc, l1c, ucs, tx"
    readback t_bin $((o + 2)) "b8 vb tb bl mb lb" "LOWER(HEX(b8)), LOWER(HEX(vb)), LOWER(HEX(tb)), LOWER(HEX(bl)), LOWER(HEX(mb)), LOWER(HEX(lb))"
    readback t_enum $((o + 2)) "e e300 s s12" "e, e300, s, s12"
    readback t_enum $((o + 3)) "e e300 s12" "e, e300, s12"
    readback t_bit $((o + 3)) "b1 b5 b8 b17 b64" "LPAD(LOWER(HEX(b1)), 2, '0'), LPAD(LOWER(HEX(b5)), 2, '0'), LPAD(LOWER(HEX(b8)), 2, '0'), LPAD(LOWER(HEX(b17)), 6, '0'), LPAD(LOWER(HEX(b64)), 16, '0')"
    readback t_json $((o + 1)) "j" "j"
    readback t_geo $((o + 1)) "g p pg" "LOWER(HEX(g)), LOWER(HEX(p)), LOWER(HEX(pg))"
}
# search_check NAME INDEX QUERY SQL: the ids a search returns (curl) equal the ids of the SQL.
search_check() {
    eventually "search: $1" "$(sql "$4" | sort | paste -sd' ')" search_ids "$2" "$3"
}

echo "== setup: the type-family tables, two replicators"
rcli FLUSHALL >/dev/null
schema | sqlu
HTTP_PORT=$JSON_HTTP_PORT start_replicator "$WORK/j.yml" "$WORK/j.log" || { fail "json replicator starts"; finish; exit 1; }
JSON_PID=$REPLICATOR_PID
REPLICATOR_PID=""
start_replicator "$WORK/h.yml" "$WORK/h.log" || { fail "hash and index replicator starts"; finish; exit 1; }
pass "both replicators start"

echo "== insert: every family's edge values"
inserts | sqlu
phase "insert"
readbacks 0
search_check "emoji in vc (text)" ty_str 'vc:emoji' "SELECT id FROM types.t_str WHERE vc LIKE '%emoji%'"
search_check "ENUM label (keyword)" ty_enum 'e:"c with space"' "SELECT id FROM types.t_enum WHERE e = 'c with space'"
search_check "BIGINT range (number)" ty_int 'bi:[-10 TO 10]' "SELECT id FROM types.t_int WHERE bi BETWEEN -10 AND 10"

echo "== update: keys change (id + 100), values change, NULLs set"
updates | sqlu
phase "update"
readbacks 100
check "update: the old keys are gone" "0" "$(rraw EXISTS th:t_int:2 th:t_str:3 tj:t_time:3 tj:t_bin:2)"
readback t_myisam 1 "v" "v"
readback t_json 103 "j" "j"
readback t_str 103 "l1 vc" "l1, vc"
search_check "changed text is found" ty_str 'vc:emoji' "SELECT id FROM types.t_str WHERE vc LIKE '%emoji%'"
search_check "a row to be deleted is found" ty_str 'vc:plain' "SELECT id FROM types.t_str WHERE vc LIKE '%plain%'"

echo "== delete: every other row of each table"
sqlu -e "SET SESSION sql_mode = ''; $(for t in $TABLES; do printf 'DELETE FROM types.%s WHERE MOD(id, 2) = 0; ' "$t"; done)"
phase "delete half"
check "delete half: deleted rows' entries are gone" "0" "$(rraw EXISTS th:t_int:102 tj:t_int:102 th:t_str:104 tj:t_json:6 th:t_myisam:2)"
readback t_int 101 "bi biu" "bi, biu"
readback t_time 103 "d dt6 ts6 t6 y" "d, dt6, ts6, t6, y"
readback t_str 103 "c vc l1c u3 ucs" "c, vc, l1c, u3, ucs"
search_check "a deleted row's document is gone" ty_str 'vc:plain' "SELECT id FROM types.t_str WHERE vc LIKE '%plain%'"

echo "== delete: everything"
deletes | sqlu
phase "delete all"
check "delete all: no hash left" "0" "$(count_keys 'th:*')"
check "delete all: no json entry left" "0" "$(count_keys 'tj:*')"
search_check "no document left" ty_str 'vc:emoji' "SELECT id FROM types.t_str WHERE vc LIKE '%emoji%'"

echo "== insert again (the scenario ends with data)"
inserts | sqlu
phase "insert again"
readbacks 0

echo "== entries corrupted by hand: verify must exit 1 and name them"
saved_ti=$(rraw HGET th:t_int:2 ti)
saved_num=$(rraw GET tj:t_num:5)
saved_myisam=$(rraw HGETALL th:t_myisam:1 | paste -sd' ')
rraw HSET th:t_int:2 ti 99 >/dev/null
rraw DEL th:t_myisam:1 >/dev/null
rraw SET th:t_enum:77 "not a row" >/dev/null
rraw SET tj:t_num:5 "${saved_num/\"d10\":\"12.30\"/\"d10\":\"12.31\"}" >/dev/null
check "corrupt: redis-cli reads the changed field back" "99" "$(rraw HGET th:t_int:2 ti)"
check "corrupt: the json entry was changed" "1" "$([ "$(rraw GET tj:t_num:5)" != "$saved_num" ] && echo 1)"
report() { # report CONFIG OUT: verify --json; status in VSTATUS
    VSTATUS=0
    "$DISTRIBUTARY" verify --config "$1" --json >"$2" 2>"$2.err" || VSTATUS=$?
}
named() { # named OUT: "kind key" of every reported entry, sorted
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
out = []
for x in r["results"]:
    out += ["missing " + k for k in x["missing_keys"]] + ["extra " + k for k in x["extra_keys"]]
    out += ["different " + d["key"] + " " + ",".join(f["field"] for f in d["diff"]) for d in x["different_keys"]]
print("; ".join(sorted(out)))' "$1"
}
report "$WORK/h.yml" "$WORK/corrupt-h.json"
check "corrupt: verify (hashes) exits 1" "1" "$VSTATUS"
check "corrupt: verify (hashes) names each damaged entry" "different th:t_int:2 ti; extra th:t_enum:77; missing th:t_myisam:1" "$(named "$WORK/corrupt-h.json")"
report "$WORK/j.yml" "$WORK/corrupt-j.json"
check "corrupt: verify (json) exits 1" "1" "$VSTATUS"
check "corrupt: verify (json) names the damaged entry" "different tj:t_num:5 d10" "$(named "$WORK/corrupt-j.json")"
rraw HSET th:t_int:2 ti "$saved_ti" >/dev/null
rraw HSET th:t_myisam:1 $saved_myisam >/dev/null
rraw DEL th:t_enum:77 >/dev/null
rraw SET tj:t_num:5 "$saved_num" >/dev/null
check_verify "repaired: verify clean again (hashes and index)" "$WORK/h.yml"
check_verify "repaired: verify clean again (json)" "$WORK/j.yml"
readbacks 0

stop_replicator
check "hash and index replicator: clean stop" "0" "$STOP_STATUS"
REPLICATOR_PID=$JSON_PID; JSON_PID=""
stop_replicator
check "json replicator: clean stop" "0" "$STOP_STATUS"
finish
