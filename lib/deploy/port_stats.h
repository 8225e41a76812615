// A port's counters as the operator needs them: the PMD's, plus what the kernel's ring
// lost before the PMD saw it. af_packet and AF_XDP ports sit on a kernel socket whose
// ring drops frames when full, and the PMD never hears of it (a bulk transfer through
// a 512-frame af_packet ring lost 1.8% with RX-missed 0). Those drops are read from
// the sockets themselves (PACKET_STATISTICS, XDP_STATISTICS) and added to `missed`.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>

namespace fulcrum::deploy {

struct port_counters {
    rte_eth_stats eth{};       // as the PMD reports them
    uint64_t kernel_drops = 0; // frames the kernel-side ring dropped (since start)
    uint64_t missed() const { return eth.imissed + kernel_drops; }
};

// Control thread only (reading PACKET_STATISTICS resets the kernel's count; the sum is
// kept here).
port_counters read_port_counters(uint16_t port_id);

} // namespace fulcrum::deploy
