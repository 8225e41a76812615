// TCP state only the endpoints can end (lib/conn/tcp_window.h): a segment outside the
// receiver's window is forwarded byte for byte and changes nothing; one inside moves the
// state. And capacity as promised: lports reused across backends, finished connections
// the first to give way.
#include "harness.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using fulcrum::conn::tcp_state;
using fulcrum::dataplane::drop;

namespace {

const fulcrum::conn::connection *conn_of(lb &t) {
    return t.w().find_conn(6, client, fulcrum::test::net::cport, vip, 80);
}

// SYN 1000 -> SYN-ACK 5000 -> ACK: established, both windows 65535 unscaled. The
// client accepts 5001 next, the backend 1001.
void establish(lb &t) {
    REQUIRE(t.send({build_frame(from_client(t, SYN, 1000, 0))}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, SYN | ACK, 5000, 1001))}).size() == 1);
    REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, 5001))}).size() == 1);
    REQUIRE(state_of(t) == tcp_state::established);
}

struct snapshot_of_conn {
    uint32_t ack0, ack1, expire;
    uint16_t win0, win1;
    uint8_t flags;
    tcp_state state;
    bool operator==(const snapshot_of_conn &) const = default;
};
snapshot_of_conn snap(lb &t) {
    const auto *c = conn_of(t);
    REQUIRE(c != nullptr);
    return {c->ack[0], c->ack[1], c->expire_tick, c->win[0], c->win[1], c->flags, c->state};
}

} // namespace

TEST_CASE("an out-of-window RST, FIN or ACK is forwarded byte for byte and leaves the connection and ack[] unchanged",
          "[tcp_window]") {
    lb t;
    establish(t);
    t.advance_seconds(1);
    const snapshot_of_conn before = snap(t);
    struct forged {
        const char *what;
        frame_spec f;
        bool from_backend;
    };
    const uint32_t far = 70000; // beyond the 65535-byte windows
    std::vector<forged> cases = {
        {"RST+ACK past the backend's window", from_client(t, RST | ACK, 1001 + far, 5001), false},
        {"RST without ACK one past the exact sequence", from_client(t, RST, 1002, 0), false},
        {"RST+ACK behind the backend's next sequence", from_client(t, RST | ACK, 1000, 5001), false},
        {"FIN past the window", from_client(t, FIN | ACK, 1001 + far, 5001), false},
        {"ACK of bytes the backend could not have sent", from_client(t, ACK, 1001, 5001 + far), false},
        {"RST+ACK past the client's window", from_backend(t, RST | ACK, 5001 + far, 1001), true},
        {"FIN far behind", from_backend(t, FIN | ACK, 5001 - far, 1001), true},
    };
    uint64_t counted = 0;
    for (const auto &c : cases) {
        INFO(c.what);
        bytes out = t.send_one(build_frame(c.f));
        CHECK(hex(out) == hex(build_frame(c.from_backend ? to_client(t, c.f) : to_backend(t, c.f))));
        CHECK(snap(t) == before);
        CHECK(t.w().counters().tcp_out_of_window == ++counted);
    }
    // Still established 10 s on, and still forwarding.
    t.advance_seconds(10);
    CHECK(state_of(t) == tcp_state::established);
    auto data = from_client(t, PSH | ACK, 1001, 5001, "still here");
    CHECK(hex(t.send_one(build_frame(data))) == hex(build_frame(to_backend(t, data))));
    CHECK(t.w().counters().tcp_out_of_window == counted);
}

TEST_CASE("an in-window RST closes: with ACK anywhere in the window, without ACK only at the exact sequence",
          "[tcp_window]") {
    lb t;
    establish(t);
    SECTION("client RST+ACK inside the backend's window") {
        auto rst = from_client(t, RST | ACK, 1001 + 3000, 5001);
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_backend(t, rst))));
    }
    SECTION("client RST at the backend's next sequence") {
        auto rst = from_client(t, RST, 1001, 0);
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_backend(t, rst))));
    }
    SECTION("backend RST+ACK at the client's next sequence") {
        auto rst = from_backend(t, RST | ACK, 5001, 1001);
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_client(t, rst))));
    }
    CHECK(state_of(t) == tcp_state::close);
    CHECK(t.w().counters().tcp_out_of_window == 0);
    CHECK((conn_of(t)->flags & fulcrum::conn::assured) == 0); // finished: first to give way
}

