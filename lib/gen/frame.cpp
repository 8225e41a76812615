#include "gen/frame.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace fulcrum::gen {

namespace {
struct __attribute__((packed)) stamp {
    uint16_t magic;
    uint64_t tsc;
};
static_assert(sizeof(stamp) == stamp_len);

// TCP checksum over the pseudo-header, `covered` bytes of segment (header and stamp);
// the rest of the segment must be zeros, which add nothing to the sum.
uint16_t tcp_checksum(const rte_ipv4_hdr *ip, const rte_tcp_hdr *tcp, uint32_t covered) {
    uint32_t sum = rte_ipv4_phdr_cksum(ip, 0);
    sum += rte_raw_cksum(tcp, covered);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}
} // namespace

uint16_t write_client_frame(uint8_t *out, const frame_spec &s, uint32_t flow, uint8_t flags, uint32_t seq,
                            uint32_t ack_no, uint16_t payload, uint64_t tsc) {
    uint32_t hdrs = payload_offset(s.proto);
    uint16_t len = static_cast<uint16_t>(std::max<uint32_t>(min_frame, hdrs + payload));
    std::memset(out, 0, len);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(out);
    std::memcpy(eth->dst_addr.addr_bytes, s.dst_mac, 6);
    std::memcpy(eth->src_addr.addr_bytes, s.src_mac, 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(hdrs - eth_len + payload));
    ip->time_to_live = 64;
    ip->next_proto_id = static_cast<uint8_t>(s.proto);
    ip->src_addr = rte_cpu_to_be_32(s.clients.ip(flow));
    ip->dst_addr = rte_cpu_to_be_32(s.vip);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint32_t stamped = 0;
    if (payload >= stamp_len) {
        stamp st{stamp_magic, tsc};
        std::memcpy(out + hdrs, &st, sizeof st);
        stamped = stamp_len;
    }
    uint16_t sport = rte_cpu_to_be_16(s.clients.port(flow)), dport = rte_cpu_to_be_16(s.vport);
    if (s.proto == l4::udp) {
        auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
        udp->src_port = sport;
        udp->dst_port = dport;
        udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(udp_len + payload));
        return len;
    }
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    tcp->src_port = sport;
    tcp->dst_port = dport;
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->recv_ack = rte_cpu_to_be_32(ack_no);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = flags;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    tcp->cksum = tcp_checksum(ip, tcp, tcp_len + stamped);
    return len;
}

bool turn_around6(std::vector<uint8_t> &f) {
    constexpr size_t ip6_len = sizeof(rte_ipv6_hdr);
    if (f.size() < eth_len + ip6_len + udp_len || f[12] != 0x86 || f[13] != 0xdd || f[eth_len + 6] != IPPROTO_UDP) return false;
    uint8_t *p = f.data();
    for (int i = 0; i < 6; i++) std::swap(p[i], p[6 + i]);
    for (int i = 0; i < 16; i++) std::swap(p[eth_len + 8 + i], p[eth_len + 24 + i]);
    for (int i = 0; i < 2; i++) std::swap(p[eth_len + ip6_len + i], p[eth_len + ip6_len + 2 + i]);
    return true;
}

