// 1,000 JSON updates over the real control socket while traffic flows through a worker.
//
// Threads as in the daemon: this test's thread is the worker lcore (it polls the worker
// with the real TSC and injects/collects frames); a control thread serves the socket
// with control::service and reclaims snapshots; a client thread sends the updates with
// control::ctl_request, as fulcrumctl does. Checked on every burst: nothing dropped,
// every new connection went to a backend of its listener's group in the snapshot the
// worker was using, no established connection changed backend. At the end every
// replaced snapshot has been freed. Prints update-to-visible latency (median, p99).
#include "config/parse.h"
#include "control/ctl_socket.h"
#include "control/service.h"
#include "harness.h"

#include <rte_cycles.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>
#include <unistd.h>

using namespace fulcrum;
using namespace fulcrum::test;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {
const uint32_t vip = test::net::vip;

json soak_config() {
    auto cfg = without_syn_proxy(base_config("", {1, 2, 3, 1, 1, 1})); // static neighbours for 10.0.0.21-26
    for (int i = 0; i < 3; i++) cfg["default_server_group"].erase(3); // default group: .21 .22 .23
    cfg["local_addresses"] = {"10.0.0.100", "10.0.0.101", "10.0.0.102", "10.0.0.103"};
    cfg["conn_capacity"] = 131072;
    cfg["ports"][0]["gateway"] = "10.0.0.50"; // clients 10.0.1.0/24, 10.0.2.0/24 sit behind it
    cfg["listeners"][0].update({{"ConnectionDrain", "on"}, {"ConnectionDrainTimeout", 900}});
    auto be = [](const char *id, const char *addr, int port) {
        return json{{"ServerId", id}, {"ServerIp", addr}, {"Port", port}};
    };
    cfg["vserver_groups"] = {{{"VServerGroupId", "rsp-1"}, {"BackendServers", {be("i-5", "10.0.0.25", 8080)}}},
                             {{"VServerGroupId", "rsp-2"},
                              {"BackendServers", {be("i-6", "10.0.0.26", 9090), be("i-1", "10.0.0.21", 9090)}}}};
    return cfg;
}

json update(int i) {
    auto one = [](json b) { return json::array({b}); };
    switch (i % 8) {
    case 0: return {{"Action", "AddBackendServers"},
                    {"BackendServers", one({{"ServerId", "i-4"}, {"ServerIp", "10.0.0.24"}, {"Weight", i % 100 + 1}})}};
    case 1: return {{"Action", "SetBackendServers"},
                    {"BackendServers", one({{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Weight", i * 7 % 101}})}};
    case 2: return {{"Action", "RemoveBackendServers"}, {"BackendServers", one({{"ServerId", "i-4"}, {"ServerIp", "10.0.0.24"}})}};
    case 3: return {{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
                    {"VServerGroupId", "rsp-1"}};
    case 4: return {{"Action", "AddVServerGroupBackendServers"}, {"VServerGroupId", "rsp-1"},
                    {"BackendServers", one({{"ServerId", "i-6"}, {"ServerIp", "10.0.0.26"}, {"Port", 8080}})}};
    case 5: return {{"Action", "RemoveVServerGroupBackendServers"}, {"VServerGroupId", "rsp-1"},
                    {"BackendServers", one({{"ServerId", "i-6"}, {"ServerIp", "10.0.0.26"}, {"Port", 8080}})}};
    case 6: return {{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
                    {"VServerGroupId", "rsp-2"}};
    default: return {{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
                     {"VServerGroupId", ""}};
    }
}

// (ip << 16 | port) of every backend a new connection of the tcp listener may go to.
std::set<uint64_t> eligible(const dataplane::snapshot &s) {
    std::set<uint64_t> out;
    const auto *l = s.find_listener(rte_cpu_to_be_32(vip), 6, rte_cpu_to_be_16(80));
    for (uint32_t i = 0; l && i < l->n_backends; i++) {
        const auto &b = s.backends[l->backend_offset + i];
        if (b.weight > 0) out.insert(uint64_t(rte_be_to_cpu_32(b.ip)) << 16 | rte_be_to_cpu_16(b.port));
    }
    return out;
}

struct tracked {
    uint32_t client;
    uint16_t cport;
    uint64_t backend; // ip << 16 | port
    uint16_t lport;
    uint32_t laddr;
};
} // namespace

TEST_CASE("1,000 socket updates under traffic: nothing dropped or misrouted, no flow moved, no snapshot leaked",
          "[soak][update]") {
    constexpr int updates = 1000;
    lb t(soak_config());
    control::service svc(*t.inst, "");
    std::string sock_path = "/tmp/fulcrum-soak-" + std::to_string(::getpid()) + ".sock";
    auto sock = control::ctl_socket::open(sock_path);
    REQUIRE(sock);

    auto frame = [&](uint32_t src, uint16_t sport, uint8_t flags) {
        frame_spec s;
        s.dst_mac = t.port->mac(), s.src_mac = client_mac;
        s.src = src, s.dst = vip, s.sport = sport, s.dport = 80, s.tcp_flags = flags, s.seq = 1, s.ack = 1;
        if (flags != SYN) s.payload = "data";
        return build_frame(s);
    };
    auto round = [&](const std::vector<bytes> &in) {
        for (const auto &f : in) t.port->inject(f);
        t.w().poll_once(rte_rdtsc());
        t.w().flush_tx();
        return t.port->collect();
    };

    // 64 long-lived connections, opened before any update.
    std::vector<tracked> flows;
    for (uint16_t i = 0; i < 64; i++) {
        auto out = round({frame(ip("10.0.1.1"), uint16_t(10000 + i), SYN)});
        for (unsigned d = 0; d < dataplane::drop_count; d++)
            if (t.w().counters().drops[d]) FAIL(dataplane::drop_name(static_cast<dataplane::drop>(d)));
        REQUIRE(out.size() == 1);
        flows.push_back({ip("10.0.1.1"), uint16_t(10000 + i), uint64_t(get32(out[0], off::ip_dst)) << 16 | get16(out[0], off::dport),
                         get16(out[0], off::sport), get32(out[0], off::ip_src)});
    }

    std::atomic<bool> stop{false};
    std::vector<steady::time_point> sent(updates + 2), visible(updates + 2);
    std::vector<uint64_t> gen_of(updates);
    std::atomic<int> rejected{0}, done{0};
    std::thread control([&] {
        while (!stop.load()) {
            sock.value()->serve_once(5, [&](const std::string &req) { return svc.handle_text(req); });
            t.inst->reclaim();
        }
    });
    std::thread client([&] {
        for (int i = 0; i < updates; i++) {
            auto before = steady::now();
            auto reply = control::ctl_request(sock_path, update(i).dump());
            auto j = reply ? json::parse(reply.value(), nullptr, false) : json();
            if (!j.is_object() || j.value("Code", std::string()) != "Success") {
                rejected++;
            } else {
                gen_of[i] = j["SnapshotGeneration"].get<uint64_t>();
                sent[gen_of[i]] = before;
            }
            done = i + 1;
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    });

    uint64_t rounds = 0, frames_in = 0, frames_out = 0, misrouted = 0, moved = 0, syns = 0;
    uint64_t seen_gen = 1;
    uint16_t next_port = 20000;
    uint32_t next_client = ip("10.0.2.0");
    while (done.load() < updates || rounds < 100) {
        // 16 data packets on long-lived flows (both directions) and 8 new connections.
        std::vector<bytes> in;
        for (int k = 0; k < 8; k++) {
            const tracked &f = flows[(rounds * 8 + k) % flows.size()];
            in.push_back(frame(f.client, f.cport, ACK));
            frame_spec r;
            r.dst_mac = t.port->mac(), r.src_mac = backend_mac(int((f.backend >> 16 & 0xff) - 21));
            r.src = uint32_t(f.backend >> 16), r.dst = f.laddr, r.sport = uint16_t(f.backend), r.dport = f.lport;
            r.tcp_flags = ACK, r.payload = "reply";
            in.push_back(build_frame(r));
        }
        for (int k = 0; k < 8; k++) {
            if (next_port == 60000) next_port = 20000, next_client++;
            in.push_back(frame(next_client, next_port++, SYN));
        }
        auto out = round(in);
        frames_in += in.size();
        frames_out += out.size();
        const dataplane::snapshot *snap = t.w().current_snapshot();
        while (seen_gen < snap->generation) visible[++seen_gen] = steady::now();
        auto allowed = eligible(*snap);
        for (const auto &o : out) {
            uint32_t dst = get32(o, off::ip_dst);
            uint64_t key = uint64_t(dst) << 16 | get16(o, off::dport);
            bool to_client = dst == ip("10.0.1.1");
            if (to_client) continue;
            if (o[off::tcp_flags] == SYN) {
                syns++;
                if (!allowed.count(key)) misrouted++;
                continue;
            }
            uint16_t lport = get16(o, off::sport);
            auto f = std::find_if(flows.begin(), flows.end(), [&](const tracked &x) { return x.lport == lport && x.laddr == get32(o, off::ip_src); });
            if (f == flows.end() || f->backend != key) moved++;
        }
        rounds++;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    client.join();
    // Let the worker pass quiescent points until every replaced snapshot is freed.
    size_t left = 1;
    for (int i = 0; i < 1000 && left; i++) {
        t.w().poll_once(rte_rdtsc());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        left = t.inst->reclaim(); // reclaim runs on the control thread too: it is idempotent
    }
    stop = true;
    control.join();
    left = t.inst->reclaim();

    uint64_t drops = 0;
    for (unsigned d = 0; d < dataplane::drop_count; d++) drops += t.w().counters().drops[d];
    std::vector<double> lat_us;
    for (int i = 0; i < updates; i++)
        if (gen_of[i]) lat_us.push_back(std::chrono::duration<double, std::micro>(visible[gen_of[i]] - sent[gen_of[i]]).count());
    std::sort(lat_us.begin(), lat_us.end());
    REQUIRE(lat_us.size() == size_t(updates));
    std::printf("soak: %d updates over the control socket, %llu bursts, %llu frames in / %llu out, %llu new connections; "
                "update-to-visible (request sent -> worker on the new snapshot): median %.0f us, p99 %.0f us, max %.0f us\n",
                updates, (unsigned long long)rounds, (unsigned long long)frames_in, (unsigned long long)frames_out,
                (unsigned long long)syns, lat_us[lat_us.size() / 2], lat_us[lat_us.size() * 99 / 100], lat_us.back());
    CHECK(rejected == 0);
    CHECK(t.w().current_snapshot()->generation == updates + 1);
    CHECK(frames_out == frames_in);
    CHECK(drops == 0);
    CHECK(misrouted == 0);
    CHECK(moved == 0);
    CHECK(left == 0);
}
