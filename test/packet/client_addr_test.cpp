// The client's address for backends: PROXY v2 (TCP and UDP) and TOA, checked byte for
// byte against the independent frame builder over whole conversations.
#include "harness.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using fulcrum::conn::tcp_state;
using fulcrum::dataplane::drop;

namespace {
// One backend; `field` on the tcp/80 listener (and on udp/53 when `udp`).
nlohmann::json client_addr_config(const char *field, const char *syn_proxy = "off", bool udp = false) {
    auto cfg = base_config("", {1});
    cfg["listeners"][0][field] = "on";
    cfg["listeners"][0]["SynProxy"] = syn_proxy;
    if (udp) cfg["listeners"][1][field] = "on";
    return cfg;
}


void put16(bytes &b, uint16_t v) { b.push_back(uint8_t(v >> 8)), b.push_back(uint8_t(v)); }
void put32(bytes &b, uint32_t v) { put16(b, uint16_t(v >> 16)), put16(b, uint16_t(v)); }

// The PROXY v2 header as HAProxy's specification writes it: PROXY command, IPv4,
// source = the client, destination = the VIP.
std::string proxy_v2_header(uint8_t family, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
    bytes h = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, family, 0x00, 12};
    put32(h, src), put32(h, dst), put16(h, sport), put16(h, dport);
    return std::string(h.begin(), h.end());
}
const std::string tcp_header = proxy_v2_header(0x11, client, 40000, vip, 80);

bytes timestamps(uint32_t val, uint32_t ecr) {
    bytes o = {1, 1, 8, 10};
    put32(o, val), put32(o, ecr);
    return o;
}
const bytes syn_opts = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}; // MSS 1460, WS, SACK, TS

// Fulcrum's own segment carrying the header: at the client's first sequence number.
frame_spec header_segment(lb &t, uint32_t seq, uint32_t ack, uint16_t window, bytes options) {
    frame_spec h = to_backend(t, from_client(t, PSH | ACK, seq, ack, tcp_header));
    h.ttl = 64, h.ip_id = 0, h.window = window, h.tcp_options = std::move(options);
    return h;
}

// The SYN proxy's cookie SYN-ACK to a SYN with ISN 1000 and every option.
bytes proxy_synack(lb &t) {
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = syn_opts;
    bytes out = t.send_one(build_frame(syn));
    REQUIRE(out.size() > 60);
    return out;
}

// SYN (ISN 1000) and SYN-ACK (ISN 5000) through a listener without the SYN proxy.
void handshake(lb &t) {
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = syn_opts;
    auto exp_syn = to_backend(t, syn);
    CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(exp_syn)));
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.tcp_options = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1};
    bytes out = t.send_one(build_frame(synack));
    CHECK(hex(out) == hex(build_frame(to_client(t, synack))));
}
} // namespace

