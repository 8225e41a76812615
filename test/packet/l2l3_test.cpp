// ARP answers, ARP resolution with queued packets, ICMP echo on VIPs.
#include "harness.h"
#include "ipv6_frames.h"

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

namespace {
// `n` copies of `s` from source ports `first`, `first` + 1, ...: a flood.
std::vector<bytes> from_ports(frame_spec s, uint16_t first, uint16_t n) {
    std::vector<bytes> out;
    for (uint16_t i = 0; i < n; i++) {
        s.sport = uint16_t(first + i);
        out.push_back(build_frame(s));
    }
    return out;
}
// The standard network with its exception path on (a real net_tap: the test makes a
// private_netns first), at 100 frames/s.
nlohmann::json exception_config() {
    auto cfg = base_config("");
    cfg["exception_path"] = "on";
    cfg["exception_path_rate"] = 100;
    return cfg;
}
} // namespace

TEST_CASE("frames for the host reach the kernel even with TTL 1, within the exception path's rate",
          "[exception]") {
    // The exception path is a real net_tap interface: made in a network namespace of
    // this thread's own, so the test leaves nothing in the host's.
    private_netns ns;
    REQUIRE(ns.ok);
    auto cfg = exception_config(); // one worker: a burst of 32, then 100/s
    lb t(cfg);
    frame_spec bgp;
    bgp.dst_mac = t.port->mac(), bgp.src_mac = client_mac;
    bgp.src = client, bgp.dst = net::port_ip, bgp.sport = 40000, bgp.dport = 179, bgp.tcp_flags = SYN;
    bgp.ttl = 1; // single-hop BGP
    CHECK(t.send({build_frame(bgp)}).empty());
    CHECK(t.w().counters().kernel_out == 1);
    CHECK(t.drops(drop::ttl_exceeded) == 0);

    // A flood at the host: the bucket's 31 remaining frames pass, the rest are counted.
    std::vector<bytes> flood = from_ports(bgp, 41000, 60);
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

TEST_CASE("the host's lifelines keep a reserve of the exception path a flood at the port address cannot take",
          "[exception]") {
    private_netns ns;
    REQUIRE(ns.ok);
    auto cfg = exception_config(); // one worker: 32 frames of burst for any host traffic, 32 more kept back
    cfg["bgp"] = {{"include_file", "/nonexistent/fulcrum-bgp.conf"}, {"neighbours", {"10.0.0.254"}}};
    lb t(cfg);
    frame_spec ssh;
    ssh.dst_mac = t.port->mac(), ssh.src_mac = client_mac;
    ssh.src = ip("10.0.0.66"), ssh.dst = net::port_ip, ssh.dport = 22, ssh.tcp_flags = SYN;
    std::vector<bytes> flood = from_ports(ssh, 30000, 100);
    t.send(flood);
    CHECK(t.w().counters().kernel_out == 32);
    CHECK(t.drops(drop::exception_limited) == 68);

    // BGP from the configured neighbour, an ARP reply, a health probe's reply: all through.
    std::vector<bytes> lifelines;
    frame_spec bgp = ssh;
    bgp.src = ip("10.0.0.254"), bgp.sport = 179, bgp.dport = 40000, bgp.tcp_flags = ACK, bgp.ttl = 1;
    for (int i = 0; i < 20; i++) lifelines.push_back(build_frame(bgp));
    const mac_t router_mac{2, 0, 0, 0, 0, 0xfe};
    lifelines.push_back(build_arp(2, t.port->mac(), router_mac, ip("10.0.0.254"), t.port->mac(), net::port_ip));
    frame_spec probe_reply;
    probe_reply.dst_mac = t.port->mac(), probe_reply.src_mac = backend_mac(0);
    probe_reply.src = net::backend(0), probe_reply.dst = net::laddr, probe_reply.sport = 8080, probe_reply.dport = 61000;
    probe_reply.tcp_flags = SYN | ACK;
    lifelines.push_back(build_frame(probe_reply));
    // BGP from anyone else is other host traffic.
    frame_spec stranger = bgp;
    stranger.src = ip("10.0.0.77");
    lifelines.push_back(build_frame(stranger));
    t.send(lifelines);
    CHECK(t.w().counters().kernel_out == 32 + 22);
    CHECK(t.w().counters().kernel_lifelines_limited == 0);
    CHECK(t.drops(drop::exception_limited) == 69);

    // The refill goes to the reserve first: 100 ms (10 frames) later the flood still waits.
    t.advance_seconds(0.1);
    t.send({flood.begin(), flood.begin() + 10});
    CHECK(t.w().counters().kernel_out == 54);
    t.advance_seconds(0.2); // the reserve is whole again, and 8 frames over
    t.send({flood.begin(), flood.begin() + 10});
    CHECK(t.w().counters().kernel_out == 54 + 8);
}

TEST_CASE("BGP with an IPv6 neighbour is a lifeline too: a flood at the port's IPv6 address cannot take its reserve",
          "[exception][ipv6]") {
    private_netns ns;
    REQUIRE(ns.ok);
    auto cfg = exception_config();
    cfg["ports"][0]["address6"] = "2001:db8::1/64";
    cfg["bgp"] = {{"include_file", "/nonexistent/fulcrum-bgp.conf"}, {"neighbours", {"10.0.0.254", "2001:db8::fe"}}};
    lb t(cfg);
    frame_spec ssh;
    ssh.v6 = true, ssh.dst_mac = t.port->mac(), ssh.src_mac = client_mac;
    ssh.src6 = ip6("2001:db8::66"), ssh.dst6 = six::port, ssh.dport = 22, ssh.tcp_flags = SYN;
    std::vector<bytes> flood = from_ports(ssh, 30000, 100);
    t.send(flood);
    CHECK(t.w().counters().kernel_out == 32);
    CHECK(t.drops(drop::exception_limited) == 68);
    frame_spec bgp = ssh;
    bgp.src6 = ip6("2001:db8::fe"), bgp.sport = 179, bgp.dport = 40000, bgp.tcp_flags = ACK, bgp.ttl = 1;
    std::vector<bytes> lifelines(20, build_frame(bgp));
    frame_spec stranger = bgp; // BGP from anyone else is other host traffic
    stranger.src6 = ip6("2001:db8::77");
    lifelines.push_back(build_frame(stranger));
    t.send(lifelines);
    CHECK(t.w().counters().kernel_out == 32 + 20);
    CHECK(t.w().counters().kernel_lifelines_limited == 0);
    CHECK(t.drops(drop::exception_limited) == 69);
}

TEST_CASE("5,000 on-link next hops are all served; with a small table, unused ones give way", "[neighbours]") {
    auto cfg = without_syn_proxy(base_config("", {1}));
    cfg["ports"][0]["address"] = "10.0.0.1/16"; // clients on the link: each its own next hop
    cfg["conn_capacity"] = 16384;
    auto on_link = [](int k) { return ip("10.0.0.0") + uint32_t(256 + k); }; // 10.0.1.0 on
    auto syn_from = [&](lb &t, int k) {
        return build_frame(client_segment(t.port->mac(), on_link(k), uint16_t(20000 + k % 20000), SYN, 1000, 0));
    };
    SECTION("the default table (8,192 next hops)") {
        lb t(cfg);
        size_t out = 0;
        for (int k = 0; k < 5000; k += 50) {
            std::vector<bytes> burst;
            for (int j = k; j < k + 50; j++) burst.push_back(syn_from(t, j));
            out += t.send(burst).size();
        }
        CHECK(out == 5000);
        CHECK(t.drops(drop::neigh_table_full) == 0);
        CHECK(t.w().neighbour_count() > 5000); // and the static ones
    }
    SECTION("neighbour_capacity 1024: a client whose connections ended gives way") {
        cfg["neighbour_capacity"] = 1024;
        cfg["tcp_timeouts"] = {{"syn_sent", 1}};
        lb t(cfg);
        const int room = 1024 - int(t.w().neighbour_count()); // after the static entries
        for (int k = 0; k < room; k++) REQUIRE(t.send({syn_from(t, k)}).size() == 1);
        CHECK(t.send({syn_from(t, room)}).empty()); // every entry held by a connection
        CHECK(t.drops(drop::neigh_table_full) == 1);
        for (int i = 0; i < 20; i++) t.advance_seconds(0.1); // the half-open ones expire: next hops unused
        REQUIRE(t.w().conns().in_use() == 0);
        for (int k = 2000; k < 3000; k++) REQUIRE(t.send({syn_from(t, k)}).size() == 1);
        CHECK(t.w().counters().neighbours_evicted == 1000);
        CHECK(t.drops(drop::neigh_table_full) == 1);
    }
}
