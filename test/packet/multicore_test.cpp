// Two workers on one port with two queues: replies that land on the wrong worker's
// queue are sent home to the lport's owner, and neighbours learned by one worker reach
// the other through its message ring.
#include "harness.h"

#include <catch2/catch.hpp>

#include <rte_cycles.h>

#include <arpa/inet.h>

#include <map>
#include <set>

using namespace fulcrum::test;

namespace {
frame_spec client_syn(lb &t, uint16_t sport) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = net::client, s.dst = net::vip, s.sport = sport, s.dport = 80, s.tcp_flags = SYN;
    return s;
}
uint16_t sport_of(const bytes &f) { return get16(f, off::sport); }
} // namespace

TEST_CASE("each worker takes lports from its own slice", "[multicore]") {
    lb t(base_config(""), 2);
    t.port->inject(build_frame(client_syn(t, 1000)), 0);
    t.port->inject(build_frame(client_syn(t, 1001)), 1);
    t.poll_all();
    t.poll_all();
    auto out = t.port->collect();
    REQUIRE(out.size() == 2);
    std::set<uint16_t> lports{sport_of(out[0]), sport_of(out[1])};
    CHECK(lports == std::set<uint16_t>{1024, 1025}); // worker 0 owns even ports, worker 1 odd
}

TEST_CASE("a reply arriving on another worker's queue is redirected to the owner", "[multicore]") {
    lb t(base_config(""), 2);
    auto syn = client_syn(t, 40000);
    t.port->inject(build_frame(syn), 0); // worker 0 owns this connection (lport 1024)
    t.poll_all();
    t.poll_all();
    REQUIRE(t.port->collect().size() == 1);

    frame_spec synack;
    synack.dst_mac = t.port->mac(), synack.src_mac = backend_mac(0);
    synack.src = net::backend(0), synack.dst = net::laddr, synack.sport = 8080, synack.dport = 1024;
    synack.tcp_flags = SYN | ACK, synack.seq = 7, synack.ack = 1;
    t.port->inject(build_frame(synack), 1); // ...but its reply lands on worker 1's queue
    t.poll_all();
    t.poll_all();
    t.poll_all();
    auto out = t.port->collect();
    REQUIRE(out.size() == 1);
    frame_spec exp = synack;
    exp.dst_mac = client_mac, exp.src_mac = t.port->mac(), exp.src = net::vip, exp.dst = net::client;
    exp.sport = 80, exp.dport = 40000, exp.ttl = 63;
    CHECK(hex(out[0]) == hex(build_frame(exp)));
    CHECK(t.w(1).counters().redirected_out == 1);
    CHECK(t.w(0).counters().redirected_in == 1);
    CHECK(t.w(0).find_conn(6, net::client, 40000, net::vip, 80)->state == fulcrum::conn::tcp_state::syn_recv);
    CHECK(t.w(1).conns().in_use() == 0);
}

TEST_CASE("a neighbour learned by one worker releases packets queued on another", "[multicore]") {
    auto cfg = base_config("");
    cfg["ports"][0]["static_neighbours"].erase(1); // 10.0.0.21 must be resolved
    lb t(cfg, 2);
    t.port->inject(build_frame(client_syn(t, 40000)), 0);
    t.poll_all();
    t.poll_all();
    auto out = t.port->collect();
    REQUIRE(out.size() == 1); // worker 0's ARP request
    t.port->inject(build_arp(2, t.port->mac(), backend_mac(0), net::backend(0), t.port->mac(), net::port_ip), 1);
    t.poll_all(); // worker 1 learns and tells worker 0
    t.poll_all(); // worker 0 takes the message and sends its queued SYN
    out = t.port->collect();
    REQUIRE(out.size() == 1);
    CHECK(std::equal(out[0].begin(), out[0].begin() + 6, backend_mac(0).begin()));
}

namespace {
uint32_t dst_of(const bytes &f) { return get32(f, off::ip_dst); }
// One SYN on the given worker's queue; the backend it went to (0: nothing came out).
uint32_t syn_on(lb &t, unsigned queue, uint32_t client, uint16_t sport) {
    auto s = client_syn(t, sport);
    s.src = client;
    t.port->inject(build_frame(s), queue);
    t.poll_all();
    auto out = t.port->collect();
    return out.size() == 1 ? dst_of(out[0]) : 0;
}
} // namespace

