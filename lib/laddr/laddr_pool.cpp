#include "laddr/laddr_pool.h"

namespace fulcrum::laddr {

laddr_pool::laddr_pool(uint32_t n_laddrs, uint16_t port_min, uint16_t port_max, uint32_t worker,
                       uint32_t n_workers) {
    // Port-major order: consecutive takes rotate through the laddrs first.
    for (uint32_t p = port_min; p <= port_max; p++) {
        if (owner_of_port(static_cast<uint16_t>(p), n_workers) != worker) continue;
        for (uint32_t l = 0; l < n_laddrs; l++) _ring.push_back(make_entry(l, static_cast<uint16_t>(p)));
    }
    _count = _ring.size();
}

} // namespace fulcrum::laddr
