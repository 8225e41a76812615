// Full-NAT: new connections (listener, ACL, persistence, scheduler, laddr:lport, both
// directions indexed), the rewrite of every packet with precomputed checksum deltas,
// TCP state, expiry and the resets Fulcrum sends on its own.
#include "dataplane/worker_internal.h"
#include "net/toeplitz.h"

#include <algorithm>

namespace fulcrum::dataplane {

namespace {

uint16_t ip_word_ttl_proto(const rte_ipv4_hdr *ip) {
    uint16_t w;
    std::memcpy(&w, &ip->time_to_live, 2);
    return w;
}

} // namespace

uint32_t detail::clamp_mss(rte_tcp_hdr *tcp, uint16_t clamp) {
    uint32_t delta = 0;
    for_each_option(tcp, [&](uint8_t *opt) {
        if (opt[0] != opt_mss || opt[1] != 4) return true;
        uint16_t mss_be;
        std::memcpy(&mss_be, opt + 2, 2);
        if (rte_be_to_cpu_16(mss_be) > clamp) {
            uint16_t new_be = rte_cpu_to_be_16(clamp);
            std::memcpy(opt + 2, &new_be, 2);
            delta = net::csum_replace16(0, mss_be, new_be);
        }
        return false;
    });
    return delta;
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
        uint32_t h = l.pick == listener_rt::by_source_ip ? rte_hash_crc_4byte(key.src, 0x5eed)
                                                                 : conn::conn_table::hash_with(key, 0x9e3779b9u);
        pick = h % l.seq_len;
    }
    return &_snap->backends[l.backend_offset + _snap->sched_seq[l.seq_offset + pick]];
}

