#include "dataplane/instance.h"

#include "config/parse.h"
#include "dataplane/exception_path.h"
#include "dataplane/stats.h"

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace fulcrum::dataplane {

namespace {

constexpr uint16_t ring_size = 1024;

config::result<port_rt> start_port(const config::port &cp, const std::string &field, rte_mempool *pool,
                                   uint32_t n_workers) {
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(cp.device.c_str(), &id) != 0)
        return config::error{field + ".device", "no DPDK port named '" + cp.device +
                                                    "' (give it to EAL with --vdev or -a)"};
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) != 0)
        return config::error{field + ".device", "cannot read device info of '" + cp.device + "'"};
    if (info.max_tx_queues < n_workers)
        return config::error{field + ".device", "port has " + std::to_string(info.max_tx_queues) +
                                                    " tx queues; need one per worker (" +
                                                    std::to_string(n_workers) + ")"};
    uint16_t n_rx = static_cast<uint16_t>(std::min<uint32_t>(n_workers, info.max_rx_queues));
    rte_eth_conf conf{};
    port_rt p;
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
        p.tx_ip_cksum = true;
    }
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
        p.rx_ip_cksum = true;
    }
    if (n_rx > 1 && info.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    }
    std::string dev_field = field + ".device";
    if (int rc = rte_eth_dev_configure(id, n_rx, static_cast<uint16_t>(n_workers), &conf); rc != 0)
        return config::error{dev_field, std::string("rte_eth_dev_configure failed: ") + rte_strerror(-rc)};
    uint16_t nb_rxd = ring_size, nb_txd = ring_size;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd);
    int socket = rte_eth_dev_socket_id(id);
    for (uint16_t q = 0; q < n_rx; q++)
        if (int rc = rte_eth_rx_queue_setup(id, q, nb_rxd, socket, nullptr, pool); rc != 0)
            return config::error{dev_field, std::string("rx queue setup failed: ") + rte_strerror(-rc)};
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    for (uint16_t q = 0; q < n_workers; q++)
        if (int rc = rte_eth_tx_queue_setup(id, q, nb_txd, socket, &txc); rc != 0)
            return config::error{dev_field, std::string("tx queue setup failed: ") + rte_strerror(-rc)};
    if (int rc = rte_eth_dev_start(id); rc != 0)
        return config::error{dev_field, std::string("port start failed: ") + rte_strerror(-rc)};
    rte_eth_promiscuous_enable(id); // not every PMD has it; unicast to our MAC is enough

    p.port_id = id;
    rte_eth_macaddr_get(id, &p.mac);
    p.ip = rte_cpu_to_be_32(cp.address);
    p.mask = rte_cpu_to_be_32(cp.prefix_len == 0 ? 0 : ~uint32_t(0) << (32 - cp.prefix_len));
    p.gateway = rte_cpu_to_be_32(cp.gateway);
    p.mtu = cp.mtu;
    return p;
}


} // namespace

config::result<std::unique_ptr<instance>> instance::create(const config::instance &cfg, rte_mempool *pool,
                                                           uint32_t n_workers) {
    std::unique_ptr<instance> inst(new instance());
    inst->_cfg = cfg;
    std::vector<port_rt> ports;
    for (size_t i = 0; i < cfg.ports.size(); i++) {
        auto p = start_port(cfg.ports[i], "ports[" + std::to_string(i) + "]", pool, n_workers);
        if (!p) return p.err();
        ports.push_back(p.value());
        inst->_port_ids.push_back(p.value().port_id);
    }
    if (cfg.exception_path)
        for (size_t i = 0; i < ports.size(); i++) {
            auto tap = create_exception_port(cfg, i, ports[i], pool, n_workers);
            if (!tap) return tap.err();
            ports[i].exc_port_id = tap.value();
            inst->_exc_port_ids.push_back(tap.value());
        }
    auto snap = snapshot::build(cfg, ports);
    if (!snap) return snap.err();
    snap.value().generation = 1;
    inst->_snap = std::make_unique<snapshot>(std::move(snap.value()));
    inst->attach_persistence(*inst->_snap);

    uint32_t laddr_ports = (uint32_t(cfg.lport_max) - cfg.lport_min + 1) * uint32_t(cfg.local_addresses.size());
    if (laddr_ports < n_workers)
        return config::error{"lport_range", "must give every worker at least one local port"};
    size_t qsz = rte_rcu_qsbr_get_memsize(n_workers);
    inst->_qsbr = static_cast<rte_rcu_qsbr *>(rte_zmalloc("fulcrum_qsbr", qsz, RTE_CACHE_LINE_SIZE));
    if (!inst->_qsbr || rte_rcu_qsbr_init(inst->_qsbr, n_workers) != 0)
        return config::error{"workers", "cannot set up RCU state for " + std::to_string(n_workers) + " workers"};
    for (uint32_t w = 0; w < n_workers; w++) {
        rte_rcu_qsbr_thread_register(inst->_qsbr, w);
        rte_rcu_qsbr_thread_online(inst->_qsbr, w);
        worker_params wp;
        wp.qsbr = inst->_qsbr;
        wp.id = w;
        wp.n_workers = n_workers;
        wp.conn_capacity = cfg.conn_capacity;
        wp.lport_min = cfg.lport_min;
        wp.lport_max = cfg.lport_max;
        wp.pool = pool;
        inst->_workers.push_back(std::make_unique<worker>(wp, inst->_snap.get()));
    }
    std::vector<rte_ring *> redirect, msgs;
    for (auto &w : inst->_workers) {
        redirect.push_back(w->redirect_ring());
        msgs.push_back(w->message_ring());
    }
    std::vector<const flow_counters *> counters;
    for (auto &w : inst->_workers) counters.push_back(w->backend_counter_array());
    for (auto &w : inst->_workers) w->set_peers(redirect, msgs, counters);
    // Deal the (port, rx queue) pairs to workers round robin.
    uint32_t k = 0;
    for (uint16_t id : inst->_port_ids) {
        rte_eth_dev_info info{};
        rte_eth_dev_info_get(id, &info);
        uint16_t n_rx = static_cast<uint16_t>(std::min<uint32_t>(n_workers, info.max_rx_queues));
        for (uint16_t q = 0; q < n_rx; q++) inst->_workers[k++ % n_workers]->add_rx_queue(id, q);
    }
    for (size_t i = 0; i < inst->_exc_port_ids.size(); i++)
        for (uint32_t w = 0; w < n_workers; w++)
            inst->_workers[w]->add_exception_queue(inst->_exc_port_ids[i], static_cast<uint16_t>(w), static_cast<uint8_t>(i));
    return inst;
}

