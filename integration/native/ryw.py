#!/usr/bin/env python3
"""Read-your-writes client: commits a change, waits for it through GET /wait, then reads
Redis (and the index) and checks it sees its own write. Prints failures and, with
--latency, the added latency of wait + read (p50/p99/max, ms).

    ryw.py --socket S --redis-port P --http-port H --iterations N [--sink redis] [--search]
           [--api-key K] [--latency]

Talks to MariaDB through one `mariadb` client process (no driver needed), to Redis with a
small RESP client (redis_dump.Redis) and to the replicator with urllib.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_dump import Redis  # noqa: E402


class SQL:
    def __init__(self, socket):
        self.p = subprocess.Popen(["mariadb", "--no-defaults", f"--socket={socket}", "-uroot", "-N", "-B", "-n"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def one(self, statements):
        """Runs statements whose last one returns one row of one value; returns it."""
        self.p.stdin.write(statements + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().rstrip("\n")


def get(url, key):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=50)
    ap.add_argument("--sink", default="")
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--table", default="ryw.items")
    a = ap.parse_args()
    sql, redis = SQL(a.socket), Redis(a.redis_port)
    base = f"http://127.0.0.1:{a.http_port}"
    failures, latencies = [], []
    for i in range(1, a.iterations + 1):
        row = i % a.rows
        gtid = sql.one(f"UPDATE {a.table} SET v = {i}, tag = 't{i}' WHERE id = {row}; SELECT @@last_gtid;")
        t0 = time.perf_counter()
        url = f"{base}/wait?gtid={gtid}&timeout_ms=10000" + (f"&sink={a.sink}" if a.sink else "")
        status, body = get(url, a.api_key)
        if status != 200:
            failures.append(f"iteration {i}: /wait answered {status}: {body}")
            continue
        value = redis.call("HGET", f"item:{row}", "v")
        t1 = time.perf_counter()
        latencies.append((t1 - t0) * 1000)
        if value != str(i).encode():
            failures.append(f"iteration {i}: Redis item:{row} v = {value!r} after /wait for {gtid}, expected {i}")
        if a.search:
            status, body = get(f"{base}/indexes/items/search?q=tag:t{i}", a.api_key)
            total = json.loads(body).get("total") if status == 200 else None
            if total != 1:
                failures.append(f"iteration {i}: search tag:t{i} found {total} after /wait for {gtid}, expected 1")
    for f in failures[:10]:
        print("FAIL", f)
    print(f"iterations={a.iterations} failures={len(failures)}")
    if a.latency and latencies:
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        print(f"latency_ms p50={pick(0.50):.2f} p99={pick(0.99):.2f} max={latencies[-1]:.2f}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
