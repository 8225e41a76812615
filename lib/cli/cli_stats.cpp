// show stats [workers|listeners|backends], clear stats: the counters an operator reads to
// answer "is it healthy, is the distribution fair?".
#include "cli/cli.h"

#include "dataplane/stats.h"

#include <cmdline.h>
#include <cmdline_parse_string.h>

#include <cinttypes>

namespace fulcrum::cli {
namespace {

void print_workers(struct cmdline *cl, const dataplane::stats_view &v) {
    for (const auto &w : v.workers) {
        const auto &c = w.c;
        uint64_t drops = 0;
        for (unsigned d = 0; d < dataplane::drop_count; d++) drops += c.drops[d];
        cmdline_printf(cl,
                       "worker %u (snapshot %" PRIu64 "): rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64
                       " pkts %" PRIu64 " bytes, drops %" PRIu64 "\n"
                       "  conns created %" PRIu64 " expired %" PRIu64 " drained %" PRIu64 ", table %u/%u (%.1f%%), "
                       "lports free %zu/%zu (%.1f%% used)\n"
                       "  resets sent %" PRIu64 ", persistence hits %" PRIu64 ", redirected out %" PRIu64 " in %" PRIu64
                       ", kernel out %" PRIu64 " in %" PRIu64 ", arp replies %" PRIu64 ", icmp replies %" PRIu64 "\n",
                       w.id, w.generation, c.rx_pkts, c.rx_bytes, c.tx_pkts, c.tx_bytes, drops, c.conn_created,
                       c.conn_expired, c.conn_drained, w.conns_in_use, w.conns_capacity,
                       100.0 * w.conns_in_use / std::max<uint32_t>(1, w.conns_capacity), w.lports_free,
                       w.lports_capacity, 100.0 * double(w.lports_capacity - w.lports_free) / double(std::max<size_t>(1, w.lports_capacity)),
                       c.rst_sent, c.persist_hits, c.redirected_out, c.redirected_in, c.to_kernel, c.from_kernel,
                       c.arp_replies, c.icmp_replies);
        for (unsigned d = 0; d < dataplane::drop_count; d++)
            if (c.drops[d])
                cmdline_printf(cl, "    drop %-18s %12" PRIu64 "  (%s)\n", dataplane::drop_name(static_cast<dataplane::drop>(d)),
                               c.drops[d], dataplane::drop_text(static_cast<dataplane::drop>(d)));
    }
}

void print_listeners(struct cmdline *cl, const dataplane::stats_view &v) {
    cmdline_printf(cl, "%-22s %10s %8s %12s %12s %14s %14s %8s\n", "listener", "new conns", "active", "pkts in",
                   "pkts out", "bytes in", "bytes out", "drops");
    for (const auto &l : v.listeners) {
        std::string name = l.proto + " " + l.vip + ":" + std::to_string(l.port);
        cmdline_printf(cl, "%-22s %10" PRIu64 " %8" PRId64 " %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64
                           " %8" PRIu64 "\n",
                       name.c_str(), l.c.new_conns, l.c.active, l.c.pkts_in, l.c.pkts_out, l.c.bytes_in, l.c.bytes_out,
                       l.c.drops);
    }
}

void print_backends(struct cmdline *cl, const dataplane::stats_view &v) {
    cmdline_printf(cl, "%-22s %-12s %-21s %6s %10s %7s %7s %8s %12s %12s %14s %14s\n", "listener", "server", "address",
                   "weight", "new conns", "share", "asks", "active", "pkts in", "pkts out", "bytes in", "bytes out");
    for (const auto &b : v.backends) {
        std::string addr = b.ip + ":" + std::to_string(b.port);
        cmdline_printf(cl, "%-22s %-12s %-21s %6u %10" PRIu64 " %6.1f%% %6.1f%% %8" PRId64 " %12" PRIu64 " %12" PRIu64
                           " %14" PRIu64 " %14" PRIu64 "\n",
                       b.listener.c_str(), b.server_id.c_str(), addr.c_str(), b.weight, b.c.new_conns, b.share_pct,
                       b.weight_pct, b.c.active, b.c.pkts_in, b.c.pkts_out, b.c.bytes_in, b.c.bytes_out);
    }
}

struct stats_res {
    cmdline_fixed_string_t show, stats, what;
};
void stats_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<stats_res *>(r);
    auto v = dataplane::collect_stats(current().dp);
    std::string what = res->what;
    if (what == "workers") print_workers(cl, v);
    else if (what == "listeners") print_listeners(cl, v);
    else print_backends(cl, v);
}
void summary_cb(void *, struct cmdline *cl, void *) {
    auto v = dataplane::collect_stats(current().dp);
    uint64_t drops = 0;
    for (unsigned d = 0; d < dataplane::drop_count; d++) drops += v.total.drops[d];
    cmdline_printf(cl, "snapshot generation %" PRIu64 ", %zu worker(s): rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64
                       " conns created %" PRIu64 "\n",
                   v.generation, v.workers.size(), v.total.rx_pkts, v.total.tx_pkts, drops, v.total.conn_created);
    print_workers(cl, v);
    print_listeners(cl, v);
    print_backends(cl, v);
}
void clear_cb(void *, struct cmdline *cl, void *) {
    current().dp.clear_stats();
    cmdline_printf(cl, "counters cleared (active connections are a gauge and stay)\n");
}

cmdline_parse_token_string_t s_show = TOKEN_STRING_INITIALIZER(stats_res, show, "show");
cmdline_parse_token_string_t s_stats = TOKEN_STRING_INITIALIZER(stats_res, stats, "stats");
cmdline_parse_token_string_t s_what = TOKEN_STRING_INITIALIZER(stats_res, what, "workers#listeners#backends");
cmdline_parse_inst_t show_stats_of = {stats_cb, nullptr, "show stats workers|listeners|backends",
                                      {FULCRUM_TOKEN(s_show), FULCRUM_TOKEN(s_stats), FULCRUM_TOKEN(s_what), nullptr}};
cmdline_parse_inst_t show_stats = {summary_cb, nullptr, "show stats",
                                   {FULCRUM_TOKEN(s_show), FULCRUM_TOKEN(s_stats), nullptr}};
cmdline_parse_token_string_t c_clear = TOKEN_STRING_INITIALIZER(stats_res, show, "clear");
cmdline_parse_inst_t clear_stats = {clear_cb, nullptr, "clear stats",
                                    {FULCRUM_TOKEN(c_clear), FULCRUM_TOKEN(s_stats), nullptr}};

} // namespace

std::vector<cmdline_parse_inst_t *> stats_commands() { return {&show_stats, &show_stats_of, &clear_stats}; }

} // namespace fulcrum::cli
