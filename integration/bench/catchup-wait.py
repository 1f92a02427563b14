#!/usr/bin/env python3
"""Catch-up completion for pipeline.sh: polls (every 5 ms) the Redis checkpoint hash of
pipeline NAME and, with --index, the checkpoint in INDEX/manifest.json, until each has
reached the source head (FILE, POS); exits 1 if the replicator (--pid) dies first or
--timeout passes. Prints one JSON line with the seconds from --t0-ns (a
`date +%s%N` taken just before the replicator was started) to each sink's arrival.

    catchup-wait.py --redis-port R --name N --head-file F --head-pos P --t0-ns T --pid PID [--index DIR]
"""
import argparse
import json
import os
import sys
import time

import redis


def at_or_past(file, pos, head):
    return file is not None and (file, int(pos)) >= head


def manifest_checkpoint(path):
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None, None
    p = m.get("payload") or {}
    return p.get("file"), p.get("pos")


def alive(pid):
    """False once the process has exited (a zombie not yet waited for by its parent too)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--head-file", required=True)
    ap.add_argument("--head-pos", type=int, required=True)
    ap.add_argument("--t0-ns", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--index", default="")
    ap.add_argument("--timeout", type=float, default=1800)
    a = ap.parse_args()
    r = redis.Redis(host="127.0.0.1", port=a.redis_port, decode_responses=True)
    head = (a.head_file, a.head_pos)
    done = {}
    want = {"redis"} | ({"index"} if a.index else set())
    while want - done.keys():
        now = time.time_ns()
        if "redis" not in done:
            f, p = r.hmget(f"distributary:{a.name}:checkpoint", "file", "pos")
            if at_or_past(f, p, head):
                done["redis"] = now
        if "index" in want and "index" not in done:
            f, p = manifest_checkpoint(os.path.join(a.index, "manifest.json"))
            if at_or_past(f, p, head):
                done["index"] = now
        if want - done.keys():
            if not alive(a.pid):
                sys.exit(f"catchup-wait: the replicator (pid {a.pid}) exited before reaching {head}")
            if (now - a.t0_ns) / 1e9 > a.timeout:
                sys.exit(f"catchup-wait: not at {head} after {a.timeout} s")
            time.sleep(0.005)
    print(json.dumps({k + "_s": round((v - a.t0_ns) / 1e9, 3) for k, v in done.items()}))


if __name__ == "__main__":
    main()
