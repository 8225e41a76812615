// SYN cookies: a TCP initial sequence number that proves, when the client's ACK echoes
// it, that this tuple got our SYN-ACK within the last two minutes, and that carries the
// three facts of the client's SYN the proxy needs later (MSS, window scale, SACK).
//
//   bits 31..9  MAC: SipHash-2-4 (secret key) of the tuple, the client's ISN, the time
//               slot (64 s) and bits 8..0
//   bit  8      parity of the time slot (so checking needs one hash, not two)
//   bit  7      SACK permitted
//   bits 6..3   window scale + 1 (0: the client sent none)
//   bits 2..0   index into mss_table (largest entry not above the client's MSS)
//
// A forged ACK passes with probability 2^-23. Timestamps are not encoded: a proxied
// connection runs without them (the SYN-ACK does not offer them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <optional>

namespace fulcrum::net {

// SipHash-2-4 (Aumasson and Bernstein), 128-bit key, 64-bit result.
inline uint64_t siphash24(const std::array<uint8_t, 16> &key, const void *data, size_t len) {
    auto rotl = [](uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
    uint64_t k0, k1;
    std::memcpy(&k0, key.data(), 8);
    std::memcpy(&k1, key.data() + 8, 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    auto round = [&] {
        v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
        v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
        v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
        v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
    };
    const auto *p = static_cast<const uint8_t *>(data);
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t m;
        std::memcpy(&m, p + 8 * i, 8); // little-endian hosts only (x86, arm64)
        v3 ^= m, round(), round(), v0 ^= m;
    }
    uint64_t last = uint64_t(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++) last |= uint64_t(p[8 * words + i]) << (8 * i);
    v3 ^= last, round(), round(), v0 ^= last;
    v2 ^= 0xff;
    round(), round(), round(), round();
    return v0 ^ v1 ^ v2 ^ v3;
}

struct cookie_options {
    uint16_t mss = 536;
    int8_t wscale = -1; // -1: none offered
    bool sack = false;
    bool operator==(const cookie_options &) const = default;
};

class syn_cookies {
  public:
    // The MSS values a cookie can carry (3 bits): IPv4's, and IPv6's (40-byte headers:
    // 1280 - 60 is the least an IPv6 path carries, 1432 PPPoE, 1440 Ethernet, 8940 jumbo).
    static constexpr std::array<uint16_t, 8> mss_table = {536, 1200, 1300, 1360, 1400, 1440, 1460, 8960};
    static constexpr std::array<uint16_t, 8> mss_table6 = {1220, 1280, 1340, 1380, 1420, 1432, 1440, 8940};
    static constexpr uint32_t slot_seconds = 64;

    explicit syn_cookies(const std::array<uint8_t, 16> &key) : _key(key) {}

    // Addresses and the port word as they sit in the client's SYN (network order);
    // `client_isn` and `now_s` in host order.
    uint32_t make(uint32_t saddr, uint32_t daddr, uint32_t ports, uint32_t client_isn, uint32_t now_s,
                  const cookie_options &o) const {
        uint32_t t[3] = {saddr, daddr, ports};
        return make_over(t, 3, mss_table, client_isn, now_s, o);
    }
    // The options of a cookie made for this tuple and ISN in the current or previous
    // slot, or nothing.
    std::optional<cookie_options> check(uint32_t saddr, uint32_t daddr, uint32_t ports, uint32_t client_isn,
                                        uint32_t cookie, uint32_t now_s) const {
        uint32_t t[3] = {saddr, daddr, ports};
        return check_over(t, 3, mss_table, client_isn, cookie, now_s);
    }
    // The same over an IPv6 tuple (16-byte addresses), with the IPv6 MSS table.
    uint32_t make6(const uint8_t *saddr, const uint8_t *daddr, uint32_t ports, uint32_t client_isn, uint32_t now_s,
                   const cookie_options &o) const {
        uint32_t t[9];
        tuple6(t, saddr, daddr, ports);
        return make_over(t, 9, mss_table6, client_isn, now_s, o);
    }
    std::optional<cookie_options> check6(const uint8_t *saddr, const uint8_t *daddr, uint32_t ports, uint32_t client_isn,
                                         uint32_t cookie, uint32_t now_s) const {
        uint32_t t[9];
        tuple6(t, saddr, daddr, ports);
        return check_over(t, 9, mss_table6, client_isn, cookie, now_s);
    }

  private:
    using table = std::array<uint16_t, 8>;
    static void tuple6(uint32_t *t, const uint8_t *saddr, const uint8_t *daddr, uint32_t ports) {
        std::memcpy(t, saddr, 16);
        std::memcpy(t + 4, daddr, 16);
        t[8] = ports;
    }
    uint32_t make_over(const uint32_t *tuple, unsigned n, const table &mss, uint32_t client_isn, uint32_t now_s,
                       const cookie_options &o) const {
        uint32_t mss_index = 0;
        for (uint32_t i = 0; i < mss.size(); i++)
            if (mss[i] <= o.mss) mss_index = i;
        uint32_t ws = o.wscale < 0 ? 0 : uint32_t(std::min<int>(o.wscale, 14) + 1);
        uint32_t slot = now_s / slot_seconds;
        uint32_t low = (slot & 1) << 8 | uint32_t(o.sack) << 7 | ws << 3 | mss_index;
        return mac(tuple, n, client_isn, slot, low) << 9 | low;
    }
    std::optional<cookie_options> check_over(const uint32_t *tuple, unsigned n, const table &mss, uint32_t client_isn,
                                             uint32_t cookie, uint32_t now_s) const {
        uint32_t low = cookie & 0x1ff;
        uint32_t slot = now_s / slot_seconds;
        if ((slot & 1) != (low >> 8)) slot--; // made in the previous slot
        if (mac(tuple, n, client_isn, slot, low) != cookie >> 9) return std::nullopt;
        cookie_options o;
        o.mss = mss[low & 7];
        uint32_t ws = (low >> 3) & 0xf;
        o.wscale = ws == 0 ? -1 : static_cast<int8_t>(ws - 1);
        o.sack = (low >> 7) & 1;
        return o;
    }
    // Over the tuple's words, the ISN, the slot and the low bits (an IPv4 tuple hashes
    // exactly the 24 bytes it always did).
    uint32_t mac(const uint32_t *tuple, unsigned n, uint32_t isn, uint32_t slot, uint32_t low) const {
        uint32_t words[12];
        std::memcpy(words, tuple, n * 4);
        words[n] = isn, words[n + 1] = slot, words[n + 2] = low;
        return static_cast<uint32_t>(siphash24(_key, words, (n + 3) * 4)) & 0x7fffff;
    }
    std::array<uint8_t, 16> _key;
};

} // namespace fulcrum::net
