// One full-NAT connection: both directions' tuples, rewrite deltas and timer links in a
// single 64-byte cache line.
//
//   direction 0 (in):  cip:cport -> vip:vport   becomes laddr:lport -> bip:bport
//   direction 1 (out): bip:bport -> laddr:lport becomes vip:vport   -> cip:cport
//
// Addresses and ports are kept in network byte order, exactly as they sit in headers.
//
// IPv6 (6->6 and 6->4): a direction whose tuple is IPv6 has 0 in its destination word
// (vip for direction 0, laddr for 1), which no IPv4 key can carry (the worker drops IPv4
// to 0.0.0.0 before any lookup); its addresses live in a 64-byte `conn_addr6` of the
// table's IPv6 pool, whose index is in `cip`. A 6->4 connection's direction 1 is plain
// IPv4 (laddr, bip as above); a 6->6 connection's is IPv6 too (bip 0).
#pragma once

#include <cstdint>

namespace fulcrum::conn {

enum class tcp_state : uint8_t {
    none,        // UDP connections
    syn_sent,    // client SYN forwarded to the backend, waiting for its SYN-ACK
    syn_recv,    // backend SYN-ACK forwarded, waiting for the client's ACK
    established, //
    fin_wait,    // one side sent FIN
    time_wait,   // both sides sent FIN
    close,       // RST seen; kept briefly so stragglers still translate
    count
};

const char *tcp_state_name(tcp_state s);

enum conn_flags : uint8_t {
    fin_in = 1 << 0,  // FIN seen from the client
    fin_out = 1 << 1, // FIN seen from the backend
    ack_in = 1 << 2,  // ack[0] holds the client's acknowledgment number
    ack_out = 1 << 3, // ack[1] holds the backend's
    udp_replied = ack_out, // UDP (no acknowledgments): a reply came back
    assured = 1 << 4, // TCP: reached ESTABLISHED (until it finishes); UDP: both ways 10 s on. Never evicted.
    src_counted = 1 << 5, // counted in its listener's per-source table
    has_side = 1 << 6,    // has a worker side entry: opened by the SYN proxy (sequence numbers
                          // translated) or telling its backend the client's address
    half_open = 1 << 7,   // counted in its listener's half-open number (SynProxy auto)
};

struct alignas(64) connection {
    uint32_t cip, vip, laddr, bip;
    // Each direction's (source, destination) port pair is adjacent, as in a header, so
    // a key compares them as one 32-bit word.
    uint16_t cport, vport; // direction 0
    uint16_t bport, lport; // direction 1
    uint16_t neigh[2]; // per direction: the worker's neighbour-table slot of the next hop
    // TCP: the last acknowledgment number each side sent (network order) = the sequence
    // number that side accepts next, so a reset Fulcrum sends on its own is exact.
    // UDP: ack[0] is the tick the flow started at, ack[1] which directions came 10 s on
    // (see worker::forward).
    uint32_t ack[2];

    uint32_t expire_tick; // lazily extended; the wheel re-files the entry when it fires
    uint32_t timer_next, timer_prev;
    // TCP: the window field each side last sent in a segment that passed the window
    // check (host order; scaled by its wscale nibble): what that side accepts beyond its
    // acknowledgment. See tcp_window.h.
    uint16_t win[2];

    uint16_t ip_delta; // folded checksum delta of direction 0 (addresses only)
    uint16_t l4_delta; // folded checksum delta of direction 0 (addresses and ports)
    uint16_t backend_slot; // counters slot of the backend

    uint8_t listener; // listener slot: its timeouts and drain setting live with the worker
    uint8_t proto;    // IPPROTO_TCP / IPPROTO_UDP; 0 while the entry is free
    tcp_state state;
    uint8_t flags;
    uint8_t out_ports; // per direction a nibble: the snapshot index of the port it leaves by (at most 16)
    // TCP: per side a nibble, the window scale its windows are read with (low: the
    // client's, high: the backend's); until the backend's SYN-ACK the low nibble holds
    // the scale the client offered, 15 for none.
    uint8_t wscale;

