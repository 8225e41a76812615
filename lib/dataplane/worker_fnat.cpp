// The rewrite of every packet of a connection with its precomputed checksum deltas, TCP
// state and expiry, and the resets Fulcrum sends on its own.
#include "dataplane/worker.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

uint16_t ip_word_ttl_proto(const rte_ipv4_hdr *ip) {
    uint16_t w;
    std::memcpy(&w, &ip->time_to_live, 2);
    return w;
}

} // namespace

void worker::forward(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off) {
    conn_side *side = nullptr; // SYN proxy, PROXY v2, TOA (synproxy.h, client_addr.h)
    if (__builtin_expect(c.flags & conn::has_side, 0)) {
        // A datagram gets its PROXY header; a TCP segment is only touched here (grown by
        // TOA, or a SYN's payload cut) when its listener asked for TOA, or it is a SYN.
        // A UDP connection's side entry is not read (at a million flows it would be a
        // second cache miss per datagram).
        if (c.proto == IPPROTO_UDP) {
            if (dir == 0 && (too_big(m, c, 0, proxy_v2_len_of(c)) || !_client_addr.add_udp_header(m, c, l4_off))) return;
        } else {
            side = &_side.at(_conns.index_of(&c));
            // The SYN proxy's backend asked for a smaller MSS than the client was promised.
            if (dir == 0 && side->backend_mss && m->pkt_len - l3_off > side->backend_mss + 40u) {
                uint16_t mtu = _snap->ports[c.out_port(0)].mtu;
                if (side->backend_mss + 40u < mtu && too_big(m, c, 0, static_cast<uint16_t>(mtu - side->backend_mss - 40)))
                    return;
            }
            if (dir == 0 && side->client_addr != listener_rt::client_addr_none &&
                (side->client_addr == listener_rt::client_addr_toa ||
                 (rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off)->tcp_flags & tcp_syn)))
                _client_addr.prepare_tcp(m, c, *side, l4_off, _max_frame[c.out_port(0)]);
        }
    }
    // One compare on the common path: only a frame over the smallest port's limit looks further.
    if (__builtin_expect(m->pkt_len > _min_max_frame, 0) && m->pkt_len > _max_frame[c.out_port(dir)] &&
        too_big(m, c, dir))
        return;
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    uint16_t ip_delta = dir == 0 ? c.ip_delta : net::csum_negate(c.ip_delta);
    uint16_t l4_delta = dir == 0 ? c.l4_delta : net::csum_negate(c.l4_delta);
    uint8_t out = c.out_port(dir);
    const port_rt &op = _snap->ports[out];

    if (dir == 0) {
        ip->src_addr = c.laddr;
        ip->dst_addr = c.bip;
    } else {
        ip->src_addr = c.vip;
        ip->dst_addr = c.cip;
    }
    // TTL is the low byte of the (TTL, protocol) word as read from memory; computing the
    // new word instead of re-reading it avoids a store-forwarding stall.
    uint16_t old_w = ip_word_ttl_proto(ip);
    uint16_t new_w = static_cast<uint16_t>(old_w - 1);
    ip->time_to_live = static_cast<uint8_t>(ip->time_to_live - 1);
    if (op.tx_ip_cksum) {
        ip->hdr_checksum = 0;
        m->l2_len = sizeof(rte_ether_hdr);
        m->l3_len = sizeof(rte_ipv4_hdr);
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    } else {
        ip->hdr_checksum = net::csum_apply(ip->hdr_checksum,
                                           net::csum_fold(net::csum_replace16(ip_delta, old_w, new_w)));
    }

    uint32_t bytes = m->pkt_len;
    // TCP and UDP keep their ports in the same first word: both written in one store.
    uint32_t ports = dir == 0 ? conn::pack_ports(c.lport, c.bport) : conn::pack_ports(c.vport, c.cport);
    std::memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, l4_off), &ports, sizeof ports);
    if (c.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint32_t delta = l4_delta;
        if (_snap->mss_clamp && (tcp->tcp_flags & tcp_syn))
            delta += clamp_mss(tcp, _snap->mss_clamp);
        // The acknowledgment and window as the sender wrote them, the sequence as the
        // receiver will read it (tcp_window.h).
        tcp_window::segment seg{0, rte_be_to_cpu_32(tcp->recv_ack), 0, rte_be_to_cpu_16(tcp->rx_win), tcp->tcp_flags};
        if (__builtin_expect(side != nullptr, 0)) delta += _client_addr.translate(c, *side, dir, tcp, *_snap);
        tcp->cksum = net::csum_apply(tcp->cksum, net::csum_fold(delta));
        seg.seq = rte_be_to_cpu_32(tcp->sent_seq);
        seg.len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr) - (tcp->data_off >> 4) * 4u +
                  ((seg.flags & tcp_syn) ? 1 : 0) + ((seg.flags & tcp_fin) ? 1 : 0);
        track_tcp(c, dir, seg, tcp);
    } else {
        auto *udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr *, l4_off);
        if (udp->dgram_cksum != 0) {
            uint16_t ck = net::csum_apply(udp->dgram_cksum, l4_delta);
            udp->dgram_cksum = ck == 0 ? 0xffff : ck;
        }
        track_udp(c, dir);
    }
    count_forwarded(c, dir, bytes);
    _neigh.send(m, out, _neigh.at(c.neigh[dir]), *_snap);
}

