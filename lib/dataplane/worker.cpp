#include "dataplane/worker.h"

#include "net/checksum.h"

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fulcrum::dataplane {

using conn::connection;
using conn::flow_key;
using conn::tcp_state;

namespace {

constexpr uint32_t l3_off = sizeof(rte_ether_hdr);
constexpr uint8_t tcp_fin = RTE_TCP_FIN_FLAG, tcp_syn = RTE_TCP_SYN_FLAG, tcp_rst = RTE_TCP_RST_FLAG,
                  tcp_ack = RTE_TCP_ACK_FLAG;
constexpr unsigned expire_budget = 256; // per loop, so a mass expiry cannot stall rx
constexpr unsigned sweep_budget = 256;  // pool entries a drain sweep visits per loop

rte_ring *make_ring(const std::string &name, unsigned esize, unsigned count) {
    rte_ring *r = rte_ring_create_elem(name.c_str(), esize, count, static_cast<int>(rte_socket_id()),
                                       RING_F_SC_DEQ);
    if (!r) throw std::runtime_error("cannot create ring " + name + ": " + rte_strerror(rte_errno));
    return r;
}

uint16_t ip_word_ttl_proto(const rte_ipv4_hdr *ip) {
    uint16_t w;
    std::memcpy(&w, &ip->time_to_live, 2);
    return w;
}

// Rewrite MSS in a SYN's options to at most `clamp` (host order); returns checksum delta.
uint32_t clamp_mss(rte_tcp_hdr *tcp, uint32_t hdr_len, uint16_t clamp) {
    uint8_t *opt = reinterpret_cast<uint8_t *>(tcp) + sizeof(rte_tcp_hdr);
    uint8_t *end = reinterpret_cast<uint8_t *>(tcp) + hdr_len;
    while (opt < end) {
        if (*opt == 0) break;
        if (*opt == 1) {
            opt++;
            continue;
        }
        if (opt + 1 >= end || opt[1] < 2 || opt + opt[1] > end) break;
        if (opt[0] == 2 && opt[1] == 4) {
            uint16_t mss_be;
            std::memcpy(&mss_be, opt + 2, 2);
            if (rte_be_to_cpu_16(mss_be) <= clamp) return 0;
            uint16_t new_be = rte_cpu_to_be_16(clamp);
            std::memcpy(opt + 2, &new_be, 2);
            return net::csum_replace16(0, mss_be, new_be);
        }
        opt += opt[1];
    }
    return 0;
}

} // namespace

worker::worker(const worker_params &p, const snapshot *snap)
    : _id(p.id), _n_workers(p.n_workers), _snap(snap), _qsbr(p.qsbr), _pool(p.pool), _conns(p.conn_capacity),
      _wheel(_conns), _lports(static_cast<uint32_t>(snap->laddrs.size()), p.lport_min, p.lport_max,
                              p.id, p.n_workers),
      _neigh(std::make_unique<neigh_table>()), _tx(2 * snap->ports.size()),
      _listener_counters(max_listener_slots), _backend_counters(max_backend_slots),
      _sched_cursor(max_listener_slots), _idle_timeout_s(max_listener_slots) {
    std::memset(_port_index, 0xff, sizeof(_port_index));
    for (size_t i = 0; i < snap->ports.size(); i++) _port_index[snap->ports[i].port_id] = static_cast<uint8_t>(i);
    _tsc_hz = rte_get_tsc_hz();
    _tsc_per_tick = _tsc_hz / conn::timer_wheel::ticks_per_second;
    _drain_tsc = (_tsc_hz + 9999) / 10000; // 100 us, as l3fwd
    _exc_poll_tsc = _tsc_hz / 20000;        // 50 us
    std::string sfx = std::to_string(p.id) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffffff);
    _redirect_in = make_ring("fr_redir_" + sfx, sizeof(void *), 4096);
    _msg_in = make_ring("fr_msg_" + sfx, sizeof(worker_msg), 1024);
    adopt_snapshot(snap);
    for (const auto &n : snap->static_neighbours) {
        neigh_entry *e = _neigh->find_or_add(rte_cpu_to_be_32(n.ip));
        if (!e) break;
        std::memcpy(e->mac.addr_bytes, n.mac.data(), 6);
        e->resolved = true;
    }
}

