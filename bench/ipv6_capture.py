#!/usr/bin/env python3
"""A capture of FLOWS IPv6 client flows for the ipv6 bench scenario: one UDP datagram per
flow (64-byte frames, as fulcrum-gen's IPv4 captures), clients 2001:db8:1::/64 (off the
port's prefix: through gateway6) to [2001:db8::10]:PORT (80: 6->4, 81: 6->6).
  ipv6_capture.py FILE FLOWS PORT"""
import struct
import sys


def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def main(path, flows, port):
    vip = bytes.fromhex("20010db8000000000000000000000010")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(flows):
            src = bytes.fromhex("20010db8000100000000") + struct.pack("!IH", i >> 12, i & 0xfff)
            sport = 1024 + (i * 7919) % 60000
            data = b"f6"
            udp = struct.pack("!HHHH", sport, port, 8 + len(data), 0) + data
            c = csum(src + vip + struct.pack("!IxxxB", len(udp), 17) + udp) or 0xffff
            udp = udp[:6] + struct.pack("!H", c) + udp[8:]
            ip = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + vip
            frame = b"\xff" * 6 + bytes.fromhex("020000000101") + b"\x86\xdd" + ip + udp
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
