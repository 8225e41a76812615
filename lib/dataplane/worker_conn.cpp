// New connections: the listener and its refusals (ACL, no backend, caps), the SYN
// proxy's cookies, the backend (scheduler.h), the laddr:lport whose reply comes home,
// both directions indexed; and their end (expiry, eviction for room).
#include "dataplane/worker.h"

#include "dataplane/headers.h"
#include "net/toeplitz.h"

namespace fulcrum::dataplane {

namespace {

bool acl_allows(const snapshot &s, const listener_rt &l, uint32_t src) {
    bool listed = false;
    for (uint32_t i = l.acl_offset; i < uint32_t(l.acl_offset) + l.acl_len && !listed; i++)
        listed = (src & s.acl[i].mask) == s.acl[i].net;
    return listed == l.acl_white;
}

} // namespace

connection *worker::new_conn(rte_mbuf *m, const flow_key &key, uint32_t l4_off, uint8_t in_port) {
    const listener_rt *l = _snap->find_listener(key.dst, key.proto, key.dport());
    bool by_cookie = false;
    net::cookie_options cookie{};
    if (key.proto == IPPROTO_TCP) {
        auto *tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l4_off);
        uint8_t f = tcp->tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin);
        if (f != tcp_syn) {
            // Not a connection start, unless it is the ACK to a SYN-ACK of the proxy (with
            // or without data, or the client's FIN already).
            by_cookie = (f == tcp_ack || f == (tcp_ack | tcp_fin)) && l && l->syn_proxy != listener_rt::proxy_off &&
                        _synproxy.check_cookie(m, l4_off, key, cookie);
            if (!by_cookie) {
                // Perhaps another node's connection, its flow moved here by the routers:
                // copied only when this listener would have taken it.
                if (l && (!l->acl_on || acl_allows(*_snap, *l, key.src)) && _handoff.hand_off(m, *_snap)) return nullptr;
                return refuse(m, nullptr, drop::no_conn);
            }
            if (!room_to_wait()) return refuse(m, nullptr, drop::syn_proxy_backlog);
        }
    }
    if (!l) return refuse(m, nullptr, drop::no_listener);
    if (l->acl_on && !acl_allows(*_snap, *l, key.src)) return refuse(m, l, drop::acl_denied);
    if (l->seq_len == 0) {
        // Nothing can serve it: a TCP client learns so at once instead of retrying.
        if (key.proto == IPPROTO_TCP) reply_reset(std::exchange(m, nullptr), in_port, l4_off);
        return refuse(m, l, drop::no_backend);
    }
    if (key.proto == IPPROTO_TCP && !by_cookie && _synproxy.engaged(*l, _snap->syn_proxy_threshold)) {
        _synproxy.answer(m, in_port, l4_off, key, *l, *_snap);
        return nullptr;
    }
    drop why;
    if (!_admission.admit(*l, key.src, why)) return refuse(m, l, why);
    const backend_rt &b = _scheduler.choose(*l, key, *_snap, static_cast<uint16_t>(_clock.seconds()));
    connection *c = bind(key, *l, b, why);
    if (!c) return refuse(m, l, why);
    count_new(*c, *l);
    return started(c, *l, m, l4_off, by_cookie ? &cookie : nullptr);
}

// Every waiting slot or the held-frame budget taken: the connection that has waited
// longest makes room (its client's next segment opens it again), so clients of a
// backend that never answers cannot lock the proxy up. False when no room could be made.
bool worker::room_to_wait() {
    uint32_t oldest;
    while (!_synproxy.can_wait() && _synproxy.oldest_waiting(oldest)) {
        connection &victim = _conns.at(oldest);
        if (!conn::conn_table::live(victim) || !(victim.flags & conn::has_side)) continue;
        _wheel.remove(&victim);
        _synproxy.count_waiting_evicted();
        expire(&victim);
    }
    return _synproxy.can_wait();
}

