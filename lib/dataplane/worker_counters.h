// A worker's counters: its own rows (receive, connections, ICMP, the paths to other
// workers and the kernel) and each component's, beside the component, concatenated in
// the order the reports and the Prometheus exposition list them (an interface: the
// golden test holds it). The control thread reads them while the worker runs (one
// writer per field; a view is consistent per counter, not across counters).
#pragma once

#include "dataplane/client_addr.h"
#include "dataplane/handoff.h"
#include "dataplane/neighbours.h"
#include "dataplane/scheduler.h"
#include "dataplane/synproxy.h"
#include "dataplane/tx_buffers.h"

namespace fulcrum::dataplane {

#define FULCRUM_RX_COUNTERS(X) X(rx_packets, counter, "Packets received.") \
    X(rx_bytes, counter, "Bytes received.")

#define FULCRUM_CONN_COUNTERS(X) X(connections_created, counter, "Connections created.")                                                           \
    X(connections_expired, counter, "Connections expired or closed.")                                                 \
    X(connections_evicted, counter, "Finished, unreplied or half-open connections ended early to make room (table full, or every lport toward a backend held).") \
    X(connections_drained, counter, "Connections reset when their backend's drain ended.")                            \
    X(resets_sent, counter, "TCP resets Fulcrum sent on its own (drained connections, no backend up).")             \
    X(tcp_out_of_window, counter,                                                                                      \
      "TCP segments outside the receiver's window (a blind reset, FIN or ACK): forwarded, the connection unchanged.")

#define FULCRUM_ICMP_COUNTERS(X) X(icmp_replies, counter, "ICMP echo replies sent.")                                             \
    X(icmp_errors_forwarded, counter, "ICMP errors about a connection translated to its other side.") \
    X(icmp_frag_needed, counter, "Fragmentation-needed errors sent for DF packets over the egress MTU.")

#define FULCRUM_PATH_COUNTERS(X) X(redirected_out, counter, "Replies sent to the worker that owns their connection.")        \
    X(redirected_in, counter, "Replies received from another worker's queue.")                  \
    X(kernel_out, counter, "Frames handed to the kernel (exception path).")                     \
    X(kernel_in, counter, "Frames the kernel sent out (exception path).")                       \
    X(kernel_lifelines_limited, counter,                                                        \
      "ARP replies, BGP with configured neighbours and probe replies over the exception path's whole rate (dropped).")

// Every worker counter, in report order.
#define FULCRUM_WORKER_COUNTERS(X)                                                                           \
    FULCRUM_RX_COUNTERS(X) FULCRUM_TX_COUNTERS(X) FULCRUM_CONN_COUNTERS(X) FULCRUM_SYNPROXY_COUNTERS(X)      \
    FULCRUM_CLIENT_ADDR_COUNTERS(X) FULCRUM_HANDOFF_COUNTERS(X) FULCRUM_SCHEDULER_COUNTERS(X)                \
    FULCRUM_NEIGHBOUR_COUNTERS(X) FULCRUM_ICMP_COUNTERS(X) FULCRUM_PATH_COUNTERS(X)

// The worker's own fields (the components keep theirs).
struct worker_own_counters {
#define FULCRUM_OWN(X) FULCRUM_RX_COUNTERS(X) FULCRUM_CONN_COUNTERS(X) FULCRUM_ICMP_COUNTERS(X) FULCRUM_PATH_COUNTERS(X)
    FULCRUM_OWN(FULCRUM_COUNTER_FIELD)
};

// A copy of all of them, for the control side.
struct worker_counters {
    FULCRUM_WORKER_COUNTERS(FULCRUM_COUNTER_FIELD)
    uint64_t drops[drop_count] = {};
};

// to += sign * from, field by field (drops included).
inline void add_counts(worker_counters &to, const worker_counters &from, int sign = 1) {
#define X(name, kind, help) to.name += sign * from.name;
    FULCRUM_WORKER_COUNTERS(X)
#undef X
    for (unsigned d = 0; d < drop_count; d++) to.drops[d] += sign * from.drops[d];
}
inline uint64_t total_drops(const worker_counters &c) {
    uint64_t n = 0;
    for (unsigned d = 0; d < drop_count; d++) n += c.drops[d];
    return n;
}

} // namespace fulcrum::dataplane
