// ICMP errors for connections, as IPVS does it.
//
// An error about a packet of a connection (destination unreachable, including
// "fragmentation needed", time exceeded, parameter problem) quotes that packet as it was
// sent: from Fulcrum, so already translated. It is translated back into the other
// side's view and forwarded there:
//   from the client side (to the VIP), quoting  vip:vport -> cip:cport
//     becomes, to the backend,       laddr -> bip, quoting bip:bport -> laddr:lport
//   from the backend side (to a laddr), quoting laddr:lport -> bip:bport
//     becomes, to the client,          vip -> cip, quoting cip:cport -> vip:vport
// so path-MTU discovery and "port unreachable" work through Fulcrum. And a DF packet
// larger than the egress port's MTU gets "fragmentation needed" back from Fulcrum.
// Echo requests to a local address are answered (to a VIP only while it has a listener).
#include "dataplane/worker.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t icmp_unreachable = 3, icmp_time_exceeded = 11, icmp_param_problem = 12;
constexpr uint8_t code_frag_needed = 4;
constexpr uint32_t icmp_hdr_len = 8, min_quote = sizeof(rte_ipv4_hdr) + 8;

bool is_error(uint8_t type) {
    return type == icmp_unreachable || type == icmp_time_exceeded || type == icmp_param_problem;
}

void put32(uint8_t *p, uint32_t v) { std::memcpy(p, &v, 4); }
void put16(uint8_t *p, uint16_t v) { std::memcpy(p, &v, 2); }
uint16_t get16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
uint32_t get32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

} // namespace

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
                                                      : to_kernel(m, in_port, drop::icmp_ignored,
                                                                  local.kind == local_kind::laddr ? host_class::lifeline : host_class::other);

    turn_around(m, _snap->ports[in_port].mac);
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
    _tx.enqueue(in_port, m);
}

// A quoted TCP segment of a has_side connection, its sequence number made the one its
// sender wrote: the SYN proxy's client-facing numbering (to the backend: less the delta),
// or the client's bytes after a PROXY header (to the client: less the header). Returns
// the checksum delta (0 when nothing changed).
uint32_t worker::requote_seq(const connection &c, unsigned to, uint8_t *ql4, uint32_t ql4_len) {
    if (!(c.flags & conn::has_side) || ql4_len < 8) return 0;
    const conn_side &s = _side.at(_conns.index_of(&c));
    uint32_t seq = get32(ql4 + 4), back = seq;
    if (to == 0) back = seq_add(seq, 0u - s.delta);
    else if (s.client_addr == listener_rt::client_addr_proxy_v2 && s.header != conn_side::header_unsent)
        back = unshift_header(seq, s.first_seq, proxy_v2_len_of(c));
    put32(ql4 + 4, back);
    return net::csum_replace32(0, seq, back);
}

