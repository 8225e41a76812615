// Cluster handoff (README "Scale-out"): a TCP segment of a connection this node does
// not hold goes, unchanged but for its Ethernet header, to the cluster's other nodes;
// the node that holds it forwards it as its own.
#include "harness.h"
#include "ipv6_frames.h"

#include "net/addr.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using fulcrum::dataplane::drop;

namespace {
const mac_t broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zero{};
const mac_t node2_mac{2, 0, 0, 0, 0, 0x72}, node3_mac{2, 0, 0, 0, 0, 0x73};

// The standard network, as one node of a cluster of three: itself (10.0.0.1, its port),
// 10.0.0.2 (a static neighbour) and 10.0.0.3 (resolved by ARP).
nlohmann::json cluster_config(uint32_t rate = 0) {
    auto cfg = base_config("");
    cfg["cluster"] = {{"nodes", {"10.0.0.1", "10.0.0.2", "10.0.0.3"}}, {"handoff_rate", rate}};
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.2"}, {"mac", "02:00:00:00:00:72"}});
    return cfg;
}

// `s` as it leaves toward another node: only the Ethernet header changes.
bytes to_node(lb &t, const frame_spec &s, const mac_t &mac) { return framed(s, mac, t.port->mac()); }
} // namespace

TEST_CASE("a segment of a connection this node does not hold is handed to the other nodes", "[cluster]") {
    lb t(cluster_config());
    auto data = from_client(t, PSH | ACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n");
    auto out = t.send({build_frame(data)});
    // 10.0.0.3 was asked for as soon as the snapshot named it (once: the copy waits for
    // that answer); to 10.0.0.2 at once. Never to itself (10.0.0.1).
    REQUIRE(out.size() == 2);
    CHECK(hex(out[0]) == hex(build_arp(1, broadcast, t.port->mac(), net::port_ip, zero, ip("10.0.0.3"))));
    CHECK(hex(out[1]) == hex(to_node(t, data, node2_mac)));
    out = t.send({build_arp(2, t.port->mac(), node3_mac, ip("10.0.0.3"), t.port->mac(), net::port_ip)});
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(to_node(t, data, node3_mac)));
    CHECK(t.w().counters().cluster_handoffs == 2);
    CHECK(t.drops(drop::no_conn) == 0);
    CHECK(state_of(t) == fulcrum::conn::tcp_state::count); // nothing was created here

    // A reset and a FIN are handed off too: the owner must see a connection end.
    for (uint8_t flags : {uint8_t(RST), uint8_t(FIN | ACK)}) {
        auto f = from_client(t, flags, 1019, 5001);
        out = t.send({build_frame(f)});
        REQUIRE(out.size() == 2);
        CHECK(hex(out[0]) == hex(to_node(t, f, node2_mac)));
        CHECK(hex(out[1]) == hex(to_node(t, f, node3_mac)));
    }
    CHECK(t.w().counters().cluster_handoffs == 6);
}

TEST_CASE("what is handed off is only what no connection here and no listener rule can take", "[cluster]") {
    auto cfg = cluster_config();
    cfg["cluster"]["nodes"] = {"10.0.0.2"};
    lb t(cfg);
    SECTION("a SYN starts a connection here") {
        auto syn = from_client(t, SYN, 1000, 0);
        CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(to_backend(t, syn))));
        // ... and the rest of that connection stays here.
        auto synack = from_backend(t, SYN | ACK, 5000, 1001);
        t.send_one(build_frame(synack));
        auto ack = from_client(t, ACK, 1001, 5001);
        CHECK(hex(t.send_one(build_frame(ack))) == hex(build_frame(to_backend(t, ack))));
        CHECK(t.w().counters().cluster_handoffs == 0);
    }
    SECTION("a segment that came from another node is not handed on again") {
        auto f = from_client(t, ACK, 1001, 5001);
        f.src_mac = node2_mac;
        CHECK(t.send({build_frame(f)}).empty());
        CHECK(t.drops(drop::no_conn) == 1);
        CHECK(t.w().counters().cluster_handoffs == 0);
    }
    SECTION("a port with no listener") {
        auto f = from_client(t, ACK, 1001, 5001);
        f.dport = 81;
        CHECK(t.send({build_frame(f)}).empty());
        CHECK(t.drops(drop::no_conn) == 1);
    }
    SECTION("without cluster nodes") {
        lb solo;
        CHECK(solo.send({build_frame(from_client(solo, ACK, 1001, 5001))}).empty());
        CHECK(solo.drops(drop::no_conn) == 1);
        CHECK(solo.w().counters().cluster_handoffs == 0);
    }
}

