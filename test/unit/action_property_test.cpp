// Property: every state the actions API accepts is a state the daemon can start from.
// Thousands of random requests (mostly plausible, some junk) against a running model;
// after each accepted change the model is written as the state file and loaded back the
// way a restart loads it, and must come back identical.
#include "config/parse.h"
#include "config/state.h"
#include "control/actions.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace fulcrum;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
struct random_requests {
    std::mt19937 rng{20261129};
    const config::instance *model = nullptr; // ids are drawn from what exists (and some that do not)
    template <class T>
    const T &pick(const std::vector<T> &v) { return v[rng() % v.size()]; }
    bool coin(unsigned in = 2) { return rng() % in == 0; }

    // One value in ten is junk: enough to exercise refusals, few enough to go deep.
    json junk() { return pick<json>({"300.1.1.1", 7, "", -1, 70000, "x", json::array(), nullptr}); }
    // Both families; one IPv6 address in several spellings (RFC 4291 forms), which the
    // model must treat as one and print one way (RFC 5952).
    json ip() {
        return coin(10) ? junk()
                        : pick<json>({"10.0.1.5", "10.0.1.6", "10.0.1.7", "10.0.1.8", "10.0.2.9", "2001:db8:1::5",
                                      "2001:DB8:1:0:0:0:0:5", "2001:db8:1::6", "2001:0db8:0001::0007", "ff02::5", "::"});
    }
    json port() { return coin(10) ? junk() : pick<json>({80, 81, 8080, 9000, 9000, "9001"}); }
    json backend(bool with_port) {
        json b{{"ServerId", coin(10) ? junk() : pick<json>({"i-1", "i-2", "i-3", "i-4"})}, {"ServerIp", ip()}};
        if (with_port || coin(4)) b["Port"] = port();
        if (coin()) b["Weight"] = coin(10) ? junk() : pick<json>({0, 1, 50, 100, "20"});
        if (coin(5)) b["Type"] = pick<json>({"ecs", "eni", "vm"});
        return b;
    }
    json backends(bool with_port) {
        json a = json::array();
        for (unsigned i = 0, n = 1 + rng() % 2; i < n; i++) a.push_back(backend(with_port));
        return coin(8) ? json(a.dump()) : a; // sometimes as a JSON string, as the public API allows
    }
    json group_id() {
        std::vector<json> ids{"rsp-1", "rsp-2"};
        for (const auto &g : model->vserver_groups) ids.push_back(g.id);
        for (const auto &g : model->master_slave_groups) ids.push_back(g.id);
        return coin(10) ? junk() : pick(ids);
    }
    json listener_fields(json r) {
        r["VIP"] = pick<json>({"10.0.0.10", "10.0.0.10", "10.0.0.11", "1.2.3.4", "2001:db8::10", "2001:DB8:0::10", "2001:db8::11"});
        r["ListenerPort"] = pick<json>({80, 81, 53, 0});
        if (coin()) r["BackendServerPort"] = port();
        if (coin(3)) r["Scheduler"] = pick<json>({"wrr", "rr", "wlc", "sch", "tch", "lc"});
        if (coin(4)) r["VServerGroupId"] = group_id();
        if (coin(6)) r["MasterSlaveServerGroupId"] = group_id();
        if (coin(5)) r["PersistenceTimeout"] = pick<json>({0, 60, 4000});
        if (coin(5)) r["SynProxy"] = pick<json>({"auto", "on", "off", "maybe"});
        if (coin(5)) r["MaxConnections"] = pick<json>({0, 10, -5});
        if (coin(5)) r["ProxyProtocolV2Enabled"] = pick<json>({"on", "off", "v1"});
        if (coin(5)) r["ToaEnabled"] = pick<json>({"on", "off", true});
        if (coin(6)) r["AclStatus"] = pick<json>({"on", "off"});
        if (coin(6)) r["AclType"] = pick<json>({"white", "black"});
        if (coin(6))
            r["AclEntries"] = pick<json>({json::array({"10.1.0.0/16"}), json::array({"bad"}), json::array({"2001:db8:a::9/48", "10.2.0.0/16"}),
                                          json::array({"2001:db8::/129"})});
        if (coin(6)) r["HealthCheck"] = pick<json>({"on", "off"});
        return r;
    }
    json next() {
        switch (rng() % 14) {
        case 0: return {{"Action", "AddBackendServers"}, {"BackendServers", backends(false)}};
        case 1: return {{"Action", "SetBackendServers"}, {"BackendServers", backends(false)}};
        case 2: return {{"Action", "RemoveBackendServers"}, {"BackendServers", backends(false)}};
        case 3: {
            // A model with many groups is no deeper, only slower: past six, delete instead.
            if (model->vserver_groups.size() + model->master_slave_groups.size() >= 6)
                return {{"Action", "DeleteVServerGroup"}, {"VServerGroupId", group_id()}};
            json r{{"Action", "CreateVServerGroup"}, {"VServerGroupName", "g"}};
            if (coin()) r["BackendServers"] = backends(true);
            return r;
        }
        case 4: return {{"Action", "AddVServerGroupBackendServers"}, {"VServerGroupId", group_id()}, {"BackendServers", backends(true)}};
        case 5: return {{"Action", "RemoveVServerGroupBackendServers"}, {"VServerGroupId", group_id()}, {"BackendServers", backends(true)}};
        case 6: return {{"Action", "SetVServerGroupAttribute"}, {"VServerGroupId", group_id()}, {"BackendServers", backends(true)}};
        case 7: return {{"Action", "ModifyVServerGroupBackendServers"}, {"VServerGroupId", group_id()},
                        {"OldBackendServers", backends(true)}, {"NewBackendServers", backends(true)}};
        case 8: return {{"Action", "DeleteVServerGroup"}, {"VServerGroupId", group_id()}};
        case 9: return listener_fields({{"Action", coin() ? "CreateLoadBalancerTCPListener" : "CreateLoadBalancerUDPListener"}});
        case 10: return listener_fields({{"Action", coin() ? "SetLoadBalancerTCPListenerAttribute" : "SetLoadBalancerUDPListenerAttribute"}});
        case 11: return {{"Action", "DeleteLoadBalancerListener"}, {"VIP", pick<json>({"10.0.0.10", "2001:db8::10", "2001:db8:0::10"})},
                         {"ListenerPort", pick<json>({80, 81, 53})},
                         {"ListenerProtocol", pick<json>({"tcp", "udp"})}};
        case 12: {
            if (model->vserver_groups.size() + model->master_slave_groups.size() >= 6)
                return {{"Action", "DeleteMasterSlaveServerGroup"}, {"MasterSlaveServerGroupId", group_id()}};
            json ms = json::array({backend(true), backend(true)});
            ms[0]["ServerType"] = "Master";
            ms[1]["ServerType"] = pick<json>({"Slave", "Master"});
            return {{"Action", "CreateMasterSlaveServerGroup"}, {"MasterSlaveServerGroupName", "m"}, {"MasterSlaveBackendServers", ms}};
        }
        default: return {{"Action", "DeleteMasterSlaveServerGroup"}, {"MasterSlaveServerGroupId", group_id()}};
        }
    }
};

