// ICMPv6: to local addresses (Neighbour Discovery in nd.cpp, echo answered for a VIP
// only while it has a listener), errors about connections translated to the other side
// as worker_icmp.cpp does for IPv4 and, for a 6->4 connection, between ICMPv6 and
// ICMPv4 as RFC 7915 4.2 and 5.2 say (packet too big <-> fragmentation needed with the
// MTU adjusted by the 20-byte header difference), and "packet too big" for an IPv6
// packet too large for the way out.
#include "dataplane/worker.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t icmp6_unreachable = 1, icmp6_too_big = 2, icmp6_time_exceeded = 3, icmp6_param_problem = 4,
                  icmp6_echo_request = 128, icmp6_echo_reply = 129, icmp6_router_solicit = 133,
                  icmp6_router_advert = 134, icmp6_nd_solicit = 135, icmp6_nd_advert = 136, icmp6_redirect = 137;
constexpr uint8_t icmp4_unreachable = 3, icmp4_time_exceeded = 11, icmp4_param_problem = 12;
// (An error quotes at most min_mtu6 less its headers.)

// ICMPv6's checksum over its pseudo-header is right (the message `len` bytes at `icmp`).
bool icmp6_checksum_ok(const rte_ipv6_hdr *ip, const void *icmp, uint32_t len) {
    uint32_t sum = rte_ipv6_phdr_cksum(ip, 0);
    sum += rte_raw_cksum(icmp, len);
    return net::csum_fold(sum) == 0xffff;
}

void icmp6_checksum(rte_ipv6_hdr *ip, uint8_t *icmp) {
    icmp[2] = icmp[3] = 0;
    uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);
    std::memcpy(icmp + 2, &ck, 2);
}

// RFC 7915 5.2: an ICMPv6 error's type and code as ICMPv4 (and a parameter problem's
// pointer into the IPv4 header); false when it has none.
bool v6_to_v4_error(uint8_t type, uint8_t code, uint32_t pointer, uint8_t &t4, uint8_t &c4, uint8_t &p4) {
    p4 = 0;
    switch (type) {
    case icmp6_unreachable: {
        static const int8_t codes[] = {1, 10, 1, 1, 3}; // no route, prohibited, scope, address, port
        if (code >= sizeof codes) return false;
        t4 = icmp4_unreachable, c4 = static_cast<uint8_t>(codes[code]);
        return true;
    }
    case icmp6_too_big: t4 = icmp4_unreachable, c4 = 4; return true;
    case icmp6_time_exceeded: t4 = icmp4_time_exceeded, c4 = code; return code <= 1;
    case icmp6_param_problem:
        if (code == 1) return t4 = icmp4_unreachable, c4 = 2, true; // next header: protocol unreachable
        if (code != 0) return false;
        t4 = icmp4_param_problem, c4 = 0;
        if (pointer <= 1) p4 = static_cast<uint8_t>(pointer);
        else if (pointer == 4 || pointer == 5) p4 = 2;
        else if (pointer == 6) p4 = 9;
        else if (pointer == 7) p4 = 8;
        else if (pointer >= 8 && pointer <= 23) p4 = 12;
        else if (pointer >= 24 && pointer <= 39) p4 = 16;
        else return false;
        return true;
    }
    return false;
}

// RFC 7915 4.2: an ICMPv4 error's type and code as ICMPv6 (and a parameter problem's pointer).
bool v4_to_v6_error(uint8_t type, uint8_t code, uint8_t pointer, uint8_t &t6, uint8_t &c6, uint32_t &p6) {
    p6 = 0;
    switch (type) {
    case icmp4_unreachable:
        switch (code) {
        case 0: case 1: case 5: case 6: case 7: case 8: case 11: case 12: t6 = icmp6_unreachable, c6 = 0; return true;
        case 9: case 10: case 13: case 15: t6 = icmp6_unreachable, c6 = 1; return true;
        case 3: t6 = icmp6_unreachable, c6 = 4; return true;
        case 2: t6 = icmp6_param_problem, c6 = 1, p6 = 6; return true;
        case 4: t6 = icmp6_too_big, c6 = 0; return true;
        }
        return false;
    case icmp4_time_exceeded: t6 = icmp6_time_exceeded, c6 = code; return code <= 1;
    case icmp4_param_problem: {
        if (code != 0 && code != 2) return false;
        t6 = icmp6_param_problem, c6 = 0;
        static const int8_t map[20] = {0, 1, 4, 4, -1, -1, -1, -1, 7, 6, -1, -1, 8, 8, 8, 8, 24, 24, 24, 24};
        if (pointer >= 20 || map[pointer] < 0) return false;
        p6 = static_cast<uint32_t>(map[pointer]);
        return true;
    }
    }
    return false;
}

