#include "dataplane/neighbours.h"

#include "dataplane/headers.h"
#include "dataplane/messages.h"

namespace fulcrum::dataplane {

neighbours::neighbours(uint32_t self, uint32_t capacity, int socket, rte_mempool *pool, tx_buffers &tx,
                       drop_counts &drops, const worker_clock &clock)
    : _self(self), _pool(pool), _tx(tx), _drops(drops), _clock(clock),
      _table(std::make_unique<neigh_table>(capacity, socket)) {}

neighbours::~neighbours() {
    _table->for_each([](neigh_entry &e) {
        for (unsigned i = 0; i < e.n_pending; i++) rte_pktmbuf_free(e.pending[i]);
        e.n_pending = 0;
    });
}

void neighbours::add_static(const std::vector<neighbour_rt> &entries) {
    for (const neighbour_rt &n : entries) {
        neigh_entry *e = _table->find_or_add(n.ip, 0);
        if (!e) break;
        e->mac = n.mac;
        e->resolved = true;
        e->is_static = true;
    }
}

void neighbours::hold_peers(const snapshot &s) {
    for (const net::ip_addr &ip : _peers)
        if (neigh_entry *e = _table->find(ip)) e->peer = false;
    _peers.clear();
    for (const auto &[ip, port] : s.cluster_peers) {
        neigh_entry *e = _table->find_or_add(ip, _clock.now_tsc);
        if (!e) continue; // counted when a handoff needs it (neigh_table_full)
        e->peer = true;
        e->port = port;
        _peers.push_back(ip);
        if (!e->resolved && !e->is_static && e->n_pending == 0 && e->next_try_tsc <= _clock.now_tsc) {
            e->next_try_tsc = _clock.now_tsc + _clock.hz;
            solicit(s.ports[port], port, *e, nullptr);
        }
    }
}

bool neighbours::on_arp(rte_mbuf *m, uint8_t in_port, const snapshot &s) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return drop_pkt(_drops, m, drop::arp_ignored), false;
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr *, sizeof(rte_ether_hdr));
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
        return drop_pkt(_drops, m, drop::arp_ignored), false;

    const port_rt &port = s.ports[in_port];
    uint32_t sip = arp->arp_data.arp_sip, tip = arp->arp_data.arp_tip;
    const local_entry *target = s.find_local(tip);
    bool from_subnet = sip != 0 && (sip & port.mask) == (port.ip & port.mask);
    uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);

    // Only entries a worker created are updated: an unsolicited reply or request creates
    // nothing. Peers hear of it too: a reply to a request another worker sent may arrive
    // on this worker's queue.
    if (from_subnet && (op == RTE_ARP_OP_REPLY || target)) learn(sip, arp->arp_data.arp_sha, true);
    // Replies also resolve the kernel's own neighbours (probe next hops).
    if (op == RTE_ARP_OP_REPLY && from_subnet) return true;
    if (op != RTE_ARP_OP_REQUEST || !target) return drop_pkt(_drops, m, drop::arp_ignored), false;

    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = sip;
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = tip;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = port.mac;
    m->ol_flags = 0;
    _counters.arp_replies++;
    _tx.enqueue(in_port, m);
    return false;
}

void neighbours::learn(const net::ip_addr &ip, const rte_ether_addr &mac, bool tell_peers) {
    neigh_entry *e = _table->find(ip);
    if (e && e->is_static) {
        // Configured entries are the operator's word: ARP never overrides them.
        if (!rte_is_same_ether_addr(&e->mac, &mac)) _counters.neighbour_static_kept++;
        return;
    }
    if (e) {
        e->mac = mac;
        e->resolved = true;
        e->retries = 0;
        e->probing = false;
        e->confirmed_tsc = _clock.now_tsc;
        for (unsigned i = 0; i < e->n_pending; i++) {
            rte_mbuf *p = e->pending[i];
            rte_pktmbuf_mtod(p, rte_ether_hdr *)->dst_addr = mac;
            _tx.enqueue(e->port, p);
        }
        e->n_pending = 0;
    }
    // Every ARP packet is passed on, even one this worker had no use for: it may answer
    // another worker's request (queues are spread by the NIC, not by who asked). Peers
    // too only update entries they have.
    if (!tell_peers) return;
    worker_msg msg{};
    msg.type = worker_msg::neigh_learned;
    msg.ip = ip;
    msg.neigh.mac = mac;
    for (uint32_t w = 0; w < _msg_to.size(); w++)
        if (w != _self) rte_ring_mp_enqueue_elem(_msg_to[w], &msg, sizeof(msg));
}