worker::~worker() {
    flush_tx();
    _neigh->for_each([](neigh_entry &e) {
        for (unsigned i = 0; i < e.n_pending; i++) rte_pktmbuf_free(e.pending[i]);
        e.n_pending = 0;
    });
    void *obj;
    while (rte_ring_sc_dequeue(_redirect_in, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf *>(obj));
    rte_ring_free(_redirect_in);
    rte_ring_free(_msg_in);
}

void worker::adopt_snapshot(const snapshot *snap) {
    const snapshot *old = _snap;
    _snap = snap;
    _adopted.store(snap->generation, std::memory_order_release);
    // Workers start at different points of each pick sequence.
    for (const auto &l : snap->listeners) {
        _sched_cursor[l.index] = l.seq_len ? static_cast<uint32_t>(uint64_t(l.seq_len) * _id / _n_workers) : 0;
        _idle_timeout_s[l.index] = l.idle_timeout_s;
    }
    if (old != snap) note_ineligible(*old, *snap);
}

namespace {
uint32_t drain_key(uint8_t listener, uint16_t slot) { return uint32_t(listener) << 16 | slot; }
const uint16_t *eligible_begin(const snapshot &s, const listener_rt &l) { return s.eligible_slots.data() + l.eligible_offset; }
} // namespace

void worker::note_ineligible(const snapshot &old, const snapshot &now) {
    for (const listener_rt &ol : old.listeners) {
        const listener_rt *nl = now.listener_at_slot(ol.index);
        const uint16_t *after = nl ? eligible_begin(now, *nl) : nullptr;
        const uint16_t *after_end = nl ? after + nl->eligible_len : nullptr;
        // A deleted listener's connections follow its last drain setting.
        uint32_t deadline = _now_tick + ticks((nl ? nl : &ol)->drain_timeout_s);
        for (const uint16_t *b = eligible_begin(old, ol); b != eligible_begin(old, ol) + ol.eligible_len; b++) {
            if (std::binary_search(after, after_end, *b)) continue;
            // An earlier deadline for the same pair stands.
            if (_drains.emplace(drain_key(ol.index, *b), deadline).second &&
                (_drains.size() == 1 || static_cast<int32_t>(deadline - _drain_due) < 0))
                _drain_due = deadline;
        }
    }
    if (_drains.empty()) return;
    // Eligible again (weight back above 0, re-added, healthy): its connections stay.
    for (const listener_rt &nl : now.listeners)
        for (const uint16_t *b = eligible_begin(now, nl); b != eligible_begin(now, nl) + nl.eligible_len; b++)
            _drains.erase(drain_key(nl.index, *b));
}

// Walks the connection pool a slice per loop, resetting the connections whose drain
// deadline has passed. A deadline is dropped once a whole pass began after it.
void worker::sweep_drained() {
    if (!_sweeping) {
        _sweeping = true;
        _sweep_pos = 0;
        _sweep_pass_start = _now_tick;
    }
    uint32_t end = std::min(_sweep_pos + sweep_budget, _conns.capacity());
    for (uint32_t i = _sweep_pos; i < end; i++) {
        connection &c = _conns.at(i);
        if (!conn::conn_table::live(c)) continue;
        auto it = _drains.find(drain_key(c.listener, c.backend_slot));
        if (it != _drains.end() && static_cast<int32_t>(_now_tick - it->second) >= 0) close_drained(c);
    }
    _sweep_pos = end;
    if (end < _conns.capacity()) return;
    _sweeping = false;
    bool first = true;
    for (auto it = _drains.begin(); it != _drains.end();) {
        if (static_cast<int32_t>(_sweep_pass_start - it->second) >= 0) {
            it = _drains.erase(it);
            continue;
        }
        if (first || static_cast<int32_t>(it->second - _drain_due) < 0) _drain_due = it->second;
        first = false;
        ++it;
    }
}

void worker::close_drained(connection &c) {
    if (c.proto == IPPROTO_TCP && c.state != tcp_state::close && c.state != tcp_state::time_wait) {
        if (c.flags & conn::ack_out) send_reset(c, 0);
        if (c.flags & conn::ack_in) send_reset(c, 1);
    }
    _counters.conn_drained++;
    _wheel.remove(&c);
    expire(&c);
}

void worker::set_peers(std::vector<rte_ring *> redirect_rings, std::vector<rte_ring *> msg_rings,
                       std::vector<const flow_counters *> backend_counters) {
    _all_backend_counters = std::move(backend_counters);
    _redirect_to = std::move(redirect_rings);
    _msg_to = std::move(msg_rings);
}

const conn::connection *worker::find_conn(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
                                    uint16_t dport) const {
    flow_key k{rte_cpu_to_be_32(src), rte_cpu_to_be_32(dst),
               conn::pack_ports(rte_cpu_to_be_16(sport), rte_cpu_to_be_16(dport)), proto};
    unsigned dir;
    return _conns.lookup(k, conn::conn_table::hash(k), dir);
}

// ---------------------------------------------------------------------------------------
// Loop

void worker::poll_once(uint64_t now_tsc) {
    if (!_started) {
        _tsc0 = now_tsc;
        _wheel.start(0);
        _last_drain_tsc = _last_neigh_tsc = now_tsc;
        _started = true;
    }
    _now_tsc = now_tsc;
    _now_tick = static_cast<uint32_t>((now_tsc - _tsc0) / _tsc_per_tick);

    // Between iterations this worker holds no snapshot reference: that is its quiescent
    // point. A new snapshot from the message ring is adopted right after it.
    if (_qsbr) rte_rcu_qsbr_quiescent(_qsbr, _id);
    drain_rings();
    // A queue that gave less than a full burst is drained: holding frames back for a
    // fuller tx burst would only add latency. Under load every burst is full and tx
    // waits for the buffer to fill (or the 100 us timer).
    bool drained = true;
    for (const rxq &q : _rxq) {
        staged_burst b;
        b.n = rte_eth_rx_burst(q.port_id, q.queue, b.pkts, burst);
        if (b.n == burst) drained = false;
        if (b.n == 0) continue;
        b.in_port = _port_index[q.port_id];
        stage_burst(b);
        process_staged(b);
    }

    // net_tap's rx is a read() syscall: the kernel's side is polled every 50 us, not
    // every loop (its traffic is health probes and host services, not the fast path).
    if (!_excq.empty() && now_tsc - _last_exc_tsc >= _exc_poll_tsc) {
        poll_exception_queues();
        _last_exc_tsc = now_tsc;
    }
    _wheel.advance(_now_tick, [this](connection *c) { expire(c); }, expire_budget);
    if (!_drains.empty() && (_sweeping || static_cast<int32_t>(_now_tick - _drain_due) >= 0)) sweep_drained();
    if (now_tsc - _last_neigh_tsc > _tsc_hz / 10) {
        neigh_timers();
        _last_neigh_tsc = now_tsc;
    }
    if (drained || now_tsc - _last_drain_tsc >= _drain_tsc) {
        flush_tx();
        _last_drain_tsc = now_tsc;
    }
}

void worker::run(const std::atomic<bool> &quit) {
    while (!quit.load(std::memory_order_relaxed)) poll_once(rte_rdtsc());
    flush_tx();
}

void worker::drain_rings() {
    if (!rte_ring_empty(_msg_in)) {
        worker_msg msgs[32];
        unsigned n = rte_ring_dequeue_burst_elem(_msg_in, msgs, sizeof(worker_msg), 32, nullptr);
        for (unsigned i = 0; i < n; i++)
            if (msgs[i].type == worker_msg::neigh_learned) learn_neighbour(msgs[i].ip, msgs[i].neigh.mac, false);
            else if (msgs[i].type == worker_msg::new_snapshot) adopt_snapshot(msgs[i].snap);
    }
    if (!rte_ring_empty(_redirect_in)) {
        rte_mbuf *pkts[burst];
        unsigned n = rte_ring_sc_dequeue_burst(_redirect_in, reinterpret_cast<void **>(pkts), burst, nullptr);
        for (unsigned i = 0; i < n; i++) {
            _counters.redirected_in++;
            uint8_t in_port = _port_index[pkts[i]->port];
            handle_ipv4(pkts[i], in_port == 0xff ? 0 : in_port, true);
        }
    }
}

void worker::poll_exception_queues() {
    for (const excq &q : _excq) {
        rte_mbuf *pkts[burst];
        uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst);
        _counters.from_kernel += n;
        for (uint16_t i = 0; i < n; i++) { // the kernel's own frames leave unchanged
            pkts[i]->ol_flags = 0;
            enqueue_tx(q.port_index, pkts[i]);
        }
    }
}

