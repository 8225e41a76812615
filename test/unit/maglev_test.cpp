#include "sched/maglev.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace fulcrum::sched;

namespace {
std::vector<maglev_backend> equal_backends(int n) {
    std::vector<maglev_backend> b;
    for (int i = 0; i < n; i++) b.push_back({"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":80", 100});
    return b;
}
std::vector<uint32_t> counts(const std::vector<uint16_t> &t, size_t n) {
    std::vector<uint32_t> c(n, 0);
    for (auto i : t) c[i]++;
    return c;
}
} // namespace

TEST_CASE("maglev spreads 65537 slots over 100 equal backends with max/mean <= 1.01", "[maglev]") {
    auto b = equal_backends(100);
    auto t = build_maglev(b);
    REQUIRE(t.size() == 65537);
    auto c = counts(t, b.size());
    double mean = 65537.0 / 100;
    double ratio = *std::max_element(c.begin(), c.end()) / mean;
    std::printf("maglev 100 equal backends: max/mean %.4f\n", ratio);
    CHECK(ratio <= 1.01);
}

TEST_CASE("removing one maglev backend moves its own slots and at most 2% of the others", "[maglev]") {
    auto b = equal_backends(100);
    auto before = build_maglev(b);
    b.erase(b.begin() + 42);
    auto after = build_maglev(b);
    size_t others = 0, moved = 0;
    for (size_t s = 0; s < before.size(); s++) {
        if (before[s] == 42) continue;
        others++;
        uint16_t old_idx = before[s] > 42 ? before[s] - 1 : before[s]; // same backend, new index
        if (after[s] != old_idx) moved++;
    }
    double pct = 100.0 * double(moved) / double(others);
    std::printf("maglev removal of 1 of 100: %.2f%% of the other backends' slots moved\n", pct);
    CHECK(pct <= 2.0);
    CHECK(*std::max_element(after.begin(), after.end()) < 99);
}

TEST_CASE("weighted maglev shares follow weights within 1 point", "[maglev]") {
    std::vector<maglev_backend> b{{"a:80", 1}, {"b:80", 2}, {"c:80", 7}, {"d:80", 0}};
    auto c = counts(build_maglev(b), b.size());
    CHECK(std::abs(100.0 * c[0] / 65537 - 10) <= 1.0);
    CHECK(std::abs(100.0 * c[1] / 65537 - 20) <= 1.0);
    CHECK(std::abs(100.0 * c[2] / 65537 - 70) <= 1.0);
    CHECK(c[3] == 0);
}

TEST_CASE("maglev with every weight zero has no table; sizes are prime", "[maglev]") {
    std::vector<maglev_backend> b{{"a:80", 0}};
    CHECK(build_maglev(b).empty());
    CHECK(is_prime(maglev_default_size));
    CHECK_FALSE(is_prime(65536));
}

TEST_CASE("maglev build time for 1,000 backends (printed, not asserted)", "[maglev][bench]") {
    auto b = equal_backends(1000);
    auto t0 = std::chrono::steady_clock::now();
    auto t = build_maglev(b);
    auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    std::printf("maglev build M=65537, 1000 backends: %.0f us\n", us);
    CHECK(t.size() == 65537);
}

TEST_CASE("maglev at the largest sizes: M=1,000,003 over 4,096 weighted backends (time printed, not asserted)", "[maglev][bench]") {
    std::vector<maglev_backend> b;
    for (int i = 0; i < 4096; i++) b.push_back({"10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":80", uint8_t(1 + i % 100)});
    auto t0 = std::chrono::steady_clock::now();
    auto t = build_maglev(b, 1000003);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("maglev build M=1000003, 4096 backends weighted 1-100: %.0f ms\n", ms);
    REQUIRE(t.size() == 1000003);
    std::vector<uint32_t> per(b.size());
    for (uint16_t x : t) per[x]++;
    CHECK(*std::min_element(per.begin(), per.end()) > 0); // every backend has slots
}
