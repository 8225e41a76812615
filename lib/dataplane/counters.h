// Counters, owned per worker (single writer) and summed by the control thread.
#pragma once

#include <cstdint>

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
    X(table_full, "connection table full")                                                         \
    X(no_route, "no port or gateway reaches the destination")                                      \
    X(neigh_unresolved, "neighbour did not answer ARP")                                            \
    X(neigh_queue_full, "too many packets waiting for ARP")                                        \
    X(neigh_table_full, "neighbour table full")                                                    \
    X(tx_full, "port tx queue full")                                                               \
    X(redirect_full, "redirect ring to the owning worker full")

enum class drop : uint8_t {
#define X(name, text) name,
    FULCRUM_DROP_REASONS(X)
#undef X
        count
};

const char *drop_name(drop d);
const char *drop_text(drop d);

constexpr unsigned drop_count = static_cast<unsigned>(drop::count);

struct alignas(64) worker_counters {
    uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
    uint64_t conn_created, conn_expired;
    uint64_t conn_drained; // closed because their backend left the listener (drain ended)
    uint64_t rst_sent;     // resets Fulcrum sent on its own (drained conns, no backend up)
    uint64_t persist_hits; // new connections sent to a client's persistent backend
    uint64_t arp_replies, arp_requests, icmp_replies;
    uint64_t redirected_out, redirected_in;
    uint64_t to_kernel, from_kernel; // exception path
    uint64_t drops[drop_count];
};

// Per listener and per backend; `active` is created minus expired by this worker, so
// the sum over workers is the live count.
struct alignas(64) flow_counters {
    uint64_t new_conns;
    int64_t active;
    uint64_t pkts_in, bytes_in;   // client -> backend
    uint64_t pkts_out, bytes_out; // backend -> client
    uint64_t drops;
};

// to += sign * from, for the counting fields (`active` is a gauge and left alone).
inline void add_counts(flow_counters &to, const flow_counters &from, int sign = 1) {
    to.new_conns += sign * from.new_conns;
    to.pkts_in += sign * from.pkts_in;
    to.bytes_in += sign * from.bytes_in;
    to.pkts_out += sign * from.pkts_out;
    to.bytes_out += sign * from.bytes_out;
    to.drops += sign * from.drops;
}

constexpr unsigned max_backend_slots = 4096;
constexpr unsigned max_listener_slots = 256; // distinct listeners over a process's life

} // namespace fulcrum::dataplane
