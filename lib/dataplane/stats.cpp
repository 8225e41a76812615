#include "dataplane/stats.h"

#include "config/parse.h"
#include "dataplane/instance.h"

#include <netinet/in.h>

#include <rte_byteorder.h>

namespace fulcrum::dataplane {

namespace {

void add(worker_counters &a, const worker_counters &b, int sign = 1) {
    auto *pa = reinterpret_cast<uint64_t *>(&a);
    const auto *pb = reinterpret_cast<const uint64_t *>(&b);
    for (size_t i = 0; i < sizeof(worker_counters) / sizeof(uint64_t); i++) pa[i] += sign * pb[i];
}
static_assert(sizeof(worker_counters) % sizeof(uint64_t) == 0);

const char *scheduler_name(config::scheduler_kind k) {
    static const char *n[] = {"wrr", "rr", "wlc", "sch", "tch"};
    return n[static_cast<int>(k)];
}

} // namespace

stats_view collect_stats(const instance &dp) {
    const snapshot &snap = dp.current_snapshot();
    const config::instance &cfg = dp.config();
    const stats_baseline &base = dp.baseline();
    stats_view v{};
    v.generation = snap.generation;
    for (size_t i = 0; i < dp.worker_count(); i++) {
        const worker &w = dp.worker_at(i);
        worker_stat ws{w.id(), w.counters(), w.conns().in_use(), w.conns().capacity(), w.lports().free_count(),
                       w.lports().capacity(), w.adopted_generation()};
        if (i < base.workers.size()) add(ws.c, base.workers[i], -1);
        add(v.total, ws.c);
        v.workers.push_back(ws);
    }
    auto summed = [&](bool listener, unsigned slot) {
        flow_counters s{};
        for (size_t i = 0; i < dp.worker_count(); i++) {
            const worker &w = dp.worker_at(i);
            const flow_counters &c = listener ? w.listener_counters(slot) : w.backend_counters(slot);
            add_counts(s, c);
            s.active += c.active; // a gauge: never cleared
        }
        const auto &b = listener ? base.listeners : base.backends;
        if (slot < b.size()) add_counts(s, b[slot], -1);
        return s;
    };
    for (size_t li = 0; li < cfg.listeners.size() && li < snap.listeners.size(); li++) {
        const config::listener &cl = cfg.listeners[li];
        const listener_rt &l = snap.listeners[li];
        listener_stat ls;
        ls.proto = cl.proto == config::protocol::tcp ? "tcp" : "udp";
        ls.vip = config::format_ipv4(cl.vip);
        ls.port = cl.port;
        ls.group = !cl.vserver_group_id.empty() ? cl.vserver_group_id
                   : !cl.master_slave_group_id.empty() ? cl.master_slave_group_id : "default";
        ls.scheduler = cl.master_slave_group_id.empty() ? scheduler_name(cl.scheduler) : "master/slave";
        ls.c = summed(true, l.index);
        ls.backends = l.n_backends;
        ls.eligible = l.eligible_len;
        std::string name = ls.proto + " " + ls.vip + ":" + std::to_string(ls.port);

        // The listener's members as configured, with the snapshot's effective weight.
        std::vector<std::pair<const config::backend *, std::string>> members;
        if (!cl.master_slave_group_id.empty()) {
            for (const auto &g : cfg.master_slave_groups)
                if (g.id == cl.master_slave_group_id) members = {{&g.master, "Master"}, {&g.slave, "Slave"}};
        } else if (!cl.vserver_group_id.empty()) {
            for (const auto &g : cfg.vserver_groups)
                if (g.id == cl.vserver_group_id)
                    for (const auto &b : g.backends) members.push_back({&b, ""});
        } else {
            for (const auto &b : cfg.default_server_group) members.push_back({&b, ""});
        }
        size_t first = v.backends.size();
        uint64_t all_new = 0, all_weight = 0;
        for (const auto &[cb, role] : members) {
            backend_stat bs;
            bs.listener = name;
            bs.group = ls.group;
            bs.server_id = cb->server_id;
            bs.ip = config::format_ipv4(cb->ip);
            bs.port = cb->port ? cb->port : cl.backend_port;
            bs.weight = cb->weight;
            bs.role = role;
            bs.eligible = false;
            uint32_t ip_be = rte_cpu_to_be_32(cb->ip);
            uint16_t port_be = rte_cpu_to_be_16(bs.port);
            for (uint32_t i = 0; i < l.n_backends; i++) {
                const backend_rt &b = snap.backends[l.backend_offset + i];
                if (b.ip == ip_be && b.port == port_be && b.weight > 0) bs.eligible = true;
            }
            auto slot = snap.slot_ids.find(
                slot_key(cl.proto == config::protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP, cb->ip, bs.port));
            bs.c = slot == snap.slot_ids.end() ? flow_counters{} : summed(false, slot->second);
            all_new += bs.c.new_conns;
            if (bs.eligible) all_weight += role.empty() ? bs.weight : 1;
            v.backends.push_back(bs);
        }
        for (size_t i = first; i < v.backends.size(); i++) {
            backend_stat &bs = v.backends[i];
            bs.share_pct = all_new ? 100.0 * double(bs.c.new_conns) / double(all_new) : 0.0;
            uint64_t w = bs.role.empty() ? bs.weight : 1;
            bs.weight_pct = bs.eligible && all_weight ? 100.0 * double(w) / double(all_weight) : 0.0;
        }
        v.listeners.push_back(ls);
    }
    return v;
}

} // namespace fulcrum::dataplane
