// The kernel side of the exception path: each data port's tap ("fx<i>-<name>") gets the
// port's MTU, address and prefix, and the laddrs of that port's subnet as /32s, so the
// health checker's sockets can bind to a laddr and reach the backends through
// Fulcrum's own ports. Done with `ip` and /proc, on the control side at start.
#pragma once

#include "config/model.h"
#include "core/result.h"

#include <string>

namespace fulcrum::deploy {

// The kernel interface name of port i (at most 15 characters).
std::string host_ifname(const config::instance &cfg, size_t i);
// Configure port i's tap (already created and up in DPDK) in the kernel.
result<bool> configure_host_if(const config::instance &cfg, size_t i, const std::vector<config::local_address> &laddrs);

} // namespace fulcrum::deploy
