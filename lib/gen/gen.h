// fulcrum-gen's engine: a pktgen-style traffic generator and backend emulator.
//
//   client port:  sends UDP requests from `flows` clients (cip:cport -> VIP:vport), each
//                 stamped with the TSC and its flow id; counts the answers that come back
//                 and their round-trip latency.
//   server port:  answers as the backends: every request that arrives there (from a laddr,
//                 after full-NAT) is turned around (MACs, addresses, ports swapped) and
//                 sent back, so complete request/response flows cross the device under
//                 test twice.
//
// Loss is counted, not guessed: sent - answered once the pipe has drained.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <string>

namespace fulcrum::gen {

struct settings {
    uint32_t flows = 1000;
    uint16_t frame_size = 64;   // bytes on the wire without FCS (>= 60)
    uint32_t client_ip = 0;     // first client address (host order); flows spread over ports then addresses
    uint32_t vip = 0;           // host order
    uint16_t vport = 53;
    rte_ether_addr client_mac{}, dut_client_mac{}; // our MAC / the DUT's port MAC (broadcast if unknown)
    rte_ether_addr server_mac{};                   // our backend side's MAC
};

struct counters {
    uint64_t sent = 0, answered = 0, reflected = 0, foreign = 0;
    uint64_t lat_sum_ns = 0;
    std::array<uint64_t, 64> lat_log2{}; // answers by floor(log2(latency ns))
    uint64_t latency_percentile_ns(double p) const;
};

class engine {
  public:
    engine(const settings &s, rte_mempool *pool, uint16_t client_port, uint16_t server_port);

    // Send up to one burst of requests (next flows in turn); returns how many left.
    uint16_t send_burst(uint16_t n, uint64_t now_tsc);
    // Answer what reached the server port, count what came back to the client port.
    void poll(uint64_t now_tsc);
    const counters &stats() const { return _c; }
    std::string summary(double seconds) const;

  private:
    settings _s;
    rte_mempool *_pool;
    uint16_t _client, _server;
    uint32_t _next_flow = 0;
    uint64_t _tsc_hz;
    counters _c;
};

} // namespace fulcrum::gen
