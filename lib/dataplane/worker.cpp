// The worker's loop: rings, rx bursts (staged, with prefetch), timers, tx; and the
// classification of each IPv4 frame (known connection, new one, local, redirected).
// New connections: worker_conn.cpp; the rewrite and TCP state: worker_fnat.cpp; ICMP:
// worker_icmp.cpp; the host's own frames (the exception path): worker_host.cpp; the
// features: their components.
#include "dataplane/worker.h"

#include "dataplane/headers.h"

#include <algorithm>
#include <string>

namespace fulcrum::dataplane {

namespace {

constexpr unsigned expire_budget = 256; // per loop, so a mass expiry cannot stall rx

rte_ring *make_ring(const std::string &name, unsigned esize, unsigned count, int socket) {
    rte_ring *r = rte_ring_create_elem(name.c_str(), esize, count, socket, RING_F_SC_DEQ);
    if (!r) throw allocation_failed("cannot create ring " + name + " (" + std::to_string(count) + " x " +
                                    std::to_string(esize) + " bytes): " + rte_strerror(rte_errno));
    return r;
}

// The DPDK port of each tx buffer: the data ports, then their taps.
std::vector<uint16_t> tx_port_ids(const snapshot &s) {
    std::vector<uint16_t> ids;
    for (const port_rt &p : s.ports) ids.push_back(p.port_id);
    for (const port_rt &p : s.ports) ids.push_back(p.exc_port_id);
    return ids;
}

// TCP with a configured BGP neighbour, on port 179 either way.
bool bgp_with_neighbour(const snapshot &s, const flow_key &k) {
    constexpr uint16_t bgp_be = RTE_BE16(179);
    if (k.proto != IPPROTO_TCP || (k.sport() != bgp_be && k.dport() != bgp_be)) return false;
    return std::find(s.bgp_neighbours.begin(), s.bgp_neighbours.end(), k.src) != s.bgp_neighbours.end();
}

// Per laddr: its port's RETA size when replies are steered by RSS, else 0 (by share).
// An IPv6 laddr only where the port's hash takes IPv6 ports (rss6).
std::vector<uint32_t> rss_buckets(const snapshot &s) {
    std::vector<uint32_t> b;
    for (size_t l = 0; l < s.laddrs.size(); l++) {
        size_t p = l < s.laddr_port.size() ? s.laddr_port[l] : 0;
        bool v6 = s.laddrs[l] == 0;
        bool rss = p < s.ports.size() && (!v6 || s.ports[p].rss6) &&
                   (s.ports[p].steer == steering::rss || s.ports[p].steer == steering::emulated);
        b.push_back(rss ? s.ports[p].reta_size : 0);
    }
    return b;
}
std::vector<bool> laddr_v6(const snapshot &s) {
    std::vector<bool> v6;
    for (uint32_t a : s.laddrs) v6.push_back(a == 0);
    return v6;
}

} // namespace

worker::worker(const worker_params &p, const snapshot *snap)
    : _id(p.id), _n_workers(p.n_workers), _pool(p.pool), _snap(snap), _qsbr(p.qsbr),
      _listener_counters(socket_array<flow_counters>("listener counters", max_listener_slots, p.socket)),
      _backend_counters(socket_array<flow_counters>("backend counters", max_backend_slots, p.socket)),
      _idle_timeout_s(max_listener_slots), _conns(p.conn_capacity, conn::conn_table::first_touch::later, 0, p.conn_capacity6),
      _wheel(_conns), _lports(rss_buckets(*snap), p.lport_min, p.lport_max, p.id, p.n_workers, laddr_v6(*snap)),
      _tx(tx_port_ids(*snap), static_cast<uint16_t>(p.id), _drops), _neigh(p.id, p.neighbour_capacity, p.socket, p.pool, _tx, _drops, _clock),
      _side(p.conn_capacity), _synproxy(p.cookie_key, p.pool, p.n_workers, _side, _conns, _neigh, _tx, _drops, _clock),
      _client_addr(p.pool, _conns, _neigh, _drops), _handoff(p.pool, _neigh, _drops, _clock),
      _admission(_clock, p.n_workers, _conns.seed()), _scheduler(p.id, p.n_workers) {
    _clock.start(rte_get_tsc_hz(), 0);
    _exc_bucket.resize(snap->ports.size());
    for (const port_rt &pr : snap->ports) {
        _max_frame.push_back(l3_off + pr.mtu);
        _min_max_frame = std::min(_min_max_frame, _max_frame.back());
    }
    std::memset(_port_index, 0xff, sizeof(_port_index));
    for (size_t i = 0; i < snap->ports.size(); i++) _port_index[snap->ports[i].port_id] = static_cast<uint8_t>(i);
    _drain_tsc = (_clock.hz + 9999) / 10000; // 100 us, as l3fwd
    _exc_poll_tsc = _clock.hz / 20000;       // 50 us
    std::string sfx = std::to_string(p.id) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffffff);
    _redirect_in = make_ring("fr_redir_" + sfx, sizeof(void *), 4096, p.socket);
    try { // the destructor does not run for a constructor that throws: no ring left behind
        _msg_in = make_ring("fr_msg_" + sfx, sizeof(worker_msg), 1024, p.socket);
    } catch (...) {
        rte_ring_free(_redirect_in);
        throw;
    }
    adopt_snapshot(snap);
    _neigh.add_static(snap->static_neighbours);
}

