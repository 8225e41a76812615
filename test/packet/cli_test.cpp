// The prompt's commands against a running instance on net_ring ports: each command's
// output is read back and checked, and changes made at the prompt are checked in the
// applied model (they take the socket API's path).
#include "cli/cli.h"
#include "config/parse.h"
#include "harness.h"
#include "ipv6_frames.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>

using namespace fulcrum;
using namespace fulcrum::test;
using nlohmann::json;

namespace {
// Runs prompt commands and returns what each printed.
struct prompt {
    lb &t;
    control::service svc;
    cli::env env;
    cli::session session;
    explicit prompt(lb &l) : t(l), svc(*l.inst, ""), env{svc, *l.inst}, session(env) {}
    std::string run(const std::string &line, bool *ok = nullptr) {
        FILE *f = std::tmpfile();
        bool parsed = session.run_line(line, fileno(f));
        if (ok) *ok = parsed;
        std::fflush(f);
        std::rewind(f);
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        std::fclose(f);
        return out;
    }
};

bytes syn(lb &t, uint32_t src, uint16_t sport) {
    frame_spec s;
    s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src = src, s.dst = test::net::vip, s.sport = sport, s.dport = 80, s.tcp_flags = SYN;
    return build_frame(s);
}

// The "share" and "asks" columns of a backend's row in `show stats backends`.
std::pair<double, double> shares(const std::string &out, const std::string &address) {
    std::smatch m;
    std::regex row(address + R"(\s+\d+\s+\d+\s+([\d.]+)%\s+([\d.]+)%)");
    if (!std::regex_search(out, m, row)) return {-1, -1};
    return {std::stod(m[1]), std::stod(m[2])};
}
} // namespace

TEST_CASE("after 10,000 flows over weights 1/3, show stats backends prints shares 25/75 beside the weights' shares",
          "[cli]") {
    auto cfg = without_syn_proxy(base_config("", {1, 3}));
    cfg["conn_capacity"] = 16384;
    lb t(cfg);
    prompt p(t);
    for (int batch = 0; batch < 10; batch++) {
        std::vector<bytes> frames;
        for (int i = 0; i < 1000; i++) frames.push_back(syn(t, test::net::client, uint16_t(10000 + batch * 1000 + i)));
        REQUIRE(t.send(frames).size() == 1000);
    }
    std::string out = p.run("show stats backends");
    INFO(out);
    auto [s1, w1] = shares(out, "10.0.0.21:8080");
    auto [s2, w2] = shares(out, "10.0.0.22:8080");
    CHECK(std::abs(s1 - 25.0) <= 2.0);
    CHECK(std::abs(s2 - 75.0) <= 2.0);
    CHECK(w1 == 25.0);
    CHECK(w2 == 75.0);
    CHECK_THAT(out, Catch::Contains("tcp 10.0.0.10:80"));

    out = p.run("show stats listeners");
    CHECK(std::regex_search(out, std::regex(R"(tcp 10\.0\.0\.10:80\s+10000\s+10000\s+10000\s+0)")));
    out = p.run("show stats workers");
    CHECK_THAT(out, Catch::Contains("connections created 10000"));
    CHECK_THAT(out, Catch::Contains("table 10000/16384"));
    CHECK_THAT(out, Catch::Contains("(snapshot 1)"));
    out = p.run("show conn count");
    CHECK_THAT(out, Catch::Contains("total: 10000 connections"));
    out = p.run("show conn backend 10.0.0.21 limit 3");
    CHECK_THAT(out, Catch::Contains("3 connection(s) shown of"));
    CHECK(std::regex_search(out, std::regex(R"(tcp\s+10\.0\.0\.50:\d+\s+10\.0\.0\.10:80\s+10\.0\.0\.100:\d+\s+10\.0\.0\.21:8080\s+SYN_SENT)")));
    out = p.run("show conn state ESTABLISHED");
    CHECK_THAT(out, Catch::Contains("0 connection(s) shown of 0 matching"));
    CHECK_THAT(p.run("show conn colour blue"), Catch::Contains("Bad arguments: show conn colour blue"));
    CHECK_THAT(p.run("show conn port 80 colour blue"), Catch::Contains("Error: unknown filter 'colour'"));

    out = p.run("clear stats");
    out = p.run("show stats backends");
    CHECK(shares(out, "10.0.0.21:8080").first == 0.0);
    CHECK_THAT(p.run("show stats workers"), Catch::Contains("connections created 0"));
    CHECK_THAT(p.run("show conn count"), Catch::Contains("total: 10000 connections")); // a gauge stays
}

