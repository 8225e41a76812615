#include "deploy/stats.h"

#include "config/membership.h"
#include "deploy/deployment.h"
#include "net/addr.h"

#include <rte_byteorder.h>

namespace fulcrum::deploy {

namespace {
const char *scheduler_name(config::scheduler_kind k) {
    static const char *n[] = {"wrr", "rr", "wlc", "sch", "tch"};
    return n[static_cast<int>(k)];
}
} // namespace

stats_view collect_stats(const deployment &d) {
    const dataplane::snapshot &snap = d.current_snapshot();
    const config::instance &cfg = d.config();
    const stats_baseline &base = d.baseline();
    stats_view v{};
    for (size_t i = 0; i < d.port_ids().size(); i++)
        v.ports.push_back({cfg.ports[i].name, read_port_counters(d.port_ids()[i]),
                           dataplane::steering_name(snap.ports[i].steer),
                           i < d.steer_notes().size() ? d.steer_notes()[i] : std::string()});
    v.generation = snap.generation;
    v.node.drained = cfg.node_drain;
    for (size_t i = 0; i < d.worker_count(); i++) {
        const dataplane::worker &w = d.worker_at(i);
        worker_stat ws{w.id(), w.counters(), w.conns().in_use(), w.conns().capacity(), w.lports().capacity(),
                       w.adopted_generation()};
        if (i < base.workers.size()) add_counts(ws.c, base.workers[i], -1);
        add_counts(v.total, ws.c);
        v.workers.push_back(ws);
    }
    auto summed = [&](bool listener, unsigned slot) {
        flow_counters s{};
        for (size_t i = 0; i < d.worker_count(); i++) {
            const dataplane::worker &w = d.worker_at(i);
            const flow_counters &c = listener ? w.listener_counters(slot) : w.backend_counters(slot);
            add_counts(s, c);
            add_gauges(s, c); // never cleared
        }
        const auto &b = listener ? base.listeners : base.backends;
        if (slot < b.size()) add_counts(s, b[slot], -1);
        return s;
    };
    for (size_t li = 0; li < cfg.listeners.size() && li < snap.listeners.size(); li++) {
        const config::listener &cl = cfg.listeners[li];
        const dataplane::listener_rt &l = snap.listeners[li];
        listener_stat ls;
        ls.proto = cl.proto == config::protocol::tcp ? "tcp" : "udp";
        ls.vip = net::format_ip(cl.vip);
        ls.port = cl.port;
        ls.group = !cl.vserver_group_id.empty() ? cl.vserver_group_id
                   : !cl.master_slave_group_id.empty() ? cl.master_slave_group_id : "default";
        ls.scheduler = cl.master_slave_group_id.empty() ? scheduler_name(cl.scheduler) : "master/slave";
        ls.c = summed(true, l.index);
        ls.backends = l.n_backends;
        ls.eligible = l.eligible_len;
        std::string name = ls.proto + " " + net::format_endpoint(cl.vip, ls.port);

        // The listener's members as configured, with the snapshot's effective weight.
        size_t first = v.backends.size();
        uint64_t all_new = 0, all_weight = 0;
        for (const config::member &m : config::members_of(cfg, cl)) {
            backend_stat bs;
            bs.listener = name;
            bs.group = ls.group;
            bs.server_id = m.b->server_id;
            bs.ip = net::format_ip(m.b->ip);
            bs.port = m.port;
            bs.weight = m.b->weight;
            bs.role = config::role_name(m.role);
            bs.eligible = false;
            uint32_t ip_be = rte_cpu_to_be_32(m.b->ip.v4());
            uint16_t port_be = rte_cpu_to_be_16(bs.port);
            for (uint32_t i = 0; i < l.n_backends; i++) {
                const dataplane::backend_rt &b = snap.backends[l.backend_offset + i];
                if (b.ip == ip_be && b.port == port_be && b.weight > 0) bs.eligible = true;
            }
            auto slot = d.slots().backend(cl.proto, m.b->ip, bs.port);
            bs.c = slot ? summed(false, *slot) : flow_counters{};
            all_new += bs.c.new_connections;
            if (bs.eligible) all_weight += bs.role.empty() ? bs.weight : 1;
            v.backends.push_back(bs);
        }
        for (size_t i = first; i < v.backends.size(); i++) {
            backend_stat &bs = v.backends[i];
            bs.share_pct = all_new ? 100.0 * double(bs.c.new_connections) / double(all_new) : 0.0;
            uint64_t w = bs.role.empty() ? bs.weight : 1;
            bs.weight_pct = bs.eligible && all_weight ? 100.0 * double(w) / double(all_weight) : 0.0;
        }
        v.listeners.push_back(ls);
    }
    return v;
}

} // namespace fulcrum::deploy
