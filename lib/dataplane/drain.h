// Connection drain: backends that stopped being eligible for a listener in a newly
// adopted snapshot (removed, weight 0, down) get a deadline; a sweep over the
// connection pool, a slice per loop, hands their connections to the worker to close
// then. Eligible again before the deadline (weight back above 0, re-added, healthy):
// their connections stay.
#pragma once

#include "conn/conn_table.h"
#include "dataplane/snapshot.h"

#include <unordered_map>

namespace fulcrum::dataplane {

class drain {
  public:
    static constexpr unsigned sweep_budget = 256; // pool entries a sweep visits per loop

    // Deadlines for the (listener, backend) pairs eligible in `old` and not in `now`.
    void note_ineligible(const snapshot &old, const snapshot &now, uint32_t now_tick);
    // Is a sweep under way or due?
    bool due(uint32_t now_tick) const {
        return !_deadlines.empty() && (_sweeping || static_cast<int32_t>(now_tick - _due) >= 0);
    }
    // One slice of the sweep: close(c) for each connection whose deadline has passed.
    template <class Close>
    void sweep(conn::conn_table &conns, uint32_t now_tick, Close close) {
        if (!_sweeping) {
            _sweeping = true;
            _pos = 0;
            _pass_start = now_tick;
        }
        uint32_t end = std::min(_pos + sweep_budget, conns.capacity());
        for (uint32_t i = _pos; i < end; i++) {
            conn::connection &c = conns.at(i);
            if (!conn::conn_table::live(c)) continue;
            auto it = _deadlines.find(key(c.listener, c.backend_slot));
            if (it != _deadlines.end() && static_cast<int32_t>(now_tick - it->second) >= 0) close(c);
        }
        _pos = end;
        if (end == conns.capacity()) end_pass();
    }
    size_t pending() const { return _deadlines.size(); }

  private:
    static uint32_t key(uint8_t listener, uint16_t slot) { return uint32_t(listener) << 16 | slot; }
    void end_pass();

    // (listener slot << 16 | backend slot) -> tick at which its connections are closed.
    std::unordered_map<uint32_t, uint32_t> _deadlines;
    uint32_t _due = 0; // the earliest deadline
    bool _sweeping = false;
    uint32_t _pos = 0, _pass_start = 0;
};

} // namespace fulcrum::dataplane
