// What the data plane's files share: header offsets, TCP flag bits and options, and
// the small packet helpers the worker and its components both use.
#pragma once

#include "conn/conn.h"
#include "net/checksum.h"

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>
#include <type_traits>

namespace fulcrum::dataplane::detail {

constexpr uint32_t l3_off = sizeof(rte_ether_hdr);
constexpr uint8_t tcp_fin = RTE_TCP_FIN_FLAG, tcp_syn = RTE_TCP_SYN_FLAG, tcp_rst = RTE_TCP_RST_FLAG,
                  tcp_ack = RTE_TCP_ACK_FLAG, tcp_psh = RTE_TCP_PSH_FLAG;
constexpr uint8_t opt_eol = 0, opt_nop = 1, opt_mss = 2, opt_wscale = 3, opt_sack_perm = 4, opt_sack = 5,
                  opt_timestamp = 8, opt_toa = 254;

constexpr uint8_t toa_len = 8;        // kind, length, client port, client address (IPv4)
constexpr uint8_t toa6_len = 20;      // the same with an IPv6 address (DPVS kmod/toa's TCPOLEN_IP6_TOA)
constexpr uint8_t proxy_v2_len = 28;  // PROXY v2, an IPv4 client: 16-byte preamble, addresses, ports
constexpr uint8_t proxy_v2_len6 = 52; // an IPv6 client (for 6->6 and 6->4 alike)
// What a connection's client address takes: by the client's family.
inline uint8_t toa_len_of(const conn::connection &c) { return conn::is_v6(c) ? toa6_len : toa_len; }
inline uint8_t proxy_v2_len_of(const conn::connection &c) { return conn::is_v6(c) ? proxy_v2_len6 : proxy_v2_len; }

// Calls fn(option) for each option of a TCP header (option[0] kind, option[1] length,
// both checked to lie inside the header), until EOL or a malformed one; fn returns
// false to stop. `Hdr` is rte_tcp_hdr or const rte_tcp_hdr.
template <typename Hdr, typename Fn>
void for_each_option(Hdr *tcp, Fn fn) {
    using byte = std::conditional_t<std::is_const_v<Hdr>, const uint8_t, uint8_t>;
    byte *p = reinterpret_cast<byte *>(tcp + 1);
    byte *end = reinterpret_cast<byte *>(tcp) + (tcp->data_off >> 4) * 4u;
    while (p < end && *p != opt_eol) {
        if (*p == opt_nop) {
            p++;
            continue;
        }
        if (p + 1 >= end || p[1] < 2 || p + p[1] > end || !fn(p)) return;
        p += p[1];
    }
}

inline uint32_t seq_add(uint32_t be, uint32_t n) { return rte_cpu_to_be_32(rte_be_to_cpu_32(be) + n); }

// PROXY v2 over TCP: a sequence number of the client's bytes as the backend counts
// them (the header first), as the client counts them; the header's own bytes fold onto
// the client's first sequence number.
inline uint32_t unshift_header(uint32_t be, uint32_t first_seq, uint32_t header_len) {
    uint32_t v = rte_be_to_cpu_32(be);
    return rte_cpu_to_be_32(v - first_seq < header_len ? first_seq : v - header_len);
}

// The IPv4 and TCP headers of a segment Fulcrum sends on its own to a connection's
// backend, from its laddr:lport (the caller sets sequence, flags, options, checksums).
inline void own_segment_to_backend(rte_ipv4_hdr *ip, rte_tcp_hdr *tcp, const conn::connection &c, uint16_t ip_len) {
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(ip_len);
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = c.laddr, ip->dst_addr = c.bip;
    tcp->src_port = c.lport, tcp->dst_port = c.bport;
}

// Rewrite MSS in a SYN's options to at most `clamp` (host order); returns checksum delta.
inline uint32_t clamp_mss(rte_tcp_hdr *tcp, uint16_t clamp) {
    uint32_t delta = 0;
    for_each_option(tcp, [&](uint8_t *opt) {
        if (opt[0] != opt_mss || opt[1] != 4) return true;
        uint16_t mss_be;
        std::memcpy(&mss_be, opt + 2, 2);
        if (rte_be_to_cpu_16(mss_be) > clamp) {
            uint16_t new_be = rte_cpu_to_be_16(clamp);
            std::memcpy(opt + 2, &new_be, 2);
            delta = net::csum_replace16(0, mss_be, new_be);
        }
        return false;
    });
    return delta;
}

// Address a received frame back to its sender (MACs and IPv4 addresses swapped), from `mac`.
inline void turn_around(rte_mbuf *m, const rte_ether_addr &mac) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = mac;
    uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
}

// IPv6 (worker_ipv6.cpp, worker_fnat6.cpp, worker_icmp6.cpp, nd.cpp).
constexpr uint32_t ip6_len = sizeof(rte_ipv6_hdr);
constexpr uint32_t min_mtu6 = 1280; // the least an IPv6 link carries (RFC 8200 5)
inline bool multicast6(const uint8_t *a) { return a[0] == 0xff; }
inline bool unspecified6(const uint8_t *a) {
    static const uint8_t zero[16] = {};
    return std::memcmp(a, zero, 16) == 0;
}
inline bool link_local6(const uint8_t *a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
inline uint8_t traffic_class(const rte_ipv6_hdr *ip) { return static_cast<uint8_t>(rte_be_to_cpu_32(ip->vtc_flow) >> 20); }
inline void ipv6_header(rte_ipv6_hdr *ip, uint8_t tclass, uint16_t payload, uint8_t proto, uint8_t hops,
                        const uint8_t *src, const uint8_t *dst) {
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28 | uint32_t(tclass) << 20);
    ip->payload_len = rte_cpu_to_be_16(payload);
    ip->proto = proto;
    ip->hop_limits = hops;
    std::memcpy(ip->src_addr, src, 16);
    std::memcpy(ip->dst_addr, dst, 16);
}

// A segment Fulcrum sends on its own to a connection's backend, finished in the backend's
// family (`a`: the connection's IPv6 addresses when its backend side is IPv6): Ethernet
// type, IP header, laddr:lport -> backend, both checksums. Sequence, flags, options and
// payload (`tcp_len` bytes of TCP in all) are the caller's, written first.
inline void finish_own_segment(rte_ether_hdr *eth, rte_tcp_hdr *tcp, const conn::connection &c,
                               const conn::conn_addr6 *a, uint16_t tcp_len) {
    if (a) {
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
        ipv6_header(ip, 0, tcp_len, IPPROTO_TCP, 64, a->laddr, a->bip);
        tcp->src_port = c.lport, tcp->dst_port = c.bport;
        tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
        return;
    }
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    own_segment_to_backend(ip, tcp, c, static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + tcp_len));
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
}

} // namespace fulcrum::dataplane::detail

namespace fulcrum::dataplane {
// The data plane's shared vocabulary.
using conn::connection;
using conn::flow_key;
using conn::tcp_state;
using namespace detail;
} // namespace fulcrum::dataplane