connection *worker::new_conn(rte_mbuf *m, const flow_key &key, uint32_t l4_off, uint8_t in_port) {
    const listener_rt *l = _snap->find_listener(key.dst, key.proto, key.dport());
    bool by_cookie = false;
    net::cookie_options cookie{};
    if (key.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint8_t f = tcp->tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin);
        if (f != tcp_syn) {
            // Not a connection start, unless it is the ACK to a SYN-ACK of the proxy.
            by_cookie = f == tcp_ack && l && l->syn_proxy != listener_rt::proxy_off && check_cookie(m, l4_off, key, cookie);
            if (!by_cookie) {
                // Perhaps another node's connection, its flow moved here by the routers.
                if (!l || !hand_off(m)) drop_pkt(m, drop::no_conn);
                return nullptr;
            }
            if (_pending_free.empty()) { // every waiting slot taken: the client's retry comes back
                drop_pkt(m, drop::syn_proxy_backlog);
                return nullptr;
            }
        }
    }
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
    if (key.proto == IPPROTO_TCP && !by_cookie && proxy_engaged(*l)) {
        answer_with_cookie(m, in_port, l4_off, key, *l);
        return nullptr;
    }
    if (!admit(*l, key.src)) {
        lc.drops++;
        rte_pktmbuf_free(m);
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
    neigh_entry *nh_backend = _neigh->find_or_add(to_backend.next_hop, _now_tsc);
    neigh_entry *nh_client = _neigh->find_or_add(to_client.next_hop, _now_tsc);
    if (!nh_backend || !nh_client) {
        lc.drops++;
        drop_pkt(m, drop::neigh_table_full);
        return nullptr;
    }
    // A full pool or table makes room from flows that never got an answer, never from
    // established ones: a flood of one-packet flows cannot lock out real clients.
    uint32_t entry;
    if (to_backend.port < _snap->port_laddrs.size() && _snap->port_laddrs[to_backend.port].empty()) {
        lc.drops++;
        drop_pkt(m, drop::no_laddr);
        return nullptr;
    }
    if (!take_lport(b, to_backend.port, entry) && !(evict_unassured() && take_lport(b, to_backend.port, entry))) {
        lc.drops++;
        drop_pkt(m, drop::lport_exhausted);
        return nullptr;
    }
    connection *c = _conns.alloc();
    if (!c && evict_unassured()) c = _conns.alloc();
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
    if (key.proto == IPPROTO_UDP) c->ack[0] = _now_tick; // when it began: see forward
    c->out_port[0] = to_backend.port;
    c->neigh[0] = _neigh->index_of(nh_backend);
    c->out_port[1] = to_client.port;
    c->neigh[1] = _neigh->index_of(nh_client);
    nh_backend->port = to_backend.port;
    nh_client->port = to_client.port;
    uint32_t ip_sum = net::csum_replace32(net::csum_replace32(0, c->cip, c->laddr), c->vip, c->bip);
    uint32_t l4_sum = net::csum_replace16(net::csum_replace16(ip_sum, c->cport, c->lport), c->vport, c->bport);
    c->ip_delta = net::csum_fold(ip_sum);
    c->l4_delta = net::csum_fold(l4_sum);
    if (_conns.deferred_full()) flush_inserts();
    if (!_conns.insert_deferred(c, _conns.hash(key))) {
        _conns.release(c);
        _lports.give(entry);
        lc.drops++;
        drop_pkt(m, drop::table_full);
        return nullptr;
    }
    uint32_t timeout = key.proto == IPPROTO_TCP ? _snap->tcp_timeout_s[static_cast<int>(tcp_state::syn_sent)]
                                                : std::min<uint32_t>(l->idle_timeout_s, _snap->udp_unreplied_s);
    c->expire_tick = _now_tick + ticks(timeout);
    _wheel.add(c);
    nh_backend->refs++;
    nh_client->refs++;
    if (l->max_per_source && _source_counts[l->index]) { // counts stay below the cap: no 16-bit wrap
        source_count(l->index, key.src)++;
        c->flags |= conn::src_counted;
    }
    _counters.conn_created++;
    lc.new_conns++;
    lc.active++;
    _backend_counters[b.slot].new_conns++;
    _backend_counters[b.slot].active++;
    if (by_cookie || l->client_addr != listener_rt::client_addr_none) {
        uint32_t first_seq = 0; // the client's ISN + 1 (a SYN carries the ISN, a cookie ACK ISN + 1)
        if (key.proto == IPPROTO_TCP) {
            const auto *tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off);
            first_seq = rte_be_to_cpu_32(tcp->sent_seq) + ((tcp->tcp_flags & tcp_syn) ? 1 : 0);
        }
        side_open(*c, *l, first_seq);
    }
    if (by_cookie) {
        proxy_open(*c, m, cookie); // takes the ACK: it goes on once the backend answers
        return nullptr;
    }
    if (key.proto == IPPROTO_TCP) {
        c->flags |= conn::half_open;
        _half_open[l->index]++;
    }
    return c;
}

uint16_t &worker::source_count(uint8_t listener, uint32_t src) {
    return _source_counts[listener][rte_hash_crc_4byte(src, _conns.seed()) & (source_count_slots - 1)];
}

// Caps are per listener. MaxConnections compares with the live count of every worker
// (read without locks, as wlc does: exact enough, a few may overshoot in a race);
// the rate and per-source caps are shared out evenly, each worker enforcing its share:
// RSS spreads a listener's clients over the workers. Sources are counted in a
// 65,536-slot table by a hash of the address (seeded per start): two sources that
// share a slot share a count, which can only make the cap stricter.
bool worker::admit(const listener_rt &l, uint32_t src) {
    if (l.max_conns) {
        int64_t live = 0;
        for (const flow_counters *wc : _all_listener_counters) live += __atomic_load_n(&wc[l.index].active, __ATOMIC_RELAXED);
        if (live >= int64_t(l.max_conns)) {
            _counters.drops[static_cast<unsigned>(drop::listener_conn_cap)]++;
            return false;
        }
    }
    if (l.max_cps) {
        // One second's share of burst: at most rate x (seconds + 1) in any interval.
        uint64_t per_worker = std::max<uint64_t>(1, l.max_cps / _n_workers);
        if (!take_token(_cps_bucket[l.index], per_worker, per_worker)) {
            _counters.drops[static_cast<unsigned>(drop::listener_rate_cap)]++;
            return false;
        }
    }
    if (l.max_per_source) {
        if (!_source_counts[l.index]) _source_counts[l.index].reset(new uint16_t[source_count_slots]());
        uint32_t share = (l.max_per_source + _n_workers - 1) / _n_workers;
        if (source_count(l.index, src) >= share) {
            _counters.drops[static_cast<unsigned>(drop::source_cap)]++;
            return false;
        }
    }
    return true;
}

