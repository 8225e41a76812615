// Cluster handoff (docs/scale-out.md): when a node drains, or a path changes, the
// routers send some established flows to a node that does not hold them. A segment that
// starts nothing here goes, unchanged but for its Ethernet header, to every other node
// on the link (snapshot::cluster_peers); the one that holds the connection forwards it,
// the others drop it. A frame that came from a peer is never handed on again, so
// nothing loops: peers are known by MAC, their neighbour entries held (resolved,
// re-confirmed, never aged) while the snapshot names them. The rate is copies per
// second, and only a segment a listener here would take (its ACL passed) is copied.
#pragma once

#include "dataplane/neighbours.h"

namespace fulcrum::dataplane {

#define FULCRUM_HANDOFF_COUNTERS(X) X(cluster_handoffs, counter, "Copies of segments of connections this node does not hold, sent to other cluster nodes (one per node).")

class handoff {
  public:
    FULCRUM_COUNTERS_OF(FULCRUM_HANDOFF_COUNTERS);
    handoff(rte_mempool *pool, neighbours &neigh, drop_counts &drops, const worker_clock &clock)
        : _pool(pool), _neigh(neigh), _drops(drops), _clock(clock) {}

    // A TCP segment of a connection this node does not hold, copied to every peer;
    // false, nothing consumed, when there is none, the frame came from one of them, or
    // (consumed, counted) over the rate.
    bool hand_off(rte_mbuf *m, const snapshot &s);
    // Whether the frame came from another cluster node (by its source MAC).
    bool from_peer(const rte_mbuf *m, const snapshot &s) const;
    const counters &counts() const { return _counters; }

  private:
    rte_mempool *_pool;
    neighbours &_neigh;
    drop_counts &_drops;
    const worker_clock &_clock;
    token_bucket _bucket;
    counters _counters;
};

} // namespace fulcrum::dataplane
