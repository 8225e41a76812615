// ICMP errors for connections, translated both ways, and "fragmentation needed" for DF
// packets over the egress MTU: exact bytes against the independent frame builder.
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using fulcrum::dataplane::drop;

namespace {
const uint32_t client = net::client, vip = net::vip, laddr = net::laddr, be0 = net::backend(0);
const mac_t router_mac{2, 0, 0, 0, 0, 0x99};

bytes ip_part(const bytes &frame) { return bytes(frame.begin() + 14, frame.end()); }

frame_spec udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t ttl = 64) {
    frame_spec s;
    s.proto = 17, s.src = src, s.sport = sport, s.dst = dst, s.dport = dport, s.ttl = ttl, s.payload = "query";
    return s;
}
frame_spec tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
               uint8_t ttl = 64) {
    frame_spec s;
    s.src = src, s.sport = sport, s.dst = dst, s.dport = dport, s.ttl = ttl;
    s.seq = seq, s.ack = ack, s.tcp_flags = ACK, s.payload = std::string(100, 'd');
    return s;
}
bytes on_wire(lb &t, const frame_spec &s, const mac_t &from) { return framed(s, t.port->mac(), from); }
} // namespace

TEST_CASE("port unreachable from a UDP backend reaches the client about its own datagram", "[icmp]") {
    lb t(base_config("", {1}));
    REQUIRE(t.send({on_wire(t, udp(client, 5000, vip, 53), client_mac)}).size() == 1);
    // The backend's kernel quotes what Fulcrum sent it (TTL 63 after forwarding).
    bytes sent = build_frame(udp(laddr, 1024, be0, 5353, 63));
    bytes err = build_icmp_error(t.port->mac(), backend_mac(0), be0, laddr, 64, 3, 3, 0, ip_part(sent), 28 + 5);
    bytes out = t.send_one(err);
    bytes as_client_sent = build_frame(udp(client, 5000, vip, 53, 63));
    bytes exp = build_icmp_error(client_mac, t.port->mac(), vip, client, 63, 3, 3, 0, ip_part(as_client_sent), 28 + 5);
    CHECK(hex(out) == hex(exp));
    CHECK(checksums_valid(out));
    CHECK(t.w().counters().icmp_errors_forwarded == 1);
}

TEST_CASE("port unreachable from the client about a reply reaches the backend about its own datagram", "[icmp]") {
    lb t(base_config("", {1}));
    REQUIRE(t.send({on_wire(t, udp(client, 5000, vip, 53), client_mac)}).size() == 1);
    // The client's socket is gone: its kernel quotes the reply Fulcrum delivered (vip -> client).
    bytes delivered = build_frame(udp(vip, 53, client, 5000, 63));
    bytes err = build_icmp_error(t.port->mac(), client_mac, client, vip, 64, 3, 3, 0, ip_part(delivered), 28 + 5);
    bytes out = t.send_one(err);
    bytes as_backend_sent = build_frame(udp(be0, 5353, laddr, 1024, 63));
    bytes exp = build_icmp_error(backend_mac(0), t.port->mac(), laddr, be0, 63, 3, 3, 0, ip_part(as_backend_sent), 28 + 5);
    CHECK(hex(out) == hex(exp));
    CHECK(checksums_valid(out));
}

