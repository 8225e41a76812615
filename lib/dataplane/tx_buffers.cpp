#include "dataplane/tx_buffers.h"

#include <rte_ethdev.h>

namespace fulcrum::dataplane {

void tx_buffers::send(uint8_t port) {
    buffer &b = _buffers[port];
    uint64_t bytes = 0; // read before the PMD may free the mbufs
    for (uint16_t i = 0; i < b.n; i++) bytes += b.pkts[i]->pkt_len;
    uint16_t sent = rte_eth_tx_burst(_port_ids[port], _queue, b.pkts, b.n);
    _counters.tx_packets += sent;
    for (uint16_t i = sent; i < b.n; i++) {
        bytes -= b.pkts[i]->pkt_len;
        drop_pkt(_drops, b.pkts[i], drop::tx_full);
    }
    _counters.tx_bytes += bytes;
    b.n = 0;
}

} // namespace fulcrum::dataplane
