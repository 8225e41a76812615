// TCP state only the endpoints can move: each segment is checked against the windows
// both sides advertised, as conntrack's tcp_in_window does, before it may change the
// connection (state, the acknowledgments resets use, the windows themselves). A segment
// that fails is still forwarded, since the endpoints decide for themselves (their
// kernels drop it as RFC 5961 says), but it changes nothing here and is counted.
//
// What is kept (conn.h): per side its last acknowledgment ack[] (the sequence it
// accepts next), its last window field win[] and its window scale (wscale nibble).
// For a segment from side d to side r:
//   sequence  its bytes [seq, seq + len) touch r's window: seq <= ack[r] + window(r),
//             and seq + len >= ack[r] - max(window(r), 64 KiB) (retransmissions).
//   RST       with ACK: ack[r] <= seq <= ack[r] + window(r); without: seq == ack[r]
//             exactly (what a kernel resetting a segment it has no socket for sends).
//   ack       d cannot acknowledge what r was never allowed to send: ack <= ack[d] +
//             window(d) + 1, and not older than ack[d] - max(window(d), 64 KiB).
// Sequence numbers are compared in the receiver's numbering (after the SYN proxy's or
// PROXY header's translation), acknowledgments in the sender's: both as they reach or
// leave the endpoint they belong to.
//
// The handshake: the client's SYN makes ack[1] its ISN + 1 (what the backend must
// acknowledge) and, until the SYN-ACK, keeps in ack[0] the window scale it offered. The
// SYN-ACK counts only if it acknowledges that ISN; it sets ack[0] (the backend's ISN +
// 1) and both scales (the offered ones when both sides offered, else none).
#pragma once

#include "conn/conn.h"

#include <algorithm>
#include <cstdint>

namespace fulcrum::conn::tcp_window {

constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, ack = 0x10;
constexpr uint8_t no_scale = 15; // a SYN without the window scale option

// One segment as the check sees it (host byte order).
struct segment {
    uint32_t seq; // in the receiver's numbering
    uint32_t ack; // in the sender's numbering
    uint32_t len; // payload bytes, plus one for SYN and one for FIN
    uint16_t win; // the raw window field
    uint8_t flags;
    uint8_t wscale = no_scale; // a SYN's window scale option (at most 14)
};

inline uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
inline bool before_eq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
inline bool after(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

inline unsigned scale(const connection &c, unsigned side) { return (c.wscale >> (side * 4)) & 15u; }
// What side `side` accepts beyond its acknowledgment, in bytes.
inline uint32_t window(const connection &c, unsigned side) { return uint32_t(c.win[side]) << scale(c, side); }
inline uint8_t ack_flag(unsigned side) { return side == 0 ? conn_flags::ack_in : conn_flags::ack_out; }

enum class verdict : uint8_t {
    ok,            // in window: it may change the connection
    out_of_window, // forwarded, changes nothing
};

// The client's SYN (the first or a retransmission): what the backend must acknowledge.
inline void client_syn(connection &c, const segment &s) {
    c.ack[1] = be32(s.seq + 1);
    c.flags |= conn_flags::ack_out;
    c.ack[0] = s.wscale; // until the SYN-ACK (ack_in unset): the scale the client offered
    c.win[0] = s.win;
}

// The backend's SYN-ACK: false (nothing changed) when it does not acknowledge the SYN.
inline bool backend_syn_ack(connection &c, const segment &s) {
    if (!(s.flags & ack) || s.ack != be32(c.ack[1])) return false;
    if (!(c.flags & conn_flags::ack_in)) { // the first: ack[0] still holds the client's offer
        uint32_t client = c.ack[0];
        c.wscale = client < no_scale && s.wscale < no_scale ? static_cast<uint8_t>(client | s.wscale << 4) : 0;
    }
    c.ack[0] = be32(s.seq + 1);
    c.flags |= conn_flags::ack_in;
    c.win[1] = s.win;
    return true;
}

// The two range tests, each one unsigned compare (sequence differences up to 2^31):
// a segment [seq, seq + len) touches the receiver's window (it accepts `next` on, `wnd`
// bytes; retransmissions from up to max(wnd, 64 KiB) back)...
inline bool seq_in_window(uint32_t seq, uint32_t len, uint32_t next, uint32_t wnd) {
    uint32_t back = std::max<uint32_t>(wnd, 65536);
    return seq + len - (next - back) <= wnd + back + len;
}
// ...and an acknowledgment passes nothing the peer was not allowed to send (the sender's
// previous one `prev` plus its window `wnd`, and a FIN), nor lags by more than max(wnd, 64 KiB).
inline bool ack_in_window(uint32_t ack_no, uint32_t prev, uint32_t wnd) {
    uint32_t back = std::max<uint32_t>(wnd, 65536);
    return ack_no - (prev - back) <= wnd + 1 + back;
}

// A segment from side `d` after the handshake's SYNs (the checks above).
inline verdict check(const connection &c, unsigned d, const segment &s) {
    unsigned r = 1 - d;
    if (!(c.flags & ack_flag(r)) && (s.flags & rst)) // the backend's reset of the SYN: it must acknowledge it
        return (s.flags & ack) && (c.flags & ack_flag(d)) && s.ack == be32(c.ack[d]) ? verdict::ok : verdict::out_of_window;
    if (c.flags & ack_flag(r)) {
        uint32_t next = be32(c.ack[r]), wnd = window(c, r);
        bool ok = !(s.flags & rst) ? seq_in_window(s.seq, s.len, next, wnd)
                  : (s.flags & ack) ? s.seq - next <= wnd
                                    : s.seq == next;
        if (!ok) return verdict::out_of_window;
    }
    if ((s.flags & ack) && (c.flags & ack_flag(d)) && !ack_in_window(s.ack, be32(c.ack[d]), window(c, d)))
        return verdict::out_of_window;
    return verdict::ok;
}

// check() for the common segment, with what ESTABLISHED already says (both
// acknowledgments known) and no SYN, FIN or RST, ACK set: the hot path's.
inline bool established_ok(const connection &c, unsigned d, uint32_t seq, uint32_t len, uint32_t ack_no) {
    unsigned r = 1 - d;
    return seq_in_window(seq, len, be32(c.ack[r]), window(c, r)) && ack_in_window(ack_no, be32(c.ack[d]), window(c, d));
}

// What an in-window segment from `d` teaches: its acknowledgment (only forward) and window.
inline void note(connection &c, unsigned d, const segment &s) {
    if (s.flags & ack) {
        if (!(c.flags & ack_flag(d)) || after(s.ack, be32(c.ack[d]))) c.ack[d] = be32(s.ack);
        c.flags |= ack_flag(d);
    }
    if (!(s.flags & rst)) c.win[d] = s.win; // a reset's window (often 0) says nothing
}

} // namespace fulcrum::conn::tcp_window
