// Counters, owned per worker (single writer) and summed by the control thread.
#pragma once

#include <cstdint>
#include <type_traits>

namespace fulcrum::dataplane {

#define FULCRUM_DROP_REASONS(X)                                                                    \
    X(trunc_eth, "frame shorter than an Ethernet header")                                          \
    X(other_mac, "unicast frame for another MAC address")                                         \
    X(unsupported_l2, "EtherType neither IPv4 nor ARP")                                            \
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
    X(handoff_limited, "segment of an unknown connection over the cluster handoff rate")

enum class drop : uint8_t {
#define X(name, text) name,
    FULCRUM_DROP_REASONS(X)
#undef X
        count
};

const char *drop_name(drop d);
const char *drop_text(drop d);

constexpr unsigned drop_count = static_cast<unsigned>(drop::count);

// Every counter is declared once, here: the struct fields, their sums and every
// rendering (report, prompt, telemetry, Prometheus) come from these lists.
//   X(field, kind, label, metric, help)            workers
//   X(field, kind, label, metric, direction, help) flows (direction: "in", "out" or "")
// kind: counter (only grows) or gauge; label: the text report's; metric: the Prometheus
// name's stem (fulcrum_worker_<metric>_total); telemetry uses the field names.
#define FULCRUM_WORKER_COUNTERS(X)                                                                 \
    X(rx_pkts, counter, "rx pkts", "rx_packets", "Packets received.")                                                       \
    X(rx_bytes, counter, "rx bytes", "rx_bytes", "Bytes received.")                                                        \
    X(tx_pkts, counter, "tx pkts", "tx_packets", "Packets sent.")                                                           \
    X(tx_bytes, counter, "tx bytes", "tx_bytes", "Bytes sent.")                                                            \
    X(conn_created, counter, "conns created", "connections_created", "Connections created.")                                               \
    X(conn_expired, counter, "expired", "connections_expired", "Connections expired or closed.")                                     \
    X(conn_evicted, counter, "evicted", "connections_evicted", "Unreplied or half-open connections evicted to make room (table or lport pool full).") \
    X(conn_drained, counter, "drained", "connections_drained", "Connections reset when their backend's drain ended.")                \
    X(rst_sent, counter, "resets sent", "resets_sent", "TCP resets Fulcrum sent on its own (drained connections, no backend up).") \
    X(syn_cookies_sent, counter, "syn cookies", "syn_cookies_sent", "SYN-ACKs with a cookie sent by the SYN proxy.") \
    X(syn_proxy_conns, counter, "proxied conns", "syn_proxy_connections", "Connections opened by a valid cookie ACK.") \
    X(syn_proxy_established, counter, "proxied up", "syn_proxy_established", "Proxied connections the backend accepted.") \
    X(syn_proxy_backend_syns, counter, "proxy syns", "syn_proxy_backend_syns", "SYNs the proxy sent to backends (retries included).") \
    X(syn_proxy_engaged, counter, "proxy engaged", "syn_proxy_engaged", "Times SynProxy auto engaged on a listener (half-open over syn_proxy_threshold).") \
    X(proxy_v2_headers, counter, "proxy v2 headers", "proxy_v2_headers", "PROXY v2 headers sent to backends (one per TCP connection, one per UDP datagram).") \
    X(proxy_v2_resent, counter, "proxy v2 resent", "proxy_v2_headers_resent", "PROXY v2 headers sent again: a backend segment had not acknowledged it.") \
    X(toa_added, counter, "toa options", "toa_options", "Client segments given the TOA option (254).") \
    X(toa_no_room, counter, "toa no room", "toa_no_room", "Client segments at the first sequence number sent without TOA: no option space or over the MTU.") \
    X(syn_data_trimmed, counter, "syn data trimmed", "syn_data_trimmed", "SYN payloads (TCP Fast Open) removed on PROXY v2 listeners, sent again by the client.") \
    X(handoffs, counter, "handed off", "cluster_handoffs", "Segments of connections this node does not hold, copied to other cluster nodes (one per node).") \
    X(persist_hits, counter, "persistence hits", "persistence_hits", "New connections sent to a client's persistent backend.")             \
    X(arp_replies, counter, "arp replies", "arp_replies", "ARP replies sent.")                                                   \
    X(arp_requests, counter, "arp requests", "arp_requests", "ARP requests sent.")                                                 \
    X(neigh_aged, counter, "neighbours aged", "neighbours_aged", "Learned neighbours forgotten: unused and unconfirmed for neighbour_timeout.") \
    X(neigh_static_kept, counter, "static kept", "neighbour_static_kept", "ARP packets that disagreed with a static neighbour (ignored).") \
    X(icmp_replies, counter, "icmp replies", "icmp_replies", "ICMP echo replies sent.")                                            \
    X(icmp_errors_forwarded, counter, "icmp errors fwd", "icmp_errors_forwarded", "ICMP errors about a connection translated to its other side.") \
    X(icmp_frag_needed, counter, "frag needed sent", "icmp_frag_needed", "Fragmentation-needed errors sent for DF packets over the egress MTU.") \
    X(redirected_out, counter, "redirected out", "redirected_out", "Replies sent to the worker that owns their connection.")           \
    X(redirected_in, counter, "redirected in", "redirected_in", "Replies received from another worker's queue.")                     \
    X(to_kernel, counter, "kernel out", "kernel_out", "Frames handed to the kernel (exception path).")                         \
    X(from_kernel, counter, "kernel in", "kernel_in", "Frames the kernel sent out (exception path).")

// Per listener and per backend; `active` is created minus expired by this worker, so
// the sum over workers is the live count.
#define FULCRUM_FLOW_COUNTERS(X)                                                                   \
    X(new_conns, counter, "new conns", "new_connections", "", "New connections.")                                                      \
    X(active, gauge, "active", "active_connections", "", "Connections in the tables now.")                                             \
    X(pkts_in, counter, "pkts in", "packets", "in", "Packets client to backend.")                                              \
    X(pkts_out, counter, "pkts out", "packets", "out", "Packets backend to client.")                                             \
    X(bytes_in, counter, "bytes in", "bytes", "in", "Bytes client to backend.")                                               \
    X(bytes_out, counter, "bytes out", "bytes", "out", "Bytes backend to client.")                                              \
    X(drops, counter, "drops", "refused", "", "New connections refused (ACL, no backend, no route, pools full).")

enum class counter_kind : uint8_t { counter, gauge };

struct alignas(64) worker_counters {
#define X(name, kind, label, metric, help) uint64_t name;
    FULCRUM_WORKER_COUNTERS(X)
#undef X
    uint64_t drops[drop_count];
};

struct alignas(64) flow_counters {
#define X(name, kind, label, metric, dir, help) std::conditional_t<counter_kind::kind == counter_kind::gauge, int64_t, uint64_t> name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
};

// to += sign * from, field by field (drops included).
inline void add_counts(worker_counters &to, const worker_counters &from, int sign = 1) {
#define X(name, kind, label, metric, help) to.name += sign * from.name;
    FULCRUM_WORKER_COUNTERS(X)
#undef X
    for (unsigned d = 0; d < drop_count; d++) to.drops[d] += sign * from.drops[d];
}
// The same for the counting fields of flows; gauges (`active`) are left alone: a
// baseline never applies to them.
inline void add_counts(flow_counters &to, const flow_counters &from, int sign = 1) {
#define X(name, kind, label, metric, dir, help) \
    if constexpr (counter_kind::kind == counter_kind::counter) to.name += sign * from.name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
}
// Gauges summed too (over workers: the live count).
inline void add_gauges(flow_counters &to, const flow_counters &from) {
#define X(name, kind, label, metric, dir, help) \
    if constexpr (counter_kind::kind == counter_kind::gauge) to.name += from.name;
    FULCRUM_FLOW_COUNTERS(X)
#undef X
}
inline uint64_t total_drops(const worker_counters &c) {
    uint64_t n = 0;
    for (unsigned d = 0; d < drop_count; d++) n += c.drops[d];
    return n;
}

constexpr unsigned max_backend_slots = 4096;
constexpr unsigned max_listener_slots = 256; // distinct listeners over a process's life

} // namespace fulcrum::dataplane
