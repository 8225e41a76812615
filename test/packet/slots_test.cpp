// Counter slots over a long life: backends and listeners come and go by the thousand,
// a slot is given to a new key only once no snapshot names it and no connection holds
// it, and the new key's counters start at zero.
#include "deploy/stats.h"
#include "harness.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace fulcrum::test;
namespace config = fulcrum::config;
namespace deploy = fulcrum::deploy;
using nlohmann::json;

namespace {
uint32_t addr(const char *a) { return fulcrum::test::ip(a); }
const uint32_t vip = addr("10.0.0.10"), laddr = addr("10.0.0.100");


struct flow {
    uint16_t cport;
    uint32_t backend;
    uint16_t lport;
};

bytes client_seg(lb &t, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack) {
    return build_frame(client_segment(t.port->mac(), net::client, cport, flags, seq, ack));
}
bytes backend_seg(lb &t, const flow &f, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = {}) {
    return build_frame(backend_segment(t.port->mac(), f.backend, f.lport, flags, seq, ack, std::move(payload)));
}

flow open_established(lb &t, uint16_t cport) {
    auto out = t.send({client_seg(t, cport, SYN, 1000, 0)});
    REQUIRE(out.size() == 1);
    flow f{cport, get32(out[0], off::ip_dst), get16(out[0], off::sport)};
    REQUIRE(t.send({backend_seg(t, f, SYN | ACK, 5000, 1001)}).size() == 1);
    REQUIRE(t.send({client_seg(t, cport, ACK, 1001, 5001)}).size() == 1);
    return f;
}

void close_by_client(lb &t, const flow &f) { REQUIRE(t.send({client_seg(t, f.cport, RST | ACK, 1001, 5001)}).size() == 1); }

std::string dotted(uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}

// Round r: `n` backends and `listeners` TCP listeners (those of round `lr`, by default
// r), none of them in any other round.
json round_config(json cfg, int r, int n, int listeners, int lr = -1) {
    if (lr < 0) lr = r;
    json group = json::array();
    for (int i = 0; i < n; i++)
        group.push_back({{"ServerId", "r" + std::to_string(r) + "-" + std::to_string(i)},
                         {"ServerIp", dotted(addr("10.100.0.1") + uint32_t(r) * 10000 + uint32_t(i))},
                         {"Weight", 1}});
    cfg["default_server_group"] = group;
    json ls = json::array();
    for (int j = 0; j < listeners; j++)
        ls.push_back({{"VIP", "10.0.0.10"}, {"Protocol", "tcp"}, {"ListenerPort", 1000 + lr * listeners + j},
                      {"BackendServerPort", 8080}, {"SynProxy", "off"}});
    cfg["listeners"] = ls;
    return cfg;
}

// Every worker adopts the latest snapshot and the replaced ones are freed, as the
// control loop's reclaim does between requests.
void settle(lb &t) {
    t.poll_all();
    t.inst->reclaim();
    t.poll_all();
    REQUIRE(t.inst->reclaim() == 0);
}

std::optional<uint16_t> backend_slot(lb &t, uint32_t a) { return t.inst->slots().backend(config::protocol::tcp, fulcrum::net::ip_addr::from_v4(a), 8080); }
std::optional<uint8_t> listener_slot(lb &t, uint16_t port, config::protocol p = config::protocol::tcp) {
    config::listener l;
    l.vip = fulcrum::net::ip_addr::from_v4(vip), l.port = port, l.proto = p;
    return t.inst->slots().listener(l);
}
} // namespace

