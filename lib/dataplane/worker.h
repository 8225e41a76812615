// A worker lcore: polls its (port, queue) pairs and does full-NAT for TCP and UDP.
//   rx burst -> parse/validate -> conn lookup (own table)
//     hit:  rewrite with the connection's precomputed checksum deltas -> tx buffer
//     miss: listener -> admission -> scheduler -> laddr:lport -> both directions indexed
// The worker keeps the loop, the classification and the rewrite; each feature is a
// component with its own state, called inline with explicit arguments (synproxy,
// side_table + client_addr, drain, admission, scheduler, neighbours, handoff). Other
// cores reach it only through its rings: `redirect` (replies that arrived on another
// worker's queue) and `messages` (messages.h).
#pragma once

#include "conn/conn_table.h"
#include "conn/tcp_window.h"
#include "conn/timer_wheel.h"
#include "dataplane/admission.h"
#include "dataplane/drain.h"
#include "dataplane/messages.h"
#include "dataplane/worker_counters.h"
#include "laddr/laddr_pool.h"

#include <rte_rcu_qsbr.h>

#include <atomic>

namespace fulcrum::dataplane {

struct worker_params {
    uint32_t id = 0, n_workers = 1, conn_capacity = 1 << 16, neighbour_capacity = 8192;
    uint32_t conn_capacity6 = 0; // connections with an IPv6 side (conn_table.h)
    uint16_t lport_min = 1024, lport_max = 65535;
    rte_mempool *pool = nullptr;
    rte_rcu_qsbr *qsbr = nullptr; // reports a quiescent state at the top of every loop
    int socket = SOCKET_ID_ANY;   // NUMA socket of the worker's lcore: its memory goes there
    std::array<uint8_t, 16> cookie_key{}; // SYN cookie secret, the same for every worker
};

class worker {
  public:
    // The host's own frames by class: a lifeline (ARP and ND answers, BGP with configured
    // neighbours, health probe replies) or other.
    enum class host_class : uint8_t { other, lifeline };
    static constexpr uint16_t burst = tx_buffers::burst;

    worker(const worker_params &p, const snapshot *snap); // throws allocation_failed
    ~worker();
    worker(const worker &) = delete;

    // Wiring before launch: rx queues, its queue of each port's tap, the peers' rings and
    // counters (read-only here: wlc and MaxConnections sum every worker's).
    void add_rx_queue(uint16_t port_id, uint16_t queue) { _rxq.push_back({port_id, queue, 0}); }
    void add_exception_queue(uint16_t tap, uint16_t queue, uint8_t port) { _excq.push_back({tap, queue, port}); }
    void set_peers(std::vector<rte_ring *> redirect_rings, std::vector<rte_ring *> msg_rings,
                   std::vector<const flow_counters *> backend_counters,
                   std::vector<const flow_counters *> listener_counters);
    const flow_counters *backend_counter_array() const { return _backend_counters.get(); }
    const flow_counters *listener_counter_array() const { return _listener_counters.get(); }
    rte_ring *redirect_ring() const { return _redirect_in; }
    rte_ring *message_ring() const { return _msg_in; }

    // One loop iteration at `now_tsc` (rte_rdtsc(), or a test's clock): rings, rx, timers, tx.
    void poll_once(uint64_t now_tsc);
    void run(const std::atomic<bool> &quit);
    bool ready() const { return _ready.load(std::memory_order_acquire); } // first loop done
    void flush_tx() { _tx.flush(); }
    const snapshot *current_snapshot() const { return _snap; }
    uint64_t adopted_generation() const { return _adopted.load(std::memory_order_acquire); }
    // One frame as if received on port index `in_port` (packet tests, redirect).
    void process(rte_mbuf *m, uint8_t in_port);

