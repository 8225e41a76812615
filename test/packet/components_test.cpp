// Each worker component built on its own, without a worker: a hand-made snapshot, a
// worker_clock the test moves, real mbufs, and a started net_ring port whose tx ring the
// test reads (tx_buffers, neighbours and what sends through them).
#include "harness.h"

#include "dataplane/admission.h"
#include "dataplane/client_addr.h"
#include "dataplane/drain.h"
#include "dataplane/handoff.h"
#include "dataplane/headers.h"
#include "dataplane/neighbours.h"
#include "dataplane/ports.h"
#include "dataplane/scheduler.h"
#include "dataplane/side_table.h"
#include "dataplane/synproxy.h"
#include "dataplane/tx_buffers.h"

#include <catch2/catch.hpp>

#include <rte_cycles.h>

#include <fstream>

using namespace fulcrum::test;
using namespace fulcrum::dataplane;
using fulcrum::test::ip;

namespace {

uint32_t nip(const char *dotted) { return be(ip(dotted)); } // network order
uint16_t be16(uint16_t host) { return __builtin_bswap16(host); }

// Client 10.0.0.50:40000 -> VIP 10.0.0.10:80, TCP.
frame_spec conversation_frame() {
    frame_spec s;
    s.dst_mac = {2, 0, 0, 0, 0, 1}, s.src_mac = client_mac;
    s.src = net::client, s.dst = net::vip, s.sport = 40000, s.dport = 80, s.tcp_flags = ACK;
    return s;
}

rte_mbuf *mbuf_of(const bytes &frame) {
    rte_mbuf *m = rte_pktmbuf_alloc(test_pool());
    REQUIRE(m);
    std::copy(frame.begin(), frame.end(), rte_pktmbuf_mtod(m, uint8_t *));
    m->data_len = m->pkt_len = static_cast<uint32_t>(frame.size());
    return m;
}
bytes bytes_of(const rte_mbuf *m) {
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    return bytes(p, p + m->data_len);
}
const mac_t broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zero{};

// One port 10.0.0.1/24 on a started net_ring, a snapshot naming it, VIP 10.0.0.10,
// laddr 10.0.0.100; the components' shared parts (clock, drops, tx).
struct bench_parts {
    ring_port ring;
    snapshot snap;
    worker_clock clock;
    drop_counts drops;
    std::unique_ptr<tx_buffers> tx;
    mac_t mac;

    bench_parts() {
        port_params pp;
        pp.field = "ports[0]", pp.device = ring.name, pp.ip = be(net::port_ip), pp.mask = be(0xffffff00);
        auto port = start_port(pp, test_pool(), 1);
        REQUIRE(port);
        snap.ports.push_back(port.value());
        snap.laddrs = {be(net::laddr)};
        snap.add_local({be(net::vip), local_kind::vip, true, 0});
        snap.add_local({be(net::laddr), local_kind::laddr, false, 0});
        snap.add_local({be(net::port_ip), local_kind::port, false, 0});
        snap.index();
        tx = std::make_unique<tx_buffers>(std::vector<uint16_t>{ring.port_id}, 0, drops);
        clock.start(rte_get_tsc_hz(), rte_get_tsc_cycles());
        clock.set(clock.start_tsc);
        mac = ring.mac();
    }
    ~bench_parts() { rte_eth_dev_stop(ring.port_id); }
    std::vector<bytes> sent() {
        tx->flush();
        return ring.collect();
    }
    void advance(double seconds) { clock.set(clock.now_tsc + uint64_t(seconds * double(clock.hz))); }
};

listener_rt tcp_listener(uint8_t index = 0) {
    listener_rt l{};
    l.vip = be(net::vip), l.port = be16(80), l.proto = IPPROTO_TCP, l.index = index;
    l.syn_proxy = listener_rt::proxy_off, l.client_addr = listener_rt::client_addr_none;
    return l;
}

connection make_conn(uint8_t proto = IPPROTO_TCP) {
    connection c{};
    c.cip = be(net::client), c.vip = be(net::vip), c.laddr = be(net::laddr), c.bip = be(net::backend(0));
    c.cport = be16(40000), c.vport = be16(80), c.lport = be16(1024), c.bport = be16(8080);
    c.proto = proto;
    return c;
}

} // namespace

