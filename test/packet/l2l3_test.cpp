// ARP answers, ARP resolution with queued packets, ICMP echo on VIPs.
#include "harness.h"

#include <catch2/catch.hpp>

#include <sched.h>

using namespace fulcrum::test;
using fulcrum::dataplane::drop;

namespace {
const mac_t broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zero{};
const uint32_t client = net::client;
} // namespace

TEST_CASE("ARP requests for VIPs, local addresses and the port address are answered", "[arp]") {
    lb t;
    for (const char *target : {"10.0.0.10", "10.0.0.11", "10.0.0.100", "10.0.0.1"}) {
        auto out = t.send_one(build_arp(1, broadcast, client_mac, client, zero, ip(target)));
        CHECK(hex(out) == hex(build_arp(2, client_mac, t.port->mac(), ip(target), client_mac, client)));
    }
    CHECK(t.w().counters().arp_replies == 4);
}

TEST_CASE("ARP requests for other addresses are ignored and counted", "[arp]") {
    lb t;
    CHECK(t.send({build_arp(1, broadcast, client_mac, client, zero, ip("10.0.0.99"))}).empty());
    CHECK(t.drops(drop::arp_ignored) == 1);
}

TEST_CASE("a backend without a neighbour entry is resolved by ARP and the queued SYN sent", "[arp]") {
    auto cfg = base_config("");
    cfg["ports"][0]["static_neighbours"].erase(1); // forget 10.0.0.21
    lb t(cfg);
    frame_spec syn;
    syn.dst_mac = t.port->mac(), syn.src_mac = client_mac;
    syn.src = client, syn.dst = net::vip, syn.sport = 40000, syn.dport = 80, syn.tcp_flags = SYN;
    auto out = t.send({build_frame(syn)});
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(build_arp(1, broadcast, t.port->mac(), net::port_ip, zero, net::backend(0))));

    out = t.send({build_arp(2, t.port->mac(), backend_mac(0), net::backend(0), t.port->mac(), net::port_ip)});
    REQUIRE(out.size() == 1);
    frame_spec exp = syn;
    exp.dst_mac = backend_mac(0), exp.src_mac = t.port->mac();
    exp.src = net::laddr, exp.dst = net::backend(0), exp.sport = 1024, exp.dport = 8080, exp.ttl = 63;
    CHECK(hex(out[0]) == hex(build_frame(exp)));
}

TEST_CASE("packets for a neighbour that never answers are dropped after retries", "[arp]") {
    auto cfg = base_config("");
    cfg["ports"][0]["static_neighbours"].erase(1);
    lb t(cfg);
    frame_spec syn;
    syn.dst_mac = t.port->mac(), syn.src_mac = client_mac;
    syn.src = client, syn.dst = net::vip, syn.sport = 40000, syn.dport = 80, syn.tcp_flags = SYN;
    t.send({build_frame(syn)});
    for (int i = 0; i < 4; i++) t.advance_seconds(1.1);
    CHECK(t.drops(drop::neigh_unresolved) == 1);
    CHECK(t.w().counters().arp_requests == 3);
}

TEST_CASE("ICMP echo to a VIP is answered only while the VIP has a listener", "[icmp]") {
    lb t;
    frame_spec echo;
    echo.proto = 1, echo.dst_mac = t.port->mac(), echo.src_mac = client_mac;
    echo.src = client, echo.dst = net::vip, echo.icmp_id = 77, echo.icmp_seq = 3, echo.payload = "ping-payload";
    frame_spec reply = echo;
    reply.dst_mac = client_mac, reply.src_mac = t.port->mac();
    reply.src = net::vip, reply.dst = client, reply.icmp_type = 0;
    auto out = t.send_one(build_frame(echo));
    CHECK(hex(out) == hex(build_frame(reply)));
    CHECK(checksums_valid(out));

    echo.dst = net::quiet_vip; // a VIP without listeners
    CHECK(t.send({build_frame(echo)}).empty());
    CHECK(t.drops(drop::icmp_ignored) == 1);

    // Without any listener the first VIP stays silent too.
    auto cfg = base_config("");
    cfg["listeners"] = nlohmann::json::array();
    lb quiet(cfg);
    echo.dst = net::vip, echo.dst_mac = quiet.port->mac();
    CHECK(quiet.send({build_frame(echo)}).empty());
    CHECK(quiet.drops(drop::icmp_ignored) == 1);
}

