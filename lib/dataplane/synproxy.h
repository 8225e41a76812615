// SYN proxy with SYN cookies (per TCP listener: SynProxy auto/on/off).
//
//   client SYN      -> SYN-ACK from Fulcrum, ISN = cookie; no state, nothing to a backend
//   client ACK      -> cookie checked; the worker makes the connection (listener, caps,
//                      scheduler, lport) and open() sends a SYN with the client's ISN and
//                      options to the backend; the ACK (and up to three more segments) wait
//   backend SYN-ACK -> delta = cookie - backend ISN; the waiting segments go on; the
//                      SYN-ACK itself is consumed (the client had ours)
//   afterwards      -> backend to client: seq + delta, window rescaled to the scale the
//                      client was promised; client to backend: ack and SACK blocks - delta
//                      (client_addr.h translates, from the side entry)
//
// The SYN-ACK offers MSS, window scale 7 and SACK when the client did, never timestamps,
// so a proxied connection runs without them on both sides. `auto` engages per worker
// while a listener's half-open connections exceed syn_proxy_threshold and lets go below
// half of it; connections made while it is idle carry no proxy state and pay nothing.
#pragma once

// Its counter rows (counters.h).
#define FULCRUM_SYNPROXY_COUNTERS(X) X(syn_cookies_sent, counter, "SYN-ACKs with a cookie sent by the SYN proxy.")                                  \
    X(syn_proxy_connections, counter, "Connections opened by a valid cookie ACK.")                                 \
    X(syn_proxy_established, counter, "Proxied connections the backend accepted.")                                 \
    X(syn_proxy_backend_syns, counter, "SYNs the proxy sent to backends (retries included).")                      \
    X(syn_proxy_engaged, counter, "Times SynProxy auto engaged on a listener (half-open over syn_proxy_threshold).") \
    X(syn_proxy_waiting_evicted, counter,                                                                          \
      "Proxied connections still waiting for their backend ended to make room (slots or held-frame budget full).")

#include "dataplane/clock.h"
#include "dataplane/neighbours.h"
#include "dataplane/side_table.h"
#include "net/syn_cookie.h"

#include <rte_tcp.h>

#include <array>
#include <vector>

namespace fulcrum::dataplane {

class synproxy {
  public:
    static constexpr unsigned max_held = 4;         // client segments kept per waiting connection
    static constexpr unsigned waiting_slots = 16384; // per worker: more wait their client's retry
    FULCRUM_COUNTERS_OF(FULCRUM_SYNPROXY_COUNTERS);
    // What the worker does with a segment of a connection still waiting for its backend.
    enum class verdict : uint8_t {
        consumed,    // held or dropped here
        forward,     // a client reset: forward it as usual (the wait is over)
        established, // the backend accepted: forward the held segments
        refused,     // the backend reset: close, and reset the client
    };
    struct held_segments {
        unsigned n = 0;
        rte_mbuf *m[max_held];
    };

    // `n_workers`: the pool's share this worker may hold (held_budget) is its part of an
    // eighth of the pool.
    synproxy(const std::array<uint8_t, 16> &key, rte_mempool *pool, uint32_t n_workers, side_table &side,
             const conn::conn_table &conns, neighbours &neigh, tx_buffers &tx, drop_counts &drops,
             const worker_clock &clock);
    ~synproxy();
    synproxy(const synproxy &) = delete;
    synproxy &operator=(const synproxy &) = delete;

    // Is the proxy answering this listener's SYNs now (auto: by its half-open count)?
    bool engaged(const listener_rt &l, uint32_t threshold);
    // Half-open connections of listeners without the proxy (what `auto` watches).
    void half_open_begin(connection &c) {
        c.flags |= conn::half_open;
        _half_open[c.listener]++;
    }
    void half_open_done(connection &c) {
        if (!(c.flags & conn::half_open)) return;
        c.flags &= static_cast<uint8_t>(~conn::half_open);
        _half_open[c.listener]--;
    }

