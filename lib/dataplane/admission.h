// Admission caps of a listener (MaxConnections, MaxNewConnectionRate,
// MaxConnectionsPerSource), checked before a new connection takes any state.
//
// MaxConnections compares with the live count of every worker (read without locks, as
// wlc does: exact enough, a few may overshoot in a race); the rate and per-source caps
// are shared out evenly, each worker enforcing its share: RSS spreads a listener's
// clients over the workers. Sources are counted in a 65,536-slot table by a hash of the
// address (seeded per start): two sources that share a slot share a count, which can
// only make the cap stricter.
#pragma once

#include "dataplane/clock.h"
#include "dataplane/counters.h"
#include "dataplane/snapshot.h"

#include <memory>
#include <vector>

namespace fulcrum::dataplane {

class admission {
  public:
    admission(const worker_clock &clock, uint32_t n_workers, uint32_t seed)
        : _clock(clock), _n_workers(n_workers), _seed(seed), _cps(max_listener_slots),
          _sources(max_listener_slots) {}

    // Every worker's listener counters (read-only: the live count for MaxConnections).
    void set_peers(std::vector<const flow_counters *> listener_counters) { _all = std::move(listener_counters); }

    // False, with the reason, when a cap refuses (nothing taken).
    bool admit(const listener_rt &l, uint32_t src, drop &why);
    // A connection of `listener` from `src` counts against MaxConnectionsPerSource until
    // released; false when the listener does not count sources.
    bool count_source(uint8_t listener, uint32_t src) {
        if (!_sources[listener]) return false;
        slot(listener, src)++; // counts stay below the cap: no 16-bit wrap
        return true;
    }
    void release_source(uint8_t listener, uint32_t src) { slot(listener, src)--; }

  private:
    static constexpr uint32_t source_slots = 1u << 16;
    uint16_t &slot(uint8_t listener, uint32_t src);

    const worker_clock &_clock;
    uint32_t _n_workers, _seed;
    std::vector<const flow_counters *> _all;
    std::vector<token_bucket> _cps;                        // per listener slot: MaxNewConnectionRate
    std::vector<std::unique_ptr<uint16_t[]>> _sources;     // per listener slot: live connections by source
};

} // namespace fulcrum::dataplane
