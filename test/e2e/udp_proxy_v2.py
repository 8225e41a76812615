#!/usr/bin/env python3
"""UDP backend behind a PROXY-v2 listener: every datagram must start with a PROXY v2
header (HAProxy's specification: PROXY command, UDP over IPv4). It logs
'<client ip> <client port> <vip> <vip port> <peer ip>' and replies '<client ip>:<port> <payload>'
to the peer (Fulcrum's local address); a datagram without a valid header is answered
'bad-header' and logged as such."""
import socket
import struct
import sys

PREAMBLE = b"\r\n\r\n\x00\r\nQUIT\n"
ip, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
open(log, "w").close()
while True:
    data, peer = s.recvfrom(4096)
    ok = len(data) >= 28 and data[:12] == PREAMBLE and data[12] == 0x21 and data[13] == 0x12 \
        and struct.unpack("!H", data[14:16])[0] == 12
    if ok:
        src, dst = socket.inet_ntoa(data[16:20]), socket.inet_ntoa(data[20:24])
        sport, dport = struct.unpack("!HH", data[24:28])
        line, reply = f"{src} {sport} {dst} {dport} {peer[0]}", f"{src}:{sport} ".encode() + data[28:]
    else:
        line, reply = f"bad-header {peer[0]}", b"bad-header"
    s.sendto(reply, peer)
    with open(log, "a") as f:
        f.write(line + "\n")
