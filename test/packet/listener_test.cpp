// Listener policies through the real worker: ACL, source-IP persistence, connection
// drain (reset both ways with exact sequence numbers) when a backend leaves a listener.
#include "config/parse.h"
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using fulcrum::dataplane::drop;
using nlohmann::json;

namespace {
const uint32_t vip = net::vip, laddr = net::laddr;


frame_spec client_frame(lb &t, uint32_t src, uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = src, s.dst = vip, s.sport = sport, s.dport = 80, s.tcp_flags = flags, s.seq = seq, s.ack = ack;
    return s;
}

// One TCP connection carried through Fulcrum: the backend it went to and its lport.
struct flow {
    uint32_t client = 0;
    uint16_t cport = 0;
    uint32_t backend = 0; // 0: nothing came out
    uint16_t lport = 0;
};

flow open_syn(lb &t, uint32_t client, uint16_t cport) {
    auto out = t.send({build_frame(client_frame(t, client, cport, SYN, 1000, 0))});
    if (out.size() != 1) return {client, cport, 0, 0};
    return {client, cport, get32(out[0], off::ip_dst), get16(out[0], off::sport)};
}

frame_spec backend_frame(lb &t, const flow &f, uint8_t flags, uint32_t seq, uint32_t ack) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = backend_mac(int((f.backend & 0xff) - 21));
    s.src = f.backend, s.dst = laddr, s.sport = 8080, s.dport = f.lport, s.tcp_flags = flags, s.seq = seq, s.ack = ack;
    return s;
}

// Handshake and one exchange: the client's last ACK number is 5011, the backend's 1011.
flow open_established(lb &t, uint32_t client, uint16_t cport) {
    flow f = open_syn(t, client, cport);
    REQUIRE(f.backend != 0);
    REQUIRE(t.send({build_frame(backend_frame(t, f, SYN | ACK, 5000, 1001))}).size() == 1);
    auto data = client_frame(t, client, cport, ACK | PSH, 1001, 5001);
    data.payload = "0123456789";
    REQUIRE(t.send({build_frame(data)}).size() == 1);
    auto reply = backend_frame(t, f, ACK | PSH, 5001, 1011);
    reply.payload = "abcdefghij";
    REQUIRE(t.send({build_frame(reply)}).size() == 1);
    REQUIRE(t.send({build_frame(client_frame(t, client, cport, ACK, 1011, 5011))}).size() == 1);
    return f;
}

bool still_forwards(lb &t, const flow &f) {
    auto data = client_frame(t, f.client, f.cport, ACK | PSH, 1011, 5011);
    data.payload = "more";
    auto out = t.send({build_frame(data)});
    return out.size() == 1 && get32(out[0], off::ip_dst) == f.backend;
}

// The two resets a drained connection gets, in either order.
void check_resets(lb &t, const std::vector<bytes> &out, const flow &f) {
    REQUIRE(out.size() == 2);
    frame_spec to_client;
    to_client.dst_mac = client_mac, to_client.src_mac = t.port->mac();
    to_client.src = vip, to_client.dst = f.client, to_client.sport = 80, to_client.dport = f.cport;
    to_client.tcp_flags = RST, to_client.seq = 5011, to_client.window = 0, to_client.ip_id = 0;
    frame_spec to_backend;
    to_backend.dst_mac = backend_mac(int((f.backend & 0xff) - 21)), to_backend.src_mac = t.port->mac();
    to_backend.src = laddr, to_backend.dst = f.backend, to_backend.sport = f.lport, to_backend.dport = 8080;
    to_backend.tcp_flags = RST, to_backend.seq = 1011, to_backend.window = 0, to_backend.ip_id = 0;
    bytes a = build_frame(to_client), b = build_frame(to_backend); // DF set, as on Linux's resets
    bool in_order = out[0][off::ip_dst] == a[off::ip_dst] && get32(out[0], off::ip_dst) == f.client;
    CHECK(hex(out[in_order ? 0 : 1]) == hex(a));
    CHECK(hex(out[in_order ? 1 : 0]) == hex(b));
    CHECK(checksums_valid(out[0]));
    CHECK(checksums_valid(out[1]));
}

// Run enough loops for one full sweep of the connection pool (4,096 entries).
std::vector<bytes> sweep(lb &t) {
    for (int i = 0; i < 40; i++) t.poll_all();
    return t.port->collect();
}

json with_listener(std::vector<int> weights, json fields) {
    auto cfg = base_config("", weights);
    if (fields.is_object()) cfg["listeners"][0].update(fields);
    return cfg;
}
} // namespace

TEST_CASE("ACL whitelist admits only listed sources; blacklist refuses them", "[listener][acl]") {
    auto cfg = with_listener({1, 1}, {{"AclStatus", "on"}, {"AclType", "white"}, {"AclEntries", {"10.0.0.48/30"}}});
    lb t(cfg);
    CHECK(open_syn(t, net::client, 1000).backend != 0);
    CHECK(open_syn(t, ip("10.0.0.60"), 1000).backend == 0);
    CHECK(t.drops(drop::acl_denied) == 1);

    // Switch to a blacklist of the same prefix: a live connection is not cut, new ones are refused.
    cfg["listeners"][0]["AclType"] = "black";
    REQUIRE(t.apply(cfg));
    t.poll_all();
    CHECK(open_syn(t, ip("10.0.0.60"), 1001).backend != 0);
    CHECK(open_syn(t, net::client, 1002).backend == 0);
    CHECK(t.drops(drop::acl_denied) == 2);
    auto ack = client_frame(t, net::client, 1000, ACK, 1001, 1);
    CHECK(t.send({build_frame(ack)}).size() == 1); // established before the change

    cfg["listeners"][0]["AclStatus"] = "off";
    REQUIRE(t.apply(cfg));
    t.poll_all();
    CHECK(open_syn(t, net::client, 1003).backend != 0);
}

