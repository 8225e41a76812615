// The health checker against real sockets on loopback: listening and closed TCP ports,
// small HTTP servers answering 200 and 503, UDP servers and a closed UDP port.
#include "health/checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

using namespace fulcrum;
using namespace std::chrono_literals;

namespace {
const uint32_t loopback = 0x7f000001;
const fulcrum::net::ip_addr lo = fulcrum::net::ip_addr::from_v4(loopback);

// A socket bound to 127.0.0.1 on a free port.
int bound(int type, uint16_t &port) {
    int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(loopback);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}
uint16_t closed_port(int type) {
    uint16_t p;
    ::close(bound(type, p));
    return p;
}

// Serves until destroyed: TCP answers each request with `reply` (HTTP), UDP with `reply`.
struct server {
    int fd;
    uint16_t port = 0;
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::string last_request;
    std::thread th;
    server(int type, std::string reply) {
        fd = bound(type, port);
        if (type == SOCK_STREAM) ::listen(fd, 16);
        th = std::thread([this, type, reply] {
            while (!stop) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                char buf[2048];
                if (type == SOCK_DGRAM) {
                    sockaddr_in peer{};
                    socklen_t len = sizeof peer;
                    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&peer), &len);
                    if (n > 0) ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr *>(&peer), len);
                    continue;
                }
                int c = ::accept(fd, nullptr, nullptr);
                if (c < 0) continue;
                if (reply.empty()) { // a plain TCP service: accept and close
                    ::close(c);
                    continue;
                }
                pollfd q{c, POLLIN, 0};
                ssize_t n = ::poll(&q, 1, 1000) > 0 ? ::recv(c, buf, sizeof buf, 0) : 0;
                if (n > 0) {
                    std::lock_guard<std::mutex> g(mu);
                    last_request.assign(buf, size_t(n));
                }
                ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
                ::close(c);
            }
        });
    }
    ~server() {
        stop = true;
        th.join();
        ::close(fd);
    }
};

health::target_key key(uint16_t port, config::health_kind kind) {
    health::target_key k;
    k.ip = lo;
    k.port = port;
    k.kind = kind;
    if (kind == config::health_kind::http) k.uri = "/health", k.domain = "web.example", k.http_codes = 1; // 2xx
    if (kind == config::health_kind::udp) k.request = "ping";
    return k;
}
} // namespace

