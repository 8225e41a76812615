// Start-up failures are results: a worker allocation that fails comes back from
// deployment::create (and instance::create under it) as an error naming what and how
// much, never as an exception out of it (the daemon prints it and exits 2).
#include "harness.h"

#include "config/parse.h"

#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <fstream>
#include <functional>

using namespace fulcrum::test;

namespace {
// The process's address space now (VmSize, bytes).
size_t address_space() {
    std::ifstream in("/proc/self/status");
    std::string key;
    size_t kb = 0;
    while (in >> key)
        if (key == "VmSize:" && in >> kb) break;
    return kb * 1024;
}
} // namespace

TEST_CASE("a connection table that cannot be mapped is an error naming its size, not an exception", "[startup]") {
    ring_port port;
    auto cfg = base_config(port.name);
    cfg["conn_capacity"] = 1 << 24; // 1 GiB of connections, more than the limit below leaves
    auto parsed = fulcrum::config::parse_instance(cfg);
    REQUIRE(parsed);
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
    rlimit tight = old;
    tight.rlim_cur = address_space() + (size_t(256) << 20);
    REQUIRE(setrlimit(RLIMIT_AS, &tight) == 0);
    fulcrum::result<std::unique_ptr<fulcrum::deploy::deployment>> made = fulcrum::error{"", ""};
    CHECK_NOTHROW(made = fulcrum::deploy::deployment::create(parsed.value(), test_pool(), 1));
    setrlimit(RLIMIT_AS, &old);
    REQUIRE_FALSE(made);
    INFO(made.err().message());
    CHECK(made.err().field == "conn_capacity");
    CHECK_THAT(made.err().rule, Catch::Contains("worker 0 (16777216 connections)"));
    CHECK_THAT(made.err().rule, Catch::Contains("cannot map the connection table's connections (1073741824 bytes"));
}

TEST_CASE("every start-up-only setting changed on a running instance is refused, naming it, and changes nothing",
          "[startup][restart]") {
    lb t;
    std::vector<std::pair<std::string, std::function<void(nlohmann::json &)>>> changes = {
        {"workers", [](nlohmann::json &c) { c["workers"] = 2; }},
        {"conn_capacity", [](nlohmann::json &c) { c["conn_capacity"] = 8192; }},
        {"mbufs", [](nlohmann::json &c) { c["mbufs"] = 65535; }},
        {"exception_path", [](nlohmann::json &c) { c["exception_path"] = "on"; }},
        {"lport_range", [](nlohmann::json &c) { c["lport_range"] = "2000-50000"; }},
        {"probe_port_range", [](nlohmann::json &c) { c["probe_port_range"] = "62000-65000"; }},
        {"local_addresses", [](nlohmann::json &c) { c["local_addresses"].push_back("10.0.0.101"); }},
        {"ports[0]", [](nlohmann::json &c) { c["ports"][0]["mtu"] = 1400; }},
    };
    for (const auto &[field, change] : changes) {
        auto cfg = base_config("");
        change(cfg);
        auto r = t.apply(cfg);
        INFO(field);
        REQUIRE_FALSE(r);
        CHECK(r.err().message() == "field '" + field + "': cannot change while running (restart Fulcrum to change it)");
    }
    CHECK(t.inst->current_snapshot().generation == 1);
    auto live = base_config("");
    live["listeners"][0]["IdleTimeout"] = 77; // a live setting still applies
    CHECK(t.apply(live));
}
