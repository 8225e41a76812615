#include "net/syn_cookie.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

using namespace fulcrum::net;

namespace {
std::array<uint8_t, 16> counting_key() {
    std::array<uint8_t, 16> k;
    for (int i = 0; i < 16; i++) k[i] = uint8_t(i);
    return k;
}
} // namespace

TEST_CASE("siphash24 gives the reference vectors of the SipHash paper", "[cookie]") {
    uint8_t msg[15];
    for (int i = 0; i < 15; i++) msg[i] = uint8_t(i);
    CHECK(siphash24(counting_key(), msg, 0) == 0x726fdb47dd0e0e31ull);
    CHECK(siphash24(counting_key(), msg, 15) == 0xa129ca6149be45e5ull);
}

TEST_CASE("a cookie checks for its own tuple and ISN and gives back the SYN's options", "[cookie]") {
    syn_cookies c(counting_key());
    const uint32_t s = 0x3200000a, d = 0x0a00000a, ports = 0x50004e20, isn = 123456789;
    for (cookie_options o : {cookie_options{1460, 7, true}, cookie_options{536, -1, false},
                             cookie_options{8960, 14, true}, cookie_options{1400, 0, false}}) {
        uint32_t k = c.make(s, d, ports, isn, 1000, o);
        auto back = c.check(s, d, ports, isn, k, 1000);
        REQUIRE(back);
        CHECK(*back == o);
    }
    uint32_t k = c.make(s, d, ports, isn, 1000, {1460, 7, true});
    CHECK_FALSE(c.check(s ^ 1, d, ports, isn, k, 1000));    // another client
    CHECK_FALSE(c.check(s, d, ports ^ 1, isn, k, 1000));    // another port
    CHECK_FALSE(c.check(s, d, ports, isn + 1, k, 1000));    // another ISN
    CHECK_FALSE(c.check(s, d, ports, isn, k ^ 0x80, 1000)); // options tampered with
    CHECK_FALSE(syn_cookies({}).check(s, d, ports, isn, k, 1000)); // another secret
}

TEST_CASE("a cookie lives for one to two 64-second slots", "[cookie]") {
    syn_cookies c(counting_key());
    // Made at the very end of slot 15 (1023 s): valid through slot 16, not 17.
    uint32_t k = c.make(1, 2, 3, 4, 1023, {});
    CHECK(c.check(1, 2, 3, 4, k, 1023));
    CHECK(c.check(1, 2, 3, 4, k, 1024 + 63));
    CHECK_FALSE(c.check(1, 2, 3, 4, k, 1024 + 64));
}

TEST_CASE("MSS is rounded down to the table and options outside it are clamped", "[cookie]") {
    syn_cookies c(counting_key());
    auto roundtrip = [&](cookie_options o) { return *c.check(1, 2, 3, 4, c.make(1, 2, 3, 4, 0, o), 0); };
    CHECK(roundtrip({1459, -1, false}).mss == 1440);
    CHECK(roundtrip({9000, -1, false}).mss == 8960);
    CHECK(roundtrip({100, -1, false}).mss == 536);
    CHECK(roundtrip({1460, 20, false}).wscale == 14);
}

TEST_CASE("random ACKs almost never pass (2^-23 each)", "[cookie]") {
    syn_cookies c(counting_key());
    std::mt19937 rng(7);
    unsigned passed = 0;
    for (int i = 0; i < 1000000; i++)
        if (c.check(rng(), rng(), rng(), rng(), rng(), 5000)) passed++;
    // Expected 0.12; more than 3 would happen once in ~40,000 runs.
    CHECK(passed <= 3);
}

TEST_CASE("IPv6 cookies: the 36-byte tuple is what they prove, and MSS rounds down IPv6's table", "[cookie][ipv6]") {
    syn_cookies c(counting_key());
    uint8_t s[16] = {0x20, 0x01, 0x0d, 0xb8}, d[16] = {0x20, 0x01, 0x0d, 0xb8};
    s[15] = 0x50, d[15] = 0x10;
    const uint32_t ports = 0x50004e20, isn = 987654321;
    for (cookie_options o : {cookie_options{1440, 7, true}, cookie_options{1220, -1, false},
                             cookie_options{8940, 14, true}, cookie_options{1432, 0, false}}) {
        uint32_t k = c.make6(s, d, ports, isn, 1000, o);
        auto back = c.check6(s, d, ports, isn, k, 1000);
        REQUIRE(back);
        CHECK(*back == o);
    }
    uint32_t k = c.make6(s, d, ports, isn, 1000, {1440, 7, true});
    for (int byte = 0; byte < 16; byte++) { // any bit of either address
        uint8_t s2[16], d2[16];
        std::memcpy(s2, s, 16), std::memcpy(d2, d, 16);
        s2[byte] ^= 0x40, d2[byte] ^= 0x02;
        CHECK_FALSE(c.check6(s2, d, ports, isn, k, 1000));
        CHECK_FALSE(c.check6(s, d2, ports, isn, k, 1000));
    }
    CHECK_FALSE(c.check6(s, d, ports ^ 1, isn, k, 1000));
    CHECK_FALSE(c.check6(s, d, ports, isn + 1, k, 1000));
    // An IPv4 check of the same words never takes it (another tuple length).
    uint32_t s4, d4;
    std::memcpy(&s4, s, 4), std::memcpy(&d4, d, 4);
    CHECK_FALSE(c.check(s4, d4, ports, isn, k, 1000));
    auto roundtrip = [&](cookie_options o) { return *c.check6(s, d, 3, 4, c.make6(s, d, 3, 4, 0, o), 0); };
    CHECK(roundtrip({1460, -1, false}).mss == 1440); // an IPv4-sized MSS from a confused client
    CHECK(roundtrip({1439, -1, false}).mss == 1432);
    CHECK(roundtrip({1280, -1, false}).mss == 1280);
    CHECK(roundtrip({536, -1, false}).mss == 1220); // below IPv6's least: IPv6's least
    CHECK(roundtrip({9000, -1, false}).mss == 8940);
}
