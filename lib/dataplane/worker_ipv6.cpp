// IPv6: the classification of IPv6 frames, ICMPv6 to local addresses (Neighbour
// Discovery, echo), and connections with an IPv6 client:
//   6->6  [cip]:cport -> [vip]:vport  becomes  [laddr6]:lport -> [bip6]:bport
//   6->4  [cip]:cport -> [vip]:vport  becomes  laddr:lport -> bip:bport (IPv4)
// (The rewrite of their packets, 6->6 and 6->4 translated, is worker_fnat6.cpp.)
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

// TCP with a configured IPv6 BGP neighbour, on port 179 either way: a lifeline.
worker::host_class host_class6(const snapshot &s, const conn::flow_key6 &k) {
    constexpr uint16_t bgp_be = RTE_BE16(179);
    if (k.proto != IPPROTO_TCP || (k.sport() != bgp_be && k.dport() != bgp_be)) return worker::host_class::other;
    for (const net::ip_addr &n : s.bgp_neighbours6)
        if (std::memcmp(n.b.data(), k.src, 16) == 0) return worker::host_class::lifeline;
    return worker::host_class::other;
}

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
        if (!local && link_local6(key.dst)) return to_kernel(m, in_port, drop::not_local, host_class6(*_snap, key));
        if (!local) return drop_pkt(m, drop::not_local);
        if (local->kind == local_kind::port) return to_kernel(m, in_port, drop::unsupported_proto, host_class6(*_snap, key));
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
            if (!by_cookie) {
                // Perhaps another node's connection (worker_conn.cpp new_conn).
                if (l && (!l->acl_on || acl6_allows(*_snap, *l, key.src)) && _handoff.hand_off(m, *_snap)) return nullptr;
                return refuse(m, nullptr, drop::no_conn);
            }
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

} // namespace fulcrum::dataplane
