#include "config/parse.h"
#include "control/actions.h"

#include <catch2/catch.hpp>

using namespace fulcrum;
using nlohmann::json;

namespace {
config::instance running() {
    auto r = config::parse_instance(json::parse(R"({
      "ports": [{"name": "p0", "device": "d", "address": "10.0.0.1/24"}],
      "vips": ["10.0.0.10"], "local_addresses": ["10.0.0.100"],
      "default_server_group": [{"ServerId": "i-1", "ServerIp": "10.0.1.5", "Weight": 10},
                               {"ServerId": "i-1", "Type": "eni", "ServerIp": "10.0.1.6"}]})"));
    REQUIRE(r);
    return r.value();
}
std::string error_of(const json &req) {
    auto r = control::run_action(running(), req);
    return r ? "" : r.err().message();
}
} // namespace

TEST_CASE("AddBackendServers adds, with numbers as strings and the list as a JSON string", "[actions]") {
    auto r = control::run_action(running(), {{"Action", "AddBackendServers"},
                                             {"BackendServers", R"([{"ServerId":"i-2","ServerIp":"10.0.1.7","Weight":"30"}])"}});
    REQUIRE(r);
    REQUIRE(r.value().next.default_server_group.size() == 3);
    CHECK(r.value().next.default_server_group[2].weight == 30);
    CHECK(r.value().changes);
}

TEST_CASE("duplicate entries in one request collapse to the first", "[actions]") {
    json b = json::array({{{"ServerId", "i-2"}, {"ServerIp", "10.0.1.7"}, {"Weight", 1}},
                          {{"ServerId", "i-2"}, {"ServerIp", "10.0.1.7"}, {"Weight", 9}}});
    auto r = control::run_action(running(), {{"Action", "AddBackendServers"}, {"BackendServers", b}});
    REQUIRE(r);
    REQUIRE(r.value().next.default_server_group.size() == 3);
    CHECK(r.value().next.default_server_group[2].weight == 1);
}

TEST_CASE("an ENI's secondary IP is a backend of its own", "[actions]") {
    auto r = control::run_action(running(), {{"Action", "RemoveBackendServers"},
                                             {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.6"}}}}});
    REQUIRE(r);
    REQUIRE(r.value().next.default_server_group.size() == 1);
    CHECK(r.value().next.default_server_group[0].ip == config::parse_ip("10.0.1.5", "").value());
}

TEST_CASE("SetBackendServers changes the weight of an existing backend only", "[actions]") {
    auto r = control::run_action(running(), {{"Action", "SetBackendServers"},
                                             {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Weight", 0}}}}});
    REQUIRE(r);
    CHECK(r.value().next.default_server_group[0].weight == 0);
    CHECK(r.value().next.default_server_group[1].weight == 100);
}

TEST_CASE("rejected requests name the field and the rule", "[actions]") {
    CHECK(error_of({{"Action", "AddBackendServers"}, {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}}}}}) ==
          "field 'BackendServers[0]': backend i-1 10.0.1.5 is already in the group");
    CHECK(error_of({{"Action", "RemoveBackendServers"}, {"BackendServers", {{{"ServerId", "i-9"}, {"ServerIp", "10.0.1.9"}}}}}) ==
          "field 'BackendServers[0]': backend i-9 10.0.1.9 is not in the group");
    CHECK(error_of({{"Action", "AddBackendServers"}}) == "field 'BackendServers': is required");
    CHECK(error_of({{"Action", "AddBackendServers"}, {"BackendServers", "[oops"}}) ==
          "field 'BackendServers': must be a JSON array of backend servers");
    CHECK(error_of({{"Action", "AddBackendServers"}, {"BackendServers", json::array()}}) ==
          "field 'BackendServers': must name at least one backend server");
    CHECK(error_of({{"Action", "Reboot"}}).rfind("field 'Action': must be one of", 0) == 0);
    CHECK(error_of(json::array()) == "field '<request>': must be a JSON object");
}

TEST_CASE("Describe changes nothing", "[actions]") {
    auto r = control::run_action(running(), {{"Action", "DescribeBackendServers"}});
    REQUIRE(r);
    CHECK_FALSE(r.value().changes);
    CHECK(r.value().response["BackendServers"].size() == 2);
    CHECK(r.value().response["BackendServers"][1]["Type"] == "eni");
}

namespace {
config::instance with_group() {
    auto cfg = running();
    auto r = control::run_action(cfg, {{"Action", "CreateVServerGroup"}, {"VServerGroupName", "api"},
                                       {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 9000}}}}});
    REQUIRE(r);
    CHECK(r.value().response["VServerGroupId"] == "rsp-1");
    return r.value().next;
}
config::result<control::action_outcome> on_group(const config::instance &cfg, json req) {
    req["VServerGroupId"] = "rsp-1";
    return control::run_action(cfg, req);
}
} // namespace