void neighbours::hold(rte_mbuf *m, uint8_t out_port, neigh_entry &e, const snapshot &s) {
    if (e.n_pending == neigh_entry::max_pending) return drop_pkt(_drops, m, drop::neigh_queue_full);
    e.port = out_port;
    e.pending[e.n_pending++] = m;
    if (e.n_pending != 1) return;
    e.retries = 0;
    // Asked for without frames waiting (a cluster peer: hold_peers, timers; a backend:
    // prime): the request may be out already, and timers()
    // asks again when it is due. Anyone else is asked now, and again by timers().
    if (e.next_try_tsc > _clock.now_tsc) return;
    e.next_try_tsc = _clock.now_tsc + _clock.hz;
    solicit(s.ports[out_port], out_port, e, nullptr);
}

void neighbours::prime(const snapshot &s, unsigned max_asks) {
    for (const backend_rt &b : s.backends) {
        neigh_entry *e = nullptr;
        uint8_t port = 0;
        if (b.v6()) {
            route6 r;
            if (!s.lookup_route6(b.ip6.b.data(), 0, r)) continue;
            e = _table->find_or_add(r.next_hop, _clock.now_tsc), port = r.port;
        } else {
            route r;
            if (!s.lookup_route(b.ip, r)) continue;
            e = _table->find_or_add(r.next_hop, _clock.now_tsc), port = r.port;
        }
        if (!e) return; // the table is full: the rest resolve on demand
        if (e->resolved || e->is_static || e->n_pending || e->next_try_tsc > _clock.now_tsc) continue;
        e->port = port;
        if (_self == 0 && max_asks > 0) {
            max_asks--;
            ask(*e, port, s);
        }
    }
}

// Retries for unresolved entries; learned entries older than the neighbour timeout are
// re-confirmed with unicast requests while connections use them (forwarding goes on
// meanwhile; three unanswered: resolve again by broadcast), and forgotten when nothing
// uses them.
void neighbours::timers(const snapshot &s) {
    const uint64_t age_tsc = uint64_t(s.neigh_timeout_s) * _clock.hz, now = _clock.now_tsc;
    _table->for_each([&](neigh_entry &e) {
        if (e.is_static) return;
        if (!e.resolved) {
            if (e.n_pending == 0) {
                if (e.peer) { // asked for once a second until it answers
                    if (now >= e.next_try_tsc) {
                        e.next_try_tsc = now + _clock.hz;
                        solicit(s.ports[e.port], e.port, e, nullptr);
                    }
                    return;
                }
                if (e.refs == 0 && now - e.confirmed_tsc > age_tsc) {
                    _counters.neighbours_aged++;
                    _table->forget(e);
                }
                return;
            }
            if (now < e.next_try_tsc) return;
            if (++e.retries >= 3) {
                for (unsigned i = 0; i < e.n_pending; i++) drop_pkt(_drops, e.pending[i], drop::neigh_unresolved);
                e.n_pending = 0;
                return;
            }
            e.next_try_tsc = now + _clock.hz;
            solicit(s.ports[e.port], e.port, e, nullptr);
            return;
        }
        if (now - e.confirmed_tsc <= age_tsc) return;
        if (e.refs == 0 && !e.peer) {
            _counters.neighbours_aged++;
            _table->forget(e);
            return;
        }
        if (!e.probing) {
            e.probing = true;
            e.retries = 0;
        } else if (now < e.next_try_tsc) {
            return;
        } else if (++e.retries >= 3) {
            e.probing = false; // gone quiet: the next frame for it asks the whole segment
            e.resolved = false; // (its MAC is kept: a peer's frames are still known by it)
            e.confirmed_tsc = now;
            return;
        }
        e.next_try_tsc = now + _clock.hz;
        solicit(s.ports[e.port], e.port, e, &e.mac);
    });
}

void neighbours::solicit(const port_rt &port, uint8_t out_port, const neigh_entry &e, const rte_ether_addr *unicast) {
    if (e.v6()) send_ns(port, out_port, e.addr, unicast);
    else send_request(port, out_port, e.ip, unicast);
}

void neighbours::send_request(const port_rt &port, uint8_t out_port, uint32_t target_ip,
                              const rte_ether_addr *unicast) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)));
    auto *arp = reinterpret_cast<rte_arp_hdr *>(eth + 1);
    if (unicast) eth->dst_addr = *unicast;
    else memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
    eth->src_addr = port.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = port.ip;
    memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
    arp->arp_data.arp_tip = target_ip;
    _counters.arp_requests++;
    _tx.enqueue(out_port, m);
}

} // namespace fulcrum::dataplane
