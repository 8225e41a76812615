// A worker lcore: polls its (port, queue) pairs and does full-NAT for TCP and UDP.
//
//   rx burst -> parse/validate -> conn lookup (own table)
//     hit:  rewrite with the connection's precomputed checksum deltas -> tx buffer
//     miss: listener -> scheduler -> laddr:lport -> insert both directions -> rewrite
//   ARP and ICMP echo for local addresses; the rest is counted by reason and dropped.
//
// Everything here is owned by this worker. Other cores reach it only through its two
// rings: `redirect` (replies that arrived on another worker's queue, sent home by
// lport owner) and `messages` (neighbours learned elsewhere, new snapshots). Its memory
// is allocated on its lcore's NUMA socket; the connection table is first touched by
// the worker itself (its first poll_once).
#pragma once

#include "conn/conn_table.h"
#include "conn/timer_wheel.h"
#include "dataplane/counters.h"
#include "dataplane/neigh_table.h"
#include "dataplane/snapshot.h"
#include "laddr/laddr_pool.h"
#include "net/syn_cookie.h"

#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <unordered_map>
#include <vector>

namespace fulcrum::dataplane {

struct worker_msg {
    enum : uint32_t { neigh_learned = 1, new_snapshot = 2 };
    uint32_t type;
    uint32_t ip;
    union {
        struct {
            rte_ether_addr mac;
            uint16_t pad;
        } neigh;
        const snapshot *snap;
    };
};
static_assert(sizeof(worker_msg) == 16);

struct worker_params {
    uint32_t id = 0;
    uint32_t n_workers = 1;
    uint32_t conn_capacity = 1 << 16;
    uint16_t lport_min = 1024, lport_max = 65535;
    rte_mempool *pool = nullptr;
    rte_rcu_qsbr *qsbr = nullptr; // reports a quiescent state at the top of every loop
    int socket = SOCKET_ID_ANY;   // NUMA socket of the worker's lcore: its memory goes there
    std::array<uint8_t, 16> cookie_key{}; // SYN cookie secret, the same for every worker
};

class worker {
  public:
    static constexpr uint16_t burst = 32;

    worker(const worker_params &p, const snapshot *snap);
    ~worker();
    worker(const worker &) = delete;
    worker &operator=(const worker &) = delete;

    // Wiring done by the instance before launch.
    void add_rx_queue(uint16_t port_id, uint16_t queue) { _rxq.push_back({port_id, queue}); }
    // This worker's queue of each port's exception-path tap (see exception_path.h).
    void add_exception_queue(uint16_t tap_port_id, uint16_t queue, uint8_t port_index) {
        _excq.push_back({tap_port_id, queue, port_index});
    }
    // `backend_counters` holds every worker's counter array (read-only here: wlc sums
    // the active connections of all workers).
    void set_peers(std::vector<rte_ring *> redirect_rings, std::vector<rte_ring *> msg_rings,
                   std::vector<const flow_counters *> backend_counters,
                   std::vector<const flow_counters *> listener_counters);
    const flow_counters *backend_counter_array() const { return _backend_counters.get(); }
    const flow_counters *listener_counter_array() const { return _listener_counters.get(); }
    rte_ring *redirect_ring() const { return _redirect_in; }
    rte_ring *message_ring() const { return _msg_in; }

    // One loop iteration at time `now_tsc`: rings, rx bursts, timers, tx drain.
    // The lcore loop passes rte_rdtsc(); tests pass a controlled clock.
    void poll_once(uint64_t now_tsc);
    void run(const std::atomic<bool> &quit);
    // Set by run() once the first loop (which first-touches the tables) is done.
    bool ready() const { return _ready.load(std::memory_order_acquire); }
    void flush_tx();
    const snapshot *current_snapshot() const { return _snap; }
    // Generation of the snapshot in use, published for the control thread.
    uint64_t adopted_generation() const { return _adopted.load(std::memory_order_acquire); }
    // Process one frame as if received on port index `in_port` (packet tests, redirect).
    void process(rte_mbuf *m, uint8_t in_port);

    uint32_t id() const { return _id; }
    const worker_counters &counters() const { return _counters; }
    const flow_counters &listener_counters(unsigned i) const { return _listener_counters[i]; }
    const flow_counters &backend_counters(unsigned slot) const { return _backend_counters[slot]; }
    const conn::conn_table &conns() const { return _conns; }
    const laddr::laddr_pool &lports() const { return _lports; }
    // The neighbour entry of `ip` (network order), or nullptr (diagnostics and tests).
    const neigh_entry *neighbour(uint32_t ip) const { return _neigh->find(ip); }
    unsigned neighbour_count() const { return _neigh->used(); }
    uint32_t now_tick() const { return _now_tick; }
    // Diagnostic lookup by the tuple a packet would carry (host byte order arguments).
    const conn::connection *find_conn(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
                                uint16_t dport) const;

