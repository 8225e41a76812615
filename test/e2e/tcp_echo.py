#!/usr/bin/env python3
"""TCP backend for long-lived connections: answers each line with '<name> <line>' and
logs the peer of each connection."""
import socket
import sys
import threading

ip, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port))
srv.listen(64)
open(log, "w").close()


def serve(conn, peer):
    with open(log, "a") as f:
        f.write(f"{peer[0]} {peer[1]}\n")
    with conn, conn.makefile("rwb", buffering=0) as io:
        for line in io:
            io.write(f"{name} ".encode() + line)


while True:
    c, peer = srv.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