TEST_CASE("PROXY v2 over TCP: the header goes first and sequence numbers shift by 28 for the whole conversation",
          "[client_addr][proxy_v2]") {
    lb t(client_addr_config("ProxyProtocolV2Enabled"));
    handshake(t);

    // The client's handshake ACK: the header segment (with the ACK's timestamps and
    // window) goes out ahead of it, and the ACK follows 28 bytes on.
    auto ack = from_client(t, ACK, 1001, 5001);
    ack.window = 502, ack.tcp_options = timestamps(100, 9);
    auto out = t.send({build_frame(ack)});
    REQUIRE(out.size() == 2);
    CHECK(hex(out[0]) == hex(build_frame(header_segment(t, 1001, 5001, 502, timestamps(100, 9)))));
    CHECK(checksums_valid(out[0]));
    auto exp_ack = to_backend(t, ack);
    exp_ack.seq = 1029;
    CHECK(hex(out[1]) == hex(build_frame(exp_ack)));
    CHECK(state_of(t) == tcp_state::established);
    CHECK(t.w().counters().proxy_v2_headers == 1);

    // The request: its bytes follow the header; its retransmission is the same bytes again.
    const std::string get = "GET / HTTP/1.0\r\n\r\n"; // 18 bytes
    auto req = from_client(t, PSH | ACK, 1001, 5001, get);
    req.tcp_options = timestamps(101, 9);
    auto exp_req = to_backend(t, req);
    exp_req.seq = 1029;
    for (int i = 0; i < 2; i++) {
        bytes r = t.send_one(build_frame(req));
        CHECK(hex(r) == hex(build_frame(exp_req)));
        CHECK(checksums_valid(r));
    }
    CHECK(t.w().counters().proxy_v2_headers == 1); // the header is not sent again

    // The backend acknowledges header and request: the client sees its own 18 bytes acked.
    auto reply = from_backend(t, PSH | ACK, 5001, 1029 + 18, "HTTP/1.0 200 OK\r\n\r\nhello");
    reply.tcp_options = timestamps(10, 101);
    auto exp_reply = to_client(t, reply);
    exp_reply.ack = 1001 + 18;
    bytes r = t.send_one(build_frame(reply));
    CHECK(hex(r) == hex(build_frame(exp_reply)));
    CHECK(checksums_valid(r));

    // SACK blocks name the client's bytes: back into its numbering, at an even and an odd offset.
    for (bytes lead : {bytes{1, 1}, bytes{1}}) {
        auto sack = from_backend(t, ACK, 5025, 1029 + 18);
        sack.tcp_options = lead;
        sack.tcp_options.insert(sack.tcp_options.end(), {5, 10});
        put32(sack.tcp_options, 1029 + 30), put32(sack.tcp_options, 1029 + 40);
        if (lead.size() == 1) sack.tcp_options.push_back(0);
        auto exp_sack = to_client(t, sack);
        exp_sack.ack = 1001 + 18;
        exp_sack.tcp_options = lead;
        exp_sack.tcp_options.insert(exp_sack.tcp_options.end(), {5, 10});
        put32(exp_sack.tcp_options, 1001 + 30), put32(exp_sack.tcp_options, 1001 + 40);
        if (lead.size() == 1) exp_sack.tcp_options.push_back(0);
        bytes s = t.send_one(build_frame(sack));
        CHECK(hex(s) == hex(build_frame(exp_sack)));
        CHECK(checksums_valid(s));
    }

    // FIN both ways and the last ACK.
    auto fin = from_client(t, FIN | ACK, 1019, 5025);
    auto exp_fin = to_backend(t, fin);
    exp_fin.seq = 1019 + 28;
    CHECK(hex(t.send_one(build_frame(fin))) == hex(build_frame(exp_fin)));
    auto fin2 = from_backend(t, FIN | ACK, 5025, 1019 + 28 + 1);
    auto exp_fin2 = to_client(t, fin2);
    exp_fin2.ack = 1020;
    CHECK(hex(t.send_one(build_frame(fin2))) == hex(build_frame(exp_fin2)));
    CHECK(state_of(t) == tcp_state::time_wait);
    auto last = from_client(t, ACK, 1020, 5026);
    auto exp_last = to_backend(t, last);
    exp_last.seq = 1020 + 28;
    CHECK(hex(t.send_one(build_frame(last))) == hex(build_frame(exp_last)));
    CHECK(t.w().counters().proxy_v2_headers_resent == 0);
}

