#include "config/capacity.h"
#include "config/parse.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fulcrum::config;
using nlohmann::json;

namespace {
json valid() {
    return json::parse(R"({
      "ports": [{"name": "p0", "device": "net_null0", "address": "10.0.0.1/24", "gateway": "10.0.0.254"}],
      "vips": ["10.0.0.10"], "local_addresses": ["10.0.0.100", "10.0.0.101"],
      "listeners": [{"VIP": "10.0.0.10", "Protocol": "tcp", "ListenerPort": "80", "BackendServerPort": 8080}],
      "default_server_group": [{"ServerId": "i-1", "ServerIp": "10.0.1.5", "Weight": "30"},
                               {"ServerId": "i-1", "Type": "eni", "ServerIp": "10.0.1.6"}]
    })");
}
std::string error_of(const json &j) {
    auto r = parse_instance(j);
    return r ? "" : r.err().message();
}
} // namespace

TEST_CASE("a valid config parses with defaults and numbers given as strings", "[config]") {
    auto r = parse_instance(valid());
    REQUIRE(r);
    const instance &c = r.value();
    CHECK(c.ports[0].address == 0x0a000001);
    CHECK(c.ports[0].prefix_len == 24);
    CHECK(c.ports[0].gateway == 0x0a0000fe);
    CHECK(c.listeners[0].port == 80);
    CHECK(c.listeners[0].established_timeout == 900);
    CHECK(c.listeners[0].scheduler == scheduler_kind::wrr);
    CHECK(c.default_server_group[0].weight == 30);
    CHECK(c.default_server_group[1].weight == 100);
    CHECK(c.default_server_group[1].type == "eni"); // ENI IPs of one ServerId are separate backends
    CHECK(c.lport_min == 1024);
    CHECK(c.timeouts.time_wait == 10);
}