    // A SYN answered in place with the cookie SYN-ACK (consumes the mbuf).
    void answer(rte_mbuf *m, uint8_t in_port, uint32_t l4_off, const flow_key &key, const listener_rt &l,
                const snapshot &s);
    // The same for an IPv6 SYN (the TCP header right after the IPv6 header).
    void answer6(rte_mbuf *m, uint8_t in_port, const conn::flow_key6 &key, const listener_rt &l, const snapshot &s);
    // The options a client's ACK's cookie carries, or false when it is not a valid cookie.
    bool check_cookie(const rte_mbuf *m, uint32_t l4_off, const flow_key &key, net::cookie_options &out) const;
    bool check_cookie6(const rte_mbuf *m, const conn::flow_key6 &key, net::cookie_options &out) const;
    // A waiting slot, and room in the held-frame budget for the cookie ACK itself.
    bool can_wait() const { return !_free.empty() && _held < _held_budget; }
    // When it cannot: the connection index of the one that has waited longest, for the
    // worker to end so a new one can wait (its client's next segment carries the same
    // valid cookie and opens it again); false when none waits.
    bool oldest_waiting(uint32_t &conn_index);
    void count_waiting_evicted() { _counters.syn_proxy_waiting_evicted++; }
    // Client frames this worker may hold while backends answer: a backend that drops
    // SYNs cannot pin the mbufs every rx refill needs.
    uint32_t held_budget() const { return _held_budget; }
    uint32_t held() const { return _held; }
    // The connection the cookie ACK `ack` made (its side entry open): the ACK is held and
    // the SYN goes to the backend.
    void open(connection &c, uint32_t conn_index, rte_mbuf *ack, uint32_t l4_off, const net::cookie_options &o,
              const snapshot &s);
    bool waiting(uint32_t conn_index) const { return _side.at(conn_index).pending != 0; }
    // A segment of a waiting connection (waiting() is true); `held` is filled on `established`.
    verdict on_segment(rte_mbuf *m, connection &c, uint32_t conn_index, unsigned dir, uint32_t l4_off,
                       const snapshot &s, held_segments &held);
    // The connection ends while waiting: its held segments are freed.
    void forget(uint32_t conn_index);
    const counters &counts() const { return _counters; }

  private:
    struct waiting_conn { // a proxied connection waiting for the backend's SYN-ACK
        uint32_t client_isn, cookie;
        net::cookie_options opts;
        uint64_t syn_tsc;
        uint8_t n_held;
        rte_mbuf *held[max_held];
    };
    waiting_conn *waiting_of(uint32_t conn_index);
    void release(uint32_t conn_index);
    void send_backend_syn(connection &c, const waiting_conn &w, const snapshot &s);
    uint16_t offered_mss(const listener_rt &l, const snapshot &s, uint8_t in_port, bool v6) const;
    template <class MakeCookie>
    uint32_t syn_ack_tcp(rte_mbuf *m, uint8_t in_port, rte_tcp_hdr *tcp, uint16_t default_mss, uint16_t our_mss,
                         const snapshot &s, MakeCookie make);

    net::syn_cookies _cookies;
    rte_mempool *_pool;
    side_table &_side;
    const conn::conn_table &_conns; // (an IPv6 connection's addresses)
    neighbours &_neigh;
    tx_buffers &_tx;
    drop_counts &_drops;
    const worker_clock &_clock;
    std::vector<waiting_conn> _waiting; // fixed pool (no allocation per connection)
    std::vector<uint16_t> _free;
    // Waiting connections in the order they began (slot, connection index); an entry
    // whose slot has since been released or reused is skipped when met.
    struct in_order {
        uint16_t slot;
        uint32_t conn_index;
    };
    std::vector<in_order> _order; // a ring of waiting_slots entries
    uint32_t _order_head = 0, _order_count = 0;
    std::vector<uint32_t> _half_open; // per listener slot: non-proxied half-open connections
    std::vector<uint8_t> _engaged;    // per listener slot: SynProxy auto is engaged
    uint32_t _held_budget, _held = 0; // frames held by waiting connections, and their bound
    counters _counters;
};

} // namespace fulcrum::dataplane