TEST_CASE("tcp, http and udp probes decide up and down from real servers", "[health]") {
    server tcp_open(SOCK_STREAM, "");
    server http_ok(SOCK_STREAM, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    server http_503(SOCK_STREAM, "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    server udp_pong(SOCK_DGRAM, "pong");
    server udp_wrong(SOCK_DGRAM, "nope");
    using K = config::health_kind;
    auto k_tcp_open = key(tcp_open.port, K::tcp), k_tcp_closed = key(closed_port(SOCK_STREAM), K::tcp);
    auto k_http_ok = key(http_ok.port, K::http), k_http_503 = key(http_503.port, K::http);
    auto k_udp_pong = key(udp_pong.port, K::udp), k_udp_wrong = key(udp_wrong.port, K::udp);
    auto k_udp_closed = key(closed_port(SOCK_DGRAM), K::udp);
    k_udp_pong.expect = k_udp_wrong.expect = "pong";

    health::checker hc(lo, {}, 61000, 61999);
    health::target_settings s{1, 1, 2, 2};
    std::map<health::target_key, health::target_settings> targets;
    for (const auto *k : {&k_tcp_open, &k_tcp_closed, &k_http_ok, &k_http_503, &k_udp_pong, &k_udp_wrong, &k_udp_closed})
        targets[*k] = s;
    hc.set_targets(targets);
    CHECK(hc.is_up(k_tcp_closed)); // unknown = up, until the probes say otherwise
    hc.start();
    std::this_thread::sleep_for(2500ms); // probes at o, o+1, o+2 (o < 1 s: spread): two failures take a backend down
    hc.stop();

    auto expect = [&](const health::target_key &k, bool up, const std::string &reason) {
        auto st = hc.state(k);
        REQUIRE(st);
        INFO(k.describe() << " last " << st->last_result << " reason '" << st->reason << "'");
        CHECK(st->up == up);
        CHECK(hc.is_up(k) == up);
        CHECK(st->probes >= 2);
        CHECK(st->reason == reason);
        if (!up) CHECK(st->last_change != 0);
    };
    expect(k_tcp_open, true, "");
    expect(k_tcp_closed, false, "connect refused");
    expect(k_http_ok, true, "");
    expect(k_http_503, false, "http 503");
    expect(k_udp_pong, true, "");
    expect(k_udp_wrong, false, "unexpected response");
    expect(k_udp_closed, false, "icmp port unreachable");
    CHECK(hc.version() == 3 + 0 + 0 + 1); // four went down, none came back
    std::lock_guard<std::mutex> g(http_ok.mu);
    CHECK_THAT(http_ok.last_request, Catch::StartsWith("GET /health HTTP/1.0\r\n"));
    CHECK_THAT(http_ok.last_request, Catch::Contains("Host: web.example\r\n"));
    CHECK_THAT(http_ok.last_request, Catch::Contains("User-Agent: KeepAliveClient\r\n"));
}

TEST_CASE("a down backend comes back after `healthy` successes in a row", "[health]") {
    uint16_t port = closed_port(SOCK_STREAM);
    auto k = key(port, config::health_kind::tcp);
    health::checker hc(lo, {}, 62000, 62999);
    hc.set_targets({{k, {1, 1, 2, 2}}});
    hc.start();
    std::this_thread::sleep_for(2500ms); // first probe within the first second (spread), the second 1 s on
    REQUIRE_FALSE(hc.is_up(k));
    // Now something listens on that port.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(loopback);
    a.sin_port = htons(port);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    ::listen(fd, 16);
    std::this_thread::sleep_for(3000ms);
    hc.stop();
    ::close(fd);
    CHECK(hc.is_up(k));
    CHECK(hc.version() == 2);
}

TEST_CASE("probes follow the config: enabled listeners only, slaves never, shared keys once", "[health]") {
    config::instance cfg;
    config::listener l;
    l.vip = fulcrum::net::ip_addr::from_v4(1), l.port = 80, l.backend_port = 8080, l.health.enabled = true, l.health.interval = 5, l.health.timeout = 5;
    cfg.listeners.push_back(l);
    l.port = 81, l.health.interval = 2, l.health.timeout = 2; // same backends, same check: shared
    cfg.listeners.push_back(l);
    l.port = 82, l.health.enabled = false;
    cfg.listeners.push_back(l);
    config::backend b;
    b.ip = fulcrum::net::ip_addr::from_v4(0x0a000005);
    cfg.default_server_group = {b};
    config::master_slave_group ms;
    ms.id = "rsp-1", ms.master = b, ms.slave = b;
    ms.master.port = 9000, ms.slave.ip = fulcrum::net::ip_addr::from_v4(0x0a000006), ms.slave.port = 9000;
    cfg.master_slave_groups = {ms};
    l.port = 83, l.health.enabled = true, l.master_slave_group_id = "rsp-1";
    cfg.listeners.push_back(l);
    auto t = health::targets_of(cfg);
    REQUIRE(t.size() == 2);
    auto shared = t.at(health::key_for(cfg.listeners[0], b));
    CHECK(shared.interval_s == 2);
    CHECK(t.count(health::key_for(cfg.listeners[3], ms.master)) == 1);
    CHECK(t.count(health::key_for(cfg.listeners[3], ms.slave)) == 0);
}

TEST_CASE("500 healthy targets with 256 descriptors: none is marked down for Fulcrum's own shortage",
          "[health][fds]") {
    // One listener on every loopback address (127.0.0.0/8 is all local): 500 targets on
    // 500 addresses, all healthy. The process may hold 256 descriptors; before the budget
    // and the spread, 500 probes opened at once and the ones past the limit counted as
    // failures of healthy backends.
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(ls >= 0);
    int one = 1;
    ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    REQUIRE(::bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    REQUIRE(::listen(ls, 1024) == 0);
    socklen_t alen = sizeof a;
    ::getsockname(ls, reinterpret_cast<sockaddr *>(&a), &alen);
    uint16_t port = ntohs(a.sin_port);
    std::atomic<bool> done{false};
    std::thread acceptor([&] {
        while (!done) {
            pollfd p{ls, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                int c = ::accept(ls, nullptr, nullptr);
                if (c >= 0) ::close(c);
            }
        }
    });

    rlimit saved{};
    ::getrlimit(RLIMIT_NOFILE, &saved);
    rlimit tight = saved;
    tight.rlim_cur = 256;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    {
        health::checker hc(lo, {}, 40000, 59999);
        std::map<health::target_key, health::target_settings> targets;
        for (uint32_t i = 0; i < 500; i++) {
            health::target_key k;
            k.ip = fulcrum::net::ip_addr::from_v4(0x7f010001 + i); // 127.1.0.1 ...
            k.port = port;
            k.kind = config::health_kind::tcp;
            targets[k] = {1, 1, 2, 2};
        }
        hc.set_targets(targets);
        hc.start();
        std::this_thread::sleep_for(3500ms);
        hc.stop();
        unsigned up = 0, probed = 0;
        for (const auto &[k, s] : targets) {
            auto st = hc.state(k);
            REQUIRE(st);
            up += st->up;
            probed += st->probes >= 2;
        }
        INFO(hc.skipped() << " probes put off for a local shortage");
        CHECK(up == 500);
        CHECK(probed == 500); // every one really checked, twice or more
        CHECK(hc.version() == 0); // no change of state at all
    }
    ::setrlimit(RLIMIT_NOFILE, &saved);
    done = true;
    acceptor.join();
    ::close(ls);
}
