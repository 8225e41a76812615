// fulcrum-gen's engine against a reflector on virtual ports: its client port and server
// port joined by net_ring "wires" that stand in for the device under test. Every request
// must come back answered; with frames dropped on purpose the counted loss is exact.
#include "frames.h"
#include "gen/gen.h"
#include "harness.h"

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

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
    // With `record`, every frame crossing is parsed and kept, and its checksums checked
    // by the test's own frame code.
    bool record = false;
    std::vector<gen::frame_view> to_server, to_client;
    unsigned checksum_errors = 0;
    void keep(rte_mbuf *m, std::vector<gen::frame_view> &into) {
        if (!record) return;
        const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
        into.push_back(gen::parse(d, m->data_len));
        if (!into.back().ok || !checksums_valid(bytes(d, d + m->data_len))) checksum_errors++;
    }
    void pump(unsigned drop_every) {
        void *m;
        while (rte_ring_dequeue(c_tx, &m) == 0) {
            if (drop_every && ++requests % drop_every == 0) {
                dropped++;
                rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
            } else {
                keep(static_cast<rte_mbuf *>(m), to_server);
                rte_ring_enqueue(s_rx, m);
            }
        }
        while (rte_ring_dequeue(s_tx, &m) == 0) {
            keep(static_cast<rte_mbuf *>(m), to_client);
            rte_ring_enqueue(c_rx, m);
        }
    }
};

gen::settings scenario_of(gen::scenario mode, gen::l4 proto, uint32_t flows, uint16_t size = 64) {
    gen::settings s;
    s.mode = mode;
    s.frame.proto = proto;
    s.flows = flows;
    s.frame_size = size;
    s.frame.clients.client_ip = test::ip("10.0.1.1");
    s.frame.vip = test::net::vip;
    s.frame.vport = 80;
    return s;
}

void settle(wire &w, gen::engine &e, unsigned drop_every) {
    for (int i = 0; i < 100; i++) {
        w.pump(drop_every);
        e.poll(rte_rdtsc());
    }
}

void open_all(wire &w, gen::engine &e) {
    for (int i = 0; i < 100000 && !e.setup_step(256, rte_rdtsc()); i++) {
        w.pump(0);
        e.poll(rte_rdtsc());
    }
    REQUIRE(e.setup_step(256, rte_rdtsc()));
    settle(w, e, 0);
    e.reset_counters();
}

gen::counters run(wire &w, gen::engine &e, unsigned total, unsigned drop_every) {
    unsigned sent = 0;
    while (sent < total) {
        sent += e.send_burst(uint16_t(std::min(32u, total - sent)), rte_rdtsc());
        w.pump(drop_every);
        e.poll(rte_rdtsc());
    }
    settle(w, e, drop_every);
    return e.stats();
}

} // namespace

TEST_CASE("fulcrum-gen: every UDP request over 1,000 flows comes back answered through a reflector", "[gen]") {
    wire w("gw1");
    gen::engine e(scenario_of(gen::scenario::rr, gen::l4::udp, 1000), test_pool(), w.client, w.server);
    open_all(w, e); // one datagram per flow
    auto c = run(w, e, 10000, 0);
    CHECK(c.sent == 10000);
    CHECK(c.delivered == 10000);
    CHECK(c.answered == 10000);
    CHECK(c.foreign == 0);
    CHECK(c.latency.count == 10000);
    CHECK(c.latency.percentile_ns(99) > 0);
    CHECK_THAT(e.summary(1.0), Catch::Contains("sent 10000 frames, answered 10000, lost 0 (0.0000%)"));
}

TEST_CASE("fulcrum-gen: loss is counted exactly when frames are dropped on purpose", "[gen]") {
    wire w("gw2");
    gen::engine e(scenario_of(gen::scenario::rr, gen::l4::udp, 100), test_pool(), w.client, w.server);
    open_all(w, e);
    w.requests = 0;
    auto c = run(w, e, 10000, 10); // every 10th request frame vanishes
    CHECK(w.dropped == 1000);
    CHECK(c.sent == 10000);
    CHECK(c.answered == 9000);
    CHECK(c.sent - c.answered == w.dropped);
    CHECK_THAT(e.summary(1.0), Catch::Contains("lost 1000 (10.0000%)"));
}

