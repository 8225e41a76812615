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
    CHECK(r.value().next.default_server_group[0].ip == config::parse_ipv4("10.0.1.5", "").value());
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