TEST_CASE("vserver groups are created, edited and described", "[actions][vserver]") {
    auto cfg = with_group();
    // One server in the group twice, on two ports.
    auto r = on_group(cfg, {{"Action", "AddVServerGroupBackendServers"},
                            {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", "9001"}}}}});
    REQUIRE(r);
    CHECK(r.value().next.vserver_groups[0].backends.size() == 2);
    r = on_group(r.value().next, {{"Action", "SetVServerGroupAttribute"}, {"VServerGroupName", "api-v2"},
                                  {"BackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 9001}, {"Weight", 5}}}}});
    REQUIRE(r);
    CHECK(r.value().next.vserver_groups[0].name == "api-v2");
    CHECK(r.value().next.vserver_groups[0].backends[1].weight == 5);
    r = on_group(r.value().next, {{"Action", "ModifyVServerGroupBackendServers"},
                                  {"OldBackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 9000}}}},
                                  {"NewBackendServers", {{{"ServerId", "i-2"}, {"ServerIp", "10.0.1.7"}, {"Port", 9000}}}}});
    REQUIRE(r);
    CHECK(r.value().next.vserver_groups[0].backends[1].server_id == "i-2");
    auto d = on_group(r.value().next, {{"Action", "DescribeVServerGroupAttribute"}});
    REQUIRE(d);
    CHECK(d.value().response["BackendServers"].size() == 2);
    CHECK_FALSE(d.value().changes);
    auto list = control::run_action(r.value().next, {{"Action", "DescribeVServerGroups"}});
    REQUIRE(list);
    CHECK(list.value().response["VServerGroups"][0]["VServerGroupName"] == "api-v2");
    auto second = control::run_action(r.value().next, {{"Action", "CreateVServerGroup"}});
    REQUIRE(second);
    CHECK(second.value().response["VServerGroupId"] == "rsp-2");
}

TEST_CASE("vserver group requests that break a rule change nothing", "[actions][vserver]") {
    auto cfg = with_group();
    auto r = on_group(cfg, {{"Action", "AddVServerGroupBackendServers"},
                            {"BackendServers", {{{"ServerId", "i-3"}, {"ServerIp", "10.0.1.8"}}}}});
    REQUIRE_FALSE(r);
    CHECK(r.err().message() == "field 'BackendServers[0].Port': is required in a vserver group");
    r = control::run_action(cfg, {{"Action", "DeleteVServerGroup"}, {"VServerGroupId", "rsp-9"}});
    REQUIRE_FALSE(r);
    CHECK(r.err().message() == "field 'VServerGroupId': no vserver group 'rsp-9'");
    // Modify is atomic: a bad new entry keeps the old one in place.
    r = on_group(cfg, {{"Action", "ModifyVServerGroupBackendServers"},
                       {"OldBackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 9000}}}},
                       {"NewBackendServers", {{{"ServerId", "i-2"}, {"ServerIp", "10.0.1.7"}, {"Port", 0}}}}});
    REQUIRE_FALSE(r);
    CHECK(r.err().message() == "field 'NewBackendServers[0].Port': must be an integer 1-65535");
    CHECK(cfg.vserver_groups[0].backends[0].port == 9000);
}

TEST_CASE("a vserver group bound to a listener cannot be deleted", "[actions][vserver]") {
    auto cfg = with_group();
    config::listener l;
    l.vip = fulcrum::net::ip_addr::from_v4(0x0a00000a), l.port = 80, l.backend_port = 80, l.vserver_group_id = "rsp-1";
    cfg.listeners.push_back(l);
    auto r = on_group(cfg, {{"Action", "DeleteVServerGroup"}});
    REQUIRE_FALSE(r);
    CHECK(r.err().message() == "field 'VServerGroupId': group 'rsp-1' is still bound to listener 10.0.0.10:80; unbind it first");
    cfg.listeners.clear();
    r = on_group(cfg, {{"Action", "DeleteVServerGroup"}});
    REQUIRE(r);
    CHECK(r.value().next.vserver_groups.empty());
}

TEST_CASE("listeners are created, re-bound and deleted through actions", "[actions][listener]") {
    auto cfg = with_group();
    auto r = control::run_action(cfg, {{"Action", "CreateLoadBalancerTCPListener"}, {"LoadBalancerId", "lb-1"},
                                       {"VIP", "10.0.0.10"}, {"ListenerPort", "81"}, {"BackendServerPort", 8080},
                                       {"Scheduler", "wlc"}, {"VServerGroupId", "rsp-1"}});
    REQUIRE(r);
    REQUIRE(r.value().next.listeners.size() == 1);
    CHECK(r.value().next.listeners[0].vserver_group_id == "rsp-1");
    CHECK(r.value().next.listeners[0].scheduler == config::scheduler_kind::wlc);
    cfg = r.value().next;

    auto dup = control::run_action(cfg, {{"Action", "CreateLoadBalancerTCPListener"}, {"VIP", "10.0.0.10"},
                                         {"ListenerPort", 81}, {"BackendServerPort", 1}});
    REQUIRE_FALSE(dup);
    CHECK(dup.err().message() == "field 'ListenerPort': a tcp listener on that VIP and port exists");
    // A UDP listener may share the port.
    CHECK(control::run_action(cfg, {{"Action", "CreateLoadBalancerUDPListener"}, {"VIP", "10.0.0.10"},
                                    {"ListenerPort", 81}, {"BackendServerPort", 1}}));

    auto bad = control::run_action(cfg, {{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"},
                                         {"ListenerPort", 81}, {"VServerGroupId", "rsp-404"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message() == "field 'VServerGroupId': must name an existing vserver group");

    // Unbind (empty VServerGroupId: back to the default group), then the group can go.
    auto set = control::run_action(cfg, {{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"},
                                         {"ListenerPort", 81}, {"VServerGroupId", ""}, {"EstablishedTimeout", 60}});
    REQUIRE(set);
    CHECK(set.value().next.listeners[0].vserver_group_id.empty());
    CHECK(set.value().next.listeners[0].established_timeout == 60);
    CHECK(set.value().next.listeners[0].scheduler == config::scheduler_kind::wlc); // untouched
    CHECK(control::run_action(set.value().next, {{"Action", "DeleteVServerGroup"}, {"VServerGroupId", "rsp-1"}}));

    auto del = control::run_action(cfg, {{"Action", "DeleteLoadBalancerListener"}, {"VIP", "10.0.0.10"},
                                         {"ListenerProtocol", "tcp"}, {"ListenerPort", 81}});
    REQUIRE(del);
    CHECK(del.value().next.listeners.empty());
    auto missing = control::run_action(cfg, {{"Action", "DeleteLoadBalancerListener"}, {"VIP", "10.0.0.10"},
                                             {"ListenerProtocol", "udp"}, {"ListenerPort", 81}});
    REQUIRE_FALSE(missing);
    CHECK(missing.err().message() == "field 'ListenerPort': no udp listener on that VIP and port");
    auto list = control::run_action(cfg, {{"Action", "DescribeLoadBalancerListeners"}});
    REQUIRE(list);
    CHECK(list.value().response["Listeners"][0]["ListenerPort"] == 81);
}

TEST_CASE("master/slave groups hold exactly one Master and one Slave", "[actions][masterslave]") {
    auto cfg = running();
    json ms = json::array({{{"ServerId", "i-1"}, {"ServerIp", "10.0.1.5"}, {"Port", 80}, {"ServerType", "Master"}},
                           {{"ServerId", "i-2"}, {"ServerIp", "10.0.1.6"}, {"Port", "80"}, {"ServerType", "Slave"}}});
    auto r = control::run_action(cfg, {{"Action", "CreateMasterSlaveServerGroup"}, {"MasterSlaveServerGroupName", "db"},
                                       {"MasterSlaveBackendServers", ms.dump()}});
    REQUIRE(r);
    CHECK(r.value().response["MasterSlaveServerGroupId"] == "rsp-1");
    CHECK(r.value().next.master_slave_groups[0].slave.server_id == "i-2");

    json two_masters = ms;
    two_masters[1]["ServerType"] = "Master";
    auto bad = control::run_action(cfg, {{"Action", "CreateMasterSlaveServerGroup"}, {"MasterSlaveBackendServers", two_masters}});
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message() ==
          "field 'MasterSlaveBackendServers[1].ServerType': must be Master for one backend and Slave for the other");
    json three = ms;
    three.push_back(ms[0]);
    bad = control::run_action(cfg, {{"Action", "CreateMasterSlaveServerGroup"}, {"MasterSlaveBackendServers", three}});
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message() == "field 'MasterSlaveBackendServers': must hold exactly two backends, one Master and one Slave");

    // Bound to a listener, the group stays; a listener takes one group only.
    cfg = r.value().next;
    auto l = control::run_action(cfg, {{"Action", "CreateLoadBalancerTCPListener"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 3306},
                                       {"BackendServerPort", 3306}, {"MasterSlaveServerGroupId", "rsp-1"}});
    REQUIRE(l);
    auto del = control::run_action(l.value().next, {{"Action", "DeleteMasterSlaveServerGroup"}, {"MasterSlaveServerGroupId", "rsp-1"}});
    REQUIRE_FALSE(del);
    CHECK(del.err().message() == "field 'MasterSlaveServerGroupId': group 'rsp-1' is still bound to listener 10.0.0.10:3306; unbind it first");
    auto cfg2 = with_group(); // has vserver group rsp-1
    auto both = control::run_action(cfg2, {{"Action", "CreateLoadBalancerTCPListener"}, {"VIP", "10.0.0.10"},
                                           {"ListenerPort", 1}, {"BackendServerPort", 1}, {"VServerGroupId", "rsp-1"},
                                           {"MasterSlaveServerGroupId", "rsp-1"}});
    REQUIRE_FALSE(both);
    CHECK(both.err().field == "MasterSlaveServerGroupId");
    CHECK(control::run_action(cfg, {{"Action", "DeleteMasterSlaveServerGroup"}, {"MasterSlaveServerGroupId", "rsp-1"}}));
}
