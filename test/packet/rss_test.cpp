// Two workers on a port whose RSS split is emulated exactly as a NIC with Fulcrum's key
// and RETA would do it (ring_port::inject_rss): with RSS-aware lport choice every reply
// comes home on its owner's queue (no redirect); with it off (the redirect ring) about
// half the replies cross cores, counted, and every flow still completes.
#include "deploy/stats.h"
#include "harness.h"
#include "observe/observe.h"

#include <catch2/catch.hpp>

#include <map>

using namespace fulcrum::test;
using nlohmann::json;

namespace {
const uint32_t client = fulcrum::test::net::client, vip = fulcrum::test::net::vip,
               laddr = fulcrum::test::net::laddr;

uint32_t seq_at(const bytes &f) { return get32(f, off::tcp_seq); }

struct flow {
    uint16_t cport;
    uint32_t backend = 0;
    uint16_t lport = 0;
};

// Inject, then poll every worker until nothing more comes out; returns what came out.
std::vector<bytes> round_trip(lb &t, const std::vector<bytes> &in) {
    for (const bytes &f : in) t.port->inject_rss(f);
    std::vector<bytes> out;
    for (int idle = 0; idle < 3;) {
        t.poll_all();
        auto got = t.port->collect();
        idle = got.empty() ? idle + 1 : 0;
        out.insert(out.end(), got.begin(), got.end());
    }
    return out;
}

bytes from_client(lb &t, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = {}) {
    return build_frame(client_segment(t.port->mac(), client, cport, flags, seq, ack, std::move(payload)));
}
bytes from_backend(lb &t, const flow &f, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = {}) {
    return build_frame(backend_segment(t.port->mac(), f.backend, f.lport, flags, seq, ack, std::move(payload)));
}

struct totals {
    size_t completed = 0;
    uint64_t redirected = 0;
    uint64_t per_worker_conns[2] = {};
};

// `n` TCP flows through the whole conversation (handshake, data both ways, FIN both
// ways), in batches; the client side's ISN is the flow's number, so each frame that
// comes out names its flow.
totals run_flows(lb &t, uint32_t n) {
    std::vector<flow> flows(n);
    totals r;
    constexpr uint32_t batch = 1000;
    for (uint32_t first = 0; first < n; first += batch) {
        uint32_t last = std::min(n, first + batch);
        std::vector<bytes> in;
        for (uint32_t i = first; i < last; i++) {
            flows[i].cport = static_cast<uint16_t>(20000 + i);
            in.push_back(from_client(t, flows[i].cport, SYN, i * 1000, 0));
        }
        // SYNs reach the backends: learn each flow's backend and lport.
        size_t seen = 0;
        for (const bytes &f : round_trip(t, in)) {
            uint32_t i = seq_at(f) / 1000;
            if (i < first || i >= last || get32(f, off::ip_src) != laddr) continue;
            flows[i].backend = get32(f, off::ip_dst), flows[i].lport = get16(f, off::sport);
            seen++;
        }
        REQUIRE(seen == last - first);
        auto phase = [&](auto make, bool to_client, const std::string &payload) {
            in.clear();
            for (uint32_t i = first; i < last; i++) in.push_back(make(flows[i], i));
            size_t arrived = 0;
            for (const bytes &f : round_trip(t, in)) {
                bool right_way = to_client ? get32(f, off::ip_dst) == client && get16(f, off::sport) == 80
                                           : get32(f, off::ip_src) == laddr && get16(f, off::dport) == 8080;
                std::string body(f.begin() + 54, f.end());
                if (right_way && body == payload) arrived++;
            }
            REQUIRE(arrived == last - first);
        };
        phase([&](const flow &f, uint32_t i) { return from_backend(t, f, SYN | ACK, 5000 + i, i * 1000 + 1); }, true, "");
        phase([&](const flow &f, uint32_t i) { return from_client(t, f.cport, ACK | PSH, i * 1000 + 1, 5001 + i, "ping"); },
              false, "ping");
        phase([&](const flow &f, uint32_t i) { return from_backend(t, f, ACK | PSH, 5001 + i, i * 1000 + 5, "pong"); }, true,
              "pong");
        phase([&](const flow &f, uint32_t i) { return from_client(t, f.cport, FIN | ACK, i * 1000 + 5, 5005 + i); }, false, "");
        phase([&](const flow &f, uint32_t i) { return from_backend(t, f, FIN | ACK, 5005 + i, i * 1000 + 6); }, true, "");
        phase([&](const flow &f, uint32_t i) { return from_client(t, f.cport, ACK, i * 1000 + 6, 5006 + i); }, false, "");
        r.completed += last - first;
    }
    for (size_t w = 0; w < 2; w++) {
        r.redirected += t.w(w).counters().redirected_out;
        r.per_worker_conns[w] = t.w(w).counters().connections_created;
    }
    return r;
}

json rss_config(const std::string &rss) {
    json cfg = without_syn_proxy(base_config(""));
    cfg["conn_capacity"] = 16384;
    cfg["ports"][0]["rss"] = rss;
    return cfg;
}
} // namespace

