// A config model put into a running data plane, and the control side's handle on it:
//
//   create: ports started from the model's parameters, exception-path taps created and
//           configured in the kernel, the first snapshot built, the workers made.
//   apply:  the restart-only policy, a new snapshot built (counter slots from the
//           registry, persistence tables attached), persisted by the caller's hook,
//           posted to the workers; nothing changes when any step fails.
//
// The data plane itself (dataplane::instance) knows nothing of the model.
#pragma once

#include "config/model.h"
#include "core/result.h"
#include "dataplane/instance.h"
#include "deploy/slots.h"
#include "deploy/snapshot_builder.h"

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace fulcrum::deploy {

// The fields that only a restart can change; the first that differs, named as the
// config names it ("ports[0]", "local_addresses", ...).
std::optional<error> restart_needed(const config::instance &running, const config::instance &next);

// Counter values at the last `clear stats`: views subtract them (workers keep counting;
// only their single writer may reset a counter).
struct stats_baseline {
    std::vector<dataplane::worker_counters> workers;
    std::vector<dataplane::flow_counters> listeners, backends; // by slot, summed over workers
};

class deployment {
  public:
    // `lcores` empty: the caller polls the workers (tests).
    static result<std::unique_ptr<deployment>> create(const config::instance &cfg, rte_mempool *pool,
                                                      uint32_t n_workers, const std::vector<unsigned> &lcores = {});
    ~deployment();
    deployment(const deployment &) = delete;
    deployment &operator=(const deployment &) = delete;

    // Validate `cfg` against what can change at run time, build its snapshot, run
    // `persist` (the state file; its error too leaves everything unchanged), post the
    // snapshot. Returns the new generation.
    using persist_fn = std::function<result<bool>(const config::instance &)>;
    result<uint64_t> apply(const config::instance &cfg, const persist_fn &persist = {});
    // Where backends' health comes from (the health checker); applies from the next
    // snapshot on. refresh() builds one from the running config: health changed.
    void set_health(health_fn fn) { _health = std::move(fn); }
    result<uint64_t> refresh() { return apply(config::instance(_cfg)); }

    const config::instance &config() const { return _cfg; }
    const slot_registry &slots() const { return _slots; }
    dataplane::instance &dataplane() { return *_dp; }
    const dataplane::instance &dataplane() const { return *_dp; }
    const dataplane::snapshot &current_snapshot() const { return _dp->current_snapshot(); }
    size_t worker_count() const { return _dp->worker_count(); }
    dataplane::worker &worker_at(size_t i) { return _dp->worker_at(i); }
    const dataplane::worker &worker_at(size_t i) const { return _dp->worker_at(i); }
    size_t reclaim() { return _dp->reclaim(); }
    void launch() { _dp->launch(); }
    void stop() { _dp->stop(); }
    size_t bytes_per_conn() const { return _dp->bytes_per_conn(); }
    const std::vector<uint16_t> &port_ids() const { return _port_ids; }
    // Per port: why its replies are steered as they are (port_rt::steer says how).
    const std::vector<std::string> &steer_notes() const { return _steer_notes; }

    void clear_stats();
    const stats_baseline &baseline() const { return _baseline; }

  private:
    deployment() = default;
    // Persistence tables by listener slot: created when a listener first asks for
    // persistence, kept (and shared by its snapshots) for the life of the process.
    void attach_persistence(dataplane::snapshot &s);
    // The slots no live snapshot names and no worker holds a connection on: free to be
    // given to new keys.
    void offer_free_slots(slot_registry &slots);
    // Slots given to new keys: their counters count from here.
    void rebase_reused(const slot_registry &slots);

    config::instance _cfg;
    slot_registry _slots;
    std::vector<config::local_address> _laddr_plan; // made once in create (laddrs are restart-only)
    health_fn _health;
    std::vector<uint16_t> _port_ids, _tap_ids;
    std::vector<std::string> _steer_notes;
    std::array<std::unique_ptr<dataplane::persist_table>, dataplane::max_listener_slots> _persist;
    std::unique_ptr<dataplane::instance> _dp;
    stats_baseline _baseline;
};

} // namespace fulcrum::deploy
