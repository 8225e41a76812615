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

uint32_t ip(const char *dotted); // host order
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
};

bytes build_frame(const frame_spec &s);
// An ICMP error (type, code; `mtu` for fragmentation needed) quoting `quoted`, an IP
// packet (a built frame without its Ethernet header), cut to `quote_len` bytes.
bytes build_icmp_error(const mac_t &dst_mac, const mac_t &src_mac, uint32_t src, uint32_t dst, uint8_t ttl,
                       uint8_t type, uint8_t code, uint16_t mtu, const bytes &quoted, size_t quote_len);
bytes build_arp(uint16_t op, const mac_t &eth_dst, const mac_t &sha, uint32_t sip, const mac_t &tha, uint32_t tip);

// Recompute every checksum of an IPv4 frame from scratch; true when all are right.
bool checksums_valid(const bytes &frame);
std::string hex(const bytes &b);

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

} // namespace fulcrum::test
