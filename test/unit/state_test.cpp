#include "config/parse.h"
#include "config/state.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace fulcrum::config;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
fulcrum::net::ip_addr v4(uint32_t host_order) { return fulcrum::net::ip_addr::from_v4(host_order); }
struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/fulcrum-state-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { fs::remove_all(path); }
    std::string file(const char *name) const { return (path / name).string(); }
};
void write_text(const std::string &path, const std::string &text) { std::ofstream(path) << text; }
std::string read_text(const std::string &path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}
const char *base_config = R"({
  "ports": [{"name": "p0", "device": "net_null0", "address": "10.0.0.1/24"}],
  "vips": ["10.0.0.10"], "local_addresses": ["10.0.0.100"],
  "listeners": [{"VIP": "10.0.0.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080}],
  "default_server_group": [{"ServerId": "i-1", "ServerIp": "10.0.1.5"}]})";
} // namespace

TEST_CASE("every model field survives instance -> JSON -> instance", "[config][state]") {
    auto j = json::parse(base_config);
    j["ports"][0]["gateway"] = "10.0.0.254";
    j["ports"][0]["static_neighbours"] = {{{"ip", "10.0.0.254"}, {"mac", "02:00:00:00:00:fe"}}};
    j["lport_range"] = "2000-3000";
    j["tcp_timeouts"] = {{"time_wait", 7}};
    j["listeners"][0].update({{"Scheduler", "sch"}, {"PersistenceTimeout", 60}, {"ConnectionDrain", "on"},
                              {"ConnectionDrainTimeout", 30}, {"AclStatus", "on"}, {"AclType", "black"},
                              {"AclEntries", {"10.1.0.0/16", "192.168.1.7"}}, {"HealthCheck", "on"},
                              {"HealthCheckType", "http"}, {"HealthCheckURI", "/health"},
                              {"HealthCheckHttpCode", "http_2xx,http_3xx"}, {"Description", "web"}});
    j["vserver_groups"] = {{{"VServerGroupId", "rsp-1"}, {"VServerGroupName", "api"},
                            {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 9000}}}}}};
    j["master_slave_groups"] = {{{"MasterSlaveServerGroupId", "rsp-2"},
                                 {"MasterSlaveBackendServers",
                                  {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 80}, {"ServerType", "Master"}},
                                   {{"ServerId", "i-2"}, {"ServerIp", "10.0.1.6"}, {"Port", 80}, {"ServerType", "Slave"}}}}}};
    auto first = parse_instance(j);
    REQUIRE(first);
    json dumped = instance_to_json(first.value());
    auto second = parse_instance(dumped);
    REQUIRE(second);
    CHECK(instance_to_json(second.value()) == dumped);
    CHECK(dumped["listeners"][0]["AclEntries"] == json({"10.1.0.0/16", "192.168.1.7/32"}));
    CHECK(dumped["listeners"][0]["HealthCheckHttpCode"] == "http_2xx,http_3xx");
    CHECK(dumped["lport_range"] == "2000-3000");
    CHECK(second.value().ports[0].static_neighbours == first.value().ports[0].static_neighbours);
}

TEST_CASE("the state file overrides the run-time part of --config", "[config][state]") {
    temp_dir d;
    write_text(d.file("config.json"), base_config);
    auto cfg = load_with_state(d.file("config.json"), d.file("state.json"));
    REQUIRE(cfg); // no state file yet: --config alone
    cfg.value().default_server_group[0].weight = 7;
    cfg.value().listeners[0].port = 81;
    REQUIRE(write_state(d.file("state.json"), cfg.value()));
    CHECK_FALSE(fs::exists(d.file("state.json.tmp")));
    CHECK((fs::status(d.file("state.json")).permissions() & fs::perms::others_read) == fs::perms::none);

    // The operator changes a restart-only field in --config and restarts.
    auto edited = json::parse(base_config);
    edited["ports"][0]["mtu"] = 9000;
    write_text(d.file("config.json"), edited.dump());
    auto again = load_with_state(d.file("config.json"), d.file("state.json"));
    REQUIRE(again);
    CHECK(again.value().default_server_group[0].weight == 7);
    CHECK(again.value().listeners[0].port == 81);
    CHECK(again.value().ports[0].mtu == 9000);
}

TEST_CASE("a truncated or invalid state file is an error that names it, and is kept", "[config][state]") {
    temp_dir d;
    write_text(d.file("config.json"), base_config);
    auto cfg = parse_instance(json::parse(base_config));
    REQUIRE(cfg);
    REQUIRE(write_state(d.file("state.json"), cfg.value()));
    std::string whole = read_text(d.file("state.json"));
    std::string cut = whole.substr(0, whole.size() / 2);
    write_text(d.file("state.json"), cut);
    auto r = load_with_state(d.file("config.json"), d.file("state.json"));
    REQUIRE_FALSE(r);
    CHECK(r.err().field == "--state-file");
    CHECK_THAT(r.err().rule, Catch::Contains("state.json' is not valid JSON: it ends early (truncated?)"));
    CHECK_THAT(r.err().rule, Catch::Contains("will not overwrite it"));
    CHECK(read_text(d.file("state.json")) == cut);

    auto bad = json::parse(whole);
    bad["listeners"][0]["ListenerPort"] = 0;
    write_text(d.file("state.json"), bad.dump());
    r = load_with_state(d.file("config.json"), d.file("state.json"));
    REQUIRE_FALSE(r);
    CHECK(r.err().field == "listeners[0].ListenerPort");
    CHECK_THAT(r.err().rule, Catch::Contains("in state file"));
}