    uint32_t id() const { return _id; }
    worker_counters counters() const;
    const flow_counters &listener_counters(unsigned i) const { return _listener_counters[i]; }
    const flow_counters &backend_counters(unsigned slot) const { return _backend_counters[slot]; }
    const conn::conn_table &conns() const { return _conns; }
    const laddr::laddr_pool &lports() const { return _lports; }
    // Before the worker runs (deploy::lport_state): where its rotations start.
    laddr::laddr_pool &lports_for_start() { return _lports; }
    const neigh_entry *neighbour(uint32_t ip) const { return _neigh.find(ip); } // network order
    const neigh_entry *neighbour(const net::ip_addr &ip) const { return _neigh.find(ip); }
    unsigned neighbour_count() const { return _neigh.used(); }
    uint32_t now_tick() const { return _clock.now_tick; }
    // Diagnostic lookup by the tuple a packet would carry (host byte order arguments).
    const connection *find_conn(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) const;

    // A UDP flow with datagrams both ways this long after it began is a stream (forward).
    static constexpr uint32_t udp_stream_after_s = 10;

  private:
    struct queue_ref { uint16_t port_id, queue; uint8_t port_index; };
    void drain_rings();
    void poll_exception_queues();
    void process_burst(rte_mbuf **pkts, uint16_t n, uint8_t in_port);
    bool accept_frame(rte_mbuf *m, uint8_t in_port);
    void handle_ipv4(rte_mbuf *m, uint8_t in_port, bool redirected, const uint32_t *hash = nullptr);
    // (hash: the flow key's, when the burst computed it)
    void handle_ipv6(rte_mbuf *m, uint8_t in_port, bool redirected, const uint32_t *hash = nullptr); // worker_ipv6.cpp
    // The host's own frames, to the kernel through the port's tap, within the exception
    // path's rate; a lifeline (host_class) has a reserve other host traffic cannot use.
    void to_kernel(rte_mbuf *m, uint8_t in_port, drop otherwise, host_class cls);
    void adopt_snapshot(const snapshot *snap);
    // ICMP (worker_icmp.cpp): echo, errors about connections, "fragmentation needed".
    void handle_icmp(rte_mbuf *m, uint8_t in_port, const local_entry &local, bool redirected);
    uint32_t requote_seq(const connection &c, unsigned to, uint8_t *ql4, uint32_t ql4_len);
    bool icmp_error_for_conn(rte_mbuf *m, const local_entry &local, bool redirected);
    bool too_big(rte_mbuf *m, const connection &c, unsigned dir, uint16_t reserve = 0);
    // ICMPv6 (worker_icmp6.cpp): ND and echo, errors about connections, 6<->4 translation.
    void handle_icmp6(rte_mbuf *m, uint8_t in_port, uint32_t len, bool redirected);
    bool icmp6_error_for_conn(rte_mbuf *m, const local_entry &local, bool redirected);
    void icmp6_to_v4(rte_mbuf *m, const connection &c, uint32_t len);
    bool icmp4_to_v6(rte_mbuf *m, const connection &c, uint32_t icmp_len);
    bool side_work6(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off, conn_side *&side);
    bool too_big6(rte_mbuf *m, const connection &c, unsigned dir, uint32_t mtu);
    // Connections with an IPv6 client (worker_ipv6.cpp; their rewrite worker_fnat6.cpp): 6->6 and 6->4.
    connection *new_conn6(rte_mbuf *m, const conn::flow_key6 &key, uint32_t l4_off, uint8_t in_port);
    connection *bind6(const conn::flow_key6 &key, uint8_t in_port, const listener_rt &l, const backend_rt &b, drop &why);
    void forward6(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off);
    void send_reset6(const connection &c, unsigned dir);
    void reply_reset6(rte_mbuf *m, uint8_t in_port);
    // What admission counts a connection's source by: its IPv4 address, an IPv6 one's /64.
    uint32_t source_key(const connection &c) const;
    uint32_t source_key6(const uint8_t *addr) const;
    // Connections (worker_conn.cpp): admitted, given a backend, bound, counted; or refuse().
    connection *new_conn(rte_mbuf *m, const flow_key &key, uint32_t l4_off, uint8_t in_port);
    connection *bind(const flow_key &key, const listener_rt &l, const backend_rt &b, drop &why);
    connection *start_conn(connection *c, uint32_t h0, const listener_rt &l, uint8_t to_backend, neigh_entry *nh_backend,
                           uint8_t to_client, neigh_entry *nh_client, drop &why);
    void count_new(connection &c, const listener_rt &l);
    bool room_to_wait();
    connection *started(connection *c, const listener_rt &l, rte_mbuf *m, uint32_t l4_off,
                        const net::cookie_options *cookie);
    connection *refuse(rte_mbuf *m, const listener_rt *l, drop why);
    bool take_lport(const backend_rt &b, uint8_t proto, uint8_t egress, uint32_t &laddr, uint16_t &lport);
    uint32_t reply_owner(uint32_t l, uint32_t bip, uint16_t bport, uint16_t lport) const;
    uint32_t reply_owner6(uint32_t l, const uint8_t *bip, uint16_t bport, uint16_t lport) const;
    uint32_t rss_home(uint32_t l, uint32_t hash_without_laddr) const;
    bool evict_for_room();
    connection *due_first(bool finished_only);
    void flush_inserts();
    void expire(connection *c);
    // The rewrite and TCP state (worker_fnat.cpp).
    void forward(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off);
    void proxied_segment(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off);
    void track_tcp(connection &c, unsigned dir, tcp_window::segment &seg, const rte_tcp_hdr *tcp);
    __attribute__((noinline)) void track_tcp_slow(connection &c, unsigned dir, tcp_window::segment &seg,
                                                  const rte_tcp_hdr *tcp);
    void refresh_expiry(connection &c, uint32_t timeout_s);
    void track_udp(connection &c, unsigned dir);
    void count_forwarded(connection &c, unsigned dir, uint32_t bytes);
    void close_drained(connection &c);
    void send_reset(const connection &c, unsigned dir);         // to one side, at its expected seq
    void reply_reset(rte_mbuf *m, uint8_t in_port, uint32_t l4_off); // a SYN answered RST+ACK
    void drop_pkt(rte_mbuf *m, drop reason) { dataplane::drop_pkt(_drops, m, reason); }