TEST_CASE("each config violation names the field and the rule", "[config]") {
    auto j = valid();
    SECTION("listener port out of range") {
        j["listeners"][0]["ListenerPort"] = 0;
        CHECK(error_of(j) == "field 'listeners[0].ListenerPort': must be an integer 1-65535");
    }
    SECTION("negative weight") {
        j["default_server_group"][0]["Weight"] = -1;
        CHECK(error_of(j) == "field 'default_server_group[0].Weight': must be an integer 0-100");
    }
    SECTION("weight as a non-numeric string") {
        j["default_server_group"][0]["Weight"] = "heavy";
        CHECK(error_of(j) == "field 'default_server_group[0].Weight': must be an integer 0-100");
    }
    SECTION("established timeout below 10 s") {
        j["listeners"][0]["EstablishedTimeout"] = 5;
        CHECK(error_of(j) == "field 'listeners[0].EstablishedTimeout': must be an integer 10-900");
    }
    SECTION("bad address") {
        j["vips"][0] = "10.0.0.300";
        CHECK(error_of(j) == "field 'vips[0]': must be an IPv4 address (a.b.c.d) or an IPv6 address (RFC 4291 2.2, e.g. 2001:db8::1)");
    }
    SECTION("gateway outside the port's subnet") {
        j["ports"][0]["gateway"] = "192.168.0.1";
        CHECK(error_of(j) == "field 'ports[0].gateway': must be inside the port's own subnet");
    }
    SECTION("listener on an address that is not a VIP") {
        j["listeners"][0]["VIP"] = "10.0.0.11";
        CHECK(error_of(j) == "field 'listeners[0].VIP': must be one of the instance's vips");
    }
    SECTION("duplicate listener") {
        j["listeners"].push_back(j["listeners"][0]);
        CHECK(error_of(j) == "field 'listeners[1]': must not repeat a (VIP, Protocol, ListenerPort)");
    }
    SECTION("a tcp and a udp listener may share a port") {
        auto u = j["listeners"][0];
        u["Protocol"] = "udp";
        j["listeners"].push_back(u);
        CHECK(error_of(j).empty());
    }
    SECTION("more than 50 listeners") {
        for (int p = 1; p <= 50; p++)
            j["listeners"].push_back({{"VIP", "10.0.0.10"}, {"Protocol", "udp"}, {"ListenerPort", p}, {"BackendServerPort", 1}});
        CHECK(error_of(j) == "field 'listeners': must have at most 50 entries");
    }
    SECTION("duplicate backend") {
        j["default_server_group"].push_back(j["default_server_group"][0]);
        CHECK(error_of(j) == "field 'default_server_group[2]': must not repeat a (ServerIp, Port) backend");
    }
    SECTION("unknown scheduler") {
        j["listeners"][0]["Scheduler"] = "fastest";
        CHECK(error_of(j) == "field 'listeners[0].Scheduler': must be one of wrr, rr, wlc, sch, tch");
    }
    SECTION("unknown field") {
        j["ports"][0]["speed"] = 10;
        CHECK(error_of(j) == "field 'ports[0].speed': is not a known field");
    }
    SECTION("no local addresses") {
        j["local_addresses"] = json::array();
        CHECK(error_of(j) == "field 'local_addresses': must hold at least one address (the full-NAT source pool), here or under a port");
    }
    SECTION("local address that is also a VIP") {
        j["local_addresses"].push_back("10.0.0.10");
        CHECK(error_of(j) == "field 'local_addresses[2]': must not also be a VIP");
    }
    SECTION("inverted lport range") {
        j["lport_range"] = "5000-2000";
        CHECK(error_of(j) == "field 'lport_range': min must not exceed max");
    }
    SECTION("missing required field") {
        j["ports"][0].erase("device");
        CHECK(error_of(j) == "field 'ports[0].device': is required");
    }
    SECTION("listener bound to an unknown vserver group") {
        j["listeners"][0]["VServerGroupId"] = "rsp-404";
        CHECK(error_of(j) == "field 'listeners[0].VServerGroupId': must name an existing vserver group");
    }
    SECTION("vserver group backend without a port") {
        j["vserver_groups"] = json::array({{{"VServerGroupId", "rsp-1"},
                                            {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}}}}}});
        CHECK(error_of(j) == "field 'vserver_groups[0].BackendServers[0].Port': is required in a vserver group");
    }
    SECTION("two vserver groups with one id") {
        j["vserver_groups"] = json::array({{{"VServerGroupId", "rsp-1"}}, {{"VServerGroupId", "rsp-1"}}});
        CHECK(error_of(j) == "field 'vserver_groups[1].VServerGroupId': must be unique among vserver groups");
    }
    SECTION("a server in two vserver groups on different ports is fine") {
        json b1 = {{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 80}};
        json b2 = {{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 81}};
        j["vserver_groups"] = json::array({{{"VServerGroupId", "rsp-1"}, {"BackendServers", {b1}}},
                                           {{"VServerGroupId", "rsp-2"}, {"BackendServers", {b2}}}});
        j["listeners"][0]["VServerGroupId"] = "rsp-2";
        CHECK(error_of(j).empty());
    }
    SECTION("not an object") {
        CHECK(error_of(json::array()) == "field '<root>': must be an object");
    }
}

TEST_CASE("a config file that is missing or not JSON is reported as such", "[config]") {
    auto r = load_instance_file("/nonexistent/fulcrum.json");
    REQUIRE_FALSE(r);
    CHECK(r.err().field == "--config");
}