TEST_CASE("2 workers, emulated RSS port: 10,000 TCP flows complete both ways with 0 redirects", "[rss]") {
    lb t(rss_config("emulated"), 2);
    REQUIRE(t.inst->current_snapshot().ports[0].steer == fulcrum::dataplane::steering::emulated);
    totals r = run_flows(t, 10000);
    std::printf("rss emulated: %zu flows completed, %llu redirected, connections per worker %llu / %llu\n", r.completed,
                (unsigned long long)r.redirected, (unsigned long long)r.per_worker_conns[0],
                (unsigned long long)r.per_worker_conns[1]);
    CHECK(r.completed == 10000);
    CHECK(r.redirected == 0);
    CHECK(r.per_worker_conns[0] + r.per_worker_conns[1] == 10000);
    // RSS spread the clients over both workers.
    CHECK(r.per_worker_conns[0] > 4000);
    CHECK(r.per_worker_conns[1] > 4000);
}

TEST_CASE("2 workers, the same RSS split with RSS-aware choice off: redirects are counted, every flow completes", "[rss]") {
    lb t(rss_config("off"), 2);
    REQUIRE(t.inst->current_snapshot().ports[0].steer == fulcrum::dataplane::steering::redirect);
    totals r = run_flows(t, 10000);
    std::printf("rss off (redirect ring): %zu flows completed, %llu redirected\n", r.completed,
                (unsigned long long)r.redirected);
    CHECK(r.completed == 10000);
    // Three backend frames per flow (SYN-ACK, data, FIN); each lands on the owner's
    // queue or the other's by the RSS hash: about half cross.
    CHECK(r.redirected > 10000);
    CHECK(r.redirected < 20000);
    CHECK(r.redirected == t.w(0).counters().redirected_in + t.w(1).counters().redirected_in);
}

TEST_CASE("each port's steering is shown: the prompt's port info, the report line, Prometheus", "[rss]") {
    lb t(rss_config("emulated"), 2);
    fulcrum::deploy::stats_view v = fulcrum::deploy::collect_stats(*t.inst);
    REQUIRE(v.ports.size() == 1);
    CHECK(v.ports[0].steering == "emulated");
    CHECK(v.ports[0].steering_note.find("128-entry RETA") != std::string::npos);
    CHECK(fulcrum::observe::prometheus_text(v).find("fulcrum_port_reply_steering{port=\"p0\",mode=\"emulated\"} 1") !=
          std::string::npos);
    lb r(rss_config("off"), 2);
    CHECK(fulcrum::deploy::collect_stats(*r.inst).ports[0].steering == "redirect");
    CHECK(fulcrum::deploy::collect_stats(*r.inst).ports[0].steering_note == "rss off in the config");
}