void worker::to_kernel(rte_mbuf *m, uint8_t in_port, drop otherwise) {
    if (_snap->ports[in_port].exc_port_id == port_rt::no_exception_port) return drop_pkt(m, otherwise);
    _counters.to_kernel++;
    enqueue_tx(static_cast<uint8_t>(_snap->ports.size() + in_port), m);
}

void worker::tx_burst(uint8_t port) {
    tx_buffer &b = _tx[port];
    uint64_t bytes = 0; // read before the PMD may free the mbufs
    for (uint16_t i = 0; i < b.n; i++) bytes += b.pkts[i]->pkt_len;
    size_t n_ports = _snap->ports.size();
    uint16_t port_id = port < n_ports ? _snap->ports[port].port_id : _snap->ports[port - n_ports].exc_port_id;
    uint16_t sent = rte_eth_tx_burst(port_id, static_cast<uint16_t>(_id), b.pkts, b.n);
    _counters.tx_pkts += sent;
    for (uint16_t i = sent; i < b.n; i++) {
        bytes -= b.pkts[i]->pkt_len;
        drop_pkt(b.pkts[i], drop::tx_full);
    }
    _counters.tx_bytes += bytes;
    b.n = 0;
}

void worker::enqueue_tx(uint8_t port, rte_mbuf *m) {
    tx_buffer &b = _tx[port];
    b.pkts[b.n++] = m;
    if (b.n == burst) tx_burst(port);
}

void worker::flush_tx() {
    for (size_t p = 0; p < _tx.size(); p++)
        if (_tx[p].n) tx_burst(static_cast<uint8_t>(p));
}

