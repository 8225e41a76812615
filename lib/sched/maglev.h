// Weighted Maglev lookup table (Eisenbud et al., NSDI 2016) for the consistent-hash
// schedulers (sch: source IP, tch: 4-tuple).
//
// Each backend walks its own permutation of the M slots (offset and skip from two
// hashes of its key) and claims the next free slot on its turn. Weights give a backend
// that many turns per round (after dividing all weights by their gcd), so its share of
// slots is proportional to its weight. Removing a backend moves its own slots and only
// a few others. Built on the control side; a worker's pick is table[hash % M].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace fulcrum::sched {

constexpr uint32_t maglev_default_size = 65537; // prime

struct maglev_backend {
    std::string key; // stable identity, e.g. "10.0.0.21:8080"
    uint8_t weight;
};

// Returns M entries of backend indices; empty when every weight is 0. `m` must be prime.
std::vector<uint16_t> build_maglev(std::span<const maglev_backend> backends, uint32_t m = maglev_default_size);

bool is_prime(uint32_t n);

} // namespace fulcrum::sched
