// Listeners, server groups and backends: what is configured, and the commands that change
// it (each one an action of the socket API, run through control::service).
#include "cli/cli.h"
#include "net/addr.h"

#include "config/parse.h"
#include "deploy/stats.h"

#include <cmdline.h>
#include <cmdline_parse_ipaddr.h>
#include <cmdline_parse_num.h>
#include <cmdline_parse_string.h>

#include <algorithm>
#include <cinttypes>

namespace fulcrum::cli {
namespace {

using nlohmann::json;

void print_listener(struct cmdline *cl, const deploy::listener_stat &l) {
    cmdline_printf(cl, "%-4s %15s:%-5u -> %-9s %-12s backends %u/%u up  conns %" PRIu64 " active %" PRId64
                       "  drops %" PRIu64 "\n",
                   l.proto.c_str(), l.vip.c_str(), l.port, l.group.c_str(), l.scheduler.c_str(), l.eligible, l.backends,
                   l.c.new_connections, l.c.active_connections, l.c.refused);
}

void print_backend_header(struct cmdline *cl) {
    cmdline_printf(cl, "%-22s %-9s %-12s %-21s %6s %-5s %10s %8s %7s %7s\n", "listener", "group", "server",
                   "address", "weight", "state", "new conns", "active", "share", "asks");
}
void print_backend(struct cmdline *cl, const deploy::backend_stat &b) {
    std::string addr = net::format_endpoint(b.ip, b.port);
    std::string server = b.role.empty() ? b.server_id : b.server_id + "(" + b.role[0] + ")";
    cmdline_printf(cl, "%-22s %-9s %-12s %-21s %6u %-5s %10" PRIu64 " %8" PRId64 " %6.1f%% %6.1f%%\n",
                   b.listener.c_str(), b.group.c_str(), server.c_str(), addr.c_str(), b.weight,
                   b.eligible ? "up" : "out", b.c.new_connections, b.c.active_connections, b.share_pct, b.weight_pct);
}

// show listeners / show groups / show backends [health]
struct word2_res {
    cmdline_fixed_string_t show, what;
};
void listeners_cb(void *, struct cmdline *cl, void *) {
    auto v = deploy::collect_stats(current().dp);
    if (v.listeners.empty()) cmdline_printf(cl, "no listeners\n");
    for (const auto &l : v.listeners) print_listener(cl, l);
}
void groups_cb(void *, struct cmdline *cl, void *) {
    const auto &cfg = current().dp.config();
    auto bound = [&](const std::string &id) {
        return std::count_if(cfg.listeners.begin(), cfg.listeners.end(), [&](const config::listener &l) {
            return id == "default" ? l.vserver_group_id.empty() && l.master_slave_group_id.empty()
                                   : l.vserver_group_id == id || l.master_slave_group_id == id;
        });
    };
    cmdline_printf(cl, "%-9s %-13s %-16s %8s %9s\n", "id", "type", "name", "backends", "listeners");
    cmdline_printf(cl, "%-9s %-13s %-16s %8zu %9zd\n", "default", "default", "", cfg.default_server_group.size(),
                   bound("default"));
    for (const auto &g : cfg.vserver_groups)
        cmdline_printf(cl, "%-9s %-13s %-16s %8zu %9zd\n", g.id.c_str(), "vserver", g.name.c_str(), g.backends.size(),
                       bound(g.id));
    for (const auto &g : cfg.master_slave_groups)
        cmdline_printf(cl, "%-9s %-13s %-16s %8d %9zd\n", g.id.c_str(), "master/slave", g.name.c_str(), 2, bound(g.id));
}
void backends_cb(void *, struct cmdline *cl, void *) {
    auto v = deploy::collect_stats(current().dp);
    print_backend_header(cl);
    for (const auto &b : v.backends) print_backend(cl, b);
}
cmdline_parse_token_string_t w2_show = TOKEN_STRING_INITIALIZER(word2_res, show, "show");
cmdline_parse_token_string_t w2_listeners = TOKEN_STRING_INITIALIZER(word2_res, what, "listeners");
cmdline_parse_token_string_t w2_groups = TOKEN_STRING_INITIALIZER(word2_res, what, "groups");
cmdline_parse_token_string_t w2_backends = TOKEN_STRING_INITIALIZER(word2_res, what, "backends");
command show_listeners = {listeners_cb, nullptr, "show listeners",
                                       {FULCRUM_TOKEN(w2_show), FULCRUM_TOKEN(w2_listeners), nullptr}};
command show_groups = {groups_cb, nullptr, "show groups",
                                    {FULCRUM_TOKEN(w2_show), FULCRUM_TOKEN(w2_groups), nullptr}};
command show_backends = {backends_cb, nullptr, "show backends",
                                      {FULCRUM_TOKEN(w2_show), FULCRUM_TOKEN(w2_backends), nullptr}};

struct health_res {
    cmdline_fixed_string_t show, backends, health;
};
void health_cb(void *, struct cmdline *cl, void *) {
    cmdline_printf(cl, "%-22s %-12s %-21s %-11s %-8s %-22s %s\n", "listener", "server", "address", "status", "last",
                   "since", "reason");
    for (const auto &b : current().svc.health_status()) {
        std::string listener = b["Protocol"].get<std::string>() + " " + b["VIP"].get<std::string>() + ":" +
                               std::to_string(b["ListenerPort"].get<int>());
        std::string addr = b["ServerIp"].get<std::string>() + ":" + std::to_string(b["Port"].get<int>());
        cmdline_printf(cl, "%-22s %-12s %-21s %-11s %-8s %-22s %s\n", listener.c_str(),
                       b["ServerId"].get<std::string>().c_str(), addr.c_str(),
                       b["ServerHealthStatus"].get<std::string>().c_str(), b.value("LastResult", std::string("-")).c_str(),
                       b.value("LastChange", std::string("-")).c_str(), b.value("Reason", std::string()).c_str());
    }
}
cmdline_parse_token_string_t h_show = TOKEN_STRING_INITIALIZER(health_res, show, "show");
cmdline_parse_token_string_t h_backends = TOKEN_STRING_INITIALIZER(health_res, backends, "backends");
cmdline_parse_token_string_t h_health = TOKEN_STRING_INITIALIZER(health_res, health, "health");
command show_health = {health_cb, nullptr, "show backends health",
                                    {FULCRUM_TOKEN(h_show), FULCRUM_TOKEN(h_backends), FULCRUM_TOKEN(h_health), nullptr}};

// show listener <vip> <tcp|udp> <port>
struct listener_res {
    cmdline_fixed_string_t show, listener;
    cmdline_ipaddr_t vip;
    cmdline_fixed_string_t proto;
    uint16_t port;
};
void listener_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<listener_res *>(r);
    net::ip_addr vip_ip = token_ip(res->vip);
    std::string vip = config::format_ip(vip_ip);
    auto v = deploy::collect_stats(current().dp);
    for (const auto &l : v.listeners) {
        if (l.vip != vip || l.proto != res->proto || l.port != res->port) continue;
        print_listener(cl, l);
        for (const auto &cl_cfg : current().dp.config().listeners)
            if (cl_cfg.vip == vip_ip && cl_cfg.port == res->port &&
                (cl_cfg.proto == config::protocol::tcp) == (l.proto == "tcp"))
                cmdline_printf(cl, "%s\n", config::listener_to_json(cl_cfg).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        print_backend_header(cl);
        std::string name = l.proto + " " + net::format_endpoint(vip_ip, l.port);
        for (const auto &b : v.backends)
            if (b.listener == name) print_backend(cl, b);
        return;
    }
    cmdline_printf(cl, "Error: no %s listener on %s\n", res->proto, net::format_endpoint(vip_ip, res->port).c_str());
}
cmdline_parse_token_string_t l_show = TOKEN_STRING_INITIALIZER(listener_res, show, "show");
cmdline_parse_token_string_t l_listener = TOKEN_STRING_INITIALIZER(listener_res, listener, "listener");
cmdline_parse_token_ipaddr_t l_vip = TOKEN_IPADDR_INITIALIZER(listener_res, vip);
cmdline_parse_token_string_t l_proto = TOKEN_STRING_INITIALIZER(listener_res, proto, "tcp#udp");
cmdline_parse_token_num_t l_port = TOKEN_NUM_INITIALIZER(listener_res, port, RTE_UINT16);
command show_listener = {listener_cb, nullptr, "show listener <vip> tcp|udp <port>",
                                      {FULCRUM_TOKEN(l_show), FULCRUM_TOKEN(l_listener), FULCRUM_TOKEN(l_vip),
                                       FULCRUM_TOKEN(l_proto), FULCRUM_TOKEN(l_port), nullptr}};

// set listener <vip> <tcp|udp> <port> <attribute> <value>: any listener attribute of the
// actions API (SynProxy, ProxyProtocolV2Enabled, ToaEnabled, Scheduler...).
struct set_listener_res {
    cmdline_fixed_string_t set, listener;
    cmdline_ipaddr_t vip;
    cmdline_fixed_string_t proto;
    uint16_t port;
    cmdline_fixed_string_t attribute, value;
};
void set_listener_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<set_listener_res *>(r);
    std::string proto = res->proto;
    run_action(cl, {{"Action", proto == "tcp" ? "SetLoadBalancerTCPListenerAttribute" : "SetLoadBalancerUDPListenerAttribute"},
                    {"VIP", config::format_ip(token_ip(res->vip))},
                    {"ListenerPort", res->port},
                    {res->attribute, res->value}});
}
cmdline_parse_token_string_t sl_set = TOKEN_STRING_INITIALIZER(set_listener_res, set, "set");
cmdline_parse_token_string_t sl_listener = TOKEN_STRING_INITIALIZER(set_listener_res, listener, "listener");
cmdline_parse_token_ipaddr_t sl_vip = TOKEN_IPADDR_INITIALIZER(set_listener_res, vip);
cmdline_parse_token_string_t sl_proto = TOKEN_STRING_INITIALIZER(set_listener_res, proto, "tcp#udp");
cmdline_parse_token_num_t sl_port = TOKEN_NUM_INITIALIZER(set_listener_res, port, RTE_UINT16);
cmdline_parse_token_string_t sl_attribute = TOKEN_STRING_INITIALIZER(set_listener_res, attribute, nullptr);
cmdline_parse_token_string_t sl_value = TOKEN_STRING_INITIALIZER(set_listener_res, value, nullptr);
command set_listener = {set_listener_cb, nullptr,
                        "set listener <vip> tcp|udp <port> <attribute, e.g. ProxyProtocolV2Enabled> <value>",
                        {FULCRUM_TOKEN(sl_set), FULCRUM_TOKEN(sl_listener), FULCRUM_TOKEN(sl_vip), FULCRUM_TOKEN(sl_proto),
                         FULCRUM_TOKEN(sl_port), FULCRUM_TOKEN(sl_attribute), FULCRUM_TOKEN(sl_value), nullptr}};

// show group <id|default>
struct group_res {
    cmdline_fixed_string_t show, group, id;
};
void group_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<group_res *>(r);
    const auto &cfg = current().dp.config();
    std::string id = res->id;
    if (id == "default") return run_action(cl, {{"Action", "DescribeBackendServers"}});
    for (const auto &g : cfg.master_slave_groups)
        if (g.id == id)
            return run_action(cl, {{"Action", "DescribeMasterSlaveServerGroupAttribute"}, {"MasterSlaveServerGroupId", id}});
    run_action(cl, {{"Action", "DescribeVServerGroupAttribute"}, {"VServerGroupId", id}});
}
cmdline_parse_token_string_t g_show = TOKEN_STRING_INITIALIZER(group_res, show, "show");
cmdline_parse_token_string_t g_group = TOKEN_STRING_INITIALIZER(group_res, group, "group");
cmdline_parse_token_string_t g_id = TOKEN_STRING_INITIALIZER(group_res, id, nullptr);
command show_group = {group_cb, nullptr, "show group <default|group id>",
                                   {FULCRUM_TOKEN(g_show), FULCRUM_TOKEN(g_group), FULCRUM_TOKEN(g_id), nullptr}};

