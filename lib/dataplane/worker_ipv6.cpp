// IPv6: the classification of IPv6 frames, ICMPv6 to local addresses (Neighbour
// Discovery, echo), and connections with an IPv6 client:
//   6->6  [cip]:cport -> [vip]:vport  becomes  [laddr6]:lport -> [bip6]:bport
//   6->4  [cip]:cport -> [vip]:vport  becomes  laddr:lport -> bip:bport (IPv4)
// A 6->4 connection's headers are translated as RFC 7915 says (traffic class <-> TOS,
// hop limit <-> TTL, no fragment header, DF set on packets over 1260 bytes); its L4
// checksum follows the pseudo-header's change by the same precomputed delta as every
// other rewrite, and an IPv4 UDP datagram without a checksum gets one (IPv6 needs it).
//
// Extension headers: at most three (hop-by-hop first, routing with segments left 0,
// destination options) in at most 256 bytes are walked to the transport header and
// removed from what is forwarded; a fragment header, anything past the bound, and a
// routing header with segments left are dropped and counted by reason.
#include "dataplane/worker.h"

#include "dataplane/headers.h"

#include <rte_hash_crc.h>

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t ext_hop_by_hop = 0, ext_routing = 43, ext_fragment = 44, ext_dest_options = 60;
constexpr unsigned max_ext_headers = 3, max_ext_bytes = 256;

} // namespace

// A 32-bit stand-in for an IPv6 source where the scheduler and admission key by IPv4
// source: a hash of all 128 bits (sch, persistence) or, for per-source counts, of the
// /64 (one host owns a /64).
uint32_t worker::source_key(const connection &c) const {
    return conn::is_v6(c) ? source_key6(_conns.addr6(c).cip) : c.cip;
}
// An IPv6 client's per-source key: a hash of its address cut to ipv6_source_prefix bits
// (64 by default: one host owns a /64 and draws addresses from it at will).
uint32_t worker::source_key6(const uint8_t *a) const {
    uint8_t cut[16];
    for (unsigned i = 0; i < 16; i++) {
        int bits = std::clamp(int(_snap->source_prefix6) - int(8 * i), 0, 8);
        cut[i] = static_cast<uint8_t>(a[i] & (0xff00u >> bits));
    }
    uint64_t w[2];
    std::memcpy(w, cut, 16);
    return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], 0x64));
}

