#include "conn/tcp_window.h"

#include <catch2/catch.hpp>

using namespace fulcrum::conn;
namespace tw = fulcrum::conn::tcp_window;

namespace {
// An established connection whose sequence numbers straddle 2^32: the client accepts
// 0xfffffff0 next, the backend 0x00000010; windows 1000 << 2 and 500 << 0.
connection straddling() {
    connection c{};
    c.proto = 6;
    c.state = tcp_state::established;
    c.flags = ack_in | ack_out;
    c.ack[0] = tw::be32(0xfffffff0u);
    c.ack[1] = tw::be32(0x00000010u);
    c.win[0] = 1000, c.win[1] = 500;
    c.wscale = 2; // the client's 2, the backend's 0
    return c;
}
tw::segment seg(uint8_t flags, uint32_t seq, uint32_t ack = 0, uint32_t len = 0) { return {seq, ack, len, 500, flags}; }
} // namespace

TEST_CASE("window checks hold across the wrap of the sequence space", "[tcp_window]") {
    connection c = straddling();
    CHECK(tw::window(c, 0) == 4000);
    // From the backend to the client (r = 0: next 0xfffffff0, window 4000).
    CHECK(tw::check(c, 1, seg(tw::rst | tw::ack, 0xfffffff0u + 3999, 0x10)) == tw::verdict::ok);   // wraps past 0
    CHECK(tw::check(c, 1, seg(tw::rst | tw::ack, 0xfffffff0u + 4001, 0x10)) == tw::verdict::out_of_window);
    CHECK(tw::check(c, 1, seg(tw::rst, 0xfffffff0u, 0)) == tw::verdict::ok);
    CHECK(tw::check(c, 1, seg(tw::rst, 0xfffffff1u, 0)) == tw::verdict::out_of_window);
    CHECK(tw::check(c, 1, seg(tw::ack, 0xfffffff0u - 60000, 0x10, 100)) == tw::verdict::ok); // an old retransmission
    CHECK(tw::check(c, 1, seg(tw::ack, 0xfffffff0u - 70000, 0x10, 100)) == tw::verdict::out_of_window);
    // The backend acknowledges the client's bytes: at most 500 (its own window) + 1 past 0x10.
    CHECK(tw::check(c, 1, seg(tw::ack, 0xfffffff0u, 0x10 + 501)) == tw::verdict::ok);
    CHECK(tw::check(c, 1, seg(tw::ack, 0xfffffff0u, 0x10 + 502)) == tw::verdict::out_of_window);
    // From the client (r = 1: next 0x10, window 500).
    CHECK(tw::check(c, 0, seg(tw::fin | tw::ack, 0x10 + 500, 0xfffffff0u, 1)) == tw::verdict::ok);
    CHECK(tw::check(c, 0, seg(tw::fin | tw::ack, 0x10 + 501, 0xfffffff0u, 1)) == tw::verdict::out_of_window);
    // note(): acknowledgments only move forward, across the wrap too.
    tw::note(c, 0, seg(tw::ack, 0x10, 0x00000005u));
    CHECK(tw::be32(c.ack[0]) == 0x00000005u);
    tw::note(c, 0, seg(tw::ack, 0x10, 0xfffffff8u));
    CHECK(tw::be32(c.ack[0]) == 0x00000005u);
}

TEST_CASE("the handshake sets the scales only when both sides offer", "[tcp_window]") {
    connection c{};
    c.proto = 6;
    c.state = tcp_state::syn_sent;
    tw::segment syn{1000, 0, 1, 64240, tw::syn, 7};
    tw::client_syn(c, syn);
    CHECK(tw::be32(c.ack[1]) == 1001);
    tw::segment wrong{5000, 1002, 1, 65160, tw::syn | tw::ack, 9};
    CHECK_FALSE(tw::backend_syn_ack(c, wrong));
    tw::segment synack{5000, 1001, 1, 65160, tw::syn | tw::ack, 9};
    CHECK(tw::backend_syn_ack(c, synack));
    CHECK(c.wscale == (7 | 9 << 4));
    CHECK(tw::be32(c.ack[0]) == 5001);
    connection d{};
    d.proto = 6;
    d.state = tcp_state::syn_sent;
    tw::client_syn(d, {1000, 0, 1, 64240, tw::syn, tw::no_scale});
    CHECK(tw::backend_syn_ack(d, synack));
    CHECK(d.wscale == 0);
}