TEST_CASE("PROXY v2: a backend that has not acknowledged the header gets it again, with the timestamps it echoes",
          "[client_addr][proxy_v2]") {
    lb t(client_addr_config("ProxyProtocolV2Enabled"));
    handshake(t);
    auto ack = from_client(t, ACK, 1001, 5001);
    ack.tcp_options = timestamps(100, 9);
    REQUIRE(t.send({build_frame(ack)}).size() == 2); // header and ACK: say the header was lost

    // The request arrives out of order at the backend, which repeats its ack of 1001.
    auto req = from_client(t, PSH | ACK, 1001, 5001, "hello");
    req.tcp_options = timestamps(101, 9);
    REQUIRE(t.send({build_frame(req)}).size() == 1);
    auto dup = from_backend(t, ACK, 5001, 1001);
    dup.tcp_options = timestamps(11, 100);
    auto out = t.send({build_frame(dup)});
    REQUIRE(out.size() == 2);
    // The resend: TSval = what the backend echoed, TSecr = the backend's own.
    CHECK(hex(out[0]) == hex(build_frame(header_segment(t, 1001, 5001, 65535, timestamps(100, 11)))));
    CHECK(hex(out[1]) == hex(build_frame(to_client(t, dup)))); // ack 1001 stays 1001 for the client
    CHECK(t.w().counters().proxy_v2_headers_resent == 1);

    // The backend's SYN-ACK again (it never saw the handshake's end) asks too; an ack
    // inside the header maps to the client's first byte.
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    REQUIRE(t.send({build_frame(synack)}).size() == 2);
    auto partial = from_backend(t, ACK, 5001, 1001 + 10);
    out = t.send({build_frame(partial)});
    REQUIRE(out.size() == 2);
    auto exp_partial = to_client(t, partial);
    exp_partial.ack = 1001;
    CHECK(hex(out[1]) == hex(build_frame(exp_partial)));
    CHECK(t.w().counters().proxy_v2_headers_resent == 3);

    // Once acknowledged, never again.
    REQUIRE(t.send({build_frame(from_backend(t, ACK, 5001, 1029 + 5))}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, ACK, 5001, 1029 + 5))}).size() == 1);
    CHECK(t.w().counters().proxy_v2_headers_resent == 3);
}

TEST_CASE("PROXY v2: resets cross in each side's numbering; a SYN's payload never reaches the backend",
          "[client_addr][proxy_v2]") {
    SECTION("the client resets after the header went") {
        lb t(client_addr_config("ProxyProtocolV2Enabled"));
        handshake(t);
        REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, 5001))}).size() == 2);
        auto rst = from_client(t, RST | ACK, 1001, 5001);
        auto exp = to_backend(t, rst);
        exp.seq = 1029;
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(exp)));
        CHECK(state_of(t) == tcp_state::close);
    }
    SECTION("the client resets before its handshake ended: no header, no shift") {
        lb t(client_addr_config("ProxyProtocolV2Enabled"));
        handshake(t);
        auto rst = from_client(t, RST, 1001, 0);
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(to_backend(t, rst))));
        CHECK(t.w().counters().proxy_v2_headers == 0);
    }
    SECTION("the backend resets") {
        lb t(client_addr_config("ProxyProtocolV2Enabled"));
        handshake(t);
        REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, 5001))}).size() == 2);
        auto rst = from_backend(t, RST | ACK, 5001, 1029);
        auto exp = to_client(t, rst);
        exp.ack = 1001;
        CHECK(hex(t.send_one(build_frame(rst))) == hex(build_frame(exp)));
        CHECK(t.w().counters().proxy_v2_headers_resent == 0);
    }
    SECTION("TCP Fast Open data in the SYN is removed (the client sends it again)") {
        lb t(client_addr_config("ProxyProtocolV2Enabled"));
        auto syn = from_client(t, SYN, 1000, 0, "early");
        syn.tcp_options = syn_opts;
        auto exp = to_backend(t, syn);
        exp.payload.clear();
        bytes out = t.send_one(build_frame(syn));
        CHECK(hex(out) == hex(build_frame(exp)));
        CHECK(checksums_valid(out));
        CHECK(t.w().counters().syn_data_trimmed == 1);
    }
}

TEST_CASE("PROXY v2 with the SYN proxy: the header follows the backend's SYN-ACK, both translations apply",
          "[client_addr][proxy_v2][synproxy]") {
    lb t(client_addr_config("ProxyProtocolV2Enabled", "on"));
    uint32_t cookie = seq_of(proxy_synack(t));
    REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))}).size() == 1); // the proxy's SYN
    CHECK(t.send({build_frame(from_client(t, PSH | ACK, 1001, cookie + 1, "hi"))}).empty()); // held

    auto out = t.send({build_frame(from_backend(t, SYN | ACK, 7000, 1001))});
    REQUIRE(out.size() == 3);
    CHECK(hex(out[0]) == hex(build_frame(header_segment(t, 1001, 7001, 65535, {}))));
    auto held_ack = to_backend(t, from_client(t, ACK, 1029, 7001));
    CHECK(hex(out[1]) == hex(build_frame(held_ack)));
    CHECK(hex(out[2]) == hex(build_frame(to_backend(t, from_client(t, PSH | ACK, 1029, 7001, "hi")))));

    const uint32_t delta = cookie - 7000;
    auto reply = from_backend(t, PSH | ACK, 7001, 1029 + 2, "ok");
    auto exp = to_client(t, from_backend(t, PSH | ACK, 7001 + delta, 1001 + 2, "ok"));
    exp.window = 512; // the backend did not scale, the client was promised 7: 65535 >> 7
    bytes r = t.send_one(build_frame(reply));
    CHECK(hex(r) == hex(build_frame(exp)));
    CHECK(checksums_valid(r));
    auto more = from_client(t, PSH | ACK, 1003, cookie + 3, "x");
    CHECK(hex(t.send_one(build_frame(more))) == hex(build_frame(to_backend(t, from_client(t, PSH | ACK, 1031, 7003, "x")))));
}

