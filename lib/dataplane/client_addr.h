// The client's address for backends behind full-NAT (per listener, at most one of
// ProxyProtocolV2Enabled and ToaEnabled), and the side translation it shares with the
// SYN proxy.
//
// PROXY v2, TCP: the 28-byte header (PROXY, TCP over IPv4, client -> VIP) is a segment
//   of Fulcrum's own at the client's first sequence number, sent when the client
//   acknowledges the backend's SYN-ACK (with the SYN proxy: when the backend answers).
//   The client's bytes then sit 28 further in the backend's numbering: client -> backend
//   seq + 28; backend -> client ack and SACK - 28, never below the client's first
//   sequence. No segment grows, so no MSS changes. A backend segment whose ack has not
//   passed the header (its SYN-ACK again, a duplicate ACK) has the header sent again,
//   with the timestamps the backend echoes, so its PAWS check passes.
// PROXY v2, UDP: the header (UDP over IPv4) before every datagram's payload toward the
//   backend; replies pass unchanged. A datagram the header would push past the MTU is
//   answered "fragmentation needed" for MTU - 28 (DF) or dropped as too_big.
// TOA: option 254 (length 8: client port, client address) right after the fixed TCP
//   header of each client segment at the client's first sequence number: the ACK that
//   completes the handshake, the first data segment and their retransmissions. The MSS
//   the client is offered leaves 8 bytes for it; a segment with no option space left
//   goes without it (counted).
// An IPv6 client (6->6 and 6->4): the header's AF_INET6 block makes it 52 bytes (so the
//   shift is 52), and the TOA option is 20 bytes (kind, length, port, 16-byte address:
//   DPVS kmod/toa's TCPOLEN_IP6_TOA); headers.h proxy_v2_len_of / toa_len_of.
// Health probes are the control thread's own kernel sockets and never pass here.
#pragma once

// Its counter rows (counters.h).
#define FULCRUM_CLIENT_ADDR_COUNTERS(X) X(proxy_v2_headers, counter, "PROXY v2 headers sent to backends (one per TCP connection, one per UDP datagram).")  \
    X(proxy_v2_headers_resent, counter, "PROXY v2 headers sent again: a backend segment had not acknowledged it.")     \
    X(toa_options, counter, "Client segments given the TOA option (254).")                                            \
    X(toa_no_room, counter,                                                                                            \
      "Client segments at the first sequence number sent without TOA: no option space or over the MTU.")               \
    X(syn_data_trimmed, counter, "SYN payloads (TCP Fast Open) removed on PROXY v2 listeners, sent again by the client.")

#include "dataplane/neighbours.h"
#include "dataplane/side_table.h"

#include <rte_tcp.h>

namespace fulcrum::dataplane {

class client_addr {
  public:
    FULCRUM_COUNTERS_OF(FULCRUM_CLIENT_ADDR_COUNTERS);
    client_addr(rte_mempool *pool, const conn::conn_table &conns, neighbours &neigh, drop_counts &drops)
        : _pool(pool), _conns(conns), _neigh(neigh), _drops(drops) {}

    // UDP, client to backend: the header in front of the payload (the caller checked the
    // MTU left room for it); false when the datagram was dropped (no headroom).
    bool add_udp_header(rte_mbuf *m, const connection &c, uint32_t l4_off);
    // TCP, client to backend, before the rewrite: TOA inserted at the first sequence
    // number, a SYN's payload removed on PROXY v2; never consumes. `max_frame`: the
    // backend port's Ethernet header + MTU.
    void prepare_tcp(rte_mbuf *m, const connection &c, const conn_side &s, uint32_t l4_off, uint32_t max_frame);
    // Sequence, acknowledgment, SACK and window translation of a has_side connection's
    // segment (SYN proxy and PROXY v2), the PROXY header sent or resent; returns the
    // checksum delta.
    uint32_t translate(connection &c, conn_side &s, unsigned dir, rte_tcp_hdr *tcp, const snapshot &snap);
    const counters &counts() const { return _counters; }

  private:
    void send_header(const connection &c, conn_side &s, const rte_tcp_hdr *trigger, unsigned dir, const snapshot &snap);

    rte_mempool *_pool;
    const conn::conn_table &_conns; // (an IPv6 connection's addresses)
    neighbours &_neigh;
    drop_counts &_drops;
    counters _counters;
};

} // namespace fulcrum::dataplane
