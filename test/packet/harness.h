// Packet-test harness: a real Fulcrum instance on net_ring ports whose other ends the
// test holds. Frames go in through the rx ring, the worker's own poll_once() runs, and
// whatever the worker transmitted is read back from the tx ring as bytes.
#pragma once

#include "deploy/deployment.h"
#include "frames.h"

#include <nlohmann/json.hpp>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <memory>
#include <string>
#include <vector>

namespace fulcrum::test {

rte_mempool *test_pool();

// A net_ring ethdev (rte_eth_from_rings) with `queues` rx and tx rings.
struct ring_port {
    std::string name;
    rte_ring *rx = nullptr, *tx = nullptr; // queue 0
    std::vector<rte_ring *> rxs, txs;
    uint16_t port_id = 0;
    explicit ring_port(unsigned queues = 1);
    ~ring_port();
    void inject(const bytes &frame, unsigned queue = 0);
    // The queue a NIC with Fulcrum's key and the emulated RETA would choose (a port
    // configured "rss": "emulated"): the RSS split, done here as the NIC would.
    void inject_rss(const bytes &frame);
    std::vector<bytes> collect();
    mac_t mac() const;
};

// The standard one-armed test network on 10.0.0.0/24, which every packet test speaks
// (base_config() is its configuration):
//   port 10.0.0.1, VIP 10.0.0.10 (listeners tcp/80 -> 8080 and udp/53 -> 5353), VIP
//   10.0.0.11 (no listener), laddr 10.0.0.100 (lports from 1024), client 10.0.0.50,
//   backends 10.0.0.21.. with static neighbours, MACs by the last octet.
namespace net {
inline const uint32_t port_ip = ip("10.0.0.1"), vip = ip("10.0.0.10"), quiet_vip = ip("10.0.0.11"),
                      laddr = ip("10.0.0.100"), client = ip("10.0.0.50");
inline uint32_t backend(int i) { return ip("10.0.0.21") + uint32_t(i); }
constexpr uint16_t cport = 40000, vport = 80, bport = 8080, udp_vport = 53, udp_bport = 5353, first_lport = 1024;
constexpr mac_t client_mac{2, 0, 0, 0, 0, 0x50};
inline mac_t backend_mac(int i) { return {2, 0, 0, 0, 0, uint8_t(0x20 + i)}; }
} // namespace net
using net::backend_mac;
using net::client_mac;

// `s` framed between two MACs (what changes when a frame is handed on unchanged above L2).
inline bytes framed(frame_spec s, const mac_t &dst, const mac_t &src) {
    s.dst_mac = dst, s.src_mac = src;
    return build_frame(s);
}

// The standard network's configuration (net above), one backend per weight.
nlohmann::json base_config(const std::string &device, std::vector<int> weights = {1, 1, 1});

// TCP segments of the standard network's listener tcp/80 (the one frame family: every
// maker returns a frame_spec, build_frame makes the bytes): from a client to the VIP, and
// from a backend 10.0.0.2x:8080 to the laddr (its MAC by its last octet).
frame_spec client_segment(const mac_t &port_mac, uint32_t client, uint16_t cport, uint8_t flags, uint32_t seq,
                          uint32_t ack, std::string payload = {});
frame_spec backend_segment(const mac_t &port_mac, uint32_t backend, uint16_t lport, uint8_t flags, uint32_t seq,
                           uint32_t ack, std::string payload = {});

// For tests that stand for many clients with SYNs nobody completes: past
// syn_proxy_threshold half-open connections that is a flood, and SynProxy auto would
// answer with cookies (its behaviour is synproxy_test's). Turns it off on every TCP listener.
nlohmann::json without_syn_proxy(nlohmann::json cfg);

// A network namespace of the calling thread's own for the scope's life (real kernel
// interfaces in a test, nothing left in the host's; the thread's namespace comes back).
struct private_netns {
    int original = -1;
    bool ok = false;
    private_netns();
    ~private_netns();
};

struct lb {
    std::unique_ptr<ring_port> port;
    std::unique_ptr<deploy::deployment> inst;
    uint64_t clock;

    explicit lb(nlohmann::json cfg, uint32_t workers = 1);
    explicit lb(std::vector<int> weights = {1, 1, 1}) : lb(base_config("", weights)) {}
    ~lb();
    dataplane::worker &w(size_t i = 0) { return inst->worker_at(i); }
    void poll_all(); // one iteration of every worker, then flush
    // Inject frames, run one iteration, flush, return what was sent.
    std::vector<bytes> send(const std::vector<bytes> &frames);
    bytes send_one(const bytes &frame); // expects exactly one frame out (else empty)
    void advance_seconds(double s);     // move the worker's clock and run timers
    uint64_t drops(dataplane::drop d) const;
    // Apply a changed config (on this lb's port) the way the daemon does: deployment::apply.
    result<uint64_t> apply(nlohmann::json cfg);
};

// One TCP conversation of the standard network, as frames arrive and as they must leave:
// client 10.0.0.50:40000 -> VIP 10.0.0.10:80 becomes laddr 10.0.0.100:lport -> backend
// 10.0.0.21:8080 (only addressing and TTL change). fnat, synproxy and client_addr tests.
// UDP flows made streams (worker::udp_stream_after_s): each (datagram, its reply) sent
// four times 3.5 s apart, so datagrams go both ways 10.5 s after the flows began (and no
// IdleTimeout of 5 s lapses in between). Each must be forwarded.
void make_streams(lb &t, const std::vector<std::pair<bytes, bytes>> &exchanges);

namespace conversation {
inline const uint32_t client = net::client, vip = net::vip, laddr = net::laddr, be0 = net::backend(0);
frame_spec from_client(lb &t, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = "");
frame_spec from_backend(lb &t, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = "");
frame_spec to_backend(lb &t, frame_spec s, uint16_t lport = 1024);
frame_spec to_client(lb &t, frame_spec s);
conn::tcp_state state_of(lb &t); // of the conversation's connection (tcp_state::count: none)
// A TCP frame's sequence number (the SYN proxy's cookie, in its SYN-ACK).
inline uint32_t seq_of(const bytes &f) { return get32(f, off::tcp_seq); }
} // namespace conversation

} // namespace fulcrum::test
