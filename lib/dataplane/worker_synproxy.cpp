// SYN proxy with SYN cookies (per TCP listener: SynProxy auto/on/off).
//
//   client SYN      -> SYN-ACK from Fulcrum, ISN = cookie; no state, nothing to a backend
//   client ACK      -> cookie checked; the connection is made (listener, caps, scheduler,
//                      lport) and a SYN with the client's ISN and options goes to the
//                      backend; the ACK (and up to three more segments) wait for it
//   backend SYN-ACK -> delta = cookie - backend ISN; the waiting segments go on; the
//                      SYN-ACK itself is consumed (the client had ours)
//   afterwards      -> backend to client: seq + delta, window rescaled to the scale the
//                      client was promised; client to backend: ack and SACK blocks - delta
//
// The SYN-ACK offers MSS, window scale 7 and SACK when the client did, never timestamps,
// so a proxied connection runs without them on both sides. `auto` engages per worker
// while a listener's half-open connections exceed syn_proxy_threshold and lets go below
// half of it; connections made while it is idle carry no proxy state and pay nothing.
#include "dataplane/worker_internal.h"

#include <sys/mman.h>

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

void worker::proxy_state_alloc(uint32_t capacity) {
    // Untouched anonymous pages: only the entries of proxied connections ever get memory.
    size_t bytes = size_t(capacity) * sizeof(conn_side);
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    _side = static_cast<conn_side *>(p);
    _pending.resize(proxy_pending::pool_size);
    for (uint32_t i = proxy_pending::pool_size; i-- > 0;) _pending_free.push_back(static_cast<uint16_t>(i));
}

void worker::proxy_state_free() {
    if (_side) munmap(_side, size_t(_conns.capacity()) * sizeof(conn_side));
    for (proxy_pending &p : _pending)
        for (unsigned i = 0; i < p.n_held; i++) rte_pktmbuf_free(p.held[i]);
    _pending.clear();
}

bool worker::proxy_engaged(const listener_rt &l) {
    if (l.syn_proxy == listener_rt::proxy_on) return true;
    if (l.syn_proxy == listener_rt::proxy_off) return false;
    uint8_t &on = _proxy_engaged[l.index];
    uint32_t half_open = _half_open[l.index], threshold = _snap->syn_proxy_threshold;
    if (!on && half_open > threshold) {
        on = 1;
        _counters.syn_proxy_engaged++;
    } else if (on && half_open < threshold / 2) {
        on = 0;
    }
    return on;
}

void worker::half_open_done(connection &c) {
    if (!(c.flags & conn::half_open)) return;
    c.flags &= static_cast<uint8_t>(~conn::half_open);
    _half_open[c.listener]--;
}

void worker::answer_with_cookie(rte_mbuf *m, uint8_t in_port, uint32_t l4_off, const flow_key &key,
                                const listener_rt &l) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    syn_options so = parse_syn_options(tcp);
    uint32_t client_isn = rte_be_to_cpu_32(tcp->sent_seq);
    net::cookie_options co{so.mss ? so.mss : uint16_t(536), so.wscale, so.sack};
    uint32_t cookie = _cookies.make(key.src, key.dst, key.ports, client_isn, now_seconds(), co);

    // The MSS we accept: the client-facing port's, and no more than the clamp; TOA's
    // option takes 8 bytes of the client's first segment (worker_client_addr.cpp).
    uint16_t our_mss = static_cast<uint16_t>(_snap->ports[in_port].mtu - 40);
    if (_snap->mss_clamp) our_mss = std::min(our_mss, _snap->mss_clamp);
    if (l.client_addr == listener_rt::client_addr_toa) our_mss = static_cast<uint16_t>(our_mss - toa_len);

    turn_around(m, in_port);
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
    uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr) + opt_len);
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
    _counters.syn_cookies_sent++;
    enqueue_tx(in_port, m);
}

bool worker::check_cookie(rte_mbuf *m, uint32_t l4_off, const flow_key &key, net::cookie_options &out) {
    const auto *tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off);
    uint32_t cookie = rte_be_to_cpu_32(tcp->recv_ack) - 1, client_isn = rte_be_to_cpu_32(tcp->sent_seq) - 1;
    auto o = _cookies.check(key.src, key.dst, key.ports, client_isn, cookie, now_seconds());
    if (!o) return false;
    out = *o;
    return true;
}

void worker::send_backend_syn(connection &c, const proxy_pending &p) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return; // the client's retransmission tries again
    constexpr uint32_t max_len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr) + 12;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, max_len));
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    std::memset(eth, 0, max_len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    uint16_t mss = std::min<uint16_t>(p.opts.mss, static_cast<uint16_t>(_snap->ports[c.out_port[0]].mtu - 40));
    uint32_t opt_len = write_syn_options(reinterpret_cast<uint8_t *>(tcp + 1), mss, p.opts.wscale, p.opts.sack);
    uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr) + opt_len);
    rte_pktmbuf_trim(m, static_cast<uint16_t>(max_len - l3_off - ip_len));
    own_segment_to_backend(ip, tcp, c, ip_len);
    tcp->sent_seq = rte_cpu_to_be_32(p.client_isn);
    tcp->data_off = static_cast<uint8_t>((sizeof(rte_tcp_hdr) + opt_len) / 4 << 4);
    tcp->tcp_flags = tcp_syn;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    _counters.syn_proxy_backend_syns++;
    send_ipv4(m, c.out_port[0], _neigh->at(c.neigh[0]));
}