// ---------------------------------------------------------------------------------------
// Classification

namespace {
// The flow hash of a plain IPv4 TCP/UDP frame, read before full validation so the
// burst's table lines can be prefetched; anything unusual takes the slow path.
inline bool peek_flow_hash(const rte_mbuf *m, uint32_t &h) {
    constexpr uint32_t need = l3_off + sizeof(rte_ipv4_hdr) + 4;
    if (m->data_len < need) return false;
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return false;
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + 1);
    if (ip->version_ihl != 0x45 || (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP))
        return false;
    h = conn::conn_table::hash({ip->src_addr, ip->dst_addr, conn::load_ports(ip + 1), ip->next_proto_id});
    return true;
}
} // namespace

void worker::stage_burst(staged_burst &b) {
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < b.n; i++) {
        bytes += b.pkts[i]->pkt_len;
        b.have[i] = peek_flow_hash(b.pkts[i], b.hash[i]);
    }
    _counters.rx_pkts += b.n;
    _counters.rx_bytes += bytes;
    // A tight loop of independent bucket loads keeps many cache misses in flight at once.
    for (uint16_t i = 0; i < b.n; i++)
        if (b.have[i]) _conns.touch_bucket(b.hash[i]);
}

void worker::process_staged(staged_burst &b) {
    // Every bucket of the burst was touched by stage_burst; connection lines are
    // prefetched a few packets ahead, now that the buckets leading to them are in cache.
    constexpr uint16_t ahead = 4;
    for (uint16_t i = 0; i < b.n && i < ahead; i++)
        if (b.have[i]) _conns.prefetch_conn(b.hash[i]);
    for (uint16_t i = 0; i < b.n; i++) {
        if (i + ahead < b.n && b.have[i + ahead]) _conns.prefetch_conn(b.hash[i + ahead]);
        rte_mbuf *m = b.pkts[i];
        if (!b.have[i]) process(m, b.in_port);
        else if (accept_frame(m, b.in_port)) handle_ipv4(m, b.in_port, false, &b.hash[i]);
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
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return handle_arp(m, in_port);
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

    if (ip->next_proto_id == IPPROTO_ICMP) {
        const local_entry *local = _snap->find_local(ip->dst_addr);
        if (!local) return drop_pkt(m, drop::not_local);
        return handle_icmp(m, in_port, *local);
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
    if (ip->time_to_live <= 1) return drop_pkt(m, drop::ttl_exceeded);

    // The common case first: a known connection. A hit also says what the destination
    // is (direction 0: a VIP, 1: a local address), so the local-address table is only
    // consulted for packets that start a connection or belong to another worker.
    unsigned dir = 0;
    connection *c = _conns.lookup(key, hash ? *hash : conn::conn_table::hash(key), dir);
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
        if (local->kind == local_kind::port) return to_kernel(m, in_port, drop::unsupported_proto);
        if (local->kind == local_kind::laddr) {
            if (probe_reply_port(key.dport())) return to_kernel(m, in_port, drop::no_conn);
            // A reply to an lport another worker owns goes home through its redirect ring.
            uint32_t owner = laddr::owner_of_port(rte_be_to_cpu_16(key.dport()), _n_workers);
            if (redirected || owner == _id) return drop_pkt(m, drop::no_conn);
            if (rte_ring_mp_enqueue(_redirect_to[owner], m) != 0) return drop_pkt(m, drop::redirect_full);
            _counters.redirected_out++;
            return;
        }
        c = new_conn(m, key, l4_off, in_port);
        if (!c) return; // counted and freed by new_conn
        dir = 0;
    }
    forward(m, *c, dir, l4_off);
}

// ---------------------------------------------------------------------------------------
// Full-NAT

bool worker::acl_allows(const snapshot &s, const listener_rt &l, uint32_t src) {
    bool listed = false;
    for (uint32_t i = l.acl_offset; i < uint32_t(l.acl_offset) + l.acl_len && !listed; i++)
        listed = (src & s.acl[i].mask) == s.acl[i].net;
    return listed == l.acl_white;
}

// The scheduler was chosen when the snapshot was built: a table walk or a lookup.
const backend_rt *worker::schedule(const listener_rt &l, const flow_key &key) {
    uint32_t pick;
    if (l.pick == listener_rt::by_sequence) {
        uint32_t &cursor = _sched_cursor[l.index];
        if (cursor >= l.seq_len) cursor = 0;
        pick = cursor++;
    } else if (l.pick == listener_rt::by_least_conn) {
        pick = least_loaded(l);
    } else {
        uint32_t h = l.pick == listener_rt::by_source_ip ? rte_hash_crc_4byte(key.src, 0x5eed) : conn::conn_table::hash(key);
        pick = h % l.seq_len;
    }
    return &_snap->backends[l.backend_offset + _snap->sched_seq[l.seq_offset + pick]];
}

connection *worker::new_conn(rte_mbuf *m, const flow_key &key, uint32_t l4_off, uint8_t in_port) {
    if (key.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        if ((tcp->tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin)) != tcp_syn) {
            drop_pkt(m, drop::no_conn);
            return nullptr;
        }
    }
    const listener_rt *l = _snap->find_listener(key.dst, key.proto, key.dport());
    if (!l) {
        drop_pkt(m, drop::no_listener);
        return nullptr;
    }
    flow_counters &lc = _listener_counters[l->index];
    if (l->acl_on && !acl_allows(*_snap, *l, key.src)) {
        lc.drops++;
        drop_pkt(m, drop::acl_denied);
        return nullptr;
    }
    if (l->seq_len == 0) {
        // Nothing can serve it: a TCP client learns so at once instead of retrying.
        lc.drops++;
        _counters.drops[static_cast<unsigned>(drop::no_backend)]++;
        if (key.proto == IPPROTO_TCP) reply_reset(m, in_port, l4_off);
        else rte_pktmbuf_free(m);
        return nullptr;
    }
    const backend_rt *chosen = nullptr;
    std::atomic<uint64_t> *persisted = nullptr;
    uint16_t now_s = static_cast<uint16_t>(_now_tsc / _tsc_hz);
    if (l->persist) {
        persisted = &l->persist->slots[rte_hash_crc_4byte(key.src, l->index) & (persist_table::entries - 1)];
        uint64_t e = persisted->load(std::memory_order_relaxed);
        if (uint32_t(e >> 32) == key.src && static_cast<int16_t>(static_cast<uint16_t>(e) - now_s) > 0) {
            // Still this listener's and still eligible (weight > 0, up)?
            uint16_t slot = static_cast<uint16_t>(e >> 16);
            for (uint32_t i = 0; i < l->n_backends; i++) {
                const backend_rt &cand = _snap->backends[l->backend_offset + i];
                if (cand.slot == slot && cand.weight > 0) {
                    chosen = &cand;
                    _counters.persist_hits++;
                    break;
                }
            }
        }
    }
    if (!chosen) chosen = schedule(*l, key);
    if (persisted)
        persisted->store(persist_table::pack(key.src, chosen->slot, static_cast<uint16_t>(now_s + l->persist_timeout_s)),
                         std::memory_order_relaxed);
    const backend_rt &b = *chosen;

    route to_backend, to_client;
    if (!_snap->lookup_route(b.ip, to_backend) || !_snap->lookup_route(key.src, to_client)) {
        lc.drops++;
        drop_pkt(m, drop::no_route);
        return nullptr;
    }
    neigh_entry *nh_backend = _neigh->find_or_add(to_backend.next_hop);
    neigh_entry *nh_client = _neigh->find_or_add(to_client.next_hop);
    if (!nh_backend || !nh_client) {
        lc.drops++;
        drop_pkt(m, drop::neigh_table_full);
        return nullptr;
    }
    uint32_t entry;
    if (!_lports.take(entry)) {
        lc.drops++;
        drop_pkt(m, drop::lport_exhausted);
        return nullptr;
    }
    connection *c = _conns.alloc();
    if (!c) {
        _lports.give(entry);
        lc.drops++;
        drop_pkt(m, drop::table_full);
        return nullptr;
    }
    c->cip = key.src;
    c->vip = key.dst;
    c->cport = key.sport();
    c->vport = key.dport();
    c->laddr = _snap->laddrs[laddr::entry_laddr(entry)];
    c->lport = rte_cpu_to_be_16(laddr::entry_port(entry));
    c->bip = b.ip;
    c->bport = b.port;
    c->proto = key.proto;
    c->laddr_entry = entry;
    c->listener = l->index;
    c->backend_slot = b.slot;
    c->state = key.proto == IPPROTO_TCP ? tcp_state::syn_sent : tcp_state::none;
    c->out_port[0] = to_backend.port;
    c->neigh[0] = _neigh->index_of(nh_backend);
    c->out_port[1] = to_client.port;
    c->neigh[1] = _neigh->index_of(nh_client);
    uint32_t ip_sum = net::csum_replace32(net::csum_replace32(0, c->cip, c->laddr), c->vip, c->bip);
    uint32_t l4_sum = net::csum_replace16(net::csum_replace16(ip_sum, c->cport, c->lport), c->vport, c->bport);
    c->ip_delta = net::csum_fold(ip_sum);
    c->l4_delta = net::csum_fold(l4_sum);
    if (!_conns.insert(c)) {
        _conns.release(c);
        _lports.give(entry);
        lc.drops++;
        drop_pkt(m, drop::table_full);
        return nullptr;
    }
    uint32_t timeout = key.proto == IPPROTO_TCP ? _snap->tcp_timeout_s[static_cast<int>(tcp_state::syn_sent)]
                                                : l->idle_timeout_s;
    c->expire_tick = _now_tick + ticks(timeout);
    _wheel.add(c);
    _counters.conn_created++;
    lc.new_conns++;
    lc.active++;
    _backend_counters[b.slot].new_conns++;
    _backend_counters[b.slot].active++;
    return c;
}

