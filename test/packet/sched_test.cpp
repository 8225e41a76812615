// Weighted round robin through the real worker: shares of new flows, and weight 0.
#include "config/parse.h"
#include "harness.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>

#include <map>
#include <set>

using namespace fulcrum::test;

namespace {
bytes syn_from(lb &t, uint32_t src, uint16_t sport) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = src, s.dst = net::vip, s.sport = sport, s.dport = 80, s.tcp_flags = SYN;
    return build_frame(s);
}
uint32_t dst_of(const bytes &f) { return get32(f, off::ip_dst); }

// 10,000 new flows from one client through listener 0; backend address -> flows.
std::map<uint32_t, int> spread_10000(nlohmann::json cfg) {
    cfg["conn_capacity"] = 16384;
    lb t(cfg);
    std::map<uint32_t, int> hits;
    for (int batch = 0; batch < 10; batch++) {
        std::vector<bytes> syns;
        for (int i = 0; i < 1000; i++) syns.push_back(syn_from(t, net::client, static_cast<uint16_t>(20000 + batch * 1000 + i)));
        for (auto &f : t.send(syns)) hits[dst_of(f)]++;
    }
    return hits;
}
bool near_percent(int n, double want) { return std::abs(n / 100.0 - want) <= 2.0; }
} // namespace

TEST_CASE("weights 1/2/7 share 10,000 new flows within 2 points", "[sched][wrr]") {
    auto cfg = without_syn_proxy(base_config("", {1, 2, 7}));
    cfg["conn_capacity"] = 16384;
    lb t(cfg);
    std::map<uint32_t, int> hits;
    int total = 0;
    for (int batch = 0; batch < 10; batch++) {
        std::vector<bytes> syns;
        for (int i = 0; i < 1000; i++) syns.push_back(syn_from(t, net::client , static_cast<uint16_t>(20000 + batch * 1000 + i)));
        for (auto &f : t.send(syns)) {
            hits[dst_of(f)]++;
            total++;
        }
    }
    REQUIRE(total == 10000);
    CHECK(std::abs(100.0 * hits[net::backend(0)] / total - 10.0) <= 2.0);
    CHECK(std::abs(100.0 * hits[net::backend(1)] / total - 20.0) <= 2.0);
    CHECK(std::abs(100.0 * hits[net::backend(2)] / total - 70.0) <= 2.0);
    // The worker's own per-backend counters agree with what came out.
    CHECK(t.w().backend_counters(2).new_connections == uint64_t(hits[net::backend(2)]));
}