void worker::proxy_open(connection &c, rte_mbuf *ack, const net::cookie_options &o) {
    const auto *tcp = rte_pktmbuf_mtod_offset(ack, const rte_tcp_hdr *, l3_off + sizeof(rte_ipv4_hdr));
    uint16_t slot = _pending_free.back(); // new_conn checked that one is free
    _pending_free.pop_back();
    proxy_pending &p = _pending[slot];
    p = proxy_pending{};
    p.client_isn = rte_be_to_cpu_32(tcp->sent_seq) - 1;
    p.cookie = rte_be_to_cpu_32(tcp->recv_ack) - 1;
    p.opts = o;
    p.syn_tsc = _now_tsc;
    p.held[p.n_held++] = ack;
    conn_side &ps = _side[_conns.index_of(&c)]; // opened by new_conn (side_open)
    ps.pending = static_cast<uint16_t>(slot + 1);
    ps.ws_client_view = o.wscale >= 0 ? proxy_wscale : 0;
    c.flags |= conn::assured | conn::ack_in; // the client finished its handshake
    c.ack[0] = tcp->recv_ack;
    _counters.syn_proxy_conns++;
    send_backend_syn(c, p);
}

void worker::proxy_handshake(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off) {
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint32_t idx = _conns.index_of(&c);
    proxy_pending *pp = pending_of(idx);
    if (!pp) return drop_pkt(m, drop::no_conn); // cannot happen: kept until the backend answers
    proxy_pending &p = *pp;
    uint8_t f = tcp->tcp_flags;
    if (dir == 0) {
        if (f & tcp_rst) {
            proxy_forget(idx);
            return forward(m, c, 0, l4_off);
        }
        // The client is ahead of the backend: keep its segment (up to four) and, when
        // the backend's answer is late, ask again.
        if (p.n_held == proxy_pending::max_held) drop_pkt(m, drop::syn_proxy_backlog);
        else p.held[p.n_held++] = m;
        if (_now_tsc - p.syn_tsc >= _tsc_hz) {
            p.syn_tsc = _now_tsc;
            send_backend_syn(c, p);
        }
        return;
    }
    if (f & tcp_rst) {
        // Refused: the client, established as far as it knows, is reset.
        proxy_forget(idx);
        rte_pktmbuf_free(m);
        c.state = tcp_state::close;
        refresh_expiry(c, _snap->tcp_timeout_s[static_cast<int>(tcp_state::close)]);
        send_reset(c, 1);
        return;
    }
    if ((f & (tcp_syn | tcp_ack)) != (tcp_syn | tcp_ack) || rte_be_to_cpu_32(tcp->recv_ack) != p.client_isn + 1)
        return drop_pkt(m, drop::no_conn);
    conn_side &ps = _side[idx];
    ps.delta = p.cookie - rte_be_to_cpu_32(tcp->sent_seq);
    syn_options bo = parse_syn_options(tcp);
    ps.ws_backend = ps.ws_client_view && bo.wscale >= 0 ? uint8_t(bo.wscale) : 0;
    if (!ps.ws_client_view || bo.wscale < 0) ps.ws_client_view = ps.ws_backend = 0; // no scaling either side
    c.ack[1] = tcp->recv_ack;
    c.flags |= conn::ack_out;
    c.state = tcp_state::established;
    refresh_expiry(c, _idle_timeout_s[c.listener]);
    rte_pktmbuf_free(m);
    _counters.syn_proxy_established++;
    proxy_pending held = p;
    p.n_held = 0;
    _pending_free.push_back(static_cast<uint16_t>(ps.pending - 1));
    ps.pending = 0;
    for (unsigned i = 0; i < held.n_held; i++) forward(held.held[i], c, 0, l3_off + sizeof(rte_ipv4_hdr));
}

worker::proxy_pending *worker::pending_of(uint32_t idx) {
    uint16_t slot = _side[idx].pending;
    return slot ? &_pending[slot - 1] : nullptr;
}

void worker::proxy_forget(uint32_t idx) {
    proxy_pending *p = pending_of(idx);
    if (!p) return;
    for (unsigned i = 0; i < p->n_held; i++) rte_pktmbuf_free(p->held[i]);
    p->n_held = 0;
    _pending_free.push_back(static_cast<uint16_t>(_side[idx].pending - 1));
    _side[idx].pending = 0;
}

} // namespace fulcrum::dataplane