// A flow is a stream, kept for its IdleTimeout and never evicted, once datagrams went
// both ways at least udp_stream_after_s after it began: a client datagram and a reply
// both that late (ack[1] notes which came). conntrack's rule (a reply, then anything two
// seconds on) is met by a spoofed query pair to a DNS-like backend; this one asks a flow
// to live. Until then (a flood, one-query-one-answer traffic) the short
// udp_timeouts.unreplied applies and it may give way for room.
void worker::track_udp(connection &c, unsigned dir) {
    if (!(c.flags & conn::assured)) {
        if (dir == 1) c.flags |= conn::udp_replied;
        if (_clock.now_tick - c.ack[0] >= worker_clock::ticks(udp_stream_after_s)) {
            c.ack[1] |= 1u << dir;
            if (c.ack[1] == 3) c.flags |= conn::assured;
        }
    }
    refresh_expiry(c, c.flags & conn::assured ? _idle_timeout_s[c.listener]
                                              : std::min<uint32_t>(_idle_timeout_s[c.listener], _snap->udp_unreplied_s));
}

void worker::count_forwarded(connection &c, unsigned dir, uint32_t bytes) {
    flow_counters &lc = _listener_counters[c.listener];
    flow_counters &bc = _backend_counters[c.backend_slot];
    if (dir == 0) {
        lc.packets_in++, lc.bytes_in += bytes, bc.packets_in++, bc.bytes_in += bytes;
    } else {
        lc.packets_out++, lc.bytes_out += bytes, bc.packets_out++, bc.bytes_out += bytes;
    }
}

void worker::proxied_segment(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off) {
    synproxy::held_segments held;
    switch (_synproxy.on_segment(m, c, _conns.index_of(&c), dir, l4_off, *_snap, held)) {
    case synproxy::verdict::consumed:
        return;
    case synproxy::verdict::forward:
        return conn::is_v6(c) ? forward6(m, c, dir, l4_off) : forward(m, c, dir, l4_off);
    case synproxy::verdict::refused: // the client, established as far as it knows, is reset
        refresh_expiry(c, _snap->tcp_timeout_s[static_cast<int>(tcp_state::close)]);
        return send_reset(c, 1);
    case synproxy::verdict::established:
        refresh_expiry(c, _idle_timeout_s[c.listener]);
        for (unsigned i = 0; i < held.n; i++) { // the client's segments
            if (conn::is_v6(c)) forward6(held.m[i], c, 0, l3_off + ip6_len);
            else forward(held.m[i], c, 0, l3_off + sizeof(rte_ipv4_hdr));
        }
        return;
    }
}

namespace {

uint8_t syn_wscale(const rte_tcp_hdr *tcp) {
    uint8_t ws = tcp_window::no_scale;
    for_each_option(tcp, [&](const uint8_t *p) {
        if (p[0] != opt_wscale || p[1] != 3) return true;
        ws = std::min<uint8_t>(p[2], 14); // RFC 7323: larger is read as 14
        return false;
    });
    return ws;
}

} // namespace

// The connection's state from a segment that passed the window check (tcp_window.h);
// one that did not is forwarded and counted, and changes nothing, its expiry included.
void worker::track_tcp(connection &c, unsigned dir, tcp_window::segment &seg, const rte_tcp_hdr *tcp) {
    // The common segment (an established connection's data or ACK) on a short path; the
    // rest (and anything out of window) on the long one, kept out of line.
    if (__builtin_expect(c.state == tcp_state::established &&
                             (seg.flags & (tcp_syn | tcp_fin | tcp_rst | tcp_ack)) == tcp_ack &&
                             tcp_window::established_ok(c, dir, seg.seq, seg.len, seg.ack),
                         1)) {
        if (tcp_window::after(seg.ack, tcp_window::be32(c.ack[dir]))) c.ack[dir] = tcp_window::be32(seg.ack);
        c.win[dir] = seg.win;
        return refresh_expiry(c, _idle_timeout_s[c.listener]);
    }
    track_tcp_slow(c, dir, seg, tcp);
}

