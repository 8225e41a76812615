// A worker's transmit side: one burst buffer per port (the data ports, then their
// exception-path taps), sent when it fills or when the loop drains it (l3fwd's shape),
// and the drop helper every component counts with.
#pragma once

#include "dataplane/counters.h"

#include <rte_mbuf.h>

#include <vector>

namespace fulcrum::dataplane {

#define FULCRUM_TX_COUNTERS(X) X(tx_packets, counter, "Packets sent.") \
    X(tx_bytes, counter, "Bytes sent.")

inline void drop_pkt(drop_counts &drops, rte_mbuf *m, drop reason) {
    drops.count(reason);
    rte_pktmbuf_free(m);
}

class tx_buffers {
  public:
    static constexpr uint16_t burst = 32;
    FULCRUM_COUNTERS_OF(FULCRUM_TX_COUNTERS);

    // `port_ids`: the DPDK port of each buffer; every buffer sends on tx queue `queue`.
    tx_buffers(std::vector<uint16_t> port_ids, uint16_t queue, drop_counts &drops)
        : _buffers(port_ids.size()), _port_ids(std::move(port_ids)), _queue(queue), _drops(drops) {}
    tx_buffers(const tx_buffers &) = delete;
    tx_buffers &operator=(const tx_buffers &) = delete;

    void enqueue(uint8_t port, rte_mbuf *m) {
        buffer &b = _buffers[port];
        b.pkts[b.n++] = m;
        if (b.n == burst) send(port);
    }
    void flush() {
        for (size_t p = 0; p < _buffers.size(); p++)
            if (_buffers[p].n) send(static_cast<uint8_t>(p));
    }
    const counters &counts() const { return _counters; }

  private:
    struct buffer {
        uint16_t n = 0;
        rte_mbuf *pkts[burst];
    };
    void send(uint8_t port); // one rte_eth_tx_burst

    std::vector<buffer> _buffers;
    std::vector<uint16_t> _port_ids;
    uint16_t _queue;
    drop_counts &_drops;
    counters _counters;
};

} // namespace fulcrum::dataplane