void worker::handle_ipv6(rte_mbuf *m, uint8_t in_port, bool redirected, const uint32_t *hash) {
    if (m->data_len < l3_off + ip6_len) return drop_pkt(m, drop::trunc_ip6);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return drop_pkt(m, drop::bad_ip_version);
    uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
    uint32_t avail = m->data_len - l3_off - ip6_len;
    if (payload > avail || payload == 0) return drop_pkt(m, drop::bad_payload_length); // (0: a jumbogram)
    if (payload < avail) rte_pktmbuf_trim(m, static_cast<uint16_t>(avail - payload)); // Ethernet padding
    if (multicast6(ip->src_addr)) return drop_pkt(m, drop::bad_src_addr);

    // The extension headers, walked within the bound, then removed: what follows sees the
    // transport header right after the IPv6 header.
    uint8_t next = ip->proto;
    uint32_t ext = 0;
    for (unsigned n = 0; next == ext_hop_by_hop || next == ext_routing || next == ext_dest_options ||
                         next == ext_fragment;
         n++) {
        if (next == ext_fragment) return drop_pkt(m, drop::fragment6);
        if (n == max_ext_headers) return drop_pkt(m, drop::ext_header_bound);
        if (next == ext_hop_by_hop && n != 0) return drop_pkt(m, drop::bad_ext_header); // first only (RFC 8200 4.1)
        if (ext + 8 > payload) return drop_pkt(m, drop::bad_ext_header);
        const uint8_t *h = rte_pktmbuf_mtod_offset(m, const uint8_t *, l3_off + ip6_len + ext);
        uint32_t len = (h[1] + 1u) * 8;
        if (ext + len > max_ext_bytes) return drop_pkt(m, drop::ext_header_bound);
        if (ext + len > payload) return drop_pkt(m, drop::bad_ext_header);
        if (next == ext_routing && h[3] != 0) return drop_pkt(m, drop::bad_ext_header); // segments left
        next = h[0];
        ext += len;
    }
    if (ext) {
        // The Ethernet and IPv6 headers move up over the extension headers.
        uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
        std::memmove(base + ext, base, l3_off + ip6_len);
        rte_pktmbuf_adj(m, static_cast<uint16_t>(ext));
        ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
        ip->proto = next;
        payload -= ext;
        ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(payload));
    }

    const uint32_t l4_off = l3_off + ip6_len;
    if (next == IPPROTO_ICMPV6) return handle_icmp6(m, in_port, payload, redirected);
    if (multicast6(ip->dst_addr) || unspecified6(ip->src_addr)) return drop_pkt(m, drop::bad_src_addr);

    conn::flow_key6 key;
    std::memcpy(key.src, ip->src_addr, 16);
    std::memcpy(key.dst, ip->dst_addr, 16);
    key.proto = next;
    if (next == IPPROTO_TCP) {
        if (payload < sizeof(rte_tcp_hdr)) return drop_pkt(m, drop::trunc_l4);
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint32_t doff = (tcp->data_off >> 4) * 4u;
        if (doff < sizeof(rte_tcp_hdr) || doff > payload) return drop_pkt(m, drop::bad_l4_header);
        key.ports = conn::load_ports(&tcp->src_port);
    } else if (next == IPPROTO_UDP) {
        if (payload < sizeof(rte_udp_hdr)) return drop_pkt(m, drop::trunc_l4);
        auto *udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr *, l4_off);
        uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
        if (ulen < sizeof(rte_udp_hdr) || ulen > payload) return drop_pkt(m, drop::bad_l4_header);
        key.ports = conn::load_ports(&udp->src_port);
    } else {
        return drop_pkt(m, drop::unsupported_proto);
    }

    unsigned dir = 0;
    // (The burst's hash is of this very key: it only peeks frames without extension headers.)
    connection *c = _conns.lookup(key, hash && !ext ? *hash : _conns.hash(key), dir);
    if (c && dir == 0 && key.proto == IPPROTO_TCP && conn::finished(*c)) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        if ((tcp->tcp_flags & (tcp_syn | tcp_ack)) == tcp_syn) { // a new connection on a finished one's tuple
            _wheel.remove(c);
            expire(c);
            c = nullptr;
        }
    }
    if (!c) {
        const local_entry *local = _snap->find_local6(key.dst);
        // The host's own link-local addresses (its kernel's, on the port's tap).
        if (!local && link_local6(key.dst)) return to_kernel(m, in_port, drop::not_local, host_class::other);
        if (!local) return drop_pkt(m, drop::not_local);
        if (local->kind == local_kind::port) return to_kernel(m, in_port, drop::unsupported_proto, host_class::other);
        if (local->kind == local_kind::laddr) {
            if (_snap->probe_reply_port(key.dport())) return to_kernel(m, in_port, drop::no_conn, host_class::lifeline);
            // A reply to an lport another worker owns goes home through its redirect ring.
            uint32_t owner = reply_owner6(local->index, key.src, key.sport(), key.dport());
            if (redirected || owner == _id) return drop_pkt(m, drop::no_conn);
            if (rte_ring_mp_enqueue(_redirect_to[owner], m) != 0) return drop_pkt(m, drop::redirect_full);
            _counters.redirected_out++;
            return;
        }
        if (ip->hop_limits <= 1) return drop_pkt(m, drop::hop_limit_exceeded);
        c = new_conn6(m, key, l4_off, in_port);
        if (!c) return;
        dir = 0;
    } else if (ip->hop_limits <= 1) {
        return drop_pkt(m, drop::hop_limit_exceeded);
    } else if (__builtin_expect(c->flags & conn::has_side, 0) && c->state == tcp_state::syn_sent &&
               _synproxy.waiting(_conns.index_of(c))) {
        return proxied_segment(m, *c, dir, l4_off);
    }
    forward6(m, *c, dir, l4_off);
}

// ---------------------------------------------------------------------------------------
// New connections

namespace {
bool acl6_allows(const snapshot &s, const listener_rt &l, const uint8_t *src) {
    bool listed = false;
    for (uint32_t i = l.acl6_offset; i < uint32_t(l.acl6_offset) + l.acl6_len && !listed; i++)
        listed = same_prefix6(src, s.acl6[i].net.b.data(), s.acl6[i].len);
    return listed == l.acl_white;
}
} // namespace

