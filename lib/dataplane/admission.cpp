#include "dataplane/admission.h"

#include <rte_hash_crc.h>

namespace fulcrum::dataplane {

uint16_t &admission::slot(uint8_t listener, uint32_t src) {
    return _sources[listener][rte_hash_crc_4byte(src, _seed) & (source_slots - 1)];
}

bool admission::admit(const listener_rt &l, uint32_t src, drop &why) {
    if (l.max_conns) {
        int64_t live = 0;
        for (const flow_counters *wc : _all) live += __atomic_load_n(&wc[l.index].active_connections, __ATOMIC_RELAXED);
        if (live >= int64_t(l.max_conns)) {
            why = drop::listener_conn_cap;
            return false;
        }
    }
    if (l.max_cps) {
        // One second's share of burst: at most rate x (seconds + 1) in any interval.
        uint64_t per_worker = std::max<uint64_t>(1, l.max_cps / _n_workers);
        if (!_cps[l.index].take(_clock, per_worker, per_worker)) {
            why = drop::listener_rate_cap;
            return false;
        }
    }
    if (l.max_per_source) {
        if (!_sources[l.index]) _sources[l.index].reset(new uint16_t[source_slots]());
        uint32_t share = (l.max_per_source + _n_workers - 1) / _n_workers;
        if (slot(l.index, src) >= share) {
            why = drop::source_cap;
            return false;
        }
    }
    return true;
}

} // namespace fulcrum::dataplane
