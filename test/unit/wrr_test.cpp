#include "sched/wrr.h"

#include <catch2/catch.hpp>

#include <map>
#include <vector>

using namespace fulcrum::sched;

TEST_CASE("smooth wrr gives each backend exactly its weight per cycle", "[sched]") {
    std::vector<uint8_t> w{1, 2, 7, 0, 10};
    auto seq = build_smooth_wrr(w);
    REQUIRE(seq.size() == 20); // weights divided by gcd 1, zero weight excluded
    std::map<uint16_t, int> n;
    for (auto i : seq) n[i]++;
    CHECK(n[0] == 1);
    CHECK(n[1] == 2);
    CHECK(n[2] == 7);
    CHECK(n.count(3) == 0);
    CHECK(n[4] == 10);
}

TEST_CASE("wrr divides weights by their gcd", "[sched]") {
    std::vector<uint8_t> w{50, 100};
    CHECK(build_smooth_wrr(w) == std::vector<uint16_t>{1, 0, 1});
}

TEST_CASE("all weights zero leaves nothing to pick", "[sched]") {
    std::vector<uint8_t> w{0, 0};
    CHECK(build_smooth_wrr(w).empty());
    CHECK(build_rr(w).empty());
}

TEST_CASE("rr picks each positive-weight backend once", "[sched]") {
    std::vector<uint8_t> w{5, 0, 1};
    CHECK(build_rr(w) == std::vector<uint16_t>{0, 2});
}
