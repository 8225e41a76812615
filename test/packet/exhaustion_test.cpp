// Exhaustion policy: unreplied flows make room for new ones (oldest first, answered and
// established never), short timeouts for flows nothing answered, per-listener caps.
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using fulcrum::dataplane::drop;

namespace {
const uint32_t client = net::client, vip = net::vip, laddr = net::laddr, be0 = net::backend(0);

bytes udp_in(lb &t, uint16_t sport, uint32_t src = client) {
    frame_spec a;
    a.proto = 17, a.dst_mac = t.port->mac(), a.src_mac = client_mac;
    a.src = src, a.dst = vip, a.sport = sport, a.dport = 53, a.payload = "q";
    return build_frame(a);
}
bytes udp_reply(lb &t, uint16_t lport) {
    frame_spec r;
    r.proto = 17, r.dst_mac = t.port->mac(), r.src_mac = backend_mac(0);
    r.src = be0, r.dst = laddr, r.sport = 5353, r.dport = lport, r.payload = "a";
    return build_frame(r);
}
bytes syn_in(lb &t, uint16_t sport, uint32_t src = client) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = src, s.dst = vip, s.sport = sport, s.dport = 80, s.tcp_flags = SYN, s.seq = 100;
    return build_frame(s);
}
bool udp_live(lb &t, uint16_t sport) { return t.w().find_conn(17, client, sport, vip, 53) != nullptr; }
bool tcp_live(lb &t, uint16_t sport, uint32_t src = client) {
    return t.w().find_conn(6, src, sport, vip, 80) != nullptr;
}
} // namespace

TEST_CASE("a flood of unanswered UDP flows cannot lock another listener out of the lport pool, and a new flow "
          "to the flooded backend takes the tuple of the oldest unanswered one",
          "[exhaustion]") {
    auto cfg = base_config("", {1});
    cfg["lport_range"] = "1024-1031"; // eight local ports
    cfg["listeners"][1]["IdleTimeout"] = 300;
    lb t(cfg);
    // One stream (both ways ten seconds on), then seven flows nothing answers, 0.1 s
    // apart (oldest first): every tuple toward the DNS backend is held.
    make_streams(t, {{udp_in(t, 5000), udp_reply(t, 1024)}});
    for (uint16_t p = 5001; p <= 5007; p++) {
        t.advance_seconds(0.1);
        REQUIRE(t.send({udp_in(t, p)}).size() == 1);
    }
    CHECK(t.w().conns().in_use() == 8);

    // The TCP listener's backend port has tuples of its own: the same eight lports,
    // nothing evicted.
    for (uint16_t p = 40000; p < 40003; p++) {
        bytes out = t.send_one(syn_in(t, p));
        REQUIRE(!out.empty());
        CHECK(get16(out, off::sport) == 1024 + (p - 40000));
    }
    CHECK(t.w().counters().connections_evicted == 0);
    for (uint16_t p = 5000; p <= 5007; p++) CHECK(udp_live(t, p));
    for (uint16_t p = 40000; p < 40003; p++) CHECK(tcp_live(t, p));

    // A new DNS flow: its backend's tuples are all held, the oldest unanswered gives way.
    bytes out = t.send_one(udp_in(t, 5008));
    REQUIRE(!out.empty());
    CHECK(get16(out, off::sport) == 1025);
    CHECK(t.w().counters().connections_evicted == 1);
    CHECK(udp_live(t, 5000)); // a stream: never evicted
    CHECK_FALSE(udp_live(t, 5001));
    for (uint16_t p = 5002; p <= 5008; p++) CHECK(udp_live(t, p));
    CHECK(t.drops(drop::lport_exhausted) == 0);
}

TEST_CASE("a full table evicts half-open connections oldest first, never established ones", "[exhaustion]") {
    auto cfg = base_config("", {1});
    cfg["conn_capacity"] = 64;
    lb t(cfg);
    // 60 UDP streams (kept) and 4 half-open TCP connections.
    std::vector<std::pair<bytes, bytes>> streams;
    for (uint16_t i = 0; i < 60; i++) streams.push_back({udp_in(t, uint16_t(30000 + i)), udp_reply(t, uint16_t(1024 + i))});
    make_streams(t, streams);
    for (uint16_t i = 0; i < 4; i++) {
        t.advance_seconds(0.05);
        REQUIRE(t.send({syn_in(t, uint16_t(41000 + i))}).size() == 1);
    }
    REQUIRE(t.w().conns().in_use() == 64);
    // Six more SYNs: the first four replace the half-open ones in age order, then the
    // table holds only answered flows and newer half-open ones: 5 and 6 replace 1 and 2.
    for (uint16_t i = 0; i < 6; i++) {
        t.advance_seconds(0.05);
        CHECK(t.send({syn_in(t, uint16_t(42000 + i))}).size() == 1);
        if (i < 4) CHECK_FALSE(tcp_live(t, uint16_t(41000 + i)));
    }
    CHECK_FALSE(tcp_live(t, 42000));
    CHECK_FALSE(tcp_live(t, 42001));
    for (uint16_t i = 2; i < 6; i++) CHECK(tcp_live(t, uint16_t(42000 + i)));
    CHECK(t.w().counters().connections_evicted == 6);
    CHECK(t.drops(drop::table_full) == 0);
    for (uint16_t i = 0; i < 60; i++) CHECK(udp_live(t, uint16_t(30000 + i)));
    CHECK(t.w().conns().in_use() == 64);
}

