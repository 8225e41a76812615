// Scale-out on one node: the VIPs the service asks the BGP speaker to announce follow the
// snapshot (a listener with a backend that takes new connections) and the node's drain;
// the speaker learns them from the include file and a reload command that really runs.
#include "control/service.h"
#include "harness.h"
#include "ipv6_frames.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <csignal>
#include <pthread.h>
#include <sys/stat.h>

using namespace fulcrum;
using namespace fulcrum::test;
using namespace fulcrum::test::conversation;
using nlohmann::json;

namespace {
std::string read_text(const std::string &path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

struct speaker_files {
    std::string dir;
    speaker_files() {
        char tmpl[] = "/tmp/fulcrum-announce.XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~speaker_files() { std::system(("rm -rf " + dir).c_str()); }
    std::string vips() const { return dir + "/vips.conf"; }
    std::string reloads() const { return dir + "/reloads.log"; }
};

// What a reload saw: the include file's routes at each reload, one line per reload.
json bgp_config(const speaker_files &f, const char *exit_code = "0") {
    auto cfg = base_config("", {1, 1});
    cfg["bgp"] = {{"include_file", f.vips()},
                  {"reload_command", {"sh", "-c", "grep -o 'route [0-9./]*' " + f.vips() + " | tr '\\n' ' ' >> " +
                                                      f.reloads() + "; echo >> " + f.reloads() + "; exit " + exit_code}}};
    return cfg;
}

// Polls the service (as the control loop does) until the reload log has `n` lines (and,
// when `settle`, no reload runs or waits).
std::vector<std::string> reloads_seen(control::service &svc, const speaker_files &f, size_t n, bool settle = true) {
    std::vector<std::string> lines;
    for (int i = 0; i < 400; i++) {
        svc.poll();
        lines.clear();
        std::ifstream in(f.reloads());
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        if (lines.size() >= n && (!settle || (!svc.bgp().state().reloading && !svc.bgp().state().pending))) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return lines;
}
} // namespace

TEST_CASE("the speaker is told the VIPs with a backend up; drain withdraws them all and keeps connections",
          "[announce][service]") {
    speaker_files f;
    lb t(bgp_config(f));
    control::service svc(*t.inst, "");
    // 10.0.0.10 has listeners with backends; 10.0.0.11 has none, so it is not announced.
    CHECK(read_text(f.vips()).find("route 10.0.0.10/32 blackhole;\n") != std::string::npos);
    CHECK(read_text(f.vips()).find("10.0.0.11") == std::string::npos);
    auto seen = reloads_seen(svc, f, 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "route 10.0.0.10/32 ");

    // A live connection, then drain: the VIP goes, the connection stays and keeps forwarding.
    auto syn = from_client(t, SYN, 1000, 0);
    REQUIRE(t.send({build_frame(syn)}).size() == 1);
    auto drained = svc.handle({{"Action", "SetNodeDrain"}, {"Drain", "on"}});
    REQUIRE(drained["Code"] == "Success");
    CHECK(drained["Drain"] == "on");
    CHECK(drained["AnnouncedVips"].empty());
    CHECK(drained["ActiveConnections"] == 1);
    seen = reloads_seen(svc, f, 2);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].empty());
    CHECK(read_text(f.vips()).find("route") == std::string::npos);
    auto synack = from_backend(t, SYN | ACK, 5000, 1001);
    CHECK(hex(t.send_one(build_frame(synack))) == hex(build_frame(to_client(t, synack))));
    t.poll_all();
    json status = svc.handle({{"Action", "DescribeNodeStatus"}});
    CHECK(status["Drain"] == "on");
    CHECK(status["ActiveConnections"] == 1);
    CHECK(status["Speaker"]["Reloads"] == 2);
    CHECK(status["Speaker"]["LastError"] == "");
    CHECK(t.inst->config().node_drain); // kept in the model: a restart comes back drained

    // Undrained: announced again.
    REQUIRE(svc.handle({{"Action", "SetNodeDrain"}, {"Drain", "off"}})["Code"] == "Success");
    seen = reloads_seen(svc, f, 3);
    REQUIRE(seen.size() == 3);
    CHECK(seen[2] == "route 10.0.0.10/32 ");
    CHECK(svc.handle({{"Action", "SetNodeDrain"}, {"Drain", "maybe"}})["Message"] ==
          "field 'Drain': must be one of on, off");
}

TEST_CASE("the reload command also gets the set in FULCRUM_VIPS", "[announce][service]") {
    speaker_files f;
    auto cfg = bgp_config(f);
    cfg["bgp"]["reload_command"] = {"sh", "-c", "echo \"[$FULCRUM_VIPS]\" >> " + f.reloads()};
    cfg["vips"].push_back("10.0.0.12");
    cfg["listeners"].push_back({{"VIP", "10.0.0.12"}, {"Protocol", "udp"}, {"ListenerPort", 53}, {"BackendServerPort", 53}});
    ::setenv("FULCRUM_VIPS", "stale", 1); // Fulcrum's own environment never leaks through
    lb t(cfg);
    control::service svc(*t.inst, "");
    auto seen = reloads_seen(svc, f, 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "[10.0.0.10/32 10.0.0.12/32]");
    REQUIRE(svc.handle({{"Action", "SetNodeDrain"}, {"Drain", "on"}})["Code"] == "Success");
    seen = reloads_seen(svc, f, 2);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1] == "[]");
    ::unsetenv("FULCRUM_VIPS");
}

