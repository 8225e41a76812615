// Port and queue set-up from plain parameters: a data port with one tx queue per worker
// and up to one rx queue per worker (RSS when there are several), and the net_tap
// ports of the exception path. The kernel side of a tap (addresses, routes) is the
// control side's (deploy/host_if.h).
#pragma once

#include "core/result.h"
#include "dataplane/snapshot.h"

#include <rte_mempool.h>

#include <string>
#include <vector>

namespace fulcrum::dataplane {

struct port_params {
    std::string field;  // what errors name, e.g. "ports[0]"
    std::string device; // EAL device name
    uint32_t ip = 0, mask = 0, gateway = 0; // network order
    uint16_t mtu = 1500;
    // Reply steering with several workers: try rss (then flow, then redirect), take
    // emulated as given, or go straight to redirect.
    enum class want : uint8_t { automatic, emulated, redirect } steer = want::automatic;
    std::vector<uint32_t> laddrs; // network order: the local addresses of this port (flow rules)
    std::string *steer_note = nullptr; // if set: why the port steers as it does
};

result<port_rt> start_port(const port_params &p, rte_mempool *pool, uint32_t n_workers);
// The mbuf data room (headroom included) a pool needs for ports of MTU up to `max_mtu`.
uint16_t mbuf_data_room(uint16_t max_mtu);
// Number of rx queues start_port gave the port (they are dealt to workers).
uint16_t rx_queue_count(uint16_t port_id, uint32_t n_workers);

// The tap of data port `index` (kernel interface `ifname`, the port's MAC), one queue
// pair per worker; returns its DPDK port id.
result<uint16_t> start_tap(size_t index, const std::string &field, const std::string &ifname,
                           const rte_ether_addr &mac, rte_mempool *pool, uint32_t n_workers);
void remove_tap(size_t index, uint16_t port_id);

} // namespace fulcrum::dataplane