TEST_CASE("source-IP persistence holds when a client's connections land on different workers", "[multicore][persistence]") {
    auto cfg = base_config("");
    cfg["listeners"][0]["PersistenceTimeout"] = 60;
    lb t(cfg, 2);
    const uint32_t a = net::client;
    uint32_t first = syn_on(t, 0, a, 3000);
    REQUIRE(first != 0);
    // Alternate queues: each worker has its own scheduler cursor, so without the shared
    // table worker 1 would pick by its own sequence.
    for (uint16_t p = 3001; p < 3021; p++) CHECK(syn_on(t, p % 2, a, p) == first);
    CHECK(t.w(0).counters().persistence_hits + t.w(1).counters().persistence_hits == 20);
    CHECK(t.w(1).counters().persistence_hits == 10);
    // Another client is scheduled afresh (and may land elsewhere).
    CHECK(syn_on(t, 1, ip("10.0.0.51"), 3000) != 0);
}

TEST_CASE("wlc counts the active connections of every worker", "[multicore][wlc]") {
    auto cfg = base_config("", {1, 1});
    cfg["listeners"][0]["Scheduler"] = "wlc";
    lb t(cfg, 2);
    // Worker 0 opens 6 connections: 3 per backend.
    std::map<uint32_t, int> on0;
    for (uint16_t p = 0; p < 6; p++) on0[syn_on(t, 0, net::client, static_cast<uint16_t>(4000 + p))]++;
    REQUIRE(on0[net::backend(0)] == 3);
    REQUIRE(on0[net::backend(1)] == 3);
    // Reset two of .21's from the backend side, through worker 0's queue.
    int reset = 0;
    for (uint16_t p = 0; p < 6 && reset < 2; p++) {
        auto *c = t.w(0).find_conn(6, net::client, static_cast<uint16_t>(4000 + p), net::vip, 80);
        REQUIRE(c != nullptr);
        if (c->bip != htonl(net::backend(0))) continue;
        frame_spec rst;
        rst.dst_mac = t.port->mac(), rst.src_mac = backend_mac(0), rst.src = net::backend(0), rst.dst = net::laddr;
        rst.sport = 8080, rst.dport = ntohs(c->lport), rst.tcp_flags = RST | ACK, rst.ack = 1; // acknowledges the SYN (ISN 0)
        t.port->inject(build_frame(rst), 0);
        t.poll_all();
        REQUIRE(t.port->collect().size() == 1);
        reset++;
    }
    REQUIRE(reset == 2);
    t.clock += 4 * rte_get_tsc_hz(); // CLOSE lasts 3 s
    t.poll_all();
    // Worker 1 has no connection of its own: only the other worker's counts say that
    // .21 now has 1 and .22 has 3. Its next two new connections go to .21.
    CHECK(syn_on(t, 1, ip("10.0.0.60"), 5000) == net::backend(0));
    CHECK(syn_on(t, 1, ip("10.0.0.60"), 5001) == net::backend(0));
}

TEST_CASE("a backend is asked for at start by worker 0; the answer resolves it for both workers", "[multicore][neigh]") {
    auto cfg = base_config("", {1});
    cfg["ports"][0]["static_neighbours"].erase(1); // 10.0.0.21 must be resolved
    lb t(cfg, 2);
    const bytes reply = build_arp(2, t.port->mac(), backend_mac(0), net::backend(0), t.port->mac(), net::port_ip);
    // Worker 0 asked when it started (neighbours::prime); a SYN now waits for the answer
    // without asking again.
    t.port->inject(build_frame(client_syn(t, 40000)), 0);
    t.poll_all();
    auto asked = t.port->collect();
    REQUIRE(asked.size() == 1); // the one request, from the start
    CHECK(hex(asked[0]) == hex(build_arp(1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, t.port->mac(), net::port_ip,
                                         mac_t{}, net::backend(0))));
    t.port->inject(reply, 0);
    t.poll_all();
    t.poll_all();
    REQUIRE(t.port->collect().size() == 1); // its SYN
    // Worker 1 made the entry at start too, so worker 0's news resolved it: its SYN
    // leaves at once, no request of its own.
    t.port->inject(build_frame(client_syn(t, 40001)), 1);
    t.poll_all();
    auto out = t.port->collect();
    REQUIRE(out.size() == 1);
    CHECK(sport_of(out[0]) == 1025); // worker 1's connection
}