// The backend entry a (group, ip, port) names, for the commands below.
const config::backend *find_backend(const std::string &group, const net::ip_addr &ip, uint16_t port) {
    const auto &cfg = current().dp.config();
    const std::vector<config::backend> *list = group == "default" ? &cfg.default_server_group : nullptr;
    for (const auto &g : cfg.vserver_groups)
        if (g.id == group) list = &g.backends;
    if (!list) return nullptr;
    for (const auto &b : *list)
        if (b.ip == ip && b.port == port) return &b;
    return nullptr;
}
json entry(const std::string &id, const net::ip_addr &ip, uint16_t port) {
    json b{{"ServerId", id}, {"ServerIp", config::format_ip(ip)}};
    if (port) b["Port"] = port;
    return b;
}
json group_action(const std::string &group, const char *default_action, const char *vserver_action, json backends) {
    if (group == "default") return {{"Action", default_action}, {"BackendServers", backends}};
    return {{"Action", vserver_action}, {"VServerGroupId", group}, {"BackendServers", backends}};
}

// set weight <group> <ip> <port> <weight>
struct weight_res {
    cmdline_fixed_string_t set, weight, group;
    cmdline_ipaddr_t ip;
    uint16_t port;
    uint8_t w;
};
void weight_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<weight_res *>(r);
    net::ip_addr ip = token_ip(res->ip);
    const config::backend *b = find_backend(res->group, ip, res->port);
    if (!b) {
        cmdline_printf(cl, "Error: no backend %s in group '%s' (port 0: the listener's BackendServerPort)\n",
                       net::format_endpoint(ip, res->port).c_str(), res->group);
        return;
    }
    json e = entry(b->server_id, ip, res->port);
    e["Weight"] = res->w;
    run_action(cl, group_action(res->group, "SetBackendServers", "SetVServerGroupAttribute", json::array({e})));
}
cmdline_parse_token_string_t sw_set = TOKEN_STRING_INITIALIZER(weight_res, set, "set");
cmdline_parse_token_string_t sw_weight = TOKEN_STRING_INITIALIZER(weight_res, weight, "weight");
cmdline_parse_token_string_t sw_group = TOKEN_STRING_INITIALIZER(weight_res, group, nullptr);
cmdline_parse_token_ipaddr_t sw_ip = TOKEN_IPADDR_INITIALIZER(weight_res, ip);
cmdline_parse_token_num_t sw_port = TOKEN_NUM_INITIALIZER(weight_res, port, RTE_UINT16);
cmdline_parse_token_num_t sw_w = TOKEN_NUM_INITIALIZER(weight_res, w, RTE_UINT8);
command set_weight = {weight_cb, nullptr, "set weight <default|group id> <ip> <port> <weight 0-100>",
                                   {FULCRUM_TOKEN(sw_set), FULCRUM_TOKEN(sw_weight), FULCRUM_TOKEN(sw_group),
                                    FULCRUM_TOKEN(sw_ip), FULCRUM_TOKEN(sw_port), FULCRUM_TOKEN(sw_w), nullptr}};

