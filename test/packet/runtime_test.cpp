// The runtime seam: a data plane made from a snapshot built by hand (no JSON, no config
// model), the snapshot builder fed a model made in code, the control loop driven with a
// fake clock, and worker memory first touched by the worker.
#include "config/parse.h"
#include "control/control_loop.h"
#include "control/ctl_socket.h"
#include "dataplane/ports.h"
#include "deploy/snapshot_builder.h"
#include "harness.h"
#include "health/checker.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

namespace config = fulcrum::config;
namespace control = fulcrum::control;
namespace dataplane = fulcrum::dataplane;
namespace deploy = fulcrum::deploy;
namespace health = fulcrum::health;
namespace conn = fulcrum::conn;
using fulcrum::result;
using namespace fulcrum::test;

namespace {
uint32_t ipa(const char *a) { return fulcrum::test::ip(a); }
uint32_t be(const char *a) { return htonl(ipa(a)); }
fulcrum::net::ip_addr addr(const char *a) { return fulcrum::net::ip_addr::from_v4(ipa(a)); }
} // namespace

TEST_CASE("a runtime snapshot built by hand (no JSON, no config model) forwards a SYN to its one backend", "[runtime]") {
    ring_port port;
    dataplane::port_params pp{"ports[0]", port.name, be("10.0.0.1"), htonl(0xffffff00), 0, 1500};
    auto started = dataplane::start_port(pp, test_pool(), 1);
    REQUIRE(started);
    auto s = std::make_unique<dataplane::snapshot>();
    s->ports = {started.value()};
    s->laddrs = {be("10.0.0.100")};
    s->add_local({be("10.0.0.10"), dataplane::local_kind::vip, true, 0});
    s->add_local({be("10.0.0.100"), dataplane::local_kind::laddr, false, 0});
    s->backends.push_back({be("10.0.0.21"), htons(8080), 1, 0});
    s->sched_seq = {0};
    s->eligible_slots = {0};
    dataplane::listener_rt l{};
    l.vip = be("10.0.0.10"), l.port = htons(80), l.proto = IPPROTO_TCP, l.index = 0, l.idle_timeout_s = 900;
    l.backend_offset = 0, l.n_backends = 1, l.seq_offset = 0, l.seq_len = 1, l.eligible_offset = 0, l.eligible_len = 1;
    l.pick = dataplane::listener_rt::by_sequence;
    s->listeners.push_back(l);
    for (const auto &[a, m] : {std::pair{"10.0.0.50", client_mac}, std::pair{"10.0.0.21", backend_mac(0)}}) {
        dataplane::neighbour_rt n{dataplane::neigh_table::key4(be(a)), {}};
        std::copy(m.begin(), m.end(), n.mac.addr_bytes);
        s->static_neighbours.push_back(n);
    }
    s->tcp_timeout_s = {0, 30, 30, 0, 30, 10, 3};
    s->index();
    dataplane::instance_params ip_;
    ip_.pool = test_pool();
    ip_.conn_capacity = 1024;
    auto dp = dataplane::instance::create(ip_, std::move(s));
    REQUIRE(dp);
    auto &w = dp.value()->worker_at(0);
    frame_spec syn;
    syn.dst_mac = port.mac(), syn.src_mac = client_mac, syn.src = ipa("10.0.0.50"), syn.dst = ipa("10.0.0.10");
    syn.sport = 4000, syn.dport = 80, syn.tcp_flags = SYN, syn.seq = 1;
    port.inject(build_frame(syn));
    w.poll_once(rte_get_tsc_cycles());
    w.flush_tx();
    auto out = port.collect();
    REQUIRE(out.size() == 1);
    frame_spec exp = syn;
    exp.dst_mac = backend_mac(0), exp.src_mac = port.mac(), exp.src = ipa("10.0.0.100"), exp.dst = ipa("10.0.0.21");
    exp.sport = 1024, exp.dport = 8080, exp.ttl = 63;
    CHECK(hex(out[0]) == hex(build_frame(exp)));
    dp.value().reset();
    rte_eth_dev_stop(port.port_id);
}

