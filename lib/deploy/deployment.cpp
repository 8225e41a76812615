#include "deploy/deployment.h"

#include "dataplane/ports.h"
#include "deploy/host_if.h"
#include "net/addr.h"

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#include <algorithm>

#include "dataplane/log.h"

namespace fulcrum::deploy {

std::optional<error> restart_needed(const config::instance &run, const config::instance &next) {
    auto restart = [](std::string field) {
        return error{std::move(field), "cannot change while running (restart Fulcrum to change it)"};
    };
    // The whole start-up part is compared; the field checks below only name the first
    // difference for the error (one not named still refuses).
    const config::startup &a = run, &b = next;
    if (a == b) return std::nullopt;
    if (b.ports.size() != a.ports.size()) return restart("ports");
    for (size_t i = 0; i < b.ports.size(); i++)
        if (b.ports[i] != a.ports[i]) return restart("ports[" + std::to_string(i) + "]");
    if (b.workers != a.workers) return restart("workers");
    if (b.local_addresses != a.local_addresses) return restart("local_addresses");
    if (b.lport_min != a.lport_min || b.lport_max != a.lport_max) return restart("lport_range");
    if (b.conn_capacity != a.conn_capacity) return restart("conn_capacity");
    if (b.ipv6_source_prefix != a.ipv6_source_prefix) return restart("ipv6_source_prefix");
    if (b.mbufs != a.mbufs) return restart("mbufs");
    if (b.neighbour_capacity != a.neighbour_capacity) return restart("neighbour_capacity");
    if (b.exception_path != a.exception_path) return restart("exception_path");
    if (b.probe_port_min != a.probe_port_min || b.probe_port_max != a.probe_port_max) return restart("probe_port_range");
    return restart("startup");
}

result<std::unique_ptr<deployment>> deployment::create(const config::instance &cfg, rte_mempool *pool,
                                                       uint32_t n_workers, const std::vector<unsigned> &lcores) {
    std::unique_ptr<deployment> d(new deployment());
    d->_cfg = cfg;
    std::vector<dataplane::port_rt> ports;
    // The laddr plan, once: the laddrs are restart-only (config::startup).
    d->_laddr_plan = config::local_addresses_by_port(cfg);
    const std::vector<config::local_address> &laddrs = d->_laddr_plan;
    d->_steer_notes.resize(cfg.ports.size());
    for (size_t i = 0; i < cfg.ports.size(); i++) {
        const config::port &cp = cfg.ports[i];
        dataplane::port_params pp{"ports[" + std::to_string(i) + "]", cp.device, rte_cpu_to_be_32(cp.address),
                                  rte_cpu_to_be_32(net::prefix_mask(cp.prefix_len)), rte_cpu_to_be_32(cp.gateway),
                                  cp.mtu};
        using want = dataplane::port_params::want;
        pp.steer = cp.rss == config::rss_setting::emulated ? want::emulated
                   : cp.rss == config::rss_setting::off    ? want::redirect
                                                           : want::automatic;
        for (const auto &l : laddrs)
            if (l.port == i && l.ip.is_v4()) pp.laddrs.push_back(rte_cpu_to_be_32(l.ip.v4()));
        pp.steer_note = &d->_steer_notes[i];
        auto p = dataplane::start_port(pp, pool, n_workers);
        if (!p) return p.err();
        ports.push_back(p.value());
        ports.back().ip6 = cp.address6;
        ports.back().prefix6 = cp.prefix6_len;
        ports.back().gateway6 = cp.gateway6;
        d->_port_ids.push_back(p.value().port_id);
        FULCRUM_LOG(INFO, control, "port %s: replies steered by %s (%s)\n", cp.name.c_str(),
                    dataplane::steering_name(p.value().steer), d->_steer_notes[i].c_str());
    }
    if (cfg.exception_path)
        for (size_t i = 0; i < ports.size(); i++) {
            std::string field = "ports[" + std::to_string(i) + "]";
            auto tap = dataplane::start_tap(i, field, host_ifname(cfg, i), ports[i].mac, pool, n_workers);
            if (!tap) return tap.err();
            d->_tap_ids.push_back(tap.value());
            ports[i].exc_port_id = tap.value();
            if (auto up = configure_host_if(cfg, i, laddrs); !up) return up.err();
        }
    auto snap = build_snapshot(cfg, ports, d->_slots, {}, &laddrs);
    if (!snap) return snap.err();
    d->attach_persistence(*snap.value());
    dataplane::instance_params ip;
    ip.n_workers = n_workers;
    ip.conn_capacity = cfg.conn_capacity;
    // IPv6 connections need a port with address6 (config rule): only then the IPv6 pool.
    bool any6 = std::any_of(cfg.ports.begin(), cfg.ports.end(), [](const config::port &p) { return !p.address6.none(); });
    ip.conn_capacity6 = any6 ? cfg.conn_capacity : 0;
    ip.neighbour_capacity = cfg.neighbour_capacity;
    ip.lport_min = cfg.lport_min;
    ip.lport_max = cfg.lport_max;
    ip.pool = pool;
    ip.lcores = lcores;
    auto dp = dataplane::instance::create(ip, std::move(snap.value()));
    if (!dp) return dp.err();
    d->_dp = std::move(dp.value());
    return d;
}

deployment::~deployment() {
    _dp.reset(); // workers stop and flush while the ports still run
    for (uint16_t id : _port_ids) {
        rte_flow_error err{};
        rte_flow_flush(id, &err); // steering rules, if any
        rte_eth_dev_stop(id);
    }
    for (size_t i = 0; i < _tap_ids.size(); i++) dataplane::remove_tap(i, _tap_ids[i]);
}

result<uint64_t> deployment::apply(const config::instance &cfg, const persist_fn &persist) {
    if (auto e = restart_needed(_cfg, cfg)) return *e;
    slot_registry slots = _slots; // kept only if the snapshot is posted
    offer_free_slots(slots);
    auto built = build_snapshot(cfg, current_snapshot().ports, slots, _health, &_laddr_plan);
    if (!built) return built.err();
    if (persist)
        if (auto saved = persist(cfg); !saved) return saved.err();
    rebase_reused(slots);
    attach_persistence(*built.value());
    uint64_t gen = _dp->post(std::move(built.value()));
    _slots = std::move(slots);
    _cfg = cfg;
    return gen;
}

void deployment::attach_persistence(dataplane::snapshot &s) {
    for (auto &l : s.listeners) {
        if (!l.persist_timeout_s) continue;
        auto &table = _persist[l.index];
        if (!table) table = std::make_unique<dataplane::persist_table>();
        l.persist = table.get();
    }
}

void deployment::offer_free_slots(slot_registry &slots) {
    _dp->reclaim();
    std::vector<uint8_t> named_b(slots.backends_used()), named_l(slots.listeners_used());
    for (const dataplane::snapshot *s : _dp->live_snapshots()) {
        for (const auto &b : s->backends) named_b[b.slot] = 1;
        for (const auto &l : s->listeners) named_l[l.index] = 1;
    }
    auto held = [&](bool listener, unsigned slot) {
        for (size_t i = 0; i < worker_count(); i++) {
            const dataplane::worker &w = worker_at(i);
            const dataplane::flow_counters &c = listener ? w.listener_counters(slot) : w.backend_counters(slot);
            if (__atomic_load_n(&c.active_connections, __ATOMIC_RELAXED) != 0) return true;
        }
        return false;
    };
    std::vector<uint16_t> free_b, free_l;
    for (unsigned s = 0; s < named_b.size(); s++)
        if (!named_b[s] && !held(false, s)) free_b.push_back(static_cast<uint16_t>(s));
    for (unsigned s = 0; s < named_l.size(); s++)
        if (!named_l[s] && !held(true, s)) free_l.push_back(static_cast<uint16_t>(s));
    slots.offer_free(std::move(free_b), std::move(free_l));
}

void deployment::rebase_reused(const slot_registry &slots) {
    // Nothing counts on a free slot, so the sums read now stay exact.
    auto rebase = [&](std::vector<dataplane::flow_counters> &base, unsigned n, bool listener, uint16_t slot) {
        if (base.size() < n) base.resize(n);
        base[slot] = {};
        for (size_t i = 0; i < worker_count(); i++) {
            const dataplane::worker &w = worker_at(i);
            add_counts(base[slot], listener ? w.listener_counters(slot) : w.backend_counters(slot));
        }
    };
    for (uint16_t s : slots.reused_backends()) rebase(_baseline.backends, dataplane::max_backend_slots, false, s);
    for (uint16_t s : slots.reused_listeners()) {
        rebase(_baseline.listeners, dataplane::max_listener_slots, true, s);
        _persist[s].reset(); // the old listener's clients mean nothing to the new one
    }
}

void deployment::clear_stats() {
    stats_baseline b;
    b.listeners.assign(dataplane::max_listener_slots, dataplane::flow_counters{});
    b.backends.assign(dataplane::max_backend_slots, dataplane::flow_counters{});
    for (size_t i = 0; i < worker_count(); i++) {
        const dataplane::worker &w = worker_at(i);
        b.workers.push_back(w.counters());
        for (unsigned s = 0; s < dataplane::max_listener_slots; s++) add_counts(b.listeners[s], w.listener_counters(s));
        for (unsigned s = 0; s < dataplane::max_backend_slots; s++) add_counts(b.backends[s], w.backend_counters(s));
    }
    _baseline = std::move(b);
}

} // namespace fulcrum::deploy
