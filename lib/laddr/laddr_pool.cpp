#include "laddr/laddr_pool.h"

#include "net/toeplitz.h"

#include <arpa/inet.h>

namespace fulcrum::laddr {

laddr_pool::laddr_pool(const std::vector<uint32_t> &rss_buckets, uint16_t port_min, uint16_t port_max,
                       uint32_t worker, uint32_t n_workers)
    : _port_min(port_min) {
    for (uint32_t p = port_min; p <= port_max; p++)
        _lport_bits.push_back(static_cast<uint16_t>(net::port_part(htons(static_cast<uint16_t>(p)))));
    for (uint32_t buckets : rss_buckets) {
        laddr_rotations lr{static_cast<uint32_t>(_rotations.size()), buckets > 1 ? buckets : 1, 0};
        // Each rotation's lports in ascending order.
        std::vector<std::vector<uint16_t>> by_bucket(lr.buckets);
        for (uint32_t p = port_min; p <= port_max; p++) {
            auto lport = static_cast<uint16_t>(p);
            if (lr.buckets > 1) by_bucket[bucket_of(lport, lr.buckets)].push_back(lport);
            else if (owner_of_port(lport, n_workers) == worker) by_bucket[0].push_back(lport);
        }
        for (const auto &ports : by_bucket) {
            _rotations.push_back({static_cast<uint32_t>(_store.size()), static_cast<uint32_t>(ports.size()), 0});
            _store.insert(_store.end(), ports.begin(), ports.end());
            lr.ports += static_cast<uint32_t>(ports.size());
        }
        _laddrs.push_back(lr);
    }
}

} // namespace fulcrum::laddr
