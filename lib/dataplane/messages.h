// What workers send each other on their message rings (16 bytes): a neighbour learned
// from an ARP packet that reached another worker's queue, or, from the control thread,
// a new snapshot to adopt.
#pragma once

#include <rte_ether.h>

#include <cstdint>

namespace fulcrum::dataplane {

class snapshot;

struct worker_msg {
    enum : uint32_t { neigh_learned = 1, new_snapshot = 2 };
    uint32_t type;
    uint32_t ip;
    union {
        struct {
            rte_ether_addr mac;
            uint16_t pad;
        } neigh;
        const snapshot *snap;
    };
};
static_assert(sizeof(worker_msg) == 16);

} // namespace fulcrum::dataplane
