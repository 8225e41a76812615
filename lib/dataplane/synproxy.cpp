#include "dataplane/synproxy.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t proxy_wscale = 7; // what the SYN-ACK promises (Linux's usual scale)

struct syn_options {
    uint16_t mss = 0; // 0: none
    int8_t wscale = -1;
    bool sack = false;
};

syn_options parse_syn_options(const rte_tcp_hdr *tcp) {
    syn_options o;
    for_each_option(tcp, [&](const uint8_t *p) {
        if (p[0] == opt_mss && p[1] == 4) o.mss = uint16_t(p[2] << 8 | p[3]);
        else if (p[0] == opt_wscale && p[1] == 3) o.wscale = static_cast<int8_t>(std::min<uint8_t>(p[2], 14));
        else if (p[0] == opt_sack_perm && p[1] == 2) o.sack = true;
        return true;
    });
    return o;
}

// MSS, then window scale and SACK-permitted when wanted: at most 12 bytes.
uint32_t write_syn_options(uint8_t *p, uint16_t mss, int8_t wscale, bool sack) {
    uint8_t *start = p;
    *p++ = opt_mss, *p++ = 4, *p++ = uint8_t(mss >> 8), *p++ = uint8_t(mss);
    if (wscale >= 0) *p++ = opt_nop, *p++ = opt_wscale, *p++ = 3, *p++ = uint8_t(wscale);
    if (sack) *p++ = opt_nop, *p++ = opt_nop, *p++ = opt_sack_perm, *p++ = 2;
    return static_cast<uint32_t>(p - start);
}

} // namespace

synproxy::synproxy(const std::array<uint8_t, 16> &key, rte_mempool *pool, uint32_t n_workers, side_table &side,
                   const conn::conn_table &conns, neighbours &neigh, tx_buffers &tx, drop_counts &drops,
                   const worker_clock &clock)
    : _cookies(key), _pool(pool), _side(side), _conns(conns), _neigh(neigh), _tx(tx), _drops(drops), _clock(clock),
      _waiting(waiting_slots), _order(waiting_slots), _half_open(max_listener_slots), _engaged(max_listener_slots),
      _held_budget(std::max<uint32_t>(16, (pool ? pool->size : 0) / (8 * std::max<uint32_t>(1, n_workers)))) {
    for (uint32_t i = waiting_slots; i-- > 0;) _free.push_back(static_cast<uint16_t>(i));
}

synproxy::~synproxy() {
    for (waiting_conn &w : _waiting)
        for (unsigned i = 0; i < w.n_held; i++) rte_pktmbuf_free(w.held[i]);
}

bool synproxy::engaged(const listener_rt &l, uint32_t threshold) {
    if (l.syn_proxy == listener_rt::proxy_on) return true;
    if (l.syn_proxy == listener_rt::proxy_off) return false;
    uint8_t &on = _engaged[l.index];
    uint32_t half_open = _half_open[l.index];
    if (!on && half_open > threshold) {
        on = 1;
        _counters.syn_proxy_engaged++;
    } else if (on && half_open < threshold / 2) {
        on = 0;
    }
    return on;
}

// The MSS the SYN-ACK offers: the client-facing port's (less 40 bytes of headers for an
// IPv4 client, 60 for an IPv6 one), and no more than the clamp; TOA's option takes 8
// bytes (20 for an IPv6 client) of the client's first segment (client_addr.h).
uint16_t synproxy::offered_mss(const listener_rt &l, const snapshot &s, uint8_t in_port, bool v6) const {
    uint16_t our_mss = static_cast<uint16_t>(s.ports[in_port].mtu - (v6 ? 60 : 40));
    if (s.mss_clamp) our_mss = std::min(our_mss, s.mss_clamp);
    if (l.client_addr == listener_rt::client_addr_toa) our_mss = static_cast<uint16_t>(our_mss - (v6 ? toa6_len : toa_len));
    return our_mss;
}