uint16_t write_frame6(uint8_t *out, const uint8_t *dst_mac, const uint8_t *src_mac, const uint8_t *src, const uint8_t *dst,
                      l4 proto, uint16_t sport, uint16_t dport, uint32_t seq) {
    const uint16_t l4_len = proto == l4::tcp ? tcp_len : udp_len + 18;
    const uint16_t len = static_cast<uint16_t>(eth_len + sizeof(rte_ipv6_hdr) + l4_len);
    std::memset(out, 0, len);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(out);
    std::memcpy(eth->dst_addr.addr_bytes, dst_mac, 6);
    std::memcpy(eth->src_addr.addr_bytes, src_mac, 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(l4_len);
    ip->proto = static_cast<uint8_t>(proto);
    ip->hop_limits = 64;
    std::memcpy(ip->src_addr, src, 16);
    std::memcpy(ip->dst_addr, dst, 16);
    if (proto == l4::udp) {
        auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
        udp->src_port = rte_cpu_to_be_16(sport);
        udp->dst_port = rte_cpu_to_be_16(dport);
        udp->dgram_len = rte_cpu_to_be_16(l4_len);
        udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
        return len;
    }
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    tcp->src_port = rte_cpu_to_be_16(sport);
    tcp->dst_port = rte_cpu_to_be_16(dport);
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = syn;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
    return len;
}

data_frame_writer::data_frame_writer(const frame_spec &s, uint16_t frame_len) : _s(s) {
    uint32_t hdrs = payload_offset(s.proto);
    _len = static_cast<uint16_t>(std::max<uint32_t>({frame_len, min_frame, hdrs + stamp_len}));
    // The template: flow 0's frame with the varying fields (source address and port,
    // sequence numbers, stamp time) zeroed, and the checksum fields zero.
    frame_spec zero = s;
    zero.clients.client_ip = 0;
    zero.clients.first_port = 0;
    uint8_t full[2048];
    write_client_frame(full, zero, 0, s.proto == l4::tcp ? (psh | ack) : 0, 0, 0, static_cast<uint16_t>(_len - hdrs), 0);
    std::memcpy(_tmpl, full, sizeof _tmpl);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(_tmpl + eth_len);
    ip->hdr_checksum = 0;
    _ip_sum = rte_raw_cksum(ip, ip_len);
    if (s.proto == l4::tcp) {
        auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
        tcp->cksum = 0;
        _l4_sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(tcp, tcp_len + stamp_len);
    }
}

namespace {
uint16_t fold(uint64_t sum) {
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}
// Sum of a value's 16-bit words as they sit in memory (the checksum's own order): on a
// little-endian machine, the low half of a loaded word is its first two bytes.
inline uint64_t words(uint32_t v) { return (v & 0xffff) + (v >> 16); }
inline uint64_t words(uint64_t v) { return words(static_cast<uint32_t>(v)) + words(static_cast<uint32_t>(v >> 32)); }
} // namespace

void data_frame_writer::write(uint8_t *out, uint32_t flow, uint32_t seq, uint32_t ack_no, uint64_t tsc) const {
    std::memcpy(out, _tmpl, sizeof _tmpl);
    if (_len > sizeof _tmpl) std::memset(out + sizeof _tmpl, 0, _len - sizeof _tmpl);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(out + eth_len);
    uint32_t src = rte_cpu_to_be_32(_s.clients.ip(flow));
    uint16_t sport = rte_cpu_to_be_16(_s.clients.port(flow));
    ip->src_addr = src;
    ip->hdr_checksum = static_cast<uint16_t>(~fold(_ip_sum + words(src)));
    uint8_t *l4p = out + eth_len + ip_len;
    std::memcpy(l4p, &sport, 2);
    // The stamp's time sits at an even offset from the L4 header: whole checksum words.
    std::memcpy(out + payload_offset(_s.proto) + 2, &tsc, 8);
    if (_s.proto == l4::udp) return;
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(l4p);
    uint32_t seq_be = rte_cpu_to_be_32(seq), ack_be = rte_cpu_to_be_32(ack_no);
    tcp->sent_seq = seq_be;
    tcp->recv_ack = ack_be;
    tcp->cksum = static_cast<uint16_t>(~fold(_l4_sum + words(src) + sport + words(seq_be) + words(ack_be) + words(tsc)));
}

uint16_t turn_around(uint8_t *frame, const uint8_t *src_mac, uint8_t flags, uint32_t seq, uint32_t ack_no,
                     uint16_t payload) {
    auto *eth = reinterpret_cast<rte_ether_hdr *>(frame);
    eth->dst_addr = eth->src_addr;
    std::memcpy(eth->src_addr.addr_bytes, src_mac, 6);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    uint32_t addr = ip->src_addr; // packed fields: no std::swap
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = addr;
    ip->time_to_live = 64;
    if (ip->next_proto_id == IPPROTO_UDP) { // UDP keeps its payload
        auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
        uint16_t port = udp->src_port;
        udp->src_port = udp->dst_port;
        udp->dst_port = port;
        udp->dgram_cksum = 0;
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        return static_cast<uint16_t>(std::max<uint32_t>(min_frame, eth_len + rte_be_to_cpu_16(ip->total_length)));
    }
    uint32_t hdrs = eth_len + ip_len + tcp_len;
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    // The answer carries no options: a kept payload moves up behind a plain header.
    uint32_t doff = (tcp->data_off >> 4) * 4u;
    if (doff > tcp_len && payload) std::memmove(frame + hdrs, frame + eth_len + ip_len + doff, payload);
    tcp->data_off = tcp_len / 4 << 4;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(hdrs - eth_len + payload));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint16_t port = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = port;
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->recv_ack = rte_cpu_to_be_32(ack_no);
    tcp->tcp_flags = flags;
    tcp->cksum = 0;
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    uint16_t len = static_cast<uint16_t>(hdrs + payload);
    if (len < min_frame) {
        std::memset(frame + len, 0, min_frame - len);
        len = min_frame;
    }
    return len;
}