TEST_CASE("the node that holds the connection forwards what another node handed it", "[cluster]") {
    auto cfg = cluster_config();
    cfg["cluster"]["nodes"] = {"10.0.0.2"};
    lb t(cfg);
    auto syn = from_client(t, SYN, 1000, 0);
    t.send_one(build_frame(syn));
    t.send_one(build_frame(from_backend(t, SYN | ACK, 5000, 1001)));
    t.send_one(build_frame(from_client(t, ACK, 1001, 5001)));
    // The routers moved the flow to node 10.0.0.2, which hands its segments here.
    auto data = from_client(t, PSH | ACK, 1001, 5001, "still here");
    data.src_mac = node2_mac;
    auto out = t.send_one(build_frame(data));
    CHECK(hex(out) == hex(build_frame(to_backend(t, data))));
    CHECK(checksums_valid(out));
    auto fin = from_client(t, FIN | ACK, 1011, 5001);
    fin.src_mac = node2_mac;
    CHECK(hex(t.send_one(build_frame(fin))) == hex(build_frame(to_backend(t, fin))));
    CHECK(state_of(t) == fulcrum::conn::tcp_state::fin_wait);
    CHECK(t.w().counters().cluster_handoffs == 0);
}

TEST_CASE("a flood of segments for unknown connections is handed off only within the rate, a token per copy",
          "[cluster]") {
    // Three peers, all static: each segment is three copies. 300 copies/s per worker, a
    // burst of 32 copies: ten segments, then 30 copies' worth every 100 ms.
    auto cfg = cluster_config(300);
    cfg["cluster"]["nodes"] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.3"}, {"mac", "02:00:00:00:00:73"}});
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.4"}, {"mac", "02:00:00:00:00:74"}});
    lb t(cfg);
    std::vector<bytes> flood;
    for (int i = 0; i < 100; i++) {
        auto f = from_client(t, ACK, 1001 + i, 5001);
        f.sport = static_cast<uint16_t>(20000 + i);
        flood.push_back(build_frame(f));
    }
    size_t sent = 0;
    for (size_t i = 0; i < flood.size(); i += 25) sent += t.send({flood.begin() + i, flood.begin() + i + 25}).size();
    CHECK(sent == 30);
    CHECK(t.w().counters().cluster_handoffs == 30);
    CHECK(t.drops(drop::handoff_limited) == 90);
    t.advance_seconds(0.1); // 30 more copies: ten segments
    sent = t.send({flood.begin(), flood.begin() + 25}).size();
    CHECK(sent == 30);
    CHECK(t.w().counters().cluster_handoffs == 60);
}

TEST_CASE("a peer's frame is never handed on, even after its neighbour entry would have aged out", "[cluster]") {
    auto cfg = cluster_config();
    cfg["cluster"]["nodes"] = {"10.0.0.1", "10.0.0.3"}; // 10.0.0.3: learned by ARP only
    cfg["neighbour_timeout"] = 5;
    lb t(cfg);
    // Held as soon as the snapshot names it: asked for at once, learned from its reply.
    auto asked = t.send({});
    t.send({build_arp(2, t.port->mac(), node3_mac, ip("10.0.0.3"), t.port->mac(), net::port_ip)});
    REQUIRE(t.w().neighbour(htonl(ip("10.0.0.3"))) != nullptr);
    REQUIRE(t.w().neighbour(htonl(ip("10.0.0.3")))->resolved);
    // Twelve neighbour timeouts of silence: the re-confirmations go unanswered.
    for (int i = 0; i < 60; i++) {
        t.advance_seconds(1);
        t.port->collect();
    }
    const auto *e = t.w().neighbour(htonl(ip("10.0.0.3")));
    REQUIRE(e != nullptr); // not forgotten
    CHECK(t.w().counters().neighbours_aged == 0);
    // A segment 10.0.0.3 handed here for a connection nobody holds stops here.
    auto f = from_client(t, ACK, 1001, 5001);
    f.src_mac = node3_mac;
    for (const bytes &out : t.send({build_frame(f)})) CHECK(out[12] == 0x08); // no copy; at most ARP
    CHECK(t.w().counters().cluster_handoffs == 0);
    CHECK(t.drops(drop::no_conn) == 1);
    (void)asked;
}

TEST_CASE("a segment the listener's ACL refuses is not handed off", "[cluster]") {
    auto cfg = cluster_config();
    cfg["cluster"]["nodes"] = {"10.0.0.1", "10.0.0.2"};
    cfg["listeners"][0]["AclStatus"] = "on";
    cfg["listeners"][0]["AclType"] = "white";
    cfg["listeners"][0]["AclEntries"] = {"192.0.2.0/24"};
    lb t(cfg);
    CHECK(t.send({build_frame(from_client(t, ACK, 1001, 5001))}).empty());
    CHECK(t.w().counters().cluster_handoffs == 0);
    CHECK(t.drops(drop::no_conn) == 1);
}

TEST_CASE("a handed-off blind RST does not end the owner's connection", "[cluster][tcp_window]") {
    auto cfg = cluster_config();
    cfg["cluster"]["nodes"] = {"10.0.0.2"};
    lb t(cfg);
    t.send_one(build_frame(from_client(t, SYN, 1000, 0)));
    t.send_one(build_frame(from_backend(t, SYN | ACK, 5000, 1001)));
    t.send_one(build_frame(from_client(t, ACK, 1001, 5001)));
    auto rst = from_client(t, RST, 123456789, 0);
    rst.src_mac = node2_mac;
    CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_backend(t, rst)))); // the backend decides
    CHECK(state_of(t) == fulcrum::conn::tcp_state::established);
    CHECK(t.w().counters().tcp_out_of_window == 1);
}

