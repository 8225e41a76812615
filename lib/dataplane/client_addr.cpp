#include "dataplane/client_addr.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

// The transport family byte: AF_INET (0x10) or AF_INET6 (0x20), with STREAM (1) or DGRAM (2).
constexpr uint8_t family_inet = 0x10, family_inet6 = 0x20, transport_stream = 1, transport_dgram = 2;

// The header for the connection's client -> VIP (`a`: an IPv6 connection's addresses):
// proxy_v2_len_of(c) bytes.
void write_proxy_v2(uint8_t *p, uint8_t transport, const connection &c, const conn::conn_addr6 *a) {
    static constexpr uint8_t preamble[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    std::memcpy(p, preamble, sizeof preamble);
    p[12] = 0x21; // version 2, PROXY
    p[13] = static_cast<uint8_t>((a ? family_inet6 : family_inet) | transport);
    uint8_t addr_len = a ? 16 : 4;
    p[14] = 0, p[15] = static_cast<uint8_t>(4 * addr_len / 2 + 4); // address block length: 12 or 36
    if (a) {
        std::memcpy(p + 16, a->cip, 16);
        std::memcpy(p + 32, a->vip, 16);
    } else {
        std::memcpy(p + 16, &c.cip, 4);
        std::memcpy(p + 20, &c.vip, 4);
    }
    std::memcpy(p + 16 + 2 * addr_len, &c.cport, 2);
    std::memcpy(p + 18 + 2 * addr_len, &c.vport, 2);
}

// A 32-bit field at `off` bytes into the checksummed data replaced: at an odd offset its
// bytes fall across words and each half counts swapped.
uint32_t replace_at(uint32_t sum, size_t off, uint32_t from, uint32_t to) {
    auto swap_halves = [](uint32_t v) { return (v & 0x00ff00ffu) << 8 | (v >> 8 & 0x00ff00ffu); };
    return off & 1 ? net::csum_replace32(sum, swap_halves(from), swap_halves(to)) : net::csum_replace32(sum, from, to);
}

// Every SACK block edge through `map`; returns the checksum delta.
template <typename Map>
uint32_t map_sack_blocks(rte_tcp_hdr *tcp, Map map) {
    uint32_t sum = 0;
    for_each_option(tcp, [&](uint8_t *p) {
        if (p[0] != opt_sack || (p[1] - 2) % 8 != 0) return true;
        for (uint8_t *e = p + 2; e < p + p[1]; e += 4) {
            uint32_t from, to;
            std::memcpy(&from, e, 4);
            to = map(from);
            std::memcpy(e, &to, 4);
            sum = replace_at(sum, e - reinterpret_cast<uint8_t *>(tcp), from, to);
        }
        return true;
    });
    return sum;
}

// A length field (network order) grown by `by` bytes.
uint16_t grown(uint16_t be, unsigned by) { return rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(be) + by)); }

// The IPv4 header's total length grown, its checksum updated to match.
void grow_ipv4(rte_ipv4_hdr *ip, unsigned by) {
    uint16_t from = ip->total_length, to = grown(from, by);
    ip->total_length = to;
    ip->hdr_checksum = net::csum_apply(ip->hdr_checksum, net::csum_fold(net::csum_replace16(0, from, to)));
}
// The IP header at `l3` (IPv4 or IPv6 by `v6`) grown by `by` bytes of payload; returns
// the transport length before (network order), which the pseudo-header counts.
uint16_t grow_ip(uint8_t *l3, bool v6, unsigned by) {
    if (v6) {
        auto *ip6 = reinterpret_cast<rte_ipv6_hdr *>(l3);
        uint16_t before = ip6->payload_len;
        ip6->payload_len = grown(before, by);
        return before;
    }
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(l3);
    uint16_t before = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr)));
    grow_ipv4(ip, by);
    return before;
}

} // namespace

