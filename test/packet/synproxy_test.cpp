// SYN proxy: cookie SYN-ACKs, the backend handshake after a valid ACK, and sequence
// translation for the whole connection, checked byte for byte.
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using fulcrum::conn::tcp_state;
using fulcrum::dataplane::drop;

namespace {
nlohmann::json proxy_config(const char *mode = "on") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["SynProxy"] = mode;
    return cfg;
}
const bytes syn_opts = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}; // MSS, WS 7, SACK, TS
const bytes proxy_opts = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};                      // no timestamps

// The cookie SYN-ACK for the standard SYN; returns the cookie (our ISN).
uint32_t cookie_handshake(lb &t) {
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = syn_opts;
    bytes out = t.send_one(build_frame(syn));
    REQUIRE(out.size() > 41);
    uint32_t cookie = seq_of(out);
    frame_spec exp = to_client(t, from_client(t, SYN | ACK, cookie, 1001));
    exp.ttl = 64, exp.ip_id = 0, exp.tcp_options = proxy_opts;
    CHECK(hex(out) == hex(build_frame(exp)));
    return cookie;
}
} // namespace

TEST_CASE("SynProxy on: a SYN gets a cookie SYN-ACK, and nothing is kept or sent to a backend", "[synproxy]") {
    lb t(proxy_config());
    cookie_handshake(t);
    CHECK(t.w().conns().in_use() == 0);
    CHECK(t.w().counters().syn_cookies_sent == 1);
    CHECK(t.w().counters().syn_proxy_backend_syns == 0);
}

TEST_CASE("an ACK with a wrong cookie opens nothing; a valid one opens the backend side", "[synproxy]") {
    lb t(proxy_config());
    uint32_t cookie = cookie_handshake(t);
    CHECK(t.send({build_frame(from_client(t, ACK, 1001, cookie + 2))}).empty());
    CHECK(t.send({build_frame(from_client(t, ACK, 1002, cookie + 1))}).empty()); // another ISN
    CHECK(t.drops(drop::no_conn) == 2);
    CHECK(t.w().conns().in_use() == 0);

    bytes out = t.send_one(build_frame(from_client(t, ACK, 1001, cookie + 1)));
    frame_spec syn = to_backend(t, from_client(t, SYN, 1000, 0));
    syn.ttl = 64, syn.ip_id = 0, syn.tcp_options = proxy_opts; // the client's MSS, scale and SACK
    CHECK(hex(out) == hex(build_frame(syn)));
    CHECK(state_of(t) == tcp_state::syn_sent);
    CHECK(t.w().counters().syn_proxy_connections == 1);
}