TEST_CASE("every prompt command prints what it shows, and changes go through the control path", "[cli]") {
    auto cfg = base_config("", {1, 1});
    cfg["vserver_groups"] = {{{"VServerGroupId", "rsp-1"}, {"VServerGroupName", "api"},
                              {"BackendServers", {{{"ServerId", "i-0"}, {"ServerIp", "10.0.0.21"}, {"Port", 9000}}}}}};
    lb t(cfg);
    prompt p(t);
    bool ok = false;

    std::string out = p.run("help", &ok);
    CHECK(ok);
    for (const char *syntax : {"show port stats|info all", "show listener <vip> tcp|udp <port>", "show backends health",
                               "set weight <default|group id> <ip> <port> <weight 0-100>", "show conn count", "quit"})
        CHECK_THAT(out, Catch::Contains(syntax));
    CHECK_THAT(p.run("show port info all"), Catch::Contains("port 0 (p0)") && Catch::Contains("exception path: off") &&
                                                 Catch::Contains("reply steering: single (one worker)"));
    CHECK_THAT(p.run("show port stats 0"), Catch::Contains("RX-packets:"));
    CHECK_THAT(p.run("show port stats 7"), Catch::Contains("Error: no port 7"));
    out = p.run("show listeners");
    CHECK(std::regex_search(out, std::regex(R"(tcp\s+10\.0\.0\.10:80\s+-> default\s+wrr\s+backends 2/2 up)")));
    CHECK(std::regex_search(out, std::regex(R"(udp\s+10\.0\.0\.10:53)")));
    out = p.run("show listener 10.0.0.10 tcp 80");
    CHECK_THAT(out, Catch::Contains("\"ListenerPort\": 80") && Catch::Contains("10.0.0.22:8080"));
    CHECK_THAT(p.run("show listener 10.0.0.10 tcp 81"), Catch::Contains("Error: no tcp listener on 10.0.0.10:81"));
    out = p.run("show groups");
    CHECK(std::regex_search(out, std::regex(R"(rsp-1\s+vserver\s+api\s+1\s+0)")));
    CHECK_THAT(p.run("show group rsp-1"), Catch::Contains("\"Port\": 9000"));
    CHECK_THAT(p.run("show group rsp-9"), Catch::Contains("Error: field 'VServerGroupId': no vserver group 'rsp-9'"));
    CHECK_THAT(p.run("show backends"), Catch::Contains("i-1") && Catch::Contains("10.0.0.22:8080"));
    CHECK_THAT(p.run("show backends health"), Catch::Contains("health check off"));

    // Changes: the same path as the socket API.
    CHECK_THAT(p.run("set weight default 10.0.0.22 0 7"), Catch::Contains("Success: SetBackendServers applied, snapshot generation 2"));
    CHECK(t.inst->config().default_server_group[1].weight == 7);
    CHECK_THAT(p.run("set weight default 10.0.0.99 0 7"), Catch::Contains("Error: no backend 10.0.0.99:0 in group 'default'"));
    CHECK_THAT(p.run("set weight rsp-1 10.0.0.21 9000 0"), Catch::Contains("SetVServerGroupAttribute applied"));
    CHECK(t.inst->config().vserver_groups[0].backends[0].weight == 0);
    CHECK_THAT(p.run("add backend rsp-1 i-5 10.0.0.25 9000 30"), Catch::Contains("AddVServerGroupBackendServers applied"));
    CHECK(t.inst->config().vserver_groups[0].backends.size() == 2);
    CHECK_THAT(p.run("set listener 10.0.0.10 tcp 80 ProxyProtocolV2Enabled on"),
               Catch::Contains("SetLoadBalancerTCPListenerAttribute applied"));
    CHECK(t.inst->config().listeners[0].proxy_protocol_v2);
    CHECK_THAT(p.run("show listener 10.0.0.10 tcp 80"), Catch::Contains("\"ProxyProtocolV2Enabled\": \"on\""));
    CHECK_THAT(p.run("set listener 10.0.0.10 tcp 80 ToaEnabled on"),
               Catch::Contains("Error: field 'ToaEnabled': must be off while ProxyProtocolV2Enabled is on"));
    CHECK_THAT(p.run("set listener 10.0.0.10 udp 53 ToaEnabled on"),
               Catch::Contains("Error: field 'ToaEnabled': applies to TCP listeners only"));
    CHECK_THAT(p.run("set listener 10.0.0.10 tcp 81 SynProxy on"), Catch::Contains("Error: field 'ListenerPort'"));
    CHECK_FALSE(t.inst->config().listeners[0].toa);
    CHECK_THAT(p.run("set node drain on"), Catch::Contains("SetNodeDrain applied"));
    CHECK_THAT(p.run("show node"), Catch::Contains("\"Drain\": \"on\"") && Catch::Contains("\"AnnouncedVips\": []"));
    CHECK_THAT(p.run("set node drain off"), Catch::Contains("SetNodeDrain applied"));
    CHECK_THAT(p.run("show node"), Catch::Contains("\"AnnouncedVips\": [\n    \"10.0.0.10\""));
    CHECK_THAT(p.run("add backend rsp-1 i-5 10.0.0.25 9000 30"), Catch::Contains("Error: field 'BackendServers[0]': backend i-5 10.0.0.25:9000 is already in the group"));
    CHECK_THAT(p.run("add backend default i-6 10.0.0.26 0 101"),
               Catch::Contains("Error: field 'BackendServers[0].Weight': must be an integer 0-100"));
    CHECK_THAT(p.run("add backend default i-6 10.0.0.26 0 300"), Catch::Contains("Bad arguments"));
    CHECK_THAT(p.run("remove backend rsp-1 10.0.0.25 9000"), Catch::Contains("RemoveVServerGroupBackendServers applied"));
    CHECK(t.inst->config().vserver_groups[0].backends.size() == 1);
    CHECK_THAT(p.run("create vserver-group web"), Catch::Contains("Success: vserver group rsp-2 (web) created"));
    CHECK(t.inst->config().vserver_groups.size() == 2);

    // apply: one action or a list of them, from a JSON file.
    std::string file = "/tmp/fulcrum-cli-apply-" + std::to_string(::getpid()) + ".json";
    std::ofstream(file) << R"([{"Action":"DeleteVServerGroup","VServerGroupId":"rsp-2"},
                               {"Action":"DeleteVServerGroup","VServerGroupId":"rsp-2"}])";
    out = p.run("apply " + file);
    CHECK_THAT(out, Catch::Contains("Success: DeleteVServerGroup applied") &&
                        Catch::Contains("Error: field 'VServerGroupId': no vserver group 'rsp-2'"));
    CHECK(t.inst->config().vserver_groups.size() == 1);
    CHECK_THAT(p.run("apply /nonexistent.json"), Catch::Contains("Error: field 'apply': cannot open file"));
    // load: a command file, each line echoed after the prompt.
    std::ofstream(file) << "# comment\nshow groups\n\nset weight default 10.0.0.21 0 3\n";
    out = p.run("load " + file);
    CHECK_THAT(out, Catch::Contains("fulcrum> show groups\n") && Catch::Contains("fulcrum> set weight default 10.0.0.21 0 3\n"));
    CHECK(t.inst->config().default_server_group[0].weight == 3);
    std::remove(file.c_str());

    out = p.run("show config");
    auto shown = json::parse(out, nullptr, false);
    REQUIRE_FALSE(shown.is_discarded());
    CHECK(shown == config::instance_to_json(t.inst->config()));

    CHECK_THAT(p.run("set log fulcrum.* debug"), Catch::Contains("log level of fulcrum.*: debug"));
    CHECK_THAT(p.run("set log fulcrum.* loud"), Catch::Contains("Error: level must be one of"));
    CHECK_THAT(p.run("frobnicate", &ok), Catch::Contains("Command not found: frobnicate"));
    CHECK_FALSE(ok);
    CHECK_FALSE(p.env.quit);
    CHECK_THAT(p.run("quit"), Catch::Contains("stopping Fulcrum"));
    CHECK(p.env.quit);
}

