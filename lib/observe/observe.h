// Fulcrum's counters for people and tools, each format rendered by one function from one
// stats view (deploy::collect_stats), on the control thread (never a worker). Counter
// names, kinds and help come from the lists in dataplane/counters.h.
//  - text: the exit/SIGUSR1 report and `show stats` (sections chosen by the caller).
//  - DPDK telemetry: /fulcrum/stats, /fulcrum/workers, /fulcrum/listeners,
//    /fulcrum/backends (dpdk-telemetry.py). The telemetry thread answers from the view
//    the control loop last published, under a mutex.
//  - Prometheus text exposition on `--metrics ADDR:PORT` (GET /metrics).
#pragma once

#include "core/result.h"
#include "deploy/stats.h"

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

class metrics_server {
  public:
    // "ADDR:PORT", e.g. "127.0.0.1:9100"; errors name --metrics.
    static result<std::unique_ptr<metrics_server>> open(const std::string &addr_port);
    ~metrics_server();
    metrics_server(const metrics_server &) = delete;
    metrics_server &operator=(const metrics_server &) = delete;
    // Answer the clients waiting now (GET /metrics; anything else 404), with `view()`'s text.
    template <class View>
    void serve_pending(View &&view) {
        while (int c = accept_one()) {
            if (c < 0) break;
            answer(c, view);
        }
    }
    uint16_t port() const { return _port; }

  private:
    metrics_server(int fd, uint16_t port) : _fd(fd), _port(port) {}
    int accept_one(); // 0/−1: nobody waiting
    bool read_request(int c, std::string &path);
    void respond(int c, int code, const std::string &body);
    template <class View>
    void answer(int c, View &view) {
        std::string path;
        if (!read_request(c, path)) return respond(c, 400, "bad request\n");
        if (path != "/metrics") return respond(c, 404, "try /metrics\n");
        respond(c, 200, prometheus_text(view()));
    }
    int _fd;
    uint16_t _port;
};

} // namespace fulcrum::observe
