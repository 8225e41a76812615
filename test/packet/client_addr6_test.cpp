// The client's address for backends when the client is IPv6, byte for byte: PROXY v2
// with the AF_INET6 block (52 bytes) over TCP and UDP, to IPv6 (6->6) and IPv4 (6->4)
// backends, and TOA with the 20-byte IPv6 option (DPVS kmod/toa's layout: kind 254,
// length 20, client port, client address).
#include "ipv6_frames.h"

#include <catch2/catch.hpp>

using namespace fulcrum::test;
using fulcrum::conn::tcp_state;

namespace {
// dual_config with `field` on the IPv6 VIP's tcp/80 (6->4) and tcp/81 (6->6) listeners,
// and on its UDP ones when `udp`.
nlohmann::json client_addr6_config(const char *field, bool udp = false, const char *syn_proxy = "off") {
    auto cfg = dual_config();
    for (auto &l : cfg["listeners"]) {
        if (l["VIP"] != "2001:db8::10") continue;
        if (l["Protocol"] == "tcp") l[field] = "on", l["SynProxy"] = syn_proxy;
        else if (udp) l[field] = "on";
    }
    return cfg;
}

void put16(bytes &b, uint16_t v) { b.push_back(uint8_t(v >> 8)), b.push_back(uint8_t(v)); }
void put_addr(bytes &b, const addr6 &a) { b.insert(b.end(), a.begin(), a.end()); }

// HAProxy's specification: PROXY command, AF_INET6 (0x21 stream, 0x22 datagram), a
// 36-byte address block: source = the client, destination = the VIP.
std::string proxy_v2_header6(uint8_t family, uint16_t sport, uint16_t dport) {
    bytes h = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, family, 0x00, 36};
    put_addr(h, six::client), put_addr(h, six::vip), put16(h, sport), put16(h, dport);
    return std::string(h.begin(), h.end());
}
bytes toa6() {
    bytes o = {254, 20};
    put16(o, six::cport), put_addr(o, six::client);
    return o;
}

// The backend-bound form of a client segment, 6->6 or 6->4 (vport 81 or 80).
frame_spec toward_backend(lb &t, const frame_spec &s, uint16_t vport, uint16_t &id) {
    return vport == 81 ? to_backend6(t, s) : to_backend4(t, s, id);
}
frame_spec from_backend_of(lb &t, uint16_t vport, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = "") {
    return vport == 81 ? from_backend6(t, 6, flags, seq, ack, std::move(payload))
                       : from_backend4(t, 6, flags, seq, ack, std::move(payload));
}

// SYN (ISN 1000, MSS 1440) and the backend's SYN-ACK (ISN 5000, `backend_mss`); returns
// the MSS the client was told.
uint16_t handshake6(lb &t, uint16_t vport, uint16_t &id, uint16_t backend_mss) {
    auto syn = from_client6(t, 6, vport, SYN, 1000, 0);
    syn.tcp_options = {2, 4, 0x05, 0xa0};
    CHECK(hex(t.send_one(build_frame(syn))) == hex(build_frame(toward_backend(t, syn, vport, id))));
    auto synack = from_backend_of(t, vport, SYN | ACK, 5000, 1001);
    synack.tcp_options = {2, 4, uint8_t(backend_mss >> 8), uint8_t(backend_mss)};
    bytes out = t.send_one(build_frame(synack));
    REQUIRE(out.size() >= off6::tcp_options + 4);
    CHECK(checksums_valid(out));
    return get16(out, off6::tcp_options + 2);
}
} // namespace