TEST_CASE("counter slots are given again once nothing refers to them: 6,000 backends and 362 listeners over a "
          "life, a connection keeps its slots, a reused slot's counters start at zero", "[slots]") {
    json cfg = without_syn_proxy(base_config(""));
    cfg["listeners"][0]["ConnectionDrain"] = "on";
    cfg["listeners"][0]["ConnectionDrainTimeout"] = 900;
    lb t(cfg);

    // Three connections, one per backend; two close, one stays up through every round.
    std::vector<flow> flows;
    for (uint16_t p = 40000; p < 40003; p++) flows.push_back(open_established(t, p));
    std::set<uint32_t> backends;
    for (const flow &f : flows) backends.insert(f.backend);
    REQUIRE(backends.size() == 3);
    close_by_client(t, flows[1]);
    close_by_client(t, flows[2]);
    t.advance_seconds(30);
    const flow &kept = flows[0];
    uint16_t kept_slot = backend_slot(t, kept.backend).value();
    uint16_t closed_slot[2] = {backend_slot(t, flows[1].backend).value(), backend_slot(t, flows[2].backend).value()};
    uint8_t tcp80 = listener_slot(t, 80).value(), udp53 = listener_slot(t, 53, config::protocol::udp).value();

    std::set<uint16_t> reused_b, reused_l;
    // Rounds of 500 new backends each, enough to use every slot and come round again.
    const int rounds = int(fulcrum::dataplane::max_backend_slots / 500) + 8;
    for (int r = 0; r < rounds; r++) {
        auto applied = t.apply(round_config(cfg, r, 500, 30));
        INFO("round " << r << ": " << (applied ? "" : applied.err().message()));
        REQUIRE(applied);
        settle(t);
        reused_b.insert(t.inst->slots().reused_backends().begin(), t.inst->slots().reused_backends().end());
        reused_l.insert(t.inst->slots().reused_listeners().begin(), t.inst->slots().reused_listeners().end());
        // Every backend and listener of the round counts from zero, wherever its slot was before.
        deploy::stats_view v = deploy::collect_stats(*t.inst);
        REQUIRE(v.backends.size() == 500 * 30);
        for (const auto &b : v.backends) REQUIRE((b.c.new_connections == 0 && b.c.active_connections == 0 && b.c.packets_in == 0));
        for (const auto &l : v.listeners) REQUIRE((l.c.new_connections == 0 && l.c.active_connections == 0 && l.c.packets_in == 0));
    }
    CHECK(t.inst->slots().backends_used() == fulcrum::dataplane::max_backend_slots);
    CHECK(t.inst->slots().listeners_used() == 256);
    // The closed connections' slots went to new backends, the live one's did not.
    CHECK(reused_b.count(closed_slot[0]) == 1);
    CHECK(reused_b.count(closed_slot[1]) == 1);
    CHECK(reused_b.count(kept_slot) == 0);
    CHECK(backend_slot(t, kept.backend) == kept_slot);
    CHECK(reused_l.count(udp53) == 1);
    CHECK(reused_l.count(tcp80) == 0);
    CHECK(listener_slot(t, 80) == tcp80);

    // The kept connection still forwards, counted on its own slots.
    uint64_t before = t.w().backend_counters(kept_slot).packets_out;
    REQUIRE(t.send({backend_seg(t, kept, ACK | PSH, 5001, 1001, "still here")}).size() == 1);
    CHECK(t.w().backend_counters(kept_slot).packets_out == before + 1);
    CHECK(t.w().listener_counters(tcp80).packets_out >= 1);

    // Once it closes, its slots go too.
    close_by_client(t, kept);
    t.advance_seconds(30);
    std::set<uint16_t> last_b, last_l;
    for (int r = rounds; r < rounds + 2; r++) {
        REQUIRE(t.apply(round_config(cfg, r, 500, 30)));
        settle(t);
        last_b.insert(t.inst->slots().reused_backends().begin(), t.inst->slots().reused_backends().end());
        last_l.insert(t.inst->slots().reused_listeners().begin(), t.inst->slots().reused_listeners().end());
    }
    CHECK(last_b.count(kept_slot) == 1);
    CHECK(last_l.count(tcp80) == 1);
    CHECK(!backend_slot(t, kept.backend).has_value());
    CHECK(!listener_slot(t, 80).has_value());
}

TEST_CASE("more backends in use at once than there are slots: the change is refused, the running one kept; freed ones serve the next",
          "[slots]") {
    json cfg = without_syn_proxy(base_config(""));
    lb t(cfg);
    auto gen = t.inst->current_snapshot().generation;
    const unsigned slots = fulcrum::dataplane::max_backend_slots, n = slots - 96;
    auto too_many_b = t.apply(round_config(cfg, 0, int(slots) + 1, 1));
    REQUIRE(!too_many_b);
    CHECK(too_many_b.err().field == "default_server_group");
    CHECK(too_many_b.err().message().find(std::to_string(slots)) != std::string::npos);
    auto too_many_l = t.apply(round_config(cfg, 0, 2, 51)); // the config's own bound
    REQUIRE(!too_many_l);
    CHECK(too_many_l.err().field == "listeners");
    CHECK(t.inst->current_snapshot().generation == gen);
    REQUIRE(t.apply(round_config(cfg, 0, int(n), 1)));
    settle(t);
    auto all = t.apply(round_config(cfg, 1, 3, 50, 0));
    INFO((all ? "" : all.err().message()));
    REQUIRE(all);
    settle(t);
    // No snapshot names the first n backends now and none holds a connection: a second n
    // takes their slots.
    auto again = t.apply(round_config(cfg, 2, int(n), 1));
    INFO((again ? "" : again.err().message()));
    CHECK(again);
    CHECK(t.inst->slots().reused_backends().size() == n - (slots - (n + 9))); // 6 base (tcp and udp), n, 3
}