TEST_CASE("a proxied connection translates sequence numbers both ways for its whole life", "[synproxy]") {
    lb t(proxy_config());
    uint32_t cookie = cookie_handshake(t);
    REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, cookie + 1, ""))}).size() == 1); // backend SYN
    auto ack = from_client(t, ACK, 1001, cookie + 1);
    ack.window = 502;
    // The client speaks first, before the backend answered: held, not lost.
    auto get = from_client(t, PSH | ACK, 1001, cookie + 1, "GET / HTTP/1.0\r\n\r\n");
    CHECK(t.send({build_frame(get)}).empty());

    // The backend's SYN-ACK (ISN 5000) is consumed; the held segments follow, acked in its numbers.
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.tcp_options = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
    auto out = t.send({build_frame(synack)});
    REQUIRE(out.size() == 2);
    auto first = to_backend(t, from_client(t, ACK, 1001, 5001));
    CHECK(hex(out[0]) == hex(build_frame(first)));
    CHECK(hex(out[1]) == hex(build_frame(to_backend(t, from_client(t, PSH | ACK, 1001, 5001, get.payload)))));
    CHECK(state_of(t) == tcp_state::established);
    const uint32_t delta = cookie - 5000;

    // Backend data: its sequence moves into the client's numbering; a retransmission alike.
    auto reply = from_backend(t, PSH | ACK, 5001, 1019, "HTTP/1.0 200 OK\r\n\r\nhello");
    auto exp_reply = to_client(t, from_backend(t, PSH | ACK, 5001 + delta, 1019, reply.payload));
    for (int i = 0; i < 2; i++) {
        bytes r = t.send_one(build_frame(reply));
        CHECK(hex(r) == hex(build_frame(exp_reply)));
        CHECK(checksums_valid(r));
    }

    // The client acknowledges part and SACKs the rest: both come back into the backend's numbers.
    auto sack = from_client(t, ACK, 1019, cookie + 1 + 10);
    auto put32 = [](bytes &b, uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
    };
    sack.tcp_options = {1, 1, 5, 10};
    put32(sack.tcp_options, cookie + 1 + 20);
    put32(sack.tcp_options, cookie + 1 + 25);
    auto exp_sack = to_backend(t, from_client(t, ACK, 1019, 5001 + 10));
    exp_sack.tcp_options = {1, 1, 5, 10};
    put32(exp_sack.tcp_options, 5001 + 20);
    put32(exp_sack.tcp_options, 5001 + 25);
    bytes s_out = t.send_one(build_frame(sack));
    CHECK(hex(s_out) == hex(build_frame(exp_sack)));
    CHECK(checksums_valid(s_out));
    // The same block at an odd offset (a single NOP before it, then padding).
    sack.tcp_options = {1, 5, 10};
    put32(sack.tcp_options, cookie + 1 + 20);
    put32(sack.tcp_options, cookie + 1 + 25);
    sack.tcp_options.push_back(0);
    exp_sack.tcp_options = {1, 5, 10};
    put32(exp_sack.tcp_options, 5001 + 20);
    put32(exp_sack.tcp_options, 5001 + 25);
    exp_sack.tcp_options.push_back(0);
    s_out = t.send_one(build_frame(sack));
    CHECK(hex(s_out) == hex(build_frame(exp_sack)));
    CHECK(checksums_valid(s_out));

    // FIN both ways, then the last ACK.
    auto fin = from_client(t, FIN | ACK, 1019, cookie + 1 + 25);
    CHECK(hex(t.send_one(build_frame(fin))) == hex(build_frame(to_backend(t, from_client(t, FIN | ACK, 1019, 5001 + 25)))));
    auto fin2 = from_backend(t, FIN | ACK, 5001 + 25, 1020);
    CHECK(hex(t.send_one(build_frame(fin2))) ==
          hex(build_frame(to_client(t, from_backend(t, FIN | ACK, 5001 + 25 + delta, 1020)))));
    CHECK(state_of(t) == tcp_state::time_wait);
    auto last = from_client(t, ACK, 1020, cookie + 1 + 26);
    CHECK(hex(t.send_one(build_frame(last))) == hex(build_frame(to_backend(t, from_client(t, ACK, 1020, 5001 + 26)))));
    CHECK(t.w().counters().syn_proxy_established == 1);
}

