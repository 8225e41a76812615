// The control thread's loop: the one place where requests (control socket), Prometheus
// scrapes, the prompt, health verdicts, signals, stats publishing, snapshot posting
// (through the service) and reclamation meet. main() wires the parts and calls run();
// tests call turn() with a clock of their own.
#pragma once

#include "config/model.h"
#include "control/ctl_socket.h"
#include "control/service.h"
#include "core/result.h"
#include "deploy/deployment.h"
#include "observe/observe.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>

namespace fulcrum::control {

struct loop_parts {
    deploy::deployment &dp;
    service &svc;
    ctl_socket *ctl = nullptr;                 // may be null
    observe::metrics_server *metrics = nullptr; // may be null
    // The prompt: poll it (false once it closed: stop); and whether `quit` was typed.
    std::function<bool()> poll_prompt;
    std::function<bool()> quit_typed;
    // SIGHUP: the config to apply (the --config file read again).
    std::function<result<config::instance>()> reload;
    // Seconds on a monotonic clock (steady_clock when not given).
    std::function<double()> clock;
    // Once a second (e.g. keeping the lport rotations: deploy::lport_state).
    std::function<void()> every_second;
    double duration = 0, warmup = 0, stats_interval = 0; // seconds; 0: off
    std::FILE *out = stdout;                               // reports go here
};

class control_loop {
  public:
    explicit control_loop(loop_parts parts);
    ~control_loop();
    control_loop(const control_loop &) = delete;
    control_loop &operator=(const control_loop &) = delete;

    // The signals the loop takes through a signalfd in its epoll wait: SIGINT and
    // SIGTERM quit, SIGUSR1 reports, SIGHUP reloads. They must be blocked in every
    // thread, so block_signals() runs before any thread is made (before rte_eal_init).
    static void block_signals();
    // Start reading them (from the thread that runs the loop); false if signalfd failed.
    bool watch_signals();

    // The same from code (tests, the prompt).
    void request_quit() { _quit = true; }
    void request_report() { _report = true; }
    void request_reload() { _reload = true; }

    // One turn, waiting up to wait_ms for a client of the control socket or the metrics
    // server (or a signal); false when Fulcrum should stop (quit, duration over, prompt
    // closed).
    bool turn(int wait_ms = 20);
    // turn() until it says stop, then the exit report with the rate since warmup.
    void run();
    void final_report();

    uint64_t reloads() const { return _reloads; }

  private:
    double now() const { return _p.clock(); }
    void report();
    struct rates {
        uint64_t rx = 0, tx = 0, conns = 0;
    };
    rates sample() const;

    loop_parts _p;
    std::atomic<bool> _quit{false}, _report{false}, _reload{false};
    double _start, _last_stats, _last_publish, _window_start, _last_second;
    rates _window{};
    bool _warm;
    uint64_t _reloads = 0;
    void take_signals();
    int _ep = -1;  // waits on the control socket's and the metrics server's clients, signals and health changes
    int _sfd = -1; // signalfd
    ctl_socket::handler _handle;
    observe::metrics_server::view_fn _view;
};

} // namespace fulcrum::control
