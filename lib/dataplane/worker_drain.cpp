// Connection drain: backends that stopped being eligible for a listener in a newly
// adopted snapshot get a deadline; a sweep over the pool resets their connections then.
#include "dataplane/worker_internal.h"

#include <algorithm>

namespace fulcrum::dataplane {

namespace {
constexpr unsigned sweep_budget = 256; // pool entries a drain sweep visits per loop
} // namespace

void worker::adopt_snapshot(const snapshot *snap) {
    const snapshot *old = _snap;
    _snap = snap;
    _adopted.store(snap->generation, std::memory_order_release);
    // Workers start at different points of each pick sequence.
    for (const auto &l : snap->listeners) {
        _sched_cursor[l.index] = l.seq_len ? static_cast<uint32_t>(uint64_t(l.seq_len) * _id / _n_workers) : 0;
        _idle_timeout_s[l.index] = l.idle_timeout_s;
    }
    if (old != snap) note_ineligible(*old, *snap);
}

namespace {
uint32_t drain_key(uint8_t listener, uint16_t slot) { return uint32_t(listener) << 16 | slot; }
const uint16_t *eligible_begin(const snapshot &s, const listener_rt &l) { return s.eligible_slots.data() + l.eligible_offset; }
} // namespace

void worker::note_ineligible(const snapshot &old, const snapshot &now) {
    for (const listener_rt &ol : old.listeners) {
        const listener_rt *nl = now.listener_at_slot(ol.index);
        const uint16_t *after = nl ? eligible_begin(now, *nl) : nullptr;
        const uint16_t *after_end = nl ? after + nl->eligible_len : nullptr;
        // A deleted listener's connections follow its last drain setting.
        uint32_t deadline = _now_tick + ticks((nl ? nl : &ol)->drain_timeout_s);
        for (const uint16_t *b = eligible_begin(old, ol); b != eligible_begin(old, ol) + ol.eligible_len; b++) {
            if (std::binary_search(after, after_end, *b)) continue;
            // An earlier deadline for the same pair stands.
            if (_drains.emplace(drain_key(ol.index, *b), deadline).second &&
                (_drains.size() == 1 || static_cast<int32_t>(deadline - _drain_due) < 0))
                _drain_due = deadline;
        }
    }
    if (_drains.empty()) return;
    // Eligible again (weight back above 0, re-added, healthy): its connections stay.
    for (const listener_rt &nl : now.listeners)
        for (const uint16_t *b = eligible_begin(now, nl); b != eligible_begin(now, nl) + nl.eligible_len; b++)
            _drains.erase(drain_key(nl.index, *b));
}

// Walks the connection pool a slice per loop, resetting the connections whose drain
// deadline has passed. A deadline is dropped once a whole pass began after it.
void worker::sweep_drained() {
    if (!_sweeping) {
        _sweeping = true;
        _sweep_pos = 0;
        _sweep_pass_start = _now_tick;
    }
    uint32_t end = std::min(_sweep_pos + sweep_budget, _conns.capacity());
    for (uint32_t i = _sweep_pos; i < end; i++) {
        connection &c = _conns.at(i);
        if (!conn::conn_table::live(c)) continue;
        auto it = _drains.find(drain_key(c.listener, c.backend_slot));
        if (it != _drains.end() && static_cast<int32_t>(_now_tick - it->second) >= 0) close_drained(c);
    }
    _sweep_pos = end;
    if (end < _conns.capacity()) return;
    _sweeping = false;
    bool first = true;
    for (auto it = _drains.begin(); it != _drains.end();) {
        if (static_cast<int32_t>(_sweep_pass_start - it->second) >= 0) {
            it = _drains.erase(it);
            continue;
        }
        if (first || static_cast<int32_t>(it->second - _drain_due) < 0) _drain_due = it->second;
        first = false;
        ++it;
    }
}

void worker::close_drained(connection &c) {
    if (c.proto == IPPROTO_TCP && c.state != tcp_state::close && c.state != tcp_state::time_wait) {
        if (c.flags & conn::ack_out) send_reset(c, 0);
        if (c.flags & conn::ack_in) send_reset(c, 1);
    }
    _counters.conn_drained++;
    _wheel.remove(&c);
    expire(&c);
}

} // namespace fulcrum::dataplane
