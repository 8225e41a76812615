// One Fulcrum data plane at run time: its ports, its workers, the snapshot they run and
// the ones waiting for reclamation. Built from plain parameters and a first snapshot;
// knows nothing of the config model (the control side's deploy::deployment does).
//
// The control thread (the EAL main lcore) launches one worker per worker lcore and,
// while they run, posts snapshots and reads counters. Tests drive the workers'
// poll_once() themselves instead of launching them.
#pragma once

#include "core/result.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker.h"

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>
#include <vector>

namespace fulcrum::dataplane {

struct instance_params {
    uint32_t n_workers = 1;
    uint32_t conn_capacity = 1 << 16; // per worker
    uint32_t conn_capacity6 = 0;      // per worker: of them with an IPv6 side (conn_table.h)
    uint32_t neighbour_capacity = 8192; // per worker
    uint16_t lport_min = 1024, lport_max = 65535;
    rte_mempool *pool = nullptr;
    // Worker i runs on lcores[i] and its memory sits on that lcore's NUMA socket; empty
    // (tests): the caller polls the workers, memory on any socket.
    std::vector<unsigned> lcores;
};

class instance {
  public:
    // The snapshot's ports are started (ports.h); each names its exception-path tap (or
    // none). A failure, an allocation's included, is an error naming what and how much.
    static result<std::unique_ptr<instance>> create(const instance_params &p, std::unique_ptr<snapshot> first);
    ~instance();
    instance(const instance &) = delete;
    instance &operator=(const instance &) = delete;

    // Run worker i on lcores[i]; returns once every worker has made its first loop (its
    // tables are touched and it forwards). stop() asks them to stop and waits.
    void launch();
    void stop();

    size_t worker_count() const { return _workers.size(); }
    worker &worker_at(size_t i) { return *_workers[i]; }
    const worker &worker_at(size_t i) const { return *_workers[i]; }
    const snapshot &current_snapshot() const { return *_snap; }

    // Post a new snapshot (generation = current + 1) to every worker's message ring and
    // return its generation. Workers adopt it between bursts; the replaced one is freed
    // by reclaim() once every worker has adopted the new one and passed a quiescent
    // point (rte_rcu_qsbr).
    uint64_t post(std::unique_ptr<snapshot> next);
    // Free replaced snapshots whose grace period has ended; returns how many remain.
    size_t reclaim();
    // The snapshots a worker may still hold: the current one and those not yet reclaimed.
    std::vector<const snapshot *> live_snapshots() const {
        std::vector<const snapshot *> live{_snap.get()};
        for (const retired &r : _retired) live.push_back(r.snap.get());
        return live;
    }

    // Bytes allocated per connection slot (table + index + pool), for the start-up line.
    size_t bytes_per_conn() const;

  private:
    instance() = default;

    struct retired {
        std::unique_ptr<snapshot> snap;
        uint64_t replaced_by; // generation every worker must have adopted
        bool token_taken;
        uint64_t token;
    };

    std::unique_ptr<snapshot> _snap;
    std::vector<retired> _retired;
    rte_rcu_qsbr *_qsbr = nullptr;
    std::vector<std::unique_ptr<worker>> _workers;
    std::vector<unsigned> _lcores;
    bool _launched = false;
    std::atomic<bool> _quit{false};
};

} // namespace fulcrum::dataplane
