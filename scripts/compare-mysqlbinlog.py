#!/usr/bin/env python3
"""Proves that `distributary binlog dump` decodes every row value as mysqlbinlog does.

For every binlog file under the given files or directories, runs

    mariadb-binlog --base64-output=decode-rows -vv FILE
    distributary binlog dump --format jsonl FILE

parses mysqlbinlog's `### INSERT/UPDATE/DELETE` blocks and `@N=value /* TYPE … */` lines,
turns its spellings into ours (dates `2024:01:31`, ENUM indexes, SET and BIT bitmasks,
TIMESTAMP epochs, raw quoted bytes with `\\xNN` escapes, `%g` floats, signed/unsigned
integer pairs) and compares every row and every value in order: operation, table, the
ROWS event's offset, the MariaDB GTID, and each column.

Files that mysqlbinlog cannot decode itself, and files our decoder rejects with a
documented `BinlogError.unsupported`, are reported as skipped with the reason. Files
that are not binlogs (no `fe 62 69 6e` magic) are ignored; `.gz` binlogs are
decompressed first. The last line is

    compare-mysqlbinlog: N passed, N failed, N skipped

and the exit status is 1 when any file failed (2 on a usage error).

Usage: scripts/compare-mysqlbinlog.py [--distributary BIN] [--mysqlbinlog BIN]
                                      [--show N] [-v] [PATH ...]
Without PATHs: ../shared/testdata/binlogs (relative to the repository) and, when
Debian's mariadb-test-data is installed, /usr/share/mysql/mysql-test/std_data and
/usr/share/mysql/mysql-test/suite/*/std_data. Standard library only.
"""

import argparse
import calendar
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal, InvalidOperation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC = b"\xfebin"
STD_DATA = "/usr/share/mysql/mysql-test"

AT_RE = re.compile(rb"^# at (\d+)\s*$")
HEADER_RE = re.compile(rb"^#\d{6} +\d+:\d\d:\d\d server id \d+ +end_log_pos \d+")
ROWS_HEADER_RE = re.compile(rb"\t(Write|Update|Delete)_rows")
GTID_RE = re.compile(rb"\tGTID (\d+-\d+-\d+)")
ROW_START_RE = re.compile(rb"^### (INSERT INTO|UPDATE|DELETE FROM) `((?:[^`]|``)*)`\.`((?:[^`]|``)*)`\s*$")
VALUE_RE = re.compile(rb"^###   @(\d+)=(.*) /\* (.*?) meta=(\d+) nullable=(\d) is_null=(\d) \*/\s*$")
OPS = {b"INSERT INTO": "insert", b"UPDATE": "update", b"DELETE FROM": "delete"}


def default_binary():
    env = os.environ.get("DISTRIBUTARY")
    if env:
        return env
    candidates = [os.path.join(REPO, ".build", c, "distributary") for c in ("release", "debug")]
    existing = [c for c in candidates if os.path.exists(c)]
    if not existing:
        return candidates[0]
    return max(existing, key=os.path.getmtime)


# ---------------------------------------------------------------------------------------
# Finding binlog files


def binlog_files(paths, tmpdir, notes):
    """Yields (display name, path to a plain binlog file) for every binlog under paths."""
    seen = {}
    for root in paths:
        if not os.path.exists(root):
            print(f"skip path {root}: absent")
            continue
        if os.path.isfile(root):
            files = [root]
        else:
            files = []
            for d, dirs, names in os.walk(root):
                dirs.sort()
                files.extend(os.path.join(d, n) for n in sorted(names))
        for f in files:
            try:
                with open(f, "rb") as fh:
                    head = fh.read(4)
            except OSError as e:
                notes.append(f"cannot read {f}: {e}")
                continue
            path = f
            if head[:2] == b"\x1f\x8b":
                try:
                    data = gzip.open(f).read()
                except (OSError, EOFError):
                    continue
                if data[:4] != MAGIC:
                    continue
                name = os.path.basename(f)[:-3] if f.endswith(".gz") else os.path.basename(f) + ".unzipped"
                sub = tempfile.mkdtemp(dir=tmpdir)
                path = os.path.join(sub, name)
                with open(path, "wb") as out:
                    out.write(data)
            elif head != MAGIC:
                continue
            with open(path, "rb") as fh:
                digest = hashlib.sha1(fh.read()).hexdigest()
            if digest in seen:
                print(f"same  {f}: identical to {seen[digest]}, compared once")
                continue
            seen[digest] = f
            yield f, path


