#!/usr/bin/env python3
"""Fills a connection table of N entries with established connections to an echo
listener, then: a new connection must not get through (refused: its SYN is dropped);
half are closed; a new connection must then be answered within a second. Prints
'opened K', 'refused yes|no', 'after_close_s T|fail', one per line."""
import resource
import socket
import sys
import time

vip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (4 * n + 64, 4 * n + 64))


def echo(s, what):
    s.sendall(what + b"\n")
    return s.makefile("rb").readline().endswith(what + b"\n")


conns = []
for i in range(n):
    try:
        s = socket.create_connection((vip, port), timeout=3)
        if echo(s, b"x%d" % i):
            conns.append(s)
    except OSError:
        pass
print(f"opened {len(conns)}", flush=True)

try:  # the table is full of established connections: this SYN is dropped
    extra = socket.create_connection((vip, port), timeout=2)
    print("refused " + ("no" if echo(extra, b"extra") else "yes"), flush=True)
except OSError:
    print("refused yes", flush=True)

for s in conns[: len(conns) // 2]:  # half of them end (FIN both ways: TIME_WAIT in the table)
    s.close()
time.sleep(0.2)
start = time.monotonic()
try:
    s = socket.create_connection((vip, port), timeout=1)
    ok = echo(s, b"again")
    took = time.monotonic() - start
    print(f"after_close_s {took:.2f}" if ok and took < 1.0 else "after_close_s fail", flush=True)
except OSError:
    print("after_close_s fail", flush=True)
