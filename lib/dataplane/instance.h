// One Fulcrum data plane: its ports, its snapshot and its workers.
//
// The control thread (the EAL main lcore) creates the instance, launches one worker per
// worker lcore and, while they run, only reads their counters. Tests create the same
// instance and drive the workers' poll_once() themselves.
#pragma once

#include "config/model.h"
#include "config/result.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker.h"

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fulcrum::dataplane {

// Counter values at the last `clear stats`: views subtract them (workers keep counting;
// only their single writer may reset a counter).
struct stats_baseline {
    std::vector<worker_counters> workers;
    std::vector<flow_counters> listeners, backends; // by slot, summed over workers
};

class instance {
  public:
    // Starts the config's ports (already probed by EAL) and builds `n_workers` workers.
    // Errors name the config field (e.g. a device EAL does not know).
    static config::result<std::unique_ptr<instance>> create(const config::instance &cfg,
                                                            rte_mempool *pool, uint32_t n_workers);
    ~instance();

    // Run worker i on lcores[i]; returns at once.
    void launch(const std::vector<unsigned> &lcores);
    // Ask workers to stop and wait for them.
    void stop();

    size_t worker_count() const { return _workers.size(); }
    worker &worker_at(size_t i) { return *_workers[i]; }
    const worker &worker_at(size_t i) const { return *_workers[i]; }
    const std::vector<uint16_t> &port_ids() const { return _port_ids; }
    const std::vector<uint16_t> &exception_port_ids() const { return _exc_port_ids; }
    void clear_stats();
    const stats_baseline &baseline() const { return _baseline; }
    const snapshot &current_snapshot() const { return *_snap; }
    const config::instance &config() const { return _cfg; }

    // Validate `cfg` against what can change at run time (listeners, the default server
    // group, VIPs, TCP timeouts), build its snapshot and post it to every worker's
    // message ring. Returns the new generation; on error nothing changes. The replaced
    // snapshot is freed by reclaim() once every worker has adopted the new one and passed
    // a quiescent point (rte_rcu_qsbr).
    // `persist`, when given, runs once the snapshot is built and before it is posted (the
    // state file); its error, too, leaves everything unchanged.
    using persist_fn = std::function<config::result<bool>(const config::instance &)>;
    config::result<uint64_t> apply(const config::instance &cfg, const persist_fn &persist = {});
    // Where backends' health comes from (the health checker); applies from the next
    // snapshot on. refresh() builds one from the running config: health changed.
    void set_health(snapshot::health_fn fn) { _health = std::move(fn); }
    config::result<uint64_t> refresh() { return apply(config::instance(_cfg)); }
    // Free replaced snapshots whose grace period has ended; returns how many remain.
    size_t reclaim();

    // Bytes allocated per connection slot (table + index + pool), for the start-up line.
    size_t bytes_per_conn() const;
    // The counters report printed on SIGUSR1 and at exit.
    std::string stats_report() const;

  private:
    instance() = default;

    struct retired {
        std::unique_ptr<snapshot> snap;
        uint64_t replaced_by; // generation every worker must have adopted
        bool token_taken;
        uint64_t token;
    };

    // Persistence tables by listener slot: created when a listener first asks for
    // persistence, kept (and shared by its snapshots) for the life of the process.
    void attach_persistence(snapshot &s);

    config::instance _cfg;
    snapshot::health_fn _health;
    std::unique_ptr<snapshot> _snap;
    std::array<std::unique_ptr<persist_table>, max_listener_slots> _persist;
    std::vector<retired> _retired;
    rte_rcu_qsbr *_qsbr = nullptr;
    std::vector<std::unique_ptr<worker>> _workers;
    std::vector<uint16_t> _port_ids;
    std::vector<uint16_t> _exc_port_ids; // net_tap per port (exception path), when on
    stats_baseline _baseline;
    std::vector<unsigned> _lcores;
    std::atomic<bool> _quit{false};
};

} // namespace fulcrum::dataplane
