// The instance configuration: ports, addresses, listeners and the default server group.
//
// Instance-level keys are snake_case; listener and backend keys use the public cloud's
// names (ListenerPort, BackendServerPort, ServerId, ServerIp, Weight...) so that an
// operator's JSON carries over. An address of either family is a net::ip_addr (IPv4 as
// its IPv4-mapped form); a port's own IPv4 address is host byte order. The snapshot
// builder (deploy/snapshot_builder.h) converts them for the data plane.
#pragma once

#include "net/addr.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::config {

enum class protocol : uint8_t { tcp, udp };
enum class scheduler_kind : uint8_t { wrr, rr, wlc, sch, tch }; // sch/tch: Maglev on source IP / 4-tuple

struct neighbour {
    net::ip_addr ip;
    std::array<uint8_t, 6> mac{};
    bool operator==(const neighbour &) const = default;
};

// How replies find the worker that owns their connection on a port with several
// workers (see README "Multi-core"): auto programs Fulcrum's RSS key and RETA (else an
// rte_flow rule per local address, else the software redirect ring); emulated trusts
// the traffic source to split frames by that key and RETA (tests, benchmarks); off
// always uses the redirect ring.
enum class rss_setting : uint8_t { auto_, emulated, off };

struct port {
    std::string name;
    std::string device; // EAL device name, e.g. "net_af_packet0" or "0000:01:00.0"
    uint32_t address = 0; // IPv4, host order
    uint8_t prefix_len = 0;
    uint32_t gateway = 0; // 0: no gateway on this port
    // The port's IPv6 address and prefix (none(): the port speaks no IPv6) and its IPv6
    // next hop for what is off that prefix: inside it or link-local (fe80::/10, as
    // routers advertise themselves); none(): no IPv6 gateway.
    net::ip_addr address6;
    uint8_t prefix6_len = 0;
    net::ip_addr gateway6;
    uint16_t mtu = 1500;
    std::vector<neighbour> static_neighbours;
    rss_setting rss = rss_setting::auto_;
    // This port's own local addresses, outside its subnet (a routed pool the next hop
    // sends back here); the top-level list's belong to the port whose subnet holds them.
    std::vector<net::ip_addr> local_addresses;
    bool operator==(const port &) const = default;
    // Whether `a` lies in one of the port's own subnets (its family's).
    bool on_link(const net::ip_addr &a) const {
        if (a.is_v4()) return net::in_prefix(a.v4(), address, prefix_len);
        return !address6.none() && net::ip_prefix{net::masked(address6, prefix6_len), prefix6_len}.contains(a);
    }
};

struct backend {
    std::string server_id;
    std::string type = "ecs"; // ecs | eni
    net::ip_addr ip;
    uint16_t port = 0; // 0: the listener's BackendServerPort
    uint8_t weight = 100;
    std::string description;
};

// An address prefix of an access-control list (either family), net already masked.
using cidr = net::ip_prefix;

enum class health_kind : uint8_t { tcp, http, udp };

// SYN proxy of a TCP listener: `automatic` engages it while the listener's half-open
// connections exceed a threshold (as Linux turns on SYN cookies), `on` always, `off` never.
enum class syn_proxy_mode : uint8_t { automatic, on, off };

// Per-listener health-check settings (the public cloud's field names in JSON). Probes
// run on the control side; a backend's state is shared by every listener that checks
// the same (ip, port, check).
struct health_check {
    bool enabled = false;
    health_kind kind = health_kind::tcp;
    uint16_t connect_port = 0; // 0: the backend's own port
    uint32_t interval = 2;     // s, 1-50 (UDP default 5)
    uint32_t timeout = 5;      // s, 1-300 (UDP default 10); raised to the interval if shorter
    uint8_t healthy_threshold = 3, unhealthy_threshold = 3; // 2-10
    std::string uri = "/", domain;                          // http
    uint8_t http_codes = 1;                                 // bit 0: 2xx, 1: 3xx, 2: 4xx, 3: 5xx
    std::string udp_request, udp_expect;                    // udp
    bool operator==(const health_check &) const = default;
};

struct listener {
    net::ip_addr vip;
    protocol proto = protocol::tcp;
    uint16_t port = 0;
    uint16_t backend_port = 0;
    scheduler_kind scheduler = scheduler_kind::wrr;
    uint32_t established_timeout = 900; // s, TCP, 10-900
    uint32_t idle_timeout = 300;        // s, UDP, 1-3600
    std::string vserver_group_id;       // empty: the default server group
    std::string master_slave_group_id;  // at most one of the two group ids is set
    uint32_t persistence_timeout = 0;   // s, 0-3600; 0: no source-IP persistence
    bool connection_drain = false;      // on a backend's removal / weight 0 / failure:
    uint32_t connection_drain_timeout = 300; // s, 10-900: keep its connections this long
    bool acl_enabled = false;
    bool acl_whitelist = true; // white: only listed sources; black: all but listed
    std::vector<cidr> acl_entries;
    health_check health;
    // Admission caps; 0: none. Each refusal is counted by reason.
    uint32_t max_connections = 0;          // live connections of the listener (all workers)
    uint32_t max_new_connection_rate = 0;  // new connections per second (shared out over workers)
    uint32_t max_connections_per_source = 0; // per client address (shared out over workers)
    syn_proxy_mode syn_proxy = syn_proxy_mode::automatic; // TCP only
    // How a backend learns the client's address through full-NAT (at most one of them):
    // a PROXY protocol v2 header before the client's first byte (TCP) or before every
    // datagram (UDP), or TCP option 254 (TOA) on the connection's first segment.
    bool proxy_protocol_v2 = false;
    bool toa = false; // TCP only
    std::string description;
};

