// Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
//
// Full-NAT rewrites the same four fields of every packet of a connection, so the
// one's-complement difference between the old and new fields is a per-connection
// constant: it is computed once when the connection is created and each packet then
// costs one add-and-fold per checksum. The reverse direction uses the negated delta.
#pragma once

#include <cstdint>

namespace fulcrum::net {

// One's-complement accumulator: add 16-bit words, fold at the end.
inline uint32_t csum_add16(uint32_t sum, uint16_t word) { return sum + word; }

inline uint32_t csum_add32(uint32_t sum, uint32_t value) {
    return sum + (value >> 16) + (value & 0xffff);
}

inline uint16_t csum_fold(uint32_t sum) {
    sum = (sum >> 16) + (sum & 0xffff);
    sum = (sum >> 16) + (sum & 0xffff);
    return static_cast<uint16_t>(sum);
}

// Delta contributed by replacing a 32-bit field `from` with `to` (both in the same byte
// order as the checksum field is read).
inline uint32_t csum_replace32(uint32_t sum, uint32_t from, uint32_t to) {
    return csum_add32(csum_add32(sum, ~from), to);
}

inline uint32_t csum_replace16(uint32_t sum, uint16_t from, uint16_t to) {
    return sum + static_cast<uint16_t>(~from) + to;
}

// Delta contributed by replacing `n_from` bytes at `from` with `n_to` bytes at `to` (each
// an even length, read as 16-bit words the way the checksum field is): an IPv6 address
// for another, or for an IPv4 one (6->4 translation changes the pseudo-header's addresses).
inline uint32_t csum_replace_bytes(uint32_t sum, const void *from, unsigned n_from, const void *to, unsigned n_to) {
    const uint8_t *f = static_cast<const uint8_t *>(from), *t = static_cast<const uint8_t *>(to);
    for (unsigned i = 0; i + 1 < n_from; i += 2) {
        uint16_t w;
        __builtin_memcpy(&w, f + i, 2);
        sum += static_cast<uint16_t>(~w);
    }
    for (unsigned i = 0; i + 1 < n_to; i += 2) {
        uint16_t w;
        __builtin_memcpy(&w, t + i, 2);
        sum += w;
    }
    return sum;
}

// Negate a folded delta: applying `delta` then `csum_negate(delta)` is the identity.
inline uint16_t csum_negate(uint16_t delta) { return static_cast<uint16_t>(~delta); }

// Apply a folded delta to a checksum field value (as stored in the header).
inline uint16_t csum_apply(uint16_t check, uint16_t delta) {
    uint32_t sum = static_cast<uint16_t>(~check);
    sum += delta;
    return static_cast<uint16_t>(~csum_fold(sum));
}

// Full checksum of a buffer (for verification and for tests), network byte order words
// read in host order the same way the header field is read.
inline uint16_t csum_buffer(const void *data, uint32_t len, uint32_t sum = 0) {
    const uint8_t *p = static_cast<const uint8_t *>(data);
    while (len > 1) {
        sum += static_cast<uint16_t>(p[0] | (p[1] << 8));
        p += 2;
        len -= 2;
    }
    if (len) sum += p[0];
    return csum_fold(sum);
}

// Sum of a 20-byte IPv4 header as five 32-bit words; 0xffff when its checksum is right.
inline uint16_t csum_ipv4_header(const void *hdr) {
    // Five separate word loads: copying the header to a local array first made the
    // compiler bounce it through a 16-byte stack store (a store-forwarding stall).
    const auto *p = static_cast<const uint8_t *>(hdr);
    auto word = [p](int i) {
        uint32_t v;
        __builtin_memcpy(&v, p + 4 * i, 4);
        return uint64_t(v);
    };
    uint64_t sum = word(0) + word(1) + word(2) + word(3) + word(4);
    sum = (sum >> 32) + (sum & 0xffffffff);
    sum = (sum >> 32) + (sum & 0xffffffff);
    return csum_fold(static_cast<uint32_t>(sum >> 16) + static_cast<uint32_t>(sum & 0xffff));
}

// The checksum field of an IPv4 header without options, from its fields (multi-byte ones
// in network order), without reading the header back: a header just written with stores
// of mixed widths and then summed from memory stalls on store forwarding (6->4: a third
// of the translation's time).
inline uint16_t csum_ipv4_fields(uint8_t tos, uint16_t total_be, uint16_t id_be, uint16_t frag_be, uint8_t ttl,
                                 uint8_t proto, uint32_t src_be, uint32_t dst_be) {
    auto pair = [](uint8_t a, uint8_t b) {
        uint8_t x[2] = {a, b};
        uint16_t w;
        __builtin_memcpy(&w, x, 2);
        return w;
    };
    uint32_t sum = uint32_t(pair(0x45, tos)) + total_be + id_be + frag_be + pair(ttl, proto);
    sum = csum_add32(csum_add32(sum, src_be), dst_be);
    return static_cast<uint16_t>(~csum_fold(sum));
}

} // namespace fulcrum::net