TEST_CASE("PROXY v2 over UDP: every datagram to the backend carries the header; replies pass unchanged",
          "[client_addr][proxy_v2][udp]") {
    lb t(client_addr_config("ProxyProtocolV2Enabled", "off", true));
    frame_spec q;
    q.dst_mac = t.port->mac(), q.src_mac = client_mac;
    q.proto = 17, q.src = client, q.dst = vip, q.sport = 5000, q.dport = 53, q.payload = "query";
    frame_spec exp = q;
    exp.dst_mac = backend_mac(0), exp.src_mac = t.port->mac();
    exp.src = laddr, exp.dst = be0, exp.sport = 1024, exp.dport = 5353, exp.ttl = 63;
    exp.payload = proxy_v2_header(0x12, client, 5000, vip, 53) + "query";
    for (bool zero : {false, true}) { // a zero checksum ("none") stays zero
        q.udp_zero_checksum = exp.udp_zero_checksum = zero;
        bytes out = t.send_one(build_frame(q));
        CHECK(hex(out) == hex(build_frame(exp)));
        CHECK(checksums_valid(out));
    }
    CHECK(t.w().counters().proxy_v2_headers == 2);

    frame_spec resp;
    resp.dst_mac = t.port->mac(), resp.src_mac = backend_mac(0);
    resp.proto = 17, resp.src = be0, resp.dst = laddr, resp.sport = 5353, resp.dport = 1024, resp.payload = "answer";
    frame_spec exp_resp = resp;
    exp_resp.dst_mac = client_mac, exp_resp.src_mac = t.port->mac();
    exp_resp.src = vip, exp_resp.dst = client, exp_resp.sport = 53, exp_resp.dport = 5000, exp_resp.ttl = 63;
    CHECK(hex(t.send_one(build_frame(resp))) == hex(build_frame(exp_resp)));

    // A datagram the header would push past the MTU: "fragmentation needed" for MTU - 28.
    q.payload = std::string(1500 - 20 - 8 - 10, 'x'); // fits the MTU by 10 bytes, not with the header
    bytes big = build_frame(q);
    bytes err = t.send_one(big);
    bytes quoted(big.begin() + 14, big.end());
    CHECK(hex(err) == hex(build_icmp_error(client_mac, t.port->mac(), vip, client, 64, 3, 4, 1500 - 28, quoted,
                                           576 - 20 - 8)));
    CHECK(t.drops(drop::too_big) == 1);
}