frame_view parse(const uint8_t *frame, uint32_t len) {
    frame_view v;
    if (len < eth_len + ip_len + udp_len) return v;
    auto *eth = reinterpret_cast<const rte_ether_hdr *>(frame);
    auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + 1);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ip->version_ihl != 0x45) return v;
    uint32_t ip_total = rte_be_to_cpu_16(ip->total_length);
    if (ip_total + eth_len > len || ip_total < ip_len + udp_len) return v;
    v.src_ip = rte_be_to_cpu_32(ip->src_addr);
    v.dst_ip = rte_be_to_cpu_32(ip->dst_addr);
    uint32_t off;
    if (ip->next_proto_id == IPPROTO_TCP) {
        if (ip_total < ip_len + tcp_len) return v;
        auto *tcp = reinterpret_cast<const rte_tcp_hdr *>(ip + 1);
        uint32_t doff = (tcp->data_off >> 4) * 4u; // options (a SYN proxy's, a SYN's MSS) are skipped
        if (doff < tcp_len || ip_len + doff > ip_total) return v;
        v.proto = l4::tcp;
        v.flags = tcp->tcp_flags;
        v.seq = rte_be_to_cpu_32(tcp->sent_seq);
        v.ack_no = rte_be_to_cpu_32(tcp->recv_ack);
        v.src_port = rte_be_to_cpu_16(tcp->src_port);
        v.dst_port = rte_be_to_cpu_16(tcp->dst_port);
        off = ip_len + doff;
    } else if (ip->next_proto_id == IPPROTO_UDP) {
        auto *udp = reinterpret_cast<const rte_udp_hdr *>(ip + 1);
        v.proto = l4::udp;
        v.src_port = rte_be_to_cpu_16(udp->src_port);
        v.dst_port = rte_be_to_cpu_16(udp->dst_port);
        off = ip_len + udp_len;
    } else {
        return v;
    }
    v.payload = static_cast<uint16_t>(ip_total - off);
    v.payload_off = static_cast<uint16_t>(eth_len + off);
    if (v.payload >= stamp_len) {
        stamp st;
        std::memcpy(&st, frame + eth_len + off, sizeof st);
        v.stamped = st.magic == stamp_magic;
        v.tsc = st.tsc;
    }
    v.ok = true;
    return v;
}

std::vector<std::vector<uint8_t>> read_pcap(const char *path) {
    std::vector<std::vector<uint8_t>> frames;
    FILE *f = std::fopen(path, "rb");
    if (!f) return frames;
    uint32_t header[6];
    if (std::fread(header, sizeof header, 1, f) == 1 && (header[0] == 0xa1b2c3d4 || header[0] == 0xa1b23c4d)) {
        uint32_t rec[4];
        while (std::fread(rec, sizeof rec, 1, f) == 1 && rec[2] <= 65535) {
            std::vector<uint8_t> frame(rec[2]);
            if (rec[2] && std::fread(frame.data(), rec[2], 1, f) != 1) break;
            frames.push_back(std::move(frame));
        }
    }
    std::fclose(f);
    return frames;
}

pcap_file::pcap_file(const char *path) : _f(std::fopen(path, "wb")) {
    if (!_f) return;
    const uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1}; // v2.4, Ethernet
    std::fwrite(header, sizeof header, 1, static_cast<FILE *>(_f));
}

pcap_file::~pcap_file() {
    if (_f) std::fclose(static_cast<FILE *>(_f));
}

void pcap_file::write(const uint8_t *frame, uint32_t len) {
    // One frame per microsecond of capture time: replay tools keep the order.
    const uint32_t rec[4] = {static_cast<uint32_t>(_n / 1000000), static_cast<uint32_t>(_n % 1000000), len, len};
    std::fwrite(rec, sizeof rec, 1, static_cast<FILE *>(_f));
    std::fwrite(frame, len, 1, static_cast<FILE *>(_f));
    _n++;
}

} // namespace fulcrum::gen
