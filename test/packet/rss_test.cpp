// Two workers on a port whose RSS split is emulated exactly as a NIC with Fulcrum's key
// and RETA would do it (ring_port::inject_rss): with RSS-aware lport choice every reply
// comes home on its owner's queue (no redirect); with it off (the redirect ring) about
// half the replies cross cores, counted, and every flow still completes. The same for
// IPv6 clients: 6->6 (an IPv6 laddr, lports by the IPv6 tuple's hash) and 6->4.
#include "deploy/stats.h"
#include "harness.h"
#include "observe/observe.h"

#include <catch2/catch.hpp>

#include <map>

using namespace fulcrum::test;
using nlohmann::json;

namespace {
const uint32_t client = fulcrum::test::net::client, laddr = fulcrum::test::net::laddr;
namespace six {
const addr6 client = ip6("2001:db8::50"), vip = ip6("2001:db8::10"), laddr = ip6("2001:db8::100");
} // namespace six

struct flow {
    uint16_t cport;
    uint32_t backend = 0; // IPv4 (host order)
    addr6 backend6{};     // IPv6
    uint16_t lport = 0;
};

// What the clients speak and what the backends do: IPv4, 6->4 (IPv6 clients, IPv4
// laddr and backends) or 6->6.
enum class family { v4, v6to4, v6to6 };
bool client_v6(family f) { return f != family::v4; }
bool backend_v6(family f) { return f == family::v6to6; }
uint16_t vport_of(family f) { return f == family::v6to6 ? 81 : 80; }
size_t tcp_at(bool v6) { return v6 ? off6::l4 : off::ip + 20; }
bool is_v6_frame(const bytes &f) { return f.size() > 14 && f[12] == 0x86 && f[13] == 0xdd; }
addr6 addr6_at(const bytes &f, size_t at) {
    addr6 a;
    std::copy(f.begin() + long(at), f.begin() + long(at) + 16, a.begin());
    return a;
}

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

bytes from_client(lb &t, family fam, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = {}) {
    if (!client_v6(fam)) return build_frame(client_segment(t.port->mac(), client, cport, flags, seq, ack, std::move(payload)));
    frame_spec s;
    s.v6 = true, s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src6 = six::client, s.dst6 = six::vip, s.sport = cport, s.dport = vport_of(fam);
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload);
    return build_frame(s);
}
bytes from_backend(lb &t, family fam, const flow &f, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = {}) {
    if (!backend_v6(fam)) return build_frame(backend_segment(t.port->mac(), f.backend, f.lport, flags, seq, ack, std::move(payload)));
    frame_spec s;
    s.v6 = true, s.dst_mac = t.port->mac(), s.src_mac = {2, 0, 0, 0, 0, f.backend6[15]};
    s.src6 = f.backend6, s.dst6 = six::laddr, s.sport = 8081, s.dport = f.lport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload);
    return build_frame(s);
}
// Whether a frame that came out goes to the client (from the VIP's port) or to a backend
// (from the laddr), in the family's IP version.
bool toward_client(family fam, const bytes &f) {
    if (is_v6_frame(f) != client_v6(fam)) return false;
    if (client_v6(fam)) return addr6_at(f, off6::dst) == six::client && get16(f, off6::sport) == vport_of(fam);
    return get32(f, off::ip_dst) == client && get16(f, off::sport) == 80;
}
bool toward_backend(family fam, const bytes &f) {
    if (is_v6_frame(f) != backend_v6(fam)) return false;
    if (backend_v6(fam)) return addr6_at(f, off6::src) == six::laddr && get16(f, off6::dport) == 8081;
    return get32(f, off::ip_src) == laddr && get16(f, off::dport) == 8080;
}

struct totals {
    size_t completed = 0;
    uint64_t redirected = 0;
    uint64_t per_worker_conns[2] = {};
};