# ---------------------------------------------------------------------------------------
# mysqlbinlog's output


class TheirRow:
    def __init__(self, op, db, table, candidates, gtid):
        self.op = op
        self.db = db
        self.table = table
        self.candidates = candidates
        self.gtid = gtid
        self.before = None
        self.after = None


def unquote_name(b):
    return b.replace(b"``", b"`").decode("utf-8", "replace")


def parse_mysqlbinlog(out):
    """Rows from `mysqlbinlog -vv` output, each with the offsets of the ROWS events of
    its statement (mysqlbinlog prints all of a statement's event headers before its rows)."""
    rows = []
    pending_at = []
    group = []
    rows_since_header = False
    gtid = None
    current = None
    section = None
    last_at = None
    for line in out.split(b"\n"):
        m = AT_RE.match(line)
        if m:
            pending_at.append(int(m.group(1)))
            last_at = int(m.group(1))
            continue
        if HEADER_RE.match(line):
            pos = pending_at.pop(0) if pending_at else None
            if ROWS_HEADER_RE.search(line):
                if rows_since_header:
                    group = []
                    rows_since_header = False
                group.append(pos)
            g = GTID_RE.search(line)
            if g:
                gtid = g.group(1).decode()
            elif b"\tXid = " in line:
                gtid = None
            continue
        if line.startswith(b"COMMIT") or line.startswith(b"ROLLBACK"):
            gtid = None
            continue
        if not line.startswith(b"###"):
            continue
        m = ROW_START_RE.match(line)
        if m:
            current = TheirRow(OPS[m.group(1)], unquote_name(m.group(2)), unquote_name(m.group(3)), list(group), gtid)
            rows.append(current)
            rows_since_header = True
            section = None
            continue
        if line.startswith(b"### WHERE"):
            section = "before"
            current.before = []
            continue
        if line.startswith(b"### SET"):
            section = "after"
            current.after = []
            continue
        m = VALUE_RE.match(line)
        if m and current is not None and section:
            getattr(current, section).append({
                "n": int(m.group(1)), "raw": m.group(2), "type": m.group(3).decode("latin-1"),
                "meta": int(m.group(4)), "null": m.group(6) == b"1"})
        elif line.startswith(b"###   @") and current is not None and section:
            getattr(current, section).append({"n": 0, "raw": line, "type": "?", "meta": 0, "null": False})
    return rows, last_at


# ---------------------------------------------------------------------------------------
# Values


def mysqlbinlog_quote(data):
    """mysqlbinlog's my_b_write_quoted: bytes below 0x20 as \\xNN, all others raw."""
    out = bytearray(b"'")
    for b in data:
        if b > 0x1F:
            out.append(b)
        else:
            out += b"\\x%02x" % b
    out += b"'"
    return bytes(out)


def latin1_mysql(s):
    """MySQL's latin1 is Windows-1252 whose five holes map to C1 controls."""
    out = bytearray()
    for ch in s:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) < 0x100:
                out.append(ord(ch))
            else:
                return None
    return bytes(out)


def string_encodings(s):
    cands = [s.encode("utf-8", "surrogatepass")]
    for enc in (latin1_mysql, lambda t: t.encode("utf-16-be"), lambda t: t.encode("utf-16-le"),
                lambda t: t.encode("utf-32-be")):
        try:
            e = enc(s)
        except (UnicodeEncodeError, UnicodeDecodeError):
            e = None
        if e is not None and e not in cands:
            cands.append(e)
    return cands