TEST_CASE("UDP flows live udp_timeouts.unreplied until they are a stream, then their IdleTimeout",
          "[exhaustion][expiry]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][1]["IdleTimeout"] = 300;
    cfg["udp_timeouts"] = {{"unreplied", 20}};
    lb t(cfg);
    REQUIRE(t.send({udp_in(t, 5000)}).size() == 1);    // never answered
    REQUIRE(t.send({udp_in(t, 5001)}).size() == 1);    // one query, one answer
    REQUIRE(t.send({udp_in(t, 5002)}).size() == 1);    // a stream: answered, talking on
    REQUIRE(t.send({udp_reply(t, 1025)}).size() == 1); // 5001's answer
    REQUIRE(t.send({udp_reply(t, 1026)}).size() == 1); // 5002's
    t.advance_seconds(3);
    REQUIRE(t.send({udp_in(t, 5002)}).size() == 1); // 3 s on and answered: conntrack's stream, not ours yet
    t.advance_seconds(7.5);
    REQUIRE(t.send({udp_in(t, 5002)}).size() == 1);    // both ways 10.5 s on: a stream
    REQUIRE(t.send({udp_reply(t, 1026)}).size() == 1);
    t.advance_seconds(8.5);
    CHECK(udp_live(t, 5000));
    CHECK(udp_live(t, 5001));
    t.advance_seconds(2); // 21 s after their last packet
    CHECK_FALSE(udp_live(t, 5000));
    CHECK_FALSE(udp_live(t, 5001));
    CHECK(udp_live(t, 5002));
    t.advance_seconds(277.5); // 288 s after its last packet
    CHECK(udp_live(t, 5002));
    t.advance_seconds(15);
    CHECK_FALSE(udp_live(t, 5002));
}

TEST_CASE("MaxConnections refuses past the cap and admits again once a connection ends", "[exhaustion][caps]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["MaxConnections"] = 3;
    lb t(cfg);
    for (uint16_t p = 40000; p < 40003; p++) REQUIRE(t.send({syn_in(t, p)}).size() == 1);
    CHECK(t.send({syn_in(t, 40003)}).empty());
    CHECK(t.drops(drop::listener_conn_cap) == 1);
    CHECK_FALSE(tcp_live(t, 40003));
    // The UDP listener has no cap.
    CHECK(t.send({udp_in(t, 5000)}).size() == 1);
    t.advance_seconds(31); // the half-open connections time out (syn_sent 30 s)
    CHECK(t.send({syn_in(t, 40003)}).size() == 1);
    CHECK(t.drops(drop::listener_conn_cap) == 1);
}

TEST_CASE("MaxNewConnectionRate admits a second's worth, then the rate", "[exhaustion][caps]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["MaxNewConnectionRate"] = 10;
    lb t(cfg);
    std::vector<bytes> burst;
    for (uint16_t p = 0; p < 25; p++) burst.push_back(syn_in(t, uint16_t(40000 + p)));
    CHECK(t.send(burst).size() == 10);
    CHECK(t.drops(drop::listener_rate_cap) == 15);
    t.advance_seconds(0.5); // half a second: five more
    burst.clear();
    for (uint16_t p = 0; p < 8; p++) burst.push_back(syn_in(t, uint16_t(41000 + p)));
    CHECK(t.send(burst).size() == 5);
    CHECK(t.drops(drop::listener_rate_cap) == 18);
}

TEST_CASE("MaxConnectionsPerSource refuses one client, not the next", "[exhaustion][caps]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["MaxConnectionsPerSource"] = 2;
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.51"}, {"mac", "02:00:00:00:00:51"}});
    lb t(cfg);
    const uint32_t other = ip("10.0.0.51");
    CHECK(t.send({syn_in(t, 40000)}).size() == 1);
    CHECK(t.send({syn_in(t, 40001)}).size() == 1);
    CHECK(t.send({syn_in(t, 40002)}).empty());
    CHECK(t.drops(drop::source_cap) == 1);
    CHECK(t.send({syn_in(t, 40000, other)}).size() == 1);
    CHECK(tcp_live(t, 40000, other));
    t.advance_seconds(31); // both of the first client's expire: it may connect again
    CHECK(t.send({syn_in(t, 40003)}).size() == 1);
    CHECK(t.drops(drop::source_cap) == 1);
}

TEST_CASE("a UDP flow is a stream only once datagrams went both ways 10 s after it began: a spoofed query pair "
          "2 s apart to a DNS-like backend is not",
          "[exhaustion][udp]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][1]["IdleTimeout"] = 300;
    lb t(cfg);
    auto assured = [&](uint16_t sport) {
        const auto *c = t.w().find_conn(17, client, sport, vip, 53);
        REQUIRE(c != nullptr);
        return (c->flags & fulcrum::conn::assured) != 0;
    };
    // conntrack's stream: a reply, then a datagram 2 s on (and its answer).
    REQUIRE(t.send({udp_in(t, 5000)}).size() == 1);
    REQUIRE(t.send({udp_reply(t, 1024)}).size() == 1);
    t.advance_seconds(2.1);
    REQUIRE(t.send({udp_in(t, 5000)}).size() == 1);
    REQUIRE(t.send({udp_reply(t, 1024)}).size() == 1);
    CHECK_FALSE(assured(5000));
    // 10 s on, only the client talks: still not.
    t.advance_seconds(8);
    REQUIRE(t.send({udp_in(t, 5000)}).size() == 1);
    CHECK_FALSE(assured(5000));
    // The backend answers that late too: a stream.
    REQUIRE(t.send({udp_reply(t, 1024)}).size() == 1);
    CHECK(assured(5000));
}