const char *start_config = R"({
  "ports": [{"name": "p0", "device": "net_null0", "address": "10.0.0.1/24", "address6": "2001:db8::1/64"}],
  "vips": ["10.0.0.10", "10.0.0.11", "2001:db8::10"], "local_addresses": ["10.0.0.100", "2001:db8::100"],
  "listeners": [{"VIP": "10.0.0.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080}],
  "default_server_group": [{"ServerId": "i-1", "ServerIp": "10.0.1.5"}]})";
} // namespace

TEST_CASE("every state the API accepts loads back as the same model (20,000 random requests, both families)", "[actions][property]") {
    char tmpl[] = "/dev/shm/fulcrum-prop-XXXXXX";
    if (!::mkdtemp(tmpl)) std::strcpy(tmpl, "/tmp"); // (no /dev/shm: slower, same test)
    fs::path dir = tmpl;
    std::string cfg_path = (dir / "config.json").string(), state_path = (dir / "state.json").string();
    std::ofstream(cfg_path) << start_config;
    auto first = config::parse_instance(json::parse(start_config));
    REQUIRE(first);
    config::instance model = first.value();

    random_requests gen;
    gen.model = &model;
    unsigned accepted = 0, rejected = 0, failures = 0;
    bool seen_v6_listener = false, seen_v6_backend = false;
    for (int i = 0; i < 20000; i++) {
        json req = gen.next();
        auto r = control::run_action(model, req);
        if (!r) {
            rejected++;
            continue;
        }
        if (!r.value().changes) continue;
        accepted++;
        model = r.value().next;
        for (const auto &l : model.listeners) seen_v6_listener = seen_v6_listener || l.vip.is_v6();
        for (const auto &b : model.default_server_group) seen_v6_backend = seen_v6_backend || b.ip.is_v6();
        REQUIRE(config::write_state(state_path, model));
        auto back = config::load_with_state(cfg_path, state_path);
        if (!back || config::instance_to_json(back.value()) != config::instance_to_json(model)) {
            failures++;
            INFO("request " << i << ": " << req.dump());
            INFO((back ? std::string("loaded a different model") : back.err().message()));
            CHECK(false);
            break;
        }
    }
    INFO(accepted << " accepted, " << rejected << " rejected");
    CHECK(failures == 0);
    CHECK(accepted > 1500); // the generator must reach deep states, not bounce off validation
    CHECK(rejected > 1000);
    // The run reached IPv6 states: listeners on the IPv6 VIP, IPv6 backends.
    CHECK(seen_v6_listener);
    CHECK(seen_v6_backend);
    fs::remove_all(dir);
}
