#include "deploy/snapshot_builder.h"

#include "config/membership.h"
#include "conn/conn.h"
#include "net/addr.h"
#include "net/toeplitz.h"
#include "sched/maglev.h"
#include "sched/wrr.h"

#include <rte_byteorder.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace fulcrum::deploy {

namespace {

using dataplane::listener_rt;
using dataplane::local_kind;
using dataplane::snapshot;

// One listener's tables: its backends (effective weights), eligible slots and picks.
result<bool> add_listener(snapshot &s, const config::instance &cfg, const config::listener &cl, slot_registry &slots,
                          const health_fn &health) {
    listener_rt l{};
    bool v6 = cl.vip.is_v6();
    l.vip = v6 ? 0 : rte_cpu_to_be_32(cl.vip.v4());
    if (v6) l.vip6 = cl.vip;
    l.port = rte_cpu_to_be_16(cl.port);
    l.proto = cl.proto == config::protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
    auto lslot = slots.take_listener(cl);
    if (!lslot) return lslot.err();
    l.index = lslot.value();
    l.persist_timeout_s = static_cast<uint16_t>(cl.persistence_timeout);
    l.drain_timeout_s = static_cast<uint16_t>(cl.connection_drain ? cl.connection_drain_timeout : 0);
    l.acl_on = cl.acl_enabled;
    l.acl_white = cl.acl_whitelist;
    l.acl_offset = static_cast<uint16_t>(s.acl.size());
    l.acl6_offset = static_cast<uint16_t>(s.acl6.size());
    for (const config::cidr &c : cl.acl_entries) // an entry of the other family never matches
        if (c.net.is_v4()) s.acl.push_back({rte_cpu_to_be_32(c.net.v4()), rte_cpu_to_be_32(net::prefix_mask(c.len))});
        else s.acl6.push_back({net::masked(c.net, c.len), c.len});
    l.acl_len = static_cast<uint16_t>(s.acl.size() - l.acl_offset);
    l.acl6_len = static_cast<uint16_t>(s.acl6.size() - l.acl6_offset);
    l.idle_timeout_s =
        static_cast<uint16_t>(cl.proto == config::protocol::tcp ? cl.established_timeout : cl.idle_timeout);
    l.backend_offset = static_cast<uint32_t>(s.backends.size());
    l.max_conns = cl.max_connections;
    l.max_cps = cl.max_new_connection_rate;
    l.max_per_source = cl.max_connections_per_source;
    l.syn_proxy = cl.proto != config::protocol::tcp                ? listener_rt::proxy_off
                  : cl.syn_proxy == config::syn_proxy_mode::on  ? listener_rt::proxy_on
                  : cl.syn_proxy == config::syn_proxy_mode::off ? listener_rt::proxy_off
                                                                : listener_rt::proxy_auto;
    l.client_addr = cl.proxy_protocol_v2 ? listener_rt::client_addr_proxy_v2
                    : cl.toa             ? listener_rt::client_addr_toa
                                         : listener_rt::client_addr_none;

    auto up = [&](const config::backend &cb) { return !cl.health.enabled || !health || health(cl, cb); };
    std::vector<config::member> members = config::members_of(cfg, cl);
    bool master_slave = !members.empty() && members[0].role == config::member_role::master;
    if (master_slave) {
        // One of the two is schedulable, the master while it is up (the slave is never
        // probed); weights do not apply.
        config::member active = up(*members[0].b) ? members[0] : members[1];
        members = {active};
    }
    std::vector<uint8_t> weights;
    std::vector<sched::maglev_backend> by_name; // sch/tch: Maglev names backends by address
    for (const config::member &m : members) {
        // An IPv4 listener's connections go to IPv4 backends only (no 4->6); an IPv6
        // listener's to either (6->6, 6->4).
        if (!v6 && m.b->ip.is_v6()) continue;
        auto slot = slots.take_backend(cl.proto, m.b->ip, m.port);
        if (!slot) return slot.err();
        uint8_t w = master_slave ? 100 : up(*m.b) ? m.b->weight : 0;
        if (m.b->ip.is_v6()) {
            s.backends.push_back({0, rte_cpu_to_be_16(m.port), w, slot.value(),
                                  net::source_part6(m.b->ip.b.data(), rte_cpu_to_be_16(m.port)), m.b->ip});
        } else {
            uint32_t ip = rte_cpu_to_be_32(m.b->ip.v4());
            s.backends.push_back({ip, rte_cpu_to_be_16(m.port), w, slot.value(),
                                  net::source_part(ip, rte_cpu_to_be_16(m.port)), {}});
        }
        weights.push_back(w);
        by_name.push_back({net::format_ip(m.b->ip) + ":" + std::to_string(m.port), w});
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
    switch (cl.scheduler) {
    case config::scheduler_kind::wrr: seq = sched::build_smooth_wrr(weights); break;
    case config::scheduler_kind::rr: seq = sched::build_rr(weights); break;
    case config::scheduler_kind::wlc:
        seq = sched::build_rr(weights); // the candidates; the worker compares their loads
        l.pick = listener_rt::by_least_conn;
        break;
    case config::scheduler_kind::sch:
    case config::scheduler_kind::tch:
        seq = sched::build_maglev(by_name, cfg.maglev_size);
        l.pick = cl.scheduler == config::scheduler_kind::sch ? listener_rt::by_source_ip : listener_rt::by_flow;
        break;
    }
    l.seq_offset = static_cast<uint32_t>(s.sched_seq.size());
    l.seq_len = static_cast<uint32_t>(seq.size());
    s.sched_seq.insert(s.sched_seq.end(), seq.begin(), seq.end());
    s.listeners.push_back(l);
    return true;
}

} // namespace

result<std::unique_ptr<snapshot>> build_snapshot(const config::instance &cfg,
                                                 const std::vector<dataplane::port_rt> &ports, slot_registry &slots,
                                                 const health_fn &health, const std::vector<config::local_address> *plan) {
    auto s = std::make_unique<snapshot>();
    s->ports = ports;
    s->probe_port_min = cfg.probe_port_min;
    s->probe_port_max = cfg.probe_port_max;
    s->udp_unreplied_s = static_cast<uint16_t>(cfg.udp_unreplied_timeout);
    s->neigh_timeout_s = static_cast<uint16_t>(cfg.neighbour_timeout);
    s->exception_rate_pps = cfg.exception_path_rate;
    for (const net::ip_addr &n : cfg.bgp.neighbours)
        if (n.is_v4()) s->bgp_neighbours.push_back(rte_cpu_to_be_32(n.v4()));
        else s->bgp_neighbours6.push_back(n);
    s->syn_proxy_threshold = cfg.syn_proxy_threshold;
    s->source_prefix6 = cfg.ipv6_source_prefix;

    for (const net::ip_addr &vip : cfg.vips) {
        bool has_listener = std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                                        [&](const config::listener &l) { return l.vip == vip; });
        if (vip.is_v6()) s->add_local6({0, local_kind::vip, has_listener, 0, vip});
        else s->add_local({rte_cpu_to_be_32(vip.v4()), local_kind::vip, has_listener, 0, {}});
    }
    std::vector<config::local_address> made;
    if (!plan) made = config::local_addresses_by_port(cfg);
    const std::vector<config::local_address> &laddrs = plan ? *plan : made;
    s->port_laddrs.resize(std::max<size_t>({ports.size(), cfg.ports.size(), 1}));
    s->port_laddrs6.resize(s->port_laddrs.size());
    for (size_t i = 0; i < laddrs.size(); i++) {
        const net::ip_addr &a = laddrs[i].ip;
        uint16_t index = static_cast<uint16_t>(i);
        s->laddrs.push_back(a.is_v6() ? 0 : rte_cpu_to_be_32(a.v4()));
        s->laddr6.push_back(a.is_v6() ? a : net::ip_addr{});
        s->laddr_port.push_back(static_cast<uint8_t>(laddrs[i].port));
        s->laddr_rss_part.push_back(a.is_v6() ? net::address_part6(a.b.data()) : net::address_part(s->laddrs.back()));
        (a.is_v6() ? s->port_laddrs6 : s->port_laddrs)[laddrs[i].port].push_back(index);
        if (a.is_v6()) s->add_local6({0, local_kind::laddr, false, index, a});
        else s->add_local({s->laddrs.back(), local_kind::laddr, false, index, {}});
    }
    for (size_t p = 0; p < ports.size(); p++) {
        s->add_local({ports[p].ip, local_kind::port, false, static_cast<uint16_t>(p), {}});
        if (!ports[p].ip6.none()) s->add_local6({0, local_kind::port, false, static_cast<uint16_t>(p), ports[p].ip6});
    }

