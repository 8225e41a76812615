// The operator's view of the counters: summed over workers, per worker, per listener and
// per backend of each listener with its share of new connections next to the share its
// weight asks for. Read on the control side while workers run (each counter is written
// by one worker; a view is consistent per counter, not across counters). One source for
// the prompt, DPDK telemetry and the Prometheus endpoint.
#pragma once

#include "dataplane/worker_counters.h"
#include "deploy/port_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::deploy {

class deployment;
using dataplane::flow_counters;
using dataplane::worker_counters;

struct worker_stat {
    uint32_t id;
    worker_counters c;
    uint32_t conns_in_use, conns_capacity;
    size_t lports; // laddr:lport pairs it deals, each toward every backend port at once
    uint64_t generation; // snapshot the worker runs on
};

struct listener_stat {
    std::string proto, vip; // "tcp", "10.0.0.10"
    uint16_t port;
    std::string group;      // "default", a vserver or master/slave group id
    std::string scheduler;
    flow_counters c;
    uint32_t backends, eligible; // in its group; weight > 0 and up
};

struct backend_stat {
    std::string listener;   // "tcp 10.0.0.10:80"
    std::string group;
    std::string server_id, ip;
    uint16_t port;
    uint8_t weight;         // configured
    bool eligible;          // receives new connections (weight > 0 and up)
    std::string role;       // "Master" / "Slave" in a master/slave group, else empty
    flow_counters c;        // of the backend address (ip:port), shared by listeners using it
    double share_pct;       // of the listener's new connections (over its backends)
    double weight_pct;      // the share its weight asks for
};

struct port_stat {
    std::string name;
    port_counters c;
    std::string steering, steering_note; // how replies reach their worker, and why
};

// Scale-out (README "Scale-out: ECMP and BGP"): filled by the control loop, which owns
// the announcer; `speaker` is false when no BGP speaker is configured.
struct node_stat {
    bool drained = false, speaker = false, speaker_ok = true;
    uint32_t announced = 0; // VIPs the speaker is told to announce
    uint64_t reloads = 0, reload_failures = 0;
};

struct stats_view {
    uint64_t generation;
    node_stat node;
    std::vector<port_stat> ports;
    std::vector<worker_stat> workers;
    worker_counters total;
    std::vector<listener_stat> listeners;
    std::vector<backend_stat> backends;
};

stats_view collect_stats(const deployment &d);

} // namespace fulcrum::deploy
