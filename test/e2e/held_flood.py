#!/usr/bin/env python3
"""N clients complete a handshake (with the SYN proxy's cookie) and each send three
small segments, then hold on for SECONDS: a backend that drops SYNs leaves all of them
waiting in the proxy. Prints how many connected."""
import resource
import selectors
import socket
import sys
import time

vip, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
sel = selectors.DefaultSelector()
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    s.connect_ex((vip, port))
    sel.register(s, selectors.EVENT_WRITE)
    socks.append(s)
connected = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        sel.unregister(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            connected += 1
            for i in range(3):  # three segments (no Nagle), each waiting for the backend
                try:
                    s.send(b"segment %d of a client the backend never answers\n" % i)
                except OSError:
                    pass
print(connected, flush=True)
