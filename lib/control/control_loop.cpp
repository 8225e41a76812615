#include "control/control_loop.h"

#include "deploy/port_stats.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>

#include "dataplane/log.h"

#include <rte_ethdev.h>

#include <cinttypes>

#include <chrono>
#include <thread>

namespace fulcrum::control {

control_loop::control_loop(loop_parts parts) : _p(std::move(parts)) {
    if (!_p.clock)
        _p.clock = [] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        };
    _start = _last_stats = _last_publish = _window_start = _last_second = now();
    _warm = _p.warmup <= 0;
    _handle = [this](const std::string &text) { return _p.svc.handle_text(text); };
    _view = [this] {
        deploy::stats_view v = deploy::collect_stats(_p.dp);
        const announcer::status &st = _p.svc.bgp().state();
        v.node.speaker = !_p.dp.config().bgp.include_file.empty();
        v.node.speaker_ok = st.last_error.empty();
        v.node.announced = static_cast<uint32_t>(st.announced.size());
        v.node.reloads = st.reloads;
        v.node.reload_failures = st.failures;
        return v;
    };
    _ep = ::epoll_create1(EPOLL_CLOEXEC);
    for (int fd : {_p.ctl ? _p.ctl->epoll_fd() : -1, _p.metrics ? _p.metrics->epoll_fd() : -1, _p.svc.health_change_fd()}) {
        if (fd < 0) continue;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(_ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

control_loop::~control_loop() {
    ::close(_ep);
    if (_sfd >= 0) ::close(_sfd);
}

namespace {
sigset_t loop_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, sig);
    return set;
}
} // namespace

void control_loop::block_signals() {
    sigset_t set = loop_signals();
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool control_loop::watch_signals() {
    sigset_t set = loop_signals();
    _sfd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (_sfd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = _sfd;
    return ::epoll_ctl(_ep, EPOLL_CTL_ADD, _sfd, &ev) == 0;
}

void control_loop::take_signals() {
    signalfd_siginfo si[8];
    ssize_t n;
    while ((n = ::read(_sfd, si, sizeof si)) > 0)
        for (size_t i = 0; i < size_t(n) / sizeof si[0]; i++) {
            switch (si[i].ssi_signo) {
            case SIGUSR1: request_report(); break;
            case SIGHUP: request_reload(); break;
            default: request_quit(); break;
            }
        }
}

control_loop::rates control_loop::sample() const {
    rates r;
    for (size_t i = 0; i < _p.dp.worker_count(); i++) {
        const dataplane::worker_counters c = _p.dp.worker_at(i).counters();
        r.rx += c.rx_packets;
        r.tx += c.tx_packets;
        r.conns += c.connections_created;
    }
    return r;
}

void control_loop::report() {
    std::fputs("== ports ==\n", _p.out);
    for (size_t i = 0; i < _p.dp.port_ids().size(); i++) {
        deploy::port_counters pc = deploy::read_port_counters(_p.dp.port_ids()[i]);
        const rte_eth_stats &st = pc.eth;
        std::fprintf(_p.out,
                     "port %-10s rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64 " pkts %" PRIu64
                     " bytes, missed %" PRIu64 " (kernel ring %" PRIu64 "), rx errors %" PRIu64 ", tx errors %" PRIu64
                     ", replies steered by %s\n",
                     _p.dp.config().ports[i].name.c_str(), st.ipackets, st.ibytes, st.opackets, st.obytes, pc.missed(),
                     pc.kernel_drops, st.ierrors, st.oerrors,
                     dataplane::steering_name(_p.dp.current_snapshot().ports[i].steer));
    }
    std::fputs(observe::render_text(deploy::collect_stats(_p.dp), observe::all & ~observe::summary).c_str(), _p.out);
    std::fflush(_p.out);
}

bool control_loop::turn(int wait_ms) {
    // One wait for everything with descriptors (control clients, scrapers, signals, the
    // health checker's changes), each acted on as soon as it is ready; the timers below
    // are looked at every turn (at most wait_ms apart). Nothing here blocks on a client.
    epoll_event ready[4];
    if (::epoll_wait(_ep, ready, 4, wait_ms) < 0 && errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (_sfd >= 0) take_signals();
    if (int hfd = _p.svc.health_change_fd(); hfd >= 0) {
        uint64_t changes;
        (void)!::read(hfd, &changes, sizeof changes); // poll() below looks at the version
    }
    double t = now();
    double mono = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (_p.ctl) _p.ctl->turn(mono, _handle);
    if (_p.metrics) _p.metrics->turn(mono, _view);
    if (!_warm && t - _start >= _p.warmup) {
        _warm = true;
        _window = sample();
        _window_start = t;
    }
    if (_report.exchange(false) || (_p.stats_interval > 0 && t - _last_stats >= _p.stats_interval)) {
        _last_stats = t;
        report();
    }
    if (_reload.exchange(false) && _p.reload) {
        // Re-read the config; a rejected file changes nothing.
        auto next = _p.reload();
        auto gen = next ? _p.svc.apply(next.value()) : result<uint64_t>(next.err());
        if (gen) {
            _reloads++;
            FULCRUM_LOG(INFO, control, "reloaded the config: snapshot generation %llu\n",
                        static_cast<unsigned long long>(gen.value()));
        } else {
            FULCRUM_LOG(WARNING, control, "reload rejected, keeping the running config: %s\n",
                        gen.err().message().c_str());
        }
        std::fflush(stdout);
    }
    if (_p.poll_prompt && !_p.poll_prompt()) return false;
    if (_p.quit_typed && _p.quit_typed()) return false;
    if (_p.every_second && t - _last_second >= 1.0) {
        _last_second = t;
        _p.every_second();
    }
    if (t - _last_publish >= 0.2) {
        observe::publish(deploy::collect_stats(_p.dp));
        _last_publish = t;
    }
    _p.svc.poll(); // health verdicts become snapshots
    _p.dp.reclaim();
    if (_p.duration > 0 && t - _start >= _p.duration) return false;
    return !_quit;
}

void control_loop::run() {
    while (turn()) {
    }
}

void control_loop::final_report() {
    double secs = now() - _window_start;
    rates fin = sample();
    report();
    std::fprintf(_p.out, "fulcrum: rate over %.2f s: rx %.3f Mpps, tx %.3f Mpps, %.0f new conns/s\n", secs,
                 double(fin.rx - _window.rx) / secs / 1e6, double(fin.tx - _window.tx) / secs / 1e6,
                 double(fin.conns - _window.conns) / secs);
    std::fflush(_p.out);
}

} // namespace fulcrum::control