// A new connection's side entry (SYN proxy, client address) and, for a cookie ACK
// (`cookie` set), the proxy's wait for the backend, which takes the frame: nullptr then,
// else the connection to forward the frame on.
connection *worker::started(connection *c, const listener_rt &l, rte_mbuf *m, uint32_t l4_off,
                            const net::cookie_options *cookie) {
    if (cookie || l.client_addr != listener_rt::client_addr_none) {
        uint32_t first_seq = 0; // the client's ISN + 1 (a SYN carries the ISN, a cookie ACK ISN + 1)
        if (c->proto == IPPROTO_TCP) {
            const auto *tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *, l4_off);
            first_seq = rte_be_to_cpu_32(tcp->sent_seq) + ((tcp->tcp_flags & tcp_syn) ? 1 : 0);
        }
        _side.open(*c, _conns.index_of(c), first_seq, l.client_addr);
    }
    if (cookie) {
        _synproxy.open(*c, _conns.index_of(c), m, l4_off, *cookie, *_snap); // takes the ACK: it goes on once the backend answers
        return nullptr;
    }
    if (c->proto == IPPROTO_TCP) _synproxy.half_open_begin(*c);
    return c;
}

// Counted by reason (and against the listener when it was one's), the frame freed (m
// may be nullptr when it was already answered).
connection *worker::refuse(rte_mbuf *m, const listener_rt *l, drop why) {
    if (l) _listener_counters[l->index].refused++;
    if (m) drop_pkt(m, why);
    else _drops.count(why);
    return nullptr;
}

// The connection's state: routes and next hops both ways, an laddr:lport, a table entry
// indexed both ways, a timer. A full table makes room from finished connections first,
// then from flows that never got an answer, never from established ones: a flood of
// one-packet flows cannot lock out real clients.
connection *worker::bind(const flow_key &key, const listener_rt &l, const backend_rt &b, drop &why) {
    route to_backend, to_client;
    if (!_snap->lookup_route(b.ip, to_backend) || !_snap->lookup_route(key.src, to_client))
        return why = drop::no_route, nullptr;
    neigh_entry *nh_backend = _neigh.find_or_add(to_backend.next_hop);
    neigh_entry *nh_client = _neigh.find_or_add(to_client.next_hop);
    if (!nh_backend || !nh_client) return why = drop::neigh_table_full, nullptr;
    if (to_backend.port < _snap->port_laddrs.size() && _snap->port_laddrs[to_backend.port].empty())
        return why = drop::no_laddr, nullptr;
    uint32_t laddr_index;
    uint16_t lport;
    if (!take_lport(b, key.proto, to_backend.port, laddr_index, lport)) return why = drop::lport_exhausted, nullptr;
    connection *c = _conns.alloc();
    if (!c && evict_for_room()) c = _conns.alloc();
    if (!c) return why = drop::table_full, nullptr;
    c->cip = key.src;
    c->vip = key.dst;
    c->cport = key.sport();
    c->vport = key.dport();
    c->laddr = _snap->laddrs[laddr_index];
    c->lport = rte_cpu_to_be_16(lport);
    c->bip = b.ip;
    c->bport = b.port;
    c->proto = key.proto;
    c->backend_slot = b.slot;
    uint32_t ip_sum = net::csum_replace32(net::csum_replace32(0, c->cip, c->laddr), c->vip, c->bip);
    uint32_t l4_sum = net::csum_replace16(net::csum_replace16(ip_sum, c->cport, c->lport), c->vport, c->bport);
    c->ip_delta = net::csum_fold(ip_sum);
    c->l4_delta = net::csum_fold(l4_sum);
    return start_conn(c, _conns.hash(key), l, to_backend.port, nh_backend, to_client.port, nh_client, why);
}

// The common end of bind and bind6: state, next hops both ways, both directions indexed
// (the client's now, the reply's at the end of the burst), the first timer.
connection *worker::start_conn(connection *c, uint32_t h0, const listener_rt &l, uint8_t to_backend,
                               neigh_entry *nh_backend, uint8_t to_client, neigh_entry *nh_client, drop &why) {
    c->listener = l.index;
    c->state = c->proto == IPPROTO_TCP ? tcp_state::syn_sent : tcp_state::none;
    if (c->proto == IPPROTO_UDP) c->ack[0] = _clock.now_tick; // when it began: see track_udp
    c->set_out_port(0, to_backend);
    c->neigh[0] = _neigh.index_of(nh_backend);
    c->set_out_port(1, to_client);
    c->neigh[1] = _neigh.index_of(nh_client);
    nh_backend->port = to_backend;
    nh_client->port = to_client;
    if (_conns.deferred_full()) flush_inserts();
    if (!_conns.insert_deferred(c, h0)) {
        _conns.release(c);
        return why = drop::table_full, nullptr;
    }
    uint32_t timeout = c->proto == IPPROTO_TCP ? _snap->tcp_timeout_s[static_cast<int>(tcp_state::syn_sent)]
                                               : std::min<uint32_t>(l.idle_timeout_s, _snap->udp_unreplied_s);
    c->expire_tick = _clock.now_tick + worker_clock::ticks(timeout);
    _wheel.add(c);
    nh_backend->refs++;
    nh_client->refs++;
    return c;
}