worker::~worker() {
    flush_tx();
    void *obj;
    while (rte_ring_sc_dequeue(_redirect_in, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf *>(obj));
    rte_ring_free(_redirect_in);
    rte_ring_free(_msg_in);
}

void worker::set_peers(std::vector<rte_ring *> redirect_rings, std::vector<rte_ring *> msg_rings,
                       std::vector<const flow_counters *> backend_counters,
                       std::vector<const flow_counters *> listener_counters) {
    _scheduler.set_peers(std::move(backend_counters));
    _admission.set_peers(std::move(listener_counters));
    _redirect_to = std::move(redirect_rings);
    _neigh.set_peers(std::move(msg_rings));
}

worker_counters worker::counters() const {
    worker_counters c;
#define FULCRUM_COPY(name, kind, help) c.name = from.name;
#define FULCRUM_COPY_FROM(rows, source) \
    {                                   \
        const auto &from = source;      \
        rows(FULCRUM_COPY)              \
    }
    FULCRUM_COPY_FROM(FULCRUM_OWN, _counters)
    FULCRUM_COPY_FROM(FULCRUM_TX_COUNTERS, _tx.counts())
    FULCRUM_COPY_FROM(FULCRUM_SYNPROXY_COUNTERS, _synproxy.counts())
    FULCRUM_COPY_FROM(FULCRUM_CLIENT_ADDR_COUNTERS, _client_addr.counts())
    FULCRUM_COPY_FROM(FULCRUM_HANDOFF_COUNTERS, _handoff.counts())
    FULCRUM_COPY_FROM(FULCRUM_SCHEDULER_COUNTERS, _scheduler.counts())
    FULCRUM_COPY_FROM(FULCRUM_NEIGHBOUR_COUNTERS, _neigh.counts())
#undef FULCRUM_COPY_FROM
#undef FULCRUM_COPY
    std::copy(std::begin(_drops.n), std::end(_drops.n), c.drops);
    return c;
}

const conn::connection *worker::find_conn(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
                                    uint16_t dport) const {
    flow_key k{rte_cpu_to_be_32(src), rte_cpu_to_be_32(dst),
               conn::pack_ports(rte_cpu_to_be_16(sport), rte_cpu_to_be_16(dport)), proto};
    unsigned dir;
    return _conns.lookup(k, _conns.hash(k), dir);
}

// ---------------------------------------------------------------------------------------
// Loop

void worker::poll_once(uint64_t now_tsc) {
    if (!_started) {
        // The connection table's pages are first touched here, by the worker's own
        // lcore: the kernel places them on its NUMA node.
        _conns.prepare();
        _clock.start(_clock.hz, now_tsc);
        _wheel.start(0);
        _last_drain_tsc = _last_neigh_tsc = now_tsc;
        _started = true;
        _neigh.hold_peers(*_snap);
        _neigh.prime(*_snap);
    }
    _clock.set(now_tsc);

    // Between iterations this worker holds no snapshot reference: that is its quiescent
    // point. A new snapshot from the message ring is adopted right after it.
    if (_qsbr) rte_rcu_qsbr_quiescent(_qsbr, _id);
    drain_rings();
    flush_inserts();
    // A queue that gave less than a full burst is drained: holding frames back for a
    // fuller tx burst would only add latency. Under load every burst is full and tx
    // waits for the buffer to fill (or the 100 us timer).
    bool drained = true;
    for (const queue_ref &q : _rxq) {
        rte_mbuf *pkts[burst];
        uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst);
        if (n == burst) drained = false;
        if (n == 0) continue;
        process_burst(pkts, n, _port_index[q.port_id]);
        flush_inserts();
    }

    // net_tap's rx is a read() syscall: the kernel's side is polled every 50 us, not
    // every loop (its traffic is health probes and host services, not the fast path).
    if (!_excq.empty() && now_tsc - _last_exc_tsc >= _exc_poll_tsc) {
        poll_exception_queues();
        _last_exc_tsc = now_tsc;
    }
    _wheel.advance(_clock.now_tick, [this](connection *c) { expire(c); }, expire_budget);
    if (_drain.due(_clock.now_tick)) _drain.sweep(_conns, _clock.now_tick, [this](connection &c) { close_drained(c); });
    if (now_tsc - _last_neigh_tsc > _clock.hz / 10) {
        _neigh.timers(*_snap);
        _last_neigh_tsc = now_tsc;
    }
    if (drained || now_tsc - _last_drain_tsc >= _drain_tsc) {
        flush_tx();
        _last_drain_tsc = now_tsc;
    }
}