TEST_CASE("fragmentation needed crosses full-NAT both ways, for path-MTU discovery", "[icmp]") {
    lb t(base_config("", {1}));
    frame_spec syn = tcp(client, 40000, vip, 80, 1000, 0);
    syn.tcp_flags = SYN, syn.payload.clear();
    REQUIRE(t.send({on_wire(t, syn, client_mac)}).size() == 1);

    SECTION("from a hop on the backend side (quoting laddr -> backend) to the client") {
        bytes sent = build_frame(tcp(laddr, 1024, be0, 8080, 1001, 5001, 63));
        bytes err = build_icmp_error(t.port->mac(), router_mac, ip("10.0.0.254"), laddr, 64, 3, 4, 1400, ip_part(sent), 576);
        t.port->inject(err);
        // The router is not a neighbour yet: Fulcrum answers no one but forwards by the connection.
        t.poll_all();
        auto outs = t.port->collect();
        REQUIRE(outs.size() == 1);
        bytes as_client_sent = build_frame(tcp(client, 40000, vip, 80, 1001, 5001, 63));
        bytes exp = build_icmp_error(client_mac, t.port->mac(), vip, client, 63, 3, 4, 1400, ip_part(as_client_sent), 576);
        CHECK(hex(outs[0]) == hex(exp));
        CHECK(checksums_valid(outs[0]));
    }
    SECTION("from the client side (quoting vip -> client) to the backend") {
        bytes sent = build_frame(tcp(vip, 80, client, 40000, 5001, 1001, 63));
        bytes err = build_icmp_error(t.port->mac(), client_mac, client, vip, 64, 3, 4, 1280, ip_part(sent), 28);
        bytes out = t.send_one(err);
        bytes as_backend_sent = build_frame(tcp(be0, 8080, laddr, 1024, 5001, 1001, 63));
        bytes exp = build_icmp_error(backend_mac(0), t.port->mac(), laddr, be0, 63, 3, 4, 1280, ip_part(as_backend_sent), 28);
        CHECK(hex(out) == hex(exp));
    }
    SECTION("an error about no connection of ours is not forwarded") {
        bytes sent = build_frame(tcp(vip, 80, client, 40001, 5001, 1001, 63));
        CHECK(t.send({build_icmp_error(t.port->mac(), client_mac, client, vip, 64, 3, 4, 1280, ip_part(sent), 28)}).empty());
        CHECK(t.drops(drop::icmp_ignored) == 1);
        CHECK(t.w().counters().icmp_errors_forwarded == 0);
    }
}

TEST_CASE("a DF packet over the egress MTU gets fragmentation needed from the VIP", "[icmp][mtu]") {
    auto cfg = base_config("", {1});
    cfg["ports"][0]["mtu"] = 1200;
    lb t(cfg);
    frame_spec syn = tcp(client, 40000, vip, 80, 1000, 0);
    syn.tcp_flags = SYN, syn.payload.clear();
    REQUIRE(t.send({on_wire(t, syn, client_mac)}).size() == 1);
    frame_spec big = tcp(client, 40000, vip, 80, 1001, 5001);
    big.payload = std::string(1300, 'x'); // 1,340 bytes of IP
    bytes in = on_wire(t, big, client_mac);
    bytes out = t.send_one(in);
    bytes exp = build_icmp_error(client_mac, t.port->mac(), vip, client, 64, 3, 4, 1200, ip_part(in), 576 - 28);
    CHECK(hex(out) == hex(exp));
    CHECK(checksums_valid(out));
    CHECK(t.drops(drop::too_big) == 1);
    CHECK(t.w().counters().icmp_frag_needed == 1);
    // At the MTU it passes.
    big.payload = std::string(1200 - 40 - 100, 'y');
    big.payload += std::string(100, 'z');
    CHECK(t.send({on_wire(t, big, client_mac)}).size() == 1);
}

