#!/usr/bin/env python3
"""One long-lived TCP connection to an echo listener: prints its local port, then on
each line of stdin sends that line and prints what came back ('closed' when the
connection is gone, 'timeout' when nothing came within 3 s)."""
import socket
import sys

vip, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((vip, port), timeout=3)
print(s.getsockname()[1], flush=True)
io = s.makefile("rwb", buffering=0)
for line in sys.stdin:
    try:
        io.write(line.encode())
        back = io.readline()
        print(back.decode().strip() if back else "closed", flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except OSError as e:
        print(f"closed ({e.errno})", flush=True)