void worker::run(const std::atomic<bool> &quit) {
    // The first loop touches the connection table (possibly gigabytes): only then is the
    // worker ready, and launch() waits for that before Fulcrum says it is up.
    poll_once(rte_rdtsc());
    _ready.store(true, std::memory_order_release);
    while (!quit.load(std::memory_order_relaxed)) poll_once(rte_rdtsc());
    flush_tx();
}

void worker::adopt_snapshot(const snapshot *snap) {
    const snapshot *old = _snap;
    _snap = snap;
    _adopted.store(snap->generation, std::memory_order_release);
    _scheduler.adopt(*snap);
    for (const auto &l : snap->listeners) _idle_timeout_s[l.index] = l.idle_timeout_s;
    if (_started) _neigh.hold_peers(*snap), _neigh.prime(*snap); // (the first loop does the first snapshot's)
    // Existing connections keep their backend; those of backends no longer eligible drain.
    if (old != snap) _drain.note_ineligible(*old, *snap, _clock.now_tick);
}

void worker::drain_rings() {
    if (!rte_ring_empty(_msg_in)) {
        worker_msg msgs[32];
        unsigned n = rte_ring_dequeue_burst_elem(_msg_in, msgs, sizeof(worker_msg), 32, nullptr);
        for (unsigned i = 0; i < n; i++)
            if (msgs[i].type == worker_msg::neigh_learned) _neigh.learn(msgs[i].ip, msgs[i].neigh.mac, false);
            else if (msgs[i].type == worker_msg::new_snapshot) adopt_snapshot(msgs[i].snap);
    }
    if (!rte_ring_empty(_redirect_in)) {
        rte_mbuf *pkts[burst];
        unsigned n = rte_ring_sc_dequeue_burst(_redirect_in, reinterpret_cast<void **>(pkts), burst, nullptr);
        for (unsigned i = 0; i < n; i++) {
            _counters.redirected_in++;
            uint8_t in_port = _port_index[pkts[i]->port];
            in_port = in_port == 0xff ? 0 : in_port;
            if (rte_pktmbuf_mtod(pkts[i], const rte_ether_hdr *)->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
                handle_ipv6(pkts[i], in_port, true);
            else
                handle_ipv4(pkts[i], in_port, true);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Classification

namespace {
enum peeked : uint8_t { peek_none, peek_v4, peek_v6 };
// The flow hash of a plain IPv4 or IPv6 TCP/UDP frame (IPv6: the transport header right
// after the fixed one), read before full validation so the burst's table lines can be
// prefetched; anything unusual takes the slow path.
inline peeked peek_flow_hash(const conn::conn_table &t, const rte_mbuf *m, uint32_t &h) {
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    if (m->data_len >= l3_off + sizeof(rte_ipv4_hdr) + 4 && eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
        const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + 1);
        if (ip->version_ihl != 0x45 || (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP))
            return peek_none;
        h = t.hash(flow_key{ip->src_addr, ip->dst_addr, conn::load_ports(ip + 1), ip->next_proto_id});
        return peek_v4;
    }
    if (m->data_len >= l3_off + sizeof(rte_ipv6_hdr) + 4 && eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
        const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(eth + 1);
        if (ip->proto != IPPROTO_TCP && ip->proto != IPPROTO_UDP) return peek_none;
        conn::flow_key6 k;
        std::memcpy(k.src, ip->src_addr, 16);
        std::memcpy(k.dst, ip->dst_addr, 16);
        k.ports = conn::load_ports(ip + 1), k.proto = ip->proto;
        h = t.hash(k);
        return peek_v6;
    }
    return peek_none;
}
} // namespace

// A burst in two passes: the first hashes every packet and pulls its table bucket into
// cache (a tight loop of independent loads keeps many misses in flight at once); the
// second does the work, prefetching connection lines a few packets ahead now that the
// buckets leading to them are in cache, and for IPv6 the pool entries behind those
// connections half as far ahead, once the connection lines have come in.
void worker::process_burst(rte_mbuf **pkts, uint16_t n, uint8_t in_port) {
    uint32_t hash[burst];
    peeked have[burst];
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; i++) {
        bytes += pkts[i]->pkt_len;
        have[i] = peek_flow_hash(_conns, pkts[i], hash[i]);
    }
    _counters.rx_packets += n;
    _counters.rx_bytes += bytes;
    for (uint16_t i = 0; i < n; i++)
        if (have[i]) _conns.touch_bucket(hash[i]);
    constexpr uint16_t ahead = 4, ahead6 = 2;
    for (uint16_t i = 0; i < n && i < ahead; i++)
        if (have[i]) _conns.prefetch_conn(hash[i]);
    for (uint16_t i = 0; i < n; i++) {
        if (i + ahead < n && have[i + ahead]) _conns.prefetch_conn(hash[i + ahead]);
        if (i + ahead6 < n && have[i + ahead6] == peek_v6) _conns.prefetch_addr6(hash[i + ahead6]);
        rte_mbuf *m = pkts[i];
        if (!have[i]) process(m, in_port);
        else if (!accept_frame(m, in_port)) continue;
        else if (have[i] == peek_v4) handle_ipv4(m, in_port, false, &hash[i]);
        else handle_ipv6(m, in_port, false, &hash[i]);
    }
}

// The L2 checks every frame passes first; false when the frame was dropped and counted.
bool worker::accept_frame(rte_mbuf *m, uint8_t in_port) {
    if (m->nb_segs != 1) return drop_pkt(m, drop::multi_segment), false;
    if (m->data_len < sizeof(rte_ether_hdr)) return drop_pkt(m, drop::trunc_eth), false;
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    // Ports run promiscuous (not every PMD filters); unicast for someone else is not ours.
    if (!rte_is_same_ether_addr(&eth->dst_addr, &_snap->ports[in_port].mac) && !rte_is_multicast_ether_addr(&eth->dst_addr))
        return drop_pkt(m, drop::other_mac), false;
    return true;
}

void worker::process(rte_mbuf *m, uint8_t in_port) {
    if (!accept_frame(m, in_port)) return;
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return handle_ipv4(m, in_port, false);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) return handle_ipv6(m, in_port, false);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
        if (_neigh.on_arp(m, in_port, *_snap)) to_kernel(m, in_port, drop::arp_ignored, host_class::lifeline);
        return;
    }
    drop_pkt(m, drop::unsupported_l2);
}

