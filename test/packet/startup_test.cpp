// Start-up failures are results: a worker allocation that fails comes back from
// deployment::create (and instance::create under it) as an error naming what and how
// much, never as an exception out of it (the daemon prints it and exits 2).
#include "harness.h"

#include "config/parse.h"

#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <fstream>

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