// wlc: the candidate with the fewest active connections (summed over every worker's
// counters, read without locks) per unit of weight. Costs O(backends x workers) per new
// connection; ties go round robin so equal loads do not all pick the first backend.
uint32_t worker::least_loaded(const listener_rt &l) {
    uint32_t &cursor = _sched_cursor[l.index];
    uint32_t best = 0;
    int64_t best_active = -1;
    uint32_t best_weight = 1;
    for (uint32_t k = 0; k < l.seq_len; k++) {
        uint32_t i = (cursor + k) % l.seq_len;
        const backend_rt &b = _snap->backends[l.backend_offset + _snap->sched_seq[l.seq_offset + i]];
        int64_t active = 0;
        for (const flow_counters *wc : _all_backend_counters) active += __atomic_load_n(&wc[b.slot].active, __ATOMIC_RELAXED);
        // active/weight < best_active/best_weight, without division
        if (best_active < 0 || active * best_weight < best_active * b.weight) {
            best = i;
            best_active = active;
            best_weight = b.weight;
        }
    }
    cursor = (cursor + 1) % l.seq_len;
    return best;
}

void worker::track_tcp(connection &c, unsigned dir, uint8_t f) {
    tcp_state s = c.state;
    if (f & tcp_rst) {
        s = tcp_state::close;
    } else {
        if (s == tcp_state::syn_sent && dir == 1 && (f & (tcp_syn | tcp_ack)) == (tcp_syn | tcp_ack))
            s = tcp_state::syn_recv;
        else if (s == tcp_state::syn_recv && dir == 0 && (f & (tcp_ack | tcp_syn)) == tcp_ack)
            s = tcp_state::established;
        if (f & tcp_fin) {
            c.flags = static_cast<uint8_t>(c.flags | (dir == 0 ? conn::fin_in : conn::fin_out));
            if ((c.flags & (conn::fin_in | conn::fin_out)) == (conn::fin_in | conn::fin_out))
                s = tcp_state::time_wait;
            else if (s != tcp_state::time_wait && s != tcp_state::close)
                s = tcp_state::fin_wait;
        }
    }
    if (s != c.state) c.state = s;
    refresh_expiry(c, s == tcp_state::established ? _idle_timeout_s[c.listener] : _snap->tcp_timeout_s[static_cast<int>(s)]);
}

