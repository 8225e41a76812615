#include "laddr/laddr_pool.h"

#include <catch2/catch.hpp>

#include <set>

using namespace fulcrum::laddr;

TEST_CASE("workers own disjoint lport slices that cover the range", "[laddr]") {
    std::set<uint32_t> seen;
    size_t total = 0;
    for (uint32_t w = 0; w < 3; w++) {
        laddr_pool p(2, 1024, 2047, w, 3);
        uint32_t e;
        while (p.take(e)) {
            CHECK(owner_of_port(entry_port(e), 3) == w);
            CHECK(seen.insert(e).second);
            total++;
        }
    }
    CHECK(total == 2 * 1024);
}

TEST_CASE("ports come back in FIFO order and exhaustion is reported, not fatal", "[laddr]") {
    laddr_pool p(1, 1024, 1027, 0, 1);
    uint32_t a = 0, b = 0, e = 0;
    REQUIRE(p.take(a));
    REQUIRE(p.take(b));
    CHECK(entry_port(a) == 1024);
    CHECK(entry_port(b) == 1025);
    REQUIRE(p.take(e));
    REQUIRE(p.take(e));
    CHECK_FALSE(p.take(e));
    p.give(a);
    REQUIRE(p.take(e));
    CHECK(e == a);
}

TEST_CASE("consecutive takes rotate through the local addresses", "[laddr]") {
    laddr_pool p(3, 1024, 1100, 0, 1);
    uint32_t e = 0;
    for (uint32_t i = 0; i < 6; i++) {
        REQUIRE(p.take(e));
        CHECK(entry_laddr(e) == i % 3);
    }
}
