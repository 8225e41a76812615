#include "net/syn_cookie.h"

#include <catch2/catch.hpp>

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