TEST_CASE("resets cross a proxied connection in the numbering each side expects", "[synproxy]") {
    SECTION("from the backend") {
        lb t(proxy_config());
        uint32_t cookie = cookie_handshake(t);
        t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))});
        t.send({build_frame(from_backend(t, SYN | ACK, 7000, 1001))});
        uint32_t delta = cookie - 7000;
        auto rst = from_backend(t, RST | ACK, 7001, 1001);
        // The backend's SYN-ACK did not scale, the client was promised 7: its window reads 65535 >> 7.
        auto exp = to_client(t, from_backend(t, RST | ACK, 7001 + delta, 1001));
        exp.window = 512;
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(exp)));
        CHECK(state_of(t) == tcp_state::close);
    }
    SECTION("from the client") {
        lb t(proxy_config());
        uint32_t cookie = cookie_handshake(t);
        t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))});
        t.send({build_frame(from_backend(t, SYN | ACK, 7000, 1001))});
        auto rst = from_client(t, RST | ACK, 1001, cookie + 1);
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_backend(t, from_client(t, RST | ACK, 1001, 7001)))));
    }
    SECTION("a backend that refuses the proxy's SYN: the client is reset where it stands") {
        lb t(proxy_config());
        uint32_t cookie = cookie_handshake(t);
        t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))});
        bytes out = t.send_one(build_frame(from_backend(t, RST | ACK, 0, 1001)));
        frame_spec exp = to_client(t, from_backend(t, RST, cookie + 1, 0));
        exp.ttl = 64, exp.ip_id = 0, exp.window = 0;
        CHECK(hex(out) == hex(build_frame(exp)));
        CHECK(state_of(t) == tcp_state::close);
    }
    SECTION("no backend up: the cookie's ACK is answered with a reset at its acknowledgment") {
        auto cfg = proxy_config();
        cfg["default_server_group"][0]["Weight"] = 0;
        lb t(cfg);
        auto syn = from_client(t, SYN, 1000, 0);
        frame_spec refused = to_client(t, from_client(t, RST | ACK, 0, 1001)); // a reset already: nothing serves
        refused.src = vip, refused.dst = client, refused.sport = 80, refused.dport = 40000;
        refused.ttl = 64, refused.ip_id = 0, refused.window = 0;
        CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(refused)));
        CHECK(t.drops(drop::no_backend) == 1);
        CHECK(t.w().conns().in_use() == 0);
        cfg["default_server_group"][0]["Weight"] = 1;
        lb t2(cfg);
        uint32_t cookie = cookie_handshake(t2);
        cfg["default_server_group"][0]["Weight"] = 0;
        REQUIRE(t2.apply(cfg));
        t2.poll_all();
        bytes out = t2.send_one(build_frame(from_client(t2, ACK, 1001, cookie + 1)));
        frame_spec exp = to_client(t2, from_client(t2, RST, cookie + 1, 0));
        exp.src = vip, exp.dst = client, exp.sport = 80, exp.dport = 40000;
        exp.ttl = 64, exp.ip_id = 0, exp.window = 0;
        CHECK(hex(out) == hex(build_frame(exp)));
    }
}

TEST_CASE("windows from a backend with another scale are rescaled to the one the client was promised",
          "[synproxy]") {
    lb t(proxy_config());
    uint32_t cookie = cookie_handshake(t); // promised scale 7
    t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))});
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.tcp_options = {2, 4, 0x05, 0xb4, 1, 3, 3, 5}; // the backend scales by 2^5
    t.send({build_frame(synack)});
    auto data = from_backend(t, ACK, 5001, 1001, "x");
    data.window = 1001; // 32,032 bytes: 250.25 units of 128, rounded up
    auto exp = to_client(t, from_backend(t, ACK, cookie + 1, 1001, "x"));
    exp.window = 251;
    CHECK(hex(t.send_one(build_frame(data))) == hex(build_frame(exp)));
}

TEST_CASE("SynProxy auto engages past syn_proxy_threshold half-open connections and lets go below half",
          "[synproxy]") {
    auto cfg = proxy_config("auto");
    cfg["syn_proxy_threshold"] = 4;
    lb t(cfg);
    // While idle the proxy costs nothing: the SYN goes to the backend as it came.
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = syn_opts;
    for (uint16_t i = 0; i < 5; i++) {
        syn.sport = uint16_t(40000 + i);
        frame_spec exp = to_backend(t, syn);
        exp.sport = uint16_t(1024 + i);
        CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(exp)));
    }
    CHECK(t.w().counters().syn_cookies_sent == 0);
    // Five half-open (> 4): the next SYN is answered by the proxy.
    syn.sport = 40005;
    bytes out = t.send_one(build_frame(syn));
    CHECK(t.w().counters().syn_cookies_sent == 1);
    CHECK(t.w().counters().syn_proxy_engaged == 1);
    CHECK(t.w().conns().in_use() == 5);
    // Its ACK opens the connection even after the half-open ones are gone.
    uint32_t cookie = seq_of(out);
    t.advance_seconds(31);
    CHECK(t.w().conns().in_use() == 0);
    auto ack = from_client(t, ACK, 1001, cookie + 1);
    ack.sport = 40005;
    CHECK(t.send({build_frame(ack)}).size() == 1); // the proxy's SYN to the backend
    // Below half the threshold: plain forwarding again.
    syn.sport = 40006;
    frame_spec exp = to_backend(t, syn);
    exp.sport = 1030; // lports 1024-1028 went back to the end of the pool, 1029 is the proxied one's
    CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(exp)));
    CHECK(t.w().counters().syn_cookies_sent == 1);
}

