// Counters, owned per worker (single writer) and summed by the control thread: the
// drop reasons, the flow counters of listeners and backends, and the row form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace fulcrum::dataplane {

#define FULCRUM_DROP_REASONS(X)                                                                    \
    X(trunc_eth, "frame shorter than an Ethernet header")                                          \
    X(other_mac, "unicast frame for another MAC address")                                         \
    X(unsupported_l2, "EtherType neither IPv4, IPv6 nor ARP")                                      \
    X(multi_segment, "multi-segment mbuf")                                                         \
    X(trunc_ip, "frame shorter than an IPv4 header")                                               \
    X(bad_ip_version, "IP version is not 4")                                                       \
    X(bad_ihl, "IHL below 5")                                                                      \
    X(ip_options, "IPv4 options present")                                                          \
    X(bad_total_length, "IPv4 total length inconsistent with the frame")                           \
    X(bad_ip_checksum, "IPv4 header checksum wrong")                                               \
    X(fragment, "IPv4 fragment")                                                                   \
    X(ttl_exceeded, "TTL <= 1 on a packet to forward")                                             \
    X(trunc_l4, "TCP/UDP/ICMP header truncated")                                                   \
    X(bad_l4_header, "TCP data offset or UDP length wrong")                                        \
    X(unsupported_proto, "IP protocol not TCP/UDP/ICMP")                                           \
    X(not_local, "destination is not a VIP, local address or port address")                        \
    X(icmp_ignored, "ICMP not answered (not echo, or VIP without listener)")                       \
    X(arp_ignored, "ARP not for us or malformed")                                                  \
    X(no_listener, "no listener on the VIP port")                                                  \
    X(acl_denied, "source refused by the listener's access-control list")                         \
    X(no_conn, "no connection and not a connection start")                                         \
    X(no_backend, "listener has no backend up with weight > 0 (TCP: answered with a reset)")       \
    X(lport_exhausted, "local address/port pool empty")                                            \
    X(no_laddr, "no local address belongs to the port toward the backend")                          \
    X(table_full, "connection table full")                                                         \
    X(no_route, "no port or gateway reaches the destination")                                      \
    X(neigh_unresolved, "neighbour did not answer ARP")                                            \
    X(neigh_queue_full, "too many packets waiting for ARP")                                        \
    X(neigh_table_full, "neighbour table full")                                                    \
    X(tx_full, "port tx queue full")                                                               \
    X(redirect_full, "redirect ring to the owning worker full")                                    \
    X(too_big, "larger than the egress port's MTU (DF: answered with fragmentation needed)")      \
    X(exception_limited, "over the exception path's rate limit (frames for the host)")              \
    X(listener_conn_cap, "listener at MaxConnections")                                             \
    X(listener_rate_cap, "listener over MaxNewConnectionRate")                                     \
    X(source_cap, "client at the listener's MaxConnectionsPerSource")                             \
    X(syn_proxy_backlog, "proxy waiting for the backend: four segments already held, or 16,384 connections waiting") \
    X(no_headroom, "no mbuf headroom for the PROXY v2 header of a datagram")                       \
    X(handoff_limited, "segment of an unknown connection over the cluster handoff rate")          \
    X(trunc_ip6, "frame shorter than an IPv6 header")                                              \
    X(bad_payload_length, "IPv6 payload length inconsistent with the frame")                       \
    X(fragment6, "IPv6 fragment header")                                                           \
    X(ext_header_bound, "IPv6 extension headers past the bound (3 headers, 256 bytes)")            \
    X(bad_ext_header, "IPv6 extension header truncated, or routing header with segments left")     \
    X(hop_limit_exceeded, "IPv6 hop limit <= 1 on a packet to forward")                           \
    X(bad_icmp6, "ICMPv6 to a local address truncated or with a wrong checksum")                    \
    X(nd_ignored, "Neighbour Discovery not for us, or failing RFC 4861's checks")                  \
    X(bad_src_addr, "source or destination address no host may use (unspecified, multicast source)") \
    X(no_translation, "IPv4 packet of a 6->4 connection that IPv6 cannot carry (DF clear, too big)")