    uint32_t _id, _n_workers;
    rte_mempool *_pool;
    const snapshot *_snap;
    rte_rcu_qsbr *_qsbr;
    std::atomic<uint64_t> _adopted{0}; // generation in use, published for the control thread
    std::atomic<bool> _ready{false};
    worker_clock _clock;
    drop_counts _drops;
    worker_own_counters _counters;
    std::unique_ptr<flow_counters[], rte_free_deleter> _listener_counters, _backend_counters; // by slot
    std::vector<uint16_t> _idle_timeout_s; // per listener slot, from the latest snapshot that had it

    conn::conn_table _conns;
    conn::timer_wheel _wheel;
    laddr::laddr_pool _lports;
    std::vector<uint32_t> _laddr_turn; // by port: where the next laddr choice starts
    uint32_t _rss_turn = 0;            // which of its own RETA entries it aims at next
    uint16_t _ip_id = 0;               // identification of 6->4 packets sent without DF
    struct eviction_scan {
        uint32_t miss_tick = UINT32_MAX, from = 0;
    } _evict_scan[2]; // see evict_for_room: finished entries, then any not assured

    tx_buffers _tx;
    neighbours _neigh;
    side_table _side;
    synproxy _synproxy;
    client_addr _client_addr;
    handoff _handoff;
    admission _admission;
    scheduler _scheduler;
    drain _drain;

    std::vector<queue_ref> _rxq, _excq;
    uint8_t _port_index[RTE_MAX_ETHPORTS];
    rte_ring *_redirect_in = nullptr, *_msg_in = nullptr;
    std::vector<rte_ring *> _redirect_to;
    std::vector<token_bucket> _exc_bucket; // per port: frames handed to the kernel
    std::vector<uint32_t> _max_frame;      // per port: Ethernet header + MTU (ports are restart-only)
    uint32_t _min_max_frame = UINT32_MAX;  // the smallest of them
    uint64_t _last_drain_tsc = 0, _last_neigh_tsc = 0, _drain_tsc, _last_exc_tsc = 0, _exc_poll_tsc;
    bool _started = false;
};

} // namespace fulcrum::dataplane