  private:
    // A received burst is processed in two passes: the first hashes every packet and
    // pulls its table bucket into cache, the second does the work (see stage_burst).
    struct staged_burst {
        uint16_t n = 0;
        uint8_t in_port = 0;
        rte_mbuf *pkts[burst];
        uint32_t hash[burst];
        bool have[burst];
    };
    struct rxq {
        uint16_t port_id, queue;
    };
    struct tx_buffer {
        uint16_t n = 0;
        rte_mbuf *pkts[burst];
    };

    void handle_arp(rte_mbuf *m, uint8_t in_port);
    // Hand a frame to the kernel through in_port's tap; dropped as `otherwise` when the
    // port has no exception path.
    void to_kernel(rte_mbuf *m, uint8_t in_port, drop otherwise);
    void poll_exception_queues();
    bool probe_reply_port(uint16_t dport_be) const {
        uint16_t p = rte_be_to_cpu_16(dport_be);
        return p >= _snap->probe_port_min && p <= _snap->probe_port_max;
    }
    void handle_ipv4(rte_mbuf *m, uint8_t in_port, bool redirected, const uint32_t *hash = nullptr);
    bool accept_frame(rte_mbuf *m, uint8_t in_port);
    // Switch to a snapshot that arrived on the message ring (between bursts). Existing
    // connections keep their backend; new ones see the new listeners and weights.
    void adopt_snapshot(const snapshot *snap);
    void stage_burst(staged_burst &b);
    void process_staged(staged_burst &b);
    void handle_icmp(rte_mbuf *m, uint8_t in_port, const local_entry &local, bool redirected);
    // ICMP errors about a connection's packets, translated to the other side
    // (worker_icmp.cpp); false when it is not one (the caller goes on with it).
    bool icmp_error_for_conn(rte_mbuf *m, const local_entry &local, bool redirected);
    // A packet larger than the egress MTU less `reserve` (room a header Fulcrum adds
    // needs): consumed (DF: "fragmentation needed" back, for that smaller MTU).
    bool too_big(rte_mbuf *m, const conn::connection &c, unsigned dir, uint16_t reserve = 0);
    void forward(rte_mbuf *m, conn::connection &c, unsigned dir, uint32_t l4_off);
    conn::connection *new_conn(rte_mbuf *m, const conn::flow_key &key, uint32_t l4_off, uint8_t in_port);
    const backend_rt *schedule(const listener_rt &l, const conn::flow_key &key);
    // The listener's caps (connections, new connections/s, per source); false when one
    // refuses (counted by reason, nothing consumed).
    bool admit(const listener_rt &l, uint32_t src);
    uint16_t &source_count(uint8_t listener, uint32_t src);
    // Free the least recently active connection that never saw a reply (UDP) or never
    // reached ESTABLISHED (TCP), to make room when the table or lport pool is full.
    bool evict_unassured();
    // An lport of a laddr of `egress` (the port toward the backend) whose reply this
    // worker receives: by RSS bucket or by share (laddr/laddr_pool.h).
    bool take_lport(const backend_rt &b, uint8_t egress, uint32_t &entry);
    // The reply directions of the burst's new connections into the index (conn_table::
    // insert_deferred); after every burst.
    void flush_inserts();
    // The worker a reply to laddr index `l`, lport `lport` from backend bip:bport belongs to.
    uint32_t reply_owner(uint32_t l, uint32_t bip, uint16_t bport, uint16_t lport) const;
    static bool acl_allows(const snapshot &s, const listener_rt &l, uint32_t src);
    // Connection drain: backends that stopped being eligible for a listener in the
    // newly adopted snapshot get a deadline; the sweep resets their connections then.
    void note_ineligible(const snapshot &old, const snapshot &now);
    void sweep_drained();
    void close_drained(conn::connection &c);
    // A TCP RST from Fulcrum to one side of a connection (dir 0: to the backend, 1: to
    // the client), with the sequence number that side expects.
    void send_reset(const conn::connection &c, unsigned dir);
    // Answer a SYN in place with RST+ACK (no backend up); consumes the mbuf.
    void reply_reset(rte_mbuf *m, uint8_t in_port, uint32_t l4_off);
    // Address a received frame back to its sender (MACs and IPs swapped) for an answer.
    void turn_around(rte_mbuf *m, uint8_t in_port);
    void track_tcp(conn::connection &c, unsigned dir, uint8_t tcp_flags);
    void refresh_expiry(conn::connection &c, uint32_t timeout_s);
    void expire(conn::connection *c);
    void send_ipv4(rte_mbuf *m, uint8_t out_port, neigh_entry &next_hop);
    // A TCP segment of a connection this node does not hold, copied to every other
    // cluster node (snapshot::cluster_peers); false, nothing consumed, when there is none,
    // the frame came from one of them (never handed on twice), or over the rate.
    bool hand_off(rte_mbuf *m);
    void send_arp_request(uint8_t out_port, uint32_t target_ip, const rte_ether_addr *unicast);
    void learn_neighbour(uint32_t ip, const rte_ether_addr &mac, bool tell_peers);
    void neigh_timers();
    void drain_rings();
    void enqueue_tx(uint8_t port, rte_mbuf *m);
    void tx_burst(uint8_t port);
    void drop_pkt(rte_mbuf *m, drop reason) {
        _counters.drops[static_cast<unsigned>(reason)]++;
        rte_pktmbuf_free(m);
    }
    // Per connection index, for connections flagged conn::has_side only: the SYN
    // proxy's translation (worker_synproxy.cpp) and the client-address header's
    // (worker_client_addr.cpp). 16 bytes beside the 64-byte connection.
    struct conn_side {
        uint32_t delta;         // SYN proxy: client-facing sequence = backend's + delta
        uint32_t first_seq;     // the client's ISN + 1: where its bytes (or the PROXY header) start
        uint16_t pending;       // SYN proxy: 1 + its slot in _pending while the backend has not answered
        uint8_t ws_backend;     // SYN proxy: window scale the backend uses
        uint8_t ws_client_view; // SYN proxy: window scale the client was promised
        uint8_t client_addr;    // listener_rt::client_addr_*, fixed when the connection was made
        uint8_t header;         // PROXY v2 over TCP: header_unsent, header_sent, header_acked
        uint16_t win;           // PROXY v2: the client's window when the header went out (resends)
    };
    static_assert(sizeof(conn_side) == 16);
    enum : uint8_t { header_unsent, header_sent, header_acked };
    struct proxy_pending { // a proxied connection waiting for the backend's SYN-ACK
        static constexpr unsigned max_held = 4;
        static constexpr unsigned pool_size = 16384; // per worker: more wait their client's retry
        uint32_t client_isn, cookie;
        net::cookie_options opts;
        uint64_t syn_tsc;
        uint8_t n_held;
        rte_mbuf *held[max_held];
    };
    void proxy_state_alloc(uint32_t capacity);
    void proxy_state_free();
    bool proxy_engaged(const listener_rt &l);
    void half_open_done(conn::connection &c);
    void answer_with_cookie(rte_mbuf *m, uint8_t in_port, uint32_t l4_off, const conn::flow_key &key,
                            const listener_rt &l);
    bool check_cookie(rte_mbuf *m, uint32_t l4_off, const conn::flow_key &key, net::cookie_options &out);
    void proxy_open(conn::connection &c, rte_mbuf *ack, const net::cookie_options &o);
    void send_backend_syn(conn::connection &c, const proxy_pending &p);
    void proxy_handshake(rte_mbuf *m, conn::connection &c, unsigned dir, uint32_t l4_off);
    void proxy_forget(uint32_t conn_index);
    proxy_pending *pending_of(uint32_t conn_index);
    // Client address (worker_client_addr.cpp).
    void side_open(conn::connection &c, const listener_rt &l, uint32_t first_seq);
    // Before a client packet is rewritten: TOA inserted, the PROXY header put in front of
    // a datagram, a SYN's payload removed. False when the packet was consumed.
    bool add_client_addr(rte_mbuf *m, conn::connection &c, uint32_t l4_off);
    void send_proxy_header(const conn::connection &c, conn_side &s, const rte_tcp_hdr *trigger, unsigned dir);
    // Sequence, acknowledgment, SACK and window translation of a has_side connection's
    // segment, the PROXY header sent or resent; returns the checksum delta.
    uint32_t side_translate(conn::connection &c, conn_side &s, unsigned dir, rte_tcp_hdr *tcp);
    uint32_t now_seconds() const { return static_cast<uint32_t>(_now_tsc / _tsc_hz); }

