// fulcrum-gen's engine against a reflector on virtual ports: its client port and server
// port joined by net_ring "wires" that stand in for the device under test. Every request
// must come back answered; with frames dropped on purpose the counted loss is exact.
#include "gen/gen.h"
#include "harness.h"

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include <catch2/catch.hpp>

using namespace fulcrum;
using namespace fulcrum::test;

namespace {
// Two ports (gen client side, gen server side) and the rings between them; pump() moves
// what the client sent to the server side and back, dropping every `drop_every`-th
// request frame (0: none).
struct wire {
    rte_ring *c_rx, *c_tx, *s_rx, *s_tx;
    uint16_t client, server;
    explicit wire(const std::string &tag) {
        auto ring = [&](const char *n) {
            rte_ring *r = rte_ring_create((tag + n).c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
            REQUIRE(r);
            return r;
        };
        c_rx = ring("crx"), c_tx = ring("ctx"), s_rx = ring("srx"), s_tx = ring("stx");
        int c = rte_eth_from_rings((tag + "c").c_str(), &c_rx, 1, &c_tx, 1, 0);
        int s = rte_eth_from_rings((tag + "s").c_str(), &s_rx, 1, &s_tx, 1, 0);
        REQUIRE(c >= 0);
        REQUIRE(s >= 0);
        client = uint16_t(c), server = uint16_t(s);
        for (uint16_t p : {client, server}) {
            rte_eth_conf conf{};
            REQUIRE(rte_eth_dev_configure(p, 1, 1, &conf) == 0);
            REQUIRE(rte_eth_rx_queue_setup(p, 0, 1024, 0, nullptr, test_pool()) == 0);
            REQUIRE(rte_eth_tx_queue_setup(p, 0, 1024, 0, nullptr) == 0);
            REQUIRE(rte_eth_dev_start(p) == 0);
        }
    }
    ~wire() {
        for (uint16_t p : {client, server}) rte_eth_dev_stop(p), rte_eth_dev_close(p);
        void *m;
        for (rte_ring *r : {c_rx, c_tx, s_rx, s_tx}) {
            while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
            rte_ring_free(r);
        }
    }
    uint64_t requests = 0, dropped = 0;
    void pump(unsigned drop_every) {
        void *m;
        while (rte_ring_dequeue(c_tx, &m) == 0) {
            if (drop_every && ++requests % drop_every == 0) {
                dropped++;
                rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
            } else {
                rte_ring_enqueue(s_rx, m);
            }
        }
        while (rte_ring_dequeue(s_tx, &m) == 0) rte_ring_enqueue(c_rx, m);
    }
};

gen::settings flows_to_vip(uint32_t flows) {
    gen::settings s;
    s.flows = flows;
    s.client_ip = test::ip("10.0.1.1");
    s.vip = test::ip("10.0.0.10");
    s.vport = 53;
    return s;
}

gen::counters run(wire &w, gen::engine &e, unsigned total, unsigned drop_every) {
    unsigned sent = 0;
    while (sent < total) {
        sent += e.send_burst(uint16_t(std::min(32u, total - sent)), rte_rdtsc());
        w.pump(drop_every);
        e.poll(rte_rdtsc());
    }
    for (int i = 0; i < 100; i++) { // drain
        w.pump(drop_every);
        e.poll(rte_rdtsc());
    }
    return e.stats();
}
} // namespace

TEST_CASE("fulcrum-gen: every request over 1,000 flows comes back answered through a reflector", "[gen]") {
    wire w("gw1");
    gen::engine e(flows_to_vip(1000), test_pool(), w.client, w.server);
    auto c = run(w, e, 10000, 0);
    CHECK(c.sent == 10000);
    CHECK(c.reflected == 10000);
    CHECK(c.answered == 10000);
    CHECK(c.foreign == 0);
    CHECK(c.latency_percentile_ns(99) > 0);
    CHECK_THAT(e.summary(1.0), Catch::Contains("sent 10000 answered 10000 lost 0 (0.0000%)"));
}

TEST_CASE("fulcrum-gen: loss is counted exactly when frames are dropped on purpose", "[gen]") {
    wire w("gw2");
    gen::engine e(flows_to_vip(100), test_pool(), w.client, w.server);
    auto c = run(w, e, 10000, 10); // every 10th request frame vanishes
    CHECK(w.dropped == 1000);
    CHECK(c.sent == 10000);
    CHECK(c.answered == 9000);
    CHECK(c.sent - c.answered == w.dropped);
    CHECK_THAT(e.summary(1.0), Catch::Contains("lost 1000 (10.0000%)"));
}
