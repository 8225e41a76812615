// Full-NAT through a real worker: exact bytes out for TCP and UDP in both directions.
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using fulcrum::conn::tcp_state;
using fulcrum::dataplane::drop;

TEST_CASE("tcp handshake, data and close cross full-NAT with exact bytes both ways", "[fnat][tcp]") {
    lb t;
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = {2, 4, 0x05, 0xb4}; // MSS 1460, left alone: all ports share one MTU
    auto out = t.send_one(build_frame(syn));
    REQUIRE(hex(out) == hex(build_frame(to_backend(t, syn))));
    REQUIRE(checksums_valid(out));
    CHECK(state_of(t) == tcp_state::syn_sent);

    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    out = t.send_one(build_frame(synack));
    REQUIRE(hex(out) == hex(build_frame(to_client(t, synack))));
    CHECK(state_of(t) == tcp_state::syn_recv);

    auto ack = from_client(t, ACK, 1001, 5001);
    CHECK(hex(t.send_one(build_frame(ack))) == hex(build_frame(to_backend(t, ack))));
    CHECK(state_of(t) == tcp_state::established);

    auto data = from_client(t, PSH | ACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n");
    out = t.send_one(build_frame(data));
    CHECK(hex(out) == hex(build_frame(to_backend(t, data))));
    CHECK(checksums_valid(out));
    auto reply = from_backend(t, PSH | ACK, 5001, 1019, "HTTP/1.0 200 OK\r\n\r\nhello");
    out = t.send_one(build_frame(reply));
    CHECK(hex(out) == hex(build_frame(to_client(t, reply))));
    CHECK(checksums_valid(out));

    auto fin = from_client(t, FIN | ACK, 1019, 5025);
    CHECK(hex(t.send_one(build_frame(fin))) == hex(build_frame(to_backend(t, fin))));
    CHECK(state_of(t) == tcp_state::fin_wait);
    auto fin2 = from_backend(t, FIN | ACK, 5025, 1020);
    CHECK(hex(t.send_one(build_frame(fin2))) == hex(build_frame(to_client(t, fin2))));
    CHECK(state_of(t) == tcp_state::time_wait);
    auto last = from_client(t, ACK, 1020, 5026);
    CHECK(hex(t.send_one(build_frame(last))) == hex(build_frame(to_backend(t, last))));

    const auto &lc = t.w().listener_counters(0);
    CHECK(lc.new_connections == 1);
    CHECK(lc.packets_in == 5);
    CHECK(lc.packets_out == 3);
    CHECK(t.w().backend_counters(0).new_connections == 1);

    // TIME_WAIT ends after its timeout (10 s default).
    t.advance_seconds(11);
    CHECK(state_of(t) == tcp_state::count);
    CHECK(t.w().conns().in_use() == 0);
}

TEST_CASE("a reset closes the connection but stragglers still translate", "[fnat][tcp]") {
    lb t;
    t.send_one(build_frame(from_client(t, SYN, 1, 0)));
    auto rst = from_backend(t, RST | ACK, 0, 2);
    CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_client(t, rst))));
    CHECK(state_of(t) == tcp_state::close);
    // A segment still in flight from the client after the reset crosses, translated.
    auto straggler = from_client(t, ACK, 2, 1, "late");
    CHECK(hex(t.send_one(build_frame(straggler))) == hex(build_frame(to_backend(t, straggler))));
    auto late_reply = from_backend(t, ACK, 1, 6, "gone");
    CHECK(hex(t.send_one(build_frame(late_reply))) == hex(build_frame(to_client(t, late_reply))));
    CHECK(state_of(t) == tcp_state::close);
    t.advance_seconds(4); // CLOSE lasts 3 s
    CHECK(state_of(t) == tcp_state::count);
}

TEST_CASE("a new SYN on a TIME_WAIT tuple opens a fresh connection", "[fnat][tcp]") {
    lb t;
    t.send_one(build_frame(from_client(t, SYN, 1, 0)));
    t.send_one(build_frame(from_backend(t, SYN | ACK, 100, 2)));
    t.send_one(build_frame(from_client(t, FIN | ACK, 2, 101)));
    t.send_one(build_frame(from_backend(t, FIN | ACK, 101, 3)));
    REQUIRE(state_of(t) == tcp_state::time_wait);
    auto syn = from_client(t, SYN, 9000, 0);
    auto out = t.send_one(build_frame(syn));
    // Second connection: next lport from the pool and the next backend in the sequence.
    auto exp = to_backend(t, syn, 1025);
    exp.dst = net::backend(1), exp.dst_mac = backend_mac(1);
    CHECK(hex(out) == hex(build_frame(exp)));
    CHECK(state_of(t) == tcp_state::syn_sent);
    CHECK(t.w().counters().connections_created == 2);
}