    uint32_t ticks(uint32_t seconds) const { return seconds * conn::timer_wheel::ticks_per_second; }

    uint32_t _id;
    uint32_t _n_workers;
    const snapshot *_snap;
    rte_rcu_qsbr *_qsbr;
    std::atomic<uint64_t> _adopted{0};
    std::atomic<bool> _ready{false};
    rte_mempool *_pool;

    conn::conn_table _conns;
    conn::timer_wheel _wheel;
    laddr::laddr_pool _lports;
    std::vector<uint32_t> _laddr_turn; // by port: where the next laddr choice starts
    uint32_t _rss_turn = 0;            // which of its own RETA entries it aims at next
    struct rte_deleter {
        void operator()(void *p) const;
    };
    std::unique_ptr<neigh_table, rte_deleter> _neigh;

    std::vector<rxq> _rxq;
    struct excq {
        uint16_t port_id, queue;
        uint8_t port_index;
    };
    std::vector<excq> _excq;
    uint8_t _port_index[RTE_MAX_ETHPORTS];
    std::vector<tx_buffer> _tx; // data ports 0..n-1, then their taps n..2n-1

    rte_ring *_redirect_in = nullptr;
    rte_ring *_msg_in = nullptr;
    std::vector<rte_ring *> _redirect_to, _msg_to;
    std::vector<const flow_counters *> _all_backend_counters, _all_listener_counters;
    uint32_t least_loaded(const listener_rt &l);

