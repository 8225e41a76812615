#!/usr/bin/env python3
"""UDP backend (IPv4 or IPv6 by its address): replies '<name> <peer-ip> <payload>' and logs the peer address
(log "-": no log, for floods)."""
import socket
import sys

ip, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
if log != "-":
    open(log, "w").close()
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(f"{name} {peer[0]} ".encode() + data, peer)
    if log != "-":
        with open(log, "a") as f:
            f.write(f"{peer[0]} {peer[1]}\n")
