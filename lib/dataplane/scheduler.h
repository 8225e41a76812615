// The backend for a new connection: the client's persistent backend while it is still
// eligible, else the listener's scheduler, chosen when the snapshot was built (a pick
// sequence for wrr/rr, a Maglev table for sch/tch, least connections for wlc).
#pragma once

#include "conn/conn.h"
#include "dataplane/counters.h"
#include "dataplane/snapshot.h"

#include <vector>

namespace fulcrum::dataplane {

#define FULCRUM_SCHEDULER_COUNTERS(X) X(persistence_hits, counter, "New connections sent to a client's persistent backend.")

class scheduler {
  public:
    FULCRUM_COUNTERS_OF(FULCRUM_SCHEDULER_COUNTERS);
    scheduler(uint32_t self, uint32_t n_workers) : _self(self), _n_workers(n_workers), _cursor(max_listener_slots) {}

    // Every worker's backend counters (read-only: wlc sums their active connections).
    void set_peers(std::vector<const flow_counters *> backend_counters) { _all = std::move(backend_counters); }
    // A new snapshot: workers start at different points of each pick sequence.
    void adopt(const snapshot &s);
    // `now_s`: seconds, mod 2^16 (persistence expiry).
    const backend_rt &choose(const listener_rt &l, const conn::flow_key &key, const snapshot &s, uint16_t now_s);
    const counters &counts() const { return _counters; }

  private:
    const backend_rt &pick(const listener_rt &l, const conn::flow_key &key, const snapshot &s);
    uint32_t least_loaded(const listener_rt &l, const snapshot &s);

    uint32_t _self, _n_workers;
    std::vector<uint32_t> _cursor; // per listener slot
    std::vector<const flow_counters *> _all;
    counters _counters;
};

} // namespace fulcrum::dataplane