// add backend <group> <server id> <ip> <port> <weight>
struct add_res {
    cmdline_fixed_string_t add, backend, group, server;
    cmdline_ipaddr_t ip;
    uint16_t port;
    uint8_t w;
};
void add_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<add_res *>(r);
    json e = entry(res->server, token_ip(res->ip), res->port);
    e["Weight"] = res->w;
    run_action(cl, group_action(res->group, "AddBackendServers", "AddVServerGroupBackendServers", json::array({e})));
}
cmdline_parse_token_string_t ab_add = TOKEN_STRING_INITIALIZER(add_res, add, "add");
cmdline_parse_token_string_t ab_backend = TOKEN_STRING_INITIALIZER(add_res, backend, "backend");
cmdline_parse_token_string_t ab_group = TOKEN_STRING_INITIALIZER(add_res, group, nullptr);
cmdline_parse_token_string_t ab_server = TOKEN_STRING_INITIALIZER(add_res, server, nullptr);
cmdline_parse_token_ipaddr_t ab_ip = TOKEN_IPADDR_INITIALIZER(add_res, ip);
cmdline_parse_token_num_t ab_port = TOKEN_NUM_INITIALIZER(add_res, port, RTE_UINT16);
cmdline_parse_token_num_t ab_w = TOKEN_NUM_INITIALIZER(add_res, w, RTE_UINT8);
command add_backend = {add_cb, nullptr, "add backend <default|group id> <server id> <ip> <port> <weight 0-100>",
                                    {FULCRUM_TOKEN(ab_add), FULCRUM_TOKEN(ab_backend), FULCRUM_TOKEN(ab_group),
                                     FULCRUM_TOKEN(ab_server), FULCRUM_TOKEN(ab_ip), FULCRUM_TOKEN(ab_port),
                                     FULCRUM_TOKEN(ab_w), nullptr}};

