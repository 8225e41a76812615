// The rewrite of a connection with an IPv6 client, and the resets Fulcrum sends on its
// own to an IPv6 side:
//   6->6  [cip]:cport -> [vip]:vport  becomes  [laddr6]:lport -> [bip6]:bport
//   6->4  [cip]:cport -> [vip]:vport  becomes  laddr:lport -> bip:bport (IPv4)
// A 6->4 connection's headers are translated as RFC 7915 says (traffic class <-> TOS,
// hop limit <-> TTL, no fragment header, DF set on packets over 1260 bytes); its L4
// checksum follows the pseudo-header's change by the same precomputed delta as every
// other rewrite, and an IPv4 UDP datagram without a checksum gets one (IPv6 needs it).
#include "dataplane/worker.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

// A has_side connection's work on a client packet before the rewrite, as forward's: a
// datagram's PROXY v2 header (when it still fits the backend's port), TOA or a SYN's
// payload cut, the SYN proxy's backend MSS; false when the frame was consumed.
bool worker::side_work6(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off, conn_side *&side) {
    if (c.proto == IPPROTO_TCP) side = &_side.at(_conns.index_of(&c));
    if (dir != 0) return true;
    const uint32_t l4_len = rte_be_to_cpu_16(rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr *, l3_off)->payload_len);
    if (c.proto == IPPROTO_UDP) {
        const uint16_t mtu = _snap->ports[c.out_port(0)].mtu;
        const uint32_t back_l3 = conn::dir_v6(c, 1) ? ip6_len : sizeof(rte_ipv4_hdr), hdr = proxy_v2_len_of(c);
        if (back_l3 + l4_len + hdr > mtu) { // the client may send this much less
            uint32_t room = mtu + ip6_len - back_l3 - hdr;
            if (room >= min_mtu6) return too_big6(m, c, 0, room), false;
            return drop_pkt(m, drop::too_big), false;
        }
        return _client_addr.add_udp_header(m, c, l4_off);
    }
    // The proxy's backend asked for a smaller MSS than the client was promised: a client
    // segment over it gets "packet too big" (never below IPv6's 1280).
    if (side->backend_mss && l4_len > side->backend_mss + 20u && side->backend_mss + 60u >= min_mtu6)
        return too_big6(m, c, 0, side->backend_mss + 60u), false;
    if (side->client_addr != listener_rt::client_addr_none &&
        (side->client_addr == listener_rt::client_addr_toa ||
         (rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off)->tcp_flags & tcp_syn)))
        _client_addr.prepare_tcp(m, c, *side, l4_off, _max_frame[c.out_port(0)]);
    return true;
}

