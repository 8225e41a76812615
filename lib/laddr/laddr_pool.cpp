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
        laddr_fifos lf{static_cast<uint32_t>(_fifos.size()), buckets > 1 ? buckets : 1};
        // Each fifo's lports in ascending order.
        std::vector<std::vector<uint16_t>> by_fifo(lf.buckets);
        for (uint32_t p = port_min; p <= port_max; p++) {
            auto lport = static_cast<uint16_t>(p);
            if (lf.buckets > 1) by_fifo[bucket_of(lport, lf.buckets)].push_back(lport);
            else if (owner_of_port(lport, n_workers) == worker) by_fifo[0].push_back(lport);
        }
        for (const auto &ports : by_fifo) {
            uint32_t n = static_cast<uint32_t>(ports.size());
            _fifos.push_back({static_cast<uint32_t>(_store.size()), n, 0, n});
            _store.insert(_store.end(), ports.begin(), ports.end());
        }
        _laddrs.push_back(lf);
    }
    _free = _store.size();
}

} // namespace fulcrum::laddr
