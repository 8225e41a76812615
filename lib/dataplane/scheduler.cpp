#include "dataplane/scheduler.h"

#include "conn/conn_table.h"

#include <rte_hash_crc.h>

namespace fulcrum::dataplane {

void scheduler::adopt(const snapshot &s) {
    for (const auto &l : s.listeners)
        _cursor[l.index] = l.seq_len ? static_cast<uint32_t>(uint64_t(l.seq_len) * _self / _n_workers) : 0;
}

const backend_rt &scheduler::choose(const listener_rt &l, const conn::flow_key &key, const snapshot &s, uint16_t now_s) {
    if (!l.persist) return pick(l, key, s);
    std::atomic<uint64_t> &persisted = l.persist->slots[rte_hash_crc_4byte(key.src, l.index) & (persist_table::entries - 1)];
    const backend_rt *chosen = nullptr;
    uint64_t e = persisted.load(std::memory_order_relaxed);
    if (uint32_t(e >> 32) == key.src && static_cast<int16_t>(static_cast<uint16_t>(e) - now_s) > 0) {
        // Still this listener's and still eligible (weight > 0, up)?
        uint16_t slot = static_cast<uint16_t>(e >> 16);
        for (uint32_t i = 0; i < l.n_backends; i++) {
            const backend_rt &cand = s.backends[l.backend_offset + i];
            if (cand.slot == slot && cand.weight > 0) {
                chosen = &cand;
                _counters.persistence_hits++;
                break;
            }
        }
    }
    if (!chosen) chosen = &pick(l, key, s);
    persisted.store(persist_table::pack(key.src, chosen->slot, static_cast<uint16_t>(now_s + l.persist_timeout_s)),
                    std::memory_order_relaxed);
    return *chosen;
}

const backend_rt &scheduler::pick(const listener_rt &l, const conn::flow_key &key, const snapshot &s) {
    uint32_t i;
    if (l.pick == listener_rt::by_sequence) {
        uint32_t &cursor = _cursor[l.index];
        if (cursor >= l.seq_len) cursor = 0;
        i = cursor++;
    } else if (l.pick == listener_rt::by_least_conn) {
        i = least_loaded(l, s);
    } else {
        uint32_t h = l.pick == listener_rt::by_source_ip ? rte_hash_crc_4byte(key.src, 0x5eed)
                                                         : conn::conn_table::hash_with(key, 0x9e3779b9u);
        i = h % l.seq_len;
    }
    return s.backends[l.backend_offset + s.sched_seq[l.seq_offset + i]];
}

// wlc: the candidate with the fewest active connections (summed over every worker's
// counters, read without locks) per unit of weight. Costs O(backends x workers) per new
// connection; ties go round robin so equal loads do not all pick the first backend.
uint32_t scheduler::least_loaded(const listener_rt &l, const snapshot &s) {
    uint32_t &cursor = _cursor[l.index];
    uint32_t best = 0;
    int64_t best_active = -1;
    uint32_t best_weight = 1;
    for (uint32_t k = 0; k < l.seq_len; k++) {
        uint32_t i = (cursor + k) % l.seq_len;
        const backend_rt &b = s.backends[l.backend_offset + s.sched_seq[l.seq_offset + i]];
        int64_t active = 0;
        for (const flow_counters *wc : _all) active += __atomic_load_n(&wc[b.slot].active_connections, __ATOMIC_RELAXED);
        // active/weight < best_active/best_weight, without division
        if (best_active < 0 || active * best_weight < best_active * b.weight) {
            best = i;
            best_active = active;
            best_weight = b.weight;
        }
    }
    cursor = (cursor + 1) % l.seq_len;
    return best;
}

} // namespace fulcrum::dataplane