TEST_CASE("tx_buffers: a full burst goes at once, the rest on flush, counted in packets and bytes", "[components][tx]") {
    bench_parts t;
    frame_spec s = conversation_frame();
    for (int i = 0; i < 31; i++) t.tx->enqueue(0, mbuf_of(build_frame(s)));
    CHECK(t.ring.collect().empty()); // 31 wait for a fuller burst
    t.tx->enqueue(0, mbuf_of(build_frame(s)));
    CHECK(t.ring.collect().size() == 32);
    t.tx->enqueue(0, mbuf_of(build_frame(s)));
    CHECK(t.sent().size() == 1);
    CHECK(t.tx->counts().tx_packets == 33);
    CHECK(t.tx->counts().tx_bytes == 33 * build_frame(s).size());
    CHECK(t.drops.total() == 0);
}

TEST_CASE("neighbours: ARP for a local address answered, an unsolicited reply creates nothing", "[components][neighbours]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    mac_t peer{2, 0, 0, 0, 0, 0x50};
    bool kernel = n.on_arp(mbuf_of(build_arp(1, broadcast, peer, net::client, zero, net::vip)), 0, t.snap);
    CHECK_FALSE(kernel);
    auto out = t.sent();
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(build_arp(2, peer, t.mac, net::vip, peer, net::client)));
    CHECK(n.counts().arp_replies == 1);
    CHECK(n.used() == 0); // a request learns only entries that exist

    rte_mbuf *reply = mbuf_of(build_arp(2, t.mac, peer, ip("10.0.0.77"), t.mac, net::port_ip));
    CHECK(n.on_arp(reply, 0, t.snap)); // a reply is also the kernel's: not consumed
    rte_pktmbuf_free(reply);
    CHECK(n.find(nip("10.0.0.77")) == nullptr);
    CHECK(n.used() == 0);
}

TEST_CASE("neighbours: a frame to an unresolved next hop asks by ARP, waits, and leaves with the learned MAC",
          "[components][neighbours]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    neigh_entry *e = n.find_or_add(be(net::backend(0)));
    REQUIRE(e);
    frame_spec s = conversation_frame();
    n.send(mbuf_of(build_frame(s)), 0, *e, t.snap);
    auto out = t.sent();
    REQUIRE(out.size() == 1); // the request; the frame waits
    CHECK(hex(out[0]) == hex(build_arp(1, broadcast, t.mac, net::port_ip, zero, net::backend(0))));
    n.learn(be(net::backend(0)), rte_ether_addr{{2, 0, 0, 0, 0, 0x21}}, false);
    out = t.sent();
    REQUIRE(out.size() == 1);
    s.dst_mac = {2, 0, 0, 0, 0, 0x21}, s.src_mac = t.mac;
    CHECK(hex(out[0]) == hex(build_frame(s)));
    CHECK(n.counts().arp_requests == 1);
}

TEST_CASE("neighbours: static entries are kept against ARP; unused learned ones age out", "[components][neighbours]") {
    bench_parts t;
    t.snap.neigh_timeout_s = 60;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    n.add_static({{neigh_table::key4(be(net::backend(0))), rte_ether_addr{{2, 0, 0, 0, 0, 0x21}}}});
    n.learn(be(net::backend(0)), rte_ether_addr{{2, 0, 0, 0, 0, 0x99}}, false);
    CHECK(n.find(be(net::backend(0)))->mac.addr_bytes[5] == 0x21);
    CHECK(n.counts().neighbour_static_kept == 1);
    REQUIRE(n.find_or_add(be(net::backend(1))));
    n.learn(be(net::backend(1)), rte_ether_addr{{2, 0, 0, 0, 0, 0x22}}, false);
    CHECK(n.used() == 2);
    t.advance(61);
    n.timers(t.snap);
    CHECK(n.find(be(net::backend(1))) == nullptr);
    CHECK(n.find(be(net::backend(0))) != nullptr);
    CHECK(n.counts().neighbours_aged == 1);
}

TEST_CASE("side_table: entries open fresh and flag the connection; untouched entries cost no memory",
          "[components][side_table]") {
    auto rss_kib = [] {
        std::ifstream in("/proc/self/status");
        std::string k;
        long v = 0;
        while (in >> k)
            if (k == "VmRSS:" && in >> v) break;
        return v;
    };
    long before = rss_kib();
    side_table side(1u << 24); // 256 MiB of address space
    CHECK(rss_kib() - before < 4096);
    connection c = make_conn();
    conn_side &s = side.open(c, 12345, 1001, listener_rt::client_addr_proxy_v2);
    CHECK((c.flags & fulcrum::conn::has_side));
    CHECK(s.first_seq == 1001);
    CHECK(s.client_addr == listener_rt::client_addr_proxy_v2);
    CHECK(s.pending == 0);
    CHECK(s.header == conn_side::header_unsent);
    s.delta = 7;
    CHECK(side.open(c, 12345, 5, 0).delta == 0);
}

