#include "sched/wrr.h"

#include <algorithm>
#include <numeric>

namespace fulcrum::sched {

std::vector<uint16_t> build_smooth_wrr(std::span<const uint8_t> weights) {
    uint32_t g = 0;
    for (uint8_t w : weights) g = std::gcd(g, uint32_t(w));
    if (g == 0) return {};
    // The j-th of n backends (weight > 0) has its k-th pick of the cycle at time
    // (k + phase_j) / w_j, phase_j = (2j + 1) / 2n: one backend's picks evenly spaced,
    // the backends' phases staggered. A time is a fraction num / den, compared exactly.
    uint32_t total = 0, n = 0;
    for (uint8_t w : weights)
        if (w) total += w / g, n++;
    struct pick {
        uint32_t num, den;
        uint16_t backend;
    };
    // Counting sort by floor(time × total): one pass to size the buckets, one to fill
    // them; a bucket holds about one pick, sorted exactly. O(total + backends).
    std::vector<uint32_t> bucket_end(total + 1, 0);
    auto bucket_of = [&](uint64_t num, uint64_t den) { return static_cast<uint32_t>(num * total / den); };
    auto for_each_pick = [&](auto &&fn) {
        for (uint32_t i = 0, j = 0; i < weights.size(); i++) {
            uint32_t w = weights[i] / g;
            if (!w) continue;
            for (uint32_t k = 0; k < w; k++) fn(pick{2 * n * k + 2 * j + 1, 2 * n * w, static_cast<uint16_t>(i)});
            j++;
        }
    };
    for_each_pick([&](const pick &p) { bucket_end[bucket_of(p.num, p.den) + 1]++; });
    std::partial_sum(bucket_end.begin(), bucket_end.end(), bucket_end.begin());
    std::vector<uint32_t> next(bucket_end.begin(), bucket_end.end() - 1);
    std::vector<pick> picks(total);
    for_each_pick([&](const pick &p) { picks[next[bucket_of(p.num, p.den)]++] = p; });
    auto earlier = [](const pick &a, const pick &b) {
        uint64_t l = uint64_t(a.num) * b.den, r = uint64_t(b.num) * a.den;
        return l != r ? l < r : a.backend < b.backend;
    };
    for (uint32_t b = 0; b < total; b++)
        if (bucket_end[b + 1] - bucket_end[b] > 1)
            std::sort(picks.begin() + bucket_end[b], picks.begin() + bucket_end[b + 1], earlier);
    std::vector<uint16_t> seq(total);
    for (uint32_t n = 0; n < total; n++) seq[n] = picks[n].backend;
    return seq;
}

std::vector<uint16_t> build_rr(std::span<const uint8_t> weights) {
    std::vector<uint16_t> seq;
    for (size_t i = 0; i < weights.size(); i++)
        if (weights[i] > 0) seq.push_back(static_cast<uint16_t>(i));
    return seq;
}

} // namespace fulcrum::sched