void worker::forward6(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off) {
    conn_side *side = nullptr; // SYN proxy, PROXY v2, TOA (synproxy.h, client_addr.h)
    if (__builtin_expect(c.flags & conn::has_side, 0) && !side_work6(m, c, dir, l4_off, side)) return;
    const conn::conn_addr6 &a = _conns.addr6(c);
    const bool back6 = conn::dir_v6(c, 1); // the backend side is IPv6 (6->6)
    const bool in6 = dir == 0 || back6, out6 = dir == 1 || back6;
    const uint8_t out = c.out_port(dir);
    const port_rt &op = _snap->ports[out];
    uint8_t tclass, hops, proto = c.proto;
    uint32_t l4_len;
    bool df = true;
    if (in6) {
        const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr *, l3_off);
        tclass = traffic_class(ip), hops = ip->hop_limits, l4_len = rte_be_to_cpu_16(ip->payload_len);
    } else {
        const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr *, l3_off);
        tclass = ip->type_of_service, hops = ip->time_to_live;
        l4_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr);
        df = ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    }
    const uint32_t out_l3 = out6 ? ip6_len : sizeof(rte_ipv4_hdr);
    if (out_l3 + l4_len > op.mtu) { // too big for the way out, as the sender counts its size
        if (!in6) return (void)too_big(m, c, dir, static_cast<uint16_t>(out_l3 - sizeof(rte_ipv4_hdr)));
        return (void)too_big6(m, c, dir, op.mtu + ip6_len - out_l3);
    }
    (void)df; // (IPv4 without DF that fits needs no fragment header: RFC 7915 4.1)

    uint8_t *l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, l4_off);
    uint32_t ports = dir == 0 ? conn::pack_ports(c.lport, c.bport) : conn::pack_ports(c.vport, c.cport);
    std::memcpy(l4, &ports, sizeof ports);
    uint32_t delta = dir == 0 ? c.l4_delta : net::csum_negate(c.l4_delta);
    bool udp_fill = false; // an IPv4 datagram without a checksum, on its way to IPv6
    if (proto == IPPROTO_TCP) {
        auto *tcp = reinterpret_cast<rte_tcp_hdr *>(l4);
        if (tcp->tcp_flags & tcp_syn) {
            // What the receiver of this SYN may send back must fit both ways: its packets
            // come in by the SYN's way out and leave by the SYN's way in (6->4: the IPv4
            // backend's MSS less 20 toward the IPv6 client).
            uint8_t in = c.out_port(1 - dir);
            uint32_t in_l3 = in6 ? ip6_len : sizeof(rte_ipv4_hdr);
            uint32_t clamp = std::min<uint32_t>(op.mtu - out_l3, _snap->ports[in].mtu - in_l3) - sizeof(rte_tcp_hdr);
            delta += clamp_mss(tcp, static_cast<uint16_t>(clamp));
        }
        // The acknowledgment and window as the sender wrote them, the sequence as the
        // receiver will read it (tcp_window.h).
        tcp_window::segment seg{0, rte_be_to_cpu_32(tcp->recv_ack), 0, rte_be_to_cpu_16(tcp->rx_win), tcp->tcp_flags};
        if (__builtin_expect(side != nullptr, 0)) delta += _client_addr.translate(c, *side, dir, tcp, *_snap);
        tcp->cksum = net::csum_apply(tcp->cksum, net::csum_fold(delta));
        seg.seq = rte_be_to_cpu_32(tcp->sent_seq);
        seg.len = l4_len - (tcp->data_off >> 4) * 4u + ((seg.flags & tcp_syn) ? 1 : 0) + ((seg.flags & tcp_fin) ? 1 : 0);
        track_tcp(c, dir, seg, tcp);
    } else {
        auto *udp = reinterpret_cast<rte_udp_hdr *>(l4);
        if (udp->dgram_cksum != 0) {
            uint16_t ck = net::csum_apply(udp->dgram_cksum, net::csum_fold(delta));
            udp->dgram_cksum = ck == 0 ? 0xffff : ck;
        } else {
            udp_fill = out6;
        }
        track_udp(c, dir);
    }

    uint32_t bytes = m->pkt_len;
    if (in6 && out6) {
        auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
        std::memcpy(ip->src_addr, dir == 0 ? a.laddr : a.vip, 16);
        std::memcpy(ip->dst_addr, dir == 0 ? a.bip : a.cip, 16);
        ip->hop_limits = static_cast<uint8_t>(hops - 1);
    } else if (in6) { // 6->4, toward the backend: 20 bytes less of header
        rte_pktmbuf_adj(m, static_cast<uint16_t>(ip6_len - sizeof(rte_ipv4_hdr)));
        rte_pktmbuf_mtod(m, rte_ether_hdr *)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
        uint16_t total = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + l4_len);
        ip->version_ihl = 0x45;
        ip->type_of_service = tclass;
        ip->total_length = rte_cpu_to_be_16(total);
        // RFC 7915 5.1: DF on packets over 1260 bytes (IPv6 paths carry 1280); smaller
        // ones may be fragmented on the IPv4 side, so they get an identification.
        bool set_df = total > 1260;
        const uint16_t id = set_df ? 0 : rte_cpu_to_be_16(_ip_id++);
        const uint16_t frag = set_df ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
        const auto ttl = static_cast<uint8_t>(hops - 1);
        ip->packet_id = id;
        ip->fragment_offset = frag;
        ip->time_to_live = ttl;
        ip->next_proto_id = proto;
        ip->src_addr = c.laddr;
        ip->dst_addr = c.bip;
        if (op.tx_ip_cksum) {
            ip->hdr_checksum = 0;
            m->l2_len = sizeof(rte_ether_hdr);
            m->l3_len = sizeof(rte_ipv4_hdr);
            m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
        } else {
            ip->hdr_checksum =
                net::csum_ipv4_fields(tclass, rte_cpu_to_be_16(total), id, frag, ttl, proto, c.laddr, c.bip);
        }
    } else { // 4->6, toward the client: 20 bytes more
        auto *eth = reinterpret_cast<rte_ether_hdr *>(
            rte_pktmbuf_prepend(m, static_cast<uint16_t>(ip6_len - sizeof(rte_ipv4_hdr))));
        if (!eth) return drop_pkt(m, drop::no_headroom);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
        ipv6_header(ip, tclass, static_cast<uint16_t>(l4_len), proto, static_cast<uint8_t>(hops - 1), a.vip, a.cip);
        m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
        if (udp_fill) {
            auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
            udp->dgram_cksum = 0;
            udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
        }
    }
    count_forwarded(c, dir, bytes);
    _neigh.send(m, out, _neigh.at(c.neigh[dir]), *_snap);
}

