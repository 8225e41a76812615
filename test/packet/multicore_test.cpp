// Two workers on one port with two queues: replies that land on the wrong worker's
// queue are sent home to the lport's owner, and neighbours learned by one worker reach
// the other through its message ring.
#include "harness.h"

#include <catch2/catch.hpp>

#include <set>

using namespace fulcrum::test;

namespace {
frame_spec client_syn(lb &t, uint16_t sport) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = ip("10.0.0.50"), s.dst = ip("10.0.0.10"), s.sport = sport, s.dport = 80, s.tcp_flags = SYN;
    return s;
}
uint16_t sport_of(const bytes &f) { return uint16_t(f[34] << 8 | f[35]); }
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
    synack.src = ip("10.0.0.21"), synack.dst = ip("10.0.0.100"), synack.sport = 8080, synack.dport = 1024;
    synack.tcp_flags = SYN | ACK, synack.seq = 7, synack.ack = 1;
    t.port->inject(build_frame(synack), 1); // ...but its reply lands on worker 1's queue
    t.poll_all();
    t.poll_all();
    t.poll_all();
    auto out = t.port->collect();
    REQUIRE(out.size() == 1);
    frame_spec exp = synack;
    exp.dst_mac = client_mac, exp.src_mac = t.port->mac(), exp.src = ip("10.0.0.10"), exp.dst = ip("10.0.0.50");
    exp.sport = 80, exp.dport = 40000, exp.ttl = 63;
    CHECK(hex(out[0]) == hex(build_frame(exp)));
    CHECK(t.w(1).counters().redirected_out == 1);
    CHECK(t.w(0).counters().redirected_in == 1);
    CHECK(t.w(0).find_conn(6, ip("10.0.0.50"), 40000, ip("10.0.0.10"), 80)->state == fulcrum::conn::tcp_state::syn_recv);
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
    t.port->inject(build_arp(2, t.port->mac(), backend_mac(0), ip("10.0.0.21"), t.port->mac(), ip("10.0.0.1")), 1);
    t.poll_all(); // worker 1 learns and tells worker 0
    t.poll_all(); // worker 0 takes the message and sends its queued SYN
    out = t.port->collect();
    REQUIRE(out.size() == 1);
    CHECK(std::equal(out[0].begin(), out[0].begin() + 6, backend_mac(0).begin()));
}