TEST_CASE("source-IP persistence keeps one client on one backend within the timeout", "[listener][persistence]") {
    auto cfg = with_listener({1, 1, 1}, {{"PersistenceTimeout", 60}});
    lb t(cfg);
    const uint32_t a = net::client, b = ip("10.0.0.51");
    uint32_t first = open_syn(t, a, 2000).backend;
    REQUIRE(first != 0);
    for (uint16_t p = 2001; p < 2030; p++) CHECK(open_syn(t, a, p).backend == first);
    CHECK(t.w().counters().persistence_hits == 29);
    uint32_t other = open_syn(t, b, 2000).backend; // the scheduler's next pick
    REQUIRE(other != 0);
    CHECK(other != first);

    // Each new connection refreshes the entry: 50 s later it still holds...
    t.advance_seconds(50);
    CHECK(open_syn(t, a, 2100).backend == first);
    // ...and 61 s after the last one it has lapsed: the scheduler decides again.
    t.advance_seconds(61);
    uint32_t again = open_syn(t, a, 2200).backend;
    REQUIRE(again != 0);
    CHECK(again != first);

    // A persistent backend that stops being eligible is not used.
    t.advance_seconds(61);
    uint32_t now_first = open_syn(t, a, 2300).backend;
    auto drained = cfg;
    for (auto &be : drained["default_server_group"])
        if (be["ServerIp"] == fulcrum::config::format_ipv4(now_first)) be["Weight"] = 0;
    REQUIRE(t.apply(drained));
    t.poll_all();
    REQUIRE(now_first != 0);
    // Its connections close; the half-open ones' backend gets a reset at the ISN + 1.
    t.advance_seconds(1);
    for (const bytes &f : t.port->collect()) CHECK((f[off::tcp_flags] == RST && get32(f, off::ip_src) == laddr));
    uint32_t after_drain = open_syn(t, a, 2301).backend;
    REQUIRE(after_drain != 0);
    CHECK(after_drain != now_first);
}

TEST_CASE("connection drain on: established connections run until the drain timeout, then reset both ways",
          "[listener][drain]") {
    auto cfg = with_listener({1, 1}, {{"ConnectionDrain", "on"}, {"ConnectionDrainTimeout", 10}});
    lb t(cfg);
    flow f = open_established(t, net::client, 3000);
    flow g = open_established(t, net::client, 3001);
    REQUIRE(f.backend != g.backend);

    auto drained = cfg; // f's backend: weight 0
    for (auto &be : drained["default_server_group"])
        if (be["ServerIp"] == fulcrum::config::format_ipv4(f.backend)) be["Weight"] = 0;
    REQUIRE(t.apply(drained));
    t.poll_all();
    t.advance_seconds(5);
    CHECK(sweep(t).empty());
    CHECK(still_forwards(t, f)); // within the drain timeout
    for (int i = 0; i < 5; i++) CHECK(open_syn(t, ip("10.0.0.52"), uint16_t(4000 + i)).backend == g.backend);

    t.advance_seconds(6); // 11 s after the change
    check_resets(t, sweep(t), f);
    CHECK(t.w().counters().connections_drained == 1);
    CHECK(t.w().find_conn(6, f.client, f.cport, vip, 80) == nullptr);
    CHECK(still_forwards(t, g)); // the other backend's connection is untouched
    CHECK_FALSE(still_forwards(t, f));
    CHECK(t.drops(drop::no_conn) == 1);
}

TEST_CASE("connection drain off: removing a backend resets its connections at once", "[listener][drain]") {
    auto cfg = with_listener({1, 1}, {});
    lb t(cfg);
    flow f = open_established(t, net::client, 3000);
    flow g = open_established(t, net::client, 3001);
    auto removed = cfg;
    for (size_t i = 0; i < removed["default_server_group"].size(); i++)
        if (removed["default_server_group"][i]["ServerIp"] == fulcrum::config::format_ipv4(f.backend))
            removed["default_server_group"].erase(i);
    REQUIRE(t.apply(removed));
    check_resets(t, sweep(t), f);
    CHECK(still_forwards(t, g));
    CHECK(t.w().counters().resets_sent == 2);
}

TEST_CASE("a backend eligible again before its drain deadline keeps its connections", "[listener][drain]") {
    auto cfg = with_listener({1, 1}, {{"ConnectionDrain", "on"}, {"ConnectionDrainTimeout", 10}});
    lb t(cfg);
    flow f = open_established(t, net::client, 3000);
    auto drained = cfg;
    for (auto &be : drained["default_server_group"])
        if (be["ServerIp"] == fulcrum::config::format_ipv4(f.backend)) be["Weight"] = 0;
    REQUIRE(t.apply(drained));
    t.poll_all();
    t.advance_seconds(5);
    REQUIRE(t.apply(cfg)); // weight back
    t.poll_all();
    t.advance_seconds(20);
    CHECK(sweep(t).empty());
    CHECK(still_forwards(t, f));
}

TEST_CASE("a deleted listener's connections follow its drain setting", "[listener][drain]") {
    auto cfg = with_listener({1}, {});
    lb t(cfg);
    flow f = open_established(t, net::client, 3000);
    auto without = cfg;
    without["listeners"].erase(0);
    REQUIRE(t.apply(without));
    check_resets(t, sweep(t), f);
    CHECK(open_syn(t, net::client, 3001).backend == 0);
    CHECK(t.drops(drop::no_listener) == 1);
}
