// The Prometheus exposition is an interface (dashboards and alerts name its metrics):
// a fixed run through a real worker must render exactly the text in
// test/packet/golden/prometheus.txt, names, labels, help and values. The run touches
// every family of counters: a SYN-proxied TCP conversation with a PROXY v2 header, a
// UDP flow with one, ICMP echo, ARP, refusals and malformed frames, expiry.
//
// After a deliberate change of the exposition: FULCRUM_UPDATE_GOLDEN=1 rewrites the
// file, and the diff is reviewed like code.
#include "harness.h"

#include "deploy/stats.h"
#include "observe/observe.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace fulcrum::test;
using namespace fulcrum::test::conversation;

namespace {

const std::string golden_path = std::string(FULCRUM_SOURCE_ROOT) + "/test/packet/golden/prometheus.txt";

nlohmann::json golden_config() {
    auto cfg = base_config("", {1, 1});
    cfg["listeners"][0]["SynProxy"] = "on";
    cfg["listeners"][0]["ProxyProtocolV2Enabled"] = "on";
    cfg["listeners"][1]["ProxyProtocolV2Enabled"] = "on";
    return cfg;
}

void fixed_run(lb &t) {
    // TCP through the SYN proxy: cookie, ACK, the backend's handshake, data both ways, close.
    auto syn = from_client(t, SYN, 1000, 0);
    syn.tcp_options = {2, 4, 0x05, 0xb4};
    bytes synack = t.send_one(build_frame(syn));
    REQUIRE(synack.size() > 41);
    uint32_t cookie = seq_of(synack);
    REQUIRE(t.send({build_frame(from_client(t, ACK, 1001, cookie + 1))}).size() == 1); // backend SYN
    t.send({build_frame(from_backend(t, SYN | ACK, 5000, 1001))});                        // header + ACK
    t.send({build_frame(from_client(t, PSH | ACK, 1001, cookie + 1, "GET / HTTP/1.0\r\n\r\n"))});
    t.send({build_frame(from_backend(t, PSH | ACK, 5001, 1001 + 28 + 18, "HTTP/1.0 200 OK\r\n\r\n"))});
    t.send({build_frame(from_client(t, FIN | ACK, 1019, cookie + 20))});
    t.send({build_frame(from_backend(t, FIN | ACK, 5020, 1020 + 28))});

    // UDP: a datagram with its PROXY v2 header, and the reply.
    frame_spec q;
    q.dst_mac = t.port->mac(), q.src_mac = client_mac, q.proto = 17;
    q.src = client, q.dst = vip, q.sport = 41000, q.dport = 53, q.payload = "query";
    REQUIRE(t.send({build_frame(q)}).size() == 1);
    frame_spec a = q;
    a.dst_mac = t.port->mac(), a.src_mac = backend_mac(1);
    a.src = be0, a.dst = laddr, a.sport = 5353, a.dport = 1025, a.payload = "answer"; // the second lport
    REQUIRE(t.send({build_frame(a)}).size() == 1);

    // Local answers: ICMP echo to the VIP, ARP for it.
    frame_spec echo;
    echo.dst_mac = t.port->mac(), echo.src_mac = client_mac, echo.proto = 1;
    echo.src = client, echo.dst = vip, echo.payload = "ping";
    t.send({build_frame(echo)});
    const mac_t broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zero{};
    t.send({build_arp(1, broadcast, client_mac, client, zero, vip)});

    // Refusals and malformed frames, one of each kind.
    frame_spec none = from_client(t, SYN, 1, 0);
    none.dst = fulcrum::test::net::quiet_vip; // a VIP without listeners
    t.send({build_frame(none)});
    frame_spec no_conn = from_backend(t, ACK, 7, 7);
    no_conn.dport = 2000; // an lport nobody holds
    t.send({build_frame(from_client(t, ACK, 7, 7)), build_frame(no_conn)}); // a bad cookie; no connection
    bytes frag = build_frame(from_client(t, SYN, 2, 0));
    set16(frag, off::ip_frag, 0x2000); // more fragments
    fix_ip_checksum(frag);
    t.send({frag});
    bytes other = build_frame(from_client(t, SYN, 3, 0));
    other[0] = 0x02, other[5] = 0x99; // another host's MAC
    t.send({other, bytes(10, 0)});

    t.advance_seconds(400); // everything expires
}

} // namespace

TEST_CASE("the Prometheus exposition of a fixed run is exactly the golden file", "[observe][golden]") {
    lb t(golden_config());
    fixed_run(t);
    std::string text = fulcrum::observe::prometheus_text(fulcrum::deploy::collect_stats(*t.inst));
    if (const char *u = std::getenv("FULCRUM_UPDATE_GOLDEN"); u && *u == '1') {
        std::ofstream(golden_path) << text;
        WARN("rewrote " << golden_path);
    }
    std::ifstream in(golden_path);
    REQUIRE(in.good());
    std::stringstream want;
    want << in.rdbuf();
    // Line by line, so a failure names the first metric that differs.
    std::istringstream got_lines(text), want_lines(want.str());
    std::string g, w;
    unsigned line = 0;
    while (true) {
        bool more_g = bool(std::getline(got_lines, g)), more_w = bool(std::getline(want_lines, w));
        line++;
        if (!more_g && !more_w) break;
        INFO("line " << line);
        REQUIRE(g == w);
    }
    CHECK(text.size() == want.str().size());
}