TEST_CASE("IPv6 VIPs go to include_file6 as /128 routes, and with the IPv4 ones in FULCRUM_VIPS", "[announce][service][ipv6]") {
    speaker_files f;
    auto cfg = dual_config();
    std::string v6file = f.dir + "/vips6.conf";
    cfg["bgp"] = {{"include_file", f.vips()}, {"include_file6", v6file},
                  {"reload_command", {"sh", "-c", "echo \"[$FULCRUM_VIPS]\" >> " + f.reloads()}}};
    lb t(cfg);
    control::service svc(*t.inst, "");
    auto seen = reloads_seen(svc, f, 1);
    REQUIRE(seen.size() == 1);
    // 2001:db8::10 has listeners with backends (6->4 and 6->6); 2001:db8::11 has none.
    CHECK(seen[0] == "[10.0.0.10/32 2001:db8::10/128]");
    CHECK(read_text(v6file) == "# Written by Fulcrum: the VIPs this node serves (none while it is drained). Do not edit.\n"
                               "route 2001:db8::10/128 blackhole;\n");
    CHECK(read_text(f.vips()).find("route 10.0.0.10/32 blackhole;\n") != std::string::npos);
    CHECK(read_text(f.vips()).find("2001:") == std::string::npos); // one family per file
    json status = svc.handle({{"Action", "DescribeNodeStatus"}});
    CHECK(status["AnnouncedVips"] == json::array({"10.0.0.10", "2001:db8::10"}));
    REQUIRE(svc.handle({{"Action", "SetNodeDrain"}, {"Drain", "on"}})["Code"] == "Success");
    seen = reloads_seen(svc, f, 2);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1] == "[]");
    CHECK(read_text(v6file).find("route") == std::string::npos);
}

TEST_CASE("a VIP stays announced while one backend can serve, and is withdrawn when none can",
          "[announce][service]") {
    speaker_files f;
    lb t(bgp_config(f));
    control::service svc(*t.inst, "");
    REQUIRE(reloads_seen(svc, f, 1).size() == 1);
    auto weights = [&](int a, int b) {
        return svc.handle({{"Action", "SetBackendServers"},
                           {"BackendServers", {{{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Weight", a}},
                                               {{"ServerId", "i-1"}, {"ServerIp", "10.0.0.22"}, {"Weight", b}}}}});
    };
    REQUIRE(weights(0, 1)["Code"] == "Success"); // one left: nothing changes for the speaker
    svc.poll();
    CHECK(svc.bgp().state().reloads == 1);
    CHECK(svc.bgp().state().announced.size() == 1);
    REQUIRE(weights(0, 0)["Code"] == "Success"); // none: withdrawn
    auto seen = reloads_seen(svc, f, 2);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].empty());
    REQUIRE(weights(3, 0)["Code"] == "Success");
    seen = reloads_seen(svc, f, 3);
    REQUIRE(seen.size() == 3);
    CHECK(seen[2] == "route 10.0.0.10/32 ");
}