// A quoted transport header's ports set to (sport, dport), its checksum (when quoted,
// and for UDP when it has one) moved by `sum` (the addresses' change) and the ports'.
void requote_ports(uint8_t *ql4, uint32_t ql4_len, uint8_t proto, uint32_t sum, uint16_t sport, uint16_t dport) {
    uint16_t qs, qd;
    std::memcpy(&qs, ql4, 2);
    std::memcpy(&qd, ql4 + 2, 2);
    sum = net::csum_replace16(net::csum_replace16(sum, qs, sport), qd, dport);
    std::memcpy(ql4, &sport, 2);
    std::memcpy(ql4 + 2, &dport, 2);
    uint32_t ck_off = proto == IPPROTO_TCP ? 16 : 6;
    if (ql4_len < ck_off + 2) return;
    uint16_t ck;
    std::memcpy(&ck, ql4 + ck_off, 2);
    if (ck == 0 && proto == IPPROTO_UDP) return;
    ck = net::csum_apply(ck, net::csum_fold(sum));
    std::memcpy(ql4 + ck_off, &ck, 2);
}

} // namespace

// ---------------------------------------------------------------------------------------
// ICMPv6 to a local address (or, for ND, a solicited-node group)

void worker::handle_icmp6(rte_mbuf *m, uint8_t in_port, uint32_t len, bool redirected) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    const uint32_t icmp_off = l3_off + ip6_len;
    uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, icmp_off);
    if (len < 8 || !icmp6_checksum_ok(ip, icmp, len)) return drop_pkt(m, drop::bad_icmp6);
    uint8_t type = icmp[0];
    if (type == icmp6_nd_solicit || type == icmp6_nd_advert) {
        if (_neigh.on_nd(m, in_port, *_snap, icmp_off, len)) to_kernel(m, in_port, drop::nd_ignored, host_class::lifeline);
        return;
    }
    // Routes are configured: router advertisements and redirects change nothing (and the
    // host's kernel must not act on them either); router solicitations are not ours.
    if (type == icmp6_router_advert || type == icmp6_redirect || type == icmp6_router_solicit)
        return drop_pkt(m, drop::nd_ignored);
    if (multicast6(ip->dst_addr) || link_local6(ip->dst_addr)) // MLD queries and the like: the host's
        return to_kernel(m, in_port, drop::icmp_ignored, host_class::other);
    const local_entry *local = _snap->find_local6(ip->dst_addr);
    if (!local) return drop_pkt(m, drop::not_local);
    bool error = type == icmp6_unreachable || type == icmp6_too_big || type == icmp6_time_exceeded ||
                 type == icmp6_param_problem;
    if (error && local->kind != local_kind::port && icmp6_error_for_conn(m, *local, redirected)) return;
    bool answer = type == icmp6_echo_request && icmp[1] == 0 && (local->kind != local_kind::vip || local->has_listener);
    if (!answer)
        return local->kind == local_kind::vip ? drop_pkt(m, drop::icmp_ignored)
                                              : to_kernel(m, in_port, drop::icmp_ignored,
                                                          local->kind == local_kind::laddr ? host_class::lifeline
                                                                                           : host_class::other);
    // The echo reply, in place: addresses swapped (the pseudo-header's sum is the same),
    // the type word's change applied to the checksum.
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = _snap->ports[in_port].mac;
    uint8_t src[16];
    std::memcpy(src, ip->src_addr, 16);
    std::memcpy(ip->src_addr, ip->dst_addr, 16);
    std::memcpy(ip->dst_addr, src, 16);
    ip->hop_limits = 64;
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    uint16_t old_w, new_w, ck;
    std::memcpy(&old_w, icmp, 2);
    icmp[0] = icmp6_echo_reply;
    std::memcpy(&new_w, icmp, 2);
    std::memcpy(&ck, icmp + 2, 2);
    ck = net::csum_apply(ck, net::csum_fold(net::csum_replace16(0, old_w, new_w)));
    std::memcpy(icmp + 2, &ck, 2);
    m->ol_flags = 0;
    _counters.icmp_replies++;
    _tx.enqueue(in_port, m);
}

