// Maglev table build time on the control side: M entries, N backends, best and median of
// `rounds` builds. Weighted (weights 1-100) beside equal weights, which is the paper's
// unweighted algorithm (one turn each per round): the cost weights add.
//
//   maglev_bench [M] [N] [rounds]     (defaults 65537 1000 50)
#include "sched/maglev.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace fulcrum::sched;

namespace {
std::vector<double> time_builds(const std::vector<maglev_backend> &b, uint32_t m, int rounds) {
    std::vector<double> ms;
    for (int r = 0; r < rounds; r++) {
        auto t0 = std::chrono::steady_clock::now();
        auto table = build_maglev(b, m);
        auto t1 = std::chrono::steady_clock::now();
        if (table.size() != m) std::abort();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms;
}
} // namespace

int main(int argc, char **argv) {
    uint32_t m = argc > 1 ? uint32_t(std::atoi(argv[1])) : maglev_default_size;
    unsigned n = argc > 2 ? unsigned(std::atoi(argv[2])) : 1000;
    int rounds = argc > 3 ? std::atoi(argv[3]) : 50;
    if (!is_prime(m) || n == 0 || n > m || rounds < 1) {
        std::fprintf(stderr, "maglev_bench: M must be prime, 0 < N <= M, rounds >= 1\n");
        return 2;
    }
    std::vector<maglev_backend> equal, weighted;
    for (unsigned i = 0; i < n; i++) {
        std::string key = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1:8080";
        equal.push_back({key, 100});
        weighted.push_back({key, uint8_t(1 + (i * 37) % 100)});
    }
    auto e = time_builds(equal, m, rounds), w = time_builds(weighted, m, rounds);
    std::printf("maglev build M=%u N=%u (%d rounds): equal weights best %.3f ms median %.3f ms; "
                "weights 1-100 best %.3f ms median %.3f ms\n",
                m, n, rounds, e.front(), e[e.size() / 2], w.front(), w[w.size() / 2]);
    std::printf("maglev-json: {\"m\":%u,\"backends\":%u,\"equal_best_ms\":%.4f,\"equal_median_ms\":%.4f,"
                "\"weighted_best_ms\":%.4f,\"weighted_median_ms\":%.4f}\n",
                m, n, e.front(), e[e.size() / 2], w.front(), w[w.size() / 2]);
    return 0;
}
