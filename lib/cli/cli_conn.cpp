// show conn count | show conn [client IP] [vip IP] [backend IP] [port N] [proto tcp|udp]
// [state S] [limit N]: the workers' connection tables, read from the control thread while
// the workers run (an entry may be caught mid-update; nothing is locked or changed).
#include "cli/cli.h"
#include "net/addr.h"

#include "config/parse.h"

#include <cmdline.h>
#include <cmdline_parse_string.h>

#include <rte_byteorder.h>
#include <netinet/in.h>

#include <cstring>
#include <sstream>

namespace fulcrum::cli {
namespace {

struct filter {
    net::ip_addr client, vip, backend; // either family; none(): any
    uint16_t port = 0;                         // host order: client, VIP or backend port
    uint8_t proto = 0;
    int state = -1;
    size_t limit = 50;
};

// Parse "key value" pairs; false (with the message in `err`) on a bad one.
bool parse_filter(const std::string &text, filter &f, std::string &err) {
    std::istringstream in(text);
    std::string key, value;
    while (in >> key) {
        if (!(in >> value)) return err = "filter '" + key + "' needs a value", false;
        if (key == "client" || key == "vip" || key == "backend") {
            auto ip = net::parse_ip(value);
            if (!ip || ip->none()) return err = key + " must be an IPv4 or IPv6 address", false;
            (key == "client" ? f.client : key == "vip" ? f.vip : f.backend) = *ip;
        } else if (key == "port" || key == "limit") {
            char *end;
            unsigned long n = std::strtoul(value.c_str(), &end, 10);
            if (*end || (key == "port" && (n == 0 || n > 65535))) return err = key + " must be a number", false;
            if (key == "port") f.port = static_cast<uint16_t>(n);
            else f.limit = n;
        } else if (key == "proto") {
            if (value != "tcp" && value != "udp") return err = "proto must be tcp or udp", false;
            f.proto = value == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
        } else if (key == "state") {
            for (int s = 0; s < static_cast<int>(conn::tcp_state::count); s++)
                if (value == conn::tcp_state_name(static_cast<conn::tcp_state>(s))) f.state = s;
            if (f.state < 0) return err = "unknown state '" + value + "'", false;
        } else {
            return err = "unknown filter '" + key + "' (client, vip, backend, port, proto, state, limit)", false;
        }
    }
    return true;
}

// Whether a connection's address (IPv4 network order, or the IPv6 side's 16 bytes) is `want`.
bool same(const net::ip_addr &want, bool v6, uint32_t ip4, const uint8_t *ip6) {
    if (want.none()) return true;
    if (want.is_v6()) return v6 && std::memcmp(want.b.data(), ip6, 16) == 0;
    return !v6 && ip4 == rte_cpu_to_be_32(want.v4());
}

bool matches(const conn::connection &c, const conn::conn_addr6 &a6, const filter &f) {
    // An IPv6 side's addresses live in the pool entry (conn.h has the layout).
    const bool v6 = conn::is_v6(c), back6 = conn::dir_v6(c, 1);
    if (!same(f.client, v6, c.cip, a6.cip) || !same(f.vip, v6, c.vip, a6.vip)) return false;
    if (!same(f.backend, back6, c.bip, a6.bip)) return false;
    if (f.proto && c.proto != f.proto) return false;
    if (f.state >= 0 && static_cast<int>(c.state) != f.state) return false;
    uint16_t p = rte_cpu_to_be_16(f.port);
    return !f.port || c.cport == p || c.vport == p || c.bport == p;
}

void list(struct cmdline *cl, const filter &f) {
    auto &dp = current().dp;
    size_t shown = 0, matched = 0;
    cmdline_printf(cl, "%-6s %-4s %-21s %-21s %-21s %-21s %-11s %s\n", "worker", "pro", "client", "vip", "local",
                   "backend", "state", "expires");
    for (size_t wi = 0; wi < dp.worker_count(); wi++) {
        const auto &w = dp.worker_at(wi);
        const auto &t = w.conns();
        for (uint32_t i = 0; i < t.capacity(); i++) {
            const conn::connection c = t.at(i); // a copy: the worker may be writing it
            if (!conn::conn_table::live(c)) continue;
            const bool v6 = conn::is_v6(c), back6 = conn::dir_v6(c, 1);
            // (The copy may be torn: an IPv6 entry's pool index is checked before it is used.)
            if ((v6 || back6) && c.cip >= t.capacity6()) continue;
            const conn::conn_addr6 a6 = v6 || back6 ? t.addr6(c) : conn::conn_addr6{};
            if (!matches(c, a6, f)) continue;
            if (++matched > f.limit) continue;
            shown++;
            auto ep = [](uint32_t ip, uint16_t port) { return ip_text(ip) + ":" + std::to_string(rte_be_to_cpu_16(port)); };
            auto ep6 = [](const uint8_t *a, uint16_t port) {
                return net::format_endpoint(net::ip_addr::from_v6(a), rte_be_to_cpu_16(port));
            };
            int32_t left = static_cast<int32_t>(c.expire_tick - w.now_tick());
            cmdline_printf(cl, "%-6u %-4s %-21s %-21s %-21s %-21s %-11s %.1fs\n", w.id(),
                           c.proto == IPPROTO_TCP ? "tcp" : "udp", (v6 ? ep6(a6.cip, c.cport) : ep(c.cip, c.cport)).c_str(),
                           (v6 ? ep6(a6.vip, c.vport) : ep(c.vip, c.vport)).c_str(),
                           (back6 ? ep6(a6.laddr, c.lport) : ep(c.laddr, c.lport)).c_str(),
                           (back6 ? ep6(a6.bip, c.bport) : ep(c.bip, c.bport)).c_str(),
                           c.proto == IPPROTO_TCP ? conn::tcp_state_name(c.state) : "-",
                           double(left) / conn::timer_wheel::ticks_per_second);
        }
    }
    cmdline_printf(cl, "%zu connection(s) shown of %zu matching\n", shown, matched);
}

struct conn_res {
    cmdline_fixed_string_t show, conn, first; // the first filter key (keeps "count" unambiguous)
    cmdline_multi_string_t filters;
};
void count_cb(void *, struct cmdline *cl, void *) {
    auto &dp = current().dp;
    uint64_t total = 0, cap = 0;
    for (size_t i = 0; i < dp.worker_count(); i++) {
        const auto &t = dp.worker_at(i).conns();
        cmdline_printf(cl, "worker %zu: %u connections (table %u)\n", i, t.in_use(), t.capacity());
        total += t.in_use(), cap += t.capacity();
    }
    cmdline_printf(cl, "total: %llu connections (capacity %llu)\n", static_cast<unsigned long long>(total),
                   static_cast<unsigned long long>(cap));
}
void filtered_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<conn_res *>(r);
    filter f;
    std::string err;
    if (!parse_filter(std::string(res->first) + " " + res->filters, f, err)) {
        cmdline_printf(cl, "Error: %s\n", err.c_str());
        return;
    }
    list(cl, f);
}
void all_cb(void *, struct cmdline *cl, void *) { list(cl, filter{}); }

cmdline_parse_token_string_t c_show = TOKEN_STRING_INITIALIZER(conn_res, show, "show");
cmdline_parse_token_string_t c_conn = TOKEN_STRING_INITIALIZER(conn_res, conn, "conn");
cmdline_parse_token_string_t c_count = TOKEN_STRING_INITIALIZER(conn_res, first, "count");
cmdline_parse_token_string_t c_first = TOKEN_STRING_INITIALIZER(conn_res, first, "client#vip#backend#port#proto#state#limit");
cmdline_parse_token_string_t c_filters = TOKEN_STRING_INITIALIZER(conn_res, filters, TOKEN_STRING_MULTI);
command show_count = {count_cb, nullptr, "show conn count",
                                   {FULCRUM_TOKEN(c_show), FULCRUM_TOKEN(c_conn), FULCRUM_TOKEN(c_count), nullptr}};
command show_filtered = {
    filtered_cb, nullptr,
    "show conn [client <ip>] [vip <ip>] [backend <ip>] [port <n>] [proto tcp|udp] [state <s>] [limit <n>]",
    {FULCRUM_TOKEN(c_show), FULCRUM_TOKEN(c_conn), FULCRUM_TOKEN(c_first), FULCRUM_TOKEN(c_filters), nullptr}};
command show_all = {all_cb, nullptr, "show conn", {FULCRUM_TOKEN(c_show), FULCRUM_TOKEN(c_conn), nullptr}};

} // namespace

std::vector<command *> conn_commands() { return {&show_count, &show_all, &show_filtered}; }

} // namespace fulcrum::cli