void worker::refresh_expiry(connection &c, uint32_t timeout_s) {
    uint32_t t = ticks(timeout_s);
    uint32_t want = _now_tick + t;
    int32_t ahead = static_cast<int32_t>(want - c.expire_tick);
    // Moving the deadline by less than 1/32 of the timeout is not worth a store: it
    // would dirty the connection's cache line on every packet (a write-back per packet
    // once the table outgrows the cache). Shorter deadlines always apply.
    if (ahead < 0 || uint32_t(ahead) >= std::max<uint32_t>(1, t / 32)) _wheel.set_expiry(&c, want);
}

void worker::forward(rte_mbuf *m, connection &c, unsigned dir, uint32_t l4_off) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    uint16_t ip_delta = dir == 0 ? c.ip_delta : net::csum_negate(c.ip_delta);
    uint16_t l4_delta = dir == 0 ? c.l4_delta : net::csum_negate(c.l4_delta);
    uint8_t out = c.out_port[dir];
    const port_rt &op = _snap->ports[out];

    if (dir == 0) {
        ip->src_addr = c.laddr;
        ip->dst_addr = c.bip;
    } else {
        ip->src_addr = c.vip;
        ip->dst_addr = c.cip;
    }
    // TTL is the low byte of the (TTL, protocol) word as read from memory; computing the
    // new word instead of re-reading it avoids a store-forwarding stall.
    uint16_t old_w = ip_word_ttl_proto(ip);
    uint16_t new_w = static_cast<uint16_t>(old_w - 1);
    ip->time_to_live = static_cast<uint8_t>(ip->time_to_live - 1);
    if (op.tx_ip_cksum) {
        ip->hdr_checksum = 0;
        m->l2_len = sizeof(rte_ether_hdr);
        m->l3_len = sizeof(rte_ipv4_hdr);
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    } else {
        ip->hdr_checksum = net::csum_apply(ip->hdr_checksum,
                                           net::csum_fold(net::csum_replace16(ip_delta, old_w, new_w)));
    }

    uint32_t bytes = m->pkt_len;
    if (c.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        if (dir == 0) {
            tcp->src_port = c.lport;
            tcp->dst_port = c.bport;
        } else {
            tcp->src_port = c.vport;
            tcp->dst_port = c.cport;
        }
        uint32_t delta = l4_delta;
        if (_snap->mss_clamp && (tcp->tcp_flags & tcp_syn))
            delta += clamp_mss(tcp, (tcp->data_off >> 4) * 4u, _snap->mss_clamp);
        tcp->cksum = net::csum_apply(tcp->cksum, net::csum_fold(delta));
        if (tcp->tcp_flags & tcp_ack) {
            c.ack[dir] = tcp->recv_ack;
            c.flags = static_cast<uint8_t>(c.flags | (conn::ack_in << dir));
        }
        track_tcp(c, dir, tcp->tcp_flags);
    } else {
        auto *udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr *, l4_off);
        if (dir == 0) {
            udp->src_port = c.lport;
            udp->dst_port = c.bport;
        } else {
            udp->src_port = c.vport;
            udp->dst_port = c.cport;
        }
        if (udp->dgram_cksum != 0) {
            uint16_t ck = net::csum_apply(udp->dgram_cksum, l4_delta);
            udp->dgram_cksum = ck == 0 ? 0xffff : ck;
        }
        refresh_expiry(c, _idle_timeout_s[c.listener]);
    }

    flow_counters &lc = _listener_counters[c.listener];
    flow_counters &bc = _backend_counters[c.backend_slot];
    if (dir == 0) {
        lc.pkts_in++, lc.bytes_in += bytes, bc.pkts_in++, bc.bytes_in += bytes;
    } else {
        lc.pkts_out++, lc.bytes_out += bytes, bc.pkts_out++, bc.bytes_out += bytes;
    }
    send_ipv4(m, out, _neigh->at(c.neigh[dir]));
}