// An ICMPv6 error quoting a packet Fulcrum sent for a connection; false when it is not
// one (the caller then treats it as any other ICMPv6). Translated to the connection's
// other side as worker_icmp.cpp does for IPv4; toward an IPv4 backend (6->4) the message
// becomes ICMPv4 (icmp6_to_v4).
bool worker::icmp6_error_for_conn(rte_mbuf *m, const local_entry &local, bool redirected) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    const uint32_t icmp_off = l3_off + ip6_len;
    uint32_t len = rte_be_to_cpu_16(ip->payload_len);
    if (len < 8 + ip6_len + 8) return false;
    uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, icmp_off);
    auto *q = reinterpret_cast<rte_ipv6_hdr *>(icmp + 8); // the quoted packet
    if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP) return false;
    uint8_t *ql4 = icmp + 8 + ip6_len;
    uint32_t ql4_len = len - 8 - ip6_len;
    conn::flow_key6 key;
    std::memcpy(key.src, q->dst_addr, 16);
    std::memcpy(key.dst, q->src_addr, 16);
    uint16_t qs, qd;
    std::memcpy(&qs, ql4, 2);
    std::memcpy(&qd, ql4 + 2, 2);
    key.ports = conn::pack_ports(qd, qs);
    key.proto = q->proto;
    unsigned dir;
    connection *c = _conns.lookup(key, _conns.hash(key), dir);
    if (!c && local.kind == local_kind::laddr && !redirected) {
        // The lport's owner has it (the error's own hash put it on this queue).
        uint32_t owner = reply_owner6(local.index, key.src, qd, qs);
        if (owner != _id) {
            if (rte_ring_mp_enqueue(_redirect_to[owner], m) != 0) drop_pkt(m, drop::redirect_full);
            else _counters.redirected_out++;
            return true;
        }
    }
    // dir 0: the quote was vip -> client (an error from the client side, to the VIP);
    // dir 1: laddr6 -> backend (6->6, from the backend side, to the laddr).
    if (!c || (dir == 0) != (local.kind == local_kind::vip)) return false;
    if (ip->hop_limits <= 1) return drop_pkt(m, drop::hop_limit_exceeded), true;
    unsigned to = dir == 0 ? 0 : 1;
    const conn::conn_addr6 &a = _conns.addr6(*c);
    if (to == 0 && !conn::dir_v6(*c, 1)) return icmp6_to_v4(m, *c, len), true;

    // The quote as its receiver would have sent it, and the message to that side.
    const uint8_t *q_src = to == 0 ? a.bip : a.cip, *q_dst = to == 0 ? a.laddr : a.vip;
    uint16_t q_sport = to == 0 ? c->bport : c->cport, q_dport = to == 0 ? c->lport : c->vport;
    uint32_t sum = net::csum_replace_bytes(0, q->src_addr, 16, q_src, 16);
    sum = net::csum_replace_bytes(sum, q->dst_addr, 16, q_dst, 16);
    if (q->proto == IPPROTO_TCP) sum += requote_seq(*c, to, ql4, ql4_len);
    requote_ports(ql4, ql4_len, q->proto, sum, q_sport, q_dport);
    std::memcpy(q->src_addr, q_src, 16);
    std::memcpy(q->dst_addr, q_dst, 16);
    std::memcpy(ip->src_addr, to == 0 ? a.laddr : a.vip, 16);
    std::memcpy(ip->dst_addr, to == 0 ? a.bip : a.cip, 16);
    ip->hop_limits--;
    icmp6_checksum(ip, icmp);
    m->ol_flags = 0;
    _counters.icmp_errors_forwarded++;
    _neigh.send(m, c->out_port(to), _neigh.at(c->neigh[to]), *_snap);
    return true;
}

