// Per-worker neighbour table (ARP for IPv4, Neighbour Discovery for IPv6: one table,
// keyed by the address of either family) with packets queued while resolution is pending.
//
// Each worker keeps its own copy: what one worker learns from an ARP packet it tells
// the others through their message rings, so no entry is ever written by two cores.
//
// Entries are created only by the worker's own need (a next hop it must send to) or by
// configuration (static entries, never overwritten); ARP packets only update entries
// that exist, so unsolicited replies cannot fill the table. Connections hold a
// reference to the entries of their two next hops, by the entry's index in the store,
// which never moves. An entry nobody references and nobody confirmed within the
// neighbour timeout is freed; when the store is full, a new next hop takes the place of
// the least recently confirmed entry nobody references (not static, not a cluster peer,
// nothing queued), so the table follows the traffic, not its history.
//
// The index (ip -> store index) is open addressing at most half full; a freed entry
// leaves a tombstone, and the index is rebuilt once tombstones reach a quarter of its
// slots, so a miss never walks a table of tombstones.
#pragma once

#include "dataplane/socket_memory.h"
#include "net/addr.h"

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace fulcrum::dataplane {

struct neigh_entry {
    static constexpr unsigned max_pending = 8; // frames queued per unresolved entry
    net::ip_addr addr; // the key, either family; none() = free
    uint32_t ip = 0;   // an IPv4 neighbour's address, network order (0: IPv6)
    rte_ether_addr mac{};
    bool resolved = false;
    bool is_static = false; // from the configuration: never learned over, never aged
    uint8_t port = 0;       // port index the requests go out of
    uint8_t retries = 0;
    uint8_t n_pending = 0;
    bool probing = false;   // a resolved entry being re-confirmed (unicast requests)
    bool peer = false;      // a cluster node the snapshot names: resolved and kept, never aged
    uint32_t refs = 0;      // connections whose next hop this is
    uint64_t next_try_tsc = 0;
    uint64_t confirmed_tsc = 0; // last ARP from it (or creation)
    std::array<rte_mbuf *, max_pending> pending{};

    bool evictable() const { return refs == 0 && !is_static && !peer && n_pending == 0; }
    bool v6() const { return ip == 0; }
};

class neigh_table {
  public:
    static constexpr uint32_t max_capacity = 32768; // connections keep a 16-bit store index
    static constexpr uint16_t no_entry = 0xffff;

    // Room for `capacity` neighbours, on `socket`; throws allocation_failed.
    neigh_table(uint32_t capacity, int socket);
    neigh_table(const neigh_table &) = delete;
    neigh_table &operator=(const neigh_table &) = delete;

    // An IPv4 address (network order) as a key.
    static net::ip_addr key4(uint32_t ip) { return net::ip_addr::from_v4(__builtin_bswap32(ip)); }

    neigh_entry *find(const net::ip_addr &a) {
        return const_cast<neigh_entry *>(static_cast<const neigh_table *>(this)->find(a));
    }
    const neigh_entry *find(const net::ip_addr &a) const {
        uint32_t i = slot_of(a);
        for (uint32_t n = 0; n <= _mask; n++, i = (i + 1) & _mask) {
            uint16_t v = _index[i];
            if (v == empty) return nullptr;
            if (v != tombstone && _e[v].addr == a) return &_e[v];
        }
        return nullptr;
    }
    neigh_entry *find(uint32_t ip) { return find(key4(ip)); }
    const neigh_entry *find(uint32_t ip) const { return find(key4(ip)); }
    // Existing entry or a new unresolved one (in place of the least recently confirmed
    // evictable entry when the store is full: `evicted` is then set); nullptr when
    // every entry is in use.
    neigh_entry *find_or_add(const net::ip_addr &a, uint64_t now_tsc, bool *evicted = nullptr);
    neigh_entry *find_or_add(uint32_t ip, uint64_t now_tsc, bool *evicted = nullptr) {
        return find_or_add(key4(ip), now_tsc, evicted);
    }
    // Free an entry nobody references (no connection, nothing queued).
    void forget(neigh_entry &e);

    uint16_t index_of(const neigh_entry *e) const { return static_cast<uint16_t>(e - _e.get()); }
    neigh_entry &at(uint16_t i) { return _e[i]; }
    template <class F> void for_each(F &&f) {
        for (uint32_t i = 0; i < _capacity; i++)
            if (!_e[i].addr.none()) f(_e[i]);
    }
    unsigned used() const { return _used; }
    uint32_t capacity() const { return _capacity; }

  private:
    static constexpr uint16_t empty = 0xffff, tombstone = 0xfffe;
    uint32_t slot_of(const net::ip_addr &a) const {
        uint32_t w[4];
        __builtin_memcpy(w, a.b.data(), 16);
        return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 2654435761u) >> 7 & _mask;
    }
    void index_insert(const net::ip_addr &a, uint16_t v);
    void rebuild_index();

    uint32_t _capacity, _mask;
    std::unique_ptr<neigh_entry[], rte_free_deleter> _e;
    std::unique_ptr<uint16_t[], rte_free_deleter> _index;
    std::vector<uint16_t> _free;
    unsigned _used = 0, _tombstones = 0;
    uint32_t _evict_at = 0; // where the next full-table scan starts
};

} // namespace fulcrum::dataplane
