// The immutable configuration a worker forwards with.
//
// Runtime types only: flat tables, no config structs, no maps. The control side builds
// one from the model (deploy/snapshot_builder.h); workers only read it.
// Every address and port is in network byte order, as it sits in packet headers, so
// the hot path compares and copies without swapping. Scheduling is a precomputed pick
// sequence per listener (see sched/wrr.h); the next scheduler kinds add their own
// tables here rather than a virtual call per packet.
#pragma once

#include "net/addr.h"
#include "net/toeplitz.h"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace fulcrum::dataplane {

// How a reply reaches the worker that owns its connection (README "Multi-core"):
//   single    one worker: nothing to steer
//   rss       the NIC hashes with Fulcrum's key and RETA (entry j -> queue j % queues);
//             each worker picks lports whose reply hashes to its own queue
//   emulated  the same, the split done by the traffic source (tests, benchmarks)
//   flow      rte_flow rules per local address: lport % workers -> that queue
//   redirect  whichever queue it lands on; the worker hands it to the owner
//             (lport % workers) through a software ring, counted
// Counter slots: a listener's or backend's counters keep their slot across snapshots.
constexpr unsigned max_backend_slots = 8192;
constexpr unsigned max_listener_slots = 256; // distinct listeners over a process's life

enum class steering : uint8_t { single, rss, emulated, flow, redirect };
const char *steering_name(steering s);
constexpr uint16_t emulated_reta_size = net::emulated_reta_size;

struct port_rt {
    uint16_t port_id = 0; // DPDK port id
    steering steer = steering::single;
    uint16_t rx_queues = 1;
    uint16_t reta_size = 0; // rss, emulated
    bool rss6 = false;      // rss, emulated: the hash takes IPv6 TCP/UDP ports too (IPv6 laddrs by RSS)
    uint32_t ip = 0, mask = 0, gateway = 0;
    rte_ether_addr mac{};
    uint16_t mtu = 1500;
    bool tx_ip_cksum = false; // hardware fills the IPv4 header checksum
    bool rx_ip_cksum = false; // hardware checks it and flags the mbuf
    uint16_t exc_port_id = no_exception_port; // its exception-path (net_tap) port
    static constexpr uint16_t no_exception_port = UINT16_MAX;
    // IPv6 (none(): the port has no IPv6 address); gateway6 may be link-local.
    net::ip_addr ip6, gateway6;
    uint8_t prefix6 = 0;
    bool on_link6(const uint8_t *a) const;
};

// Whether the first `len` bits of two IPv6 addresses agree.
inline bool same_prefix6(const uint8_t *a, const uint8_t *b, unsigned len) {
    unsigned whole = len / 8;
    if (__builtin_memcmp(a, b, whole) != 0) return false;
    if (len % 8 == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - len % 8));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}
inline bool port_rt::on_link6(const uint8_t *a) const {
    return !ip6.none() && same_prefix6(a, ip6.b.data(), prefix6);
}

struct backend_rt {
    uint32_t ip;       // 0 for an IPv6 backend
    uint16_t port;
    uint8_t weight;
    uint16_t slot;     // counters slot
    uint32_t rss_part; // net::source_part(ip, port) (source_part6): its share of a reply's RSS hash
    net::ip_addr ip6;  // an IPv6 backend's address (none() for IPv4)
    bool v6() const { return ip == 0; }
};

// Source-IP session persistence of one listener, shared by every worker (a client's
// connections may arrive on any queue). Direct-mapped by client IP; each entry is one
// 64-bit word written and read whole (relaxed atomics: plain moves on x86):
//   client IP (32) | backend slot (16) | expiry in whole seconds, mod 2^16 (16).
// Two workers racing on one client may each pick, the last write wins: persistence is
// a preference the scheduler keeps, never a correctness rule. A colliding client
// replaces an entry (counted as a miss for the one evicted).
struct persist_table {
    static constexpr uint32_t entries = 1u << 16; // 512 KiB per listener with persistence
    std::unique_ptr<std::atomic<uint64_t>[]> slots{new std::atomic<uint64_t>[entries]()};

    static uint64_t pack(uint32_t cip, uint16_t slot, uint16_t expiry_s) {
        return uint64_t(cip) << 32 | uint32_t(slot) << 16 | expiry_s;
    }
};

