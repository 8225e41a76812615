// Counter slots: the stable small integers workers index their counters by. A backend's
// slot is per (protocol, ServerIp, port in effect), a listener's per (VIP, protocol,
// port). A key keeps its slot while any snapshot or connection may refer to it, so a
// connection that outlives its backend's removal still decrements the right counters,
// and a backend removed and added back finds its counters where it left them.
//
// Slots never used are given out first; once they run out, a new key takes a slot that
// the deployment offered as free (no live snapshot names it, no worker holds a
// connection on it), and the slot's old key is forgotten. Control side only: the
// snapshot carries the numbers, not this registry.
#pragma once

#include "config/model.h"
#include "core/result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace fulcrum::deploy {

class slot_registry {
  public:
    std::optional<uint16_t> backend(config::protocol p, const net::ip_addr &ip, uint16_t port) const {
        return _backends.find(backend_key(p, ip, port));
    }
    std::optional<uint8_t> listener(const config::listener &l) const {
        auto s = _listeners.find(listener_key(l));
        return s ? std::optional<uint8_t>(static_cast<uint8_t>(*s)) : std::nullopt;
    }
    // The key's slot, given out now if it is new; an error when every slot is in use.
    result<uint16_t> take_backend(config::protocol p, const net::ip_addr &ip, uint16_t port);
    result<uint8_t> take_listener(const config::listener &l);

    // Slots that may be given to new keys from now on (ascending), replacing any earlier
    // offer. The deployment offers them before each build.
    void offer_free(std::vector<uint16_t> backends, std::vector<uint16_t> listeners) {
        _backends.offer(std::move(backends));
        _listeners.offer(std::move(listeners));
    }
    // Slots handed to a new key since the last offer: their counters restart.
    const std::vector<uint16_t> &reused_backends() const { return _backends.reused; }
    const std::vector<uint16_t> &reused_listeners() const { return _listeners.reused; }
    // Slots ever given out (0 .. n-1): only these can hold counts.
    unsigned backends_used() const { return _backends.next; }
    unsigned listeners_used() const { return _listeners.next; }

  private:
    using key = std::pair<net::ip_addr, uint32_t>; // an address, then protocol and port
    struct table {
        explicit table(unsigned cap) : capacity(cap), named(cap) {}
        unsigned capacity;
        std::map<key, uint16_t> by_key;
        std::vector<key> key_of; // by slot
        unsigned next = 0;            // first slot never given out
        std::vector<uint16_t> offered, reused;
        std::vector<uint8_t> named; // by slot: taken by the build since the last offer

        std::optional<uint16_t> find(const key &k) const {
            auto it = by_key.find(k);
            return it == by_key.end() ? std::nullopt : std::optional<uint16_t>(it->second);
        }
        std::optional<uint16_t> take(const key &k);
        void offer(std::vector<uint16_t> slots);
    };
    static key backend_key(config::protocol p, const net::ip_addr &ip, uint16_t port) {
        return {ip, uint32_t(p) << 16 | port};
    }
    static key listener_key(const config::listener &l) {
        return {l.vip, uint32_t(l.port) << 8 | static_cast<uint8_t>(l.proto)};
    }
    table _backends{max_backends()}, _listeners{max_listeners()};
    static unsigned max_backends();
    static unsigned max_listeners();
};

} // namespace fulcrum::deploy