// The cookie SYN-ACK over the client's SYN, in place, but for its IP header: MACs turned
// around, ports swapped, the cookie (`make(client ISN, the SYN's options)`, a SYN without
// MSS taken as `default_mss`) as our ISN, our options; returns the TCP header's length.
template <class MakeCookie>
uint32_t synproxy::syn_ack_tcp(rte_mbuf *m, uint8_t in_port, rte_tcp_hdr *tcp, uint16_t default_mss, uint16_t our_mss,
                               const snapshot &s, MakeCookie make) {
    syn_options so = parse_syn_options(tcp);
    uint32_t client_isn = rte_be_to_cpu_32(tcp->sent_seq);
    uint32_t cookie = make(client_isn, net::cookie_options{so.mss ? so.mss : default_mss, so.wscale, so.sack});
    turn_around(m, s.ports[in_port].mac);
    uint16_t sport = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = sport;
    tcp->sent_seq = rte_cpu_to_be_32(cookie);
    tcp->recv_ack = rte_cpu_to_be_32(client_isn + 1);
    tcp->tcp_flags = tcp_syn | tcp_ack;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    tcp->tcp_urp = 0;
    uint32_t opt_len = write_syn_options(reinterpret_cast<uint8_t *>(tcp + 1), our_mss,
                                         so.wscale >= 0 ? int8_t(proxy_wscale) : int8_t(-1), so.sack);
    tcp->data_off = static_cast<uint8_t>((sizeof(rte_tcp_hdr) + opt_len) / 4 << 4);
    _counters.syn_cookies_sent++;
    return static_cast<uint32_t>(sizeof(rte_tcp_hdr)) + opt_len;
}

void synproxy::answer(rte_mbuf *m, uint8_t in_port, uint32_t l4_off, const flow_key &key, const listener_rt &l,
                      const snapshot &s) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint32_t tcp_len = syn_ack_tcp(m, in_port, tcp, 536, offered_mss(l, s, in_port, false), s,
                                   [&](uint32_t isn, const net::cookie_options &co) {
                                       return _cookies.make(key.src, key.dst, key.ports, isn, _clock.seconds(), co);
                                   });
    uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + tcp_len);
    ip->total_length = rte_cpu_to_be_16(ip_len);
    ip->time_to_live = 64;
    ip->packet_id = 0;
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    m->data_len = m->pkt_len = l3_off + ip_len; // the SYN's own length was at least 54 bytes; room is the mbuf's
    tcp->cksum = 0;
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    m->ol_flags = 0;
    _tx.enqueue(in_port, m);
}

// IPv6: the same cookie over the 36-byte tuple and IPv6's MSS table; a SYN without an
// MSS option means 1220 (RFC 8200 5: 1280 less the headers).
void synproxy::answer6(rte_mbuf *m, uint8_t in_port, const conn::flow_key6 &key, const listener_rt &l,
                       const snapshot &s) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l3_off + ip6_len);
    uint32_t tcp_len = syn_ack_tcp(m, in_port, tcp, 1220, offered_mss(l, s, in_port, true), s,
                                   [&](uint32_t isn, const net::cookie_options &co) {
                                       return _cookies.make6(key.src, key.dst, key.ports, isn, _clock.seconds(), co);
                                   });
    ipv6_header(ip, 0, static_cast<uint16_t>(tcp_len), IPPROTO_TCP, 64, key.dst, key.src);
    m->data_len = m->pkt_len = l3_off + ip6_len + tcp_len; // (the SYN was at least as long: 74 bytes and more)
    tcp->cksum = 0;
    tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
    m->ol_flags = 0;
    _tx.enqueue(in_port, m);
}

bool synproxy::check_cookie(const rte_mbuf *m, uint32_t l4_off, const flow_key &key, net::cookie_options &out) const {
    const auto *tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off);
    uint32_t cookie = rte_be_to_cpu_32(tcp->recv_ack) - 1, client_isn = rte_be_to_cpu_32(tcp->sent_seq) - 1;
    auto o = _cookies.check(key.src, key.dst, key.ports, client_isn, cookie, _clock.seconds());
    if (!o) return false;
    out = *o;
    return true;
}