TEST_CASE("udp request and response cross full-NAT with exact bytes", "[fnat][udp]") {
    lb t;
    frame_spec req;
    req.proto = 17, req.dst_mac = t.port->mac(), req.src_mac = client_mac;
    req.src = client, req.dst = vip, req.sport = 5000, req.dport = 53, req.payload = "query";
    frame_spec exp_req = req;
    exp_req.dst_mac = backend_mac(0), exp_req.src_mac = t.port->mac();
    exp_req.src = laddr, exp_req.dst = be0, exp_req.sport = 1024, exp_req.dport = 5353, exp_req.ttl = 63;
    auto out = t.send_one(build_frame(req));
    CHECK(hex(out) == hex(build_frame(exp_req)));
    CHECK(checksums_valid(out));

    frame_spec resp;
    resp.proto = 17, resp.dst_mac = t.port->mac(), resp.src_mac = backend_mac(0);
    resp.src = be0, resp.dst = laddr, resp.sport = 5353, resp.dport = 1024, resp.payload = "answer!";
    frame_spec exp_resp = resp;
    exp_resp.dst_mac = client_mac, exp_resp.src_mac = t.port->mac();
    exp_resp.src = vip, exp_resp.dst = client, exp_resp.sport = 53, exp_resp.dport = 5000, exp_resp.ttl = 63;
    out = t.send_one(build_frame(resp));
    CHECK(hex(out) == hex(build_frame(exp_resp)));
    CHECK(checksums_valid(out));

    // A zero UDP checksum means "none" and must stay zero.
    resp.udp_zero_checksum = exp_resp.udp_zero_checksum = true;
    CHECK(hex(t.send_one(build_frame(resp))) == hex(build_frame(exp_resp)));
}

namespace {
frame_spec udp_from_client(lb &t, uint16_t sport) {
    frame_spec a;
    a.proto = 17, a.dst_mac = t.port->mac(), a.src_mac = client_mac;
    a.src = client, a.dst = vip, a.sport = sport, a.dport = 53, a.payload = "q";
    return a;
}
frame_spec udp_from_backend(lb &t, uint16_t lport) {
    frame_spec r;
    r.proto = 17, r.dst_mac = t.port->mac(), r.src_mac = backend_mac(0);
    r.src = be0, r.dst = laddr, r.sport = 5353, r.dport = lport, r.payload = "a";
    return r;
}
} // namespace

TEST_CASE("an idle udp flow expires and its lport is reusable", "[fnat][expiry]") {
    auto cfg = base_config("", {1});
    cfg["lport_range"] = "1024-1024"; // exactly one local port
    lb t(cfg);
    auto a = udp_from_client(t, 5000), b = udp_from_client(t, 5001);
    make_streams(t, {{build_frame(a), build_frame(udp_from_backend(t, 1024))}}); // both ways 10 s on: kept
    CHECK(t.send({build_frame(b)}).empty());
    CHECK(t.drops(drop::lport_exhausted) == 1);
    CHECK(t.w().counters().connections_evicted == 0);

    t.advance_seconds(4); // IdleTimeout is 5 s
    CHECK(t.w().find_conn(17, client, 5000, vip, 53) != nullptr);
    t.advance_seconds(2);
    CHECK(t.w().find_conn(17, client, 5000, vip, 53) == nullptr);
    CHECK(t.w().counters().connections_expired == 1);

    auto out = t.send_one(build_frame(b));
    REQUIRE(!out.empty());
    CHECK(get16(out, off::sport) == 1024); // source port 1024 again
}

TEST_CASE("a full table drops new flows and keeps existing (answered) ones", "[fnat][table]") {
    auto cfg = base_config("", {1});
    cfg["conn_capacity"] = 64;
    lb t(cfg);
    std::vector<std::pair<bytes, bytes>> streams; // streams: never evicted
    for (uint16_t i = 0; i < 64; i++)
        streams.push_back({build_frame(udp_from_client(t, uint16_t(30000 + i))), build_frame(udp_from_backend(t, uint16_t(1024 + i)))});
    make_streams(t, streams);
    std::vector<bytes> more;
    for (uint16_t i = 64; i < 70; i++) more.push_back(build_frame(udp_from_client(t, uint16_t(30000 + i))));
    CHECK(t.send(more).empty());
    CHECK(t.drops(drop::table_full) == 6);
    CHECK(t.w().counters().connections_evicted == 0);
    CHECK(t.w().conns().in_use() == 64);
    CHECK(t.send({build_frame(udp_from_client(t, 30000))}).size() == 1);
}

TEST_CASE("MSS is clamped only when port MTUs differ", "[fnat][mss]") {
    auto cfg = base_config("");
    lb t(cfg);
    auto syn = from_client(t, SYN, 1, 0);
    syn.tcp_options = {2, 4, 0x23, 0x28}; // 9000
    auto out = t.send_one(build_frame(syn));
    CHECK(hex(out) == hex(build_frame(to_backend(t, syn))));
    // The clamp itself: a second port with a smaller MTU lowers MSS to 1400 - 40.
    ring_port second;
    cfg["ports"].push_back({{"name", "p1"}, {"device", second.name}, {"address", "10.0.9.1/24"}, {"mtu", 1400}});
    lb t2(cfg);
    auto syn2 = from_client(t2, SYN, 1, 0);
    syn2.tcp_options = {2, 4, 0x23, 0x28};
    out = t2.send_one(build_frame(syn2));
    auto exp = to_backend(t2, syn2);
    exp.tcp_options = {2, 4, 0x05, 0x50}; // 1360
    CHECK(hex(out) == hex(build_frame(exp)));
    CHECK(checksums_valid(out));
}

TEST_CASE("a frame leaves at once when the rx queue runs dry, not after the 100 us tx timer", "[fnat][tx]") {
    lb t(base_config(""));
    t.w().poll_once(t.clock); // the loop's first turn starts its timers
    t.port->inject(build_frame(from_client(t, SYN, 1000, 0)));
    // Same clock as the turn before: the tx timer has not expired, no explicit flush.
    t.w().poll_once(t.clock);
    CHECK(t.port->collect().size() == 1);
}
