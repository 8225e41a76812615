// Cluster handoff (README "Scale-out"): a TCP segment of a connection this node does
// not hold goes, unchanged but for its Ethernet header, to the cluster's other nodes;
// the node that holds it forwards it as its own.
#include "harness.h"

#include "net/addr.h"

#include <catch2/catch.hpp>

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
    // To 10.0.0.2 at once; 10.0.0.3 is asked for first. Never to itself (10.0.0.1).
    REQUIRE(out.size() == 2);
    CHECK(hex(out[0]) == hex(to_node(t, data, node2_mac)));
    CHECK(hex(out[1]) == hex(build_arp(1, broadcast, t.port->mac(), net::port_ip, zero, ip("10.0.0.3"))));
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

TEST_CASE("a flood of segments for unknown connections is handed off only within the rate", "[cluster]") {
    auto cfg = cluster_config(1000); // per worker; a burst of 100 ms (100 copies)
    cfg["cluster"]["nodes"] = {"10.0.0.2"};
    lb t(cfg);
    std::vector<bytes> flood;
    for (int i = 0; i < 300; i++) {
        auto f = from_client(t, ACK, 1001 + i, 5001);
        f.sport = static_cast<uint16_t>(20000 + i);
        flood.push_back(build_frame(f));
    }
    size_t sent = 0;
    for (size_t i = 0; i < flood.size(); i += 30) {
        std::vector<bytes> b(flood.begin() + i, flood.begin() + i + 30);
        sent += t.send(b).size();
    }
    CHECK(sent == 100);
    CHECK(t.w().counters().cluster_handoffs == 100);
    CHECK(t.drops(drop::handoff_limited) == 200);
    t.advance_seconds(0.05); // 50 more
    sent = 0;
    for (size_t i = 0; i < 90; i += 30) sent += t.send({flood.begin() + i, flood.begin() + i + 30}).size();
    CHECK(sent >= 49);
    CHECK(sent <= 51);
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
    bytes synack = a.send_one(build_frame(from_client(a, SYN, 1000, 0)));
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
