// Frame builder for packet tests: an independent implementation (full checksums, no
// DPDK) so that the expected bytes do not share code with what is under test.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::test {

using mac_t = std::array<uint8_t, 6>;
using bytes = std::vector<uint8_t>;
using addr6 = std::array<uint8_t, 16>;

uint32_t ip(const char *dotted); // host order
addr6 ip6(const char *text);     // inet_pton's reading
inline uint32_t be(uint32_t host) { return __builtin_bswap32(host); } // to network order

struct frame_spec {
    mac_t dst_mac{}, src_mac{};
    uint32_t src = 0, dst = 0; // host order
    uint8_t proto = 6;         // 6 tcp, 17 udp, 1 icmp
    uint8_t ttl = 64;
    uint16_t ip_id = 0x1234;
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t tcp_flags = 0;
    uint16_t window = 65535;
    bytes tcp_options;
    uint8_t icmp_type = 8;
    uint16_t icmp_id = 1, icmp_seq = 1;
    bool udp_zero_checksum = false;
    std::string payload;
    bool df = true; // IPv4: Don't Fragment
    // IPv6: the addresses below instead of src/dst; `ttl` is the hop limit, `tos` the
    // traffic class (IPv4: its TOS byte); icmp_* make ICMPv6 when proto is 58 (the four
    // bytes after the checksum are icmp_id, icmp_seq).
    bool v6 = false;
    addr6 src6{}, dst6{};
    uint8_t tos = 0;
    uint8_t icmp_code = 0;
    // IPv6 extension headers in order, each (type, its bytes after next-header and
    // length), zero-padded to a multiple of 8; the builder chains them.
    std::vector<std::pair<uint8_t, bytes>> ext;
};

bytes build_frame(const frame_spec &s);
// An ICMP error (type, code; `mtu` for fragmentation needed) quoting `quoted`, an IP
// packet (a built frame without its Ethernet header), cut to `quote_len` bytes.
bytes build_icmp_error(const mac_t &dst_mac, const mac_t &src_mac, uint32_t src, uint32_t dst, uint8_t ttl,
                       uint8_t type, uint8_t code, uint16_t mtu, const bytes &quoted, size_t quote_len);
bytes build_arp(uint16_t op, const mac_t &eth_dst, const mac_t &sha, uint32_t sip, const mac_t &tha, uint32_t tip);

// An ICMPv6 error (type, code, the 32-bit word after the checksum: MTU, pointer) quoting
// `quoted`, an IPv6 packet (a built frame without its Ethernet header), cut to `quote_len`.
bytes build_icmp6_error(const mac_t &dst_mac, const mac_t &src_mac, const addr6 &src, const addr6 &dst, uint8_t hops,
                        uint8_t type, uint8_t code, uint32_t word, const bytes &quoted, size_t quote_len);
// Neighbour Solicitation / Advertisement (hop limit 255) with a link-layer address option
// (source for NS, target for NA) unless `lla` is null; `flags` the NA's R/S/O bits (top byte).
bytes build_ns(const mac_t &eth_dst, const mac_t &eth_src, const addr6 &src, const addr6 &dst, const addr6 &target,
               const mac_t *lla, uint8_t hops = 255);
bytes build_na(const mac_t &eth_dst, const mac_t &eth_src, const addr6 &src, const addr6 &dst, const addr6 &target,
               uint8_t flags, const mac_t *lla, uint8_t hops = 255);
// ff02::1:ffXX:XXXX of a target, and its MAC 33:33:ff:XX:XX:XX.
addr6 solicited_node(const addr6 &target);
mac_t multicast_mac(const addr6 &group);

// Recompute every checksum of an IPv4 or IPv6 frame from scratch; true when all are right.
bool checksums_valid(const bytes &frame);
std::string hex(const bytes &b);

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

// Where each header field of an untagged IPv4 frame (IHL 5) sits, in bytes.
namespace off {
constexpr size_t eth_dst = 0, eth_src = 6, eth_type = 12;
constexpr size_t ip = 14, ip_vhl = 14, ip_len = 16, ip_id = 18, ip_frag = 20, ip_ttl = 22, ip_proto = 23,
                 ip_csum = 24, ip_src = 26, ip_dst = 30;
constexpr size_t l4 = 34, sport = 34, dport = 36;
constexpr size_t tcp_seq = 38, tcp_ack = 42, tcp_doff = 46, tcp_flags = 47, tcp_win = 48, tcp_csum = 50,
                 tcp_options = 54;
constexpr size_t udp_len = 38, udp_csum = 40, udp_payload = 42;
constexpr size_t icmp_type = 34, icmp_code = 35, icmp_csum = 36;
} // namespace off

// The same for an IPv6 frame without extension headers.
namespace off6 {
constexpr size_t ip = 14, plen = 18, next = 20, hops = 21, src = 22, dst = 38;
constexpr size_t l4 = 54, sport = 54, dport = 56, tcp_seq = 58, tcp_ack = 62, tcp_flags = 67, tcp_csum = 70,
                 tcp_options = 74, udp_len = 58, udp_csum = 60, icmp_type = 54, icmp_code = 55, icmp_csum = 56,
                 icmp_word = 58;
} // namespace off6

// Big-endian fields of a frame.
inline uint16_t get16(const bytes &f, size_t at) { return uint16_t(f[at] << 8 | f[at + 1]); }
inline uint32_t get32(const bytes &f, size_t at) { return uint32_t(get16(f, at)) << 16 | get16(f, at + 2); }
inline void set16(bytes &f, size_t at, uint16_t v) { f[at] = uint8_t(v >> 8), f[at + 1] = uint8_t(v); }
// The IPv4 header checksum made right again after a test edited the header.
void fix_ip_checksum(bytes &frame);

} // namespace fulcrum::test