void worker::track_tcp_slow(connection &c, unsigned dir, tcp_window::segment &seg, const rte_tcp_hdr *tcp) {
    const uint8_t f = seg.flags;
    tcp_state s = c.state;
    if (f & tcp_syn) {
        seg.wscale = syn_wscale(tcp);
        bool ok;
        if (dir == 0 && !(f & tcp_ack)) { // the client's SYN: the first, or its retransmission
            ok = s == tcp_state::syn_sent && !(c.flags & conn::ack_in);
            if (ok) tcp_window::client_syn(c, seg);
            else ok = seg.seq + 1 == tcp_window::be32(c.ack[1]) && (s == tcp_state::syn_recv || s == tcp_state::syn_sent);
        } else {
            ok = dir == 1 && (f & tcp_ack) && !(f & tcp_rst) && (s == tcp_state::syn_sent || s == tcp_state::syn_recv) &&
                 tcp_window::backend_syn_ack(c, seg);
            if (ok) s = tcp_state::syn_recv;
        }
        if (!ok) {
            _counters.tcp_out_of_window++;
            return;
        }
    } else if (s == tcp_state::close) {
        return; // reset already: stragglers are translated, not judged, until it expires
    } else {
        if (tcp_window::check(c, dir, seg) != tcp_window::verdict::ok) {
            _counters.tcp_out_of_window++;
            return;
        }
        tcp_window::note(c, dir, seg);
        if (f & tcp_rst) {
            s = tcp_state::close;
        } else {
            if (s == tcp_state::syn_recv && dir == 0 && (f & tcp_ack)) s = tcp_state::established;
            if (f & tcp_fin) {
                c.flags = static_cast<uint8_t>(c.flags | (dir == 0 ? conn::fin_in : conn::fin_out));
                if ((c.flags & (conn::fin_in | conn::fin_out)) == (conn::fin_in | conn::fin_out))
                    s = tcp_state::time_wait;
                else if (s != tcp_state::time_wait && s != tcp_state::close)
                    s = tcp_state::fin_wait;
            }
        }
    }
    if (s != c.state) {
        c.state = s;
        if (s == tcp_state::established) c.flags |= conn::assured;
        if (conn::finished(c)) c.flags &= static_cast<uint8_t>(~conn::assured); // first to give way for room
        if (s != tcp_state::syn_sent && s != tcp_state::syn_recv) _synproxy.half_open_done(c);
    }
    refresh_expiry(c, s == tcp_state::established ? _idle_timeout_s[c.listener] : _snap->tcp_timeout_s[static_cast<int>(s)]);
}

void worker::refresh_expiry(connection &c, uint32_t timeout_s) {
    uint32_t t = worker_clock::ticks(timeout_s);
    uint32_t want = _clock.now_tick + t;
    int32_t ahead = static_cast<int32_t>(want - c.expire_tick);
    // Moving the deadline by less than 1/32 of the timeout is not worth a store: it
    // would dirty the connection's cache line on every packet (a write-back per packet
    // once the table outgrows the cache). Shorter deadlines always apply.
    if (ahead < 0 || uint32_t(ahead) >= std::max<uint32_t>(1, t / 32)) _wheel.set_expiry(&c, want);
}

void worker::close_drained(connection &c) {
    if (c.proto == IPPROTO_TCP && c.state != tcp_state::close && c.state != tcp_state::time_wait) {
        if (c.flags & conn::ack_out) send_reset(c, 0);
        if (c.flags & conn::ack_in) send_reset(c, 1);
    }
    _counters.connections_drained++;
    _wheel.remove(&c);
    expire(&c);
}

void worker::send_reset(const connection &c, unsigned dir) {
    if (dir == 0 ? conn::dir_v6(c, 1) : conn::is_v6(c)) return send_reset6(c, dir);
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    constexpr uint16_t len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, len));
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    std::memset(eth, 0, len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    if (dir == 0) { // to the backend, as the connection's laddr:lport
        ip->src_addr = c.laddr, ip->dst_addr = c.bip;
        tcp->src_port = c.lport, tcp->dst_port = c.bport;
        tcp->sent_seq = c.ack[1];
    } else { // to the client, as the VIP
        ip->src_addr = c.vip, ip->dst_addr = c.cip;
        tcp->src_port = c.vport, tcp->dst_port = c.cport;
        tcp->sent_seq = c.ack[0];
    }
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = tcp_rst;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    _counters.resets_sent++;
    _neigh.send(m, c.out_port(dir), _neigh.at(c.neigh[dir]), *_snap);
}

void worker::reply_reset(rte_mbuf *m, uint8_t in_port, uint32_t l4_off) {
    turn_around(m, _snap->ports[in_port].mac);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint16_t sport = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = sport;
    if ((tcp->tcp_flags & (tcp_syn | tcp_ack)) == tcp_ack) {
        // An ACK (a proxied client's, by cookie): RST with the sequence it acknowledged.
        tcp->sent_seq = tcp->recv_ack;
        tcp->recv_ack = 0;
        tcp->tcp_flags = tcp_rst;
    } else {
        // RST+ACK acknowledging the whole segment (RFC 793: sequence number plus segment
        // length, the SYN counting one).
        uint32_t seg_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr) - (tcp->data_off >> 4) * 4u + 1;
        uint32_t syn_seq = rte_be_to_cpu_32(tcp->sent_seq);
        tcp->recv_ack = rte_cpu_to_be_32(syn_seq + seg_len);
        tcp->sent_seq = 0;
        tcp->tcp_flags = tcp_rst | tcp_ack;
    }
    tcp->data_off = 5 << 4;
    tcp->rx_win = 0;
    tcp->tcp_urp = 0;
    ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
    ip->time_to_live = 64;
    ip->packet_id = 0;
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - (l4_off + sizeof(rte_tcp_hdr))));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = 0;
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    m->ol_flags = 0;
    _counters.resets_sent++;
    _tx.enqueue(in_port, m);
}

} // namespace fulcrum::dataplane