    for (const config::listener &cl : cfg.listeners)
        if (auto added = add_listener(*s, cfg, cl, slots, health); !added) return added.err();
    s->index();

    for (const auto &p : cfg.ports)
        for (const auto &n : p.static_neighbours) {
            dataplane::neighbour_rt rt{n.ip, {}};
            std::memcpy(rt.mac.addr_bytes, n.mac.data(), 6);
            s->static_neighbours.push_back(rt);
        }

    for (const net::ip_addr &n : cfg.cluster.nodes) {
        // Only another node, on-link (not this node's port address or a local one).
        if (n.is_v4()) {
            dataplane::route r;
            uint32_t ip = rte_cpu_to_be_32(n.v4());
            if (!s->find_local(ip) && s->lookup_route(ip, r) && r.next_hop == ip) s->cluster_peers.emplace_back(n, r.port);
        } else {
            dataplane::route6 r;
            if (!s->find_local6(n.b.data()) && s->lookup_route6(n.b.data(), 0, r) && r.next_hop == n)
                s->cluster_peers.emplace_back(n, r.port);
        }
    }
    s->handoff_rate_pps = cfg.cluster.handoff_rate;

    using conn::tcp_state;
    auto &t = s->tcp_timeout_s;
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
    if (!ports.empty() && lo != hi) s->mss_clamp = static_cast<uint16_t>(lo - 40);
    return s;
}

} // namespace fulcrum::deploy
