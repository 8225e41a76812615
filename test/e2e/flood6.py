#!/usr/bin/env python3
"""IPv6 floods on a raw AF_PACKET socket (hping3 speaks no IPv6), for hostile6_test.sh.

  flood6.py syn IFACE DST_MAC VIP PORT SECONDS PREFIX
      TCP SYNs from random sources in PREFIX (a /64, e.g. 2001:db8:99::) and random
      ports, for SECONDS: the spoofed SYN flood.
  flood6.py udp IFACE DST_MAC VIP PORT SECONDS SRC...
      one-datagram UDP flows for SECONDS, the sources in turn, each source's port one
      more each time (1024..65535, then round again).

Frames are built once and patched per packet; the checksum is the template's sum plus
the words that change (one's complement arithmetic is linear). Prints what it sent.
"""
import ipaddress
import os
import signal
import socket
import struct
import sys
import time


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words(b):
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


SENT = [0]  # frames sent so far (read when stopped early)


class Stopped(Exception):
    pass


def stop(*_):
    raise Stopped


def main():
    signal.signal(signal.SIGTERM, stop)  # stopped early: still say what was sent
    mode, iface, dst_mac, vip, port = sys.argv[1:6]
    port = int(port)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    src_mac = open(f"/sys/class/net/{iface}/address").read().strip()
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x86\xdd"
    dst = ipaddress.IPv6Address(vip).packed
    proto = 6 if mode == "syn" else 17
    l4_len = 20 if mode == "syn" else 8 + 8
    ip = struct.pack("!IHBB", 6 << 28, l4_len, proto, 64)
    if mode == "syn":
        l4 = struct.pack("!HHIIBBHHH", 0, port, 0, 0, 5 << 4, 0x02, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", 0, port, l4_len, 0) + b"floodme!"
    try:
        flood(mode, sock, eth, ip, dst, l4, l4_len, proto, port)
    except Stopped:
        pass
    print(SENT[0])


def flood(mode, sock, eth, ip, dst, l4, l4_len, proto, port):
    sent = SENT
    if mode == "syn":
        seconds, prefix = float(sys.argv[6]), ipaddress.IPv6Address(sys.argv[7]).packed[:8]
        # Constant part: the prefix, the destination, length, protocol, the rest of the header.
        base = words(prefix) + words(dst) + l4_len + proto + words(l4)
        frame = bytearray(eth + ip + prefix + bytes(8) + dst + l4)
        end = time.monotonic() + seconds
        while True:
            if sent[0] % 1024 == 0 and time.monotonic() >= end:
                break
            r = os.urandom(12)
            low, sport, seq = r[:8], struct.unpack("!H", r[8:10])[0] | 1024, struct.unpack("!H", r[10:12])[0]
            frame[30:38] = low
            struct.pack_into("!HHI", frame, 54, sport, port, seq)
            ck = ~csum_fold(base + words(low) + sport + seq) & 0xFFFF
            struct.pack_into("!H", frame, 54 + 16, ck or 0xFFFF)
            sock.send(frame)
            sent[0] += 1
    else:
        seconds, sources = float(sys.argv[6]), [ipaddress.IPv6Address(a).packed for a in sys.argv[7:]]
        frames = [bytearray(eth + ip + s + dst + l4) for s in sources]
        bases = [words(s) + words(dst) + l4_len + proto + words(l4) for s in sources]
        next_port = [1024] * len(sources)
        end = time.monotonic() + seconds
        while sent[0] % 1024 or time.monotonic() < end:
            k = sent[0] % len(sources)
            sport = next_port[k]
            next_port[k] = 1024 if sport == 65535 else sport + 1
            f = frames[k]
            struct.pack_into("!H", f, 54, sport)
            ck = ~csum_fold(bases[k] + sport) & 0xFFFF
            struct.pack_into("!H", f, 54 + 6, ck or 0xFFFF)
            sock.send(f)
            sent[0] += 1


if __name__ == "__main__":
    main()