TEST_CASE("unsolicited ARP creates no neighbour and never overrides a static one", "[arp][neigh]") {
    lb t;
    unsigned before = t.w().neighbour_count();
    // A reply nobody asked for, from an address on the segment.
    auto out = t.send({build_arp(2, t.port->mac(), {2, 0, 0, 0, 0, 0x77}, ip("10.0.0.77"), t.port->mac(), net::port_ip)});
    CHECK(out.empty());
    CHECK(t.w().neighbour(fulcrum::test::be(ip("10.0.0.77"))) == nullptr);
    CHECK(t.w().neighbour_count() == before);
    // A request for a VIP from an unknown host is answered but not learned either.
    CHECK(t.send({build_arp(1, broadcast, {2, 0, 0, 0, 0, 0x78}, ip("10.0.0.78"), zero, net::vip)}).size() == 1);
    CHECK(t.w().neighbour(fulcrum::test::be(ip("10.0.0.78"))) == nullptr);

    // 10.0.0.21 is static (02:..:20): a spoofed reply does not move traffic.
    const mac_t spoof{2, 0, 0, 0, 0, 0x66};
    t.send({build_arp(2, t.port->mac(), spoof, net::backend(0), t.port->mac(), net::port_ip)});
    CHECK(t.w().counters().neighbour_static_kept == 1);
    frame_spec syn;
    syn.dst_mac = t.port->mac(), syn.src_mac = client_mac;
    syn.src = client, syn.dst = net::vip, syn.sport = 40000, syn.dport = 80, syn.tcp_flags = SYN;
    auto fwd = t.send({build_frame(syn)});
    REQUIRE(fwd.size() == 1);
    CHECK(mac_t{fwd[0][0], fwd[0][1], fwd[0][2], fwd[0][3], fwd[0][4], fwd[0][5]} == backend_mac(0));
}

TEST_CASE("learned neighbours are re-confirmed while used and forgotten when not", "[arp][neigh]") {
    auto cfg = base_config("", {1});
    cfg["ports"][0]["static_neighbours"].erase(1); // 10.0.0.21 must be learned
    cfg["neighbour_timeout"] = 10;
    lb t(cfg);
    const uint32_t be0 = fulcrum::test::be(net::backend(0));
    frame_spec syn;
    syn.dst_mac = t.port->mac(), syn.src_mac = client_mac;
    syn.src = client, syn.dst = net::vip, syn.sport = 40000, syn.dport = 80, syn.tcp_flags = SYN;
    t.send({build_frame(syn)});
    REQUIRE(t.send({build_arp(2, t.port->mac(), backend_mac(0), net::backend(0), t.port->mac(), net::port_ip)}).size() == 1);
    REQUIRE(t.w().neighbour(be0));
    CHECK(t.w().neighbour(be0)->resolved);

    // In use past the timeout: a unicast request to the MAC it has, forwarding goes on.
    t.advance_seconds(10.5);
    std::vector<bytes> asked = t.port->collect();
    REQUIRE(asked.size() == 1);
    CHECK(hex(asked[0]) == hex(build_arp(1, backend_mac(0), t.port->mac(), net::port_ip, zero, net::backend(0))));
    CHECK(t.w().neighbour(be0)->resolved);
    // Its answer confirms it; no more requests for another timeout.
    t.send({build_arp(2, t.port->mac(), backend_mac(0), net::backend(0), t.port->mac(), net::port_ip)});
    t.advance_seconds(5);
    CHECK(t.port->collect().empty());

    // Once the connection is gone (syn_sent: 30 s) and the timeout passes, it is forgotten.
    t.advance_seconds(30);
    t.advance_seconds(11);
    t.advance_seconds(0.2);
    t.port->collect();
    CHECK(t.w().neighbour(be0) == nullptr);
    CHECK(t.w().counters().neighbours_aged == 1);
    // And the slot is usable again: a new connection resolves it afresh.
    syn.sport = 40001;
    auto out = t.send({build_frame(syn)});
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(build_arp(1, broadcast, t.port->mac(), net::port_ip, zero, net::backend(0))));
}

TEST_CASE("frames for the host reach the kernel even with TTL 1, within the exception path's rate",
          "[exception]") {
    // The exception path is a real net_tap interface: made in a network namespace of
    // this thread's own, so the test leaves nothing in the host's.
    private_netns ns;
    REQUIRE(ns.ok);
    auto cfg = base_config("");
    cfg["exception_path"] = "on";
    cfg["exception_path_rate"] = 100; // one worker: a burst of 32, then 100/s
    lb t(cfg);
    frame_spec bgp;
    bgp.dst_mac = t.port->mac(), bgp.src_mac = client_mac;
    bgp.src = client, bgp.dst = net::port_ip, bgp.sport = 40000, bgp.dport = 179, bgp.tcp_flags = SYN;
    bgp.ttl = 1; // single-hop BGP
    CHECK(t.send({build_frame(bgp)}).empty());
    CHECK(t.w().counters().kernel_out == 1);
    CHECK(t.drops(drop::ttl_exceeded) == 0);

    // A flood at the host: the bucket's 31 remaining frames pass, the rest are counted.
    std::vector<bytes> flood;
    for (uint16_t i = 0; i < 60; i++) {
        bgp.sport = uint16_t(41000 + i);
        flood.push_back(build_frame(bgp));
    }
    t.send(flood);
    CHECK(t.w().counters().kernel_out == 32);
    CHECK(t.drops(drop::exception_limited) == 29);
    t.advance_seconds(0.1); // 10 more tokens
    t.send(flood);
    CHECK(t.w().counters().kernel_out == 42);

    // TTL 1 on a packet to forward (to a VIP) is still dropped.
    frame_spec fwd = bgp;
    fwd.dst = net::vip, fwd.dport = 80;
    CHECK(t.send({build_frame(fwd)}).empty());
    CHECK(t.drops(drop::ttl_exceeded) == 1);
}