void worker::count_new(connection &c, const listener_rt &l) {
    if (l.max_per_source && _admission.count_source(l.index, source_key(c))) c.flags |= conn::src_counted;
    _counters.connections_created++;
    flow_counters &lc = _listener_counters[l.index], &bc = _backend_counters[c.backend_slot];
    lc.new_connections++;
    lc.active_connections++;
    bc.new_connections++;
    bc.active_connections++;
}

// Room in a full table: the finished connection due first (TIME_WAIT, CLOSE: their
// endpoints are done with them), else the flow due first that never became assured (a
// half-open handshake, an unanswered datagram). Established connections never give way.
bool worker::evict_for_room() {
    connection *victim = due_first(true);
    if (!victim) victim = due_first(false);
    if (!victim) return false;
    _wheel.remove(victim);
    _counters.connections_evicted++;
    expire(victim);
    return true;
}

connection *worker::due_first(bool finished_only) {
    // A scan that found nothing is not repeated within the same tick (10 ms): a full
    // table of established connections must not make every new packet a long walk.
    eviction_scan &scan = _evict_scan[finished_only ? 0 : 1];
    if (scan.miss_tick == _clock.now_tick) return nullptr;
    // The scan resumes where the last one found its victim: under a flood every slot
    // before it is empty or assured, and walking them again (thousands of empty slots
    // between now and the flood's 30-second deadlines) would cap evictions at ~150k/s.
    connection *victim = _wheel.find_due_first(
        [finished_only](const connection &c) { return finished_only ? conn::finished(c) : !(c.flags & conn::assured); },
        scan.from, conn::timer_wheel::ticks_per_second * 600, 4096);
    if (!victim) scan.miss_tick = _clock.now_tick;
    return victim;
}

void worker::flush_inserts() {
    _conns.flush_deferred([this](connection *c) {
        // Its SYN or first datagram went out; the backend's answer will find nothing, and
        // the client retries. Counted as the table being full.
        _drops.count(drop::table_full);
        _wheel.remove(c);
        expire(c);
    });
}

