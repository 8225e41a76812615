#include "sched/wrr.h"

#include <numeric>

namespace fulcrum::sched {

std::vector<uint16_t> build_smooth_wrr(std::span<const uint8_t> weights) {
    uint32_t g = 0;
    for (uint8_t w : weights) g = std::gcd(g, uint32_t(w));
    if (g == 0) return {};
    std::vector<int64_t> eff(weights.size()), cur(weights.size(), 0);
    int64_t total = 0;
    for (size_t i = 0; i < weights.size(); i++) {
        eff[i] = weights[i] / g;
        total += eff[i];
    }
    std::vector<uint16_t> seq;
    seq.reserve(static_cast<size_t>(total));
    for (int64_t n = 0; n < total; n++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < eff.size(); i++) {
            if (eff[i] == 0) continue;
            cur[i] += eff[i];
            if (best == SIZE_MAX || cur[i] > cur[best]) best = i;
        }
        cur[best] -= total;
        seq.push_back(static_cast<uint16_t>(best));
    }
    return seq;
}

std::vector<uint16_t> build_rr(std::span<const uint8_t> weights) {
    std::vector<uint16_t> seq;
    for (size_t i = 0; i < weights.size(); i++)
        if (weights[i] > 0) seq.push_back(static_cast<uint16_t>(i));
    return seq;
}

} // namespace fulcrum::sched