// "Packet too big" to the IPv6 sender (RFC 4443 3.2), from the address it sent to,
// quoting as much of its packet as fits 1280 bytes, along the connection's way back.
bool worker::too_big6(rte_mbuf *m, const connection &c, unsigned dir, uint32_t mtu) {
    unsigned back = 1 - dir;
    rte_mbuf *e = rte_pktmbuf_alloc(_pool);
    if (e) {
        const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr *, l3_off);
        uint32_t quote = std::min<uint32_t>(m->pkt_len - l3_off, min_mtu6 - ip6_len - 8);
        uint32_t len = l3_off + ip6_len + 8 + quote;
        auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(e, static_cast<uint16_t>(len)));
        auto *eip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
        auto *icmp = reinterpret_cast<uint8_t *>(eip + 1);
        std::memset(eth, 0, l3_off + ip6_len + 8);
        std::memcpy(icmp + 8, ip, quote);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        ipv6_header(eip, 0, static_cast<uint16_t>(8 + quote), IPPROTO_ICMPV6, 64, ip->dst_addr, ip->src_addr);
        icmp[0] = icmp6_too_big;
        uint32_t mtu_be = rte_cpu_to_be_32(mtu);
        std::memcpy(icmp + 4, &mtu_be, 4);
        icmp6_checksum(eip, icmp);
        _counters.icmp_frag_needed++;
        _neigh.send(e, c.out_port(back), _neigh.at(c.neigh[back]), *_snap);
    }
    drop_pkt(m, drop::too_big);
    return true;
}


// An ICMPv6 error from the client side about a 6->4 connection, as the IPv4 backend's
// ICMPv4 error from the connection's laddr, quoting the packet as the backend sent it.
void worker::icmp6_to_v4(rte_mbuf *m, const connection &c, uint32_t len) {
    const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr *, l3_off);
    const uint8_t *icmp = rte_pktmbuf_mtod_offset(m, const uint8_t *, l3_off + ip6_len);
    const auto *q = reinterpret_cast<const rte_ipv6_hdr *>(icmp + 8);
    uint32_t param;
    std::memcpy(&param, icmp + 4, 4);
    param = rte_be_to_cpu_32(param);
    uint8_t t4, c4, p4;
    if (!v6_to_v4_error(icmp[0], icmp[1], param, t4, c4, p4)) return drop_pkt(m, drop::no_translation);
    uint32_t ql4_len = std::min<uint32_t>(len - 8 - ip6_len, 576 - 2 * sizeof(rte_ipv4_hdr) - 8);
    rte_mbuf *e = rte_pktmbuf_alloc(_pool);
    if (!e) return drop_pkt(m, drop::no_translation);
    uint32_t out_len = l3_off + 2 * sizeof(rte_ipv4_hdr) + 8 + ql4_len;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(e, static_cast<uint16_t>(out_len)));
    std::memset(eth, 0, out_len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto *oip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    auto *ic = reinterpret_cast<uint8_t *>(oip + 1);
    auto *qip = reinterpret_cast<rte_ipv4_hdr *>(ic + 8);
    uint8_t *ql4 = reinterpret_cast<uint8_t *>(qip + 1);
    ic[0] = t4, ic[1] = c4;
    if (t4 == icmp4_param_problem) ic[4] = p4;
    if (t4 == icmp4_unreachable && c4 == 4) {
        // The IPv6 MTU less 20, within what the ports carry (RFC 7915 5.2).
        uint32_t mtu = std::min({param - 20, uint32_t(_snap->ports[c.out_port(0)].mtu),
                                 uint32_t(_snap->ports[c.out_port(1)].mtu) - 20u});
        uint16_t mtu_be = rte_cpu_to_be_16(static_cast<uint16_t>(std::max<uint32_t>(mtu, 68)));
        std::memcpy(ic + 6, &mtu_be, 2);
    }
    // The quote: the packet as the backend sent it (bip:bport -> laddr:lport).
    std::memcpy(ql4, q + 1, ql4_len);
    qip->version_ihl = 0x45;
    qip->type_of_service = traffic_class(q);
    qip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + rte_be_to_cpu_16(q->payload_len)));
    qip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    qip->time_to_live = q->hop_limits;
    qip->next_proto_id = q->proto;
    qip->src_addr = c.bip, qip->dst_addr = c.laddr;
    qip->hdr_checksum = rte_ipv4_cksum(qip);
    uint32_t sum = net::csum_replace_bytes(0, q->src_addr, 16, &c.bip, 4);
    sum = net::csum_replace_bytes(sum, q->dst_addr, 16, &c.laddr, 4);
    if (q->proto == IPPROTO_TCP) sum += requote_seq(c, 0, ql4, ql4_len);
    requote_ports(ql4, ql4_len, q->proto, sum, c.bport, c.lport);
    oip->version_ihl = 0x45;
    oip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(out_len - l3_off));
    oip->time_to_live = static_cast<uint8_t>(ip->hop_limits - 1);
    oip->next_proto_id = IPPROTO_ICMP;
    oip->src_addr = c.laddr, oip->dst_addr = c.bip;
    oip->hdr_checksum = rte_ipv4_cksum(oip);
    uint16_t ck = static_cast<uint16_t>(~net::csum_buffer(ic, 8 + sizeof(rte_ipv4_hdr) + ql4_len));
    std::memcpy(ic + 2, &ck, 2);
    rte_pktmbuf_free(m);
    _counters.icmp_errors_forwarded++;
    _neigh.send(e, c.out_port(0), _neigh.at(c.neigh[0]), *_snap);
}

