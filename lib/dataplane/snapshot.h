// The immutable configuration a worker forwards with.
//
// Built on the control side from a validated config::instance; workers only read it.
// Every address and port is in network byte order, as it sits in packet headers, so
// the hot path compares and copies without swapping. Scheduling is a precomputed pick
// sequence per listener (see sched/wrr.h); the next scheduler kinds add their own
// tables here rather than a virtual call per packet.
#pragma once

#include "config/model.h"
#include "config/result.h"

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

namespace fulcrum::dataplane {

struct port_rt {
    uint16_t port_id = 0; // DPDK port id
    uint32_t ip = 0, mask = 0, gateway = 0;
    rte_ether_addr mac{};
    uint16_t mtu = 1500;
    bool tx_ip_cksum = false; // hardware fills the IPv4 header checksum
    bool rx_ip_cksum = false; // hardware checks it and flags the mbuf
};

struct backend_rt {
    uint32_t ip;
    uint16_t port;
    uint8_t weight;
    uint16_t slot; // counters slot
};

struct listener_rt {
    uint32_t vip;
    uint16_t port;
    uint8_t proto;
    uint8_t index; // counters and scheduler-state slot, stable across snapshots
    uint16_t idle_timeout_s; // ESTABLISHED for TCP, idle for UDP
    uint32_t backend_offset, n_backends;
    uint32_t seq_offset, seq_len; // wrr/rr pick sequence, or sch/tch Maglev table
    enum : uint8_t { by_sequence, by_source_ip, by_flow, by_least_conn } pick;
};

enum class local_kind : uint8_t { none, vip, laddr, port };

struct local_entry {
    uint32_t ip = 0;
    local_kind kind = local_kind::none;
    bool has_listener = false; // VIPs: answer ICMP echo only then
    uint16_t index = 0;        // laddr index / port index
};

struct route {
    uint8_t port;      // index into snapshot::ports
    uint32_t next_hop; // network order
};

class snapshot {
  public:
    static constexpr unsigned local_slots = 1024;
    static constexpr unsigned listener_slots = 256;

    uint64_t generation = 0;
    std::vector<port_rt> ports;
    std::vector<uint32_t> laddrs;
    std::vector<listener_rt> listeners;
    std::vector<backend_rt> backends;  // listener l's backends start at l.backend_offset
    std::vector<uint16_t> sched_seq;   // listener l's picks start at l.seq_offset
    std::vector<config::neighbour> static_neighbours;
    std::array<uint32_t, 7> tcp_timeout_s{}; // indexed by conn::tcp_state
    uint16_t mss_clamp = 0;                  // 0: MSS never needs clamping

    // Counter slot of each default_server_group entry, in config order.
    std::vector<uint16_t> group_slots;
    // Every (ServerIp, Port) ever given a slot: slots are never reused, so a connection
    // that outlives its backend's removal still decrements the right counters.
    std::map<uint64_t, uint16_t> slot_ids;
    // The same for listeners, keyed by (VIP, protocol, port): listener_rt::index.
    std::map<uint64_t, uint8_t> listener_slot_ids;

    // Built from a validated config and the started ports (in config order). `previous`
    // carries the backend counter slots forward across updates.
    static config::result<snapshot> build(const config::instance &cfg, const std::vector<port_rt> &ports,
                                          const snapshot *previous = nullptr);

    const local_entry *find_local(uint32_t ip) const {
        uint32_t i = slot_of(ip, local_slots);
        for (unsigned n = 0; n < local_slots; n++, i = (i + 1) & (local_slots - 1)) {
            const local_entry &e = _locals[i];
            if (e.kind == local_kind::none) return nullptr;
            if (e.ip == ip) return &e;
        }
        return nullptr;
    }

    const listener_rt *find_listener(uint32_t vip, uint8_t proto, uint16_t port) const {
        uint32_t i = slot_of(vip ^ (uint32_t(port) << 8) ^ proto, listener_slots);
        for (unsigned n = 0; n < listener_slots; n++, i = (i + 1) & (listener_slots - 1)) {
            int16_t li = _listener_index[i];
            if (li < 0) return nullptr;
            const listener_rt &l = listeners[li];
            if (l.vip == vip && l.port == port && l.proto == proto) return &l;
        }
        return nullptr;
    }

    bool lookup_route(uint32_t dst, route &out) const {
        for (size_t p = 0; p < ports.size(); p++)
            if ((dst & ports[p].mask) == (ports[p].ip & ports[p].mask)) {
                out = {static_cast<uint8_t>(p), dst};
                return true;
            }
        if (_default_port < 0) return false;
        out = {static_cast<uint8_t>(_default_port), ports[_default_port].gateway};
        return true;
    }

  private:
    static uint32_t slot_of(uint32_t v, uint32_t n) { return (v * 2654435761u) >> 8 & (n - 1); }
    void add_local(const local_entry &e);

    std::array<local_entry, local_slots> _locals{};
    std::array<int16_t, listener_slots> _listener_index{};
    int _default_port = -1;
};

} // namespace fulcrum::dataplane
