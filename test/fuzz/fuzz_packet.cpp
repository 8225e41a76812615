// libFuzzer target: frames into a real worker. The input is a run of frames, each
// prefixed by its length (2 bytes); they go into a net_ring port of a Fulcrum instance
// (the packet tests' harness: one worker, the standard test network, SynProxy and PROXY
// v2 on tcp/80 and PROXY v2 on udp/53, so cookies and headers are exercised too, and
// TOA on tcp/81) and the worker polls. Whatever comes out is taken; every
// frame must be forwarded, answered or counted, never crash or trip a sanitizer.
#include "../packet/harness.h"

#include <rte_eal.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

using namespace fulcrum;

namespace {
test::lb *box = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    std::string prefix = "--file-prefix=fulcrum_fuzz_" + std::to_string(getpid());
    const char *eal[] = {"fuzz_packet", "--no-huge", "-m", "512", "--no-pci", "-l", "0",
                         prefix.c_str(), "--log-level=*:error", "--no-telemetry"};
    if (rte_eal_init(sizeof(eal) / sizeof(eal[0]), const_cast<char **>(eal)) < 0) std::abort();
    auto cfg = test::base_config("", {1, 2});
    cfg["listeners"][0]["SynProxy"] = "on";
    cfg["listeners"][0]["MaxConnectionsPerSource"] = 1000;
    cfg["listeners"][0]["ProxyProtocolV2Enabled"] = "on";
    cfg["listeners"][1]["ProxyProtocolV2Enabled"] = "on";
    cfg["listeners"].push_back({{"VIP", "10.0.0.10"}, {"Protocol", "tcp"}, {"ListenerPort", 81},
                                {"BackendServerPort", 8080}, {"SynProxy", "off"}, {"ToaEnabled", "on"}});
    cfg["conn_capacity"] = 4096;
    // Segments of unknown connections are handed to two cluster peers (one resolved).
    cfg["cluster"] = {{"nodes", {"10.0.0.2", "10.0.0.3"}}, {"handoff_rate", 100000}};
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "10.0.0.2"}, {"mac", "02:00:00:00:00:72"}});
    // IPv6 beside it (test/fuzz/ipv6_seeds.py): VIP 2001:db8::10, tcp/80 and udp/53 to the
    // IPv4 backends (6->4), tcp/82 to [2001:db8::31] (6->6, its neighbour resolved by ND).
    cfg["ports"][0]["address6"] = "2001:db8::1/64";
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "2001:db8::50"}, {"mac", "02:00:00:00:00:50"}});
    cfg["vips"].push_back("2001:db8::10");
    cfg["local_addresses"].push_back("2001:db8::100");
    cfg["vserver_groups"] = {{{"VServerGroupId", "rsp-6"},
                              {"BackendServers", {{{"ServerId", "i-6"}, {"ServerIp", "2001:db8::31"}, {"Port", 8082}}}}}};
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 80}, {"BackendServerPort", 8080}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "udp"}, {"ListenerPort", 53}, {"BackendServerPort", 5353}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 82},
                                {"BackendServerPort", 1}, {"VServerGroupId", "rsp-6"}});
    box = new test::lb(cfg); // lives as long as the process
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<test::bytes> frames;
    for (size_t off = 0; off + 2 <= size && frames.size() < 32;) {
        size_t len = size_t(data[off]) << 8 | data[off + 1];
        off += 2;
        len = std::min(len, size - off);
        frames.emplace_back(data + off, data + off + len);
        off += len;
    }
    if (frames.empty()) frames.emplace_back(data, data + size);
    // A port delivers one frame per mbuf, at most its data room (2 KiB here).
    for (auto &f : frames) f.resize(std::clamp<size_t>(f.size(), 1, 1514));
    box->send(frames);
    box->advance_seconds(0.01); // timers, expiry, neighbour work
    return 0;
}
