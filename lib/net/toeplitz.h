// The Toeplitz hash NICs use for RSS, in software, over the 4-tuple as a NIC feeds it
// (source address, destination address, source port, destination port, each in network
// order: 12 bytes for IPv4, 36 for IPv6), and the key Fulcrum programs on every RSS port.
//
// The hash is linear over the input's bits: each set bit i XORs in the 32 key bits
// starting at bit i. So the hash of a tuple is the XOR of the hashes of its parts with
// the other fields zero:
//   hash(src, dst, sport, dport) = source_part(src, sport) ^ address_part(dst) ^ port_part(dport)
// which is what lets Fulcrum pick a local port whose reply lands on the queue it wants
// (laddr/laddr_pool.h) with one XOR of cached parts instead of a hash per connection.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fulcrum::net {

constexpr size_t rss_key_size = 40;
// The RETA a port configured "rss": "emulated" assumes (entry j -> queue j % queues).
constexpr uint16_t emulated_reta_size = 128;
// The key Fulcrum programs and computes with. It starts as the widely used default
// (Microsoft's RSS verification suite; most NICs ship it), which tests keep; the daemon
// draws a random one at start (randomize_rss_key), before any port or pool uses it, so a
// flood cannot be aimed at one queue by precomputed tuples. The XOR construction works
// with any key.
inline uint8_t rss_key[rss_key_size] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// How many of the hash's low `bits` bits the 16 bits of a destination port reach
// (the rank of that linear map) in an IPv4 (or, `v6`, an IPv6) tuple: `bits` means every
// RETA entry of 2^bits has lports.
unsigned port_rank(unsigned bits, bool v6 = false);
// A random key whose port parts (IPv4 and IPv6) reach 12 low bits (every RETA up to
// 4,096 entries).
void randomize_rss_key();

// Toeplitz over `len` input bytes that stand at byte `at` of the whole input (the other
// bytes zero): a 64-bit window of the key slides one bit per input bit; a set bit takes
// the window's top 32 bits. Key bytes past its end count as 0 (the last input bit of a
// 36-byte IPv6 tuple needs key bit 318 of 320).
inline uint32_t toeplitz(const uint8_t *in, size_t len, size_t at = 0) {
    auto key = [](size_t i) -> uint64_t { return i < rss_key_size ? rss_key[i] : 0; };
    uint64_t window = 0;
    for (size_t i = 0; i < 8; i++) window = window << 8 | key(at + i);
    uint32_t hash = 0;
    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 7; bit >= 0; bit--) {
            if (in[byte] >> bit & 1) hash ^= static_cast<uint32_t>(window >> 32);
            window <<= 1;
        }
        window |= key(at + byte + 8);
    }
    return hash;
}

// The parts of the 4-tuple hash; addresses and ports in network order.
struct rss_tuple {
    uint8_t b[12];
    rss_tuple(uint32_t src_be, uint32_t dst_be, uint16_t sport_be, uint16_t dport_be) {
        const auto *s = reinterpret_cast<const uint8_t *>(&src_be);
        const auto *d = reinterpret_cast<const uint8_t *>(&dst_be);
        const auto *sp = reinterpret_cast<const uint8_t *>(&sport_be);
        const auto *dp = reinterpret_cast<const uint8_t *>(&dport_be);
        for (int i = 0; i < 4; i++) b[i] = s[i], b[4 + i] = d[i];
        b[8] = sp[0], b[9] = sp[1], b[10] = dp[0], b[11] = dp[1];
    }
};
inline uint32_t rss_hash(uint32_t src_be, uint32_t dst_be, uint16_t sport_be, uint16_t dport_be) {
    return toeplitz(rss_tuple(src_be, dst_be, sport_be, dport_be).b, 12);
}
inline uint32_t source_part(uint32_t src_be, uint16_t sport_be) { return rss_hash(src_be, 0, sport_be, 0); }
inline uint32_t address_part(uint32_t dst_be) { return rss_hash(0, dst_be, 0, 0); }
inline uint32_t port_part(uint16_t dport_be) { return rss_hash(0, 0, 0, dport_be); }

// IPv6: source (16 bytes), destination (16), source port, destination port; the same
// parts, each hashed where it stands in the 36 bytes.
inline uint32_t source_part6(const uint8_t *src, uint16_t sport_be) {
    return toeplitz(src, 16, 0) ^ toeplitz(reinterpret_cast<const uint8_t *>(&sport_be), 2, 32);
}
inline uint32_t address_part6(const uint8_t *dst) { return toeplitz(dst, 16, 16); }
inline uint32_t port_part6(uint16_t dport_be) { return toeplitz(reinterpret_cast<const uint8_t *>(&dport_be), 2, 34); }
inline uint32_t rss_hash6(const uint8_t *src, const uint8_t *dst, uint16_t sport_be, uint16_t dport_be) {
    return source_part6(src, sport_be) ^ address_part6(dst) ^ port_part6(dport_be);
}

// The rx queue a NIC with this key and a RETA of `reta_size` entries (entry j -> queue
// j % queues) puts an Ethernet frame on: IPv4 TCP/UDP (not fragments) by the 4-tuple,
// other IPv4 by the addresses; IPv6 TCP/UDP right after the fixed header by the 4-tuple,
// other IPv6 (extension headers, ICMPv6) by the addresses; anything else on queue 0.
// For emulated RSS: tests and benchmarks split their traffic with it exactly as the NIC
// would.
inline uint32_t rss_queue_of_frame(const uint8_t *f, size_t len, uint32_t reta_size, uint32_t queues) {
    if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd && (f[14] >> 4) == 6) {
        const uint8_t *ip = f + 14;
        bool l4 = (ip[6] == 6 || ip[6] == 17) && len >= 54 + 4;
        uint32_t hash = l4 ? toeplitz(ip + 8, 32) ^ toeplitz(ip + 40, 4, 32) : toeplitz(ip + 8, 32);
        return (hash & (reta_size - 1)) % queues;
    }
    if (len < 34 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4) return 0;
    size_t ihl = size_t(f[14] & 0x0f) * 4;
    const uint8_t *ip = f + 14;
    bool fragment = (ip[6] & 0x3f) != 0 || ip[7] != 0; // MF or an offset
    uint32_t hash;
    if ((ip[9] == 6 || ip[9] == 17) && !fragment && len >= 14 + ihl + 4) {
        uint8_t in[12];
        for (int i = 0; i < 8; i++) in[i] = ip[12 + i];
        for (int i = 0; i < 4; i++) in[8 + i] = ip[ihl + i];
        hash = toeplitz(in, 12);
    } else {
        hash = toeplitz(ip + 12, 8);
    }
    return (hash & (reta_size - 1)) % queues;
}

} // namespace fulcrum::net
