// A worker's neighbours: ARP and Neighbour Discovery (nd.cpp) answered for local
// addresses, next hops resolved with the frames for them queued meanwhile, learned
// entries re-confirmed and aged, static entries kept; IPv4 and IPv6 under the same rules. What one worker learns it tells the others through their message rings
// (neigh_table.h has the table and its rules).
#pragma once

#include <rte_ring.h>

#include <memory>
#include <vector>

#include "dataplane/clock.h"
#include "dataplane/neigh_table.h"
#include "dataplane/snapshot.h"
#include "dataplane/socket_memory.h"
#include "dataplane/tx_buffers.h"

namespace fulcrum::dataplane {

#define FULCRUM_NEIGHBOUR_COUNTERS(X) X(arp_replies, counter, "ARP replies sent.")                                                              \
    X(arp_requests, counter, "ARP requests sent.")                                                            \
    X(nd_advertisements, counter, "Neighbour Advertisements sent (answers to solicitations for local IPv6 addresses).") \
    X(nd_solicitations, counter, "Neighbour Solicitations sent (resolving or re-confirming IPv6 next hops).") \
    X(neighbours_aged, counter, "Learned neighbours forgotten: unused and unconfirmed for neighbour_timeout.") \
    X(neighbours_evicted, counter, "Unused neighbours forgotten early to make room for a new next hop (table full).") \
    X(neighbour_static_kept, counter, "ARP packets that disagreed with a static neighbour (ignored).")

class neighbours {
  public:
    FULCRUM_COUNTERS_OF(FULCRUM_NEIGHBOUR_COUNTERS);

    // `self`: this worker's index in the peers' message rings. The table lives on `socket`.
    neighbours(uint32_t self, uint32_t capacity, int socket, rte_mempool *pool, tx_buffers &tx, drop_counts &drops,
               const worker_clock &clock);
    ~neighbours();
    neighbours(const neighbours &) = delete;
    neighbours &operator=(const neighbours &) = delete;

    void set_peers(std::vector<rte_ring *> msg_rings) { _msg_to = std::move(msg_rings); }
    void add_static(const std::vector<neighbour_rt> &entries);
    // The snapshot's cluster peers are held: resolved at once, re-confirmed, never aged
    // (handoff knows them by MAC); those it no longer names age as any other entry.
    void hold_peers(const snapshot &s);
    // Every backend's next hop gets an entry, and worker 0 asks for those not resolved:
    // a start (or a new backend) finds them resolved instead of holding its first frames
    // for each (max_pending; a burst past it would be dropped and wait for the clients'
    // retries). At most `max_asks` requests per call.
    void prime(const snapshot &s, unsigned max_asks = 1024);

    // An ARP frame on port `in_port`: learned from, answered for a local address; true
    // when it is a reply the kernel should see too (its probes' next hops): not consumed.
    bool on_arp(rte_mbuf *m, uint8_t in_port, const snapshot &s);
    // A Neighbour Solicitation or Advertisement (ICMPv6 at `icmp_off`, `len` bytes, its
    // checksum already checked): an NS for a local address answered, an NA learned from;
    // true when the kernel should see it too (not consumed): an NA (its own next hops),
    // an NS for an address that is not Fulcrum's (the host's link-local ones).
    bool on_nd(rte_mbuf *m, uint8_t in_port, const snapshot &s, uint32_t icmp_off, uint32_t len);
    // A binding heard from ARP or ND (here or, `tell_peers` false, by a peer's message).
    void learn(const net::ip_addr &ip, const rte_ether_addr &mac, bool tell_peers);
    void learn(uint32_t ip, const rte_ether_addr &mac, bool tell_peers) { learn(neigh_table::key4(ip), mac, tell_peers); }

    // An IPv4 frame out of `out_port` to `next_hop`: at once when resolved, else queued
    // while it is resolved.
    void send(rte_mbuf *m, uint8_t out_port, neigh_entry &next_hop, const snapshot &s) {
        auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
        eth->src_addr = s.ports[out_port].mac;
        if (__builtin_expect(next_hop.resolved, 1)) {
            eth->dst_addr = next_hop.mac;
            return _tx.enqueue(out_port, m);
        }
        hold(m, out_port, next_hop, s);
    }
    // Every 100 ms: retries, re-confirmation, aging.
    void timers(const snapshot &s);

    neigh_entry *find(uint32_t ip) { return _table->find(ip); }
    const neigh_entry *find(uint32_t ip) const { return _table->find(ip); }
    const neigh_entry *find(const net::ip_addr &a) const { return _table->find(a); }
    neigh_entry *find_or_add(const net::ip_addr &a) {
        bool evicted = false;
        neigh_entry *e = _table->find_or_add(a, _clock.now_tsc, &evicted);
        _counters.neighbours_evicted += evicted;
        return e;
    }
    neigh_entry *find_or_add(uint32_t ip) {
        bool evicted = false;
        neigh_entry *e = _table->find_or_add(ip, _clock.now_tsc, &evicted);
        _counters.neighbours_evicted += evicted;
        return e;
    }
    neigh_entry &at(uint16_t i) { return _table->at(i); }
    uint16_t index_of(const neigh_entry *e) const { return _table->index_of(e); }
    unsigned used() const { return _table->used(); }
    uint32_t capacity() const { return _table->capacity(); }
    const counters &counts() const { return _counters; }

  private:
    void hold(rte_mbuf *m, uint8_t out_port, neigh_entry &e, const snapshot &s);
    void ask(neigh_entry &e, uint8_t out_port, const snapshot &s) {
        e.port = out_port;
        e.retries = 0;
        e.next_try_tsc = _clock.now_tsc + _clock.hz;
        solicit(s.ports[out_port], out_port, e, nullptr);
    }
    // An ARP request or (IPv6) a Neighbour Solicitation for `e`, broadcast/multicast or
    // to `unicast` (re-confirmation).
    void solicit(const port_rt &port, uint8_t out_port, const neigh_entry &e, const rte_ether_addr *unicast);
    void send_request(const port_rt &port, uint8_t out_port, uint32_t target_ip, const rte_ether_addr *unicast);
    void send_ns(const port_rt &port, uint8_t out_port, const net::ip_addr &target, const rte_ether_addr *unicast);

    uint32_t _self;
    rte_mempool *_pool;
    tx_buffers &_tx;
    drop_counts &_drops;
    const worker_clock &_clock;
    std::unique_ptr<neigh_table> _table;
    std::vector<rte_ring *> _msg_to;
    std::vector<net::ip_addr> _peers; // held by hold_peers
    counters _counters;
};

} // namespace fulcrum::dataplane