// remove backend <group> <ip> <port>
struct remove_res {
    cmdline_fixed_string_t remove, backend, group;
    cmdline_ipaddr_t ip;
    uint16_t port;
};
void remove_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<remove_res *>(r);
    net::ip_addr ip = token_ip(res->ip);
    const config::backend *b = find_backend(res->group, ip, res->port);
    if (!b) {
        cmdline_printf(cl, "Error: no backend %s in group '%s'\n", net::format_endpoint(ip, res->port).c_str(), res->group);
        return;
    }
    run_action(cl, group_action(res->group, "RemoveBackendServers", "RemoveVServerGroupBackendServers",
                                json::array({entry(b->server_id, ip, res->port)})));
}
cmdline_parse_token_string_t rb_remove = TOKEN_STRING_INITIALIZER(remove_res, remove, "remove");
cmdline_parse_token_string_t rb_backend = TOKEN_STRING_INITIALIZER(remove_res, backend, "backend");
cmdline_parse_token_string_t rb_group = TOKEN_STRING_INITIALIZER(remove_res, group, nullptr);
cmdline_parse_token_ipaddr_t rb_ip = TOKEN_IPADDR_INITIALIZER(remove_res, ip);
cmdline_parse_token_num_t rb_port = TOKEN_NUM_INITIALIZER(remove_res, port, RTE_UINT16);
command remove_backend = {remove_cb, nullptr, "remove backend <default|group id> <ip> <port>",
                                       {FULCRUM_TOKEN(rb_remove), FULCRUM_TOKEN(rb_backend), FULCRUM_TOKEN(rb_group),
                                        FULCRUM_TOKEN(rb_ip), FULCRUM_TOKEN(rb_port), nullptr}};