TEST_CASE("an ICMP error's quoted sequence number is put back in the numbering its receiver sent: the SYN proxy's "
          "delta and the PROXY header's 28 bytes",
          "[icmp][synproxy][client_addr]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["SynProxy"] = "on";
    cfg["listeners"][0]["ProxyProtocolV2Enabled"] = "on";
    lb t(cfg);
    frame_spec syn = tcp(client, 40000, vip, 80, 1000, 0);
    syn.tcp_flags = SYN, syn.payload.clear();
    bytes synack = t.send_one(on_wire(t, syn, client_mac));
    REQUIRE(synack.size() > 41);
    uint32_t cookie = get32(synack, off::tcp_seq);
    frame_spec ack = tcp(client, 40000, vip, 80, 1001, cookie + 1);
    ack.payload.clear();
    REQUIRE(t.send({on_wire(t, ack, client_mac)}).size() == 1); // the proxy's SYN to the backend
    frame_spec bsynack = tcp(be0, 8080, laddr, 1024, 7000, 1001);
    bsynack.tcp_flags = SYN | ACK, bsynack.payload.clear();
    REQUIRE(t.send({on_wire(t, bsynack, backend_mac(0))}).size() == 2); // the PROXY header, the client's ACK
    const uint32_t delta = cookie - 7000;

    SECTION("from the client side: the backend's own sequence number (less the delta)") {
        bytes delivered = build_frame(tcp(vip, 80, client, 40000, 7001 + delta, 1001, 63));
        bytes err = build_icmp_error(t.port->mac(), client_mac, client, vip, 64, 3, 4, 1280, ip_part(delivered), 28);
        bytes out = t.send_one(err);
        bytes as_backend_sent = build_frame(tcp(be0, 8080, laddr, 1024, 7001, 1001, 63));
        bytes exp = build_icmp_error(backend_mac(0), t.port->mac(), laddr, be0, 63, 3, 4, 1280, ip_part(as_backend_sent), 28);
        CHECK(hex(out) == hex(exp));
        CHECK(checksums_valid(out));
    }
    SECTION("from the backend side: the client's own sequence number (less the header)") {
        bytes sent = build_frame(tcp(laddr, 1024, be0, 8080, 1001 + 28 + 10, 7001, 63));
        bytes err = build_icmp_error(t.port->mac(), backend_mac(0), be0, laddr, 64, 3, 4, 1280, ip_part(sent), 28);
        bytes out = t.send_one(err);
        bytes as_client_sent = build_frame(tcp(client, 40000, vip, 80, 1001 + 10, 7001 + delta, 63));
        bytes exp = build_icmp_error(client_mac, t.port->mac(), vip, client, 63, 3, 4, 1280, ip_part(as_client_sent), 28);
        CHECK(hex(out) == hex(exp));
    }
    SECTION("an error to forward with TTL 1 is dropped, not sent on with TTL 255") {
        bytes delivered = build_frame(tcp(vip, 80, client, 40000, 7001 + delta, 1001, 63));
        bytes err = build_icmp_error(t.port->mac(), client_mac, client, vip, 1, 3, 4, 1280, ip_part(delivered), 28);
        CHECK(t.send({err}).empty());
        CHECK(t.drops(drop::ttl_exceeded) == 1);
        CHECK(t.w().counters().icmp_errors_forwarded == 0);
    }
}

TEST_CASE("the SYN proxy honours the backend's MSS: a client segment over it gets fragmentation needed for MSS + 40",
          "[icmp][mtu][synproxy]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["SynProxy"] = "on";
    lb t(cfg);
    frame_spec syn = tcp(client, 40000, vip, 80, 1000, 0);
    syn.tcp_flags = SYN, syn.payload.clear(), syn.tcp_options = {2, 4, 0x05, 0xb4}; // MSS 1460
    bytes synack = t.send_one(on_wire(t, syn, client_mac)); // promises the client 1460
    REQUIRE(synack.size() > 41);
    uint32_t cookie = get32(synack, off::tcp_seq);
    frame_spec ack = tcp(client, 40000, vip, 80, 1001, cookie + 1);
    ack.payload.clear();
    REQUIRE(t.send({on_wire(t, ack, client_mac)}).size() == 1);
    frame_spec bsynack = tcp(be0, 8080, laddr, 1024, 7000, 1001);
    bsynack.tcp_flags = SYN | ACK, bsynack.payload.clear(), bsynack.tcp_options = {2, 4, 0x03, 0xe8}; // MSS 1000
    REQUIRE(t.send({on_wire(t, bsynack, backend_mac(0))}).size() == 1); // the client's ACK goes on
    frame_spec big = tcp(client, 40000, vip, 80, 1001, cookie + 1);
    big.payload = std::string(1200, 'x'); // fits the port's 1500, not the backend's 1000
    bytes in = on_wire(t, big, client_mac);
    bytes out = t.send_one(in);
    bytes exp = build_icmp_error(client_mac, t.port->mac(), vip, client, 64, 3, 4, 1040, ip_part(in), 576 - 28);
    CHECK(hex(out) == hex(exp));
    CHECK(t.drops(drop::too_big) == 1);
    big.payload = std::string(1000, 'y'); // at the backend's MSS: on its way
    CHECK(t.send({on_wire(t, big, client_mac)}).size() == 1);
}
