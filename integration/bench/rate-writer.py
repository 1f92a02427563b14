#!/usr/bin/env python3
"""Steady load for pipeline.sh: about --rate row changes/s into bench.packages, in small
autocommit transactions of --rows rows each (an UPDATE that gives each row another
package's description, real text, and a new `updated`), on a fixed schedule: transaction
i starts at t0 + i × rows / rate (a writer that falls behind catches up by at most one
second's worth). Runs until --seconds have passed or the file --run-flag is gone.
Prints one JSON line: {"rows", "transactions", "seconds", "rows_per_s"}.

    rate-writer.py --socket S [--rate 5000] [--rows 10] [--seconds 60] [--run-flag F]
"""
import argparse
import json
import os
import time

import pymysql


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--run-flag", default="")
    a = ap.parse_args()
    db = pymysql.connect(unix_socket=a.socket, user="root", autocommit=True)
    cur = db.cursor()
    cur.execute("SELECT COUNT(*) FROM bench.source")
    n = cur.fetchone()[0]
    # rows left by the backlog (every third was deleted) and below the probe's markers
    cur.execute("SELECT id FROM bench.packages WHERE id <= %s ORDER BY id", (n,))
    live = [r[0] for r in cur.fetchall()]
    interval = a.rows / a.rate
    t0 = time.monotonic()
    i = rows = tx = 0
    at = 0
    while True:
        now = time.monotonic()
        if now - t0 >= a.seconds or (a.run_flag and i % 50 == 0 and not os.path.exists(a.run_flag)):
            break
        due = t0 + i * interval
        if due > now:
            time.sleep(due - now)
        elif now - due > 1.0:  # too far behind: drop the backlog beyond one second
            skip = int((now - due - 1.0) / interval)
            i += skip
        ids = live[at:at + a.rows]
        if len(ids) < a.rows:
            at = 0
            ids = live[:a.rows]
        at += a.rows
        shift = (i * 7919 + 1) % n
        cur.execute(
            "UPDATE bench.packages p JOIN bench.source s ON s.id = (p.id + %s) %% %s + 1 "
            "SET p.description = s.description, p.updated = NOW(6) WHERE p.id IN (" +
            ",".join(str(x) for x in ids) + ")", (shift, n))
        rows += cur.rowcount
        tx += 1
        i += 1
    seconds = time.monotonic() - t0
    print(json.dumps({"rows": rows, "transactions": tx, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds) if seconds > 0 else 0}))


if __name__ == "__main__":
    main()