TEST_CASE("the snapshot builder compiles a model made in code: groups, weights, health, slots kept across builds", "[runtime]") {
    config::instance cfg;
    cfg.vips = {addr("10.0.0.10")};
    cfg.local_addresses = {addr("10.0.0.100")};
    config::listener l;
    l.vip = addr("10.0.0.10"), l.port = 80, l.backend_port = 8080;
    l.health.enabled = true;
    cfg.listeners = {l};
    for (int i = 0; i < 3; i++) {
        config::backend b;
        b.server_id = "i-" + std::to_string(i), b.ip = fulcrum::net::ip_addr::from_v4(ipa("10.0.0.21") + i), b.weight = uint8_t(10 * (i + 1));
        cfg.default_server_group.push_back(b);
    }
    deploy::slot_registry slots;
    // The middle backend is down: it stays in the list with weight 0.
    deploy::health_fn health = [](const config::listener &, const config::backend &b) { return b.server_id != "i-1"; };
    auto s = deploy::build_snapshot(cfg, {}, slots, health);
    REQUIRE(s);
    const auto &snap = *s.value();
    REQUIRE(snap.listeners.size() == 1);
    CHECK(snap.listeners[0].n_backends == 3);
    CHECK(snap.listeners[0].eligible_len == 2);
    CHECK(snap.backends[1].weight == 0);
    CHECK(snap.backends[2].weight == 30);
    CHECK(snap.sched_seq.size() == 4); // smooth wrr over 10/0/30 divided by their gcd: 1 + 3
    CHECK(snap.find_listener(be("10.0.0.10"), IPPROTO_TCP, htons(80)) == &snap.listeners[0]);
    CHECK(snap.find_local(be("10.0.0.100"))->kind == dataplane::local_kind::laddr);
    // Remove the first backend and rebuild: the others keep their counter slots.
    uint16_t third = slots.backend(config::protocol::tcp, addr("10.0.0.23"), 8080).value();
    cfg.default_server_group.erase(cfg.default_server_group.begin());
    auto again = deploy::build_snapshot(cfg, {}, slots, health);
    REQUIRE(again);
    CHECK(again.value()->backends[1].slot == third);
    CHECK(slots.backend(config::protocol::tcp, addr("10.0.0.21"), 8080).has_value()); // kept until its slot is needed
}

namespace {
// A request over the control socket, answered by one loop turn.
int request(const std::string &path, const std::string &body) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    std::string line = body + "\n";
    REQUIRE(::write(fd, line.data(), line.size()) == ssize_t(line.size()));
    ::shutdown(fd, SHUT_WR);
    return fd; // read after the loop turned
}
std::string reply(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    ::close(fd);
    return out;
}
} // namespace