bool synproxy::check_cookie6(const rte_mbuf *m, const conn::flow_key6 &key, net::cookie_options &out) const {
    const auto *tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l3_off + ip6_len);
    uint32_t cookie = rte_be_to_cpu_32(tcp->recv_ack) - 1, client_isn = rte_be_to_cpu_32(tcp->sent_seq) - 1;
    auto o = _cookies.check6(key.src, key.dst, key.ports, client_isn, cookie, _clock.seconds());
    if (!o) return false;
    out = *o;
    return true;
}

// The SYN to the backend with the client's ISN and options (as the cookie kept them),
// from the laddr: IPv4, or IPv6 for a 6->6 connection. Its MSS fits the backend's port.
void synproxy::send_backend_syn(connection &c, const waiting_conn &w, const snapshot &s) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return; // the client's retransmission tries again
    const bool v6 = conn::dir_v6(c, 1);
    const uint32_t l3_len = v6 ? ip6_len : sizeof(rte_ipv4_hdr);
    const uint32_t max_len = sizeof(rte_ether_hdr) + l3_len + sizeof(rte_tcp_hdr) + 12;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, static_cast<uint16_t>(max_len)));
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(reinterpret_cast<uint8_t *>(eth + 1) + l3_len);
    std::memset(eth, 0, max_len);
    uint16_t mss = std::min<uint16_t>(w.opts.mss, static_cast<uint16_t>(s.ports[c.out_port(0)].mtu - l3_len - 20));
    uint32_t opt_len = write_syn_options(reinterpret_cast<uint8_t *>(tcp + 1), mss, w.opts.wscale, w.opts.sack);
    uint16_t tcp_len = static_cast<uint16_t>(sizeof(rte_tcp_hdr) + opt_len);
    rte_pktmbuf_trim(m, static_cast<uint16_t>(max_len - l3_off - l3_len - tcp_len));
    tcp->sent_seq = rte_cpu_to_be_32(w.client_isn);
    tcp->data_off = static_cast<uint8_t>(tcp_len / 4 << 4);
    tcp->tcp_flags = tcp_syn;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    finish_own_segment(eth, tcp, c, v6 ? &_conns.addr6(c) : nullptr, tcp_len);
    _counters.syn_proxy_backend_syns++;
    _neigh.send(m, c.out_port(0), _neigh.at(c.neigh[0]), s);
}

void synproxy::open(connection &c, uint32_t conn_index, rte_mbuf *ack, uint32_t l4_off, const net::cookie_options &o,
                    const snapshot &s) {
    const auto *tcp = rte_pktmbuf_mtod_offset(ack, const rte_tcp_hdr *, l4_off);
    uint16_t slot = _free.back(); // the worker checked can_wait()
    _free.pop_back();
    waiting_conn &w = _waiting[slot];
    w = waiting_conn{};
    w.client_isn = rte_be_to_cpu_32(tcp->sent_seq) - 1;
    w.cookie = rte_be_to_cpu_32(tcp->recv_ack) - 1;
    w.opts = o;
    w.syn_tsc = _clock.now_tsc;
    w.held[w.n_held++] = ack;
    _held++;
    conn_side &ps = _side.at(conn_index);
    ps.pending = static_cast<uint16_t>(slot + 1);
    if (_order_count == waiting_slots) { // full of stale entries: the oldest goes
        _order_head = (_order_head + 1) % waiting_slots;
        _order_count--;
    }
    _order[(_order_head + _order_count++) % waiting_slots] = {slot, conn_index};
    ps.ws_client_view = o.wscale >= 0 ? proxy_wscale : 0;
    c.flags |= conn::assured | conn::ack_in; // the client finished its handshake
    c.ack[0] = tcp->recv_ack;
    c.win[0] = rte_be_to_cpu_16(tcp->rx_win); // scaled by the client's own scale (tcp_window.h)
    _counters.syn_proxy_connections++;
    send_backend_syn(c, w, s);
}

