// Address text of both families: every form RFC 4291 2.2 allows on input, RFC 5952's
// canonical form on output (its own examples, then random addresses against glibc's
// inet_ntop, which follows it), prefixes, and the refusals.
#include "net/addr.h"

#include <arpa/inet.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

using namespace fulcrum::net;

namespace {
std::string canon(const char *text) {
    auto a = parse_ip(text);
    return a ? format_ip(*a) : std::string("<refused>");
}
} // namespace

TEST_CASE("IPv6 text: RFC 4291 forms in, RFC 5952 out", "[addr]") {
    // RFC 5952 section 4: leading zeros dropped, the longest run of zero groups as "::"
    // (the first of equal runs), a single zero group kept, lower case.
    CHECK(canon("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1");
    CHECK(canon("2001:db8:0:0:0:0:2:1") == "2001:db8::2:1");
    CHECK(canon("2001:db8::0:1") == "2001:db8::1");
    CHECK(canon("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");
    CHECK(canon("2001:0:0:1:0:0:0:1") == "2001:0:0:1::1");
    CHECK(canon("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");
    CHECK(canon("2001:DB8::AbCd") == "2001:db8::abcd");
    CHECK(canon("1::") == "1::");
    CHECK(canon("fe80::1") == "fe80::1");
    CHECK(canon("1:2:3:4:5:6:7:8") == "1:2:3:4:5:6:7:8");
    CHECK(canon("0:0:0:0:0:0:0:1") == "::1");
    CHECK(canon("::") == "::");
    // A dotted-quad tail (RFC 4291 2.2 form 3) is read; printed in hex unless mapped.
    CHECK(canon("64:ff9b::192.0.2.33") == "64:ff9b::c000:221");
    CHECK(canon("::ffff:10.0.0.1") == "10.0.0.1"); // IPv4-mapped: that IPv4 address
    CHECK(canon("::FFFF:a00:1") == "10.0.0.1");
    CHECK(canon("10.0.0.1") == "10.0.0.1");

    // Refused: bad syntax, too many groups, two "::", zone indexes, prefixes, spaces.
    for (const char *bad : {"2001:db8::1::1", "2001:db8:::1", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
                            "fe80::1%eth0", "g::1", "::ffff:10.0.0.256", "", " 2001:db8::1", "2001:db8::1 ",
                            "2001:db8::1/64", "[2001:db8::1]", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", ":", ":::",
                            "1:2:3:4:5:6:7::8:9", "2001:db8::1:10.0.0.1:1"})
        CHECK_FALSE(parse_ip(bad));
    std::string longest(46, '0');
    CHECK_FALSE(parse_ip(longest));
}

TEST_CASE("IPv6 text: 20,000 random addresses print as inet_ntop does and read back", "[addr]") {
    std::mt19937 rng(20261202);
    unsigned compared = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t b[16];
        // Groups are zero often, so runs of every length and position occur.
        for (int g = 0; g < 8; g++) {
            uint16_t v = rng() % 3 == 0 ? 0 : static_cast<uint16_t>(rng() >> (rng() % 16));
            b[2 * g] = static_cast<uint8_t>(v >> 8), b[2 * g + 1] = static_cast<uint8_t>(v);
        }
        ip_addr a = ip_addr::from_v6(b);
        std::string text = format_ip(a);
        auto back = parse_ip(text);
        REQUIRE(back);
        CHECK(*back == a);
        // glibc prints a dotted tail when the first 96 bits are zero or IPv4-mapped (::ffff:
        // is IPv4 here): compare the rest.
        bool zero96 = true;
        for (int k = 0; k < 12; k++) zero96 = zero96 && b[k] == 0;
        bool zero80_ffff = zero96 || (b[10] == 0xff && b[11] == 0xff && std::all_of(b, b + 10, [](uint8_t x) { return x == 0; }));
        if (zero80_ffff) continue;
        char lib[INET6_ADDRSTRLEN];
        REQUIRE(inet_ntop(AF_INET6, b, lib, sizeof lib));
        CHECK(text == lib);
        compared++;
    }
    CHECK(compared > 19000);
}

TEST_CASE("addresses of both families: kinds, prefixes, endpoints", "[addr]") {
    ip_addr v4 = *parse_ip("10.1.2.3"), v6 = *parse_ip("2001:db8:1:2::3");
    CHECK(v4.is_v4());
    CHECK(v4.v4() == 0x0a010203);
    CHECK_FALSE(v4.is_v6());
    CHECK(v6.is_v6());
    CHECK(v6.v4() == 0);
    CHECK(ip_addr{}.none());
    CHECK_FALSE(ip_addr::from_v4(0).none()); // 0.0.0.0 is an IPv4 value, not "none"
    CHECK(v4 < v6);
    CHECK(format_endpoint(v4, 80) == "10.1.2.3:80");
    CHECK(format_endpoint(v6, 80) == "[2001:db8:1:2::3]:80");
    CHECK(is_link_local(*parse_ip("fe80::1")));
    CHECK(is_link_local(*parse_ip("febf::1")));
    CHECK_FALSE(is_link_local(*parse_ip("fec0::1")));

    auto p = parse_prefix("2001:db8:1::/48");
    REQUIRE(p);
    CHECK(p->len == 48);
    CHECK(p->contains(v6));
    CHECK_FALSE(p->contains(*parse_ip("2001:db8:2::3")));
    CHECK_FALSE(p->contains(v4)); // another family never matches
    CHECK(format_prefix({masked(*parse_ip("2001:db8:1:2:3:4:5:6"), 61), 61}) == "2001:db8:1::/61");
    CHECK(format_prefix({masked(*parse_ip("2001:db8:1:2:3:4:5:6"), 0), 0}) == "::/0");
    CHECK(format_prefix({masked(v4, 20), 20}) == "10.1.0.0/20");
    CHECK(ip_prefix{masked(v4, 0), 0}.contains(*parse_ip("192.0.2.1")));
    CHECK_FALSE(ip_prefix{masked(v4, 0), 0}.contains(v6));
    CHECK(parse_prefix("2001:db8::1")->len == 128);
    CHECK(parse_prefix("10.0.0.1")->len == 32);
    for (const char *bad : {"2001:db8::/129", "10.0.0.0/33", "2001:db8::/", "2001:db8::/032", "2001:db8::/-1",
                            "2001:db8::/6x", "/64", "2001:db8::/1/2"})
        CHECK_FALSE(parse_prefix(bad));
}