TEST_CASE("write_state reports a directory it cannot write", "[config][state]") {
    auto cfg = parse_instance(json::parse(base_config));
    REQUIRE(cfg);
    auto r = write_state("/nonexistent-dir/state.json", cfg.value());
    REQUIRE_FALSE(r);
    CHECK(r.err().message() == "field '--state-file': cannot create '/nonexistent-dir/state.json.tmp': No such file or directory");
}

TEST_CASE("the state file holds exactly the hand-written JSON for a model built in code", "[config][state]") {
    // The model is made field by field (not parsed), and the expectation is written by
    // hand: a field the serializer dropped or renamed would show here.
    instance c;
    port p;
    p.name = "p0", p.device = "net_null0", p.address = 0x0a000001, p.prefix_len = 24, p.gateway = 0x0a0000fe;
    p.static_neighbours.push_back({v4(0x0a0000fe), {2, 0, 0, 0, 0, 0xfe}});
    c.ports = {p};
    c.vips = {v4(0x0a00000a)};
    c.local_addresses = {v4(0x0a000064)};
    c.probe_source = v4(0x0a000064);
    c.lport_min = 2000, c.lport_max = 3000;
    c.timeouts.time_wait = 7;
    c.udp_unreplied_timeout = 20;
    c.exception_path_rate = 5000;
    listener l;
    l.vip = v4(0x0a00000a), l.port = 80, l.backend_port = 8080, l.scheduler = scheduler_kind::sch;
    l.persistence_timeout = 60, l.connection_drain = true, l.connection_drain_timeout = 30;
    l.acl_enabled = true, l.acl_whitelist = false, l.acl_entries = {{v4(0x0a010000), 16}};
    l.vserver_group_id = "rsp-1";
    l.health.enabled = true, l.health.kind = health_kind::http, l.health.uri = "/health", l.health.http_codes = 3;
    l.max_connections = 5000, l.max_new_connection_rate = 200, l.max_connections_per_source = 16;
    l.syn_proxy = syn_proxy_mode::on;
    l.proxy_protocol_v2 = true;
    c.listeners = {l};
    backend b;
    b.server_id = "i-1", b.ip = v4(0x0a000105), b.weight = 40;
    c.default_server_group = {b};
    backend g = b;
    g.port = 9000;
    c.vserver_groups = {{"rsp-1", "api", {g}}};

    temp_dir d;
    std::string path = d.file("state.json");
    REQUIRE(write_state(path, c));
    json expected = json::parse(R"({
      "workers": 0,
      "ports": [{"name": "p0", "device": "net_null0", "address": "10.0.0.1/24", "mtu": 1500,
                 "gateway": "10.0.0.254",
                 "static_neighbours": [{"ip": "10.0.0.254", "mac": "02:00:00:00:00:fe"}]}],
      "vips": ["10.0.0.10"],
      "local_addresses": ["10.0.0.100"],
      "lport_range": "2000-3000",
      "probe_port_range": "61000-65535",
      "exception_path": "on",
      "health_check_source": "10.0.0.100",
      "conn_capacity": 1048576,
      "neighbour_capacity": 8192,
      "mbufs": 32768,
      "maglev_size": 65537,
      "tcp_timeouts": {"syn_sent": 30, "syn_recv": 30, "fin_wait": 30, "time_wait": 7, "close": 3},
      "udp_timeouts": {"unreplied": 20},
      "neighbour_timeout": 60,
      "exception_path_rate": 5000,
      "syn_proxy_threshold": 512,
      "ipv6_source_prefix": 64,
      "node_drain": "off",
      "listeners": [{"VIP": "10.0.0.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080,
                     "Scheduler": "sch", "EstablishedTimeout": 900, "IdleTimeout": 300,
                     "PersistenceTimeout": 60, "ConnectionDrain": "on", "ConnectionDrainTimeout": 30,
                     "AclStatus": "on", "AclType": "black", "AclEntries": ["10.1.0.0/16"],
                     "VServerGroupId": "rsp-1",
                     "HealthCheck": "on", "HealthCheckType": "http", "HealthCheckInterval": 2,
                     "HealthCheckConnectTimeout": 5, "HealthyThreshold": 3, "UnhealthyThreshold": 3,
                     "HealthCheckURI": "/health", "HealthCheckHttpCode": "http_2xx,http_3xx",
                     "MaxConnections": 5000, "MaxNewConnectionRate": 200, "MaxConnectionsPerSource": 16,
                     "SynProxy": "on", "ToaEnabled": "off", "ProxyProtocolV2Enabled": "on"}],
      "default_server_group": [{"ServerId": "i-1", "Type": "ecs", "ServerIp": "10.0.1.5", "Weight": 40,
                                "Description": ""}],
      "vserver_groups": [{"VServerGroupId": "rsp-1", "VServerGroupName": "api",
                          "BackendServers": [{"ServerId": "i-1", "Type": "ecs", "ServerIp": "10.0.1.5",
                                              "Weight": 40, "Description": "", "Port": 9000}]}],
      "master_slave_groups": []
    })");
    json written = json::parse(read_text(path));
    INFO(written.dump(2));
    CHECK(written == expected);
    // And it reads back as the same model.
    auto back = parse_instance(written);
    REQUIRE(back);
    CHECK(instance_to_json(back.value()) == expected);
}