TEST_CASE("a reload that fails is counted, named and tried again", "[announce][service]") {
    speaker_files f;
    lb t(bgp_config(f, "3"));
    control::service svc(*t.inst, "");
    auto seen = reloads_seen(svc, f, 2, false); // the first, then a retry a second later
    for (int i = 0; i < 50 && svc.bgp().state().reloading; i++) { // the second's exit status
        svc.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(seen.size() >= 2);
    const auto &st = svc.bgp().state();
    CHECK(st.failures >= 2);
    CHECK(st.last_error == "sh failed (exit 3)");
    json status = svc.handle({{"Action", "DescribeNodeStatus"}});
    CHECK(status["Speaker"]["LastError"] == "sh failed (exit 3)");
}

TEST_CASE("an include file that cannot be written is an error the service reports, not a crash",
          "[announce][service]") {
    auto cfg = base_config("", {1});
    cfg["bgp"] = {{"include_file", "/nonexistent-dir/fulcrum/vips.conf"}};
    lb t(cfg);
    control::service svc(*t.inst, "");
    json status = svc.handle({{"Action", "DescribeNodeStatus"}});
    CHECK(status["AnnouncedVips"] == json::array({"10.0.0.10"}));
    CHECK(status["Speaker"]["LastError"].get<std::string>().rfind("cannot write /nonexistent-dir/fulcrum/vips.conf", 0) == 0);
}

TEST_CASE("a reload that hangs is killed after 5 s and tried again; a reload sees no descriptor of Fulcrum's",
          "[announce][service]") {
    speaker_files f;
    auto cfg = base_config("", {1});
    // Records what its open descriptors point at, then hangs.
    cfg["bgp"] = {{"include_file", f.vips()},
                  {"reload_command", {"sh", "-c", "for d in /proc/$$/fd/*; do readlink $d; done >> " + f.reloads() +
                                                      "; exec sleep 60"}}};
    lb t(cfg);
    control::service svc(*t.inst, "");
    for (int i = 0; i < 800 && svc.bgp().state().failures == 0; i++) {
        svc.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(svc.bgp().state().failures == 1);
    CHECK(svc.bgp().state().last_error == "sh failed (killed after 5 s)");
    std::string seen = read_text(f.reloads());
    INFO(seen);
    CHECK_FALSE(seen.empty());
    // Only what sh itself holds (the test's stdio, the directory it reads): none of the
    // process's sockets, epoll/event descriptors or hugepage files.
    for (const char *leak : {"socket:", "anon_inode:", "hugepages", "memfd:"}) CHECK(seen.find(leak) == std::string::npos);
}

TEST_CASE("a reload starts with no signal blocked or ignored; the include file is 0644 whatever the umask",
          "[announce][service]") {
    speaker_files f;
    auto cfg = base_config("", {1});
    cfg["bgp"] = {{"include_file", f.vips()},
                  {"reload_command", {"sh", "-c", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status >> " + f.reloads()}}};
    // (exec: grep reads its own state, as the reload command got it; the shell blocks
    // signals around its own forks)
    // As the control loop runs: SIGTERM, SIGINT, SIGHUP, SIGUSR1 blocked for signalfd, SIGPIPE ignored.
    sigset_t block, old;
    sigemptyset(&block);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&block, s);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
    mode_t old_umask = ::umask(077);
    lb t(cfg);
    control::service svc(*t.inst, "");
    auto seen = reloads_seen(svc, f, 2);
    ::umask(old_umask);
    std::signal(SIGPIPE, old_pipe);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == "SigBlk:\t0000000000000000");
    uint64_t ignored = std::stoull(seen[1].substr(seen[1].find('\t') + 1), nullptr, 16);
    CHECK((ignored & (1ull << (SIGPIPE - 1))) == 0);
    struct stat st {};
    REQUIRE(::stat(f.vips().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
}

TEST_CASE("the include file is never written through a link left at its temporary name", "[announce][service]") {
    speaker_files f;
    std::string victim = f.dir + "/victim";
    REQUIRE(::symlink(victim.c_str(), (f.vips() + ".tmp").c_str()) == 0);
    auto cfg = base_config("", {1});
    cfg["bgp"] = {{"include_file", f.vips()}};
    lb t(cfg);
    control::service svc(*t.inst, "");
    svc.poll();
    CHECK(svc.bgp().state().failures >= 1);
    CHECK(::access(victim.c_str(), F_OK) != 0);
    CHECK(::access(f.vips().c_str(), F_OK) != 0);
}

TEST_CASE("a clean stop withdraws every VIP and waits for the speaker before the data plane stops",
          "[announce][service]") {
    speaker_files f;
    lb t(bgp_config(f));
    control::service svc(*t.inst, "");
    auto seen = reloads_seen(svc, f, 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "route 10.0.0.10/32 ");
    svc.withdraw_for_stop(3.0, 0.0);
    // When it returns the speaker has reloaded with nothing announced (no poll since).
    CHECK(read_text(f.reloads()) == "route 10.0.0.10/32 \n\n");
    CHECK_FALSE(svc.bgp().state().reloading);
    CHECK(read_text(f.vips()).find("route") == std::string::npos);
}
