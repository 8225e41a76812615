// Fulcrum's counters for people and tools, each format rendered by one function from one
// stats view (deploy::collect_stats), on the control thread (never a worker). Counter
// names, kinds and help come from the lists in dataplane/counters.h.
//  - text: the exit/SIGUSR1 report and `show stats` (sections chosen by the caller).
//  - DPDK telemetry: /fulcrum/stats, /fulcrum/workers, /fulcrum/listeners,
//    /fulcrum/backends (dpdk-telemetry.py). The telemetry thread answers from the view
//    the control loop last published, under a mutex.
//  - Prometheus text exposition on `--metrics [ADDR:]PORT` (GET /metrics; loopback by default).
#pragma once

#include "core/client_set.h"
#include "core/result.h"
#include "deploy/stats.h"

#include <functional>
#include <memory>
#include <string>

namespace fulcrum::observe {

enum section : unsigned { summary = 1, workers = 2, drops = 4, listeners = 8, backends = 16, all = 31 };
std::string render_text(const deploy::stats_view &v, unsigned sections = all);

// Register the telemetry endpoints (once, after EAL init) and publish views to them.
void register_telemetry();
void publish(const deploy::stats_view &v);

// The Prometheus exposition of a view.
std::string prometheus_text(const deploy::stats_view &v);

// Prometheus over HTTP/1.0 (GET /metrics), served from the control loop without
// blocking it (core/client_set): 8 KiB and 5 s per client, 64 at once.
class metrics_server {
  public:
    using view_fn = std::function<deploy::stats_view()>;
    // "[ADDR:]PORT" (no address: 127.0.0.1); errors name --metrics.
    static result<std::unique_ptr<metrics_server>> open(const std::string &addr_port);
    ~metrics_server();
    metrics_server(const metrics_server &) = delete;
    metrics_server &operator=(const metrics_server &) = delete;
    // For the control loop: wait on epoll_fd(), then turn() (views are made on demand).
    int epoll_fd() const { return _clients->epoll_fd(); }
    void turn(double now, const view_fn &view);
    uint16_t port() const { return _port; }
    const client_set &clients() const { return *_clients; }

  private:
    metrics_server(int fd, uint16_t port);
    static std::string response(int code, const std::string &body);
    std::unique_ptr<client_set> _clients;
    uint16_t _port;
    const view_fn *_view = nullptr;
};

} // namespace fulcrum::observe