TEST_CASE("the control loop, on a fake clock: a request, a health change and a SIGHUP reload each post one snapshot and reclaim one; SIGUSR1 reports, SIGTERM stops", "[runtime][loop]") {
    // A real health checker whose probes leave from 127.0.0.1: the backends (10.0.0.x)
    // cannot be reached from there, so its probes fail for real and, after the
    // threshold, its verdict changes.
    uint16_t hport = 9;
    auto cfg = base_config("", {1, 1});
    cfg["listeners"][0].update({{"HealthCheck", "on"}, {"HealthCheckConnectPort", hport}, {"HealthCheckInterval", 1},
                                {"UnhealthyThreshold", 2}, {"HealthyThreshold", 2}, {"HealthCheckConnectTimeout", 1}});
    lb t(cfg);
    health::checker checker(fulcrum::net::ip_addr::from_v4(INADDR_LOOPBACK), {}, 41000, 41100);
    std::string sock = "/tmp/fulcrum-loop-test-" + std::to_string(::getpid()) + ".sock";
    auto ctl = control::ctl_socket::open(sock);
    REQUIRE(ctl);
    control::service svc(*t.inst, "", &checker);
    checker.start();
    double fake_now = 1000;
    control::loop_parts parts{*t.inst, svc, ctl.value().get(), nullptr};
    parts.clock = [&] { return fake_now; };
    auto reload_cfg = cfg;
    reload_cfg["default_server_group"][1]["Weight"] = 5;
    parts.reload = [&]() -> result<config::instance> {
        reload_cfg["ports"][0]["device"] = t.port->name;
        return config::parse_instance(reload_cfg);
    };
    std::FILE *report_out = std::tmpfile();
    parts.out = report_out;
    // Signals come through the loop's signalfd, as in the daemon (blocked here; sent to
    // this thread only, so no other thread of the test process sees them).
    sigset_t mask_before;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);
    control::control_loop::block_signals();
    control::control_loop loop(std::move(parts));
    REQUIRE(loop.watch_signals());
    auto gen = [&] { return t.inst->current_snapshot().generation; };
    // One loop turn, then the workers pass a quiescent point twice (adopt, then report),
    // and a second turn reclaims what they no longer hold.
    auto settle = [&] {
        t.poll_all();
        fake_now += 0.05;
        REQUIRE(loop.turn(0));
        t.poll_all();
        fake_now += 0.05;
        REQUIRE(loop.turn(0));
    };
    REQUIRE(gen() == 1);

    // 1. A request over the socket.
    auto fd = request(sock, R"({"Action":"SetBackendServers","BackendServers":[{"ServerId":"i-0","ServerIp":"10.0.0.21","Weight":3}]})");
    fake_now += 0.05;
    REQUIRE(loop.turn(50));
    CHECK(reply(fd).find("\"Code\":\"Success\"") != std::string::npos);
    CHECK(gen() == 2);
    CHECK(t.inst->reclaim() == 1); // the workers have not adopted it yet
    settle();
    CHECK(t.inst->reclaim() == 0);

    // 2. A health change: the checker's verdict (both backends down) becomes a snapshot.
    // (The two backends' probes are spread over the interval: they go down apart.)
    for (int i = 0; i < 100 && checker.version() < 2; i++) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    INFO(checker.skipped() << " probes put off");
    REQUIRE(checker.version() == 2);
    fake_now += 0.05;
    auto waited = std::chrono::steady_clock::now();
    REQUIRE(loop.turn(10000)); // the checker's change wakes the wait
    CHECK(std::chrono::steady_clock::now() - waited < std::chrono::seconds(5));
    CHECK(gen() == 3);
    CHECK(t.inst->current_snapshot().listeners[0].eligible_len == 0); // both backends down
    settle();
    CHECK(t.inst->reclaim() == 0);

    // 3. A reload: SIGHUP wakes the loop's wait at once.
    ::pthread_kill(::pthread_self(), SIGHUP);
    fake_now += 0.05;
    auto woke = std::chrono::steady_clock::now();
    REQUIRE(loop.turn(10000));
    CHECK(std::chrono::steady_clock::now() - woke < std::chrono::seconds(5));
    CHECK(gen() == 4);
    CHECK(loop.reloads() == 1);
    CHECK(t.inst->config().default_server_group[1].weight == 5);
    settle();
    CHECK(t.inst->reclaim() == 0);
    CHECK(gen() == 4); // nothing else was posted meanwhile

    // SIGUSR1: the counters report; SIGTERM: stop.
    ::pthread_kill(::pthread_self(), SIGUSR1);
    REQUIRE(loop.turn(10000));
    std::rewind(report_out);
    char line[256] = {};
    CHECK(std::fgets(line, sizeof line, report_out) != nullptr);
    CHECK(std::string(line) == "== ports ==\n");
    ::pthread_kill(::pthread_self(), SIGTERM);
    CHECK_FALSE(loop.turn(10000));
    ::pthread_sigmask(SIG_SETMASK, &mask_before, nullptr);
    std::fclose(report_out);
    checker.stop();
    ::unlink(sock.c_str());
}

TEST_CASE("a worker's connection table is first touched by the worker's own thread", "[runtime][numa]") {
    auto cfg = base_config("");
    cfg["conn_capacity"] = 1 << 20; // 64 MiB of entries: far past anything touched by chance
    ring_port port;
    cfg["ports"][0]["device"] = port.name;
    auto parsed = config::parse_instance(cfg);
    REQUIRE(parsed);
    auto d = deploy::deployment::create(parsed.value(), test_pool(), 1);
    REQUIRE(d);
    auto &w = d.value()->worker_at(0);
    const auto &table = w.conns();
    void *first = &table.at(0);
    size_t bytes = size_t(table.capacity()) * sizeof(conn::connection);
    auto resident = [&] {
        long page = ::sysconf(_SC_PAGESIZE);
        uintptr_t start = reinterpret_cast<uintptr_t>(first) & ~uintptr_t(page - 1);
        size_t n = (reinterpret_cast<uintptr_t>(first) + bytes - start + page - 1) / page;
        std::vector<unsigned char> v(n);
        REQUIRE(::mincore(reinterpret_cast<void *>(start), n * page, v.data()) == 0);
        size_t r = 0;
        for (unsigned char c : v) r += c & 1;
        return double(r) / double(n);
    };
    CHECK(resident() < 0.05); // allocated, not touched by the thread that built the worker
    std::thread([&] { w.poll_once(rte_get_tsc_cycles()); }).join(); // the worker's first loop
    CHECK(resident() > 0.95);
    CHECK(table.prepared());
    d.value().reset();
}