bool client_addr::add_udp_header(rte_mbuf *m, const connection &c, uint32_t l4_off) {
    // A UDP connection has a side entry only for PROXY v2: the entry is not read (at a
    // million flows it would be a second cache miss per datagram). The datagram is the
    // client's: IPv6 for an IPv6 connection.
    const bool v6 = conn::is_v6(c);
    const uint8_t len = proxy_v2_len_of(c);
    char *start = rte_pktmbuf_prepend(m, len);
    if (!start) {
        drop_pkt(_drops, m, drop::no_headroom);
        return false;
    }
    std::memmove(start, start + len, l4_off + sizeof(rte_udp_hdr));
    auto *udp = reinterpret_cast<rte_udp_hdr *>(start + l4_off);
    auto *header = reinterpret_cast<uint8_t *>(udp + 1);
    write_proxy_v2(header, transport_dgram, c, v6 ? &_conns.addr6(c) : nullptr);
    grow_ip(reinterpret_cast<uint8_t *>(start + l3_off), v6, len);
    uint16_t len_from = udp->dgram_len, len_to = grown(len_from, len);
    udp->dgram_len = len_to;
    if (udp->dgram_cksum != 0) {
        // The length counts twice (header and pseudo-header), then the header's words.
        uint32_t sum = 2 * net::csum_replace16(0, len_from, len_to);
        uint16_t ck = net::csum_apply(udp->dgram_cksum, net::csum_buffer(header, len, sum));
        udp->dgram_cksum = ck == 0 ? 0xffff : ck;
    }
    _counters.proxy_v2_headers++;
    return true;
}

void client_addr::prepare_tcp(rte_mbuf *m, const connection &c, const conn_side &s, uint32_t l4_off,
                              uint32_t max_frame) {
    // The segment is the client's: IPv6 for an IPv6 connection.
    const bool v6 = conn::is_v6(c);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint32_t doff = (tcp->data_off >> 4) * 4u;
    if (tcp->tcp_flags & tcp_syn) {
        // Data in a SYN (TCP Fast Open) would reach the backend before the header: it
        // goes, and the client sends it again after the handshake.
        uint32_t l4_len = v6 ? rte_be_to_cpu_16(rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr *, l3_off)->payload_len)
                             : rte_be_to_cpu_16(rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr *, l3_off)->total_length) -
                                   uint32_t(sizeof(rte_ipv4_hdr));
        uint32_t payload = l4_len - doff;
        if (payload == 0 || s.client_addr != listener_rt::client_addr_proxy_v2) return;
        rte_pktmbuf_trim(m, static_cast<uint16_t>(payload));
        if (v6) {
            auto *ip6 = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
            ip6->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(doff));
            tcp->cksum = 0;
            tcp->cksum = rte_ipv6_udptcp_cksum(ip6, tcp);
        } else {
            auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
            ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + doff));
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
            tcp->cksum = 0;
            tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
        }
        _counters.syn_data_trimmed++;
        return;
    }
    if (s.client_addr != listener_rt::client_addr_toa || (tcp->tcp_flags & tcp_rst) ||
        rte_be_to_cpu_32(tcp->sent_seq) != s.first_seq)
        return;
    // An IPv6 client's address takes 20 bytes (DPVS kmod/toa's TCPOLEN_IP6_TOA), also
    // toward an IPv4 backend (6->4: the module's NAT64 build reads it).
    const uint8_t len = toa_len_of(c);
    char *start = doff + len <= 60 && m->pkt_len + len <= max_frame ? rte_pktmbuf_prepend(m, len) : nullptr;
    if (!start) {
        _counters.toa_no_room++;
        return;
    }
    // The headers move toward the front; the option fills the gap after the fixed TCP
    // header, ahead of the client's own options.
    std::memmove(start, start + len, l4_off + sizeof(rte_tcp_hdr));
    tcp = reinterpret_cast<rte_tcp_hdr *>(start + l4_off);
    auto *opt = reinterpret_cast<uint8_t *>(tcp + 1);
    opt[0] = opt_toa, opt[1] = len;
    std::memcpy(opt + 2, &c.cport, 2);
    if (v6) std::memcpy(opt + 4, _conns.addr6(c).cip, 16);
    else std::memcpy(opt + 4, &c.cip, 4);
    uint16_t tcp_len = grow_ip(reinterpret_cast<uint8_t *>(start + l3_off), v6, len);
    uint32_t sum = net::csum_replace16(0, tcp_len, grown(tcp_len, len)); // the pseudo-header's TCP length
    uint16_t word_from, word_to; // data offset and flags
    std::memcpy(&word_from, &tcp->data_off, 2);
    tcp->data_off = static_cast<uint8_t>(tcp->data_off + (len / 4 << 4));
    std::memcpy(&word_to, &tcp->data_off, 2);
    sum = net::csum_replace16(sum, word_from, word_to);
    tcp->cksum = net::csum_apply(tcp->cksum, net::csum_buffer(opt, len, sum));
    _counters.toa_options++;
}

