// Counter slots: the stable small integers workers index their counters by. A backend's
// slot is per (protocol, ServerIp, port in effect), a listener's per (VIP, protocol,
// port). Slots are never reused within a process, so a connection that outlives its
// backend's removal still decrements the right counters. Control side only: the
// snapshot carries the numbers, not this registry.
#pragma once

#include "config/model.h"
#include "core/result.h"

#include <cstdint>
#include <map>
#include <optional>

namespace fulcrum::deploy {

class slot_registry {
  public:
    std::optional<uint16_t> backend(config::protocol p, uint32_t ip, uint16_t port) const {
        auto it = _backends.find(backend_key(p, ip, port));
        return it == _backends.end() ? std::nullopt : std::optional<uint16_t>(it->second);
    }
    std::optional<uint8_t> listener(const config::listener &l) const {
        auto it = _listeners.find(listener_key(l));
        return it == _listeners.end() ? std::nullopt : std::optional<uint8_t>(it->second);
    }
    // The slot, given out now if it is new; an error once the process's slots are used up.
    result<uint16_t> take_backend(config::protocol p, uint32_t ip, uint16_t port);
    result<uint8_t> take_listener(const config::listener &l);

  private:
    static uint64_t backend_key(config::protocol p, uint32_t ip, uint16_t port) {
        return uint64_t(p) << 48 | uint64_t(ip) << 16 | port;
    }
    static uint64_t listener_key(const config::listener &l) {
        return uint64_t(l.vip) << 24 | uint64_t(l.port) << 8 | static_cast<uint8_t>(l.proto);
    }
    std::map<uint64_t, uint16_t> _backends;
    std::map<uint64_t, uint8_t> _listeners;
};

} // namespace fulcrum::deploy
