#!/usr/bin/env python3
"""Reads a pcap (Ethernet) and, for each TCP connection toward DST_IP:DST_PORT, prints
'<src ip>:<src port> <TOA ip>:<TOA port>|none <segments with TOA> <segments>' for its
first segment after the SYN (TCP option 254, length 8: port, then IPv4 address)."""
import socket
import struct
import sys

path, dst_ip, dst_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = open(path, "rb").read()
magic = struct.unpack("<I", raw[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
off = 24
conns = {}  # (src, sport) -> [first non-SYN TOA or None, count with TOA, segments]
while off + 16 <= len(raw):
    incl = struct.unpack(endian + "I", raw[off + 8:off + 12])[0]
    pkt = raw[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(pkt) < 54 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
        continue
    ihl = (pkt[14] & 0x0F) * 4
    tcp = pkt[14 + ihl:]
    src, dst = socket.inet_ntoa(pkt[26:30]), socket.inet_ntoa(pkt[30:34])
    sport, dport = struct.unpack("!HH", tcp[:4])
    if dst != dst_ip or dport != dst_port:
        continue
    flags, doff = tcp[13], (tcp[12] >> 4) * 4
    toa, i = None, 20
    while i < doff:
        kind = tcp[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        length = tcp[i + 1]
        if length < 2:
            break
        if kind == 254 and length == 8:
            toa = f"{socket.inet_ntoa(tcp[i + 4:i + 8])}:{struct.unpack('!H', tcp[i + 2:i + 4])[0]}"
        i += length
    c = conns.setdefault((src, sport), ["unset", 0, 0])
    if flags & 0x02:
        continue
    if c[0] == "unset":
        c[0] = toa or "none"
    c[1] += toa is not None
    c[2] += 1
for (src, sport), (first, with_toa, n) in sorted(conns.items()):
    print(f"{src}:{sport} {first} {with_toa} {n}")