enum class drop : uint8_t {
#define X(name, text) name,
    FULCRUM_DROP_REASONS(X)
#undef X
        count
};

const char *drop_name(drop d);
const char *drop_text(drop d);

constexpr unsigned drop_count = static_cast<unsigned>(drop::count);

// Each counter is declared once, as a row X(field, kind, help) beside the component
// that counts it (worker.h, synproxy.h, neighbours.h, ...): the field, its sums and
// every rendering come from the rows. The field is the name everywhere: the Prometheus
// metric is fulcrum_worker_<field>_total (a counter) or fulcrum_<...>_<field> (a gauge),
// the text label is the field with spaces, telemetry uses it as it is.
// Flow rows: a field ending in _in or _out is one metric with a direction label
// (packets_in, packets_out -> fulcrum_listener_packets_total{direction="in"|"out"}).
enum class counter_kind : uint8_t { counter, gauge };

#define FULCRUM_COUNTER_FIELD(name, kind, help) uint64_t name = 0;
// A component's counters struct, from its rows.
#define FULCRUM_COUNTERS_OF(rows) \
    struct counters {             \
        rows(FULCRUM_COUNTER_FIELD) \
    }

// Per listener and per backend; `active_connections` is created minus expired by this
// worker, so the sum over workers is the live count.
#define FULCRUM_FLOW_COUNTERS(X) X(new_connections, counter, "New connections.")                                       \
    X(active_connections, gauge, "Connections in the tables now.")                        \
    X(packets_in, counter, "Packets client to backend.")                                  \
    X(packets_out, counter, "Packets backend to client.")                                 \
    X(bytes_in, counter, "Bytes client to backend.")                                      \
    X(bytes_out, counter, "Bytes backend to client.")                                     \
    X(refused, counter, "New connections refused (ACL, no backend, no route, pools full).")

struct alignas(64) flow_counters {
#define X(name, kind, help) std::conditional_t<counter_kind::kind == counter_kind::gauge, int64_t, uint64_t> name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
};

// to += sign * from, for the counting fields; gauges (`active_connections`) are left
// alone: a baseline never applies to them.
inline void add_counts(flow_counters &to, const flow_counters &from, int sign = 1) {
#define X(name, kind, help) \
    if constexpr (counter_kind::kind == counter_kind::counter) to.name += sign * from.name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
}
// Gauges summed too (over workers: the live count).
inline void add_gauges(flow_counters &to, const flow_counters &from) {
#define X(name, kind, help) \
    if constexpr (counter_kind::kind == counter_kind::gauge) to.name += from.name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
}

// A metric's stem and direction from a flow row's field: "packets_in" -> ("packets", "in").
struct metric_stem {
    std::string_view stem, direction;
};
constexpr metric_stem stem_of(std::string_view field) {
    for (std::string_view dir : {std::string_view("in"), std::string_view("out")})
        if (field.size() > dir.size() + 1 && field.substr(field.size() - dir.size()) == dir &&
            field[field.size() - dir.size() - 1] == '_')
            return {field.substr(0, field.size() - dir.size() - 1), dir};
    return {field, ""};
}

// The text report's label of a row: its field with spaces ("connections_created" ->
// "connections created").
inline std::string counter_label(std::string_view field) {
    std::string s(field);
    for (char &c : s)
        if (c == '_') c = ' ';
    return s;
}

// Packets dropped, by reason: one array per worker that every component counts into.
struct drop_counts {
    uint64_t n[drop_count] = {};
    void count(drop d) { n[static_cast<unsigned>(d)]++; }
    uint64_t total() const {
        uint64_t t = 0;
        for (uint64_t v : n) t += v;
        return t;
    }
};

} // namespace fulcrum::dataplane
