// The control service on a real data plane: every rejected request leaves the applied
// model, the state file and the workers' snapshot exactly as they were.
#include "config/parse.h"
#include "control/service.h"
#include "harness.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

using namespace fulcrum;
using namespace fulcrum::test;
using nlohmann::json;

namespace {
std::string read_text(const std::string &path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}
} // namespace

TEST_CASE("a rejected request changes nothing: model byte-identical, state file and snapshot untouched", "[service]") {
    auto cfg = base_config("", {1, 2});
    cfg["vserver_groups"] = {{{"VServerGroupId", "rsp-1"},
                              {"BackendServers", {{{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Port", 9000}}}}}};
    cfg["listeners"][0]["VServerGroupId"] = "rsp-1";
    lb t(cfg);
    std::string state = "/tmp/fulcrum-service-" + std::to_string(::getpid()) + ".json";
    control::service svc(*t.inst, state);
    // One accepted change first, so the state file exists.
    auto ok = svc.handle({{"Action", "AddBackendServers"},
                          {"BackendServers", {{{"ServerId", "i-9"}, {"ServerIp", "10.0.0.29"}, {"Weight", 5}}}}});
    REQUIRE(ok["Code"] == "Success");
    std::string model = config::instance_to_json(t.inst->config()).dump();
    const std::string saved = read_text(state);
    REQUIRE(saved == config::instance_to_json(t.inst->config()).dump(2) + "\n");
    uint64_t gen = t.inst->current_snapshot().generation;

    auto be = [](const char *ip, json more = json::object()) {
        json b{{"ServerId", "i-x"}, {"ServerIp", ip}};
        b.update(more);
        return json::array({b});
    };
    const std::vector<std::pair<json, std::string>> bad = {
        {{{"Action", "AddBackendServers"}, {"BackendServers", be("10.0.0.21", {{"ServerId", "i-0"}})}},
         "field 'BackendServers[0]': backend i-0 10.0.0.21 is already in the group"},
        {{{"Action", "AddBackendServers"}, {"BackendServers", be("10.0.0.300")}},
         "field 'BackendServers[0].ServerIp': must be an IPv4 address (a.b.c.d) or an IPv6 address (RFC 4291 2.2, e.g. 2001:db8::1)"},
        {{{"Action", "AddBackendServers"}, {"BackendServers", be("ff02::1")}},
         "field 'BackendServers[0].ServerIp': must not be an IPv6 multicast address (ff00::/8)"},
        {{{"Action", "AddBackendServers"}, {"BackendServers", be("2001:db8::21")}},
         "field 'default_server_group[3].ServerIp': is IPv6 but no local address is (full-NAT needs an IPv6 laddr for it)"},
        {{{"Action", "AddBackendServers"}, {"BackendServers", be("10.0.0.30", {{"Type", "vm"}})}},
         "field 'BackendServers[0].Type': must be one of ecs, eni"},
        {{{"Action", "SetBackendServers"}, {"BackendServers", be("10.0.0.29", {{"ServerId", "i-9"}, {"Weight", "x"}})}},
         "field 'BackendServers[0].Weight': must be an integer 0-100"},
        {{{"Action", "RemoveBackendServers"}, {"BackendServers", be("10.0.0.99")}},
         "field 'BackendServers[0]': backend i-x 10.0.0.99 is not in the group"},
        {{{"Action", "DeleteVServerGroup"}, {"VServerGroupId", "rsp-1"}},
         "field 'VServerGroupId': group 'rsp-1' is still bound to listener 10.0.0.10:80; unbind it first"},
        {{{"Action", "AddVServerGroupBackendServers"}, {"VServerGroupId", "rsp-1"}, {"BackendServers", be("10.0.0.30")}},
         "field 'BackendServers[0].Port': is required in a vserver group"},
        {{{"Action", "CreateLoadBalancerTCPListener"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80}, {"BackendServerPort", 1}},
         "field 'ListenerPort': a tcp listener on that VIP and port exists"},
        {{{"Action", "CreateLoadBalancerTCPListener"}, {"VIP", "10.0.0.99"}, {"ListenerPort", 81}, {"BackendServerPort", 1}},
         "field 'VIP': must be one of the instance's vips"},
        {{{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
          {"PersistenceTimeout", 4000}},
         "field 'PersistenceTimeout': must be an integer 0-3600"},
        {{{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
          {"AclStatus", "on"}, {"AclType", "white"}, {"AclEntries", {"10.0.0.0/40"}}},
         "field 'AclEntries[0]': must be an IPv4 or IPv6 address or prefix (a.b.c.d/len, 2001:db8::/32)"},
        {{{"Action", "SetLoadBalancerTCPListenerAttribute"}, {"VIP", "10.0.0.10"}, {"ListenerPort", 80},
          {"VServerGroupId", "rsp-1"}, {"MasterSlaveServerGroupId", "rsp-1"}},
         "field 'MasterSlaveServerGroupId': must name an existing master/slave group"},
        {{{"Action", "CreateMasterSlaveServerGroup"},
          {"MasterSlaveBackendServers", {{{"ServerId", "i-1"}, {"ServerIp", "10.0.0.21"}, {"Port", 80}, {"ServerType", "Master"}}}}},
         "field 'MasterSlaveBackendServers': must hold exactly two backends, one Master and one Slave"},
        {{{"Action", "Reboot"}}, "field 'Action': must be one of"},
        {json::array(), "field '<request>': must be a JSON object"},
    };
    for (const auto &[req, msg] : bad) {
        INFO(req.dump());
        json reply = svc.handle(req);
        CHECK(reply["Code"] == "InvalidParameter");
        CHECK_THAT(reply["Message"].get<std::string>(), Catch::StartsWith(msg));
        CHECK(config::instance_to_json(t.inst->config()).dump() == model);
        CHECK(read_text(state) == saved);
        CHECK(t.inst->current_snapshot().generation == gen);
    }
    // Text that is not a request: each gets its answer, and nothing changes.
    const std::vector<std::pair<std::string, std::string>> texts = {
        {"{ not json", "field '<request>': must be valid JSON (UTF-8)"},
        {"{\"Action\": \"AddBackendServers\", \"Description\": \"\xff\xfe\"}", "field '<request>': must be valid JSON (UTF-8)"},
        {std::string(100000, '[') + std::string(100000, ']'), "field '<request>': nests objects and arrays deeper than 64"},
        {"{\"Action\": \"" + std::string(2 << 20, 'x') + "\"}", "field '<request>': is 2097166 bytes; at most 1048576"},
        {"{\"Action\": 1}", "field 'Action': is required (a string)"},
        {"{\"Action\": null}", "field 'Action': is required (a string)"},
        {"{\"Action\": [\"AddBackendServers\"]}", "field 'Action': is required (a string)"},
        {"{}", "field 'Action': is required (a string)"},
        {"\"AddBackendServers\"", "field '<request>': must be a JSON object"},
    };
    for (const auto &[text, msg] : texts) {
        INFO(text.substr(0, 80));
        json reply = json::parse(svc.handle_text(text));
        CHECK(reply["Code"] == "InvalidParameter");
        CHECK(reply["Message"] == msg);
        CHECK(config::instance_to_json(t.inst->config()).dump() == model);
        CHECK(read_text(state) == saved);
    }
    // Wrong types in every kind of field are answered, never thrown.
    for (json v : {json(1), json(-1), json(1.5), json(true), json(nullptr), json::array(), json::object(), json("x"),
                   json(std::string(1000, 'a'))}) {
        for (const char *action : {"AddBackendServers", "CreateLoadBalancerTCPListener", "CreateVServerGroup",
                                   "SetLoadBalancerUDPListenerAttribute", "CreateMasterSlaveServerGroup",
                                   "DeleteLoadBalancerListener", "ModifyVServerGroupBackendServers"}) {
            for (const char *field : {"BackendServers", "VIP", "ListenerPort", "BackendServerPort", "Scheduler",
                                      "VServerGroupId", "VServerGroupName", "MasterSlaveBackendServers", "HealthCheck",
                                      "AclEntries", "SynProxy", "ListenerProtocol", "OldBackendServers"}) {
                json req{{"Action", action}, {field, v}};
                json reply = svc.handle(req);
                INFO(req.dump().substr(0, 200));
                CHECK(reply["Code"] != "InternalError");
            }
        }
    }
    // (Some of those are valid requests, e.g. a CreateVServerGroup with a stray field.)
    model = config::instance_to_json(t.inst->config()).dump();
    gen = t.inst->current_snapshot().generation;
    // A state file that cannot be written refuses the change too, and nothing is applied.
    control::service unwritable(*t.inst, "/nonexistent-dir/state.json");
    json reply = unwritable.handle({{"Action", "RemoveBackendServers"}, {"BackendServers", be("10.0.0.29", {{"ServerId", "i-9"}})}});
    CHECK(reply["Code"] == "InvalidParameter");
    CHECK_THAT(reply["Message"].get<std::string>(), Catch::Contains("--state-file"));
    CHECK(config::instance_to_json(t.inst->config()).dump() == model);
    CHECK(t.inst->current_snapshot().generation == gen);
    std::remove(state.c_str());
}