TEST_CASE("a backend that does not scale: the client keeps the promised 7, windows translated both ways",
          "[synproxy]") {
    lb t(proxy_config());
    uint32_t cookie = cookie_handshake(t); // the client offered 7, was promised 7
    t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))});
    t.send({build_frame(from_backend(t, SYN | ACK, 5000, 1001))}); // no window scale option
    // The backend's 65535 bytes read as 512 units of 128 by the client...
    auto down = from_backend(t, ACK, 5001, 1001, "x");
    auto exp_down = to_client(t, from_backend(t, ACK, cookie + 1, 1001, "x"));
    exp_down.window = 512;
    CHECK(hex(t.send_one(build_frame(down))) == hex(build_frame(exp_down)));
    // ...and the client's 100 units of 128 reach the backend as 12,800 bytes.
    auto up = from_client(t, ACK, 1001, cookie + 2);
    up.window = 100;
    auto exp_up = to_backend(t, from_client(t, ACK, 1001, 5002));
    exp_up.window = 12800;
    CHECK(hex(t.send_one(build_frame(up))) == hex(build_frame(exp_up)));
    CHECK(t.w().counters().tcp_out_of_window == 0);
}

TEST_CASE("a cookie ACK that carries the client's FIN (and data) opens the connection", "[synproxy]") {
    lb t(proxy_config());
    uint32_t cookie = cookie_handshake(t);
    auto ack_fin = from_client(t, FIN | PSH | ACK, 1001, cookie + 1, "bye");
    bytes syn = t.send_one(build_frame(ack_fin)); // held; the proxy's SYN goes to the backend
    REQUIRE(!syn.empty());
    CHECK(syn[off::tcp_flags] == SYN);
    CHECK(t.w().counters().syn_proxy_connections == 1);
    auto out = t.send({build_frame(from_backend(t, SYN | ACK, 7000, 1001))});
    REQUIRE(out.size() == 1);
    CHECK(hex(out[0]) == hex(build_frame(to_backend(t, from_client(t, FIN | PSH | ACK, 1001, 7001, "bye")))));
    CHECK(state_of(t) == tcp_state::fin_wait);
}

TEST_CASE("held client segments stay within the worker's mbuf budget: a backend that drops SYNs cannot starve rx",
          "[synproxy]") {
    lb t(proxy_config());
    const unsigned pool = rte_mempool_avail_count(test_pool());
    // 600 clients complete the proxy's handshake and send three segments each; the
    // backend never answers. Held frames would be 600 x 4 = 2,400; the budget is an
    // eighth of the pool (16,383 / 8 = 2,047).
    for (uint16_t i = 0; i < 600; i++) {
        auto syn = client_segment(t.port->mac(), client, uint16_t(30000 + i), SYN, 1000, 0);
        bytes synack = t.send_one(build_frame(syn));
        REQUIRE(synack.size() > 41);
        uint32_t cookie = seq_of(synack);
        std::vector<bytes> segs = {build_frame(client_segment(t.port->mac(), client, uint16_t(30000 + i), ACK, 1001, cookie + 1))};
        for (int k = 0; k < 3; k++)
            segs.push_back(build_frame(client_segment(t.port->mac(), client, uint16_t(30000 + i), PSH | ACK,
                                                      1001 + 10 * k, cookie + 1, "0123456789")));
        t.send(segs);
    }
    // Every client got in: once the budget was full, each new cookie ACK ended the
    // connection that had waited longest (its client's next segment would open it again).
    CHECK(t.w().counters().syn_proxy_connections == 600);
    CHECK(t.w().counters().syn_proxy_waiting_evicted >= 600 - 512);
    CHECK(t.w().find_conn(6, client, 30000, vip, 80) == nullptr);
    CHECK(t.w().find_conn(6, client, 30599, vip, 80) != nullptr);
    CHECK(pool - rte_mempool_avail_count(test_pool()) <= 2047 + 64);
    // An unrelated flow still gets its mbufs.
    frame_spec q;
    q.proto = 17, q.dst_mac = t.port->mac(), q.src_mac = client_mac;
    q.src = client, q.dst = vip, q.sport = 5000, q.dport = 53, q.payload = "q";
    CHECK(t.send({build_frame(q)}).size() == 1);
}
