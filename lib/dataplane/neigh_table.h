// Per-worker neighbour (ARP) table with packets queued while resolution is pending.
//
// Each worker keeps its own copy: what one worker learns from an ARP packet it tells
// the others through their message rings, so no entry is ever written by two cores.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

namespace fulcrum::dataplane {

struct neigh_entry {
    static constexpr unsigned max_pending = 8;
    uint32_t ip = 0; // network order; 0 = free slot
    rte_ether_addr mac{};
    bool resolved = false;
    uint8_t port = 0; // port index the requests go out of
    uint8_t retries = 0;
    uint8_t n_pending = 0;
    uint64_t next_try_tsc = 0;
    std::array<rte_mbuf *, max_pending> pending{};
};

class neigh_table {
  public:
    static constexpr unsigned slots = 1024;

    neigh_entry *find(uint32_t ip) {
        uint32_t i = slot_of(ip);
        for (unsigned n = 0; n < slots; n++, i = (i + 1) & (slots - 1)) {
            if (_e[i].ip == ip) return &_e[i];
            if (_e[i].ip == 0) return nullptr;
        }
        return nullptr;
    }

    // Existing entry or a new unresolved one; nullptr when the table is full.
    neigh_entry *find_or_add(uint32_t ip) {
        uint32_t i = slot_of(ip);
        for (unsigned n = 0; n < slots; n++, i = (i + 1) & (slots - 1)) {
            if (_e[i].ip == ip) return &_e[i];
            if (_e[i].ip == 0) {
                _e[i].ip = ip;
                _used++;
                return &_e[i];
            }
        }
        return nullptr;
    }

    // Slots are never freed, so a connection may keep an entry's index for its lifetime.
    uint16_t index_of(const neigh_entry *e) const { return static_cast<uint16_t>(e - _e.data()); }
    neigh_entry &at(uint16_t i) { return _e[i]; }

    template <class F>
    void for_each(F &&f) {
        for (auto &e : _e)
            if (e.ip != 0) f(e);
    }
    unsigned used() const { return _used; }

  private:
    static uint32_t slot_of(uint32_t ip) { return (ip * 2654435761u) >> 12 & (slots - 1); }
    std::array<neigh_entry, slots> _e{};
    unsigned _used = 0;
};

} // namespace fulcrum::dataplane
