// The host's own frames: to the kernel through each port's tap within the exception
// path's rate (a lifeline keeps a reserve), and what the kernel sends back out.
#include "dataplane/worker.h"

#include <rte_ethdev.h>

#include <algorithm>

namespace fulcrum::dataplane {

void worker::poll_exception_queues() {
    for (const queue_ref &q : _excq) {
        rte_mbuf *pkts[burst];
        uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst);
        _counters.kernel_in += n;
        for (uint16_t i = 0; i < n; i++) { // the kernel's own frames leave unchanged
            pkts[i]->ol_flags = 0;
            _tx.enqueue(q.port_index, pkts[i]);
        }
    }
}

void worker::to_kernel(rte_mbuf *m, uint8_t in_port, drop otherwise, host_class cls) {
    if (_snap->ports[in_port].exc_port_id == port_rt::no_exception_port) return drop_pkt(m, otherwise);
    if (uint32_t rate = _snap->exception_rate_pps) {
        // A token bucket per port, the rate shared out over the workers, 100 ms of burst:
        // a flood aimed at the host costs the worker a counter, not a syscall per frame.
        // The host's lifelines (ARP replies, BGP with the configured neighbours, health
        // probe replies) have a reserve of the bucket that other host traffic cannot
        // take, and the refill goes to them first: a flood at the port address leaves
        // them the whole rate.
        uint64_t per_worker = std::max<uint64_t>(1, rate / _n_workers), burst = std::max<uint64_t>(32, per_worker / 10);
        uint64_t keep = cls == host_class::lifeline ? 0 : burst;
        if (!_exc_bucket[in_port].take(_clock, per_worker, 2 * burst, 1, keep)) {
            if (cls == host_class::lifeline) _counters.kernel_lifelines_limited++;
            return drop_pkt(m, drop::exception_limited);
        }
    }
    _counters.kernel_out++;
    _tx.enqueue(static_cast<uint8_t>(_snap->ports.size() + in_port), m);
}

} // namespace fulcrum::dataplane