TEST_CASE("synproxy: a SYN gets a cookie SYN-ACK; only the right ACK passes; the backend's SYN-ACK releases the held ACK",
          "[components][synproxy]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    n.add_static({{neigh_table::key4(be(net::backend(0))), rte_ether_addr{{2, 0, 0, 0, 0, 0x21}}}});
    side_table side(1024);
    std::array<uint8_t, 16> key{1, 2, 3};
    fulcrum::conn::conn_table conns(64);
    synproxy p(key, test_pool(), 1, side, conns, n, *t.tx, t.drops, t.clock);
    listener_rt l = tcp_listener();
    l.syn_proxy = listener_rt::proxy_on;
    CHECK(p.engaged(l, 512));

    frame_spec syn = conversation_frame();
    syn.tcp_flags = SYN, syn.seq = 1000, syn.tcp_options = {2, 4, 0x05, 0xb4};
    fulcrum::conn::flow_key k{be(net::client), be(net::vip), fulcrum::conn::pack_ports(be16(40000), be16(80)), IPPROTO_TCP};
    p.answer(mbuf_of(build_frame(syn)), 0, l3_off + 20, k, l, t.snap);
    auto out = t.sent();
    REQUIRE(out.size() == 1);
    uint32_t cookie = conversation::seq_of(out[0]);
    frame_spec exp = syn;
    std::swap(exp.src, exp.dst), std::swap(exp.sport, exp.dport), exp.dst_mac = syn.src_mac, exp.src_mac = t.mac;
    exp.tcp_flags = SYN | ACK, exp.seq = cookie, exp.ack = 1001, exp.ttl = 64, exp.ip_id = 0;
    exp.tcp_options = {2, 4, 0x05, 0xb4};
    CHECK(hex(out[0]) == hex(build_frame(exp)));
    CHECK(p.counts().syn_cookies_sent == 1);

    frame_spec ack = conversation_frame();
    ack.tcp_flags = ACK, ack.seq = 1001, ack.ack = cookie + 2;
    fulcrum::net::cookie_options o{};
    rte_mbuf *bad = mbuf_of(build_frame(ack));
    CHECK_FALSE(p.check_cookie(bad, l3_off + 20, k, o));
    rte_pktmbuf_free(bad);
    ack.ack = cookie + 1;
    rte_mbuf *good = mbuf_of(build_frame(ack));
    REQUIRE(p.check_cookie(good, l3_off + 20, k, o));
    CHECK(o.mss == 1460);

    connection c = make_conn();
    c.neigh[0] = n.index_of(n.find(be(net::backend(0))));
    c.state = tcp_state::syn_sent;
    REQUIRE(p.can_wait());
    side.open(c, 7, 1001, 0);
    p.open(c, 7, good, l3_off + 20, o, t.snap);
    CHECK(p.waiting(7));
    out = t.sent();
    REQUIRE(out.size() == 1); // the SYN to the backend, with the client's ISN and MSS
    frame_spec bsyn;
    bsyn.dst_mac = {2, 0, 0, 0, 0, 0x21}, bsyn.src_mac = t.mac, bsyn.src = net::laddr, bsyn.dst = net::backend(0);
    bsyn.sport = 1024, bsyn.dport = 8080, bsyn.tcp_flags = SYN, bsyn.seq = 1000, bsyn.ip_id = 0;
    bsyn.tcp_options = {2, 4, 0x05, 0xb4};
    CHECK(hex(out[0]) == hex(build_frame(bsyn)));

    frame_spec synack = bsyn;
    std::swap(synack.src, synack.dst), std::swap(synack.sport, synack.dport);
    synack.tcp_flags = SYN | ACK, synack.seq = 9000, synack.ack = 1001, synack.tcp_options = {};
    synproxy::held_segments held;
    CHECK(p.on_segment(mbuf_of(build_frame(synack)), c, 7, 1, l3_off + 20, t.snap, held) ==
          synproxy::verdict::established);
    REQUIRE(held.n == 1);
    CHECK(hex(bytes_of(held.m[0])) == hex(build_frame(ack)));
    rte_pktmbuf_free(held.m[0]);
    CHECK(side.at(7).delta == cookie - 9000);
    CHECK_FALSE(p.waiting(7));
    CHECK(c.state == tcp_state::established);
    CHECK(p.counts().syn_proxy_established == 1);
}

