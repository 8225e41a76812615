#include "dataplane/snapshot.h"

namespace fulcrum::dataplane {

const char *steering_name(steering s) {
    static const char *names[] = {"single", "rss", "emulated", "flow", "redirect"};
    return names[static_cast<int>(s)];
}

void snapshot::add_local(const local_entry &e) {
    uint32_t i = slot_of(e.ip, local_slots);
    while (_locals[i].kind != local_kind::none) {
        if (_locals[i].ip == e.ip) return; // first kind wins: VIP before laddr before port
        i = (i + 1) & (local_slots - 1);
    }
    _locals[i] = e;
}

void snapshot::add_local6(const local_entry &e) {
    uint32_t i = slot_of(fold6(e.ip6.b.data()), local_slots);
    while (_locals6[i].kind != local_kind::none) {
        if (_locals6[i].ip6 == e.ip6) return;
        i = (i + 1) & (local_slots - 1);
    }
    _locals6[i] = e;
}

void snapshot::index() {
    _listener_index.fill(-1);
    _listener_by_slot.fill(-1);
    for (size_t li = 0; li < listeners.size(); li++) {
        const listener_rt &l = listeners[li];
        _listener_by_slot[l.index] = static_cast<int16_t>(li);
        uint32_t key = l.vip ? l.vip : fold6(l.vip6.b.data());
        uint32_t i = slot_of(key ^ (uint32_t(l.port) << 8) ^ l.proto, listener_slots);
        while (_listener_index[i] >= 0) i = (i + 1) & (listener_slots - 1);
        _listener_index[i] = static_cast<int16_t>(li);
    }
    _default_port = _default_port6 = -1;
    for (size_t p = 0; p < ports.size(); p++) {
        if (ports[p].gateway != 0 && _default_port < 0) _default_port = static_cast<int>(p);
        if (!ports[p].gateway6.none() && _default_port6 < 0) _default_port6 = static_cast<int>(p);
    }
}

} // namespace fulcrum::dataplane
