// Malformed frames are dropped and counted by reason, and nothing else happens.
#include "harness.h"

#include <catch2/catch.hpp>

#include <functional>

using namespace fulcrum::test;
using fulcrum::dataplane::drop;

namespace {

struct bad_case {
    const char *name;
    uint8_t proto;
    std::function<void(bytes &)> mutate;
    drop reason;
};
} // namespace

TEST_CASE("malformed frames are dropped and counted by reason", "[malformed]") {
    const std::vector<bad_case> cases = {
        {"truncated Ethernet", 17, [](bytes &f) { f.resize(10); }, drop::trunc_eth},
        {"truncated IP", 17, [](bytes &f) { f.resize(14 + 12); }, drop::trunc_ip},
        {"IP version 6", 17, [](bytes &f) { f[off::ip_vhl] = 0x65; }, drop::bad_ip_version},
        {"IHL 4", 17, [](bytes &f) { f[off::ip_vhl] = 0x44; }, drop::bad_ihl},
        {"IP options", 17, [](bytes &f) { f[off::ip_vhl] = 0x46; }, drop::ip_options},
        {"total length past the frame", 17, [](bytes &f) { set16(f, off::ip_len, 2000), fix_ip_checksum(f); }, drop::bad_total_length},
        {"total length below the header", 17, [](bytes &f) { set16(f, off::ip_len, 10), fix_ip_checksum(f); }, drop::bad_total_length},
        {"bad IP checksum", 17, [](bytes &f) { f[off::ip_csum] ^= 0x55; }, drop::bad_ip_checksum},
        {"fragment (MF)", 17, [](bytes &f) { set16(f, off::ip_frag, 0x2000), fix_ip_checksum(f); }, drop::fragment},
        {"fragment (offset)", 17, [](bytes &f) { set16(f, off::ip_frag, 0x0010), fix_ip_checksum(f); }, drop::fragment},
        {"TTL 1", 17, [](bytes &f) { f[off::ip_ttl] = 1, fix_ip_checksum(f); }, drop::ttl_exceeded},
        {"truncated TCP", 6, [](bytes &f) { set16(f, off::ip_len, 30), fix_ip_checksum(f); }, drop::trunc_l4},
        {"truncated UDP", 17, [](bytes &f) { set16(f, off::ip_len, 24), fix_ip_checksum(f); }, drop::trunc_l4},
        {"TCP data offset 3", 6, [](bytes &f) { f[off::tcp_doff] = 0x30; }, drop::bad_l4_header},
        {"TCP data offset past the packet", 6, [](bytes &f) { f[off::tcp_doff] = 0xf0; }, drop::bad_l4_header},
        {"UDP length past the packet", 17, [](bytes &f) { f[off::udp_len] = 0x04; }, drop::bad_l4_header},
        {"not a local address", 17, [](bytes &f) { f[off::ip_dst + 3] = 99, fix_ip_checksum(f); }, drop::not_local},
        {"GRE to a VIP", 17, [](bytes &f) { f[off::ip_proto] = 47, fix_ip_checksum(f); }, drop::unsupported_proto},
        {"unicast to another MAC", 17, [](bytes &f) { f[5] ^= 0x01; }, drop::other_mac},
        {"IPv6 EtherType on a frame too short for an IPv6 header", 17, [](bytes &f) { set16(f, off::eth_type, 0x86dd); }, drop::trunc_ip6},
        {"an EtherType neither IPv4, IPv6 nor ARP", 17, [](bytes &f) { set16(f, off::eth_type, 0x88cc); }, drop::unsupported_l2},
        {"TCP without SYN and without connection", 6, [](bytes &f) { f[off::tcp_flags] = ACK; }, drop::no_conn},
        {"TCP SYN to a port without listener", 6, [](bytes &f) { set16(f, off::dport, 81); }, drop::no_listener},
        {"reply to a local address without connection", 17, [](bytes &f) { f[off::ip_dst + 3] = 100, fix_ip_checksum(f); }, drop::no_conn},
    };
    for (const auto &c : cases) {
        SECTION(c.name) {
            lb t;
            frame_spec s;
            s.proto = c.proto, s.dst_mac = t.port->mac(), s.src_mac = client_mac;
            s.src = net::client, s.dst = net::vip, s.sport = 4000;
            s.dport = c.proto == 6 ? 80 : 53, s.tcp_flags = SYN, s.payload = "payload";
            bytes f = build_frame(s);
            c.mutate(f);
            CHECK(t.send({f}).empty());
            CHECK(t.drops(c.reason) == 1);
            uint64_t total = 0;
            for (auto d : t.w().counters().drops) total += d;
            CHECK(total == 1);
            CHECK(t.w().conns().in_use() == 0);
            // The worker keeps forwarding after the bad frame.
            s.sport = 4001;
            CHECK(t.send({build_frame(s)}).size() == 1);
        }
    }
}

TEST_CASE("Ethernet padding after a short IP packet is trimmed, not forwarded", "[malformed]") {
    lb t;
    frame_spec s;
    s.proto = 17, s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = net::client, s.dst = net::vip, s.sport = 4000, s.dport = 53, s.payload = "x";
    bytes f = build_frame(s);
    size_t ip_len = f.size();
    f.resize(60, 0xee); // minimum frame with padding
    auto out = t.send_one(f);
    CHECK(out.size() == ip_len);
    CHECK(checksums_valid(out));
}