TEST_CASE("listener persistence, drain, ACL and health-check fields", "[config][listener]") {
    auto j = valid();
    auto &l = j["listeners"][0];
    SECTION("defaults") {
        auto r = parse_instance(j);
        REQUIRE(r);
        const listener &x = r.value().listeners[0];
        CHECK(x.persistence_timeout == 0);
        CHECK_FALSE(x.connection_drain);
        CHECK(x.connection_drain_timeout == 300);
        CHECK_FALSE(x.acl_enabled);
        CHECK_FALSE(x.health.enabled);
        CHECK(x.health.interval == 2);
        CHECK(x.health.timeout == 5);
        CHECK(x.health.healthy_threshold == 3);
    }
    SECTION("udp health-check defaults") {
        l["Protocol"] = "udp";
        auto r = parse_instance(j);
        REQUIRE(r);
        CHECK(r.value().listeners[0].health.kind == health_kind::udp);
        CHECK(r.value().listeners[0].health.interval == 5);
        CHECK(r.value().listeners[0].health.timeout == 10);
    }
    SECTION("a timeout shorter than the interval is raised to it") {
        l["HealthCheckInterval"] = 20;
        l["HealthCheckConnectTimeout"] = 3;
        auto r = parse_instance(j);
        REQUIRE(r);
        CHECK(r.value().listeners[0].health.timeout == 20);
    }
    SECTION("ACL entries are masked and deduplicated; a list may come as a JSON string") {
        l["AclStatus"] = "on";
        l["AclType"] = "white";
        l["AclEntries"] = R"(["10.0.5.9/24", "10.0.5.0/24", "0.0.0.0/0"])";
        auto r = parse_instance(j);
        REQUIRE(r);
        const auto &e = r.value().listeners[0].acl_entries;
        REQUIRE(e.size() == 2);
        CHECK(e[0].net == fulcrum::net::ip_addr::from_v4(0x0a000500));
        CHECK(e[0].contains(fulcrum::net::ip_addr::from_v4(0x0a0005ff)));
        CHECK_FALSE(e[0].contains(fulcrum::net::ip_addr::from_v4(0x0a000600)));
        CHECK(e[1].contains(fulcrum::net::ip_addr::from_v4(0xffffffff)));
    }
    SECTION("violations") {
        auto expect = [&](const char *key, json value, const std::string &msg) {
            l[key] = value;
            CHECK(error_of(j) == "field 'listeners[0]." + std::string(key) + "': " + msg);
        };
        SECTION("persistence") { expect("PersistenceTimeout", 3601, "must be an integer 0-3600"); }
        SECTION("drain switch") { expect("ConnectionDrain", "yes", "must be one of on, off"); }
        SECTION("drain timeout") { expect("ConnectionDrainTimeout", 5, "must be an integer 10-900"); }
        SECTION("acl type") { expect("AclType", "grey", "must be one of white, black"); }
        SECTION("acl entry") {
            l["AclEntries"] = {"10.0.0.0/33"};
            CHECK(error_of(j) == "field 'listeners[0].AclEntries[0]': must be an IPv4 or IPv6 address or prefix (a.b.c.d/len, 2001:db8::/32)");
        }
        SECTION("acl on without a type") {
            l["AclStatus"] = "on";
            CHECK(error_of(j) == "field 'listeners[0].AclType': is required when AclStatus is on");
        }
        SECTION("too many acl entries") {
            json many = json::array();
            for (int i = 0; i < 301; i++) many.push_back("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
            expect("AclEntries", many, "must have at most 300 entries");
        }
        SECTION("health interval") { expect("HealthCheckInterval", 51, "must be an integer 1-50"); }
        SECTION("health timeout") { expect("HealthCheckConnectTimeout", 0, "must be an integer 1-300"); }
        SECTION("healthy threshold") { expect("HealthyThreshold", 1, "must be an integer 2-10"); }
        SECTION("unhealthy threshold") { expect("UnhealthyThreshold", 11, "must be an integer 2-10"); }
        SECTION("check type") { expect("HealthCheckType", "udp", "must be one of tcp, http on a tcp listener"); }
        SECTION("http codes") {
            expect("HealthCheckHttpCode", "http_2xx,http_6xx",
                   "must be a comma-separated list of http_2xx, http_3xx, http_4xx, http_5xx");
        }
        SECTION("uri") { expect("HealthCheckURI", "health", "must be a path starting with '/', at most 80 characters, no spaces"); }
        SECTION("connect port") { expect("HealthCheckConnectPort", 70000, "must be an integer 1-65535"); }
        SECTION("proxy protocol switch") { expect("ProxyProtocolV2Enabled", "v2", "must be one of on, off"); }
        SECTION("toa and proxy protocol together") {
            l["ProxyProtocolV2Enabled"] = "on";
            expect("ToaEnabled", "on", "must be off while ProxyProtocolV2Enabled is on (one way to carry the client address)");
        }
        SECTION("toa on udp") {
            l["Protocol"] = "udp";
            expect("ToaEnabled", "on", "applies to TCP listeners only");
        }
    }
    SECTION("client address: PROXY v2 on TCP and UDP, TOA on TCP; both off unless asked") {
        auto first = parse_instance(j);
        REQUIRE(first);
        CHECK_FALSE(first.value().listeners[0].proxy_protocol_v2);
        CHECK_FALSE(first.value().listeners[0].toa);
        l["ToaEnabled"] = "on";
        auto toa = parse_instance(j);
        REQUIRE(toa);
        CHECK(toa.value().listeners[0].toa);
        l["ToaEnabled"] = "off", l["ProxyProtocolV2Enabled"] = "on", l["Protocol"] = "udp";
        auto v2 = parse_instance(j);
        REQUIRE(v2);
        CHECK(v2.value().listeners[0].proxy_protocol_v2);
        CHECK(listener_to_json(v2.value().listeners[0])["ProxyProtocolV2Enabled"] == "on");
    }
}

TEST_CASE("scale-out settings: the BGP speaker's include file and reload command, node drain", "[config][bgp]") {
    auto j = valid();
    auto plain = parse_instance(j);
    REQUIRE(plain);
    CHECK(plain.value().bgp.include_file.empty());
    CHECK_FALSE(plain.value().node_drain);
    j["bgp"] = {{"include_file", "/run/fulcrum/bird-vips.conf"}, {"reload_command", {"birdc", "-s", "/run/bird/bird.ctl", "configure"}}};
    j["node_drain"] = "on";
    auto r = parse_instance(j);
    REQUIRE(r);
    CHECK(r.value().bgp.reload_command.size() == 4);
    CHECK(r.value().node_drain);
    auto back = parse_instance(instance_to_json(r.value()));
    REQUIRE(back);
    CHECK(back.value().bgp == r.value().bgp);
    CHECK(back.value().node_drain);
    j["bgp"]["include_file"] = "vips.conf";
    CHECK(error_of(j) == "field 'bgp.include_file': must be an absolute path");
    j["bgp"]["include_file"] = "/x", j["bgp"]["reload_command"] = json::array();
    CHECK(error_of(j).rfind("field 'bgp.reload_command': must name a program", 0) == 0);
    j["bgp"]["reload_command"] = {"birdc", 7};
    CHECK(error_of(j) == "field 'bgp.reload_command[1]': must be a string");
}

TEST_CASE("cluster nodes: on a port's link, each once; the handoff rate", "[config][bgp]") {
    auto j = valid();
    j["cluster"] = {{"nodes", {"10.0.0.1", "10.0.0.2"}}};
    auto r = parse_instance(j);
    REQUIRE(r);
    CHECK(r.value().cluster.nodes.size() == 2);
    CHECK(r.value().cluster.handoff_rate == 1000000);
    auto back = parse_instance(instance_to_json(r.value()));
    REQUIRE(back);
    CHECK(back.value().cluster == r.value().cluster);
    j["cluster"]["nodes"] = {"10.0.0.2", "10.9.0.2"};
    CHECK(error_of(j).rfind("field 'cluster.nodes[1]': must lie in a port's subnet", 0) == 0);
    j["cluster"]["nodes"] = {"10.0.0.2", "10.0.0.2"};
    CHECK(error_of(j) == "field 'cluster.nodes[1]': must not repeat an address");
    j["cluster"] = {{"nodes", {"10.0.0.2"}}, {"handoff_rate", -1}};
    CHECK(error_of(j).rfind("field 'cluster.handoff_rate'", 0) == 0);
    j["cluster"] = {{"handoff_rate", 5}};
    CHECK(error_of(j).rfind("field 'cluster.nodes'", 0) == 0);
    j["cluster"] = {{"nodes", {"10.0.0.2"}}, {"peers", 1}};
    CHECK(error_of(j).rfind("field 'cluster.peers'", 0) == 0);
}

TEST_CASE("scale-out over IPv6: include_file6 for IPv6 VIPs, IPv6 BGP neighbours and cluster nodes", "[config][bgp][ipv6]") {
    auto j = valid();
    j["ports"][0]["address6"] = "2001:db8::1/64";
    j["vips"].push_back("2001:db8:9::10");
    j["bgp"] = {{"include_file", "/run/fulcrum/vips.conf"}, {"neighbours", {"10.0.0.254", "2001:db8::fe"}}};
    // IPv6 VIPs' routes cannot go in the IPv4 file (a BIRD static protocol has one family).
    CHECK(error_of(j).rfind("field 'bgp.include_file6': is required when vips has IPv6 addresses", 0) == 0);
    j["bgp"]["include_file6"] = "vips6.conf";
    CHECK(error_of(j) == "field 'bgp.include_file6': must be an absolute path");
    j["bgp"]["include_file6"] = "/run/fulcrum/vips.conf";
    CHECK(error_of(j) == "field 'bgp.include_file6': must differ from include_file");
    j["bgp"]["include_file6"] = "/run/fulcrum/vips6.conf";
    j["cluster"] = {{"nodes", {"2001:db8::1", "2001:db8::2", "10.0.0.2"}}};
    auto r = parse_instance(j);
    REQUIRE(r);
    CHECK(r.value().bgp.include_file6 == "/run/fulcrum/vips6.conf");
    CHECK(r.value().bgp.neighbours[1].is_v6());
    CHECK(r.value().cluster.nodes[0].is_v6());
    auto back = parse_instance(instance_to_json(r.value()));
    REQUIRE(back);
    CHECK(back.value().bgp == r.value().bgp);
    CHECK(back.value().cluster == r.value().cluster);
    // A node off the port's IPv6 prefix (a link-local one included) is refused.
    j["cluster"]["nodes"] = {"2001:db8::1", "fe80::2"};
    CHECK(error_of(j).rfind("field 'cluster.nodes[1]': must lie in a port's subnet", 0) == 0);
}

TEST_CASE("local addresses belong to a port: by subnet, or a port's own routed pool; rss per port", "[config][laddr]") {
    auto j = valid();
    j["ports"].push_back({{"name", "servers"}, {"device", "net_null1"}, {"address", "10.0.2.1/24"}, {"rss", "emulated"},
                          {"local_addresses", {"100.64.0.1", "100.64.0.2"}}});
    j["local_addresses"].push_back("10.0.2.100");
    auto r = parse_instance(j);
    REQUIRE(r);
    const instance &c = r.value();
    CHECK(c.ports[0].rss == rss_setting::auto_);
    CHECK(c.ports[1].rss == rss_setting::emulated);
    auto all = local_addresses_by_port(c);
    REQUIRE(all.size() == 5);
    CHECK((all[0].ip == fulcrum::net::ip_addr::from_v4(0x0a000064) && all[0].port == 0)); // 10.0.0.100: port 0's subnet
    CHECK((all[2].ip == fulcrum::net::ip_addr::from_v4(0x0a000264) && all[2].port == 1)); // 10.0.2.100: port 1's subnet
    CHECK((all[3].ip == fulcrum::net::ip_addr::from_v4(0x64400001) && all[3].port == 1)); // the routed pool
    CHECK((all[4].ip == fulcrum::net::ip_addr::from_v4(0x64400002) && all[4].port == 1));
    // Written and read back the same.
    auto back = parse_instance(instance_to_json(c));
    REQUIRE(back);
    CHECK(local_addresses_by_port(back.value()).size() == 5);
    CHECK(back.value().ports[1].rss == rss_setting::emulated);
    CHECK(back.value().ports[1].local_addresses == c.ports[1].local_addresses);

    SECTION("a top-level address in no port's subnet, with two ports") {
        j["local_addresses"].push_back("192.168.7.7");
        CHECK(error_of(j) == "field 'local_addresses[3]': must lie in a port's subnet, so that it belongs to that port "
                             "(an address outside every subnet goes under ports[i].local_addresses: that port's routed pool)");
    }
    SECTION("the same address twice across lists") {
        j["ports"][1]["local_addresses"].push_back("10.0.0.100");
        CHECK(error_of(j) == "field 'ports[1].local_addresses[2]': must appear once among the local addresses");
    }
    SECTION("a port's pool address that is a VIP") {
        j["ports"][1]["local_addresses"].push_back("10.0.0.10");
        CHECK(error_of(j) == "field 'ports[1].local_addresses[2]': must not also be a VIP");
    }
    SECTION("only ports' pools: enough") {
        j["local_addresses"] = json::array();
        CHECK(error_of(j) == "");
    }
    SECTION("rss must be a known mode") {
        j["ports"][1]["rss"] = "fast";
        CHECK(error_of(j) == "field 'ports[1].rss': must be one of auto, emulated, off");
    }
}

TEST_CASE("the capacity a configuration states: tables, tuples per backend port, rates at time_wait", "[config][capacity]") {
    auto doc = nlohmann::json::parse(R"({
      "ports": [{"name": "p0", "device": "net_null0", "address": "10.0.0.1/24"}],
      "vips": ["10.0.0.10"], "local_addresses": ["10.0.0.100", "10.0.0.101", "10.0.0.102", "10.0.0.103"],
      "conn_capacity": 4194304, "tcp_timeouts": {"time_wait": 10}, "listeners": [], "default_server_group": []})");
    auto cfg = fulcrum::config::parse_instance(doc);
    REQUIRE(cfg);
    auto c = fulcrum::config::capacity_of(cfg.value(), 1);
    CHECK(c.held == 4194304);
    CHECK(c.tuples_per_bport == 4 * 59976); // default lport_range 1024-60999
    CHECK(c.bport_cps == Approx(23990.4));
    CHECK(c.table_cps == Approx(419430.4));
    CHECK(fulcrum::config::describe(c, cfg.value(), 1) ==
          "4,194,304 connections (1 worker(s) x 4,194,304); 239,904 at once toward each backend port (4 laddr(s) x "
          "59,976 lports); 23,990 new/s per backend port and 419,430/s in all with every TIME_WAIT kept 10 s (past "
          "that, finished connections give way early)");
}

