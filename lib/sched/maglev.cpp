#include "sched/maglev.h"

#include <numeric>

namespace fulcrum::sched {

namespace {
uint64_t hash64(const std::string &s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed; // FNV-1a, then a splitmix finaliser
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}
} // namespace

bool is_prime(uint32_t n) {
    if (n < 2) return false;
    for (uint32_t d = 2; uint64_t(d) * d <= n; d++)
        if (n % d == 0) return false;
    return true;
}

std::vector<uint16_t> build_maglev(std::span<const maglev_backend> backends, uint32_t m) {
    uint32_t g = 0;
    for (const auto &b : backends) g = std::gcd(g, uint32_t(b.weight));
    if (g == 0 || m < 2) return {};
    size_t n = backends.size();
    std::vector<uint32_t> pos(n), skip(n), turns(n);
    for (size_t i = 0; i < n; i++) {
        pos[i] = static_cast<uint32_t>(hash64(backends[i].key, 0x6d61676c) % m); // the offset
        skip[i] = static_cast<uint32_t>(hash64(backends[i].key, 0x65766d31) % (m - 1) + 1);
        turns[i] = backends[i].weight / g;
    }
    constexpr uint16_t empty = UINT16_MAX;
    std::vector<uint16_t> table(m, empty);
    uint32_t filled = 0;
    while (filled < m) {
        for (size_t i = 0; i < n && filled < m; i++) {
            for (uint32_t t = 0; t < turns[i] && filled < m; t++) {
                // Next slot of backend i's permutation that nobody holds yet.
                // (offset + j * skip) mod m, stepped without a division.
                uint32_t slot;
                do {
                    slot = pos[i];
                    pos[i] += skip[i];
                    if (pos[i] >= m) pos[i] -= m;
                } while (table[slot] != empty);
                table[slot] = static_cast<uint16_t>(i);
                filled++;
            }
        }
    }
    return table;
}

} // namespace fulcrum::sched
