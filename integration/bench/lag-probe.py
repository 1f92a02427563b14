#!/usr/bin/env python3
"""Commit-to-visible lag for pipeline.sh. Every --interval seconds commits one marker row
into bench.packages (autocommit INSERT, id from --first-id up, a description holding a
token of its own), takes the time when COMMIT returns, then polls about every --poll
seconds, on two threads each with a client of its own, until the row is visible in Redis
(EXISTS of its key) and in search (GET /indexes/packages/search?q=description:TOKEN through the
replicator's HTTP API, one keep-alive connection). Runs for --seconds.
Prints one JSON line: per store the markers seen, p50/p99/max in ms, and those not seen
within --timeout seconds.

    lag-probe.py --socket S --redis-port R --http-port H [--seconds 60] [--interval 0.1]
"""
import argparse
import http.client
import json
import math
import threading
import time
import urllib.parse

import pymysql
import redis


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]  # nearest rank


class Search:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def total(self, query):
        path = "/indexes/packages/search?limit=1&q=" + urllib.parse.quote(query)
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"search answered {resp.status}: {body[:200]!r}")
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return json.loads(body)["total"]
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise


def poll(seen, store, visible, committed, a):
    """Polls visible() every a.poll seconds until it is true (records the time in seen) or a.timeout passes."""
    while time.monotonic() - committed <= a.timeout:
        if visible():
            seen[store] = time.monotonic()
            return
        time.sleep(a.poll)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--poll", type=float, default=0.001)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--first-id", type=int, default=20_000_000)
    ap.add_argument("--no-search", action="store_true", help="Redis only (a replicator without the index)")
    a = ap.parse_args()
    db = pymysql.connect(unix_socket=a.socket, user="root", autocommit=True)
    cur = db.cursor()
    r = redis.Redis(host="127.0.0.1", port=a.redis_port)
    search = Search(a.http_port)
    lag = {"redis": []} if a.no_search else {"redis": [], "search": []}
    missed = {store: 0 for store in lag}
    t_end = time.monotonic() + a.seconds
    i = 0
    next_at = time.monotonic()
    while time.monotonic() < t_end:
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at += a.interval
        i += 1
        pk = a.first_id + i
        token = f"probemark{pk}"
        cur.execute("INSERT INTO bench.packages VALUES (%s, 'latency-probe', '1', 'misc', 'optional', 0, 0, 0, %s, NOW(6))",
                    (pk, f"latency probe {token}"))
        committed = time.monotonic()
        seen = {}
        pollers = [threading.Thread(target=poll, args=(seen, "redis", lambda: r.exists(f"pkg:{pk}"), committed, a))]
        if "search" in lag:
            pollers.append(threading.Thread(target=poll, args=(seen, "search", lambda: search.total(f"description:{token}") > 0, committed, a)))
        for t in pollers:
            t.start()
        for t in pollers:
            t.join()
        for store in lag:
            if store in seen:
                lag[store].append((seen[store] - committed) * 1000)
            else:
                missed[store] += 1
        if next_at < time.monotonic():
            next_at = time.monotonic()
    out = {"markers": i}
    for store, values in lag.items():
        out[store] = {"seen": len(values), "missed": missed[store],
                      "p50_ms": round(percentile(values, 50), 2) if values else None,
                      "p99_ms": round(percentile(values, 99), 2) if values else None,
                      "max_ms": round(max(values), 2) if values else None}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
