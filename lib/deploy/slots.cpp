#include "deploy/slots.h"

#include "dataplane/snapshot.h"

#include <algorithm>

namespace fulcrum::deploy {

unsigned slot_registry::max_backends() { return dataplane::max_backend_slots; }
unsigned slot_registry::max_listeners() { return dataplane::max_listener_slots; }

std::optional<uint16_t> slot_registry::table::take(const key &k) {
    std::optional<uint16_t> slot = find(k);
    if (!slot && next < capacity) {
        slot = static_cast<uint16_t>(next++);
        key_of.push_back(k);
        by_key.emplace(k, *slot);
    } else if (!slot) {
        // An offered slot that this build has not named. Taking it forgets its old key:
        // should the build name that key later, it is a new key.
        auto free = std::find_if(offered.begin(), offered.end(), [&](uint16_t s) { return !named[s]; });
        if (free == offered.end()) return std::nullopt;
        slot = *free;
        offered.erase(free);
        by_key.erase(key_of[*slot]);
        key_of[*slot] = k;
        by_key.emplace(k, *slot);
        reused.push_back(*slot);
    }
    named[*slot] = 1;
    return slot;
}

void slot_registry::table::offer(std::vector<uint16_t> slots) {
    offered = std::move(slots);
    reused.clear();
    named.assign(capacity, 0);
}

result<uint16_t> slot_registry::take_backend(config::protocol p, const net::ip_addr &ip, uint16_t port) {
    if (auto s = _backends.take(backend_key(p, ip, port))) return *s;
    return error{"default_server_group",
                 "must not bring the backends in use (configured, or still holding connections) above " +
                     std::to_string(max_backends())};
}

result<uint8_t> slot_registry::take_listener(const config::listener &l) {
    if (auto s = _listeners.take(listener_key(l))) return static_cast<uint8_t>(*s);
    return error{"listeners", "must not bring the listeners in use (configured, or still holding connections) above " +
                                  std::to_string(max_listeners())};
}

} // namespace fulcrum::deploy
