// Fulcrum's counters for outside tools, both fed from dataplane::collect_stats on the
// control thread (never a worker):
//  - DPDK telemetry: /fulcrum/stats, /fulcrum/workers, /fulcrum/listeners, /fulcrum/backends
//    (dpdk-telemetry.py, or the telemetry socket). The telemetry thread answers from the
//    view the control loop last published (refreshed every 200 ms), under a mutex.
//  - Prometheus text exposition on `--metrics ADDR:PORT` (GET /metrics), served by the
//    control loop itself.
#pragma once

#include "config/result.h"
#include "dataplane/stats.h"

#include <memory>
#include <string>

namespace fulcrum::observe {

// Register the telemetry endpoints (once, after EAL init) and publish views to them.
void register_telemetry();
void publish(const dataplane::stats_view &v);

// The Prometheus exposition of a view.
std::string prometheus_text(const dataplane::stats_view &v);

class metrics_server {
  public:
    // "ADDR:PORT", e.g. "127.0.0.1:9100"; errors name --metrics.
    static config::result<std::unique_ptr<metrics_server>> open(const std::string &addr_port);
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
    int accept_one();                                         // 0/−1: nobody waiting
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