bool worker::evict_unassured() {
    // A scan that found nothing is not repeated within the same tick (10 ms): a full
    // table of established connections must not make every new packet a long walk.
    if (_evict_miss_tick == _now_tick) return false;
    // The scan resumes where the last one found its victim: under a flood every slot
    // before it is empty or assured, and walking them again (thousands of empty slots
    // between now and the flood's 30-second deadlines) would cap evictions at ~150k/s.
    connection *victim = _wheel.find_due_first([](const connection &c) { return !(c.flags & conn::assured); },
                                               _evict_from, conn::timer_wheel::ticks_per_second * 600, 4096);
    if (!victim) {
        _evict_miss_tick = _now_tick;
        return false;
    }
    _wheel.remove(victim);
    _counters.conn_evicted++;
    expire(victim);
    return true;
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
    if (s != c.state) {
        c.state = s;
        if (s == tcp_state::established) c.flags |= conn::assured;
        if (s != tcp_state::syn_sent && s != tcp_state::syn_recv) half_open_done(c);
    }
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
    conn_side *side = nullptr; // SYN proxy, PROXY v2, TOA (worker_synproxy.cpp, worker_client_addr.cpp)
    if (__builtin_expect(c.flags & conn::has_side, 0)) {
        // A datagram gets its PROXY header; a TCP segment is only touched here (grown by
        // TOA, or a SYN's payload cut) when its listener asked for TOA, or it is a SYN.
        if (c.proto == IPPROTO_UDP) {
            if (dir == 0 && !add_client_addr(m, c, l4_off)) return;
        } else {
            side = &_side[_conns.index_of(&c)];
            if (dir == 0 && side->client_addr != listener_rt::client_addr_none &&
                (side->client_addr == listener_rt::client_addr_toa ||
                 (rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off)->tcp_flags & tcp_syn)))
                add_client_addr(m, c, l4_off); // TCP: never consumes
        }
    }
    // One compare on the common path: only a frame over the smallest port's limit looks further.
    if (__builtin_expect(m->pkt_len > _min_max_frame, 0) && m->pkt_len > _max_frame[c.out_port[dir]] &&
        too_big(m, c, dir))
        return;
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
            delta += clamp_mss(tcp, _snap->mss_clamp);
        // Each side's acknowledgment as that side numbers it: what a reset to it needs.
        if (tcp->tcp_flags & tcp_ack) {
            c.ack[dir] = tcp->recv_ack;
            c.flags = static_cast<uint8_t>(c.flags | (conn::ack_in << dir));
        }
        if (__builtin_expect(side != nullptr, 0)) delta += side_translate(c, *side, dir, tcp);
        tcp->cksum = net::csum_apply(tcp->cksum, net::csum_fold(delta));
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
        // conntrack's rule: a flow is a stream, kept for its IdleTimeout and never
        // evicted, once a reply came back and it is still active two seconds after it
        // began. Until then (a flood, or one-query-one-answer traffic) the short
        // udp_timeouts.unreplied applies and it may be evicted for room.
        if (!(c.flags & conn::assured)) {
            if (dir == 1) c.flags |= conn::udp_replied;
            if ((c.flags & conn::udp_replied) && _now_tick - c.ack[0] >= ticks(2)) c.flags |= conn::assured;
        }
        refresh_expiry(c, c.flags & conn::assured ? _idle_timeout_s[c.listener]
                                                  : std::min<uint32_t>(_idle_timeout_s[c.listener], _snap->udp_unreplied_s));
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

