#include "sched/wrr.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
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
    CHECK(build_smooth_wrr(w) == std::vector<uint16_t>{0, 1, 1});
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

TEST_CASE("smooth wrr spreads a heavy backend: 5/1/1 never runs more than 3, across the cycle's end too", "[sched]") {
    std::vector<uint8_t> w{5, 1, 1};
    CHECK(build_smooth_wrr(w) == std::vector<uint16_t>{0, 0, 0, 1, 0, 0, 2});
    std::vector<uint8_t> equal{7, 7, 7, 7};
    CHECK(build_smooth_wrr(equal) == std::vector<uint16_t>{0, 1, 2, 3}); // plain round robin
}

namespace {
// The largest |picks of b in a window - window × share of b| over every backend and
// every cyclic window of the sequence.
double worst_window_error(const std::vector<uint16_t> &seq, const std::vector<uint8_t> &w) {
    uint32_t g = 0, total = 0;
    for (uint8_t x : w) g = std::gcd(g, uint32_t(x));
    for (uint8_t x : w) total += x / g;
    size_t n = seq.size();
    double worst = 0;
    for (uint16_t b = 0; b < w.size(); b++) {
        if (!w[b]) continue;
        double share = double(w[b] / g) / total;
        std::vector<int> before(2 * n + 1, 0);
        for (size_t i = 0; i < 2 * n; i++) before[i + 1] = before[i] + (seq[i % n] == b);
        for (size_t start = 0; start < n; start++)
            for (size_t len = 1; len <= n; len++)
                worst = std::max(worst, std::abs(before[start + len] - before[start] - double(len) * share));
    }
    return worst;
}
} // namespace

TEST_CASE("smooth wrr over 300 random weight sets: exact shares per cycle, every window within 3 picks of its share", "[sched]") {
    std::mt19937 rng(7);
    double worst = 0, sum = 0;
    int sets = 0;
    for (int c = 0; c < 300; c++) {
        std::vector<uint8_t> w(1 + rng() % 12);
        for (auto &x : w) x = static_cast<uint8_t>(c % 3 ? rng() % 101 : (rng() % 5) * 10);
        auto seq = build_smooth_wrr(w);
        uint32_t g = 0, total = 0;
        for (uint8_t x : w) g = std::gcd(g, uint32_t(x));
        if (!g) {
            CHECK(seq.empty());
            continue;
        }
        for (uint8_t x : w) total += x / g;
        REQUIRE(seq.size() == total);
        for (uint16_t b = 0; b < w.size(); b++)
            REQUIRE(std::count(seq.begin(), seq.end(), b) == w[b] / g);
        double e = worst_window_error(seq, w);
        CHECK(e < 3.0);
        worst = std::max(worst, e), sum += e, sets++;
    }
    std::printf("smooth wrr, %d random weight sets: worst window error %.2f picks, mean of the worst per set %.2f\n",
                sets, worst, sum / sets);
}

TEST_CASE("smooth wrr over 4,096 backends, weights 1-100: the whole cycle, built in O(cycle) (time printed)", "[sched]") {
    std::mt19937 rng(11);
    std::vector<uint8_t> w(4096);
    for (auto &x : w) x = static_cast<uint8_t>(1 + rng() % 100);
    auto t0 = std::chrono::steady_clock::now();
    auto seq = build_smooth_wrr(w);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    uint32_t total = 0;
    for (uint8_t x : w) total += x;
    REQUIRE(seq.size() == total);
    std::vector<uint32_t> n(w.size());
    for (uint16_t b : seq) n[b]++;
    for (size_t b = 0; b < w.size(); b++) REQUIRE(n[b] == w[b]);
    std::printf("smooth wrr: 4,096 backends, %u picks built in %.1f ms\n", total, ms);
}