// create vserver-group <name>
struct create_res {
    cmdline_fixed_string_t create, kind, name;
};
void create_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<create_res *>(r);
    nlohmann::json reply = current().svc.handle({{"Action", "CreateVServerGroup"}, {"VServerGroupName", res->name}});
    if (reply.value("Code", std::string()) == "Success")
        cmdline_printf(cl, "Success: vserver group %s (%s) created\n", reply["VServerGroupId"].get<std::string>().c_str(),
                       res->name);
    else
        cmdline_printf(cl, "Error: %s\n", reply.value("Message", std::string()).c_str());
}
cmdline_parse_token_string_t cg_create = TOKEN_STRING_INITIALIZER(create_res, create, "create");
cmdline_parse_token_string_t cg_kind = TOKEN_STRING_INITIALIZER(create_res, kind, "vserver-group");
cmdline_parse_token_string_t cg_name = TOKEN_STRING_INITIALIZER(create_res, name, nullptr);
command create_group = {create_cb, nullptr, "create vserver-group <name>",
                                     {FULCRUM_TOKEN(cg_create), FULCRUM_TOKEN(cg_kind), FULCRUM_TOKEN(cg_name), nullptr}};

} // namespace

std::vector<command *> group_commands() {
    return {&show_listeners, &show_listener, &set_listener, &show_groups, &show_group, &show_backends, &show_health,
            &set_weight,     &add_backend,   &remove_backend, &create_group};
}

} // namespace fulcrum::cli
