// show port stats|info all|<id>: the data-plane ports (by config index), as testpmd shows them.
#include "cli/cli.h"

#include "config/parse.h"
#include "deploy/host_if.h"
#include "deploy/port_stats.h"

#include <cmdline.h>
#include <cmdline_parse_num.h>
#include <cmdline_parse_string.h>

#include <rte_ethdev.h>

#include <cinttypes>

namespace fulcrum::cli {
namespace {

void print_port(struct cmdline *cl, size_t i, bool stats) {
    auto &dp = current().dp;
    const config::port &cp = dp.config().ports[i];
    uint16_t id = dp.port_ids()[i];
    if (stats) {
        deploy::port_counters pc = deploy::read_port_counters(id);
        const rte_eth_stats &st = pc.eth;
        cmdline_printf(cl,
                       "######## port %zu (%s, %s) ########\n"
                       "  RX-packets: %-12" PRIu64 " RX-missed: %-12" PRIu64 " RX-bytes: %" PRIu64 "\n"
                       "  RX-errors:  %-12" PRIu64 " RX-nombuf: %-12" PRIu64 " kernel ring drops: %" PRIu64 "\n"
                       "  TX-packets: %-12" PRIu64 " TX-errors: %-12" PRIu64 " TX-bytes: %" PRIu64 "\n",
                       i, cp.name.c_str(), cp.device.c_str(), st.ipackets, pc.missed(), st.ibytes, st.ierrors,
                       st.rx_nombuf, pc.kernel_drops, st.opackets, st.oerrors, st.obytes);
        return;
    }
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(id, &info);
    rte_ether_addr mac;
    rte_eth_macaddr_get(id, &mac);
    rte_eth_link link{};
    rte_eth_link_get_nowait(id, &link);
    char macs[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(macs, sizeof macs, &mac);
    std::string exc = !dp.config().exception_path ? "off" : deploy::host_ifname(dp.config(), i);
    cmdline_printf(cl,
                   "******** port %zu (%s) ********\n"
                   "  device: %s (DPDK port %u, driver %s)\n"
                   "  MAC: %s  address: %s/%u%s%s  MTU: %u\n"
                   "  link: %s, %u Mbps\n"
                   "  queues: rx %u, tx %u (max %u/%u)\n"
                   "  reply steering: %s (%s)\n"
                   "  exception path: %s\n",
                   i, cp.name.c_str(), cp.device.c_str(), id, info.driver_name, macs,
                   config::format_ipv4(cp.address).c_str(), cp.prefix_len, cp.gateway ? "  gateway: " : "",
                   cp.gateway ? config::format_ipv4(cp.gateway).c_str() : "", cp.mtu, link.link_status ? "up" : "down",
                   link.link_speed, info.nb_rx_queues, info.nb_tx_queues, info.max_rx_queues, info.max_tx_queues,
                   dataplane::steering_name(dp.current_snapshot().ports[i].steer),
                   i < dp.steer_notes().size() ? dp.steer_notes()[i].c_str() : "", exc.c_str());
}

struct port_all_res {
    cmdline_fixed_string_t show, port, what, all;
};
struct port_id_res {
    cmdline_fixed_string_t show, port, what;
    uint16_t id;
};

void port_all_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<port_all_res *>(r);
    for (size_t i = 0; i < current().dp.port_ids().size(); i++) print_port(cl, i, res->what[0] == 's');
}
void port_id_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<port_id_res *>(r);
    if (res->id >= current().dp.port_ids().size()) {
        cmdline_printf(cl, "Error: no port %u (ports 0-%zu)\n", res->id, current().dp.port_ids().size() - 1);
        return;
    }
    print_port(cl, res->id, res->what[0] == 's');
}

cmdline_parse_token_string_t pa_show = TOKEN_STRING_INITIALIZER(port_all_res, show, "show");
cmdline_parse_token_string_t pa_port = TOKEN_STRING_INITIALIZER(port_all_res, port, "port");
cmdline_parse_token_string_t pa_what = TOKEN_STRING_INITIALIZER(port_all_res, what, "stats#info");
cmdline_parse_token_string_t pa_all = TOKEN_STRING_INITIALIZER(port_all_res, all, "all");
command port_all = {port_all_cb, nullptr, "show port stats|info all",
                                 {FULCRUM_TOKEN(pa_show), FULCRUM_TOKEN(pa_port), FULCRUM_TOKEN(pa_what),
                                  FULCRUM_TOKEN(pa_all), nullptr}};

cmdline_parse_token_string_t pi_show = TOKEN_STRING_INITIALIZER(port_id_res, show, "show");
cmdline_parse_token_string_t pi_port = TOKEN_STRING_INITIALIZER(port_id_res, port, "port");
cmdline_parse_token_string_t pi_what = TOKEN_STRING_INITIALIZER(port_id_res, what, "stats#info");
cmdline_parse_token_num_t pi_id = TOKEN_NUM_INITIALIZER(port_id_res, id, RTE_UINT16);
command port_id = {port_id_cb, nullptr, "show port stats|info <port index>",
                                {FULCRUM_TOKEN(pi_show), FULCRUM_TOKEN(pi_port), FULCRUM_TOKEN(pi_what),
                                 FULCRUM_TOKEN(pi_id), nullptr}};

} // namespace

std::vector<command *> port_commands() { return {&port_all, &port_id}; }

} // namespace fulcrum::cli
