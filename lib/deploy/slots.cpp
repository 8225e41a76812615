#include "deploy/slots.h"

#include "dataplane/counters.h"

namespace fulcrum::deploy {

result<uint16_t> slot_registry::take_backend(config::protocol p, uint32_t ip, uint16_t port) {
    uint64_t key = backend_key(p, ip, port);
    if (auto it = _backends.find(key); it != _backends.end()) return it->second;
    if (_backends.size() >= dataplane::max_backend_slots)
        return error{"default_server_group", "must not bring the distinct backends since start above 4096 (restart to reset)"};
    return _backends.emplace(key, static_cast<uint16_t>(_backends.size())).first->second;
}

result<uint8_t> slot_registry::take_listener(const config::listener &l) {
    uint64_t key = listener_key(l);
    if (auto it = _listeners.find(key); it != _listeners.end()) return it->second;
    if (_listeners.size() >= dataplane::max_listener_slots)
        return error{"listeners", "must not bring the distinct listeners since start above 256 (restart to reset)"};
    return _listeners.emplace(key, static_cast<uint8_t>(_listeners.size())).first->second;
}

} // namespace fulcrum::deploy