void worker::expire(connection *c) {
    _counters.conn_expired++;
    _listener_counters[c->listener].active--;
    _backend_counters[c->backend_slot].active--;
    _lports.give(c->laddr_entry);
    _conns.remove(c);
}

void worker::send_reset(const connection &c, unsigned dir) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    constexpr uint16_t len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, len));
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    auto *tcp = reinterpret_cast<rte_tcp_hdr *>(ip + 1);
    std::memset(eth, 0, len);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    if (dir == 0) { // to the backend, as the connection's laddr:lport
        ip->src_addr = c.laddr, ip->dst_addr = c.bip;
        tcp->src_port = c.lport, tcp->dst_port = c.bport;
        tcp->sent_seq = c.ack[1];
    } else { // to the client, as the VIP
        ip->src_addr = c.vip, ip->dst_addr = c.cip;
        tcp->src_port = c.vport, tcp->dst_port = c.cport;
        tcp->sent_seq = c.ack[0];
    }
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = tcp_rst;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    _counters.rst_sent++;
    send_ipv4(m, c.out_port[dir], _neigh->at(c.neigh[dir]));
}

void worker::turn_around(rte_mbuf *m, uint8_t in_port) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    rte_ether_addr peer = eth->src_addr;
    eth->dst_addr = peer;
    eth->src_addr = _snap->ports[in_port].mac;
    uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
}

void worker::reply_reset(rte_mbuf *m, uint8_t in_port, uint32_t l4_off) {
    turn_around(m, in_port);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint16_t sport = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = sport;
    // RST+ACK acknowledging the whole segment (RFC 793: sequence number plus segment
    // length, the SYN counting one), no options, no payload.
    uint32_t seg_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr) - (tcp->data_off >> 4) * 4u + 1;
    uint32_t syn_seq = rte_be_to_cpu_32(tcp->sent_seq);
    tcp->recv_ack = rte_cpu_to_be_32(syn_seq + seg_len);
    tcp->sent_seq = 0;
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = tcp_rst | tcp_ack;
    tcp->rx_win = 0;
    tcp->tcp_urp = 0;
    ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
    ip->time_to_live = 64;
    ip->packet_id = 0;
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - (l4_off + sizeof(rte_tcp_hdr))));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->cksum = 0;
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    m->ol_flags = 0;
    _counters.rst_sent++;
    enqueue_tx(in_port, m);
}

// ---------------------------------------------------------------------------------------
// ICMP, ARP and neighbours