// An laddr:lport whose reply tuple toward the backend's address and port no connection
// holds (laddr_pool.h): the laddrs of the backend's family on the egress port in turn, a
// few candidates each.
// When every candidate is held, the tuple of a finished connection among them is taken
// over (the old entry ends now instead of at its TIME_WAIT deadline), else that of one
// never assured: of either kind the one due first.
bool worker::take_lport(const backend_rt &b, uint8_t proto, uint8_t egress, uint32_t &laddr_index, uint16_t &lport) {
    // At most 32 candidates in all (cold table lines: a SYN to a backend whose tuples are
    // all held must not cost a walk over every laddr), spread over the laddrs from the turn.
    constexpr uint32_t max_tries = 32;
    // (A snapshot made without port_laddrs: every laddr is every port's.)
    const auto &by_port = b.v6() ? _snap->port_laddrs6 : _snap->port_laddrs;
    const std::vector<uint16_t> *mine = egress < by_port.size() ? &by_port[egress] : nullptr;
    if (_laddr_turn.size() <= egress) _laddr_turn.resize(egress + 1u);
    uint32_t n = static_cast<uint32_t>(mine ? mine->size() : _snap->laddrs.size());
    const uint32_t tries_per_laddr = std::max<uint32_t>(1, max_tries / std::max<uint32_t>(1, n));
    struct holder {
        connection *c = nullptr;
        uint32_t laddr = 0;
        uint16_t lport = 0;
    } give_way[2]; // finished, not assured
    for (uint32_t k = 0; k < n && k * tries_per_laddr < max_tries; k++) {
        uint32_t l = mine ? (*mine)[(_laddr_turn[egress] + k) % n] : (_laddr_turn[egress] + k) % n;
        bool rss = _lports.rss(l);
        uint32_t fixed = rss ? b.rss_part ^ _snap->laddr_rss_part[l] : 0;
        for (uint32_t t = 0; t < tries_per_laddr; t++) {
            uint32_t bucket = rss ? _lports.rss_bucket(l, fixed, _id, _snap->ports[egress].rx_queues, _rss_turn++) : 0;
            uint16_t candidate;
            if (!_lports.next(l, bucket, candidate)) continue;
            uint32_t ports = conn::pack_ports(b.port, rte_cpu_to_be_16(candidate));
            unsigned dir;
            connection *held;
            bool deferred;
            if (b.v6()) {
                conn::flow_key6 reply;
                std::memcpy(reply.src, b.ip6.b.data(), 16);
                std::memcpy(reply.dst, _snap->laddr6[l].b.data(), 16);
                reply.ports = ports, reply.proto = proto;
                held = _conns.lookup(reply, _conns.hash(reply), dir);
                deferred = !held && _conns.deferred_holds(reply);
            } else {
                flow_key reply{b.ip, _snap->laddrs[l], ports, proto};
                held = _conns.lookup(reply, _conns.hash(reply), dir);
                deferred = !held && _conns.deferred_holds(reply);
            }
            if (!held && !deferred) {
                _laddr_turn[egress] = (_laddr_turn[egress] + k + 1) % n;
                laddr_index = l, lport = candidate;
                return true;
            }
            if (!held) continue;
            // Of each kind, the one due first: the least recently active.
            unsigned rank = conn::finished(*held) ? 0 : (held->flags & conn::assured) ? 2 : 1;
            if (rank < 2 && (!give_way[rank].c || static_cast<int32_t>(held->expire_tick - give_way[rank].c->expire_tick) < 0))
                give_way[rank] = {held, l, candidate};
        }
    }
    const holder &victim = give_way[0].c ? give_way[0] : give_way[1];
    if (!victim.c) return false;
    laddr_index = victim.laddr, lport = victim.lport;
    _wheel.remove(victim.c);
    _counters.connections_evicted++;
    expire(victim.c);
    return true;
}

// The worker a reply from the backend to laddr `l`:`lport` belongs to: for an RSS laddr
// the queue the NIC picks (the same hash and RETA, entry j -> queue j % queues), else
// lport % workers. Addresses and ports in network order.
uint32_t worker::reply_owner(uint32_t l, uint32_t bip, uint16_t bport, uint16_t lport) const {
    if (l >= _snap->laddrs.size() || !_lports.rss(l)) return laddr::owner_of_port(rte_be_to_cpu_16(lport), _n_workers);
    return rss_home(l, net::source_part(bip, bport) ^ net::port_part(lport));
}
uint32_t worker::reply_owner6(uint32_t l, const uint8_t *bip, uint16_t bport, uint16_t lport) const {
    if (l >= _snap->laddrs.size() || !_lports.rss(l)) return laddr::owner_of_port(rte_be_to_cpu_16(lport), _n_workers);
    return rss_home(l, net::source_part6(bip, bport) ^ net::port_part6(lport));
}
uint32_t worker::rss_home(uint32_t l, uint32_t hash_without_laddr) const {
    uint32_t h = hash_without_laddr ^ _snap->laddr_rss_part[l];
    return (h & (_lports.buckets(l) - 1)) % _snap->ports[_snap->laddr_port[l]].rx_queues;
}

void worker::expire(connection *c) {
    _counters.connections_expired++;
    _listener_counters[c->listener].active_connections--;
    _backend_counters[c->backend_slot].active_connections--;
    _neigh.at(c->neigh[0]).refs--;
    _neigh.at(c->neigh[1]).refs--;
    if (c->flags & conn::src_counted) _admission.release_source(c->listener, source_key(*c));
    _synproxy.half_open_done(*c);
    if ((c->flags & conn::has_side) && c->state == tcp_state::syn_sent) _synproxy.forget(_conns.index_of(c));
    _conns.remove(c);
}

} // namespace fulcrum::dataplane
