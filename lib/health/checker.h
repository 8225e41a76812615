// Health checks: probes on the control side (their own thread, never a worker's), sent
// by the kernel from a laddr through the exception path, so they cross Fulcrum's own
// ports the way client traffic does.
//
// One probe per distinct (ip, port, check) however many listeners and groups share it.
// Every interval a probe runs: tcp (non-blocking connect; closed with a reset), http (GET
// of the path with Host and User-Agent KeepAliveClient; the status code's class must be
// one the listener accepts), udp (send the request string; an ICMP port unreachable is a
// failure; with an expected string only a response holding it passes; without one,
// silence until the timeout passes). `unhealthy` failures in a row take a backend down,
// `healthy` successes in a row bring it back. A backend starts up (unknown = up), so a
// restart does not black-hole traffic while the first probes run.
#pragma once

#include "config/model.h"
#include "net/addr.h"

#include <atomic>
#include <chrono>
#include <compare>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fulcrum::health {

// What is probed. Listeners with equal keys share one probe.
struct target_key {
    net::ip_addr ip;
    uint16_t port = 0;
    config::health_kind kind = config::health_kind::tcp;
    std::string uri, domain;
    uint8_t http_codes = 0;
    std::string request, expect;
    auto operator<=>(const target_key &) const = default;
    std::string describe() const; // "10.0.0.5:8080 http /health"
};

struct target_settings {
    uint32_t interval_s = 2, timeout_s = 5;
    uint8_t healthy = 3, unhealthy = 3;
};

struct status {
    bool up = true;
    bool checked = false;              // at least one probe finished
    std::string last_result = "none";  // "success" | "failure"
    std::string reason;                // why it is failing: "connect refused", "timeout", "http 503"... (empty when up)
    std::time_t last_change = 0;       // wall-clock time of the last up/down change (0: never)
    uint32_t successes_in_a_row = 0, failures_in_a_row = 0;
    uint64_t probes = 0;
};

// The probe a listener's settings ask for against one backend (connect port: the
// check's own, else the backend's).
target_key key_for(const config::listener &l, const config::backend &b);
// Every probe the config asks for: backends of listeners with HealthCheck on (master/slave
// groups: the master only; the slave is never probed). Shared keys take the shortest
// interval and timeout of the listeners asking.
std::map<target_key, target_settings> targets_of(const config::instance &cfg);

class checker {
  public:
    // Probes bind to the source of their target's family (a laddr; none(): that family's
    // probes fail, "no source address") and a port of [port_min, port_max].
    checker(net::ip_addr source4, net::ip_addr source6, uint16_t port_min, uint16_t port_max);
    ~checker();
    checker(const checker &) = delete;
    checker &operator=(const checker &) = delete;

    void start();
    void stop();
    // Replace the probe set; targets kept keep their state.
    void set_targets(const std::map<target_key, target_settings> &targets);
    // Probes put off because Fulcrum itself was out of descriptors or probe ports (no
    // verdict is drawn from those).
    uint64_t skipped() const { return _skipped.load(); }
    // True unless the target is known and down.
    bool is_up(const target_key &k) const;
    std::optional<status> state(const target_key &k) const;
    // Where up/down changes are reported (default: stdout), one line each.
    void set_log(std::function<void(bool up, const std::string &line)> sink) { _log = std::move(sink); }
    // Increases on every up/down change (the control thread then rebuilds the snapshot).
    uint64_t version() const { return _version.load(std::memory_order_acquire); }
    // Readable after a change (an eventfd): the control loop waits on it with its
    // clients. Drained by whoever waits on it.
    int change_fd() const { return _change_fd; }

  private:
    struct entry {
        target_settings settings;
        status st;
        std::chrono::steady_clock::time_point next_due{};
        bool in_flight = false;
    };
    struct probe;

    void run();
    bool launch(const target_key &k, entry &e, probe &p);
    void finish(const target_key &k, bool ok, const std::string &reason);
    int open_socket(int type, const net::ip_addr &target);

    std::function<void(bool, const std::string &)> _log;
    net::ip_addr _source4, _source6;
    uint16_t _port_min, _port_max, _next_port;
    mutable std::mutex _mu;
    size_t _max_in_flight = 1024;       // probes (descriptors) at once, from RLIMIT_NOFILE
    std::atomic<uint64_t> _skipped{0};  // probes put off for a local shortage
    std::map<target_key, entry> _targets;
    std::atomic<uint64_t> _version{0};
    int _change_fd = -1;
    std::atomic<bool> _stop{false};
    std::thread _thread;
};

} // namespace fulcrum::health