TEST_CASE("synproxy: auto engages above the half-open threshold and lets go below half of it", "[components][synproxy]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    side_table side(64);
    fulcrum::conn::conn_table conns(64);
    synproxy p({}, test_pool(), 1, side, conns, n, *t.tx, t.drops, t.clock);
    listener_rt l = tcp_listener(3);
    l.syn_proxy = listener_rt::proxy_auto;
    std::vector<connection> half(11, make_conn());
    for (auto &c : half) c.listener = 3;
    for (int i = 0; i < 10; i++) p.half_open_begin(half[i]);
    CHECK_FALSE(p.engaged(l, 10));
    p.half_open_begin(half[10]);
    CHECK(p.engaged(l, 10));
    for (int i = 0; i < 6; i++) p.half_open_done(half[i]);
    CHECK(p.engaged(l, 10)); // 5 left: not below half yet
    p.half_open_done(half[6]);
    CHECK_FALSE(p.engaged(l, 10));
    CHECK(p.counts().syn_proxy_engaged == 1);
}

TEST_CASE("client_addr: a datagram gets the PROXY v2 header before its payload, checksums right", "[components][client_addr]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    fulcrum::conn::conn_table conns(64);
    client_addr ca(test_pool(), conns, n, t.drops);
    frame_spec q = conversation_frame();
    q.proto = 17, q.dport = 53, q.payload = "query";
    connection c = make_conn(IPPROTO_UDP);
    c.vport = be16(53);
    rte_mbuf *m = mbuf_of(build_frame(q));
    REQUIRE(ca.add_udp_header(m, c, l3_off + 20));
    bytes header = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x12, 0, 12,
                    10, 0, 0, 50, 10, 0, 0, 10, 0x9c, 0x40, 0, 53};
    frame_spec exp = q;
    exp.payload = std::string(header.begin(), header.end()) + "query";
    CHECK(hex(bytes_of(m)) == hex(build_frame(exp)));
    CHECK(checksums_valid(bytes_of(m)));
    CHECK(ca.counts().proxy_v2_headers == 1);
    rte_pktmbuf_free(m);
}

TEST_CASE("handoff: nothing without peers, one copy per peer, never a frame from a peer, at most the rate",
          "[components][handoff]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    n.add_static({{neigh_table::key4(nip("10.0.0.2")), rte_ether_addr{{2, 0, 0, 0, 0, 2}}},
                  {neigh_table::key4(nip("10.0.0.3")), rte_ether_addr{{2, 0, 0, 0, 0, 3}}}});
    handoff h(test_pool(), n, t.drops, t.clock);
    frame_spec s = conversation_frame();
    s.tcp_flags = ACK;
    rte_mbuf *m = mbuf_of(build_frame(s));
    CHECK_FALSE(h.hand_off(m, t.snap)); // no peers: not consumed
    t.snap.cluster_peers = {{neigh_table::key4(nip("10.0.0.2")), 0}, {neigh_table::key4(nip("10.0.0.3")), 0}};
    REQUIRE(h.hand_off(m, t.snap));
    auto out = t.sent();
    REQUIRE(out.size() == 2);
    for (int i = 0; i < 2; i++) {
        frame_spec e = s;
        e.src_mac = t.mac, e.dst_mac = {2, 0, 0, 0, 0, uint8_t(2 + i)};
        CHECK(hex(out[i]) == hex(build_frame(e)));
    }
    CHECK(h.counts().cluster_handoffs == 2);
    s.src_mac = {2, 0, 0, 0, 0, 3}; // handed on by a peer: never again
    rte_mbuf *from_peer = mbuf_of(build_frame(s));
    CHECK_FALSE(h.hand_off(from_peer, t.snap));
    rte_pktmbuf_free(from_peer);
    // A token per copy: a burst of 32 copies (100 ms at 100/s, at least 32), sixteen
    // segments to two peers, then dropped.
    t.snap.handoff_rate_pps = 100;
    s.src_mac = client_mac;
    for (int i = 0; i < 40; i++) CHECK(h.hand_off(mbuf_of(build_frame(s)), t.snap));
    CHECK(t.sent().size() == 32);
    CHECK(t.drops.n[static_cast<unsigned>(drop::handoff_limited)] == 24);
}

