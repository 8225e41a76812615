// The SYN proxy for IPv6 clients, byte for byte: the cookie SYN-ACK over the IPv6 tuple,
// the backend's SYN after a valid ACK (IPv6 for 6->6, IPv4 for 6->4), held segments,
// sequence and SACK translation for the connection's life, a backend's refusal, and
// SynProxy auto on an IPv6 listener.
#include "ipv6_frames.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using fulcrum::conn::tcp_state;
using fulcrum::dataplane::drop;

namespace {
// dual_config with the proxy on both IPv6 TCP listeners (tcp/80: 6->4, tcp/81: 6->6).
nlohmann::json proxy6_config(const char *mode = "on") {
    auto cfg = dual_config();
    for (auto &l : cfg["listeners"])
        if (l["Protocol"] == "tcp" && l["VIP"] == "2001:db8::10") l["SynProxy"] = mode;
    return cfg;
}
// MSS 1440 (a 1500-byte IPv6 link), window scale 7, SACK permitted, timestamps.
const bytes syn_opts6 = {2, 4, 0x05, 0xa0, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
// What the proxy offers and passes on: MSS, scale 7, SACK permitted; never timestamps.
bytes proxy_opts(uint16_t mss) { return {2, 4, uint8_t(mss >> 8), uint8_t(mss), 1, 3, 3, 7, 1, 1, 4, 2}; }

uint32_t seq6_of(const bytes &f) { return get32(f, off6::tcp_seq); }

// The cookie SYN-ACK for the client's SYN (ISN 1000) to `vport`: from the VIP, hop limit
// 64, traffic class 0, MSS of the port's 1500 less IPv6's 60; returns the cookie.
uint32_t cookie_handshake6(lb &t, uint16_t vport) {
    auto syn = from_client6(t, 6, vport, SYN, 1000, 0);
    syn.tcp_options = syn_opts6;
    bytes out = t.send_one(build_frame(syn));
    REQUIRE(out.size() > off6::tcp_seq + 4);
    uint32_t cookie = seq6_of(out);
    frame_spec exp = to_client6(t, from_client6(t, 6, vport, SYN | ACK, cookie, 1001), vport);
    exp.ttl = 64, exp.tos = 0, exp.tcp_options = proxy_opts(1440);
    CHECK(hex(out) == hex(build_frame(exp)));
    CHECK(checksums_valid(out));
    return cookie;
}
} // namespace

TEST_CASE("IPv6 SYN proxy, 6->6: cookie SYN-ACK, only the right ACK opens the backend side, held segments and "
          "translation both ways with SACK",
          "[ipv6][synproxy]") {
    lb t(proxy6_config());
    uint32_t cookie = cookie_handshake6(t, 81);
    CHECK(t.w().conns().in_use() == 0); // nothing kept for a SYN
    CHECK(t.w().counters().syn_cookies_sent == 1);

    // A wrong cookie, or the right one for another ISN: nothing.
    CHECK(t.send({build_frame(from_client6(t, 6, 81, ACK, 1001, cookie + 2))}).empty());
    CHECK(t.send({build_frame(from_client6(t, 6, 81, ACK, 1002, cookie + 1))}).empty());
    CHECK(t.drops(drop::no_conn) == 2);
    CHECK(t.w().conns().in_use() == 0);

    // The right ACK: the backend gets an IPv6 SYN with the client's ISN, MSS, scale, SACK.
    auto ack = from_client6(t, 6, 81, ACK, 1001, cookie + 1);
    bytes out = t.send_one(build_frame(ack));
    frame_spec bsyn = to_backend6(t, from_client6(t, 6, 81, SYN, 1000, 0));
    bsyn.ttl = 64, bsyn.tos = 0, bsyn.tcp_options = proxy_opts(1440);
    CHECK(hex(out) == hex(build_frame(bsyn)));
    CHECK(checksums_valid(out));
    REQUIRE(only_conn(t));
    CHECK(only_conn(t)->state == tcp_state::syn_sent);
    CHECK(t.w().counters().syn_proxy_connections == 1);

    // The client speaks before the backend answered: held.
    auto get = from_client6(t, 6, 81, PSH | ACK, 1001, cookie + 1, "GET / HTTP/1.0\r\n\r\n");
    CHECK(t.send({build_frame(get)}).empty());

    // The backend's SYN-ACK (ISN 5000) is consumed; the held segments go on in its numbers.
    auto synack = from_backend6(t, 6, SYN | ACK, 5000, 1001);
    synack.tcp_options = proxy_opts(1440);
    auto sent = t.send({build_frame(synack)});
    REQUIRE(sent.size() == 2);
    CHECK(hex(sent[0]) == hex(build_frame(to_backend6(t, from_client6(t, 6, 81, ACK, 1001, 5001)))));
    CHECK(hex(sent[1]) == hex(build_frame(to_backend6(t, from_client6(t, 6, 81, PSH | ACK, 1001, 5001, get.payload)))));
    CHECK(only_conn(t)->state == tcp_state::established);
    CHECK(t.w().counters().syn_proxy_established == 1);
    const uint32_t delta = cookie - 5000;

    // Backend data: its sequence moves into the client's numbering.
    auto data = from_backend6(t, 6, PSH | ACK, 5001, 1019, "HTTP/1.0 200 OK\r\n");
    out = t.send_one(build_frame(data));
    CHECK(hex(out) == hex(build_frame(to_client6(t, from_backend6(t, 6, PSH | ACK, 5001 + delta, 1019, data.payload), 81))));
    CHECK(checksums_valid(out));
    // The client acknowledges with a SACK block: both edges back in the backend's numbers.
    auto sack = from_client6(t, 6, 81, ACK, 1019, cookie + 1 + 17);
    auto block = [](uint32_t l, uint32_t r) {
        return bytes{1, 1, 5, 10, uint8_t(l >> 24), uint8_t(l >> 16), uint8_t(l >> 8), uint8_t(l),
                     uint8_t(r >> 24), uint8_t(r >> 16), uint8_t(r >> 8), uint8_t(r)};
    };
    sack.tcp_options = block(cookie + 100, cookie + 200);
    out = t.send_one(build_frame(sack));
    auto sack_exp = from_client6(t, 6, 81, ACK, 1019, 5001 + 17);
    sack_exp.tcp_options = block(5100, 5200);
    CHECK(hex(out) == hex(build_frame(to_backend6(t, sack_exp))));
    CHECK(checksums_valid(out));
}

TEST_CASE("IPv6 SYN proxy, 6->4: the IPv4 backend gets an IPv4 SYN with the client's options, and the proxied "
          "connection translates both ways",
          "[ipv6][synproxy]") {
    lb t(proxy6_config());
    uint32_t cookie = cookie_handshake6(t, 80);
    bytes out = t.send_one(build_frame(from_client6(t, 6, 80, ACK, 1001, cookie + 1)));
    frame_spec bsyn;
    bsyn.dst_mac = backend_mac(0), bsyn.src_mac = t.port->mac();
    bsyn.src = net::laddr, bsyn.dst = net::backend(0), bsyn.sport = 1024, bsyn.dport = net::bport;
    bsyn.tcp_flags = SYN, bsyn.seq = 1000, bsyn.ip_id = 0, bsyn.ttl = 64;
    bsyn.tcp_options = proxy_opts(1440); // the client's 1440 fits IPv4's 1460
    CHECK(hex(out) == hex(build_frame(bsyn)));
    CHECK(checksums_valid(out));

    auto synack = from_backend4(t, 6, SYN | ACK, 7000, 1001);
    synack.tcp_options = proxy_opts(1460);
    auto sent = t.send({build_frame(synack)});
    REQUIRE(sent.size() == 1); // the held ACK, translated to IPv4
    uint16_t id = 0;
    CHECK(hex(sent[0]) == hex(build_frame(to_backend4(t, from_client6(t, 6, 80, ACK, 1001, 7001), id))));
    const uint32_t delta = cookie - 7000;
    auto data = from_backend4(t, 6, PSH | ACK, 7001, 1001, "hello");
    out = t.send_one(build_frame(data));
    CHECK(hex(out) == hex(build_frame(to_client6(t, from_backend4(t, 6, PSH | ACK, 7001 + delta, 1001, "hello"), 80))));
    auto up = from_client6(t, 6, 80, PSH | ACK, 1001, cookie + 6, "world");
    out = t.send_one(build_frame(up));
    CHECK(hex(out) == hex(build_frame(to_backend4(t, from_client6(t, 6, 80, PSH | ACK, 1001, 7006, "world"), id))));
    CHECK(only_conn(t)->state == tcp_state::established);
}

TEST_CASE("IPv6 SYN proxy: a backend that refuses resets the client over IPv6; SynProxy auto engages on an IPv6 "
          "listener past the threshold",
          "[ipv6][synproxy]") {
    {
        lb t(proxy6_config());
        uint32_t cookie = cookie_handshake6(t, 81);
        t.send_one(build_frame(from_client6(t, 6, 81, ACK, 1001, cookie + 1)));
        bytes out = t.send_one(build_frame(from_backend6(t, 6, RST | ACK, 0, 1001)));
        frame_spec rst;
        rst.v6 = true, rst.dst_mac = client_mac, rst.src_mac = t.port->mac();
        rst.src6 = six::vip, rst.dst6 = six::client, rst.sport = 81, rst.dport = six::cport;
        rst.tcp_flags = RST, rst.seq = cookie + 1, rst.window = 0;
        CHECK(hex(out) == hex(build_frame(rst)));
        CHECK(only_conn(t)->state == tcp_state::close);
    }
    auto cfg = proxy6_config("auto");
    cfg["syn_proxy_threshold"] = 4;
    lb t(cfg);
    // Five half-open IPv6 connections pass (a SYN each reaches the backend)...
    for (uint16_t p = 0; p < 5; p++) {
        auto syn = from_client6(t, 6, 81, SYN, 1, 0);
        syn.sport = uint16_t(30000 + p);
        bytes out = t.send_one(build_frame(syn));
        REQUIRE(!out.empty());
        CHECK(fulcrum::test::get16(out, off6::sport) == 1024 + p); // from the laddr: forwarded
    }
    // ...and past the threshold the proxy answers with a cookie.
    auto syn = from_client6(t, 6, 81, SYN, 1, 0);
    syn.sport = 31000;
    bytes out = t.send_one(build_frame(syn));
    REQUIRE(!out.empty());
    CHECK(get16(out, off6::sport) == 81);
    CHECK(out[off6::tcp_flags] == (SYN | ACK));
    CHECK(t.w().counters().syn_proxy_engaged == 1);
    CHECK(t.w().counters().syn_cookies_sent == 1);
}

TEST_CASE("IPv6 SYN proxy: an ICMPv6 error about a translated segment reaches the backend quoting the sequence number "
          "it sent",
          "[ipv6][synproxy][icmp]") {
    lb t(proxy6_config());
    uint32_t cookie = cookie_handshake6(t, 81);
    t.send_one(build_frame(from_client6(t, 6, 81, ACK, 1001, cookie + 1)));
    REQUIRE(t.send({build_frame(from_backend6(t, 6, SYN | ACK, 5000, 1001))}).size() == 1);
    const uint32_t delta = cookie - 5000;
    // The backend's data toward the client, as Fulcrum sent it (sequence + delta).
    auto data = from_backend6(t, 6, PSH | ACK, 5001, 1001, std::string(300, 'd'));
    bytes sent = t.send_one(build_frame(data));
    REQUIRE(get32(sent, off6::tcp_seq) == 5001 + delta);
    // A router on the client's side says 1400 about it: the backend hears it about the
    // segment as it sent it, from the laddr.
    bytes sent_ip(sent.begin() + 14, sent.end());
    bytes out = t.send_one(build_icmp6_error(t.port->mac(), six::stranger_mac, six::stranger, six::vip, 64, 2, 0, 1400,
                                             sent_ip, sent_ip.size()));
    auto as_sent = data;
    as_sent.ttl = 63;     // the hop limit the client's side saw
    as_sent.window = 512; // (the window stays as the client saw it, rescaled to the proxy's 7: the kernel matches ports and sequence)
    bytes as_sent_frame = build_frame(as_sent);
    bytes as_sent_ip(as_sent_frame.begin() + 14, as_sent_frame.end());
    CHECK(hex(out) == hex(build_icmp6_error(six::backend_mac, t.port->mac(), six::laddr, six::backend, 63, 2, 0, 1400,
                                            as_sent_ip, as_sent_ip.size())));
    CHECK(checksums_valid(out));
}