def show(v, limit=80):
    if isinstance(v, (bytes, bytearray)):
        v = v.decode("utf-8", "backslashreplace")
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= limit else s[:limit] + f"…({len(s)} chars)"


def iso_to_epoch(s):
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?$", s)
    if not m:
        return None
    y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
    frac = m.group(7) or ""
    if y == 0 and mo == 0 and d == 0:
        return "0" + frac
    return str(calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))) + frac


class Labels:
    """ENUM and SET labels seen per column: our label must stand for one index (or bit
    set) only, and each index for one label, across the whole file."""

    def __init__(self):
        self.forward = {}
        self.backward = {}

    def check(self, key, number, label):
        f = self.forward.setdefault(key, {})
        b = self.backward.setdefault(key, {})
        if f.setdefault(number, label) != label or b.setdefault(label, number) != number:
            return f"label {label!r} vs number {number} disagrees with earlier rows ({f.get(number)!r} / {b.get(label)})"
        return None


def compare_value(their, ours, labels, key):
    """Returns None when the values agree, else (ours shown, theirs shown)."""
    t = their["type"]
    raw = their["raw"]
    if their["null"] or raw == b"NULL":
        return None if ours is None else (show(ours), "NULL")
    if ours is None:
        return ("null", show(raw))
    text = raw.decode("latin-1")
    base = t.split("(")[0]
    if base in ("TINYINT", "SHORTINT", "MEDIUMINT", "INT", "LONGINT"):
        m = re.match(r"^(-?\d+)(?: \((\d+)\))?$", text)
        allowed = {int(x) for x in m.groups() if x is not None} if m else set()
        return None if isinstance(ours, int) and not isinstance(ours, bool) and ours in allowed else (show(ours), text)
    if base == "DECIMAL":
        return None if ours == text else (show(ours), text)
    if base == "FLOAT":
        if not isinstance(ours, (int, float)):
            return (show(ours), text.strip())
        return None if "%g" % float(ours) == text.strip() else (show(ours), text.strip())
    if base == "DOUBLE":
        if not isinstance(ours, (int, float)):
            return (show(ours), text)
        return None if "%.20g" % float(ours) == text.strip() else (show(ours), text)
    if base == "TIMESTAMP":
        epoch = iso_to_epoch(ours) if isinstance(ours, str) else None
        try:
            same = epoch is not None and Decimal(epoch) == Decimal(text)
        except InvalidOperation:
            same = False
        return None if same else (show(ours) + (f" (epoch {epoch})" if epoch else ""), text)
    if base in ("DATETIME", "TIME"):
        return None if f"'{ours}'" == text or ours == text else (show(ours), text)
    if base == "DATE":
        theirs = text.strip("'").replace(":", "-")
        return None if ours == theirs else (show(ours), text)
    if base == "YEAR":
        # mysqlbinlog prints 1900 + the stored byte, so YEAR 0000 shows as 1900.
        return None if str(ours) == text or (ours == 0 and text == "1900") else (show(ours), text)
    if base == "ENUM":
        if isinstance(ours, int):
            return None if str(ours) == text else (show(ours), text)
        if isinstance(ours, str) and text.isdigit():
            problem = labels.check(key, int(text), ours)
            return None if problem is None else (show(ours), f"{text}: {problem}")
        return (show(ours), text)
    if base in ("SET", "BIT"):
        m = re.match(r"^b'([01]*)'$", text)
        if not m:
            return (show(ours), text)
        digits = m.group(1)
        if base == "SET":
            # mysqlbinlog prints a SET's bytes in storage (little-endian) order.
            digits = "".join(reversed([digits[i:i + 8] for i in range(0, len(digits), 8)]))
        bits = int(digits or "0", 2)
        if base == "BIT":
            if isinstance(ours, dict) and "hex" in ours:
                return None if int(ours["hex"] or "0", 16) == bits else (show(ours), text)
            return None if ours == bits else (show(ours), text)
        if isinstance(ours, int):
            return None if ours == bits else (show(ours), text)
        if isinstance(ours, str):
            count = 0 if ours == "" else len(ours.split(","))
            if count != bin(bits).count("1"):
                return (show(ours), f"{text} ({bin(bits).count('1')} members)")
            problem = labels.check(key, bits, ours)
            return None if problem is None else (show(ours), f"{text}: {problem}")
        return (show(ours), text)
    if base in ("STRING", "VARSTRING") or "BLOB" in base or base == "GEOMETRY":
        if isinstance(ours, dict) and "hex" in ours:
            try:
                cands = [bytes.fromhex(ours["hex"])]
            except ValueError:
                return (show(ours), show(raw))
        elif isinstance(ours, str):
            cands = string_encodings(ours)
        else:
            cands = [json.dumps(ours, separators=(",", ":"), ensure_ascii=False).encode()]
        if any(mysqlbinlog_quote(c) == raw for c in cands):
            return None
        # The log keeps BINARY(n) without its trailing 0x00 padding; we give the stored value.
        m = re.match(r"^STRING\((\d+)\)$", t)
        if m and isinstance(ours, dict) and len(cands[0]) == int(m.group(1)):
            trimmed = cands[0].rstrip(b"\x00")
            if mysqlbinlog_quote(trimmed) == raw:
                return None
        return (show(ours), show(raw))
    return (show(ours), f"{show(raw)} (type {t}: no rule)")