TEST_CASE("a SYN proxy cookie another node issued is handed to it, and it opens the connection", "[cluster][synproxy]") {
    // Node A answered the client's SYN with a cookie; the routers then moved the flow to
    // node B, whose cookie secret is its own: B hands the ACK to A, which accepts it.
    auto proxied = [](const char *peer) {
        auto cfg = base_config("", {1});
        cfg["listeners"][0]["SynProxy"] = "on";
        cfg["cluster"] = {{"nodes", {peer}}};
        return cfg;
    };
    lb a(proxied("10.0.0.3"));
    auto b_cfg = proxied("10.0.0.2");
    b_cfg["ports"][0]["static_neighbours"].push_back(
        {{"ip", "10.0.0.2"}, {"mac", fulcrum::net::format_mac(a.port->mac().data())}});
    lb b(b_cfg);
    bytes synack;
    for (const bytes &f : a.send({build_frame(from_client(a, SYN, 1000, 0))})) // (and A's ARP for its peer)
        if (f[12] == 0x08 && f[13] == 0x00) synack = f;
    REQUIRE(synack.size() > 41);
    uint32_t cookie = seq_of(synack);
    auto ack = from_client(b, ACK, 1001, cookie + 1);
    bytes handed = b.send_one(build_frame(ack));
    CHECK(hex(handed) == hex(framed(ack, a.port->mac(), b.port->mac())));
    CHECK(b.w().conns().in_use() == 0);
    CHECK(b.w().counters().cluster_handoffs == 1);
    bytes out = a.send_one(handed);
    frame_spec syn = to_backend(a, from_client(a, SYN, 1000, 0));
    syn.ttl = 64, syn.ip_id = 0, syn.tcp_options = {2, 4, 0x02, 0x18}; // no MSS in the SYN: 536
    CHECK(hex(out) == hex(build_frame(syn)));
    CHECK(state_of(a) == fulcrum::conn::tcp_state::syn_sent);
    CHECK(a.w().counters().syn_proxy_connections == 1);
}

TEST_CASE("over IPv6: an IPv6 client's segment goes to IPv4 and IPv6 cluster nodes (the latter by ND), and the owner "
          "forwards what it is handed", "[cluster][ipv6]") {
    auto cfg = dual_config();
    cfg["cluster"] = {{"nodes", {"10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::3"}}};
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.2"}, {"mac", "02:00:00:00:00:72"}});
    lb t(cfg);
    const mac_t mine = t.port->mac();
    const addr6 node3 = ip6("2001:db8::3");
    auto data = from_client6(t, 6, 81, PSH | ACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n");
    auto out = t.send({build_frame(data)});
    // 2001:db8::3 was solicited when the snapshot named it; 10.0.0.2 gets the copy at once;
    // never this node's own addresses (10.0.0.1, 2001:db8::1).
    REQUIRE(out.size() == 2);
    CHECK(hex(out[0]) == hex(build_ns(multicast_mac(solicited_node(node3)), mine, six::port, solicited_node(node3), node3, &mine)));
    CHECK(hex(out[1]) == hex(framed(data, node2_mac, mine)));
    out = t.send({build_na(mine, node3_mac, node3, six::port, node3, 0x60, &node3_mac)});
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(framed(data, node3_mac, mine)));
    CHECK(t.w().counters().cluster_handoffs == 2);
    CHECK(t.w().conns().in_use() == 0);

    // The IPv6 peer's own copies are known by its MAC: never handed on.
    data.src_mac = node3_mac;
    CHECK(t.send({build_frame(data)}).empty());
    CHECK(t.drops(drop::no_conn) == 1);

    // This node as the owner: its 6->6 connection goes on with what the peer hands it.
    data.src_mac = client_mac;
    auto syn = from_client6(t, 6, 81, SYN, 1000, 0);
    CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(to_backend6(t, syn))));
    t.send_one(build_frame(from_backend6(t, 6, SYN | ACK, 5000, 1001)));
    auto moved = data;
    moved.src_mac = node2_mac; // the routers sent the flow to 10.0.0.2, which handed it here
    auto fwd = t.send_one(build_frame(moved));
    CHECK(hex(fwd) == hex(build_frame(to_backend6(t, moved))));
    CHECK(checksums_valid(fwd));
    CHECK(t.w().counters().cluster_handoffs == 2);
}

TEST_CASE("an IPv6 segment the listener's ACL refuses is not handed off", "[cluster][ipv6]") {
    auto cfg = dual_config();
    cfg["cluster"] = {{"nodes", {"10.0.0.2"}}};
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.2"}, {"mac", "02:00:00:00:00:72"}});
    cfg["listeners"][4].update({{"AclStatus", "on"}, {"AclType", "white"}, {"AclEntries", {"2001:db8:5::/48"}}});
    lb t(cfg);
    CHECK(t.send({build_frame(from_client6(t, 6, 81, ACK, 1001, 5001))}).empty());
    CHECK(t.w().counters().cluster_handoffs == 0);
    CHECK(t.drops(drop::no_conn) == 1);
}
