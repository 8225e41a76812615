// The exception path: one kernel network interface (a net_tap port) per data-plane port,
// for the traffic the data plane does not handle itself.
//
//   kernel -> tap -> worker -> data port (sent unchanged: the tap has the port's MAC)
//   data port -> worker -> tap -> kernel, for: ARP replies (after the worker learned them),
//     packets to a port address (ssh, BGP, ping replies to the host), and packets to a
//     laddr whose destination port is in probe_port_range (replies to health probes) or
//     that are ICMP other than echo (port unreachable for UDP probes).
//
// The kernel side gets the port's address and prefix, and the laddrs of that port's
// subnet as /32s, so the health checker's sockets can bind to a laddr and reach the
// backends through Fulcrum's own ports. Each worker owns one rx and one tx queue of
// every tap.
#pragma once

#include "config/model.h"
#include "config/result.h"
#include "dataplane/snapshot.h"

#include <rte_mempool.h>

#include <string>

namespace fulcrum::dataplane {

// The kernel interface name of port i ("fx<i>-<name>", at most 15 characters).
std::string exception_ifname(const config::instance &cfg, size_t i);

// Create, start and configure the tap of port i; returns its DPDK port id.
config::result<uint16_t> create_exception_port(const config::instance &cfg, size_t i, const port_rt &data,
                                               rte_mempool *pool, uint32_t n_workers);
void remove_exception_port(const config::instance &cfg, size_t i, uint16_t port_id);

} // namespace fulcrum::dataplane