void worker::handle_icmp(rte_mbuf *m, uint8_t in_port, const local_entry &local) {
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    uint32_t l4_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr);
    if (l4_len < sizeof(rte_icmp_hdr)) return drop_pkt(m, drop::trunc_l4);
    auto *icmp = rte_pktmbuf_mtod_offset(m, rte_icmp_hdr *, l3_off + sizeof(rte_ipv4_hdr));
    bool answer = icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0 &&
                  (local.kind != local_kind::vip || local.has_listener);
    // Other ICMP to the host or a laddr (echo replies, port unreachable for a UDP probe)
    // is the kernel's; to a VIP it is dropped.
    if (!answer) return local.kind == local_kind::vip ? drop_pkt(m, drop::icmp_ignored)
                                                      : to_kernel(m, in_port, drop::icmp_ignored);

    turn_around(m, in_port);
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = static_cast<uint16_t>(~net::csum_buffer(ip, sizeof(*ip)));
    uint16_t old_w, new_w;
    std::memcpy(&old_w, &icmp->icmp_type, 2);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    std::memcpy(&new_w, &icmp->icmp_type, 2);
    icmp->icmp_cksum = net::csum_apply(icmp->icmp_cksum, net::csum_fold(net::csum_replace16(0, old_w, new_w)));
    m->ol_flags = 0;
    _counters.icmp_replies++;
    enqueue_tx(in_port, m);
}

void worker::handle_arp(rte_mbuf *m, uint8_t in_port) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return drop_pkt(m, drop::arp_ignored);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr *, sizeof(rte_ether_hdr));
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
        return drop_pkt(m, drop::arp_ignored);

    const port_rt &port = _snap->ports[in_port];
    uint32_t sip = arp->arp_data.arp_sip, tip = arp->arp_data.arp_tip;
    const local_entry *target = _snap->find_local(tip);
    bool from_subnet = sip != 0 && (sip & port.mask) == (port.ip & port.mask);
    uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);

    if (from_subnet && (op == RTE_ARP_OP_REPLY || target)) learn_neighbour(sip, arp->arp_data.arp_sha, true);
    // Replies also resolve the kernel's own neighbours (probe next hops).
    if (op == RTE_ARP_OP_REPLY && from_subnet) return to_kernel(m, in_port, drop::arp_ignored);
    if (op != RTE_ARP_OP_REQUEST || !target) return drop_pkt(m, drop::arp_ignored);

    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = sip;
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = tip;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = port.mac;
    m->ol_flags = 0;
    _counters.arp_replies++;
    enqueue_tx(in_port, m);
}

void worker::learn_neighbour(uint32_t ip, const rte_ether_addr &mac, bool tell_peers) {
    neigh_entry *e = _neigh->find_or_add(ip);
    if (!e) {
        _counters.drops[static_cast<unsigned>(drop::neigh_table_full)]++;
        return;
    }
    bool changed = !e->resolved || !rte_is_same_ether_addr(&e->mac, &mac);
    e->mac = mac;
    e->resolved = true;
    e->retries = 0;
    for (unsigned i = 0; i < e->n_pending; i++) {
        rte_mbuf *p = e->pending[i];
        auto *eth = rte_pktmbuf_mtod(p, rte_ether_hdr *);
        eth->dst_addr = mac;
        enqueue_tx(e->port, p);
    }
    e->n_pending = 0;
    if (!tell_peers || !changed) return;
    worker_msg msg{};
    msg.type = worker_msg::neigh_learned;
    msg.ip = ip;
    msg.neigh.mac = mac;
    for (uint32_t w = 0; w < _msg_to.size(); w++)
        if (w != _id) rte_ring_mp_enqueue_elem(_msg_to[w], &msg, sizeof(msg));
}

void worker::send_ipv4(rte_mbuf *m, uint8_t out_port, neigh_entry &next_hop) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    eth->src_addr = _snap->ports[out_port].mac;
    neigh_entry *e = &next_hop;
    if (e->resolved) {
        eth->dst_addr = e->mac;
        return enqueue_tx(out_port, m);
    }
    if (e->n_pending == neigh_entry::max_pending) return drop_pkt(m, drop::neigh_queue_full);
    e->port = out_port;
    e->pending[e->n_pending++] = m;
    if (e->n_pending == 1) {
        e->retries = 0;
        e->next_try_tsc = _now_tsc + _tsc_hz;
        send_arp_request(out_port, e->ip);
    }
}

void worker::neigh_timers() {
    _neigh->for_each([this](neigh_entry &e) {
        if (e.resolved || e.n_pending == 0 || _now_tsc < e.next_try_tsc) return;
        if (++e.retries >= 3) {
            for (unsigned i = 0; i < e.n_pending; i++) drop_pkt(e.pending[i], drop::neigh_unresolved);
            e.n_pending = 0;
            return;
        }
        e.next_try_tsc = _now_tsc + _tsc_hz;
        send_arp_request(e.port, e.ip);
    });
}

void worker::send_arp_request(uint8_t out_port, uint32_t target_ip) {
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    const port_rt &port = _snap->ports[out_port];
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)));
    auto *arp = reinterpret_cast<rte_arp_hdr *>(eth + 1);
    memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
    eth->src_addr = port.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = port.ip;
    memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
    arp->arp_data.arp_tip = target_ip;
    _counters.arp_requests++;
    enqueue_tx(out_port, m);
}

} // namespace fulcrum::dataplane
