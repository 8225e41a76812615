#include "dataplane/drain.h"

#include "dataplane/clock.h"

#include <algorithm>

namespace fulcrum::dataplane {

namespace {
const uint16_t *eligible_begin(const snapshot &s, const listener_rt &l) { return s.eligible_slots.data() + l.eligible_offset; }
} // namespace

void drain::note_ineligible(const snapshot &old, const snapshot &now, uint32_t now_tick) {
    for (const listener_rt &ol : old.listeners) {
        const listener_rt *nl = now.listener_at_slot(ol.index);
        const uint16_t *after = nl ? eligible_begin(now, *nl) : nullptr;
        const uint16_t *after_end = nl ? after + nl->eligible_len : nullptr;
        // A deleted listener's connections follow its last drain setting.
        uint32_t deadline = now_tick + worker_clock::ticks((nl ? nl : &ol)->drain_timeout_s);
        for (const uint16_t *b = eligible_begin(old, ol); b != eligible_begin(old, ol) + ol.eligible_len; b++) {
            if (std::binary_search(after, after_end, *b)) continue;
            // An earlier deadline for the same pair stands.
            if (_deadlines.emplace(key(ol.index, *b), deadline).second &&
                (_deadlines.size() == 1 || static_cast<int32_t>(deadline - _due) < 0))
                _due = deadline;
        }
    }
    if (_deadlines.empty()) return;
    for (const listener_rt &nl : now.listeners)
        for (const uint16_t *b = eligible_begin(now, nl); b != eligible_begin(now, nl) + nl.eligible_len; b++)
            _deadlines.erase(key(nl.index, *b));
}

// A deadline is dropped once a whole pass began after it.
void drain::end_pass() {
    _sweeping = false;
    bool first = true;
    for (auto it = _deadlines.begin(); it != _deadlines.end();) {
        if (static_cast<int32_t>(_pass_start - it->second) >= 0) {
            it = _deadlines.erase(it);
            continue;
        }
        if (first || static_cast<int32_t>(it->second - _due) < 0) _due = it->second;
        first = false;
        ++it;
    }
}

} // namespace fulcrum::dataplane