struct acl_entry {
    uint32_t net, mask; // network order
};

struct listener_rt {
    uint32_t vip; // 0 for an IPv6 listener (vip6)
    uint16_t port;
    uint8_t proto;
    uint8_t index; // counters and scheduler-state slot, stable across snapshots
    uint16_t idle_timeout_s; // ESTABLISHED for TCP, idle for UDP
    uint32_t backend_offset, n_backends;
    uint32_t seq_offset, seq_len; // wrr/rr pick sequence, or sch/tch Maglev table
    enum : uint8_t { by_sequence, by_source_ip, by_flow, by_least_conn } pick;
    bool acl_on, acl_white;
    uint16_t acl_offset, acl_len; // into snapshot::acl
    uint16_t persist_timeout_s;   // 0: no persistence
    // Connections of a backend that stops being eligible (removed, weight 0, down) are
    // reset after drain_timeout_s, or at once when drain is off (drain_timeout_s 0).
    uint16_t drain_timeout_s;
    // The backend slots eligible for new connections (weight > 0, up), sorted.
    uint32_t eligible_offset, eligible_len; // into snapshot::eligible_slots
    persist_table *persist; // owned by the instance, kept across snapshots
    // Admission caps (0: none); the worker shares rate and per-source caps out evenly.
    uint32_t max_conns, max_cps, max_per_source;
    enum : uint8_t { proxy_auto, proxy_on, proxy_off } syn_proxy;
    // How the backend learns the client's address (client_addr.h).
    enum : uint8_t { client_addr_none, client_addr_proxy_v2, client_addr_toa } client_addr;
    net::ip_addr vip6;            // an IPv6 listener's VIP
    uint16_t acl6_offset, acl6_len; // into snapshot::acl6
};

enum class local_kind : uint8_t { none, vip, laddr, port };

struct local_entry {
    uint32_t ip = 0;
    local_kind kind = local_kind::none;
    bool has_listener = false; // VIPs: answer ICMP echo only then
    uint16_t index = 0;        // laddr index / port index
    net::ip_addr ip6;          // IPv6 locals (snapshot::add_local6)
};

struct route {
    uint8_t port;      // index into snapshot::ports
    uint32_t next_hop; // network order
};
struct route6 {
    uint8_t port;
    net::ip_addr next_hop;
};

struct neighbour_rt {
    net::ip_addr ip; // either family
    rte_ether_addr mac;
};

class snapshot {
  public:
    static constexpr unsigned local_slots = 1024;
    static constexpr unsigned listener_slots = 256;

    uint64_t generation = 0;
    std::vector<port_rt> ports;
    std::vector<uint32_t> laddrs;          // network order (0: IPv6, see laddr6); index = laddr index of the pools
    std::vector<uint8_t> laddr_port;       // the port each laddr belongs to
    std::vector<uint32_t> laddr_rss_part;  // net::address_part(laddr) (address_part6)
    std::vector<std::vector<uint16_t>> port_laddrs; // by port: its IPv4 laddr indices
    std::vector<listener_rt> listeners;
    std::vector<backend_rt> backends;  // listener l's backends start at l.backend_offset
    std::vector<uint16_t> sched_seq;   // listener l's picks start at l.seq_offset
    std::vector<acl_entry> acl;
    std::vector<net::ip_prefix> acl6; // masked
    std::vector<net::ip_addr> laddr6;                // by laddr index: an IPv6 laddr (none(): IPv4)
    std::vector<std::vector<uint16_t>> port_laddrs6; // by port: its IPv6 laddr indices
    std::vector<uint16_t> eligible_slots;
    std::vector<neighbour_rt> static_neighbours;
    // Other cluster nodes on-link, either family (as neighbour keys: neigh_table::key4 for
    // IPv4), with the port they are on: where a TCP segment of a connection this node
    // does not hold is copied (worker::hand_off), whatever the segment's family.
    std::vector<std::pair<net::ip_addr, uint8_t>> cluster_peers;
    uint32_t handoff_rate_pps = 0; // per worker; 0: unlimited
    std::array<uint32_t, 7> tcp_timeout_s{}; // indexed by conn::tcp_state
    uint16_t udp_unreplied_s = 30;           // UDP flows no reply has come back on
    uint16_t mss_clamp = 0;                  // 0: MSS never needs clamping
    uint16_t neigh_timeout_s = 60;           // learned neighbours: re-confirmed or forgotten after
    uint32_t syn_proxy_threshold = 512;      // half-open connections per listener and worker
    uint8_t source_prefix6 = 64;             // an IPv6 client's per-source key: its address to this prefix
    uint32_t exception_rate_pps = 0;         // per port, all workers together; 0: unlimited
    std::vector<uint32_t> bgp_neighbours;    // network order: their TCP/179 goes to the kernel first
    std::vector<net::ip_addr> bgp_neighbours6; // the same for IPv6 sessions
    uint16_t probe_port_min = 0, probe_port_max = 0; // host order: health probes' source ports