void worker::flush_inserts() {
    _conns.flush_deferred([this](connection *c) {
        // Its SYN or first datagram went out; the backend's answer will find nothing, and
        // the client retries. Counted as the table being full.
        _counters.drops[static_cast<unsigned>(drop::table_full)]++;
        _wheel.remove(c);
        expire(c);
    });
}

bool worker::take_lport(const backend_rt &b, uint8_t egress, uint32_t &entry) {
    // (A snapshot made without port_laddrs: every laddr is every port's.)
    const std::vector<uint16_t> *mine = egress < _snap->port_laddrs.size() ? &_snap->port_laddrs[egress] : nullptr;
    if (_laddr_turn.size() <= egress) _laddr_turn.resize(egress + 1u);
    uint32_t n = static_cast<uint32_t>(mine ? mine->size() : _snap->laddrs.size());
    for (uint32_t k = 0; k < n; k++) {
        uint32_t l = mine ? (*mine)[(_laddr_turn[egress] + k) % n] : (_laddr_turn[egress] + k) % n;
        bool got = !_lports.rss(l) ? _lports.take(l, 0, entry)
                                   : _lports.take_rss(l, b.rss_part ^ _snap->laddr_rss_part[l], _id,
                                                      _snap->ports[egress].rx_queues, _rss_turn, entry);
        if (got) {
            _laddr_turn[egress] = (_laddr_turn[egress] + k + 1) % n;
            return true;
        }
    }
    return false;
}

uint32_t worker::reply_owner(uint32_t l, uint32_t bip, uint16_t bport, uint16_t lport) const {
    if (l >= _snap->laddrs.size() || !_lports.rss(l)) return laddr::owner_of_port(rte_be_to_cpu_16(lport), _n_workers);
    // The queue the NIC would pick: the same hash and RETA (entry j -> queue j % queues).
    uint32_t h = net::source_part(bip, bport) ^ _snap->laddr_rss_part[l] ^ net::port_part(lport);
    return (h & (_lports.buckets(l) - 1)) % _snap->ports[_snap->laddr_port[l]].rx_queues;
}

void worker::expire(connection *c) {
    _counters.conn_expired++;
    _listener_counters[c->listener].active--;
    _backend_counters[c->backend_slot].active--;
    _lports.give(c->laddr_entry);
    _neigh->at(c->neigh[0]).refs--;
    _neigh->at(c->neigh[1]).refs--;
    if (c->flags & conn::src_counted) source_count(c->listener, c->cip)--;
    half_open_done(*c);
    if ((c->flags & conn::has_side) && c->state == tcp_state::syn_sent) proxy_forget(_conns.index_of(c));
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
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
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

void worker::reply_reset(rte_mbuf *m, uint8_t in_port, uint32_t l4_off) {
    turn_around(m, in_port);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, l3_off);
    auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
    uint16_t sport = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = sport;
    if ((tcp->tcp_flags & (tcp_syn | tcp_ack)) == tcp_ack) {
        // An ACK (a proxied client's, by cookie): RST with the sequence it acknowledged.
        tcp->sent_seq = tcp->recv_ack;
        tcp->recv_ack = 0;
        tcp->tcp_flags = tcp_rst;
    } else {
        // RST+ACK acknowledging the whole segment (RFC 793: sequence number plus segment
        // length, the SYN counting one).
        uint32_t seg_len = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr) - (tcp->data_off >> 4) * 4u + 1;
        uint32_t syn_seq = rte_be_to_cpu_32(tcp->sent_seq);
        tcp->recv_ack = rte_cpu_to_be_32(syn_seq + seg_len);
        tcp->sent_seq = 0;
        tcp->tcp_flags = tcp_rst | tcp_ack;
    }
    tcp->data_off = 5 << 4;
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

} // namespace fulcrum::dataplane
