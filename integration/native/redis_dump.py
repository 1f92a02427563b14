#!/usr/bin/env python3
"""Prints every Redis entry whose key matches PATTERN as one canonical line, sorted:
`KEY<TAB>hash<TAB>field=value<TAB>…` (fields sorted) or `KEY<TAB>string<TAB>value`, with
bytes outside printable ASCII as \\xNN. `--strip PREFIX` removes PREFIX from the keys, so
two dumps written under different prefixes can be compared with diff.

    redis_dump.py PORT PATTERN [--strip PREFIX]

A small RESP client of its own (no redis-py), so binary values come back exactly.
"""
import socket
import sys


def escape(b: bytes) -> str:
    return "".join(chr(c) if 32 <= c < 127 and c != 92 else "\\x%02x" % c for c in b)


class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 20)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 20)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def call(self, *args):
        self.send(*args)
        return self.reply()


def main():
    port, pattern = int(sys.argv[1]), sys.argv[2]
    strip = sys.argv[sys.argv.index("--strip") + 1].encode() if "--strip" in sys.argv else b""
    r = Redis(port)
    keys, cursor = [], b"0"
    while True:
        cursor, batch = r.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        keys += batch
        if cursor == b"0":
            break
    for k in keys:
        r.send("TYPE", k)
    types = [r.reply() for _ in keys]
    for k, t in zip(keys, types):
        r.send("HGETALL" if t == b"hash" else "GET", k)
    lines = []
    for k, t in zip(keys, types):
        v = r.reply()
        name = escape(k[len(strip):] if strip and k.startswith(strip) else k)
        if t == b"hash":
            pairs = sorted(zip(v[0::2], v[1::2]))
            lines.append("\t".join([name, "hash"] + ["%s=%s" % (escape(f), escape(x)) for f, x in pairs]))
        else:
            lines.append("\t".join([name, t.decode(), escape(v or b"")]))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