synproxy::verdict synproxy::on_segment(rte_mbuf *m, connection &c, uint32_t idx, unsigned dir, uint32_t l4_off,
                                       const snapshot &s, held_segments &held) {
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    waiting_conn *wp = waiting_of(idx);
    if (!wp) return drop_pkt(_drops, m, drop::no_conn), verdict::consumed; // cannot happen: kept until the backend answers
    waiting_conn &w = *wp;
    uint8_t f = tcp->tcp_flags;
    if (dir == 0) {
        if (f & tcp_rst) {
            forget(idx);
            return verdict::forward;
        }
        // The client is ahead of the backend: keep its segment (up to four) and, when
        // the backend's answer is late, ask again.
        if (w.n_held == max_held || _held >= _held_budget) {
            drop_pkt(_drops, m, drop::syn_proxy_backlog);
        } else {
            w.held[w.n_held++] = m;
            _held++;
        }
        if (_clock.now_tsc - w.syn_tsc >= _clock.hz) {
            w.syn_tsc = _clock.now_tsc;
            send_backend_syn(c, w, s);
        }
        return verdict::consumed;
    }
    if (f & tcp_rst) {
        // Refused: the client, established as far as it knows, is reset.
        forget(idx);
        rte_pktmbuf_free(m);
        c.state = tcp_state::close;
        return verdict::refused;
    }
    if ((f & (tcp_syn | tcp_ack)) != (tcp_syn | tcp_ack) || rte_be_to_cpu_32(tcp->recv_ack) != w.client_isn + 1)
        return drop_pkt(_drops, m, drop::no_conn), verdict::consumed;
    conn_side &ps = _side.at(idx);
    ps.delta = w.cookie - rte_be_to_cpu_32(tcp->sent_seq);
    syn_options bo = parse_syn_options(tcp);
    // The backend scales only when it answered our offer (made only when the client's SYN
    // offered); the client keeps the scale its SYN-ACK promised either way, and
    // client_addr::translate converts windows between the two.
    bool client_scales = w.opts.wscale >= 0, backend_scales = client_scales && bo.wscale >= 0;
    ps.ws_backend = backend_scales ? uint8_t(bo.wscale) : client_scales ? tcp_window::no_scale : 0;
    c.ack[1] = tcp->recv_ack;
    c.flags |= conn::ack_out;
    c.win[1] = rte_be_to_cpu_16(tcp->rx_win);
    // The client was promised an MSS before the backend had its say: a client segment
    // over the backend's gets "fragmentation needed" (worker::forward), and the client's
    // TCP sends smaller ones from then on.
    ps.backend_mss = bo.mss;
    // The window check reads each side's windows as that side scales them: the client
    // its own offer when the proxy promised scaling, the backend its answer.
    c.wscale = static_cast<uint8_t>((client_scales ? w.opts.wscale : 0) | (backend_scales ? bo.wscale : 0) << 4);
    c.state = tcp_state::established;
    rte_pktmbuf_free(m);
    _counters.syn_proxy_established++;
    held.n = w.n_held;
    std::copy(w.held, w.held + w.n_held, held.m);
    _held -= w.n_held;
    w.n_held = 0;
    release(idx);
    return verdict::established;
}

bool synproxy::oldest_waiting(uint32_t &conn_index) {
    while (_order_count) {
        in_order o = _order[_order_head];
        _order_head = (_order_head + 1) % waiting_slots;
        _order_count--;
        if (_side.at(o.conn_index).pending == o.slot + 1) {
            conn_index = o.conn_index;
            return true;
        }
    }
    return false;
}

synproxy::waiting_conn *synproxy::waiting_of(uint32_t idx) {
    uint16_t slot = _side.at(idx).pending;
    return slot ? &_waiting[slot - 1] : nullptr;
}

void synproxy::release(uint32_t idx) {
    _free.push_back(static_cast<uint16_t>(_side.at(idx).pending - 1));
    _side.at(idx).pending = 0;
}

void synproxy::forget(uint32_t idx) {
    waiting_conn *w = waiting_of(idx);
    if (!w) return;
    for (unsigned i = 0; i < w->n_held; i++) rte_pktmbuf_free(w->held[i]);
    _held -= w->n_held;
    w->n_held = 0;
    release(idx);
}

} // namespace fulcrum::dataplane
