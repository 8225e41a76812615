// L2 and local answers: ARP (answering for local addresses, learning neighbours and
// sharing them with the other workers), ICMP echo, resolving next hops with packets
// queued meanwhile, and turning a frame around to its sender.
#include "dataplane/worker_internal.h"

namespace fulcrum::dataplane {

void worker::turn_around(rte_mbuf *m, uint8_t in_port) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    rte_ether_addr peer = eth->src_addr;
    eth->dst_addr = peer;
    eth->src_addr = _snap->ports[in_port].mac;
    uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
}

// ---------------------------------------------------------------------------------------
// ICMP, ARP and neighbours

void worker::handle_icmp(rte_mbuf *m, uint8_t in_port, const local_entry &local, bool redirected) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    uint32_t l4_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr);
    if (l4_len < sizeof(rte_icmp_hdr)) return drop_pkt(m, drop::trunc_l4);
    auto *icmp = rte_pktmbuf_mtod_offset(m, rte_icmp_hdr *, l3_off + sizeof(rte_ipv4_hdr));
    if (icmp_error_for_conn(m, local, redirected)) return;
    bool answer = icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0 &&
                  (local.kind != local_kind::vip || local.has_listener);
    // Other ICMP to the host or a laddr (echo replies, port unreachable for a UDP probe)
    // is the kernel's; to a VIP it is dropped.
    if (!answer) return local.kind == local_kind::vip ? drop_pkt(m, drop::icmp_ignored)
                                                      : to_kernel(m, in_port, drop::icmp_ignored);

    turn_around(m, in_port);
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = static_cast<uint16_t>(~net::csum_buffer(ip, sizeof(*ip)));
    uint16_t old_w, new_w;
    std::memcpy(&old_w, &icmp->icmp_type, 2);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    std::memcpy(&new_w, &icmp->icmp_type, 2);
    icmp->icmp_cksum = net::csum_apply(icmp->icmp_cksum, net::csum_fold(net::csum_replace16(0, old_w, new_w)));
    m->ol_flags = 0;
    _counters.icmp_replies++;
    enqueue_tx(in_port, m);
}

void worker::handle_arp(rte_mbuf *m, uint8_t in_port) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return drop_pkt(m, drop::arp_ignored);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr *, sizeof(rte_ether_hdr));
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
        return drop_pkt(m, drop::arp_ignored);

    const port_rt &port = _snap->ports[in_port];
    uint32_t sip = arp->arp_data.arp_sip, tip = arp->arp_data.arp_tip;
    const local_entry *target = _snap->find_local(tip);
    bool from_subnet = sip != 0 && (sip & port.mask) == (port.ip & port.mask);
    uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);

    // Only entries a worker created are updated: an unsolicited reply or request creates
    // nothing. Peers hear of it too: a reply to a request another worker sent may arrive
    // on this worker's queue.
    if (from_subnet && (op == RTE_ARP_OP_REPLY || target)) learn_neighbour(sip, arp->arp_data.arp_sha, true);
    // Replies also resolve the kernel's own neighbours (probe next hops).
    if (op == RTE_ARP_OP_REPLY && from_subnet) return to_kernel(m, in_port, drop::arp_ignored);
    if (op != RTE_ARP_OP_REQUEST || !target) return drop_pkt(m, drop::arp_ignored);

    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = sip;
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = tip;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = port.mac;
    m->ol_flags = 0;
    _counters.arp_replies++;
    enqueue_tx(in_port, m);
}