TEST_CASE("smooth wrr never sends a long burst to the heaviest backend", "[sched][wrr]") {
    lb t(std::vector<int>{5, 1, 1});
    std::vector<bytes> syns;
    for (int i = 0; i < 70; i++) syns.push_back(syn_from(t, net::client, static_cast<uint16_t>(20000 + i)));
    int run = 0, longest = 0;
    for (auto &f : t.send(syns)) {
        run = dst_of(f) == net::backend(0) ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    // Plain WRR would send 5 in a row (10 across a cycle boundary); an ideal spread of
    // 5 among 7 has runs of ceil(5/2) = 3; smooth WRR stays within one of that.
    CHECK(longest <= 4);
}

TEST_CASE("a listener whose backends all weigh zero answers a SYN with a reset, counted as no_backend", "[sched]") {
    lb t(std::vector<int>{0, 0});
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = net::client, s.dst = net::vip, s.sport = 4321, s.dport = 80, s.tcp_flags = SYN, s.seq = 1000;
    s.tcp_options = {2, 4, 0x05, 0xb4}; // MSS 1460: options are not echoed
    s.payload = "x";
    auto out = t.send({build_frame(s)});
    REQUIRE(out.size() == 1);
    frame_spec rst;
    rst.dst_mac = client_mac, rst.src_mac = t.port->mac();
    rst.src = net::vip, rst.dst = net::client, rst.sport = 80, rst.dport = 4321;
    // RFC 793: the reset acknowledges sequence number + segment length (SYN + 1 byte of data).
    rst.tcp_flags = RST | ACK, rst.seq = 0, rst.ack = 1002, rst.window = 0, rst.ip_id = 0;
    CHECK(hex(out[0]) == hex(build_frame(rst)));
    CHECK(t.drops(fulcrum::dataplane::drop::no_backend) == 1);
    CHECK(t.w().counters().resets_sent == 1);
    // UDP has nothing to answer with: dropped and counted.
    frame_spec u = s;
    u.proto = 17, u.dport = 53, u.tcp_options.clear();
    CHECK(t.send({build_frame(u)}).empty());
    CHECK(t.drops(fulcrum::dataplane::drop::no_backend) == 2);
}

TEST_CASE("an applied config reaches workers through their ring and the old snapshot is reclaimed after RCU", "[sched][update]") {
    auto cfg = base_config("", {1, 1, 1});
    cfg["listeners"][0]["ConnectionDrain"] = "on"; // established connections outlive weight 0
    lb t(cfg);
    auto first = t.send({syn_from(t, net::client, 1), syn_from(t, net::client, 2), syn_from(t, net::client, 3)});
    REQUIRE(first.size() == 3);

    cfg["default_server_group"][2]["Weight"] = 0; // drain backend 3
    auto gen = t.apply(cfg);
    REQUIRE(gen);
    CHECK(gen.value() == 2);
    CHECK(t.w().adopted_generation() == 1); // not before the worker's next loop
    CHECK(t.inst->reclaim() == 1);          // so the old snapshot must stay

    std::vector<bytes> syns;
    for (int i = 0; i < 300; i++) syns.push_back(syn_from(t, ip("10.0.0.51"), static_cast<uint16_t>(100 + i)));
    auto spread = t.send(syns);
    REQUIRE(spread.size() == 300);
    for (auto &f : spread) CHECK(dst_of(f) != net::backend(2));
    CHECK(t.w().adopted_generation() == 2);
    t.inst->reclaim(); // every worker adopted: the grace period starts
    t.poll_all();      // ...and ends at the worker's next quiescent point
    CHECK(t.inst->reclaim() == 0);

    // The connection to the drained backend still crosses, both ways.
    frame_spec data;
    data.dst_mac = t.port->mac(), data.src_mac = client_mac, data.src = net::client, data.dst = net::vip;
    data.sport = 3, data.dport = 80, data.tcp_flags = ACK, data.payload = "still here";
    auto out = t.send({build_frame(data)});
    REQUIRE(out.size() == 1);
    CHECK(dst_of(out[0]) == net::backend(2));
    frame_spec back;
    back.dst_mac = t.port->mac(), back.src_mac = backend_mac(2), back.src = net::backend(2), back.dst = net::laddr;
    back.sport = 8080, back.dport = uint16_t(out[0][34] << 8 | out[0][35]), back.tcp_flags = ACK, back.payload = "reply";
    out = t.send({build_frame(back)});
    REQUIRE(out.size() == 1);
    CHECK(dst_of(out[0]) == net::client);
    // Counters follow the backend, not its position in the group.
    CHECK(t.w().backend_counters(t.inst->slots().backend(fulcrum::config::protocol::tcp, fulcrum::net::ip_addr::from_v4(net::backend(2)), 8080).value()).active_connections == 1);
}

TEST_CASE("a config change that needs a restart is refused and changes nothing", "[sched][update]") {
    auto cfg = base_config("", {1, 1, 1});
    lb t(cfg);
    auto more_laddrs = cfg;
    more_laddrs["local_addresses"].push_back("10.0.0.101");
    auto gen = t.apply(more_laddrs);
    REQUIRE_FALSE(gen);
    CHECK(gen.err().message() == "field 'local_addresses': cannot change while running (restart Fulcrum to change it)");
    auto new_mtu = cfg;
    new_mtu["ports"][0]["mtu"] = 9000;
    gen = t.apply(new_mtu);
    REQUIRE_FALSE(gen);
    CHECK(gen.err().message() == "field 'ports[0]': cannot change while running (restart Fulcrum to change it)");
    CHECK(t.inst->current_snapshot().generation == 1);
    CHECK(t.send({syn_from(t, net::client, 9)}).size() == 1);
}

TEST_CASE("sch sends one client IP to one backend across 1,000 source ports", "[sched][maglev]") {
    auto cfg = without_syn_proxy(base_config("", {1, 1, 1}));
    cfg["listeners"][0]["Scheduler"] = "sch";
    cfg["maglev_size"] = 65537;
    lb t(cfg);
    // What leaves the load balancer decides: every SYN of the one client goes to one backend.
    std::vector<bytes> syns;
    for (int p = 0; p < 1000; p++) syns.push_back(syn_from(t, net::client, static_cast<uint16_t>(2000 + p)));
    auto out = t.send(syns);
    REQUIRE(out.size() == 1000);
    std::set<uint32_t> seen;
    for (auto &f : out) seen.insert(dst_of(f));
    CHECK(seen.size() == 1);
    // Other clients do spread over the backends.
    std::set<uint32_t> distinct_backends;
    for (uint32_t c = 1; c <= 30; c++)
        for (auto &f : t.send({syn_from(t, net::client + c, 5000)})) distinct_backends.insert(dst_of(f));
    CHECK(distinct_backends.size() > 1); // different clients do spread
}

TEST_CASE("tch spreads one client's flows by 4-tuple, following weights", "[sched][maglev]") {
    auto cfg = without_syn_proxy(base_config("", {1, 2, 7}));
    cfg["listeners"][0]["Scheduler"] = "tch";
    auto hits = spread_10000(cfg); // hashing 10,000 flows onto weighted shares
    CHECK(near_percent(hits[net::backend(0)], 10));
    CHECK(near_percent(hits[net::backend(1)], 20));
    CHECK(near_percent(hits[net::backend(2)], 70));
}

TEST_CASE("wlc shares 10,000 long-lived flows by weight 1/2/7 within 2 points", "[sched][wlc]") {
    auto cfg = without_syn_proxy(base_config("", {1, 2, 7}));
    cfg["listeners"][0]["Scheduler"] = "wlc";
    auto hits = spread_10000(cfg);
    CHECK(near_percent(hits[net::backend(0)], 10));
    CHECK(near_percent(hits[net::backend(1)], 20));
    CHECK(near_percent(hits[net::backend(2)], 70));
}

TEST_CASE("rr shares 10,000 new flows equally among backends with weight > 0, within 2 points", "[sched][rr]") {
    auto cfg = without_syn_proxy(base_config("", {1, 2, 7, 0}));
    cfg["listeners"][0]["Scheduler"] = "rr";
    auto hits = spread_10000(cfg);
    CHECK(std::abs(hits[net::backend(0)] / 100.0 - 100.0 / 3) <= 2.0);
    CHECK(std::abs(hits[net::backend(1)] / 100.0 - 100.0 / 3) <= 2.0);
    CHECK(std::abs(hits[net::backend(2)] / 100.0 - 100.0 / 3) <= 2.0);
    CHECK(hits[ip("10.0.0.24")] == 0); // weight 0: none
}

TEST_CASE("wlc sends new flows to the backend whose connections closed", "[sched][wlc]") {
    auto cfg = base_config("", {1, 1});
    cfg["listeners"][0]["Scheduler"] = "wlc";
    lb t(cfg);
    std::vector<bytes> syns;
    for (int i = 0; i < 10; i++) syns.push_back(syn_from(t, net::client, static_cast<uint16_t>(100 + i)));
    auto out = t.send(syns);
    REQUIRE(out.size() == 10);
    // Reset four of backend 10.0.0.21's connections from the backend side.
    int reset = 0;
    for (auto &f : out) {
        if (dst_of(f) != net::backend(0) || reset == 4) continue;
        frame_spec rst;
        rst.dst_mac = t.port->mac(), rst.src_mac = backend_mac(0), rst.src = net::backend(0), rst.dst = net::laddr;
        rst.sport = 8080, rst.dport = get16(f, off::sport), rst.tcp_flags = RST | ACK, rst.ack = 1; // acknowledges the SYN (ISN 0)
        REQUIRE(t.send({build_frame(rst)}).size() == 1);
        reset++;
    }
    REQUIRE(reset == 4);
    t.advance_seconds(4); // CLOSE lasts 3 s: 1 connection left on .21, 5 on .22
    syns.clear();
    for (int i = 0; i < 4; i++) syns.push_back(syn_from(t, ip("10.0.0.51"), static_cast<uint16_t>(200 + i)));
    auto refill = t.send(syns);
    REQUIRE(refill.size() == 4);
    for (auto &f : refill) CHECK(dst_of(f) == net::backend(0));
}

TEST_CASE("listeners on one VIP forward only within their own group", "[sched][vserver]") {
    auto cfg = base_config("", {1, 1, 1});
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.24"}, {"mac", "02:00:00:00:00:24"}});
    cfg["vserver_groups"] = nlohmann::json::array({{{"VServerGroupId", "rsp-1"}, {"VServerGroupName", "api"},
        {"BackendServers", {{{"ServerId", "i-9"}, {"ServerIp", "10.0.0.24"}, {"Port", 9000}},
                            {{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Port", "9001"}}}}}});
    cfg["listeners"].push_back({{"VIP", "10.0.0.10"}, {"Protocol", "tcp"}, {"ListenerPort", 8000},
                                {"BackendServerPort", 1}, {"VServerGroupId", "rsp-1"}});
    lb t(cfg);
    auto dport_of = [](const bytes &f) { return get16(f, off::dport); };
    std::vector<bytes> to_default, to_group;
    for (int i = 0; i < 300; i++) {
        to_default.push_back(syn_from(t, net::client, static_cast<uint16_t>(1000 + i)));
        frame_spec s;
        s.dst_mac = t.port->mac(), s.src_mac = client_mac, s.src = net::client, s.dst = net::vip;
        s.sport = static_cast<uint16_t>(3000 + i), s.dport = 8000, s.tcp_flags = SYN;
        to_group.push_back(build_frame(s));
    }
    std::set<std::pair<uint32_t, uint16_t>> seen_default, seen_group;
    for (auto &f : t.send(to_default)) seen_default.insert({dst_of(f), dport_of(f)});
    for (auto &f : t.send(to_group)) seen_group.insert({dst_of(f), dport_of(f)});
    CHECK(seen_default == std::set<std::pair<uint32_t, uint16_t>>{
                              {net::backend(0), 8080}, {net::backend(1), 8080}, {net::backend(2), 8080}});
    // One server (10.0.0.21) sits in both groups, on a different port in each.
    CHECK(seen_group == std::set<std::pair<uint32_t, uint16_t>>{{ip("10.0.0.24"), 9000}, {net::backend(0), 9001}});
}

TEST_CASE("a listener keeps its counters when another listener is deleted", "[sched][update]") {
    auto cfg = base_config("", {1, 1, 1});
    lb t(cfg);
    frame_spec q;
    q.proto = 17, q.dst_mac = t.port->mac(), q.src_mac = client_mac, q.src = net::client, q.dst = net::vip;
    q.sport = 5000, q.dport = 53, q.payload = "q";
    REQUIRE(t.send({build_frame(q)}).size() == 1);
    uint8_t udp_slot = t.inst->current_snapshot().listeners[1].index;
    CHECK(t.w().listener_counters(udp_slot).new_connections == 1);

    cfg["listeners"].erase(0); // delete the TCP listener: the UDP one moves to position 0
    REQUIRE(t.apply(cfg));
    q.sport = 5001;
    REQUIRE(t.send({build_frame(q)}).size() == 1);
    CHECK(t.inst->current_snapshot().listeners[0].index == udp_slot);
    CHECK(t.w().listener_counters(udp_slot).new_connections == 2);
    CHECK(t.w().listener_counters(udp_slot).active_connections == 2);
}

TEST_CASE("a master/slave listener sends every new flow to the master", "[sched][masterslave]") {
    auto cfg = base_config("", {1, 1, 1});
    cfg["master_slave_groups"] = nlohmann::json::array({{{"MasterSlaveServerGroupId", "rsp-5"},
        {"MasterSlaveBackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.0.22"}, {"Port", 3306}, {"ServerType", "Slave"}},
                                       {{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Port", 3306}, {"ServerType", "Master"}}}}}});
    cfg["listeners"].push_back({{"VIP", "10.0.0.10"}, {"Protocol", "tcp"}, {"ListenerPort", 3306},
                                {"BackendServerPort", 1}, {"MasterSlaveServerGroupId", "rsp-5"}});
    lb t(cfg);
    std::vector<bytes> syns;
    for (int i = 0; i < 100; i++) {
        frame_spec s;
        s.dst_mac = t.port->mac(), s.src_mac = client_mac, s.src = net::client, s.dst = net::vip;
        s.sport = static_cast<uint16_t>(4000 + i), s.dport = 3306, s.tcp_flags = SYN;
        syns.push_back(build_frame(s));
    }
    auto out = t.send(syns);
    REQUIRE(out.size() == 100);
    for (auto &f : out) {
        CHECK(dst_of(f) == net::backend(0));
        CHECK(get16(f, off::dport) == 3306);
    }
}

TEST_CASE("a backend behind a TCP and a UDP listener on the same port counts each protocol apart", "[sched][counters]") {
    auto cfg = base_config("", {1, 1, 1});
    cfg["listeners"].push_back({{"VIP", "10.0.0.10"}, {"Protocol", "udp"}, {"ListenerPort", 80},
                                {"BackendServerPort", 8080}});
    lb t(cfg);
    std::vector<bytes> tcp, udp;
    for (int i = 0; i < 3; i++) tcp.push_back(syn_from(t, net::client, static_cast<uint16_t>(1000 + i)));
    for (int i = 0; i < 5; i++) {
        frame_spec s;
        s.proto = 17, s.dst_mac = t.port->mac(), s.src_mac = client_mac, s.src = net::client, s.dst = net::vip;
        s.sport = static_cast<uint16_t>(2000 + i), s.dport = 80, s.payload = "hello";
        udp.push_back(build_frame(s));
    }
    CHECK(t.send(tcp).size() == 3);
    CHECK(t.send(udp).size() == 5);
    const auto &slots = t.inst->slots();
    using fulcrum::config::protocol;
    uint64_t tcp_new = 0, udp_new = 0;
    for (const char *b : {"10.0.0.21", "10.0.0.22", "10.0.0.23"}) {
        tcp_new += t.w().backend_counters(slots.backend(protocol::tcp, fulcrum::net::ip_addr::from_v4(ip(b)), 8080).value()).new_connections;
        udp_new += t.w().backend_counters(slots.backend(protocol::udp, fulcrum::net::ip_addr::from_v4(ip(b)), 8080).value()).new_connections;
    }
    CHECK(tcp_new == 3);
    CHECK(udp_new == 5);
}
