#include "dataplane/snapshot.h"
#include "dataplane/counters.h"

#include "conn/conn.h"
#include "config/parse.h"
#include "sched/maglev.h"
#include "sched/wrr.h"

#include <rte_byteorder.h>
#include <netinet/in.h>

#include <algorithm>

namespace fulcrum::dataplane {

void snapshot::add_local(const local_entry &e) {
    uint32_t i = slot_of(e.ip, local_slots);
    while (_locals[i].kind != local_kind::none) {
        if (_locals[i].ip == e.ip) return; // first kind wins: VIP before laddr before port
        i = (i + 1) & (local_slots - 1);
    }
    _locals[i] = e;
}

config::result<snapshot> snapshot::build(const config::instance &cfg, const std::vector<port_rt> &ports,
                                         const snapshot *previous, const health_fn &health) {
    snapshot s;
    if (previous) {
        s.slot_ids = previous->slot_ids;
        s.listener_slot_ids = previous->listener_slot_ids;
    }
    // A backend's counters slot is keyed by the address traffic goes to: (ServerIp, the
    // port in effect), so one server behind a tcp and a udp listener counts separately.
    const config::error too_many{"default_server_group",
                                 "must not bring the distinct backends since start above 4096 (restart to reset)"};
    s.ports = ports;
    s.probe_port_min = cfg.probe_port_min;
    s.probe_port_max = cfg.probe_port_max;
    s._listener_index.fill(-1);
    s._listener_by_slot.fill(-1);
    for (size_t p = 0; p < ports.size(); p++)
        if (ports[p].gateway != 0 && s._default_port < 0) s._default_port = static_cast<int>(p);

    for (uint32_t vip : cfg.vips) {
        bool has_listener = std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                                        [&](const config::listener &l) { return l.vip == vip; });
        s.add_local({rte_cpu_to_be_32(vip), local_kind::vip, has_listener, 0});
    }
    for (size_t i = 0; i < cfg.local_addresses.size(); i++) {
        s.laddrs.push_back(rte_cpu_to_be_32(cfg.local_addresses[i]));
        s.add_local({s.laddrs.back(), local_kind::laddr, false, static_cast<uint16_t>(i)});
    }
    for (size_t p = 0; p < ports.size(); p++)
        s.add_local({ports[p].ip, local_kind::port, false, static_cast<uint16_t>(p)});

