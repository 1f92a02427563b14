#!/usr/bin/env python3
"""The peer in pipeline.sh: a straightforward Python replicator of the same mapping as
distributary's (bench.packages → one Redis hash per row, key pkg:{id}, every column as
text), built on python-mysql-replication (pymysqlreplication) and redis-py.

    py-replicator.py --port P --user U --password-env VAR --redis-port R
                     --file binlog.000002 --pos 4 [--seconds 60] [--decode-only]

Reads the binlog from (file, pos) without blocking (the server ends the stream at its
head), and applies each source transaction as one pipelined MULTI/EXEC of HSET/HDEL/DEL
plus an HSET of its own checkpoint hash, the way distributary batches (its batches hold
several transactions; here one, which for this backlog of 1,000-row transactions is 1,000
rows a round trip). Stops at the head or after --seconds, at a transaction boundary.
--decode-only reads and converts the rows but writes nothing. Prints one JSON line:
{"rows", "transactions", "seconds", "rows_per_s", "at_head"}.
"""
import argparse
import datetime
import decimal
import json
import os
import time

import redis
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent


def text(v):
    """A column value as the text distributary writes (README "What lands in Redis")."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, decimal.Decimal)):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, set):
        return ",".join(sorted(v))
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-env", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--pos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--server-id", type=int, default=4711)
    ap.add_argument("--decode-only", action="store_true")
    a = ap.parse_args()

    r = redis.Redis(host="127.0.0.1", port=a.redis_port)
    start = time.monotonic()
    stream = BinLogStreamReader(
        connection_settings={"host": a.host, "port": a.port, "user": a.user,
                             "passwd": os.environ[a.password_env]},
        server_id=a.server_id, log_file=a.file, log_pos=a.pos, resume_stream=True,
        blocking=False, is_mariadb=True,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent],
        only_schemas=["bench"], only_tables=["packages"])
    rows = transactions = 0
    pending = 0
    pipe = r.pipeline(transaction=True)
    at_head = True
    for event in stream:
        if isinstance(event, XidEvent):
            if not a.decode_only:
                pipe.hset("pyrepl:checkpoint", mapping={"file": stream.log_file, "pos": stream.log_pos})
                pipe.execute()
            rows += pending
            pending = 0
            transactions += 1
            if time.monotonic() - start >= a.seconds:
                at_head = False
                break
            continue
        for row in event.rows:
            pending += 1
            if isinstance(event, UpdateRowsEvent):
                before, values = row["before_values"], row["after_values"]
                old_key = f"pkg:{before['id']}"
            else:
                values = row["values"]
                old_key = None
            key = f"pkg:{values['id']}"
            if isinstance(event, DeleteRowsEvent):
                if not a.decode_only:
                    pipe.delete(key)
                continue
            fields = {c: text(v) for c, v in values.items() if v is not None}
            nulls = [c for c, v in values.items() if v is None]
            if a.decode_only:
                continue
            if old_key is not None and old_key != key:
                pipe.delete(old_key)
            pipe.hset(key, mapping=fields)
            if nulls:
                pipe.hdel(key, *nulls)
    stream.close()
    seconds = time.monotonic() - start
    print(json.dumps({"rows": rows, "transactions": transactions, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds) if seconds > 0 else 0, "at_head": at_head}))


if __name__ == "__main__":
    main()
