#include "dataplane/handoff.h"

namespace fulcrum::dataplane {

bool handoff::from_peer(const rte_mbuf *m, const snapshot &s) const {
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    for (const auto &[ip, port] : s.cluster_peers) {
        // A peer's entry is held while the snapshot names it (neighbours::hold_peers), and
        // keeps the MAC last heard even while it is being resolved again.
        const neigh_entry *e = _neigh.find(ip);
        if (e && !rte_is_zero_ether_addr(&e->mac) && rte_is_same_ether_addr(&e->mac, &eth->src_addr)) return true;
    }
    return false;
}

bool handoff::hand_off(rte_mbuf *m, const snapshot &s) {
    const auto &peers = s.cluster_peers;
    if (peers.empty() || from_peer(m, s)) return false;
    if (uint32_t rate = s.handoff_rate_pps) {
        // A token per copy: the setting is copies per second, whatever the cluster's size.
        uint64_t cap = std::max<uint64_t>({32, rate / 10, peers.size()});
        if (!_bucket.take(_clock, rate, cap, peers.size())) {
            drop_pkt(_drops, m, drop::handoff_limited);
            return true;
        }
    }
    for (size_t i = 0; i < peers.size(); i++) {
        rte_mbuf *copy = i + 1 == peers.size() ? m : rte_pktmbuf_copy(m, _pool, 0, UINT32_MAX);
        if (!copy) continue; // out of mbufs: this peer misses it, TCP resends
        neigh_entry *e = _neigh.find_or_add(peers[i].first);
        if (!e) {
            drop_pkt(_drops, copy, drop::neigh_table_full);
            continue;
        }
        _counters.cluster_handoffs++;
        _neigh.send(copy, peers[i].second, *e, s);
    }
    return true;
}

} // namespace fulcrum::dataplane