TEST_CASE("segments an endpoint would accept are not counted: data ahead within the window, an old ACK, a "
          "retransmission; ack[] only moves forward",
          "[tcp_window]") {
    lb t;
    establish(t);
    auto ahead = from_client(t, PSH | ACK, 1001 + 3000, 5001, "later bytes"); // an earlier segment was lost
    CHECK(t.send({build_frame(ahead)}).size() == 1);
    auto reply = from_backend(t, PSH | ACK, 5001, 1001, "0123456789");
    CHECK(t.send({build_frame(reply)}).size() == 1);
    CHECK(t.send({build_frame(from_client(t, ACK, 1001, 5011))}).size() == 1);
    CHECK(t.send({build_frame(from_client(t, ACK, 1001, 5005))}).size() == 1); // reordered, older
    CHECK(t.send({build_frame(reply)}).size() == 1);                           // retransmitted
    CHECK(t.w().counters().tcp_out_of_window == 0);
    CHECK(ntohl(conn_of(t)->ack[0]) == 5011);
    // FIN both ways in window: TIME_WAIT.
    CHECK(t.send({build_frame(from_client(t, FIN | ACK, 1001, 5011))}).size() == 1);
    CHECK(state_of(t) == tcp_state::fin_wait);
    CHECK(t.send({build_frame(from_backend(t, FIN | ACK, 5011, 1002))}).size() == 1);
    CHECK(state_of(t) == tcp_state::time_wait);
    CHECK(t.w().counters().tcp_out_of_window == 0);
}

TEST_CASE("the handshake: a SYN-ACK must acknowledge the SYN, and only a RST acknowledging it resets it",
          "[tcp_window]") {
    lb t;
    REQUIRE(t.send({build_frame(from_client(t, SYN, 1000, 0))}).size() == 1);
    auto wrong = from_backend(t, SYN | ACK, 5000, 999);
    CHECK(hex(t.send_one(build_frame(wrong))) == hex(build_frame(to_client(t, wrong))));
    CHECK(state_of(t) == tcp_state::syn_sent);
    CHECK(t.send({build_frame(from_backend(t, RST, 77, 0))}).size() == 1); // blind, no ACK
    CHECK(t.send({build_frame(from_backend(t, RST | ACK, 0, 1002))}).size() == 1);
    CHECK(state_of(t) == tcp_state::syn_sent);
    CHECK(t.w().counters().tcp_out_of_window == 3);
    CHECK(t.send({build_frame(from_backend(t, RST | ACK, 0, 1001))}).size() == 1); // the port is closed
    CHECK(state_of(t) == tcp_state::close);
}

TEST_CASE("window scale from the handshake: a window of 100 << 7 accepts a RST 12,000 bytes ahead, not 13,000",
          "[tcp_window]") {
    lb t;
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = {1, 3, 3, 7}; // NOP, window scale 7
    REQUIRE(t.send({build_frame(syn)}).size() == 1);
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.tcp_options = {1, 3, 3, 2};
    REQUIRE(t.send({build_frame(synack)}).size() == 1);
    auto ack = from_client(t, ACK, 1001, 5001);
    ack.window = 100; // the client: 12,800 bytes
    REQUIRE(t.send({build_frame(ack)}).size() == 1);
    REQUIRE(state_of(t) == tcp_state::established);
    CHECK(conn_of(t)->wscale == (7 | 2 << 4));
    CHECK(t.send({build_frame(from_backend(t, RST | ACK, 5001 + 13000, 1001))}).size() == 1);
    CHECK(state_of(t) == tcp_state::established);
    CHECK(t.send({build_frame(from_backend(t, RST | ACK, 5001 + 12000, 1001))}).size() == 1);
    CHECK(state_of(t) == tcp_state::close);
}

TEST_CASE("one side offering window scale is no scaling: windows read as bytes", "[tcp_window]") {
    lb t;
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = {1, 3, 3, 7};
    REQUIRE(t.send({build_frame(syn)}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, SYN | ACK, 5000, 1001))}).size() == 1); // no option
    auto ack = from_client(t, ACK, 1001, 5001);
    ack.window = 100;
    REQUIRE(t.send({build_frame(ack)}).size() == 1);
    CHECK(conn_of(t)->wscale == 0);
    CHECK(t.send({build_frame(from_backend(t, RST | ACK, 5001 + 101, 1001))}).size() == 1);
    CHECK(state_of(t) == tcp_state::established);
}