connection *worker::new_conn6(rte_mbuf *m, const conn::flow_key6 &key, uint32_t l4_off, uint8_t in_port) {
    const listener_rt *l = _snap->find_listener6(key.dst, key.proto, key.dport());
    bool by_cookie = false;
    net::cookie_options cookie{};
    if (key.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint8_t f = tcp->tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin);
        if (f != tcp_syn) {
            // Not a connection start, unless it is the ACK to a SYN-ACK of the proxy.
            by_cookie = (f == tcp_ack || f == (tcp_ack | tcp_fin)) && l && l->syn_proxy != listener_rt::proxy_off &&
                        _synproxy.check_cookie6(m, key, cookie);
            if (!by_cookie) return refuse(m, nullptr, drop::no_conn);
            if (!room_to_wait()) return refuse(m, nullptr, drop::syn_proxy_backlog);
        }
    }
    if (!l) return refuse(m, nullptr, drop::no_listener);
    if (l->acl_on && !acl6_allows(*_snap, *l, key.src)) return refuse(m, l, drop::acl_denied);
    if (l->seq_len == 0) {
        if (key.proto == IPPROTO_TCP) reply_reset6(std::exchange(m, nullptr), in_port);
        return refuse(m, l, drop::no_backend);
    }
    if (key.proto == IPPROTO_TCP && !by_cookie && _synproxy.engaged(*l, _snap->syn_proxy_threshold)) {
        _synproxy.answer6(m, in_port, key, *l, *_snap);
        return nullptr;
    }
    // The scheduler and admission key by a 32-bit source: hashes of the IPv6 address.
    uint64_t w[4];
    std::memcpy(w, key.src, 16);
    std::memcpy(w + 2, key.dst, 16);
    uint32_t src_hash = rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], 0x6));
    uint32_t dst_hash = rte_hash_crc_8byte(w[3], rte_hash_crc_8byte(w[2], 0x6));
    drop why;
    if (!_admission.admit(*l, source_key6(key.src), why)) return refuse(m, l, why);
    flow_key as4{src_hash, dst_hash, key.ports, key.proto};
    const backend_rt &b = _scheduler.choose(*l, as4, *_snap, static_cast<uint16_t>(_clock.seconds()));
    connection *c = bind6(key, in_port, *l, b, why);
    if (!c) return refuse(m, l, why);
    count_new(*c, *l);
    return started(c, *l, m, l4_off, by_cookie ? &cookie : nullptr);
}

connection *worker::bind6(const conn::flow_key6 &key, uint8_t in_port, const listener_rt &l, const backend_rt &b,
                          drop &why) {
    route6 to_client;
    uint8_t backend_port;
    net::ip_addr backend_hop;
    if (b.v6()) {
        route6 r;
        if (!_snap->lookup_route6(b.ip6.b.data(), in_port, r)) return why = drop::no_route, nullptr;
        backend_port = r.port, backend_hop = r.next_hop;
    } else {
        route r;
        if (!_snap->lookup_route(b.ip, r)) return why = drop::no_route, nullptr;
        backend_port = r.port, backend_hop = neigh_table::key4(r.next_hop);
    }
    if (!_snap->lookup_route6(key.src, in_port, to_client)) return why = drop::no_route, nullptr;
    neigh_entry *nh_backend = _neigh.find_or_add(backend_hop);
    neigh_entry *nh_client = _neigh.find_or_add(to_client.next_hop);
    if (!nh_backend || !nh_client) return why = drop::neigh_table_full, nullptr;
    const auto &mine = b.v6() ? _snap->port_laddrs6 : _snap->port_laddrs;
    if (backend_port < mine.size() && mine[backend_port].empty()) return why = drop::no_laddr, nullptr;
    uint32_t laddr_index;
    uint16_t lport;
    if (!take_lport(b, key.proto, backend_port, laddr_index, lport)) return why = drop::lport_exhausted, nullptr;
    connection *c = _conns.alloc6();
    if (!c && evict_for_room()) c = _conns.alloc6();
    if (!c) return why = drop::table_full, nullptr;
    conn::conn_addr6 &a = _conns.addr6(*c);
    std::memcpy(a.cip, key.src, 16);
    std::memcpy(a.vip, key.dst, 16);
    c->cport = key.sport();
    c->vport = key.dport();
    c->lport = rte_cpu_to_be_16(lport);
    c->bport = b.port;
    uint32_t sum;
    if (b.v6()) {
        std::memcpy(a.laddr, _snap->laddr6[laddr_index].b.data(), 16);
        std::memcpy(a.bip, b.ip6.b.data(), 16);
        c->laddr = 0, c->bip = 0;
        sum = net::csum_replace_bytes(net::csum_replace_bytes(0, a.cip, 16, a.laddr, 16), a.vip, 16, a.bip, 16);
    } else {
        std::memset(a.laddr, 0, 16);
        std::memset(a.bip, 0, 16);
        c->laddr = _snap->laddrs[laddr_index];
        c->bip = b.ip;
        sum = net::csum_replace_bytes(net::csum_replace_bytes(0, a.cip, 16, &c->laddr, 4), a.vip, 16, &c->bip, 4);
    }
    sum = net::csum_replace16(net::csum_replace16(sum, c->cport, c->lport), c->vport, c->bport);
    c->l4_delta = net::csum_fold(sum);
    c->ip_delta = 0; // (no IPv4 header to carry over: 6->4 writes a fresh one)
    c->proto = key.proto;
    c->backend_slot = b.slot;
    return start_conn(c, _conns.hash(key), l, backend_port, nh_backend, to_client.port, nh_client, why);
}

// ---------------------------------------------------------------------------------------
// The rewrite: 6->6 both ways, 6->4 translated both ways

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
