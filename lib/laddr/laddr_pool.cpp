#include "laddr/laddr_pool.h"

#include "net/toeplitz.h"

#include <arpa/inet.h>

namespace fulcrum::laddr {

laddr_pool::laddr_pool(const std::vector<uint32_t> &rss_buckets, uint16_t port_min, uint16_t port_max,
                       uint32_t worker, uint32_t n_workers, const std::vector<bool> &v6)
    : _port_min(port_min) {
    auto is_v6 = [&](size_t l) { return l < v6.size() && v6[l]; };
    bool rss6 = false;
    for (size_t l = 0; l < rss_buckets.size(); l++) rss6 |= rss_buckets[l] > 1 && is_v6(l);
    for (uint32_t p = port_min; p <= port_max; p++) {
        uint16_t port_be = htons(static_cast<uint16_t>(p));
        _lport_bits.push_back(static_cast<uint16_t>(net::port_part(port_be)));
        if (rss6) _lport_bits6.push_back(static_cast<uint16_t>(net::port_part6(port_be)));
    }
    for (size_t l = 0; l < rss_buckets.size(); l++) {
        uint32_t buckets = rss_buckets[l];
        laddr_rotations lr{static_cast<uint32_t>(_rotations.size()), buckets > 1 ? buckets : 1, 0, buckets > 1 && is_v6(l)};
        // Each rotation's lports in ascending order.
        std::vector<std::vector<uint16_t>> by_bucket(lr.buckets);
        for (uint32_t p = port_min; p <= port_max; p++) {
            auto lport = static_cast<uint16_t>(p);
            if (lr.buckets > 1) by_bucket[bucket_of(lport, lr.buckets, lr.v6)].push_back(lport);
            else if (owner_of_port(lport, n_workers) == worker) by_bucket[0].push_back(lport);
        }
        for (const auto &ports : by_bucket) {
            _rotations.push_back({static_cast<uint32_t>(_store.size()), static_cast<uint32_t>(ports.size()), 0});
            _store.insert(_store.end(), ports.begin(), ports.end());
            lr.ports += static_cast<uint32_t>(ports.size());
        }
        _laddrs.push_back(lr);
    }
    // FNV-1a over the range, each rotation's size and its lports.
    auto mix = [this](uint64_t v) { _layout = (_layout ^ v) * 0x100000001b3ull; };
    _layout = 0xcbf29ce484222325ull;
    mix(port_min), mix(port_max), mix(_rotations.size());
    for (const rotation &r : _rotations) mix(r.size);
    for (uint16_t p : _store) mix(p);
}

std::vector<uint32_t> laddr_pool::cursors() const {
    std::vector<uint32_t> at;
    at.reserve(_rotations.size());
    for (const rotation &r : _rotations) at.push_back(__atomic_load_n(&r.at, __ATOMIC_RELAXED));
    return at;
}

void laddr_pool::resume(const std::vector<uint32_t> &at, const std::vector<uint32_t> &skip) {
    for (size_t i = 0; i < _rotations.size() && i < at.size(); i++) {
        rotation &r = _rotations[i];
        if (r.size) r.at = uint32_t((uint64_t(at[i]) + (i < skip.size() ? skip[i] : 0)) % r.size);
    }
}

void laddr_pool::scatter(uint64_t seed) {
    for (rotation &r : _rotations) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; // xorshift64
        if (r.size) r.at = uint32_t(seed % r.size);
    }
}

} // namespace fulcrum::laddr
