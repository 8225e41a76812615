#!/usr/bin/env python3
"""Sends RATE configuration updates per second to Fulcrum's control socket until stopped.

Each update is a SetBackendServers that moves one backend's weight (i-1..i-3 in turn,
weights 1..100): a validated change, a new snapshot posted to every worker and the old
one reclaimed. Prints a line with the count of updates accepted and refused on SIGTERM.

  updater.py SOCKET RATE
"""
import json
import signal
import socket
import sys
import time

path, rate = sys.argv[1], float(sys.argv[2])
ok = refused = failed = 0


def report(*_):
    print(f"{ok} updates accepted, {refused} refused, {failed} failed", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
signal.signal(signal.SIGINT, report)
n, start = 0, time.monotonic()
while True:
    server = f"i-{n % 3 + 1}"
    req = {"Action": "SetBackendServers",
           "BackendServers": [{"ServerId": server, "ServerIp": f"10.0.2.{11 + n % 3}", "Weight": 1 + n % 100}]}
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(json.dumps(req).encode())
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        s.close()
        if json.loads(reply).get("Code") == "Success":
            ok += 1
        else:
            refused += 1
    except OSError:
        failed += 1
    n += 1
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