TEST_CASE("fulcrum-gen: TCP flows are opened by a real handshake, then stream data one way", "[gen]") {
    wire w("gw3");
    gen::engine e(scenario_of(gen::scenario::stream, gen::l4::tcp, 1000, 512), test_pool(), w.client, w.server);
    // Setup: 1,000 SYNs reach the backend side, 1,000 SYN-ACKs the clients, 1,000 ACKs back.
    w.record = true;
    open_all(w, e);
    CHECK(e.flows_open() == 1000);
    unsigned syns = 0, synacks = 0, acks = 0;
    for (const auto &f : w.to_server)
        if (f.flags == gen::syn) syns++;
        else if (f.flags == gen::ack && f.payload == 0) acks++;
    for (const auto &f : w.to_client)
        if (f.flags == (gen::syn | gen::ack)) synacks++;
    CHECK(syns == 1000);
    CHECK(synacks == 1000);
    CHECK(acks == 1000);
    // The handshake's numbers: SYN-ACK acknowledges the client's ISN + 1.
    CHECK(w.to_client[0].ack_no == w.to_server[0].seq + 1);
    CHECK(w.checksum_errors == 0);
    w.to_server.clear();
    auto c = run(w, e, 5000, 0);
    CHECK(c.sent == 5000);
    CHECK(c.delivered == 5000);
    CHECK(c.answered == 0); // stream: nothing comes back
    CHECK(w.to_server.size() == 5000);
    CHECK(w.to_server[0].payload == 512 - 54);
    CHECK(w.to_server[0].flags == (gen::psh | gen::ack));
    CHECK(w.checksum_errors == 0);
}

TEST_CASE("fulcrum-gen: cps opens and closes each connection with six frames", "[gen]") {
    wire w("gw4");
    gen::engine e(scenario_of(gen::scenario::cps, gen::l4::tcp, 100000), test_pool(), w.client, w.server);
    w.record = true;
    auto c = run(w, e, 2000, 0);
    CHECK(c.sent == 2000);
    CHECK(c.opened == 2000);
    CHECK(c.answered == 2000); // FIN-ACK seen by every client
    CHECK(e.in_flight() == 0);
    CHECK(w.to_server.size() == 4 * 2000); // SYN, ACK, FIN, last ACK
    CHECK(w.to_client.size() == 2 * 2000); // SYN-ACK, FIN-ACK
    CHECK(w.checksum_errors == 0);
}

TEST_CASE("fulcrum-gen: a TCP request/response flow is timed end to end", "[gen]") {
    wire w("gw5");
    gen::engine e(scenario_of(gen::scenario::rr, gen::l4::tcp, 64), test_pool(), w.client, w.server);
    open_all(w, e);
    auto c = run(w, e, 1000, 0);
    CHECK(c.answered == 1000);
    CHECK(c.latency.count == 1000);
    CHECK(c.latency.percentile_ns(50) <= c.latency.percentile_ns(99));
}

TEST_CASE("fulcrum-gen: the latency histogram's percentiles are within 6% of the truth", "[gen]") {
    gen::latency_histogram h;
    for (uint64_t ns = 1; ns <= 100000; ns++) h.add(ns);
    for (double p : {50.0, 90.0, 99.0}) {
        double truth = p / 100 * 100000, got = double(h.percentile_ns(p));
        CHECK(got >= truth);
        CHECK(got <= truth * 1.07);
    }
}

