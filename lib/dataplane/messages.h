// What workers send each other on their message rings (32 bytes): a neighbour learned
// from an ARP or Neighbour Advertisement packet that reached another worker's queue, or,
// from the control thread, a new snapshot to adopt.
#pragma once

#include "net/addr.h"

#include <rte_ether.h>

#include <cstdint>

namespace fulcrum::dataplane {

class snapshot;

struct worker_msg {
    enum : uint32_t { neigh_learned = 1, new_snapshot = 2 };
    uint32_t type;
    uint32_t pad0;
    union {
        struct {
            rte_ether_addr mac;
            uint16_t pad;
        } neigh;
        const snapshot *snap;
    };
    net::ip_addr ip; // neigh_learned: either family
};
static_assert(sizeof(worker_msg) == 32);

} // namespace fulcrum::dataplane