TEST_CASE("careless prompt input: a FIFO, /dev/zero, a file that loads itself, an over-long line, a name that is not "
          "UTF-8 — each refused with a message, the model unchanged", "[cli]") {
    lb t;
    prompt p(t);
    uint64_t gen = t.inst->current_snapshot().generation;
    std::string dir = "/tmp/fulcrum-cli-careless-" + std::to_string(::getpid());
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    std::string fifo = dir + "/fifo", self = dir + "/self.cmds";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // A FIFO nobody writes to would block the control thread on open or read.
    CHECK(p.run("load " + fifo).find("is not a regular file") != std::string::npos);
    CHECK(p.run("apply " + fifo).find("is not a regular file") != std::string::npos);
    // /dev/zero never ends.
    CHECK(p.run("load /dev/zero").find("is not a regular file") != std::string::npos);
    CHECK(p.run("apply /dev/zero").find("is not a regular file") != std::string::npos);
    // A command file that loads itself stops 8 deep.
    std::ofstream(self) << "show stats workers\nload " << self << "\n";
    std::string out = p.run("load " + self);
    CHECK(out.find("nest deeper than 8") != std::string::npos);
    size_t shown = 0;
    for (size_t at = out.find("fulcrum> show stats workers"); at != std::string::npos; at = out.find("fulcrum> show stats workers", at + 1)) shown++;
    CHECK(shown == 8);
    // A line longer than the prompt takes.
    bool ok = true;
    CHECK(p.run("show " + std::string(5000, 'x'), &ok).find("a command line of 5005 characters") != std::string::npos);
    CHECK_FALSE(ok);
    // A vserver group name that is not UTF-8 text never reaches the model.
    CHECK(p.run("create vserver-group bad\xff\xfename").find("must hold only UTF-8 text") != std::string::npos);
    CHECK(t.inst->config().vserver_groups.empty());
    CHECK(t.inst->current_snapshot().generation == gen);
    ::unlink(fifo.c_str());
    ::unlink(self.c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("show conn lists IPv6 connections by their IPv6 addresses and filters by either family", "[cli][ipv6]") {
    lb t(without_syn_proxy(dual_config()));
    prompt p(t);
    for (uint16_t i = 0; i < 3; i++) { // 6->4 on tcp/80, 6->6 on tcp/81
        auto s = from_client6(t, 6, i < 2 ? 80 : 81, SYN, 1000, 0);
        s.sport = uint16_t(40000 + i);
        REQUIRE(t.send({build_frame(s)}).size() == 1);
    }
    REQUIRE(t.send({syn(t, test::net::client, 50000)}).size() == 1); // and one IPv4 connection
    std::string out = p.run("show conn client 2001:db8::50");
    INFO(out);
    CHECK_THAT(out, Catch::Contains("3 connection(s) shown of 3 matching"));
    CHECK(std::regex_search(out, std::regex(R"(tcp\s+\[2001:db8::50\]:40000\s+\[2001:db8::10\]:80\s+10\.0\.0\.100:\d+\s+10\.0\.0\.2[12]:8080\s+SYN_SENT)")));
    CHECK(std::regex_search(out, std::regex(R"(tcp\s+\[2001:db8::50\]:40002\s+\[2001:db8::10\]:81\s+\[2001:db8::100\]:\d+\s+\[2001:db8::31\]:8081\s+SYN_SENT)")));
    CHECK_THAT(p.run("show conn backend 2001:db8::31"), Catch::Contains("1 connection(s) shown of 1 matching"));
    CHECK_THAT(p.run("show conn vip 2001:db8::10 port 80"), Catch::Contains("2 connection(s) shown of 2 matching"));
    CHECK_THAT(p.run("show conn vip 10.0.0.10"), Catch::Contains("1 connection(s) shown of 1 matching"));
    CHECK_THAT(p.run("show conn client 2001:db8::51"), Catch::Contains("0 connection(s) shown of 0 matching"));
    CHECK_THAT(p.run("show conn client 2001:db8::zz"), Catch::Contains("Error: client must be an IPv4 or IPv6 address"));
}