// A named set of (server, ip, port, weight): a server may sit in several groups with
// different ports; a listener bound to a group forwards only to it.
struct vserver_group {
    std::string id; // "rsp-<n>"
    std::string name;
    std::vector<backend> backends; // every entry has its Port
};

// LVS-like TCP state timeouts (seconds); ESTABLISHED comes from the listener.
struct tcp_timeouts {
    uint32_t syn_sent = 30;
    uint32_t syn_recv = 30;
    uint32_t fin_wait = 30;
    uint32_t time_wait = 10;
    uint32_t close = 3;
};

// Exactly two backends: traffic goes to the master while it is healthy, to the slave
// when it is not, and back when the master recovers (the slave is not health-checked).
struct master_slave_group {
    std::string id;
    std::string name;
    backend master, slave; // each with its Port
};

// Scale-out (README "Scale-out: ECMP and BGP"): the BGP speaker this node drives. Fulcrum
// writes the VIPs it serves into `include_file` (BIRD static-protocol syntax) and runs
// `reload_command` after each change; empty include_file: no speaker.
struct bgp_settings {
    std::string include_file;  // the IPv4 VIPs' routes
    std::string include_file6; // the IPv6 VIPs' (required when there are IPv6 VIPs)
    std::vector<std::string> reload_command; // argv, e.g. birdc -s /run/bird/bird.ctl configure
    // The routers the speaker peers with: their BGP (TCP port 179) to and from this host
    // goes to the kernel ahead of other host traffic (worker::to_kernel).
    std::vector<net::ip_addr> neighbours;
    bool operator==(const bgp_settings &) const = default;
};

// The other nodes of an ECMP cluster (README "Scale-out"): when the routers move a flow
// here that another node holds (it drained, or a path changed), a segment of a TCP
// connection this node does not know is copied to each of them on the shared link; the
// one that holds the connection goes on with it. `nodes` holds every node's port address
// (the same list on every node: this node's own address is skipped); empty: no handoff.
struct cluster_settings {
    std::vector<net::ip_addr> nodes;
    uint32_t handoff_rate = 1000000; // copies/s per worker; 0: unlimited
    bool operator==(const cluster_settings &) const = default;
};

// Every local address with the port it belongs to: the top-level list's, each to the
// first port whose subnet holds it (the only port when there is one), then each port's
// own pool. Indices into this list are the laddr indices of the data plane.
struct local_address {
    net::ip_addr ip;
    size_t port;
    bool operator==(const local_address &) const = default;
};

// What only a restart changes: the ports, the workers, the local addresses and their
// ports, the tables' sizes, the exception path. A running Fulcrum compares the whole of
// it with a new config (deploy::restart_needed) and refuses any difference, so a field
// placed here can never be accepted live and then ignored. Everything in `instance`
// outside it applies live, through a new snapshot.
struct startup {
    uint32_t workers = 0; // 0: every EAL worker lcore
    std::vector<port> ports;
    std::vector<net::ip_addr> local_addresses;
    uint16_t lport_min = 1024;
    uint16_t lport_max = 60999;
    // Exception path: a kernel (net_tap) interface per port for what the data plane
    // does not handle: health probes, traffic to the port addresses, ARP replies.
    bool exception_path = true;
    uint16_t probe_port_min = 61000, probe_port_max = 65535; // health probes' source ports: never lports
    uint32_t conn_capacity = 1 << 20; // per worker
    uint32_t mbufs = 32768;
    uint32_t neighbour_capacity = 8192; // per worker: next hops (backends, routers, on-link clients)
    // Per-source caps count an IPv6 client by this prefix (one host owns a /64); fixed
    // while running: connections counted under one key are released under the same one.
    uint8_t ipv6_source_prefix = 64;
    bool operator==(const startup &) const = default;
};

struct instance : startup {
    std::vector<net::ip_addr> vips;
    net::ip_addr probe_source; // IPv4 health probes leave from this laddr (none(): the first IPv4 one)
    net::ip_addr probe_source6; // IPv6 probes from this one (none(): the first IPv6 laddr)
    uint32_t maglev_size = 65537; // prime; entries of each sch/tch listener's lookup table
    tcp_timeouts timeouts;
    uint32_t udp_unreplied_timeout = 30; // s: a UDP flow no reply came back on (conntrack's udp_timeout)
    uint32_t neighbour_timeout = 60;     // s: learned neighbours are re-confirmed (in use) or forgotten
    uint32_t exception_path_rate = 20000; // frames/s per port handed to the host; 0: unlimited
    uint32_t syn_proxy_threshold = 512;   // SynProxy auto: half-open connections per listener and worker
    bgp_settings bgp;
    cluster_settings cluster;
    bool node_drain = false; // SetNodeDrain: every VIP withdrawn, established connections served
    std::vector<listener> listeners;
    std::vector<backend> default_server_group;
    std::vector<vserver_group> vserver_groups;
    std::vector<master_slave_group> master_slave_groups;
};

constexpr uint32_t max_listeners = 50;
constexpr uint32_t max_acl_entries = 300;
constexpr uint32_t max_local_addresses = 256;

std::vector<local_address> local_addresses_by_port(const startup &cfg);

} // namespace fulcrum::config
