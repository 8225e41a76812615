// No stale tuples after a start (deploy/lport_state.h): a new process's lport rotations go
// on where the last one's stood (exactly after a clean stop, past what the last second may
// have dealt after a crash), or start at random places.
#include "deploy/lport_state.h"
#include "harness.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

using namespace fulcrum;
using namespace fulcrum::test;
using namespace fulcrum::test::conversation;

namespace {
struct scratch_dir {
    std::string dir;
    scratch_dir() {
        char tmpl[] = "/tmp/fulcrum-lports.XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~scratch_dir() { std::system(("rm -rf " + dir).c_str()); }
};

// The lport of each of `n` new connections (one client, ports from `first`).
std::vector<uint16_t> lports_of(lb &t, uint16_t first, int n) {
    std::vector<uint16_t> out;
    for (int i = 0; i < n; i++) {
        auto syn = from_client(t, SYN, 1000, 0);
        syn.sport = uint16_t(first + i);
        bytes f = t.send_one(build_frame(syn));
        REQUIRE(!f.empty());
        out.push_back(get16(f, 34)); // the TCP source port toward the backend
    }
    return out;
}
} // namespace

TEST_CASE("a restart goes on with the lports where the last process left them", "[lport_state]") {
    scratch_dir d;
    const std::string file = d.dir + "/state.json.lports";
    auto cfg = without_syn_proxy(base_config("", {1}));
    std::vector<uint16_t> before, next;
    {
        lb a(cfg);
        deploy::lport_state keep(file);
        CHECK_THAT(keep.restore(*a.inst), Catch::Contains("no saved rotations"));
        before = lports_of(a, 30000, 10);
        std::string err;
        REQUIRE(keep.save(*a.inst, true, err)); // a clean stop
        // What this process would have dealt next (the rotation goes on).
        next = lports_of(a, 31000, 5);
    }
    {
        lb b(cfg);
        deploy::lport_state keep(file);
        CHECK_THAT(keep.restore(*b.inst), Catch::Contains("a clean stop"));
        // The next pairs are the ones the old process had not dealt: none of its ten.
        CHECK(lports_of(b, 32000, 5) == next);
    }
    {
        // Not a clean stop: the last save may be a second old, so the rotation also skips
        // twice what it dealt since the save before, and 64 more.
        lb c(cfg);
        deploy::lport_state keep(file);
        keep.restore(*c.inst);
        auto first = lports_of(c, 33000, 20);
        std::string err;
        REQUIRE(keep.save(*c.inst, false, err));
        auto dealt_after = lports_of(c, 34000, 1);
        lb e(cfg);
        deploy::lport_state again(file);
        CHECK_THAT(again.restore(*e.inst), Catch::Contains("not a clean stop"));
        auto resumed = lports_of(e, 35000, 1);
        // One rotation here (one worker, by share): 20 dealt since the last save, so 2 x 20 + 64 on.
        CHECK(resumed[0] == dealt_after[0] + 2 * 20 + deploy::lport_state::crash_margin);
    }
    // A changed layout (another lport range) is not resumed: random places.
    auto other = cfg;
    other["lport_range"] = "2000-50000";
    lb f(other);
    deploy::lport_state keep(file);
    CHECK_THAT(keep.restore(*f.inst), Catch::Contains("the saved layout differs"));
    (void)before;
}

TEST_CASE("without a saved state each rotation starts at a random place, not at its first lport", "[lport_state]") {
    auto cfg = without_syn_proxy(base_config("", {1}));
    std::set<uint16_t> firsts;
    for (int i = 0; i < 4; i++) {
        lb t(cfg);
        deploy::lport_state keep("");
        CHECK_THAT(keep.restore(*t.inst), Catch::Contains("random place"));
        firsts.insert(lports_of(t, 30000, 1)[0]);
    }
    CHECK(firsts.size() >= 3); // four starts, (almost surely) four places
    CHECK(firsts.count(1024) == 0);
}

TEST_CASE("a file that is not ours, or cut short, is ignored: random places", "[lport_state]") {
    scratch_dir d;
    const std::string file = d.dir + "/x.lports";
    std::ofstream(file) << "not a lport file";
    lb t(without_syn_proxy(base_config("", {1})));
    deploy::lport_state keep(file);
    CHECK_THAT(keep.restore(*t.inst), Catch::Contains("no saved rotations"));
    std::string err;
    REQUIRE(keep.save(*t.inst, true, err));
    std::string data;
    {
        std::ifstream in(file, std::ios::binary);
        data.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << data.substr(0, data.size() / 2);
    lb u(without_syn_proxy(base_config("", {1})));
    deploy::lport_state again(file);
    CHECK_THAT(again.restore(*u.inst), Catch::Contains("no saved rotations"));
    deploy::lport_state unwritable("/nonexistent-dir/x.lports");
    CHECK_FALSE(unwritable.save(*u.inst, true, err));
    CHECK_THAT(err, Catch::Contains("cannot write /nonexistent-dir/x.lports"));
}
