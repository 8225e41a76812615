#include "observe/observe.h"

#include <rte_telemetry.h>

#include <cinttypes>
#include <cstdio>
#include <mutex>

namespace fulcrum::observe {

namespace {

std::mutex g_mu;
deploy::stats_view g_view;

// DPDK 22.11 telemetry takes names of letters, digits, '_' and '/' only:
// "tcp 10.0.0.10:80" becomes "tcp_10_0_0_10_80".
std::string key(std::string s) {
    for (char &c : s)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
    return s.size() < RTE_TEL_MAX_STRING_LEN ? s : s.substr(0, RTE_TEL_MAX_STRING_LEN - 1);
}
std::string pct(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

void add_flow(rte_tel_data *d, const dataplane::flow_counters &c) {
#define X(name, kind, help) rte_tel_data_add_dict_u64(d, #name, uint64_t(c.name));
    FULCRUM_FLOW_COUNTERS(X)
#undef X
}
void add_worker(rte_tel_data *d, const dataplane::worker_counters &c) {
#define X(name, kind, help) rte_tel_data_add_dict_u64(d, #name, c.name);
    FULCRUM_WORKER_COUNTERS(X)
#undef X
    rte_tel_data *drops = rte_tel_data_alloc();
    rte_tel_data_start_dict(drops);
    for (unsigned i = 0; i < dataplane::drop_count; i++)
        rte_tel_data_add_dict_u64(drops, dataplane::drop_name(static_cast<dataplane::drop>(i)), c.drops[i]);
    rte_tel_data_add_dict_container(d, "drops", drops, 0);
}

int stats_cb(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(g_mu);
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "snapshot_generation", g_view.generation);
    rte_tel_data_add_dict_u64(d, "workers", g_view.workers.size());
    uint64_t active = 0;
    for (const auto &w : g_view.workers) active += w.conns_in_use;
    rte_tel_data_add_dict_u64(d, "conns_active", active);
    add_worker(d, g_view.total);
    return 0;
}

int workers_cb(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(g_mu);
    rte_tel_data_start_dict(d);
    for (const auto &w : g_view.workers) {
        rte_tel_data *x = rte_tel_data_alloc();
        rte_tel_data_start_dict(x);
        rte_tel_data_add_dict_u64(x, "conns", w.conns_in_use);
        rte_tel_data_add_dict_u64(x, "conn_capacity", w.conns_capacity);
        rte_tel_data_add_dict_u64(x, "lports", w.lports);
        rte_tel_data_add_dict_u64(x, "snapshot_generation", w.generation);
        add_worker(x, w.c);
        rte_tel_data_add_dict_container(d, ("worker" + std::to_string(w.id)).c_str(), x, 0);
    }
    return 0;
}

int listeners_cb(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(g_mu);
    rte_tel_data_start_dict(d);
    for (const auto &l : g_view.listeners) {
        rte_tel_data *x = rte_tel_data_alloc();
        rte_tel_data_start_dict(x);
        rte_tel_data_add_dict_string(x, "group", l.group.c_str());
        rte_tel_data_add_dict_string(x, "scheduler", l.scheduler.c_str());
        rte_tel_data_add_dict_u64(x, "backends", l.backends);
        rte_tel_data_add_dict_u64(x, "backends_up", l.eligible);
        add_flow(x, l.c);
        rte_tel_data_add_dict_container(d, key(l.proto + "_" + l.vip + "_" + std::to_string(l.port)).c_str(), x, 0);
    }
    return 0;
}

int backends_cb(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(g_mu);
    rte_tel_data_start_dict(d);
    for (const auto &b : g_view.backends) {
        rte_tel_data *x = rte_tel_data_alloc();
        rte_tel_data_start_dict(x);
        rte_tel_data_add_dict_string(x, "listener", b.listener.c_str());
        rte_tel_data_add_dict_string(x, "server_id", b.server_id.c_str());
        rte_tel_data_add_dict_u64(x, "weight", b.weight);
        rte_tel_data_add_dict_string(x, "state", b.eligible ? "up" : "out");
        rte_tel_data_add_dict_string(x, "share_pct", pct(b.share_pct).c_str());
        rte_tel_data_add_dict_string(x, "weight_share_pct", pct(b.weight_pct).c_str());
        add_flow(x, b.c);
        std::string k = b.listener + "_" + b.ip + "_" + std::to_string(b.port);
        rte_tel_data_add_dict_container(d, key(k).c_str(), x, 0);
    }
    return 0;
}

} // namespace

void register_telemetry() {
    rte_telemetry_register_cmd("/fulcrum/stats", stats_cb, "Fulcrum totals: packets, connections, drops by reason");
    rte_telemetry_register_cmd("/fulcrum/workers", workers_cb, "Fulcrum per-worker counters and table fill");
    rte_telemetry_register_cmd("/fulcrum/listeners", listeners_cb, "Fulcrum per-listener counters");
    rte_telemetry_register_cmd("/fulcrum/backends", backends_cb,
                               "Fulcrum per-backend counters, share of new connections and the weight's share");
}

void publish(const deploy::stats_view &v) {
    std::lock_guard<std::mutex> g(g_mu);
    g_view = v;
}

} // namespace fulcrum::observe
