#include "observe/observe.h"
#include "net/addr.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fulcrum::observe {

namespace {

struct out {
    std::string s;
    void printf(const char *fmt, ...) __attribute__((format(printf, 2, 3))) {
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        int n = std::vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        if (n > 0) s.append(line, std::min<size_t>(size_t(n), sizeof line - 1));
    }
};

void drop_lines(out &o, const dataplane::worker_counters &c, const char *indent) {
    for (unsigned d = 0; d < dataplane::drop_count; d++)
        if (c.drops[d])
            o.printf("%s%-18s %12" PRIu64 "  (%s)\n", indent, dataplane::drop_name(static_cast<dataplane::drop>(d)),
                     c.drops[d], dataplane::drop_text(static_cast<dataplane::drop>(d)));
}

// A flow column: as wide as its label, at least 12.
int width(const char *field) { return std::max<int>(12, int(std::strlen(field))); }

} // namespace

std::string render_text(const deploy::stats_view &v, unsigned sections) {
    out o;
    if (sections & summary)
        o.printf("snapshot generation %" PRIu64 ", %zu worker(s): rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64
                 " conns created %" PRIu64 "\n",
                 v.generation, v.workers.size(), v.total.rx_packets, v.total.tx_packets, dataplane::total_drops(v.total),
                 v.total.connections_created);
    if (sections & workers) {
        if (sections != workers) o.printf("== workers ==\n");
        for (const auto &w : v.workers) {
            o.printf("worker %u (snapshot %" PRIu64 "): table %u/%u (%.1f%%), lports %zu per backend port, drops %" PRIu64 ",",
                     w.id, w.generation, w.conns_in_use, w.conns_capacity,
                     100.0 * w.conns_in_use / std::max<uint32_t>(1, w.conns_capacity), w.lports,
                     dataplane::total_drops(w.c));
#define X(name, kind, help) o.printf(" %s %" PRIu64 ",", dataplane::counter_label(#name).c_str(), uint64_t(w.c.name));
            FULCRUM_WORKER_COUNTERS(X)
#undef X
            o.s.back() = '\n';
            drop_lines(o, w.c, "    drop ");
        }
    }
    if (sections & drops) {
        o.printf("== drops by reason ==\n");
        drop_lines(o, v.total, "  ");
        if (!dataplane::total_drops(v.total)) o.printf("  none\n");
    }
    if (sections & listeners) {
        if (sections != listeners) o.printf("== listeners ==\n");
        o.printf("%-22s", "listener");
#define X(name, kind, help) o.printf(" %*s", width(#name), dataplane::counter_label(#name).c_str());
        FULCRUM_FLOW_COUNTERS(X)
#undef X
        o.printf("  group\n");
        for (const auto &l : v.listeners) {
            o.printf("%-22s", (l.proto + " " + net::format_endpoint(l.vip, l.port)).c_str());
#define X(name, kind, help) o.printf(" %*" PRId64, width(#name), int64_t(l.c.name));
            FULCRUM_FLOW_COUNTERS(X)
#undef X
            o.printf("  %s (%s, %u/%u backends up)\n", l.group.c_str(), l.scheduler.c_str(), l.eligible, l.backends);
        }
    }
    if (sections & backends) {
        if (sections != backends) o.printf("== backends (per listener; counters per backend address) ==\n");
        o.printf("%-22s %-12s %-21s %6s %10s %7s %7s", "listener", "server", "address", "weight", "new conns", "share",
                 "asks");
#define X(name, kind, help) \
    if (#name != std::string("new_connections")) o.printf(" %*s", width(#name), dataplane::counter_label(#name).c_str());
        FULCRUM_FLOW_COUNTERS(X)
#undef X
        o.printf("\n");
        for (const auto &b : v.backends) {
            o.printf("%-22s %-12s %-21s %6u %10" PRIu64 " %6.1f%% %6.1f%%", b.listener.c_str(), b.server_id.c_str(),
                     net::format_endpoint(b.ip, b.port).c_str(), b.weight, b.c.new_connections, b.share_pct, b.weight_pct);
#define X(name, kind, help) \
    if (#name != std::string("new_connections")) o.printf(" %*" PRId64, width(#name), int64_t(b.c.name));
            FULCRUM_FLOW_COUNTERS(X)
#undef X
            o.printf("%s%s\n", b.role.empty() ? "" : "  ", b.role.c_str());
        }
    }
    return o.s;
}

} // namespace fulcrum::observe