// ---------------------------------------------------------------------------------------
// Resets Fulcrum sends on its own to an IPv6 side

void worker::send_reset6(const connection &c, unsigned dir) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    constexpr uint16_t len = sizeof(rte_ether_hdr) + ip6_len + sizeof(rte_tcp_hdr);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, len));
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    std::memset(eth, 0, len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    const conn::conn_addr6 &a = _conns.addr6(c);
    if (dir == 0) { // to an IPv6 backend, as laddr6:lport
        ipv6_header(ip, 0, sizeof(rte_tcp_hdr), IPPROTO_TCP, 64, a.laddr, a.bip);
        tcp->src_port = c.lport, tcp->dst_port = c.bport;
        tcp->sent_seq = c.ack[1];
    } else { // to the client, as the VIP
        ipv6_header(ip, 0, sizeof(rte_tcp_hdr), IPPROTO_TCP, 64, a.vip, a.cip);
        tcp->src_port = c.vport, tcp->dst_port = c.cport;
        tcp->sent_seq = c.ack[0];
    }
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = tcp_rst;
    tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
    _counters.resets_sent++;
    _neigh.send(m, c.out_port(dir), _neigh.at(c.neigh[dir]), *_snap);
}

// A SYN no backend can serve: RST+ACK back to its sender, in place.
void worker::reply_reset6(rte_mbuf *m, uint8_t in_port) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = _snap->ports[in_port].mac;
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l3_off + ip6_len);
    uint32_t seg_len = rte_be_to_cpu_16(ip->payload_len) - (tcp->data_off >> 4) * 4u + 1;
    uint8_t src[16];
    std::memcpy(src, ip->src_addr, 16);
    ipv6_header(ip, 0, sizeof(rte_tcp_hdr), IPPROTO_TCP, 64, ip->dst_addr, src);
    uint16_t sport = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = sport;
    tcp->recv_ack = rte_cpu_to_be_32(rte_be_to_cpu_32(tcp->sent_seq) + seg_len);
    tcp->sent_seq = 0;
    tcp->tcp_flags = tcp_rst | tcp_ack;
    tcp->data_off = 5 << 4;
    tcp->rx_win = 0;
    tcp->tcp_urp = 0;
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - (l3_off + ip6_len + sizeof(rte_tcp_hdr))));
    tcp->cksum = 0;
    tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
    m->ol_flags = 0;
    _counters.resets_sent++;
    _tx.enqueue(in_port, m);
}

} // namespace fulcrum::dataplane