TEST_CASE("TOA: option 254 with the client's address on the handshake's ACK and the first data segment only",
          "[client_addr][toa]") {
    lb t(client_addr_config("ToaEnabled"));
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = syn_opts;
    CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(to_backend(t, syn))));
    // The backend offers MSS 1460; the client is told 1452, room for the option.
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.tcp_options = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
    auto exp_synack = to_client(t, synack);
    exp_synack.tcp_options = {2, 4, 0x05, 0xac, 1, 1, 4, 2};
    bytes sa = t.send_one(build_frame(synack));
    CHECK(hex(sa) == hex(build_frame(exp_synack)));
    CHECK(checksums_valid(sa));

    bytes toa = {254, 8};
    put16(toa, 40000), put32(toa, client);
    auto with_toa = [&](frame_spec s) {
        s = to_backend(t, s);
        bytes opts = toa;
        opts.insert(opts.end(), s.tcp_options.begin(), s.tcp_options.end());
        s.tcp_options = opts;
        return s;
    };
    auto ack = from_client(t, ACK, 1001, 5001);
    ack.tcp_options = timestamps(100, 9);
    bytes a = t.send_one(build_frame(ack));
    CHECK(hex(a) == hex(build_frame(with_toa(ack))));
    CHECK(checksums_valid(a));

    auto first = from_client(t, PSH | ACK, 1001, 5001, std::string(1452 - 12, 'a')); // a full segment with timestamps
    first.tcp_options = timestamps(101, 9);
    for (int i = 0; i < 2; i++) { // and its retransmission
        bytes f = t.send_one(build_frame(first));
        CHECK(hex(f) == hex(build_frame(with_toa(first))));
        CHECK(checksums_valid(f));
        CHECK(f.size() == 14 + 1500);
    }
    auto second = from_client(t, PSH | ACK, 1001 + 1440, 5001, "more");
    CHECK(hex(t.send_one(build_frame(second))) == hex(build_frame(to_backend(t, second))));
    auto reply = from_backend(t, ACK, 5001, 1001 + 1444);
    CHECK(hex(t.send_one(build_frame(reply))) == hex(build_frame(to_client(t, reply))));
    CHECK(t.w().counters().toa_options == 3);
    CHECK(t.w().counters().toa_no_room == 0);
}

TEST_CASE("TOA: no option space or no MTU room leaves the segment as it was, counted", "[client_addr][toa]") {
    lb t(client_addr_config("ToaEnabled"));
    auto syn = from_client(t, SYN, 1000, 0);
    REQUIRE(t.send({build_frame(syn)}).size() == 1);
    REQUIRE(t.send({build_frame(from_backend(t, SYN | ACK, 5000, 1001))}).size() == 1);
    auto full = from_client(t, ACK, 1001, 5001);
    full.tcp_options = bytes(40, 1); // 40 bytes of NOPs: no room
    CHECK(hex(t.send_one(build_frame(full))) == hex(build_frame(to_backend(t, full))));
    auto big = from_client(t, PSH | ACK, 1001, 5001, std::string(1460, 'b')); // ignores the MSS it was given
    CHECK(hex(t.send_one(build_frame(big))) == hex(build_frame(to_backend(t, big))));
    CHECK(t.w().counters().toa_no_room == 2);
    CHECK(t.w().counters().toa_options == 0);
}

TEST_CASE("TOA with the SYN proxy: the cookie SYN-ACK offers 8 bytes less, the held ACK carries the option",
          "[client_addr][toa][synproxy]") {
    lb t(client_addr_config("ToaEnabled", "on"));
    bytes sa = proxy_synack(t);
    CHECK(get16(sa, off::tcp_options + 2) == 1452); // MSS option right after the fixed header
    uint32_t cookie = seq_of(sa);
    REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))}).size() == 1);
    bytes out = t.send_one(build_frame(from_backend(t, SYN | ACK, 7000, 1001)));
    auto exp = to_backend(t, from_client(t, ACK, 1001, 7001));
    exp.tcp_options = {254, 8};
    put16(exp.tcp_options, 40000), put32(exp.tcp_options, client);
    CHECK(hex(out) == hex(build_frame(exp)));
    CHECK(checksums_valid(out));
}

TEST_CASE("a listener's client-address setting applies to connections made after it changed",
          "[client_addr]") {
    auto cfg = base_config("", {1});
    cfg["listeners"][0]["SynProxy"] = "off";
    lb t(cfg);
    handshake(t);
    cfg["listeners"][0]["ProxyProtocolV2Enabled"] = "on";
    REQUIRE(t.apply(cfg));
    t.poll_all();
    auto ack = from_client(t, ACK, 1001, 5001);
    CHECK(hex(t.send_one(build_frame(ack))) == hex(build_frame(to_backend(t, ack)))); // made before: no header
    auto syn = from_client(t, SYN, 1000, 0);
    syn.sport = 40001;
    REQUIRE(t.send({build_frame(syn)}).size() == 1);
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    synack.dport = 1025;
    REQUIRE(t.send({build_frame(synack)}).size() == 1);
    ack.sport = 40001;
    CHECK(t.send({build_frame(ack)}).size() == 2); // made after: header and ACK
}
