#!/usr/bin/env python3
"""many_backends.py serve LOG        in the servers' namespace: on 0.0.0.0:8080, each
                                    connection answered with the address it reached, logged
   many_backends.py connect VIP N   in the client's: N connections to VIP:80, each read;
                                    prints how many were answered"""
import socket
import sys
import threading

if sys.argv[1] == "serve":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(4096)
    log = open(sys.argv[2], "a", buffering=1)
    lock = threading.Lock()
    while True:
        c, _ = srv.accept()
        here = c.getsockname()[0]
        with lock:
            log.write(here + "\n")
        try:
            c.sendall(here.encode() + b"\n")
        except OSError:
            pass
        c.close()
else:
    vip, n = sys.argv[2], int(sys.argv[3])
    ok = 0
    for _ in range(n):
        try:
            s = socket.create_connection((vip, 80), timeout=3)
            if s.recv(64):
                ok += 1
            s.close()
        except OSError:
            pass
    print(ok)