    uint64_t _tsc_hz, _tsc_per_tick, _tsc0 = 0;
    uint64_t _now_tsc = 0, _last_drain_tsc = 0, _last_neigh_tsc = 0, _drain_tsc;
    uint64_t _last_exc_tsc = 0, _exc_poll_tsc = 0;
    struct token_bucket {
        uint64_t tokens = UINT64_MAX / 2, last_tsc = 0; // starts full (clamped to the cap)
    };
    // A token for one frame from `tb`, refilled at `per_s` with room for `cap_frames`.
    // Tokens are kept in frames x tsc_hz, so the refill needs no division.
    bool take_token(token_bucket &tb, uint64_t per_s, uint64_t cap_frames) {
        uint64_t elapsed = std::min(_now_tsc - tb.last_tsc, _tsc_hz);
        tb.last_tsc = _now_tsc;
        tb.tokens = std::min(cap_frames * _tsc_hz, tb.tokens + elapsed * per_s);
        if (tb.tokens < _tsc_hz) return false;
        tb.tokens -= _tsc_hz;
        return true;
    }
    std::vector<token_bucket> _exc_bucket; // per port: frames handed to the kernel
    token_bucket _handoff_bucket;          // segments copied to cluster peers
    std::vector<uint32_t> _max_frame;      // per port: Ethernet header + MTU (ports are restart-only)
    uint32_t _min_max_frame = UINT32_MAX;  // the smallest of them
    std::vector<token_bucket> _cps_bucket; // per listener slot: MaxNewConnectionRate
    // Per listener slot with MaxConnectionsPerSource: live connections by hashed source.
    std::vector<std::unique_ptr<uint16_t[]>> _source_counts;
    static constexpr uint32_t source_count_slots = 1u << 16;
    uint32_t _evict_miss_tick = UINT32_MAX; // a scan found nothing at this tick: no rescan
    uint32_t _evict_from = 0;               // the wheel tick the last victim was found at
    uint32_t _now_tick = 0;
    bool _started = false;

    worker_counters _counters{};
    std::unique_ptr<flow_counters[], rte_deleter> _listener_counters, _backend_counters; // by slot
    std::vector<uint32_t> _sched_cursor;
    // Per listener slot, from the latest snapshot that had the listener.
    std::vector<uint16_t> _idle_timeout_s;

    // (listener slot << 16 | backend slot) -> tick at which its connections are reset.
    std::unordered_map<uint32_t, uint32_t> _drains;
    uint32_t _drain_due = 0; // earliest deadline in _drains
    bool _sweeping = false;
    uint32_t _sweep_pos = 0, _sweep_pass_start = 0;

    net::syn_cookies _cookies;
    conn_side *_side = nullptr;
    std::vector<proxy_pending> _pending;  // fixed pool (no allocation per connection)
    std::vector<uint16_t> _pending_free;
    std::vector<uint32_t> _half_open;     // per listener slot: non-proxied half-open connections
    std::vector<uint8_t> _proxy_engaged;  // per listener slot: SynProxy auto is engaged
};

} // namespace fulcrum::dataplane
