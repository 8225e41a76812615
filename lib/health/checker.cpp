#include "health/checker.h"

#include "config/membership.h"

#include "config/parse.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>

namespace fulcrum::health {

using clock = std::chrono::steady_clock;

std::string target_key::describe() const {
    static const char *kinds[] = {"tcp", "http", "udp"};
    std::string s = net::format_endpoint(ip, port) + " " + kinds[static_cast<int>(kind)];
    if (kind == config::health_kind::http) s += " " + uri;
    return s;
}

target_key key_for(const config::listener &l, const config::backend &b) {
    const config::health_check &h = l.health;
    target_key k;
    k.ip = b.ip;
    k.port = h.connect_port ? h.connect_port : (b.port ? b.port : l.backend_port);
    k.kind = h.kind;
    if (h.kind == config::health_kind::http) {
        k.uri = h.uri;
        k.domain = h.domain;
        k.http_codes = h.http_codes;
    }
    if (h.kind == config::health_kind::udp) {
        k.request = h.udp_request.empty() ? "fulcrum-health-check" : h.udp_request;
        k.expect = h.udp_expect;
    }
    return k;
}

std::map<target_key, target_settings> targets_of(const config::instance &cfg) {
    std::map<target_key, target_settings> out;
    for (const auto &l : cfg.listeners) {
        if (!l.health.enabled) continue;
        target_settings s{l.health.interval, l.health.timeout, l.health.healthy_threshold, l.health.unhealthy_threshold};
        for (const auto &m : config::members_of(cfg, l)) {
            if (m.role == config::member_role::slave) continue; // the slave is never probed
            auto [it, fresh] = out.emplace(key_for(l, *m.b), s);
            if (!fresh) {
                it->second.interval_s = std::min(it->second.interval_s, s.interval_s);
                it->second.timeout_s = std::min(it->second.timeout_s, s.timeout_s);
            }
        }
    }
    return out;
}

struct checker::probe {
    target_key key;
    int fd = -1;
    clock::time_point deadline;
    enum { connecting, awaiting_reply } phase = connecting;
    std::string buf;
};

checker::checker(net::ip_addr source4, net::ip_addr source6, uint16_t port_min, uint16_t port_max)
    : _source4(source4), _source6(source6), _port_min(port_min), _port_max(port_max), _next_port(port_min),
      _change_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

checker::~checker() {
    stop();
    if (_change_fd >= 0) ::close(_change_fd);
}

void checker::start() {
    if (!_thread.joinable()) _thread = std::thread([this] { run(); });
}

void checker::stop() {
    _stop = true;
    if (_thread.joinable()) _thread.join();
}

void checker::set_targets(const std::map<target_key, target_settings> &targets) {
    std::lock_guard<std::mutex> g(_mu);
    for (auto it = _targets.begin(); it != _targets.end();)
        it = targets.count(it->first) ? std::next(it) : _targets.erase(it);
    // New entries start up, their first probe spread over their interval (by a hash of
    // the target), so a thousand targets do not all open a socket in the same instant.
    auto now = clock::now();
    for (const auto &[k, s] : targets) {
        auto [it, fresh] = _targets.try_emplace(k);
        it->second.settings = s;
        if (!fresh) continue;
        uint64_t h = (uint64_t(std::hash<std::string_view>{}({reinterpret_cast<const char *>(k.ip.b.data()), 16})) * 2654435761u) ^ (uint64_t(k.port) << 16) ^ uint64_t(k.kind);
        it->second.next_due = now + std::chrono::milliseconds(h % (uint64_t(std::max(1u, s.interval_s)) * 1000));
    }
}

bool checker::is_up(const target_key &k) const {
    std::lock_guard<std::mutex> g(_mu);
    auto it = _targets.find(k);
    return it == _targets.end() || it->second.st.up;
}

std::optional<status> checker::state(const target_key &k) const {
    std::lock_guard<std::mutex> g(_mu);
    auto it = _targets.find(k);
    if (it == _targets.end()) return std::nullopt;
    return it->second.st;
}

namespace {
// `ip`:`port` as a socket address of its family; returns its length.
socklen_t socket_address(const net::ip_addr &ip, uint16_t port, sockaddr_storage &out) {
    out = {};
    if (ip.is_v4()) {
        auto &a = reinterpret_cast<sockaddr_in &>(out);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(ip.v4());
        a.sin_port = htons(port);
        return sizeof a;
    }
    auto &a = reinterpret_cast<sockaddr_in6 &>(out);
    a.sin6_family = AF_INET6;
    std::memcpy(a.sin6_addr.s6_addr, ip.b.data(), 16);
    a.sin6_port = htons(port);
    return sizeof a;
}
} // namespace

// A socket of `target`'s family bound to that family's probe source and the next free
// probe port.
int checker::open_socket(int type, const net::ip_addr &target) {
    const net::ip_addr &source = target.is_v4() ? _source4 : _source6;
    if (source.none()) {
        errno = EADDRNOTAVAIL; // no local address of the family to probe from
        return -1;
    }
    int fd = ::socket(target.is_v4() ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1; // errno says why (EMFILE: ours, not the backend's)
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    uint32_t span = uint32_t(_port_max) - _port_min + 1;
    int err = EADDRINUSE; // every probe port tried is taken: ours, not the backend's
    for (uint32_t tries = 0; tries < std::min<uint32_t>(span, 256); tries++) {
        sockaddr_storage a;
        socklen_t len = socket_address(source, _next_port, a);
        _next_port = _next_port == _port_max ? _port_min : static_cast<uint16_t>(_next_port + 1);
        if (::bind(fd, reinterpret_cast<sockaddr *>(&a), len) == 0) return fd;
        if ((err = errno) != EADDRINUSE) break;
    }
    ::close(fd);
    errno = err;
    return -1;
}

namespace {
std::string errno_reason(int err) {
    if (err == ECONNREFUSED) return "connect refused";
    if (err == EHOSTUNREACH || err == ENETUNREACH) return "host unreachable";
    if (err == ETIMEDOUT) return "timeout";
    return std::strerror(err);
}
// Close a TCP probe with a reset: no TIME_WAIT holding the probe port.
void close_hard(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}
} // namespace

bool checker::launch(const target_key &k, entry &e, probe &p) {
    p.key = k;
    p.deadline = clock::now() + std::chrono::seconds(e.settings.timeout_s);
    bool udp = k.kind == config::health_kind::udp;
    p.fd = open_socket(udp ? SOCK_DGRAM : SOCK_STREAM, k.ip);
    if (p.fd < 0) return false;
    sockaddr_storage to;
    socklen_t to_len = socket_address(k.ip, k.port, to);
    int rc = ::connect(p.fd, reinterpret_cast<sockaddr *>(&to), to_len);
    if (udp) {
        if (rc != 0 || ::send(p.fd, k.request.data(), k.request.size(), 0) < 0) return false;
        p.phase = probe::awaiting_reply;
        return true;
    }
    if (rc != 0 && errno != EINPROGRESS) return false;
    p.phase = probe::connecting;
    return true;
}

void checker::finish(const target_key &k, bool ok, const std::string &reason) {
    auto it = _targets.find(k);
    if (it == _targets.end()) return; // removed while in flight
    entry &e = it->second;
    status &st = e.st;
    e.in_flight = false;
    st.checked = true;
    st.probes++;
    st.last_result = ok ? "success" : "failure";
    if (ok) {
        st.successes_in_a_row++;
        st.failures_in_a_row = 0;
        if (st.up) st.reason.clear(); // the last failure no longer explains anything
    } else {
        st.failures_in_a_row++;
        st.successes_in_a_row = 0;
        st.reason = reason;
    }
    bool change = (!st.up && ok && st.successes_in_a_row >= e.settings.healthy) ||
                  (st.up && !ok && st.failures_in_a_row >= e.settings.unhealthy);
    if (!change) return;
    st.up = ok;
    st.last_change = std::time(nullptr);
    if (ok) st.reason.clear();
    std::string line = k.describe() + " is " + (ok ? "UP" : "DOWN") + " after " +
                       std::to_string(ok ? st.successes_in_a_row : st.failures_in_a_row) +
                       (ok ? " successes in a row" : " failures in a row: " + reason);
    if (_log) _log(ok, line);
    else std::printf("fulcrum: health: %s\n", line.c_str());
    std::fflush(stdout);
    _version.fetch_add(1, std::memory_order_release);
    uint64_t one = 1;
    if (_change_fd >= 0) (void)!::write(_change_fd, &one, sizeof one);
}

void checker::run() {
    // Half the descriptors the process may open, at most 1,024, go to probes at once.
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    _max_in_flight = static_cast<size_t>(std::clamp<rlim_t>(lim.rlim_cur / 2, 16, 1024));
    std::list<probe> probes;
    while (!_stop.load()) {
        auto now = clock::now();
        {
            std::lock_guard<std::mutex> g(_mu);
            for (auto &[k, e] : _targets) {
                if (e.in_flight || now < e.next_due) continue;
                // A descriptor budget: past it, due probes wait for a later turn.
                if (probes.size() >= _max_in_flight) break;
                e.next_due = now + std::chrono::seconds(e.settings.interval_s);
                probe p;
                if (!launch(k, e, p)) {
                    int err = errno;
                    if (p.fd >= 0) ::close(p.fd);
                    if (p.fd < 0 && (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
                                     err == EADDRINUSE)) {
                        // Out of descriptors or probe ports: a local shortage says nothing
                        // about the backend. Try again shortly; no verdict.
                        e.next_due = now + std::chrono::milliseconds(200);
                        _skipped++;
                        continue;
                    }
                    e.in_flight = true; // finish() clears it
                    finish(k, false, p.fd < 0 && err == EADDRNOTAVAIL ? "no local address of its family to probe from"
                                     : p.fd < 0                 ? "no free probe source port"
                                                                : errno_reason(err));
                    continue;
                }
                e.in_flight = true;
                probes.push_back(std::move(p));
            }
        }
        std::vector<pollfd> fds;
        for (auto &p : probes)
            fds.push_back({p.fd, static_cast<short>(p.phase == probe::connecting ? POLLOUT : POLLIN), 0});
        ::poll(fds.data(), fds.size(), 20);

        std::lock_guard<std::mutex> g(_mu);
        now = clock::now();
        size_t i = 0;
        for (auto it = probes.begin(); it != probes.end(); i++) {
            probe &p = *it;
            bool udp = p.key.kind == config::health_kind::udp;
            int verdict = -1; // -1 pending, 0 fail, 1 success
            std::string reason;
            if (fds[i].revents) {
                if (p.phase == probe::connecting) {
                    int err = 0;
                    socklen_t len = sizeof err;
                    ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                    if (err) verdict = 0, reason = errno_reason(err);
                    else if (p.key.kind == config::health_kind::tcp) verdict = 1;
                    else {
                        std::string host = !p.key.domain.empty() ? p.key.domain : p.key.ip.is_v4() ? config::format_ip(p.key.ip) : "[" + config::format_ip(p.key.ip) + "]";
                        std::string req = "GET " + p.key.uri + " HTTP/1.0\r\nHost: " + host +
                                          "\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\r\n";
                        if (::send(p.fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) verdict = 0, reason = errno_reason(errno);
                        else p.phase = probe::awaiting_reply;
                    }
                } else {
                    char buf[2048];
                    ssize_t n = ::recv(p.fd, buf, sizeof buf, 0);
                    if (n < 0 && errno != EAGAIN) {
                        verdict = 0;
                        reason = udp && errno == ECONNREFUSED ? "icmp port unreachable" : errno_reason(errno);
                    } else if (n > 0 && udp) {
                        bool match = p.key.expect.empty() || std::string(buf, size_t(n)).find(p.key.expect) != std::string::npos;
                        verdict = match ? 1 : 0;
                        if (!match) reason = "unexpected response";
                    } else if (n >= 0) {
                        // HTTP: read to the end (the server closes first, so the TIME_WAIT
                        // is its, not the probe port's), then judge the status line.
                        if (n > 0 && p.buf.size() < 4096) p.buf.append(buf, size_t(n));
                        if (n == 0) {
                            unsigned code = 0;
                            if (std::sscanf(p.buf.c_str(), "HTTP/%*u.%*u %u", &code) != 1 || code < 100 || code > 599) {
                                verdict = 0, reason = "bad http response";
                            } else {
                                bool pass = code >= 200 && (p.key.http_codes >> (code / 100 - 2) & 1);
                                verdict = pass ? 1 : 0;
                                if (!pass) reason = "http " + std::to_string(code);
                            }
                        }
                    }
                }
            }
            if (verdict < 0 && now >= p.deadline) {
                // UDP without an expected answer: no ICMP error within the timeout passes.
                verdict = udp && p.key.expect.empty() ? 1 : 0;
                if (!verdict) reason = "timeout";
            }
            if (verdict < 0) {
                ++it;
                continue;
            }
            if (udp || p.key.kind == config::health_kind::http) ::close(p.fd);
            else close_hard(p.fd);
            finish(p.key, verdict == 1, reason);
            it = probes.erase(it);
        }
    }
    for (auto &p : probes) ::close(p.fd);
}

} // namespace fulcrum::health