TEST_CASE("fulcrum-gen: a scenario written as a pcap holds its handshakes and data with valid checksums", "[gen]") {
    std::string path = "/tmp/fulcrum-gen-test-" + std::to_string(getpid()) + ".pcap";
    auto s = scenario_of(gen::scenario::stream, gen::l4::tcp, 100, 128);
    {
        gen::pcap_file f(path.c_str());
        REQUIRE(f.ok());
        gen::engine::write_pcap(s, f, 300);
        CHECK(f.frames() == 100 + 100 + 300); // SYNs, ACKs, data
    }
    FILE *in = std::fopen(path.c_str(), "rb");
    REQUIRE(in);
    uint32_t header[6];
    REQUIRE(std::fread(header, sizeof header, 1, in) == 1);
    CHECK(header[0] == 0xa1b2c3d4);
    CHECK(header[5] == 1); // Ethernet
    unsigned n = 0, bad = 0, data = 0;
    uint32_t rec[4];
    uint8_t frame[2048];
    while (std::fread(rec, sizeof rec, 1, in) == 1 && std::fread(frame, rec[2], 1, in) == 1) {
        n++;
        gen::frame_view v = gen::parse(frame, rec[2]);
        if (!v.ok || !checksums_valid(bytes(frame, frame + rec[2]))) bad++;
        if (v.payload) {
            data++;
            CHECK(rec[2] == 128);
        }
    }
    std::fclose(in);
    std::remove(path.c_str());
    CHECK(n == 500);
    CHECK(bad == 0);
    CHECK(data == 300);
}

TEST_CASE("fulcrum-gen: setup opens every flow even when opening frames are lost", "[gen]") {
    for (gen::l4 proto : {gen::l4::udp, gen::l4::tcp}) {
        wire w(proto == gen::l4::udp ? "gw6u" : "gw6t");
        gen::engine e(scenario_of(gen::scenario::stream, proto, 3000), test_pool(), w.client, w.server);
        uint64_t give_up = rte_rdtsc() + 5 * rte_get_tsc_hz();
        while (!e.setup_step(512, rte_rdtsc()) && rte_rdtsc() < give_up) {
            w.pump(7); // every 7th client frame (SYN, ACK or datagram) vanishes
            e.poll(rte_rdtsc());
        }
        CHECK(w.dropped > 400);
        CHECK(e.flows_open() == 3000);
        settle(w, e, 0);
        e.reset_counters();
        auto c = run(w, e, 3000, 0); // one frame on every flow: all arrive
        CHECK(c.delivered == 3000);
    }
}

TEST_CASE("fulcrum-gen: the fast data-frame writer writes what the plain writer writes", "[gen]") {
    for (gen::l4 proto : {gen::l4::udp, gen::l4::tcp})
        for (uint16_t size : {64, 512}) {
            auto s = scenario_of(gen::scenario::stream, proto, 200000, size);
            gen::data_frame_writer fast(s.frame, size);
            uint16_t payload = static_cast<uint16_t>(size - gen::payload_offset(proto));
            for (uint32_t f : {0u, 1u, 59999u, 60000u, 123457u, 199999u}) {
                uint8_t a[2048], b[2048];
                std::memset(a, 0xaa, sizeof a); // garbage under the frame must not show
                uint32_t seq = gen::tuple_space::isn(f) + 1, ack_no = gen::server_isn(seq - 1) + 1;
                uint64_t tsc = 0x0123456789abcdefull + f;
                fast.write(a, f, seq, ack_no, tsc);
                uint16_t len = gen::write_client_frame(b, s.frame, f, proto == gen::l4::tcp ? (gen::psh | gen::ack) : 0,
                                                       seq, ack_no, payload, tsc);
                REQUIRE(fast.len() == len);
                CHECK(checksums_valid(bytes(a, a + len)));
                CHECK(bytes(a, a + len) == bytes(b, b + len));
            }
        }
}