// An ICMPv4 error from the backend side of a 6->4 connection (to its laddr, quoting
// laddr:lport -> bip:bport), as ICMPv6 to the client from the VIP, quoting the packet as
// the client sent it. True when handled (forwarded or dropped).
bool worker::icmp4_to_v6(rte_mbuf *m, const connection &c, uint32_t icmp_len) {
    const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr *, l3_off);
    const uint8_t *icmp = rte_pktmbuf_mtod_offset(m, const uint8_t *, l3_off + sizeof(rte_ipv4_hdr));
    const auto *q = reinterpret_cast<const rte_ipv4_hdr *>(icmp + 8);
    uint8_t t6, c6;
    uint32_t p6;
    if (!v4_to_v6_error(icmp[0], icmp[1], icmp[4], t6, c6, p6)) return drop_pkt(m, drop::no_translation), true;
    uint32_t ql4_len = std::min<uint32_t>(icmp_len - 8 - sizeof(rte_ipv4_hdr), min_mtu6 - 2 * ip6_len - 8);
    rte_mbuf *e = rte_pktmbuf_alloc(_pool);
    if (!e) return drop_pkt(m, drop::no_translation), true;
    const conn::conn_addr6 &a = _conns.addr6(c);
    uint32_t out_len = l3_off + 2 * ip6_len + 8 + ql4_len;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(e, static_cast<uint16_t>(out_len)));
    std::memset(eth, 0, out_len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    auto *oip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    auto *ic = reinterpret_cast<uint8_t *>(oip + 1);
    auto *qip = reinterpret_cast<rte_ipv6_hdr *>(ic + 8);
    uint8_t *ql4 = reinterpret_cast<uint8_t *>(qip + 1);
    ic[0] = t6, ic[1] = c6;
    uint32_t word = p6;
    if (t6 == icmp6_too_big) {
        uint16_t mtu4_be;
        std::memcpy(&mtu4_be, icmp + 6, 2);
        uint32_t mtu4 = rte_be_to_cpu_16(mtu4_be);
        uint32_t limit = std::min<uint32_t>(_snap->ports[c.out_port(1)].mtu, _snap->ports[c.out_port(0)].mtu + 20u);
        word = std::max<uint32_t>(min_mtu6, mtu4 ? std::min(mtu4 + 20, limit) : limit);
    }
    word = rte_cpu_to_be_32(word);
    std::memcpy(ic + 4, &word, 4);
    // The quote: the packet as the client sent it ([cip]:cport -> [vip]:vport).
    std::memcpy(ql4, q + 1, ql4_len);
    uint16_t q_total = rte_be_to_cpu_16(q->total_length);
    ipv6_header(qip, q->type_of_service, static_cast<uint16_t>(q_total > 20 ? q_total - 20 : 0), q->next_proto_id,
                q->time_to_live, a.cip, a.vip);
    uint32_t sum = net::csum_replace_bytes(0, &q->src_addr, 4, a.cip, 16);
    sum = net::csum_replace_bytes(sum, &q->dst_addr, 4, a.vip, 16);
    if (q->next_proto_id == IPPROTO_TCP) sum += requote_seq(c, 1, ql4, ql4_len);
    requote_ports(ql4, ql4_len, q->next_proto_id, sum, c.cport, c.vport);
    ipv6_header(oip, 0, static_cast<uint16_t>(8 + ip6_len + ql4_len), IPPROTO_ICMPV6,
                static_cast<uint8_t>(ip->time_to_live - 1), a.vip, a.cip);
    icmp6_checksum(oip, ic);
    rte_pktmbuf_free(m);
    _counters.icmp_errors_forwarded++;
    _neigh.send(e, c.out_port(1), _neigh.at(c.neigh[1]), *_snap);
    return true;
}

} // namespace fulcrum::dataplane