void client_addr::send_header(const connection &c, conn_side &s, const rte_tcp_hdr *trigger, unsigned dir,
                              const snapshot &snap) {
    // Timestamps when the connection has them: the client's own, or, resending on a
    // backend segment, the values it echoes (what the backend holds as the latest).
    const uint8_t *ts = nullptr;
    for_each_option(trigger, [&](const uint8_t *p) {
        if (p[0] == opt_timestamp && p[1] == 10) ts = p;
        return ts == nullptr;
    });
    if (dir == 0) s.win = trigger->rx_win;
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return; // the backend's next duplicate ACK or SYN-ACK asks again
    // The segment goes to the backend in its family (IPv6 only for 6->6); the header
    // names the client in its own.
    const bool back6 = conn::dir_v6(c, 1);
    const uint32_t l3_len = back6 ? ip6_len : sizeof(rte_ipv4_hdr);
    uint32_t opt_len = ts ? 12 : 0;
    uint16_t tcp_len = static_cast<uint16_t>(sizeof(rte_tcp_hdr) + opt_len + proxy_v2_len_of(c));
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, static_cast<uint16_t>(l3_off + l3_len + tcp_len)));
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(reinterpret_cast<uint8_t *>(eth + 1) + l3_len);
    auto *opt = reinterpret_cast<uint8_t *>(tcp + 1);
    std::memset(eth, 0, l3_off + l3_len + sizeof(rte_tcp_hdr));
    tcp->sent_seq = rte_cpu_to_be_32(s.first_seq);
    // In the backend's numbering: a client segment's ack was translated already.
    tcp->recv_ack = dir == 0 ? trigger->recv_ack : seq_add(c.ack[0], 0u - s.delta);
    tcp->rx_win = s.win;
    tcp->tcp_flags = tcp_ack | tcp_psh;
    tcp->data_off = static_cast<uint8_t>((sizeof(rte_tcp_hdr) + opt_len) / 4 << 4);
    if (ts) {
        opt[0] = opt_nop, opt[1] = opt_nop, opt[2] = opt_timestamp, opt[3] = 10;
        std::memcpy(opt + 4, ts + (dir == 0 ? 2 : 6), 4); // TSval
        std::memcpy(opt + 8, ts + (dir == 0 ? 6 : 2), 4); // TSecr
    }
    write_proxy_v2(opt + opt_len, transport_stream, c, conn::is_v6(c) ? &_conns.addr6(c) : nullptr);
    finish_own_segment(eth, tcp, c, back6 ? &_conns.addr6(c) : nullptr, tcp_len);
    _counters.proxy_v2_headers++;
    _neigh.send(m, c.out_port(0), _neigh.at(c.neigh[0]), snap);
}

