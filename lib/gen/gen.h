// fulcrum-gen's engine: a pktgen-style traffic generator and backend emulator.
//
//   client port:  emulated clients (cip:cport -> VIP:vport) open flows and send on them;
//   server port:  answers as the backends whatever full-NAT delivered there (from a laddr):
//                 SYN -> SYN-ACK, FIN -> FIN-ACK, data -> echoed (request/response) or
//                 counted (stream). Both ends are stateless: every answer is computed from
//                 the frame it answers (see server_isn), so 10M flows cost no memory here.
//
// Scenarios:
//   stream  established-flow forwarding: every flow is opened once (setup: TCP handshake,
//           UDP first datagram), then data frames go round the flows as fast as the path
//           takes them; the server side counts what arrived (one direction).
//   rr      request/response: as stream, but the server echoes each data frame and the
//           client times the round trip (the TSC stamp in the frame).
//   cps     connection rate: each new connection is SYN, SYN-ACK, ACK, FIN, FIN-ACK, ACK
//           (six frames through the device); a connection counts when the client sees
//           the server's FIN-ACK. Tuples cycle over `flows` client ports.
//
// Flood (with stream): beside the established flows' data (at --rate), spoofed frames go
// out as fast as the port takes them: SYNs (syn) or one-datagram UDP flows (udp) from
// random sources in 172.16.0.0/12, or (flood_v6) from random sources in 2001:db8:99::/64
// to an IPv6 VIP. The backends count the flood frames that reach them;
// the clients count the answers addressed to spoofed sources (SYN cookies, resets).
//
// Loss is counted, not guessed: frames the client port accepted minus what arrived.
#pragma once

#include "gen/frame.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::gen {

enum class scenario { stream, rr, cps };
enum class flood_kind { none, syn, udp };

// The spoofed sources of a flood: 172.16.0.0/12, any port from 1024; IPv6: 2001:db8:99::/64.
constexpr uint32_t flood_net = 0xac100000u, flood_mask = 0xfff00000u;
constexpr std::array<uint8_t, 8> flood_net6{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x99, 0, 0};

struct settings {
    scenario mode = scenario::rr;
    frame_spec frame;       // protocol, VIP, client tuple space, our client MAC and the DUT's
    uint32_t flows = 1000;  // concurrent flows (stream, rr); distinct tuples in turn (cps)
    uint16_t frame_size = 64;
    uint8_t server_mac[6]{}; // our backend side's MAC
    flood_kind flood = flood_kind::none;
    uint16_t flood_port = 53; // the flood's destination port (the VIP's)
    bool flood_v6 = false;    // the flood is IPv6, to flood_vip6 (the flows stay IPv4)
    std::array<uint8_t, 16> flood_vip6{};
};

// Round-trip times in log-linear buckets: 16 per power of two (6% resolution).
struct latency_histogram {
    static constexpr unsigned sub = 16;
    std::array<uint64_t, 64 * sub> buckets{};
    uint64_t count = 0, sum_ns = 0;
    void add(uint64_t ns);
    uint64_t percentile_ns(double p) const; // upper bound of the bucket holding it
};

struct counters {
    uint64_t sent = 0;      // data frames (stream, rr) or SYNs (cps) the client port took
    uint64_t delivered = 0; // data frames that reached the server port
    uint64_t answered = 0;  // rr: echoes back at the client; cps: connections completed
    uint64_t opened = 0;    // handshakes completed (SYN-ACK at the client)
    uint64_t resets = 0;    // RSTs received by the clients
    uint64_t server_resets = 0; // RSTs received by the backends
    uint64_t foreign = 0;   // frames that are not ours
    uint64_t proxy_headers = 0; // PROXY v2 headers a listener sent ahead of a flow's data (not data)
    uint64_t written_off = 0; // given up waiting for (see write_off)
    uint64_t flood_sent = 0;        // spoofed frames the client port took
    uint64_t flood_at_backends = 0; // of them (or their SYNs) that reached a backend
    uint64_t flood_answers = 0;     // frames back to spoofed sources (SYN-ACKs, resets)
    latency_histogram latency;
};

class engine {
  public:
    engine(const settings &s, rte_mempool *pool, uint16_t client_port, uint16_t server_port);

    // Open every flow once with at most `window` opening at a time; true once all are
    // open (at once for cps, which opens its own). Call with poll() until it returns true.
    // Flows whose opening frames were lost are tried again once progress stops for 20 ms.
    bool setup_step(uint32_t window, uint64_t now_tsc);
    uint64_t flows_open() const { return _setup_done; }
    // Start of the measured interval: counters back to zero.
    void reset_counters() { _c = counters{}; }
    // Send up to n frames of the scenario (data, or new connections); returns how many
    // the client port took.
    uint16_t send_burst(uint16_t n, uint64_t now_tsc);
    // Up to n spoofed flood frames; returns how many the client port took.
    uint16_t send_flood(uint16_t n, uint64_t now_tsc);
    // Answer what reached the server port, account for what came back to the client.
    void poll(uint64_t now_tsc);
    // Frames (rr, stream) or connections (cps) under way and not yet accounted for.
    uint64_t in_flight() const;
    // Stop waiting for what is under way (they count as lost): a closed loop that lost
    // frames would otherwise stall.
    void write_off() { _c.written_off += in_flight(); }
    const counters &stats() const { return _c; }
    std::string summary(double seconds) const;
    std::string json(double seconds) const;

    // The scenario's client frames as a capture: setup (handshakes, or one datagram per
    // flow) then `data_frames` data frames round the flows (cps: `data_frames` SYNs,
    // each followed by its ACK, FIN and last ACK).
    static void write_pcap(const settings &s, pcap_file &out, uint64_t data_frames);

  private:
    uint32_t flow_of(uint32_t client_ip, uint16_t client_port) const;
    void mark_open(uint32_t flow);
    uint16_t write_opening(rte_mbuf *m, uint32_t flow, uint64_t now_tsc);
    uint16_t data_payload() const { return static_cast<uint16_t>(_s.frame_size - payload_offset(_s.frame.proto)); }
    uint16_t send(rte_mbuf **pkts, uint16_t n);
    void answer_as_server(rte_mbuf *m, rte_mbuf **out, uint16_t &n_out);
    void account_at_client(rte_mbuf *m, uint64_t now_tsc, rte_mbuf **out, uint16_t &n_out);

    settings _s;
    data_frame_writer _data;
    rte_mempool *_pool;
    uint16_t _client, _server;
    uint32_t _next_flow = 0;
    uint32_t _pass = 0; // completed passes over the flows (stream, rr): each is every flow's next segment
    uint64_t _next_conn = 0;
    uint32_t _setup_sent = 0;   // flows whose opening frame went out (first pass)
    uint64_t _setup_done = 0;   // flows open: SYN-ACK (TCP) or echo (UDP) seen by the client
    uint64_t _setup_last_done = 0, _setup_check_tsc = 0;
    uint32_t _retry_cursor = 0; // next flow the retry pass looks at
    std::vector<uint64_t> _open; // a bit per flow, during setup
    bool _ready = false;
    uint64_t _tsc_hz;
    uint64_t _flood_rng = 0x9e3779b97f4a7c15ull;
    counters _c;
};

} // namespace fulcrum::gen