namespace {
// valid() made dual-stack: the port has an IPv6 prefix and gateway, an IPv6 VIP with a
// listener, an IPv6 laddr, an ENI with an IPv6 primary and secondary address.
json dual_stack() {
    json j = valid();
    j["ports"][0]["address6"] = "2001:DB8:0:0::1/64";
    j["ports"][0]["gateway6"] = "fe80::1";
    j["ports"][0]["static_neighbours"] = {{{"ip", "2001:db8::fe"}, {"mac", "02:00:00:00:00:fe"}}};
    j["vips"].push_back("2001:db8:0:0:0:0:0:10");
    j["local_addresses"].push_back("2001:db8::100");
    j["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 80}, {"BackendServerPort", 8080},
                              {"AclStatus", "on"}, {"AclType", "white"}, {"AclEntries", {"2001:db8:aa::1/48", "10.9.0.0/16"}}});
    j["default_server_group"].push_back({{"ServerId", "eni-1"}, {"Type", "eni"}, {"ServerIp", "2001:db8:1::5"}});
    j["default_server_group"].push_back({{"ServerId", "eni-1"}, {"Type", "eni"}, {"ServerIp", "2001:db8:1::6"}});
    return j;
}
} // namespace

TEST_CASE("IPv6 everywhere the model takes an address: parsed, canonical on output, round trip", "[config][ipv6]") {
    auto r = parse_instance(dual_stack());
    REQUIRE(r);
    const instance &c = r.value();
    CHECK(format_ip(c.ports[0].address6) == "2001:db8::1");
    CHECK(c.ports[0].prefix6_len == 64);
    CHECK(format_ip(c.ports[0].gateway6) == "fe80::1");
    CHECK(format_ip(c.vips[1]) == "2001:db8::10");
    CHECK(c.listeners[1].vip == c.vips[1]); // "2001:db8:0:0:0:0:0:10" and "2001:db8::10" are one address
    CHECK(format_ip(c.probe_source) == "10.0.0.100");
    CHECK(format_ip(c.probe_source6) == "2001:db8::100"); // the first IPv6 laddr
    REQUIRE(c.listeners[1].acl_entries.size() == 2);
    CHECK(format_cidr(c.listeners[1].acl_entries[0]) == "2001:db8:aa::/48"); // host bits cleared
    CHECK(c.listeners[1].acl_entries[0].contains(*fulcrum::net::parse_ip("2001:db8:aa:ffff::9")));
    CHECK_FALSE(c.listeners[1].acl_entries[0].contains(*fulcrum::net::parse_ip("10.9.0.1")));
    CHECK(c.listeners[1].acl_entries[1].contains(*fulcrum::net::parse_ip("10.9.0.1")));
    auto all = local_addresses_by_port(c);
    REQUIRE(all.size() == 3);
    CHECK((format_ip(all[2].ip) == "2001:db8::100" && all[2].port == 0));

    json out = instance_to_json(c);
    CHECK(out["ports"][0]["address6"] == "2001:db8::1/64");
    CHECK(out["ports"][0]["static_neighbours"][0]["ip"] == "2001:db8::fe");
    CHECK(out["vips"][1] == "2001:db8::10");
    CHECK(out["listeners"][1]["VIP"] == "2001:db8::10");
    CHECK(out["default_server_group"][2]["ServerIp"] == "2001:db8:1::5");
    CHECK(out["health_check_source6"] == "2001:db8::100");
    auto back = parse_instance(out);
    REQUIRE(back);
    CHECK(instance_to_json(back.value()) == out);
}