# ---------------------------------------------------------------------------------------
# One file


def compare_file(name, path, args):
    """Returns ("pass"|"fail"|"skip", summary, [details])."""
    try:
        theirs = subprocess.run([args.mysqlbinlog, "--base64-output=decode-rows", "-vv", path],
                                capture_output=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return "skip", f"mariadb-binlog did not finish in {args.timeout} s", []
    their_rows, their_last_at = parse_mysqlbinlog(theirs.stdout)
    their_err = theirs.stderr.decode("utf-8", "replace").strip()
    if theirs.returncode != 0:
        msg = their_err.splitlines()[-1] if their_err else "no message"
        return "skip", f"mariadb-binlog fails (exit {theirs.returncode}, {msg}) after offset {their_last_at}", []
    try:
        ours = subprocess.run([args.distributary, "binlog", "dump", "--format", "jsonl", path],
                              capture_output=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return "fail", f"distributary binlog dump did not finish in {args.timeout} s", []
    our_err = ours.stderr.decode("utf-8", "replace").strip()
    if ours.returncode != 0:
        first = our_err.splitlines()[0] if our_err else f"exit {ours.returncode}, no message"
        if "BinlogError.unsupported" in our_err:
            return "skip", f"our decoder: {first}", []
        if "ERROR:" in their_err or "error" in their_err.lower():
            return "skip", f"both reject it: ours: {first}; mariadb-binlog: {their_err.splitlines()[0]}", []
        return "fail", f"our decoder fails where mariadb-binlog does not: {first}", []
    our_rows = []
    for i, line in enumerate(ours.stdout.split(b"\n")):
        if not line:
            continue
        try:
            our_rows.append(json.loads(line))
        except ValueError as e:
            return "fail", f"line {i + 1} of our output is not JSON ({e}): {show(line)}", []

    details = []
    labels = Labels()
    compared = 0
    if len(our_rows) != len(their_rows):
        details.append(f"row count: ours {len(our_rows)}, mysqlbinlog {len(their_rows)}")
    for k, (o, t) in enumerate(zip(our_rows, their_rows)):
        where = f"row {k + 1} at offset {o.get('pos')}"
        head = []
        if o.get("op") != t.op:
            head.append(f"op: ours {o.get('op')}, mysqlbinlog {t.op}")
        if (o.get("db"), o.get("table")) != (t.db, t.table):
            head.append(f"table: ours {o.get('db')}.{o.get('table')}, mysqlbinlog {t.db}.{t.table}")
        if t.candidates and None not in t.candidates and o.get("pos") not in t.candidates:
            head.append(f"pos: ours {o.get('pos')}, mysqlbinlog's ROWS event(s) at {t.candidates}")
        if t.gtid is not None and o.get("gtid") != t.gtid:
            head.append(f"gtid: ours {o.get('gtid')}, mysqlbinlog {t.gtid}")
        for h in head:
            details.append(f"{where}: {h}")
        if head:
            continue
        for side in ("before", "after"):
            theirs_img = getattr(t, side)
            ours_img = o.get(side)
            if theirs_img is None or ours_img is None:
                if (theirs_img is None) != (ours_img is None):
                    details.append(f"{where}: {side} image: ours {'absent' if ours_img is None else 'present'}, mysqlbinlog {'absent' if theirs_img is None else 'present'}")
                continue
            items = list(ours_img.items())
            if len(items) != len(theirs_img):
                details.append(f"{where}: {side} has {len(items)} columns in ours, {len(theirs_img)} in mysqlbinlog")
                continue
            for (col, ov), tv in zip(items, theirs_img):
                compared += 1
                diff = compare_value(tv, ov, labels, (t.db, t.table, tv["n"]))
                if diff:
                    details.append(f"{where} {side} column @{tv['n']} ({col}, {tv['type']}): ours {diff[0]}, mysqlbinlog {diff[1]}")
    if details:
        return "fail", f"{len(details)} mismatch(es) in {len(their_rows)} rows", details
    return "pass", f"{len(our_rows)} rows, {compared} values", []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", help="binlog files or directories (searched recursively)")
    ap.add_argument("--distributary", default=default_binary(), help="the distributary binary (default: newest of .build/release and .build/debug, or $DISTRIBUTARY)")
    ap.add_argument("--mysqlbinlog", default=shutil.which("mariadb-binlog") or shutil.which("mysqlbinlog") or "mariadb-binlog")
    ap.add_argument("--show", type=int, default=5, help="mismatches shown per file (default 5)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per program run")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print passing files")
    args = ap.parse_args()

    if not os.path.exists(args.distributary):
        print(f"compare-mysqlbinlog: {args.distributary} not found; build it with `swift build` or pass --distributary", file=sys.stderr)
        return 2
    if not shutil.which(args.mysqlbinlog) and not os.path.exists(args.mysqlbinlog):
        print(f"compare-mysqlbinlog: {args.mysqlbinlog} not found; apt-get install mariadb-client", file=sys.stderr)
        return 2

    paths = args.paths
    if not paths:
        paths = [os.path.normpath(os.path.join(REPO, "..", "shared", "testdata", "binlogs")), os.path.join(STD_DATA, "std_data")]
        suites = sorted(glob.glob(os.path.join(STD_DATA, "suite", "*", "std_data")))
        if suites:
            paths += suites
        else:
            paths.append(os.path.join(STD_DATA, "suite", "*", "std_data"))

    counts = {"pass": 0, "fail": 0, "skip": 0}
    notes = []
    with tempfile.TemporaryDirectory(prefix="compare-mysqlbinlog.") as tmpdir:
        for name, path in binlog_files(paths, tmpdir, notes):
            status, summary, details = compare_file(name, path, args)
            counts[status] += 1
            if status == "pass" and not args.verbose:
                continue
            print(f"{status.upper():5} {name}: {summary}")
            for d in details[:args.show]:
                print(f"      {d}")
            if len(details) > args.show:
                print(f"      … {len(details) - args.show} more")
    for n in notes:
        print(n)
    print(f"compare-mysqlbinlog: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