instance::~instance() {
    stop();
    _workers.clear(); // flushes their tx buffers while the ports still run
    _retired.clear();
    rte_free(_qsbr);
    for (uint16_t id : _port_ids) {
        rte_eth_dev_stop(id);
    }
    for (size_t i = 0; i < _exc_port_ids.size(); i++) remove_exception_port(_cfg, i, _exc_port_ids[i]);
}

namespace {
int worker_main(void *arg) {
    auto *pair = static_cast<std::pair<worker *, std::atomic<bool> *> *>(arg);
    pair->first->run(*pair->second);
    delete pair;
    return 0;
}
} // namespace

void instance::launch(const std::vector<unsigned> &lcores) {
    _lcores = lcores;
    for (size_t i = 0; i < _workers.size() && i < lcores.size(); i++) {
        auto *arg = new std::pair<worker *, std::atomic<bool> *>(_workers[i].get(), &_quit);
        rte_eal_remote_launch(worker_main, arg, lcores[i]);
    }
}

void instance::stop() {
    _quit.store(true);
    for (unsigned lc : _lcores) rte_eal_wait_lcore(lc);
    _lcores.clear();
}

config::result<uint64_t> instance::apply(const config::instance &cfg, const persist_fn &persist) {
    auto restart = [](const char *field) {
        return config::error{field, "cannot change while running (restart Fulcrum to change it)"};
    };
    if (cfg.ports.size() != _cfg.ports.size()) return restart("ports");
    for (size_t i = 0; i < cfg.ports.size(); i++)
        if (cfg.ports[i] != _cfg.ports[i]) return restart(("ports[" + std::to_string(i) + "]").c_str());
    if (cfg.workers != _cfg.workers) return restart("workers");
    if (cfg.local_addresses != _cfg.local_addresses) return restart("local_addresses");
    if (cfg.lport_min != _cfg.lport_min || cfg.lport_max != _cfg.lport_max) return restart("lport_range");
    if (cfg.conn_capacity != _cfg.conn_capacity) return restart("conn_capacity");
    if (cfg.mbufs != _cfg.mbufs) return restart("mbufs");
    if (cfg.exception_path != _cfg.exception_path) return restart("exception_path");
    if (cfg.probe_port_min != _cfg.probe_port_min || cfg.probe_port_max != _cfg.probe_port_max)
        return restart("probe_port_range");

    auto built = snapshot::build(cfg, _snap->ports, _snap.get(), _health);
    if (!built) return built.err();
    if (persist)
        if (auto saved = persist(cfg); !saved) return saved.err();
    auto next = std::make_unique<snapshot>(std::move(built.value()));
    attach_persistence(*next);
    next->generation = _snap->generation + 1;
    worker_msg msg{};
    msg.type = worker_msg::new_snapshot;
    msg.snap = next.get();
    for (auto &w : _workers)
        while (rte_ring_mp_enqueue_elem(w->message_ring(), &msg, sizeof(msg)) != 0) rte_pause();
    uint64_t gen = next->generation;
    _retired.push_back({std::move(_snap), gen, false, 0});
    _snap = std::move(next);
    _cfg = cfg;
    return gen;
}

void instance::attach_persistence(snapshot &s) {
    for (auto &l : s.listeners) {
        if (!l.persist_timeout_s) continue;
        auto &table = _persist[l.index];
        if (!table) table = std::make_unique<persist_table>();
        l.persist = table.get();
    }
}