    // A reply to one of the host's health probes (by its source port range).
    bool probe_reply_port(uint16_t dport_be) const {
        uint16_t p = rte_be_to_cpu_16(dport_be);
        return p >= probe_port_min && p <= probe_port_max;
    }

    // Set-up, by whoever fills the tables above: register a local address (the first
    // kind given for an address wins), then index() once the listeners are in.
    void add_local(const local_entry &e);
    void add_local6(const local_entry &e); // e.ip6
    void index();

    const local_entry *find_local6(const uint8_t *ip) const {
        uint32_t i = slot_of(fold6(ip), local_slots);
        for (unsigned n = 0; n < local_slots; n++, i = (i + 1) & (local_slots - 1)) {
            const local_entry &e = _locals6[i];
            if (e.kind == local_kind::none) return nullptr;
            if (__builtin_memcmp(e.ip6.b.data(), ip, 16) == 0) return &e;
        }
        return nullptr;
    }
    const listener_rt *find_listener6(const uint8_t *vip, uint8_t proto, uint16_t port) const {
        uint32_t i = slot_of(fold6(vip) ^ (uint32_t(port) << 8) ^ proto, listener_slots);
        for (unsigned n = 0; n < listener_slots; n++, i = (i + 1) & (listener_slots - 1)) {
            int16_t li = _listener_index[i];
            if (li < 0) return nullptr;
            const listener_rt &l = listeners[li];
            if (l.vip == 0 && l.port == port && l.proto == proto && __builtin_memcmp(l.vip6.b.data(), vip, 16) == 0)
                return &l;
        }
        return nullptr;
    }
    // On-link when a port's IPv6 prefix holds it (or it is link-local: on the port it
    // came from, `in_port`), else the first port with gateway6.
    bool lookup_route6(const uint8_t *dst, uint8_t in_port, route6 &out) const {
        if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) {
            out = {in_port, net::ip_addr::from_v6(dst)};
            return true;
        }
        for (size_t p = 0; p < ports.size(); p++)
            if (ports[p].on_link6(dst)) {
                out = {static_cast<uint8_t>(p), net::ip_addr::from_v6(dst)};
                return true;
            }
        if (_default_port6 < 0) return false;
        out = {static_cast<uint8_t>(_default_port6), ports[_default_port6].gateway6};
        return true;
    }
    static uint32_t fold6(const uint8_t *a) {
        uint32_t w[4];
        __builtin_memcpy(w, a, 16);
        return w[0] ^ w[1] ^ w[2] ^ w[3];
    }

    const local_entry *find_local(uint32_t ip) const {
        uint32_t i = slot_of(ip, local_slots);
        for (unsigned n = 0; n < local_slots; n++, i = (i + 1) & (local_slots - 1)) {
            const local_entry &e = _locals[i];
            if (e.kind == local_kind::none) return nullptr;
            if (e.ip == ip) return &e;
        }
        return nullptr;
    }

    // A listener by its stable slot (listener_rt::index), or nullptr when it is gone.
    const listener_rt *listener_at_slot(uint8_t index) const {
        int16_t li = _listener_by_slot[index];
        return li < 0 ? nullptr : &listeners[li];
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

    std::array<local_entry, local_slots> _locals{}, _locals6{};
    std::array<int16_t, listener_slots> _listener_index{};
    std::array<int16_t, max_listener_slots> _listener_by_slot{};
    int _default_port = -1, _default_port6 = -1;
};

} // namespace fulcrum::dataplane