// `n` TCP flows through the whole conversation (handshake, data both ways, FIN both
// ways), in batches; the client side's ISN is the flow's number, so each frame that
// comes out names its flow.
totals run_flows(lb &t, uint32_t n, family fam = family::v4) {
    std::vector<flow> flows(n);
    totals r;
    constexpr uint32_t batch = 1000;
    const bool bv6 = backend_v6(fam);
    for (uint32_t first = 0; first < n; first += batch) {
        uint32_t last = std::min(n, first + batch);
        std::vector<bytes> in;
        for (uint32_t i = first; i < last; i++) {
            flows[i].cport = static_cast<uint16_t>(20000 + i);
            in.push_back(from_client(t, fam, flows[i].cport, SYN, i * 1000, 0));
        }
        // SYNs reach the backends: learn each flow's backend and lport.
        size_t seen = 0;
        for (const bytes &f : round_trip(t, in)) {
            if (!toward_backend(fam, f)) continue;
            size_t tcp = tcp_at(bv6);
            uint32_t i = get32(f, tcp + 4) / 1000;
            if (i < first || i >= last) continue;
            if (bv6) flows[i].backend6 = addr6_at(f, off6::dst);
            else flows[i].backend = get32(f, off::ip_dst);
            flows[i].lport = get16(f, tcp);
            seen++;
        }
        REQUIRE(seen == last - first);
        auto phase = [&](auto make, bool to_client, const std::string &payload) {
            in.clear();
            for (uint32_t i = first; i < last; i++) in.push_back(make(flows[i], i));
            size_t arrived = 0;
            for (const bytes &f : round_trip(t, in)) {
                bool right_way = to_client ? toward_client(fam, f) : toward_backend(fam, f);
                size_t body_at = tcp_at(is_v6_frame(f)) + 20;
                std::string body(f.begin() + long(std::min(body_at, f.size())), f.end());
                if (right_way && body == payload) arrived++;
            }
            REQUIRE(arrived == last - first);
        };
        auto c = [&](uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack, std::string p = {}) {
            return from_client(t, fam, cport, flags, seq, ack, std::move(p));
        };
        auto b = [&](const flow &f, uint8_t flags, uint32_t seq, uint32_t ack, std::string p = {}) {
            return from_backend(t, fam, f, flags, seq, ack, std::move(p));
        };
        phase([&](const flow &f, uint32_t i) { return b(f, SYN | ACK, 5000 + i, i * 1000 + 1); }, true, "");
        phase([&](const flow &f, uint32_t i) { return c(f.cport, ACK | PSH, i * 1000 + 1, 5001 + i, "ping"); }, false, "ping");
        phase([&](const flow &f, uint32_t i) { return b(f, ACK | PSH, 5001 + i, i * 1000 + 5, "pong"); }, true, "pong");
        phase([&](const flow &f, uint32_t i) { return c(f.cport, FIN | ACK, i * 1000 + 5, 5005 + i); }, false, "");
        phase([&](const flow &f, uint32_t i) { return b(f, FIN | ACK, 5005 + i, i * 1000 + 6); }, true, "");
        phase([&](const flow &f, uint32_t i) { return c(f.cport, ACK, i * 1000 + 6, 5006 + i); }, false, "");
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

// The same with IPv6 beside it: VIP 2001:db8::10 tcp/80 -> the IPv4 default group (6->4),
// tcp/81 -> group rsp-6 of two IPv6 backends (6->6), laddr 2001:db8::100.
json rss_config6(const std::string &rss) {
    json cfg = rss_config(rss);
    cfg["ports"][0]["address6"] = "2001:db8::1/64";
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "2001:db8::50"}, {"mac", "02:00:00:00:00:50"}});
    json servers = json::array();
    for (int i = 0; i < 2; i++) {
        std::string ip = "2001:db8::3" + std::to_string(i + 1);
        cfg["ports"][0]["static_neighbours"].push_back({{"ip", ip}, {"mac", "02:00:00:00:00:3" + std::to_string(i + 1)}});
        servers.push_back({{"ServerId", "i-6" + std::to_string(i)}, {"ServerIp", ip}, {"Port", 8081}});
    }
    cfg["vips"].push_back("2001:db8::10");
    cfg["local_addresses"].push_back("2001:db8::100");
    cfg["vserver_groups"] = json::array({{{"VServerGroupId", "rsp-6"}, {"VServerGroupName", "six"}, {"BackendServers", servers}}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 80}, {"BackendServerPort", 8080},
                                {"SynProxy", "off"}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 81}, {"BackendServerPort", 1},
                                {"VServerGroupId", "rsp-6"}, {"SynProxy", "off"}});
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

TEST_CASE("2 workers, emulated RSS port, IPv6 clients: 5,000 flows 6->6 (IPv6 laddr, lports by the 36-byte tuple's "
          "hash) and 5,000 flows 6->4 complete both ways with 0 redirects",
          "[rss][ipv6]") {
    for (family fam : {family::v6to6, family::v6to4}) {
        lb t(rss_config6("emulated"), 2);
        REQUIRE(t.inst->current_snapshot().ports[0].rss6);
        totals r = run_flows(t, 5000, fam);
        std::printf("rss emulated, IPv6 %s: %zu flows completed, %llu redirected, connections per worker %llu / %llu\n",
                    fam == family::v6to6 ? "6->6" : "6->4", r.completed, (unsigned long long)r.redirected,
                    (unsigned long long)r.per_worker_conns[0], (unsigned long long)r.per_worker_conns[1]);
        CHECK(r.completed == 5000);
        CHECK(r.redirected == 0);
        CHECK(r.per_worker_conns[0] > 2000);
        CHECK(r.per_worker_conns[1] > 2000);
    }
}

TEST_CASE("2 workers, IPv6 6->6 with RSS-aware choice off: the redirect ring brings replies home, every flow completes",
          "[rss][ipv6]") {
    lb t(rss_config6("off"), 2);
    totals r = run_flows(t, 5000, family::v6to6);
    std::printf("rss off, IPv6 6->6: %zu flows completed, %llu redirected\n", r.completed, (unsigned long long)r.redirected);
    CHECK(r.completed == 5000);
    CHECK(r.redirected > 5000);
    CHECK(r.redirected < 10000);
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