TEST_CASE("fulcrum-gen: frames with TCP options (a SYN proxy's SYN) are read, and answered without them", "[gen]") {
    frame_spec syn;
    syn.src = test::ip("10.0.3.1"), syn.dst = test::ip("10.0.2.11"), syn.sport = 1024, syn.dport = 8080;
    syn.tcp_flags = SYN, syn.seq = 1000, syn.tcp_options = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
    bytes f = build_frame(syn);
    gen::frame_view v = gen::parse(f.data(), uint32_t(f.size()));
    REQUIRE(v.ok);
    CHECK(v.flags == gen::syn);
    CHECK(v.seq == 1000);
    CHECK(v.payload == 0);
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
    f.resize(128);
    f.resize(gen::turn_around(f.data(), mac, gen::syn | gen::ack, 7000, 1001, 0));
    frame_spec exp;
    exp.src_mac = {2, 0, 0, 0, 0, 9}, exp.dst_mac = syn.src_mac;
    exp.src = syn.dst, exp.dst = syn.src, exp.sport = 8080, exp.dport = 1024, exp.ip_id = syn.ip_id;
    exp.tcp_flags = SYN | ACK, exp.seq = 7000, exp.ack = 1001;
    bytes want = build_frame(exp);
    want.resize(60, 0); // padded to the Ethernet minimum
    CHECK(hex(f) == hex(want));
}

TEST_CASE("fulcrum-gen: a flood beside the stream is counted at the backends, apart from the flows' data", "[gen]") {
    for (gen::flood_kind kind : {gen::flood_kind::syn, gen::flood_kind::udp}) {
        wire w(kind == gen::flood_kind::syn ? "gwfs" : "gwfu");
        auto s = scenario_of(gen::scenario::stream, gen::l4::tcp, 100);
        s.flood = kind;
        gen::engine e(s, test_pool(), w.client, w.server);
        open_all(w, e);
        unsigned flood = 0;
        for (int i = 0; i < 10; i++) {
            flood += e.send_flood(32, rte_rdtsc());
            w.pump(0);
            e.poll(rte_rdtsc());
        }
        auto c = run(w, e, 1000, 0);
        CHECK(c.flood_sent == flood);
        CHECK(c.flood_at_backends == flood); // the wire delivers all of them
        CHECK(c.delivered == 1000);           // and the flows' data is told apart
        CHECK(c.foreign == 0);
    }
}

TEST_CASE("fulcrum-gen: an IPv6 flood's frames are valid SYNs and datagrams from 2001:db8:99::/64 to the VIP", "[gen][ipv6]") {
    wire w("gwf6");
    auto s = scenario_of(gen::scenario::stream, gen::l4::tcp, 10);
    s.flood_v6 = true;
    s.flood_vip6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    for (gen::flood_kind kind : {gen::flood_kind::syn, gen::flood_kind::udp}) {
        s.flood = kind;
        gen::engine e(s, test_pool(), w.client, w.server);
        REQUIRE(e.send_flood(8, rte_rdtsc()) == 8);
        rte_mbuf *m[8];
        REQUIRE(rte_ring_dequeue_burst(w.c_tx, reinterpret_cast<void **>(m), 8, nullptr) == 8);
        for (rte_mbuf *f : m) {
            bytes b(rte_pktmbuf_mtod(f, uint8_t *), rte_pktmbuf_mtod(f, uint8_t *) + f->data_len);
            rte_pktmbuf_free(f);
            REQUIRE(b.size() == (kind == gen::flood_kind::syn ? 74u : 80u));
            CHECK(b[12] == 0x86);
            CHECK(b[13] == 0xdd);
            CHECK(b[20] == (kind == gen::flood_kind::syn ? 6 : 17));
            CHECK(bytes(b.begin() + 22, b.begin() + 30) == bytes{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x99, 0, 0});
            CHECK(bytes(b.begin() + 38, b.begin() + 54) == bytes(s.flood_vip6.begin(), s.flood_vip6.end()));
            if (kind == gen::flood_kind::syn) CHECK(b[54 + 13] == 0x02); // SYN alone
            CHECK(checksums_valid(b));
        }
    }
}
