#include "dataplane/instance.h"

#include "dataplane/ports.h"

#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

namespace fulcrum::dataplane {

result<std::unique_ptr<instance>> instance::create(const instance_params &p, std::unique_ptr<snapshot> first) {
    std::unique_ptr<instance> inst(new instance());
    uint32_t n_workers = p.n_workers;
    inst->_snap = std::move(first);
    inst->_snap->generation = 1;
    inst->_lcores = p.lcores;
    uint32_t laddr_ports = (uint32_t(p.lport_max) - p.lport_min + 1) * uint32_t(inst->_snap->laddrs.size());
    if (laddr_ports < n_workers) return error{"lport_range", "must give every worker at least one local port"};
    size_t qsz = rte_rcu_qsbr_get_memsize(n_workers);
    inst->_qsbr = static_cast<rte_rcu_qsbr *>(rte_zmalloc("fulcrum_qsbr", qsz, RTE_CACHE_LINE_SIZE));
    if (!inst->_qsbr || rte_rcu_qsbr_init(inst->_qsbr, n_workers) != 0)
        return error{"workers", "cannot set up RCU state for " + std::to_string(n_workers) + " workers"};
    std::array<uint8_t, 16> cookie_key;
    for (size_t got = 0; got < cookie_key.size();) {
        ssize_t n = getrandom(cookie_key.data() + got, cookie_key.size() - got, 0);
        if (n > 0) got += size_t(n);
    }
    for (uint32_t w = 0; w < n_workers; w++) {
        rte_rcu_qsbr_thread_register(inst->_qsbr, w);
        rte_rcu_qsbr_thread_online(inst->_qsbr, w);
        worker_params wp;
        wp.qsbr = inst->_qsbr;
        wp.id = w;
        wp.n_workers = n_workers;
        wp.conn_capacity = p.conn_capacity;
        wp.conn_capacity6 = p.conn_capacity6;
        wp.neighbour_capacity = p.neighbour_capacity;
        wp.lport_min = p.lport_min;
        wp.lport_max = p.lport_max;
        wp.pool = p.pool;
        wp.cookie_key = cookie_key;
        wp.socket = w < p.lcores.size() ? static_cast<int>(rte_lcore_to_socket_id(p.lcores[w])) : SOCKET_ID_ANY;
        // Every allocation a worker makes names what and how much when it fails.
        try {
            inst->_workers.push_back(std::make_unique<worker>(wp, inst->_snap.get()));
        } catch (const std::exception &e) {
            std::string what = dynamic_cast<const std::bad_alloc *>(&e) ? "out of memory" : e.what();
            return error{"conn_capacity", "worker " + std::to_string(w) + " (" + std::to_string(p.conn_capacity) +
                                              " connections): " + what};
        }
    }
    std::vector<rte_ring *> redirect, msgs;
    std::vector<const flow_counters *> counters;
    std::vector<const flow_counters *> lcounters;
    for (auto &w : inst->_workers) {
        redirect.push_back(w->redirect_ring());
        msgs.push_back(w->message_ring());
        counters.push_back(w->backend_counter_array());
        lcounters.push_back(w->listener_counter_array());
    }
    for (auto &w : inst->_workers) w->set_peers(redirect, msgs, counters, lcounters);
    // Rx queue q of every port is worker q's (the RETA and the lport choice count on
    // it); each worker owns one queue of every tap.
    const snapshot &s = *inst->_snap;
    for (const port_rt &port : s.ports)
        for (uint16_t q = 0; q < rx_queue_count(port.port_id, n_workers); q++)
            inst->_workers[q]->add_rx_queue(port.port_id, q);
    for (size_t i = 0; i < s.ports.size(); i++)
        if (s.ports[i].exc_port_id != port_rt::no_exception_port)
            for (uint32_t w = 0; w < n_workers; w++)
                inst->_workers[w]->add_exception_queue(s.ports[i].exc_port_id, static_cast<uint16_t>(w),
                                                       static_cast<uint8_t>(i));
    return inst;
}

instance::~instance() {
    stop();
    _workers.clear(); // flushes their tx buffers while the ports still run
    _retired.clear();
    rte_free(_qsbr);
}

namespace {
struct launch_arg {
    worker *w;
    std::atomic<bool> *quit;
};
int worker_main(void *arg) {
    auto *a = static_cast<launch_arg *>(arg);
    a->w->run(*a->quit);
    delete a;
    return 0;
}
} // namespace

void instance::launch() {
    for (size_t i = 0; i < _workers.size() && i < _lcores.size(); i++)
        rte_eal_remote_launch(worker_main, new launch_arg{_workers[i].get(), &_quit}, _lcores[i]);
    _launched = true;
    // Back only when every worker has touched its tables and forwards.
    for (size_t i = 0; i < _workers.size() && i < _lcores.size(); i++)
        while (!_workers[i]->ready()) rte_delay_us_sleep(1000);
}

void instance::stop() {
    _quit.store(true);
    if (_launched)
        for (unsigned lc : _lcores) rte_eal_wait_lcore(lc);
    _launched = false;
}

uint64_t instance::post(std::unique_ptr<snapshot> next) {
    next->generation = _snap->generation + 1;
    worker_msg msg{};
    msg.type = worker_msg::new_snapshot;
    msg.snap = next.get();
    for (auto &w : _workers)
        while (rte_ring_mp_enqueue_elem(w->message_ring(), &msg, sizeof(msg)) != 0) rte_pause();
    uint64_t gen = next->generation;
    _retired.push_back({std::move(_snap), gen, false, 0});
    _snap = std::move(next);
    return gen;
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

size_t instance::bytes_per_conn() const {
    if (_workers.empty()) return 0;
    const auto &t = _workers[0]->conns();
    return conn::conn_table::bytes_for(t.capacity()) / t.capacity(); // an IPv4 connection's (no IPv6 pool entry)
}

} // namespace fulcrum::dataplane