uint32_t client_addr::translate(connection &c, conn_side &s, unsigned dir, rte_tcp_hdr *tcp, const snapshot &snap) {
    const uint8_t f = tcp->tcp_flags;
    const bool v2 = s.client_addr == listener_rt::client_addr_proxy_v2;
    const uint32_t header_len = proxy_v2_len_of(c);
    uint32_t sum = 0;
    if (dir == 1) {
        if (s.delta) { // SYN proxy: the backend's numbering into the client's
            uint32_t seq = seq_add(tcp->sent_seq, s.delta);
            sum = net::csum_replace32(sum, tcp->sent_seq, seq);
            tcp->sent_seq = seq;
        }
        unsigned backend_shift = s.ws_backend == tcp_window::no_scale ? 0 : s.ws_backend;
        if (backend_shift != s.ws_client_view) {
            // The client reads windows with the scale the SYN-ACK promised: rescale,
            // rounding up (a window never shrinks to zero by the conversion).
            uint32_t win = uint32_t(rte_be_to_cpu_16(tcp->rx_win)) << backend_shift;
            uint32_t unit = 1u << s.ws_client_view;
            uint16_t nw = rte_cpu_to_be_16(static_cast<uint16_t>(std::min<uint32_t>(65535, (win + unit - 1) >> s.ws_client_view)));
            sum = net::csum_replace16(sum, tcp->rx_win, nw);
            tcp->rx_win = nw;
        }
        if (v2 && s.header != conn_side::header_unsent && (f & tcp_ack)) {
            uint32_t past = rte_be_to_cpu_32(tcp->recv_ack) - s.first_seq;
            if (s.header == conn_side::header_sent && past >= header_len && past < (1u << 31)) {
                s.header = conn_side::header_acked;
            } else if (s.header == conn_side::header_sent && past < header_len && !(f & tcp_rst)) {
                send_header(c, s, tcp, 1, snap);
                _counters.proxy_v2_headers_resent++;
            }
            uint32_t ack = unshift_header(tcp->recv_ack, s.first_seq, header_len);
            sum = net::csum_replace32(sum, tcp->recv_ack, ack);
            tcp->recv_ack = ack;
            sum += map_sack_blocks(tcp, [&](uint32_t e) { return unshift_header(e, s.first_seq, header_len); });
        }
        if (s.client_addr == listener_rt::client_addr_toa && (f & tcp_syn)) // room for the option
            sum += clamp_mss(tcp, static_cast<uint16_t>(snap.ports[c.out_port(0)].mtu - (conn::dir_v6(c, 1) ? 60 : 40) -
                                                        toa_len_of(c)));
        return sum;
    }
    if (s.delta) { // SYN proxy: acks and SACK blocks name the backend's bytes in the client's numbering
        if (f & tcp_ack) {
            uint32_t ack = seq_add(tcp->recv_ack, 0u - s.delta);
            sum = net::csum_replace32(sum, tcp->recv_ack, ack);
            tcp->recv_ack = ack;
        }
        sum += map_sack_blocks(tcp, [&](uint32_t e) { return seq_add(e, 0u - s.delta); });
        if (s.ws_backend == tcp_window::no_scale && tcp_window::scale(c, 0)) {
            // The backend did not scale, so it reads the client's windows as bytes.
            uint32_t win = uint32_t(rte_be_to_cpu_16(tcp->rx_win)) << tcp_window::scale(c, 0);
            uint16_t nw = rte_cpu_to_be_16(static_cast<uint16_t>(std::min<uint32_t>(65535, win)));
            sum = net::csum_replace16(sum, tcp->rx_win, nw);
            tcp->rx_win = nw;
        }
    }
    if (v2 && !(f & tcp_syn)) {
        if (s.header == conn_side::header_unsent && (f & tcp_ack) && !(f & tcp_rst)) {
            send_header(c, s, tcp, 0, snap); // goes out ahead of this segment
            s.header = conn_side::header_sent;
        }
        if (s.header != conn_side::header_unsent) {
            uint32_t seq = seq_add(tcp->sent_seq, header_len);
            sum = net::csum_replace32(sum, tcp->sent_seq, seq);
            tcp->sent_seq = seq;
        }
    }
    return sum;
}

} // namespace fulcrum::dataplane