TEST_CASE("a reply tuple is unique per backend: one lport serves a connection to each of two backends at once",
          "[tcp_window][capacity]") {
    auto cfg = base_config("", {1, 1});
    cfg["lport_range"] = "1024-1024"; // one local port
    cfg["listeners"][0]["Scheduler"] = "rr";
    lb t(cfg);
    std::vector<uint32_t> backends;
    for (uint16_t p = 0; p < 2; p++) {
        bytes out = t.send_one(build_frame(client_segment(t.port->mac(), client, uint16_t(41000 + p), SYN, 1000, 0)));
        REQUIRE(!out.empty());
        CHECK(get16(out, off::sport) == 1024);
        backends.push_back(get32(out, off::ip_dst));
        frame_spec synack = backend_segment(t.port->mac(), get32(out, off::ip_dst), 1024, SYN | ACK, 5000, 1001);
        bytes back = t.send_one(build_frame(synack));
        REQUIRE(!back.empty());
        CHECK(get16(back, off::dport) == uint16_t(41000 + p)); // each reply finds its own connection
        REQUIRE(t.send({build_frame(client_segment(t.port->mac(), client, uint16_t(41000 + p), ACK, 1001, 5001))}).size() == 1);
    }
    CHECK(backends[0] != backends[1]);
    CHECK(t.w().conns().in_use() == 2);
    // A third, established connections holding both tuples: refused, counted.
    CHECK(t.send({build_frame(client_segment(t.port->mac(), client, 41002, SYN, 1000, 0))}).empty());
    CHECK(t.drops(drop::lport_exhausted) == 1);
    CHECK(t.w().counters().connections_evicted == 0);
}

TEST_CASE("a full table: TIME_WAIT gives way before a half-open entry that is due sooner", "[tcp_window][capacity]") {
    auto cfg = without_syn_proxy(base_config("", {1}));
    cfg["conn_capacity"] = 64;
    cfg["tcp_timeouts"] = {{"syn_sent", 5}, {"time_wait", 60}}; // the half-open ones are due first
    lb t(cfg);
    // One connection to TIME_WAIT, 63 half-open after it: the table is full.
    establish(t);
    REQUIRE(t.send({build_frame(from_client(t, FIN | ACK, 1001, 5001))}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, FIN | ACK, 5001, 1002))}).size() == 1);
    REQUIRE(state_of(t) == tcp_state::time_wait);
    for (uint16_t p = 0; p < 63; p++) {
        t.advance_seconds(0.01); // one tick apart: due in this order
        REQUIRE(t.send({build_frame(client_segment(t.port->mac(), client, uint16_t(42000 + p), SYN, 1000, 0))}).size() == 1);
    }
    REQUIRE(t.w().conns().in_use() == 64);
    CHECK(t.send({build_frame(client_segment(t.port->mac(), client, 43000, SYN, 1000, 0))}).size() == 1);
    CHECK(state_of(t) == tcp_state::count); // the TIME_WAIT entry went
    for (uint16_t p = 0; p < 63; p++) CHECK(t.w().find_conn(6, client, uint16_t(42000 + p), vip, 80) != nullptr);
    CHECK(t.w().counters().connections_evicted == 1);
    // The next gives way from the half-open ones, the one due first.
    CHECK(t.send({build_frame(client_segment(t.port->mac(), client, 43001, SYN, 1000, 0))}).size() == 1);
    CHECK(t.w().find_conn(6, client, 42000, vip, 80) == nullptr);
    CHECK(t.w().counters().connections_evicted == 2);
    CHECK(t.drops(drop::table_full) == 0);
}

TEST_CASE("every tuple toward a backend held: a TIME_WAIT connection's tuple is taken over before a half-open one's",
          "[tcp_window][capacity]") {
    auto cfg = base_config("", {1});
    cfg["lport_range"] = "1024-1025"; // two local ports
    lb t(cfg);
    establish(t); // lport 1024
    REQUIRE(t.send({build_frame(from_client(t, FIN | ACK, 1001, 5001))}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, FIN | ACK, 5001, 1002))}).size() == 1);
    REQUIRE(t.send({build_frame(client_segment(t.port->mac(), client, 42000, SYN, 1000, 0))}).size() == 1); // 1025, half-open
    bytes out = t.send_one(build_frame(client_segment(t.port->mac(), client, 42001, SYN, 1000, 0)));
    REQUIRE(!out.empty());
    CHECK(get16(out, off::sport) == 1024);
    CHECK(state_of(t) == tcp_state::count);
    CHECK(t.w().find_conn(6, client, 42000, vip, 80) != nullptr);
    CHECK(t.w().counters().connections_evicted == 1);
}