    uint8_t out_port(unsigned dir) const { return static_cast<uint8_t>((out_ports >> (dir * 4)) & 15); }
    void set_out_port(unsigned dir, uint8_t port) {
        out_ports = static_cast<uint8_t>((out_ports & ~(15u << (dir * 4))) | (port & 15u) << (dir * 4));
    }
};
static_assert(sizeof(connection) == 64, "a connection must fit one cache line");

// The IPv6 addresses of a connection with an IPv6 side (see the top of this file).
struct alignas(64) conn_addr6 {
    uint8_t cip[16], vip[16], laddr[16], bip[16];
};
static_assert(sizeof(conn_addr6) == 64);

inline bool dir_v6(const connection &c, unsigned dir) { return (dir == 0 ? c.vip : c.laddr) == 0; }
inline bool is_v6(const connection &c) { return c.vip == 0; }

// A TCP connection both ends are done with (TIME_WAIT) or one reset (CLOSE): kept only
// so stragglers translate, and the first to give way for room.
inline bool finished(const connection &c) {
    return c.proto == 6 /* IPPROTO_TCP */ && (c.state == tcp_state::time_wait || c.state == tcp_state::close);
}

// Two adjacent 16-bit ports as one word, source port first in memory as in a header.
// Building and comparing keys with whole words avoids store-forwarding stalls that
// separate 16-bit stores followed by a 32-bit load cause (measured in the hot path).
inline uint32_t load_ports(const void *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}
inline uint32_t pack_ports(uint16_t src, uint16_t dst) {
    uint16_t two[2] = {src, dst};
    return load_ports(two);
}

// The 5-tuple as a packet carries it, in network order.
struct flow_key {
    uint32_t src, dst;
    uint32_t ports; // see load_ports
    uint8_t proto;

    uint16_t sport() const {
        uint16_t two[2];
        __builtin_memcpy(two, &ports, 4);
        return two[0];
    }
    uint16_t dport() const {
        uint16_t two[2];
        __builtin_memcpy(two, &ports, 4);
        return two[1];
    }
};

// The 5-tuple of an IPv6 packet (addresses as in the header).
struct flow_key6 {
    uint8_t src[16], dst[16];
    uint32_t ports; // see load_ports
    uint8_t proto;

    uint16_t sport() const { return flow_key{0, 0, ports, proto}.sport(); }
    uint16_t dport() const { return flow_key{0, 0, ports, proto}.dport(); }
};

inline flow_key6 key6_of(const connection &c, const conn_addr6 &a, unsigned dir) {
    flow_key6 k;
    __builtin_memcpy(k.src, dir == 0 ? a.cip : a.bip, 16);
    __builtin_memcpy(k.dst, dir == 0 ? a.vip : a.laddr, 16);
    k.ports = load_ports(dir == 0 ? &c.cport : &c.bport);
    k.proto = c.proto;
    return k;
}

inline bool key6_matches(const connection &c, const conn_addr6 &a, unsigned dir, const flow_key6 &k) {
    const uint8_t *src = dir == 0 ? a.cip : a.bip, *dst = dir == 0 ? a.vip : a.laddr;
    return load_ports(dir == 0 ? &c.cport : &c.bport) == k.ports && c.proto == k.proto &&
           __builtin_memcmp(src, k.src, 16) == 0 && __builtin_memcmp(dst, k.dst, 16) == 0;
}

inline flow_key key_of(const connection &c, unsigned dir) {
    if (dir == 0) return {c.cip, c.vip, load_ports(&c.cport), c.proto};
    return {c.bip, c.laddr, load_ports(&c.bport), c.proto};
}

inline bool key_matches(const connection &c, unsigned dir, const flow_key &k) {
    if (dir == 0)
        return c.cip == k.src && c.vip == k.dst && load_ports(&c.cport) == k.ports && c.proto == k.proto;
    return c.bip == k.src && c.laddr == k.dst && load_ports(&c.bport) == k.ports && c.proto == k.proto;
}

} // namespace fulcrum::conn