TEST_CASE("admission: connection, rate and per-source caps refuse with their reason", "[components][admission]") {
    worker_clock clock;
    clock.start(rte_get_tsc_hz(), rte_get_tsc_cycles());
    clock.set(clock.start_tsc);
    std::vector<flow_counters> mine(max_listener_slots), other(max_listener_slots);
    admission a(clock, 2, 0x1234);
    a.set_peers({mine.data(), other.data()});
    listener_rt l = tcp_listener(5);
    drop why = drop::count;
    l.max_conns = 10;
    mine[5].active_connections = 4, other[5].active_connections = 5;
    CHECK(a.admit(l, be(net::client), why));
    other[5].active_connections = 6; // every worker's count
    CHECK_FALSE(a.admit(l, be(net::client), why));
    CHECK(why == drop::listener_conn_cap);

    l.max_conns = 0, l.max_cps = 20; // 10 per worker, one second of burst
    int admitted = 0;
    for (int i = 0; i < 30; i++) admitted += a.admit(l, be(net::client), why);
    CHECK(admitted == 10);
    CHECK(why == drop::listener_rate_cap);
    clock.set(clock.now_tsc + clock.hz / 2); // half a second refills half
    admitted = 0;
    for (int i = 0; i < 30; i++) admitted += a.admit(l, be(net::client), why);
    CHECK(admitted == 5);

    l.max_cps = 0, l.max_per_source = 4; // 2 per worker
    CHECK(a.admit(l, be(net::client), why));
    CHECK(a.count_source(5, be(net::client)));
    CHECK(a.count_source(5, be(net::client)));
    CHECK_FALSE(a.admit(l, be(net::client), why));
    CHECK(why == drop::source_cap);
    CHECK(a.admit(l, nip("10.0.0.51"), why)); // another source
    a.release_source(5, be(net::client));
    CHECK(a.admit(l, be(net::client), why));
}

TEST_CASE("scheduler: sequences by cursor, persistence while eligible, wlc by active per weight", "[components][scheduler]") {
    snapshot s;
    for (uint16_t i = 0; i < 3; i++) s.backends.push_back({be(net::backend(0)) + be(i), be16(8080), uint8_t(i + 1), i, 0});
    s.sched_seq = {0, 1, 2, 2};
    listener_rt l = tcp_listener(0);
    l.n_backends = 3, l.seq_len = 4, l.pick = listener_rt::by_sequence;
    s.listeners = {l};
    s.index();
    scheduler sch(0, 1);
    sch.adopt(s);
    fulcrum::conn::flow_key k{be(net::client), be(net::vip), fulcrum::conn::pack_ports(be16(1), be16(80)), IPPROTO_TCP};
    std::vector<uint16_t> picks;
    for (int i = 0; i < 8; i++) picks.push_back(sch.choose(l, k, s, 100).slot);
    CHECK(picks == std::vector<uint16_t>{0, 1, 2, 2, 0, 1, 2, 2});

    persist_table persist;
    l.persist = &persist, l.persist_timeout_s = 60;
    uint16_t first = sch.choose(l, k, s, 100).slot;
    for (int i = 0; i < 5; i++) CHECK(sch.choose(l, k, s, 101).slot == first);
    CHECK(sch.counts().persistence_hits == 5);
    CHECK(sch.choose(l, k, s, 200).slot != first); // expired: the sequence goes on

    std::vector<flow_counters> counts(max_backend_slots);
    sch.set_peers({counts.data()});
    l.persist = nullptr, l.pick = listener_rt::by_least_conn, l.seq_len = 3;
    s.sched_seq = {0, 1, 2};
    counts[0].active_connections = 10, counts[1].active_connections = 4, counts[2].active_connections = 9; // per weight: 10, 2, 3
    CHECK(sch.choose(l, k, s, 100).slot == 1);
}