TEST_CASE("PROXY v2 for IPv6 clients over TCP: a 52-byte AF_INET6 header goes first, to an IPv6 backend (6->6) and "
          "an IPv4 one (6->4), and sequence numbers shift by 52",
          "[ipv6][client_addr][proxy_v2]") {
    for (uint16_t vport : {uint16_t(81), uint16_t(80)}) {
        lb t(client_addr6_config("ProxyProtocolV2Enabled"));
        uint16_t id = 0;
        handshake6(t, vport, id, 1440);
        auto ack = from_client6(t, 6, vport, ACK, 1001, 5001);
        ack.window = 502;
        auto out = t.send({build_frame(ack)});
        REQUIRE(out.size() == 2);
        // Fulcrum's own segment: at the client's first sequence number, from the laddr.
        uint16_t own_id = 0; // (Fulcrum's own IPv4 segment: DF, identification 0)
        auto header = toward_backend(
            t, from_client6(t, 6, vport, PSH | ACK, 1001, 5001, proxy_v2_header6(0x21, six::cport, vport)), vport, own_id);
        header.ttl = 64, header.tos = 0, header.window = 502;
        if (vport == 80) header.ip_id = 0, header.df = true;
        CHECK(hex(out[0]) == hex(build_frame(header)));
        CHECK(checksums_valid(out[0]));
        auto exp_ack = toward_backend(t, ack, vport, id);
        exp_ack.seq = 1001 + 52;
        CHECK(hex(out[1]) == hex(build_frame(exp_ack)));
        CHECK(t.w().counters().proxy_v2_headers == 1);

        auto req = from_client6(t, 6, vport, PSH | ACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n");
        auto exp_req = toward_backend(t, req, vport, id);
        exp_req.seq = 1053;
        CHECK(hex(t.send_one(build_frame(req))) == hex(build_frame(exp_req)));
        // The backend acknowledges the header and the request: the client sees its 18 bytes.
        auto reply = from_backend_of(t, vport, PSH | ACK, 5001, 1053 + 18, "ok");
        auto exp_reply = to_client6(t, reply, vport);
        exp_reply.ack = 1001 + 18;
        bytes r = t.send_one(build_frame(reply));
        CHECK(hex(r) == hex(build_frame(exp_reply)));
        CHECK(checksums_valid(r));
        CHECK(only_conn(t)->state == tcp_state::established);
    }
}

TEST_CASE("PROXY v2 for IPv6 clients over UDP: every datagram to the backend carries the AF_INET6 header, 6->6 and "
          "6->4; one it would push past the MTU gets packet too big",
          "[ipv6][client_addr][proxy_v2][udp]") {
    for (uint16_t vport : {uint16_t(54), uint16_t(53)}) {
        lb t(client_addr6_config("ProxyProtocolV2Enabled", true));
        uint16_t id = 0;
        auto q = from_client6(t, 17, vport, 0, 0, 0, "query");
        frame_spec exp = vport == 54 ? to_backend6(t, q) : to_backend4(t, q, id);
        exp.payload = proxy_v2_header6(0x22, six::cport, vport) + "query";
        if (vport == 53) exp.df = false; // (small: an identification, no DF)
        bytes out = t.send_one(build_frame(q));
        CHECK(hex(out) == hex(build_frame(exp)));
        CHECK(checksums_valid(out));
        CHECK(t.w().counters().proxy_v2_headers == 1);

        // Too big with the header: the client hears the MTU that leaves room for it.
        uint32_t back_l3 = vport == 54 ? 40 : 20;
        q.payload = std::string(1500 - 40 - 8 - 10, 'x'); // fits the client's 1500 by 10 bytes
        bytes big = build_frame(q);
        bytes err = t.send_one(big);
        bytes quoted(big.begin() + 14, big.end());
        CHECK(hex(err) == hex(build_icmp6_error(client_mac, t.port->mac(), six::vip, six::client, 64, 2, 0,
                                                1500 + 40 - back_l3 - 52, quoted, 1280 - 48)));
    }
}

TEST_CASE("TOA for IPv6 clients: the 20-byte option on the handshake's ACK and first data segment, 6->6 and 6->4; "
          "the client's MSS leaves room for it",
          "[ipv6][client_addr][toa]") {
    for (uint16_t vport : {uint16_t(81), uint16_t(80)}) {
        lb t(client_addr6_config("ToaEnabled"));
        uint16_t id = 0;
        // 6->6: the backend's port carries 1500 - 60 - 20; 6->4: 1500 - 40 - 20 (IPv4 headers).
        CHECK(handshake6(t, vport, id, 1460) == (vport == 81 ? 1420 : 1440));
        auto with_toa = [&](const frame_spec &s) {
            frame_spec e = toward_backend(t, s, vport, id);
            bytes opts = toa6();
            opts.insert(opts.end(), e.tcp_options.begin(), e.tcp_options.end());
            e.tcp_options = opts;
            if (vport == 80) e.df = 20 + 20 + e.tcp_options.size() + e.payload.size() > 1260;
            return e;
        };
        auto ack = from_client6(t, 6, vport, ACK, 1001, 5001);
        bytes a = t.send_one(build_frame(ack));
        CHECK(hex(a) == hex(build_frame(with_toa(ack))));
        CHECK(checksums_valid(a));
        auto first = from_client6(t, 6, vport, PSH | ACK, 1001, 5001, "hello");
        bytes f = t.send_one(build_frame(first));
        CHECK(hex(f) == hex(build_frame(with_toa(first))));
        CHECK(checksums_valid(f));
        auto second = from_client6(t, 6, vport, PSH | ACK, 1006, 5001, "more");
        CHECK(hex(t.send_one(build_frame(second))) == hex(build_frame(toward_backend(t, second, vport, id))));
        CHECK(t.w().counters().toa_options == 2);
    }
}

TEST_CASE("TOA with the IPv6 SYN proxy: the cookie SYN-ACK offers 20 bytes less, the held ACK carries the option",
          "[ipv6][client_addr][toa][synproxy]") {
    lb t(client_addr6_config("ToaEnabled", false, "on"));
    auto syn = from_client6(t, 6, 81, SYN, 1000, 0);
    syn.tcp_options = {2, 4, 0x05, 0xa0};
    bytes sa = t.send_one(build_frame(syn));
    REQUIRE(sa.size() >= off6::tcp_options + 4);
    CHECK(get16(sa, off6::tcp_options + 2) == 1500 - 60 - 20);
    uint32_t cookie = get32(sa, off6::tcp_seq);
    REQUIRE(t.send({build_frame(from_client6(t, 6, 81, ACK, 1001, cookie + 1))}).size() == 1); // the backend's SYN
    bytes out = t.send_one(build_frame(from_backend6(t, 6, SYN | ACK, 7000, 1001)));
    auto exp = to_backend6(t, from_client6(t, 6, 81, ACK, 1001, 7001));
    exp.tcp_options = toa6();
    CHECK(hex(out) == hex(build_frame(exp)));
    CHECK(checksums_valid(out));
}