void worker::handle_ipv4(rte_mbuf *m, uint8_t in_port, bool redirected, const uint32_t *hash) {
    if (m->data_len < l3_off + sizeof(rte_ipv4_hdr)) return drop_pkt(m, drop::trunc_ip);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    if ((ip->version_ihl >> 4) != 4) return drop_pkt(m, drop::bad_ip_version);
    unsigned ihl = ip->version_ihl & 0xf;
    if (ihl < 5) return drop_pkt(m, drop::bad_ihl);
    if (ihl > 5) return drop_pkt(m, drop::ip_options);
    uint16_t total = rte_be_to_cpu_16(ip->total_length);
    uint32_t avail = m->data_len - l3_off;
    if (total < sizeof(rte_ipv4_hdr) || total > avail) return drop_pkt(m, drop::bad_total_length);
    if (total < avail) rte_pktmbuf_trim(m, static_cast<uint16_t>(avail - total)); // Ethernet padding

    if (!redirected) {
        uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
        if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
            (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && net::csum_ipv4_header(ip) != 0xffff))
            return drop_pkt(m, drop::bad_ip_checksum);
    }
    if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
        return drop_pkt(m, drop::fragment);
    // No host sends to 0.0.0.0, and the connection table relies on it: an IPv6 direction
    // carries 0 there (conn.h).
    if (ip->dst_addr == 0) return drop_pkt(m, drop::bad_src_addr);

    if (ip->next_proto_id == IPPROTO_ICMP) {
        const local_entry *local = _snap->find_local(ip->dst_addr);
        if (!local) return drop_pkt(m, drop::not_local);
        return handle_icmp(m, in_port, *local, redirected);
    }

    const uint32_t l4_off = l3_off + sizeof(rte_ipv4_hdr);
    const uint32_t l4_len = total - sizeof(rte_ipv4_hdr);
    flow_key key;
    key.src = ip->src_addr;
    key.dst = ip->dst_addr;
    key.proto = ip->next_proto_id;
    if (key.proto == IPPROTO_TCP) {
        if (l4_len < sizeof(rte_tcp_hdr)) return drop_pkt(m, drop::trunc_l4);
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint32_t doff = (tcp->data_off >> 4) * 4u;
        if (doff < sizeof(rte_tcp_hdr) || doff > l4_len) return drop_pkt(m, drop::bad_l4_header);
        key.ports = conn::load_ports(&tcp->src_port);
    } else if (key.proto == IPPROTO_UDP) {
        if (l4_len < sizeof(rte_udp_hdr)) return drop_pkt(m, drop::trunc_l4);
        auto *udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr *, l4_off);
        uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
        if (ulen < sizeof(rte_udp_hdr) || ulen > l4_len) return drop_pkt(m, drop::bad_l4_header);
        key.ports = conn::load_ports(&udp->src_port);
    } else {
        return drop_pkt(m, drop::unsupported_proto);
    }

    // The common case first: a known connection. A hit also says what the destination
    // is (direction 0: a VIP, 1: a local address), so the local-address table is only
    // consulted for packets that start a connection or belong to another worker.
    unsigned dir = 0;
    connection *c = _conns.lookup(key, hash ? *hash : _conns.hash(key), dir);
    if (c && dir == 0 && key.proto == IPPROTO_TCP &&
        (c->state == tcp_state::time_wait || c->state == tcp_state::close)) {
        // A new SYN on a finished connection's tuple starts a new connection.
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        if ((tcp->tcp_flags & (tcp_syn | tcp_ack)) == tcp_syn) {
            _wheel.remove(c);
            expire(c);
            c = nullptr;
        }
    }
    if (!c) {
        const local_entry *local = _snap->find_local(ip->dst_addr);
        if (!local) return drop_pkt(m, drop::not_local);
        // The host's own traffic (ssh, BGP...) and replies to health probes: the kernel's.
        if (local->kind == local_kind::port)
            return to_kernel(m, in_port, drop::unsupported_proto, bgp_with_neighbour(*_snap, key) ? host_class::lifeline : host_class::other);
        if (local->kind == local_kind::laddr) {
            if (_snap->probe_reply_port(key.dport())) return to_kernel(m, in_port, drop::no_conn, host_class::lifeline);
            // A reply to an lport another worker owns goes home through its redirect ring.
            uint32_t owner = reply_owner(local->index, key.src, key.sport(), key.dport());
            if (redirected || owner == _id) return drop_pkt(m, drop::no_conn);
            if (rte_ring_mp_enqueue(_redirect_to[owner], m) != 0) return drop_pkt(m, drop::redirect_full);
            _counters.redirected_out++;
            return;
        }
        // Only now is the packet one to forward: the host's own traffic above may come
        // with TTL 1 (single-hop BGP).
        if (ip->time_to_live <= 1) return drop_pkt(m, drop::ttl_exceeded);
        c = new_conn(m, key, l4_off, in_port);
        if (!c) return; // counted and freed by new_conn
        dir = 0;
    } else if (ip->time_to_live <= 1) {
        return drop_pkt(m, drop::ttl_exceeded);
    } else if (__builtin_expect(c->flags & conn::has_side, 0) && c->state == tcp_state::syn_sent &&
               _synproxy.waiting(_conns.index_of(c))) {
        return proxied_segment(m, *c, dir, l4_off);
    } else if (__builtin_expect(conn::is_v6(*c), 0)) {
        return forward6(m, *c, dir, l4_off); // a 6->4 connection's reply
    }
    forward(m, *c, dir, l4_off);
}

} // namespace fulcrum::dataplane
