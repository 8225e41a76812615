#include "config/capacity.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace fulcrum::config {

namespace {
std::string grouped(uint64_t v) {
    std::string s = std::to_string(v);
    for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
    return s;
}
} // namespace

capacity capacity_of(const instance &cfg, uint32_t workers) {
    capacity c{};
    c.held = uint64_t(std::max<uint32_t>(1, workers)) * cfg.conn_capacity;
    // Each port's laddrs serve the backends behind it; the smallest pool bounds a backend.
    std::map<size_t, uint64_t> per_port;
    for (const local_address &l : local_addresses_by_port(cfg)) per_port[l.port]++;
    uint64_t smallest = 0;
    for (const auto &[port, n] : per_port) smallest = smallest ? std::min(smallest, n) : n;
    uint64_t lports = uint64_t(cfg.lport_max) - cfg.lport_min + 1;
    c.tuples_per_bport = std::min(c.held, smallest * lports);
    double tw = std::max<uint32_t>(1, cfg.timeouts.time_wait);
    c.table_cps = double(c.held) / tw;
    c.bport_cps = double(c.tuples_per_bport) / tw;
    return c;
}

std::string describe(const capacity &c, const instance &cfg, uint32_t workers) {
    workers = std::max<uint32_t>(1, workers);
    uint64_t lports = uint64_t(cfg.lport_max) - cfg.lport_min + 1;
    uint64_t laddrs = lports ? c.tuples_per_bport / lports : 0;
    return grouped(c.held) + " connections (" + std::to_string(workers) + " worker(s) x " + grouped(cfg.conn_capacity) +
           "); " + grouped(c.tuples_per_bport) + " at once toward each backend port (" + grouped(laddrs) +
           " laddr(s) x " + grouped(lports) + " lports); " + grouped(uint64_t(std::llround(c.bport_cps))) +
           " new/s per backend port and " + grouped(uint64_t(std::llround(c.table_cps))) +
           "/s in all with every TIME_WAIT kept " + std::to_string(cfg.timeouts.time_wait) +
           " s (past that, finished connections give way early)";
}

} // namespace fulcrum::config