size_t instance::reclaim() {
    for (auto it = _retired.begin(); it != _retired.end();) {
        bool adopted = true;
        for (const auto &w : _workers) adopted = adopted && w->adopted_generation() >= it->replaced_by;
        if (adopted && !it->token_taken) {
            it->token = rte_rcu_qsbr_start(_qsbr);
            it->token_taken = true;
        }
        if (it->token_taken && rte_rcu_qsbr_check(_qsbr, it->token, false) == 1)
            it = _retired.erase(it);
        else
            ++it;
    }
    return _retired.size();
}

void instance::clear_stats() {
    stats_baseline b;
    b.listeners.assign(max_listener_slots, flow_counters{});
    b.backends.assign(max_backend_slots, flow_counters{});
    for (const auto &w : _workers) {
        b.workers.push_back(w->counters());
        for (unsigned s = 0; s < max_listener_slots; s++) add_counts(b.listeners[s], w->listener_counters(s));
        for (unsigned s = 0; s < max_backend_slots; s++) add_counts(b.backends[s], w->backend_counters(s));
    }
    _baseline = std::move(b);
}

size_t instance::bytes_per_conn() const {
    if (_workers.empty()) return 0;
    const auto &t = _workers[0]->conns();
    return t.bytes() / t.capacity();
}

std::string instance::stats_report() const {
    std::ostringstream o;
    char line[512];
    o << "== ports ==\n";
    for (size_t i = 0; i < _port_ids.size(); i++) {
        rte_eth_stats st{};
        rte_eth_stats_get(_port_ids[i], &st);
        snprintf(line, sizeof line,
                 "port %-10s rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64 " pkts %" PRIu64
                 " bytes, missed %" PRIu64 ", rx errors %" PRIu64 ", tx errors %" PRIu64 "\n",
                 _cfg.ports[i].name.c_str(), st.ipackets, st.ibytes, st.opackets, st.obytes, st.imissed,
                 st.ierrors, st.oerrors);
        o << line;
    }
    o << "== workers ==\n";
    worker_counters total{};
    for (const auto &w : _workers) {
        const worker_counters &c = w->counters();
        snprintf(line, sizeof line,
                 "worker %u rx %" PRIu64 " tx %" PRIu64 " conns created %" PRIu64 " expired %" PRIu64
                 " active %u/%u lports free %zu/%zu arp replies %" PRIu64 " icmp replies %" PRIu64
                 " redirected out %" PRIu64 " in %" PRIu64 " kernel out %" PRIu64 " in %" PRIu64
                 " drained %" PRIu64 " resets %" PRIu64 "\n",
                 w->id(), c.rx_pkts, c.tx_pkts, c.conn_created, c.conn_expired, w->conns().in_use(),
                 w->conns().capacity(), w->lports().free_count(), w->lports().capacity(), c.arp_replies,
                 c.icmp_replies, c.redirected_out, c.redirected_in, c.to_kernel, c.from_kernel, c.conn_drained,
                 c.rst_sent);
        o << line;
        for (unsigned d = 0; d < drop_count; d++) total.drops[d] += c.drops[d];
    }
    o << "== drops by reason ==\n";
    bool any = false;
    for (unsigned d = 0; d < drop_count; d++) {
        if (!total.drops[d]) continue;
        any = true;
        snprintf(line, sizeof line, "  %-18s %12" PRIu64 "  (%s)\n", drop_name(static_cast<drop>(d)),
                 total.drops[d], drop_text(static_cast<drop>(d)));
        o << line;
    }
    if (!any) o << "  none\n";
    stats_view v = collect_stats(*this);
    o << "== listeners ==\n";
    for (const auto &l : v.listeners) {
        snprintf(line, sizeof line,
                 "%s %s:%u conns total %" PRIu64 " active %" PRId64 " pkts in %" PRIu64 " out %" PRIu64
                 " bytes in %" PRIu64 " out %" PRIu64 " drops %" PRIu64 "\n",
                 l.proto.c_str(), l.vip.c_str(), l.port, l.c.new_conns, l.c.active, l.c.pkts_in, l.c.pkts_out,
                 l.c.bytes_in, l.c.bytes_out, l.c.drops);
        o << line;
    }
    o << "== backends (per listener; counters per backend address) ==\n";
    for (const auto &b : v.backends) {
        snprintf(line, sizeof line,
                 "%s %-12s %s:%u weight %3u conns total %" PRIu64 " (%.1f%% of new, weight asks %.1f%%) active %" PRId64
                 " pkts in %" PRIu64 " out %" PRIu64 " bytes in %" PRIu64 " out %" PRIu64 "\n",
                 b.listener.c_str(), b.server_id.c_str(), b.ip.c_str(), b.port, b.weight, b.c.new_conns, b.share_pct,
                 b.weight_pct, b.c.active, b.c.pkts_in, b.c.pkts_out, b.c.bytes_in, b.c.bytes_out);
        o << line;
    }
    return o.str();
}

} // namespace fulcrum::dataplane
