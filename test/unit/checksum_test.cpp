#include "net/checksum.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <cstring>
#include <random>

using namespace fulcrum::net;

TEST_CASE("incremental update equals full recomputation for random rewrites (RFC 1624)", "[checksum]") {
    std::mt19937 rng(42);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t buf[40];
        for (auto &b : buf) b = static_cast<uint8_t>(rng());
        buf[10] = buf[11] = 0;
        uint16_t check = static_cast<uint16_t>(~csum_buffer(buf, sizeof buf));
        std::memcpy(buf + 10, &check, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);

        uint32_t old_a, old_b, new_a = rng(), new_b = rng();
        uint16_t old_p, new_p = static_cast<uint16_t>(rng());
        std::memcpy(&old_a, buf + 12, 4);
        std::memcpy(&old_b, buf + 16, 4);
        std::memcpy(&old_p, buf + 20, 2);
        uint32_t d = csum_replace16(csum_replace32(csum_replace32(0, old_a, new_a), old_b, new_b), old_p, new_p);
        std::memcpy(buf + 12, &new_a, 4);
        std::memcpy(buf + 16, &new_b, 4);
        std::memcpy(buf + 20, &new_p, 2);
        uint16_t updated = csum_apply(check, csum_fold(d));
        std::memcpy(buf + 10, &updated, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);

        // Applying the negated delta restores the original header and checksum.
        std::memcpy(buf + 12, &old_a, 4);
        std::memcpy(buf + 16, &old_b, 4);
        std::memcpy(buf + 20, &old_p, 2);
        uint16_t back = csum_apply(updated, csum_negate(csum_fold(d)));
        std::memcpy(buf + 10, &back, 2);
        REQUIRE(csum_buffer(buf, sizeof buf) == 0xffff);
    }
}

namespace {
// RFC 1071 written out plainly, 16-bit big-endian words: the reference the fast code is held to.
uint16_t reference_sum(const uint8_t *p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}
uint16_t as_big_endian(uint16_t memory_order) {
    uint8_t b[2];
    std::memcpy(b, &memory_order, 2);
    return static_cast<uint16_t>(b[0] << 8 | b[1]);
}
} // namespace

TEST_CASE("csum_buffer agrees with a known IPv4 header and with RFC 1071 written plainly", "[checksum]") {
    // A captured IPv4 header whose checksum field holds 0xb861 (a textbook example).
    const uint8_t hdr[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                             0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(csum_buffer(hdr, sizeof hdr) == 0xffff);
    uint8_t zeroed[20];
    std::memcpy(zeroed, hdr, sizeof hdr);
    zeroed[10] = zeroed[11] = 0;
    CHECK(as_big_endian(static_cast<uint16_t>(~csum_buffer(zeroed, sizeof zeroed))) == 0xb861);

    std::mt19937 rng(7);
    for (int iter = 0; iter < 5000; iter++) {
        uint8_t buf[64];
        size_t n = 2 * (1 + rng() % 32); // even lengths, as every header the data plane sums
        for (auto &b : buf) b = static_cast<uint8_t>(rng());
        REQUIRE(as_big_endian(csum_buffer(buf, n)) == reference_sum(buf, n));
    }
}

TEST_CASE("csum_ipv4_fields equals the checksum of the header those fields make", "[checksum]") {
    // The textbook header above, from its fields.
    uint16_t ck = csum_ipv4_fields(0x00, htons(0x73), 0, htons(0x4000), 0x40, 0x11, htonl(0xc0a80001), htonl(0xc0a800c7));
    CHECK(as_big_endian(ck) == 0xb861);
    std::mt19937 rng(9);
    for (int iter = 0; iter < 5000; iter++) {
        uint8_t h[20] = {0x45};
        for (int i = 1; i < 20; i++) h[i] = static_cast<uint8_t>(rng());
        h[10] = h[11] = 0;
        uint16_t total, id, frag;
        uint32_t src, dst;
        std::memcpy(&total, h + 2, 2), std::memcpy(&id, h + 4, 2), std::memcpy(&frag, h + 6, 2);
        std::memcpy(&src, h + 12, 4), std::memcpy(&dst, h + 16, 4);
        uint16_t got = csum_ipv4_fields(h[1], total, id, frag, h[8], h[9], src, dst);
        std::memcpy(h + 10, &got, 2);
        REQUIRE(csum_buffer(h, sizeof h) == 0xffff);
    }
}
