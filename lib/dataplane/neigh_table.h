// Per-worker neighbour (ARP) table with packets queued while resolution is pending.
//
// Each worker keeps its own copy: what one worker learns from an ARP packet it tells
// the others through their message rings, so no entry is ever written by two cores.
//
// Entries are created only by the worker's own need (a next hop it must send to) or by
// configuration (static entries, never overwritten); ARP packets only update entries
// that exist, so unsolicited replies cannot fill the table. Connections hold a
// reference to the entries of their two next hops; an entry nobody references and that
// nobody confirmed within the neighbour timeout is freed (its slot becomes a tombstone
// that the next new entry reuses), so the table follows the traffic, not its history.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

namespace fulcrum::dataplane {

struct neigh_entry {
    static constexpr unsigned max_pending = 8; // frames queued per unresolved entry
    uint32_t ip = 0; // network order; 0 = free slot, tombstone = freed slot
    rte_ether_addr mac{};
    bool resolved = false;
    bool is_static = false; // from the configuration: never learned over, never aged
    uint8_t port = 0;       // port index the requests go out of
    uint8_t retries = 0;
    uint8_t n_pending = 0;
    bool probing = false;   // a resolved entry being re-confirmed (unicast requests)
    uint32_t refs = 0;      // connections whose next hop this is
    uint64_t next_try_tsc = 0;
    uint64_t confirmed_tsc = 0; // last ARP from it (or creation)
    std::array<rte_mbuf *, max_pending> pending{};
};

class neigh_table {
  public:
    static constexpr unsigned slots = 1024;
    static constexpr uint32_t tombstone = 0xffffffffu; // the broadcast address: never a neighbour

    neigh_entry *find(uint32_t ip) {
        return const_cast<neigh_entry *>(static_cast<const neigh_table *>(this)->find(ip));
    }
    const neigh_entry *find(uint32_t ip) const {
        uint32_t i = slot_of(ip);
        for (unsigned n = 0; n < slots; n++, i = (i + 1) & (slots - 1)) {
            if (_e[i].ip == ip) return &_e[i];
            if (_e[i].ip == 0) return nullptr;
        }
        return nullptr;
    }

    // Existing entry or a new unresolved one; nullptr when the table is full.
    neigh_entry *find_or_add(uint32_t ip, uint64_t now_tsc) {
        uint32_t i = slot_of(ip);
        neigh_entry *reuse = nullptr;
        for (unsigned n = 0; n < slots; n++, i = (i + 1) & (slots - 1)) {
            if (_e[i].ip == ip) return &_e[i];
            if (_e[i].ip == tombstone && !reuse) reuse = &_e[i];
            if (_e[i].ip == 0) {
                if (!reuse) reuse = &_e[i];
                break;
            }
        }
        if (!reuse) return nullptr;
        *reuse = neigh_entry{};
        reuse->ip = ip;
        reuse->confirmed_tsc = now_tsc;
        _used++;
        return reuse;
    }

    // Free an entry nobody references (no connection, nothing queued).
    void forget(neigh_entry &e) {
        e = neigh_entry{};
        e.ip = tombstone;
        _used--;
    }

    // A connection keeps an entry's index for its lifetime (it holds a reference).
    uint16_t index_of(const neigh_entry *e) const { return static_cast<uint16_t>(e - _e.data()); }
    neigh_entry &at(uint16_t i) { return _e[i]; }

    template <class F>
    void for_each(F &&f) {
        for (auto &e : _e)
            if (e.ip != 0 && e.ip != tombstone) f(e);
    }
    unsigned used() const { return _used; }

  private:
    static uint32_t slot_of(uint32_t ip) { return (ip * 2654435761u) >> 12 & (slots - 1); }
    std::array<neigh_entry, slots> _e{};
    unsigned _used = 0;
};

} // namespace fulcrum::dataplane