void worker::learn_neighbour(uint32_t ip, const rte_ether_addr &mac, bool tell_peers) {
    neigh_entry *e = _neigh->find(ip);
    if (e && e->is_static) {
        // Configured entries are the operator's word: ARP never overrides them.
        if (!rte_is_same_ether_addr(&e->mac, &mac)) _counters.neigh_static_kept++;
        return;
    }
    if (e) {
        e->mac = mac;
        e->resolved = true;
        e->retries = 0;
        e->probing = false;
        e->confirmed_tsc = _now_tsc;
        for (unsigned i = 0; i < e->n_pending; i++) {
            rte_mbuf *p = e->pending[i];
            auto *eth = rte_pktmbuf_mtod(p, rte_ether_hdr *);
            eth->dst_addr = mac;
            enqueue_tx(e->port, p);
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
        if (w != _id) rte_ring_mp_enqueue_elem(_msg_to[w], &msg, sizeof(msg));
}

void worker::send_ipv4(rte_mbuf *m, uint8_t out_port, neigh_entry &next_hop) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    eth->src_addr = _snap->ports[out_port].mac;
    neigh_entry *e = &next_hop;
    if (e->resolved) {
        eth->dst_addr = e->mac;
        return enqueue_tx(out_port, m);
    }
    if (e->n_pending == neigh_entry::max_pending) return drop_pkt(m, drop::neigh_queue_full);
    e->port = out_port;
    e->pending[e->n_pending++] = m;
    if (e->n_pending == 1) {
        e->retries = 0;
        e->next_try_tsc = _now_tsc + _tsc_hz;
        send_arp_request(out_port, e->ip, nullptr);
    }
}

// Every 100 ms: retries for unresolved entries; learned entries older than the
// neighbour timeout are re-confirmed with unicast requests while connections use them
// (forwarding goes on meanwhile; three unanswered: resolve again by broadcast), and
// forgotten when nothing uses them.
void worker::neigh_timers() {
    const uint64_t age_tsc = uint64_t(_snap->neigh_timeout_s) * _tsc_hz;
    _neigh->for_each([this, age_tsc](neigh_entry &e) {
        if (e.is_static) return;
        if (!e.resolved) {
            if (e.n_pending == 0) {
                if (e.refs == 0 && _now_tsc - e.confirmed_tsc > age_tsc) {
                    _counters.neigh_aged++;
                    _neigh->forget(e);
                }
                return;
            }
            if (_now_tsc < e.next_try_tsc) return;
            if (++e.retries >= 3) {
                for (unsigned i = 0; i < e.n_pending; i++) drop_pkt(e.pending[i], drop::neigh_unresolved);
                e.n_pending = 0;
                return;
            }
            e.next_try_tsc = _now_tsc + _tsc_hz;
            send_arp_request(e.port, e.ip, nullptr);
            return;
        }
        if (_now_tsc - e.confirmed_tsc <= age_tsc) return;
        if (e.refs == 0) {
            _counters.neigh_aged++;
            _neigh->forget(e);
            return;
        }
        if (!e.probing) {
            e.probing = true;
            e.retries = 0;
        } else if (_now_tsc < e.next_try_tsc) {
            return;
        } else if (++e.retries >= 3) {
            e.probing = false; // gone quiet: the next frame for it asks the whole segment
            e.resolved = false;
            e.confirmed_tsc = _now_tsc;
            return;
        }
        e.next_try_tsc = _now_tsc + _tsc_hz;
        send_arp_request(e.port, e.ip, &e.mac);
    });
}

void worker::send_arp_request(uint8_t out_port, uint32_t target_ip, const rte_ether_addr *unicast) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    const port_rt &port = _snap->ports[out_port];
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
    enqueue_tx(out_port, m);
}

// ---------------------------------------------------------------------------------------
// Cluster handoff (README "Scale-out"): when a node drains, or a path changes, the
// routers send some established flows to a node that does not hold them. A segment that
// starts nothing here goes, unchanged but for its Ethernet header, to every other node
// on the link; the one that holds the connection forwards it, the others drop it. A
// frame that came from a peer is never handed on again, so nothing loops.

bool worker::hand_off(rte_mbuf *m) {
    const auto &peers = _snap->cluster_peers;
    if (peers.empty()) return false;
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    for (const auto &[ip, port] : peers) {
        const neigh_entry *e = _neigh->find(ip);
        if (e && e->resolved && rte_is_same_ether_addr(&e->mac, &eth->src_addr)) return false;
    }
    if (uint32_t rate = _snap->handoff_rate_pps) {
        if (!take_token(_handoff_bucket, rate, std::max<uint32_t>(32, rate / 10))) {
            drop_pkt(m, drop::handoff_limited);
            return true;
        }
    }
    for (size_t i = 0; i < peers.size(); i++) {
        rte_mbuf *copy = i + 1 == peers.size() ? m : rte_pktmbuf_copy(m, _pool, 0, UINT32_MAX);
        if (!copy) continue; // out of mbufs: this peer misses it, TCP resends
        neigh_entry *e = _neigh->find_or_add(peers[i].first, _now_tsc);
        if (!e) {
            drop_pkt(copy, drop::neigh_table_full);
            continue;
        }
        _counters.handoffs++;
        send_ipv4(copy, peers[i].second, *e);
    }
    return true;
}

} // namespace fulcrum::dataplane