bool worker::icmp_error_for_conn(rte_mbuf *m, const local_entry &local, bool redirected) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    const uint32_t icmp_off = l3_off + sizeof(rte_ipv4_hdr);
    uint32_t icmp_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr);
    auto *icmp = rte_pktmbuf_mtod_offset(m, rte_icmp_hdr *, icmp_off);
    if (!is_error(icmp->icmp_type) || local.kind == local_kind::port) return false;
    if (icmp_len < icmp_hdr_len + min_quote) return false;
    uint8_t *q = rte_pktmbuf_mtod_offset(m, uint8_t *, icmp_off + icmp_hdr_len); // the quoted packet
    auto *qip = reinterpret_cast<rte_ipv4_hdr *>(q);
    if (qip->version_ihl != 0x45 || (qip->next_proto_id != IPPROTO_TCP && qip->next_proto_id != IPPROTO_UDP))
        return false;
    uint8_t *ql4 = q + sizeof(rte_ipv4_hdr);
    uint32_t ql4_len = icmp_len - icmp_hdr_len - sizeof(rte_ipv4_hdr); // bytes of it quoted
    // The quote is a packet Fulcrum sent; its reply direction is in the table.
    flow_key key{qip->dst_addr, qip->src_addr, conn::pack_ports(get16(ql4 + 2), get16(ql4)), qip->next_proto_id};
    unsigned dir;
    connection *c = _conns.lookup(key, _conns.hash(key), dir);
    // dir 0: quote was vip -> client (error from the client side, to the VIP);
    // dir 1: quote was laddr -> backend (error from the backend side, to the laddr).
    if (!c && local.kind == local_kind::laddr && !redirected) {
        // The lport's owner has it (the error's own hash put it on this queue).
        uint32_t owner = reply_owner(local.index, qip->dst_addr, get16(ql4 + 2), get16(ql4));
        if (owner != _id) {
            if (rte_ring_mp_enqueue(_redirect_to[owner], m) != 0) drop_pkt(m, drop::redirect_full);
            else _counters.redirected_out++;
            return true;
        }
    }
    if (!c || (dir == 0) != (local.kind == local_kind::vip)) return false;
    if (ip->time_to_live <= 1) return drop_pkt(m, drop::ttl_exceeded), true; // forwarded, so it must have hops left
    if (conn::is_v6(*c)) return icmp4_to_v6(m, *c, icmp_len); // a 6->4 connection's backend side

    unsigned to = dir == 0 ? 0 : 1; // forward towards the backend (0) or the client (1)
    uint32_t q_src, q_dst;
    uint16_t q_sport, q_dport;
    if (to == 0) q_src = c->bip, q_dst = c->laddr, q_sport = c->bport, q_dport = c->lport;
    else q_src = c->cip, q_dst = c->vip, q_sport = c->cport, q_dport = c->vport;

    // The quoted L4 checksum, when quoted, follows its addresses and ports.
    uint32_t l4_sum = net::csum_replace32(net::csum_replace32(0, qip->src_addr, q_src), qip->dst_addr, q_dst);
    l4_sum = net::csum_replace16(net::csum_replace16(l4_sum, get16(ql4), q_sport), get16(ql4 + 2), q_dport);
    put16(ql4, q_sport), put16(ql4 + 2, q_dport);
    if (qip->next_proto_id == IPPROTO_TCP) l4_sum += requote_seq(*c, to, ql4, ql4_len);
    uint32_t ck_off = qip->next_proto_id == IPPROTO_TCP ? 16 : 6;
    if (ql4_len >= ck_off + 2 && get16(ql4 + ck_off) != 0)
        put16(ql4 + ck_off, net::csum_apply(get16(ql4 + ck_off), net::csum_fold(l4_sum)));
    qip->src_addr = q_src, qip->dst_addr = q_dst;
    qip->hdr_checksum = 0;
    qip->hdr_checksum = rte_ipv4_cksum(qip);

    ip->src_addr = to == 0 ? c->laddr : c->vip;
    ip->dst_addr = to == 0 ? c->bip : c->cip;
    ip->time_to_live = static_cast<uint8_t>(ip->time_to_live - 1);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = static_cast<uint16_t>(~net::csum_buffer(icmp, icmp_len));
    m->ol_flags = 0;
    _counters.icmp_errors_forwarded++;
    _neigh.send(m, c->out_port(to), _neigh.at(c->neigh[to]), *_snap);
    return true;
}

bool worker::too_big(rte_mbuf *m, const connection &c, unsigned dir, uint16_t reserve) {
    uint16_t mtu = static_cast<uint16_t>(_snap->ports[c.out_port(dir)].mtu - reserve);
    if (m->pkt_len - l3_off <= mtu) return false;
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    if (!(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))) {
        drop_pkt(m, drop::too_big); // Fulcrum does not fragment
        return true;
    }
    // "Fragmentation needed" to the sender, from the address it sent to, quoting what it
    // sent (up to 576 bytes in all, as RFC 1812 asks), along the connection's way back.
    unsigned back = 1 - dir;
    rte_mbuf *e = rte_pktmbuf_alloc(_pool);
    if (e) {
        uint32_t quote = std::min<uint32_t>(m->pkt_len - l3_off, 576 - sizeof(rte_ipv4_hdr) - icmp_hdr_len);
        uint32_t len = l3_off + sizeof(rte_ipv4_hdr) + icmp_hdr_len + quote;
        auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(e, static_cast<uint16_t>(len)));
        auto *eip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
        auto *icmp = reinterpret_cast<rte_icmp_hdr *>(eip + 1);
        std::memset(eth, 0, l3_off + sizeof(rte_ipv4_hdr) + icmp_hdr_len);
        std::memcpy(reinterpret_cast<uint8_t *>(icmp) + icmp_hdr_len, ip, quote);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        eip->version_ihl = 0x45;
        eip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - l3_off));
        eip->time_to_live = 64;
        eip->next_proto_id = IPPROTO_ICMP;
        eip->src_addr = ip->dst_addr; // the VIP or the laddr it was sent to
        eip->dst_addr = ip->src_addr;
        eip->hdr_checksum = rte_ipv4_cksum(eip);
        icmp->icmp_type = icmp_unreachable;
        icmp->icmp_code = code_frag_needed;
        icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu); // next-hop MTU (RFC 1191), after 16 unused bits
        icmp->icmp_cksum = static_cast<uint16_t>(~net::csum_buffer(icmp, icmp_hdr_len + quote));
        _counters.icmp_frag_needed++;
        _neigh.send(e, c.out_port(back), _neigh.at(c.neigh[back]), *_snap);
    }
    drop_pkt(m, drop::too_big);
    return true;
}

} // namespace fulcrum::dataplane