    for (size_t li = 0; li < cfg.listeners.size(); li++) {
        const config::listener &cl = cfg.listeners[li];
        listener_rt l{};
        l.vip = rte_cpu_to_be_32(cl.vip);
        l.port = rte_cpu_to_be_16(cl.port);
        l.proto = cl.proto == config::protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
        uint64_t lkey = uint64_t(cl.vip) << 24 | uint64_t(cl.port) << 8 | static_cast<uint8_t>(cl.proto);
        if (!s.listener_slot_ids.count(lkey)) {
            if (s.listener_slot_ids.size() >= max_listener_slots)
                return config::error{"listeners", "must not bring the distinct listeners since start above 256 (restart to reset)"};
            s.listener_slot_ids.emplace(lkey, static_cast<uint8_t>(s.listener_slot_ids.size()));
        }
        l.index = s.listener_slot_ids[lkey];
        s._listener_by_slot[l.index] = static_cast<int16_t>(li);
        l.persist_timeout_s = static_cast<uint16_t>(cl.persistence_timeout);
        l.drain_timeout_s = static_cast<uint16_t>(cl.connection_drain ? cl.connection_drain_timeout : 0);
        l.acl_on = cl.acl_enabled;
        l.acl_white = cl.acl_whitelist;
        l.acl_offset = static_cast<uint16_t>(s.acl.size());
        l.acl_len = static_cast<uint16_t>(cl.acl_entries.size());
        for (const config::cidr &c : cl.acl_entries) {
            uint32_t mask = c.len == 0 ? 0 : ~uint32_t(0) << (32 - c.len);
            s.acl.push_back({rte_cpu_to_be_32(c.net), rte_cpu_to_be_32(mask)});
        }
        l.idle_timeout_s = static_cast<uint16_t>(
            cl.proto == config::protocol::tcp ? cl.established_timeout : cl.idle_timeout);
        l.backend_offset = static_cast<uint32_t>(s.backends.size());
        // A listener forwards only to its own group: a vserver group, or the default one.
        const std::vector<config::backend> *members = &cfg.default_server_group;
        for (const auto &g : cfg.vserver_groups)
            if (g.id == cl.vserver_group_id) members = &g.backends;
        auto up = [&](const config::backend &cb) { return !cl.health.enabled || !health || health(cl, cb); };
        // Master/slave: one of the two is schedulable, the master while it is up (the
        // slave is never probed); weights do not apply.
        std::vector<config::backend> active_one;
        for (const auto &g : cfg.master_slave_groups)
            if (g.id == cl.master_slave_group_id) {
                active_one.push_back(up(g.master) ? g.master : g.slave);
                active_one.back().weight = 100;
                members = &active_one;
            }
        bool master_slave = members == &active_one;
        std::vector<uint8_t> weights;
        for (const config::backend &cb : *members) {
            uint16_t port = cb.port ? cb.port : cl.backend_port;
            uint64_t key = slot_key(l.proto, cb.ip, port);
            if (!s.slot_ids.count(key)) {
                if (s.slot_ids.size() >= max_backend_slots) return too_many;
                s.slot_ids.emplace(key, static_cast<uint16_t>(s.slot_ids.size()));
            }
            uint8_t w = master_slave || up(cb) ? cb.weight : 0;
            s.backends.push_back({rte_cpu_to_be_32(cb.ip), rte_cpu_to_be_16(port), w, s.slot_ids[key]});
            weights.push_back(w);
        }
        l.n_backends = static_cast<uint32_t>(weights.size());
        std::vector<uint16_t> eligible;
        for (uint32_t bi = 0; bi < l.n_backends; bi++)
            if (weights[bi] > 0) eligible.push_back(s.backends[l.backend_offset + bi].slot);
        std::sort(eligible.begin(), eligible.end());
        eligible.erase(std::unique(eligible.begin(), eligible.end()), eligible.end());
        l.eligible_offset = static_cast<uint32_t>(s.eligible_slots.size());
        l.eligible_len = static_cast<uint32_t>(eligible.size());
        s.eligible_slots.insert(s.eligible_slots.end(), eligible.begin(), eligible.end());
        std::vector<uint16_t> seq;
        l.pick = listener_rt::by_sequence;
        if (cl.scheduler == config::scheduler_kind::wrr) {
            seq = sched::build_smooth_wrr(weights);
        } else if (cl.scheduler == config::scheduler_kind::rr) {
            seq = sched::build_rr(weights);
        } else if (cl.scheduler == config::scheduler_kind::wlc) {
            seq = sched::build_rr(weights); // the candidates; the worker compares their loads
            l.pick = listener_rt::by_least_conn;
        } else {
            std::vector<sched::maglev_backend> mb;
            for (size_t bi = 0; bi < members->size(); bi++) {
                const auto &cb = (*members)[bi];
                mb.push_back({config::format_ipv4(cb.ip) + ":" + std::to_string(cb.port ? cb.port : cl.backend_port),
                              weights[bi]});
            }
            seq = sched::build_maglev(mb, cfg.maglev_size);
            l.pick = cl.scheduler == config::scheduler_kind::sch ? listener_rt::by_source_ip : listener_rt::by_flow;
        }
        l.seq_offset = static_cast<uint32_t>(s.sched_seq.size());
        l.seq_len = static_cast<uint32_t>(seq.size());
        s.sched_seq.insert(s.sched_seq.end(), seq.begin(), seq.end());
        s.listeners.push_back(l);

        uint32_t i = slot_of(l.vip ^ (uint32_t(l.port) << 8) ^ l.proto, listener_slots);
        while (s._listener_index[i] >= 0) i = (i + 1) & (listener_slots - 1);
        s._listener_index[i] = static_cast<int16_t>(li);
    }

    for (const auto &p : cfg.ports)
        s.static_neighbours.insert(s.static_neighbours.end(), p.static_neighbours.begin(),
                                   p.static_neighbours.end());

    using conn::tcp_state;
    auto &t = s.tcp_timeout_s;
    t[static_cast<int>(tcp_state::none)] = 0; // UDP: the listener's idle timeout
    t[static_cast<int>(tcp_state::syn_sent)] = cfg.timeouts.syn_sent;
    t[static_cast<int>(tcp_state::syn_recv)] = cfg.timeouts.syn_recv;
    t[static_cast<int>(tcp_state::established)] = 0; // the listener's EstablishedTimeout
    t[static_cast<int>(tcp_state::fin_wait)] = cfg.timeouts.fin_wait;
    t[static_cast<int>(tcp_state::time_wait)] = cfg.timeouts.time_wait;
    t[static_cast<int>(tcp_state::close)] = cfg.timeouts.close;

    // Full-NAT adds no header, so MSS needs clamping only when the ports' MTUs differ.
    uint16_t lo = UINT16_MAX, hi = 0;
    for (const auto &p : ports) {
        lo = std::min(lo, p.mtu);
        hi = std::max(hi, p.mtu);
    }
    if (!ports.empty() && lo != hi) s.mss_clamp = static_cast<uint16_t>(lo - 40);
    return s;
}

} // namespace fulcrum::dataplane
