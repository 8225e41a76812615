#!/usr/bin/env python3
"""Writes the IPv6 seeds of the fuzz_packet corpus (test/fuzz/corpus/packet/v6_*.bin):
frames of the fuzz target's dual-stack network, each prefixed by its 2-byte length.
Run again after changing the network in fuzz_packet.cpp."""
import ipaddress, os, struct, sys

PORT_MAC = bytes(6)  # the target's net_ring port
CLIENT_MAC = bytes.fromhex("020000000050")
A = lambda s: ipaddress.IPv6Address(s).packed
CLIENT, VIP, LADDR, BACKEND6 = A("2001:db8::50"), A("2001:db8::10"), A("2001:db8::100"), A("2001:db8::31")


def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip6(src, dst, nh, payload, hops=64, ext=b"", first=None):
    hdr = struct.pack("!IHBB", 6 << 28, len(ext) + len(payload), first if ext else nh, hops) + src + dst
    return hdr + ext + payload


def l4(src, dst, proto, body, ck_at):
    pseudo = src + dst + struct.pack("!IxxxB", len(body), proto)
    c = csum(pseudo + body)
    return body[:ck_at] + struct.pack("!H", c) + body[ck_at + 2:]


def tcp(src, dst, sport, dport, flags, seq=1, ack=0, opts=b""):
    body = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts
    return l4(src, dst, 6, body, 16)


def udp(src, dst, sport, dport, data):
    return l4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data, 6)


def icmp6(src, dst, typ, rest):
    return l4(src, dst, 58, bytes([typ, 0, 0, 0]) + rest, 2)


def eth(dst, payload, src=CLIENT_MAC):
    return dst + src + b"\x86\xdd" + payload


def frames(*fs):
    return b"".join(struct.pack("!H", len(f)) + f for f in fs)


# MSS 1440, SACK permitted, timestamps, NOP, window scale 7
syn_opts = bytes.fromhex("020405a0" "0402" "080a0000000100000000" "01" "030307")
sol = A("ff02::1:ff00:10")
seeds = {
    "v6_nd": frames(eth(bytes.fromhex("3333ff000010"), ip6(CLIENT, sol, 58,
                        icmp6(CLIENT, sol, 135, b"\0" * 4 + VIP + b"\x01\x01" + CLIENT_MAC), hops=255))),
    "v6_echo": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 58, icmp6(CLIENT, VIP, 128, b"\0\1\0\1ping")))),
    "v6_syn_6to4": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 6, tcp(CLIENT, VIP, 40000, 80, 0x02, opts=syn_opts)))),
    "v6_syn_6to6_ext": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 6, tcp(CLIENT, VIP, 40001, 82, 0x02),
                                               ext=bytes([60, 0]) + b"\0" * 6 + bytes([6, 0]) + b"\0" * 6, first=0))),
    "v6_udp": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 17, udp(CLIENT, VIP, 5000, 53, b"query"))),
                     eth(PORT_MAC, ip6(BACKEND6, LADDR, 17, udp(BACKEND6, LADDR, 5353, 1024, b"answer")))),
    "v6_fragment": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 6, tcp(CLIENT, VIP, 40002, 80, 0x02),
                                           ext=bytes([6, 0, 0, 1, 0, 0, 0, 1]), first=44))),
    "v6_ptb": frames(eth(PORT_MAC, ip6(CLIENT, VIP, 58, icmp6(CLIENT, VIP, 2, struct.pack("!I", 1280) +
                        ip6(VIP, CLIENT, 6, tcp(VIP, CLIENT, 80, 40000, 0x10)))))),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "packet")
for name, data in seeds.items():
    with open(os.path.join(out, name + ".bin"), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}", file=sys.stderr)