TEST_CASE("drain: a backend that stops being eligible has its connections closed at the deadline, not before",
          "[components][drain]") {
    auto make = [](std::vector<uint16_t> eligible) {
        auto s = std::make_unique<snapshot>();
        listener_rt l = tcp_listener(2);
        l.drain_timeout_s = 5, l.eligible_offset = 0, l.eligible_len = uint32_t(eligible.size());
        s->listeners = {l};
        s->eligible_slots = std::move(eligible);
        s->index();
        return s;
    };
    auto before = make({0, 1}), after = make({0});
    fulcrum::conn::conn_table conns(64, fulcrum::conn::conn_table::first_touch::now);
    std::vector<connection *> open;
    for (uint16_t slot : {0, 1, 1}) {
        connection *c = conns.alloc();
        *c = make_conn();
        c->listener = 2, c->backend_slot = slot, c->cport = be16(uint16_t(40000 + open.size()));
        open.push_back(c);
    }
    drain d;
    d.note_ineligible(*before, *after, 100);
    CHECK(d.pending() == 1);
    CHECK_FALSE(d.due(100 + worker_clock::ticks(5) - 1));
    uint32_t at = 100 + worker_clock::ticks(5);
    REQUIRE(d.due(at));
    std::vector<uint16_t> closed;
    while (d.due(at)) d.sweep(conns, at, [&](connection &c) { closed.push_back(c.backend_slot); });
    CHECK(closed == std::vector<uint16_t>{1, 1});
    CHECK(d.pending() == 0);

    d.note_ineligible(*before, *after, 200); // eligible again before the deadline: nothing closes
    d.note_ineligible(*after, *before, 201);
    CHECK(d.pending() == 0);
}

TEST_CASE("neigh_table: sized as asked, unused entries give way when full, churn leaves no walk of tombstones",
          "[components][neighbours]") {
    neigh_table t(64, SOCKET_ID_ANY);
    CHECK(t.capacity() == 64);
    // 64 in use (referenced): the 65th finds no room.
    for (uint32_t i = 1; i <= 64; i++) {
        neigh_entry *e = t.find_or_add(nip("10.1.0.0") + htonl(i), i);
        REQUIRE(e != nullptr);
        e->refs = 1;
    }
    CHECK(t.find_or_add(nip("10.2.0.1"), 100) == nullptr);
    // Two let go: the least recently confirmed of them gives way.
    t.find(nip("10.1.0.0") + htonl(7))->refs = 0;
    t.find(nip("10.1.0.0") + htonl(3))->refs = 0;
    bool evicted = false;
    neigh_entry *n = t.find_or_add(nip("10.2.0.1"), 101, &evicted);
    REQUIRE(n != nullptr);
    CHECK(evicted);
    CHECK(t.find(nip("10.1.0.0") + htonl(3)) == nullptr); // confirmed at 3, before 7
    CHECK(t.find(nip("10.1.0.0") + htonl(7)) != nullptr);
    CHECK(t.used() == 64);
    // 200,000 adds and forgets of distinct addresses: every lookup still ends, and right.
    neigh_table churn(64, SOCKET_ID_ANY);
    std::vector<uint32_t> live;
    for (uint32_t i = 0; i < 200000; i++) {
        uint32_t ip = htonl(0x0b000000u + i * 7919u);
        neigh_entry *e = churn.find_or_add(ip, i);
        REQUIRE(e != nullptr);
        live.push_back(ip);
        if (live.size() > 48) {
            churn.forget(*churn.find(live.front()));
            live.erase(live.begin());
        }
    }
    CHECK(churn.used() == 48);
    for (uint32_t ip : live) CHECK(churn.find(ip) != nullptr);
    CHECK(churn.find(htonl(0x0c000001u)) == nullptr);
}

TEST_CASE("neighbours: after three unanswered requests the waiting frames go, and the next frame asks again at once",
          "[components][neighbours]") {
    bench_parts t;
    neighbours n(0, 64, SOCKET_ID_ANY, test_pool(), *t.tx, t.drops, t.clock);
    neigh_entry *e = n.find_or_add(be(net::backend(0)));
    REQUIRE(e);
    frame_spec s = conversation_frame();
    n.send(mbuf_of(build_frame(s)), 0, *e, t.snap);
    for (int i = 0; i < 3; i++) { // one retry a second, the third gives up
        t.clock.set(t.clock.now_tsc + t.clock.hz + 1);
        n.timers(t.snap);
    }
    CHECK(t.drops.n[static_cast<unsigned>(drop::neigh_unresolved)] == 1);
    CHECK(n.counts().arp_requests == 3);
    t.sent();
    n.send(mbuf_of(build_frame(s)), 0, *e, t.snap); // within a second of the last try
    auto out = t.sent();
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(build_arp(1, broadcast, t.mac, net::port_ip, zero, net::backend(0))));
}