TEST_CASE("each IPv6 violation names the field and the rule", "[config][ipv6]") {
    auto j = dual_stack();
    SECTION("address6 without a prefix length") {
        j["ports"][0]["address6"] = "2001:db8::1";
        CHECK(error_of(j) == "field 'ports[0].address6': must be an IPv6 address and prefix length, e.g. 2001:db8::1/64 (RFC 4291 2.3)");
    }
    SECTION("address6 of the other family") {
        j["ports"][0]["address6"] = "10.0.0.1/24";
        CHECK(error_of(j) == "field 'ports[0].address6': must be an IPv6 address and prefix length, e.g. 2001:db8::1/64 (RFC 4291 2.3)");
    }
    SECTION("address6 link-local") {
        j["ports"][0]["address6"] = "fe80::5/64";
        CHECK(error_of(j) == "field 'ports[0].address6': must not be link-local (fe80::/10): the port's link-local address is derived from its MAC");
    }
    SECTION("address6 multicast") {
        j["ports"][0]["address6"] = "ff02::1/64";
        CHECK(error_of(j) == "field 'ports[0].address6': must not be an IPv6 multicast address (ff00::/8)");
    }
    SECTION("gateway6 off the prefix and not link-local") {
        j["ports"][0]["gateway6"] = "2001:db9::1";
        CHECK(error_of(j) == "field 'ports[0].gateway6': must be inside the port's IPv6 subnet or link-local (fe80::/10)");
    }
    SECTION("gateway6 without address6") {
        j["ports"][0].erase("address6");
        CHECK(error_of(j) == "field 'ports[0].gateway6': needs the port's address6");
    }
    SECTION("an IPv6 VIP and no port speaks IPv6") {
        j["ports"][0].erase("address6");
        j["ports"][0].erase("gateway6");
        j["ports"][0].erase("static_neighbours");
        j["local_addresses"] = {"10.0.0.100"};
        j["default_server_group"].erase(3);
        j["default_server_group"].erase(2);
        CHECK(error_of(j) == "field 'vips[1]': is IPv6 but no port has an address6");
    }
    SECTION("an IPv6 laddr on a port without address6") {
        j["ports"][0].erase("address6");
        j["ports"][0].erase("gateway6");
        j["ports"][0].erase("static_neighbours");
        CHECK(error_of(j) == "field 'local_addresses[2]': is IPv6 but its port has no address6");
    }
    SECTION("an IPv6 backend with no IPv6 laddr") {
        j["local_addresses"] = {"10.0.0.100"};
        CHECK(error_of(j) == "field 'default_server_group[2].ServerIp': is IPv6 but no local address is (full-NAT needs an IPv6 laddr for it)");
    }
    SECTION("one VIP written two ways") {
        j["vips"].push_back("2001:DB8::0:10");
        CHECK(error_of(j) == "field 'vips[2]': must not repeat an address");
    }
    SECTION("the unspecified address, loopback, a zone") {
        j["vips"][1] = "::";
        CHECK(error_of(j) == "field 'vips[1]': must not be the unspecified address ::");
        j["vips"][1] = "::1";
        CHECK(error_of(j) == "field 'vips[1]': must not be the IPv6 loopback address ::1");
        j["vips"][1] = "fe80::1%p0";
        CHECK(error_of(j) == "field 'vips[1]': must be an IPv4 address (a.b.c.d) or an IPv6 address (RFC 4291 2.2, e.g. 2001:db8::1)");
    }
    SECTION("health_check_source6 of the wrong family or not a laddr") {
        j["health_check_source6"] = "10.0.0.100";
        CHECK(error_of(j) == "field 'health_check_source6': must be an IPv6 local address");
        j["health_check_source6"] = "2001:db8::101";
        CHECK(error_of(j) == "field 'health_check_source6': must be one of the local addresses");
    }
    SECTION("an IPv6 static neighbour on a port without address6") {
        j = valid();
        j["ports"][0]["static_neighbours"] = {{{"ip", "2001:db8::fe"}, {"mac", "02:00:00:00:00:fe"}}};
        CHECK(error_of(j) == "field 'ports[0].static_neighbours[0].ip': is IPv6 but the port has no address6");
    }
    SECTION("an IPv6 ACL prefix too long") {
        j["listeners"][1]["AclEntries"] = {"2001:db8::/129"};
        CHECK(error_of(j) == "field 'listeners[1].AclEntries[0]': must be an IPv4 or IPv6 address or prefix (a.b.c.d/len, 2001:db8::/32)");
    }
}
