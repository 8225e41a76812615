// The model back to config JSON: what the state file holds, what `show config` and the
// Describe* actions print. parse_instance(instance_to_json(c)) gives back c.
#include "config/parse.h"

#include <nlohmann/json.hpp>

namespace fulcrum::config {

using nlohmann::json;

std::string format_cidr(const cidr &c) { return net::format_prefix(c); }

json listener_to_json(const listener &l) {
    static const char *scheds[] = {"wrr", "rr", "wlc", "sch", "tch"};
    static const char *checks[] = {"tcp", "http", "udp"};
    auto on_off = [](bool b) { return b ? "on" : "off"; };
    json j{{"VIP", format_ip(l.vip)},
           {"Protocol", l.proto == protocol::tcp ? "tcp" : "udp"},
           {"ListenerPort", l.port},
           {"BackendServerPort", l.backend_port},
           {"Scheduler", scheds[static_cast<int>(l.scheduler)]},
           {"EstablishedTimeout", l.established_timeout},
           {"IdleTimeout", l.idle_timeout},
           {"PersistenceTimeout", l.persistence_timeout},
           {"ConnectionDrain", on_off(l.connection_drain)},
           {"ConnectionDrainTimeout", l.connection_drain_timeout},
           {"AclStatus", on_off(l.acl_enabled)},
           {"AclType", l.acl_whitelist ? "white" : "black"},
           {"AclEntries", json::array()}};
    for (const auto &c : l.acl_entries) j["AclEntries"].push_back(format_cidr(c));
    if (!l.vserver_group_id.empty()) j["VServerGroupId"] = l.vserver_group_id;
    if (!l.master_slave_group_id.empty()) j["MasterSlaveServerGroupId"] = l.master_slave_group_id;
    if (!l.description.empty()) j["Description"] = l.description;
    j["MaxConnections"] = l.max_connections;
    j["MaxNewConnectionRate"] = l.max_new_connection_rate;
    j["MaxConnectionsPerSource"] = l.max_connections_per_source;
    if (l.proto == protocol::tcp) {
        static const char *modes[] = {"auto", "on", "off"};
        j["SynProxy"] = modes[static_cast<int>(l.syn_proxy)];
        j["ToaEnabled"] = on_off(l.toa);
    }
    j["ProxyProtocolV2Enabled"] = on_off(l.proxy_protocol_v2);
    const health_check &h = l.health;
    j["HealthCheck"] = on_off(h.enabled);
    j["HealthCheckType"] = checks[static_cast<int>(h.kind)];
    if (h.connect_port) j["HealthCheckConnectPort"] = h.connect_port;
    j["HealthCheckInterval"] = h.interval;
    j["HealthCheckConnectTimeout"] = h.timeout;
    j["HealthyThreshold"] = h.healthy_threshold;
    j["UnhealthyThreshold"] = h.unhealthy_threshold;
    if (h.kind == health_kind::http) {
        j["HealthCheckURI"] = h.uri;
        if (!h.domain.empty()) j["HealthCheckDomain"] = h.domain;
        std::string codes;
        for (int i = 0; i < 4; i++)
            if (h.http_codes & (1 << i)) codes += (codes.empty() ? "http_" : ",http_") + std::to_string(i + 2) + "xx";
        j["HealthCheckHttpCode"] = codes;
    }
    if (!h.udp_request.empty()) j["HealthCheckReq"] = h.udp_request;
    if (!h.udp_expect.empty()) j["HealthCheckExp"] = h.udp_expect;
    return j;
}

json backend_to_json(const backend &b) {
    json j{{"ServerId", b.server_id}, {"Type", b.type}, {"ServerIp", format_ip(b.ip)},
           {"Weight", b.weight}, {"Description", b.description}};
    if (b.port) j["Port"] = b.port;
    return j;
}

json master_slave_to_json(const master_slave_group &g) {
    json pair{backend_to_json(g.master), backend_to_json(g.slave)};
    pair[0]["ServerType"] = "Master";
    pair[1]["ServerType"] = "Slave";
    return {{"MasterSlaveServerGroupId", g.id}, {"MasterSlaveServerGroupName", g.name},
            {"MasterSlaveBackendServers", pair}};
}

json instance_to_json(const instance &c) {
    auto ips = [](const std::vector<net::ip_addr> &v) {
        json a = json::array();
        for (const net::ip_addr &ip : v) a.push_back(format_ip(ip));
        return a;
    };
    auto backends = [](const std::vector<backend> &v) {
        json a = json::array();
        for (const auto &b : v) a.push_back(backend_to_json(b));
        return a;
    };
    json j;
    j["workers"] = c.workers;
    j["ports"] = json::array();
    for (const auto &p : c.ports) {
        json pj{{"name", p.name}, {"device", p.device},
                {"address", net::format_prefix(p.address, p.prefix_len)}, {"mtu", p.mtu}};
        if (p.gateway) pj["gateway"] = format_ipv4(p.gateway);
        if (!p.address6.none()) pj["address6"] = net::format_prefix({p.address6, p.prefix6_len});
        if (!p.gateway6.none()) pj["gateway6"] = format_ip(p.gateway6);
        if (p.rss != rss_setting::auto_) pj["rss"] = p.rss == rss_setting::emulated ? "emulated" : "off";
        if (!p.local_addresses.empty()) pj["local_addresses"] = ips(p.local_addresses);
        if (!p.static_neighbours.empty()) {
            pj["static_neighbours"] = json::array();
            for (const auto &n : p.static_neighbours) {
                pj["static_neighbours"].push_back({{"ip", format_ip(n.ip)}, {"mac", net::format_mac(n.mac.data())}});
            }
        }
        j["ports"].push_back(pj);
    }
    j["vips"] = ips(c.vips);
    j["local_addresses"] = ips(c.local_addresses);
    j["lport_range"] = std::to_string(c.lport_min) + "-" + std::to_string(c.lport_max);
    j["probe_port_range"] = std::to_string(c.probe_port_min) + "-" + std::to_string(c.probe_port_max);
    j["exception_path"] = c.exception_path ? "on" : "off";
    if (!c.probe_source.none()) j["health_check_source"] = format_ip(c.probe_source);
    if (!c.probe_source6.none()) j["health_check_source6"] = format_ip(c.probe_source6);
    j["conn_capacity"] = c.conn_capacity;
    j["neighbour_capacity"] = c.neighbour_capacity;
    j["mbufs"] = c.mbufs;
    j["maglev_size"] = c.maglev_size;
    j["tcp_timeouts"] = {{"syn_sent", c.timeouts.syn_sent}, {"syn_recv", c.timeouts.syn_recv},
                         {"fin_wait", c.timeouts.fin_wait}, {"time_wait", c.timeouts.time_wait},
                         {"close", c.timeouts.close}};
    j["udp_timeouts"] = {{"unreplied", c.udp_unreplied_timeout}};
    j["neighbour_timeout"] = c.neighbour_timeout;
    j["exception_path_rate"] = c.exception_path_rate;
    j["syn_proxy_threshold"] = c.syn_proxy_threshold;
    j["ipv6_source_prefix"] = c.ipv6_source_prefix;
    j["node_drain"] = c.node_drain ? "on" : "off";
    if (!c.bgp.include_file.empty()) {
        j["bgp"] = {{"include_file", c.bgp.include_file}};
        if (!c.bgp.include_file6.empty()) j["bgp"]["include_file6"] = c.bgp.include_file6;
        if (!c.bgp.reload_command.empty()) j["bgp"]["reload_command"] = c.bgp.reload_command;
        if (!c.bgp.neighbours.empty()) {
            j["bgp"]["neighbours"] = ips(c.bgp.neighbours);
        }
    }
    if (!c.cluster.nodes.empty()) {
        j["cluster"] = {{"nodes", ips(c.cluster.nodes)}, {"handoff_rate", c.cluster.handoff_rate}};
    }
    j["listeners"] = json::array();
    for (const auto &l : c.listeners) j["listeners"].push_back(listener_to_json(l));
    j["default_server_group"] = backends(c.default_server_group);
    j["vserver_groups"] = json::array();
    for (const auto &g : c.vserver_groups)
        j["vserver_groups"].push_back(
            {{"VServerGroupId", g.id}, {"VServerGroupName", g.name}, {"BackendServers", backends(g.backends)}});
    j["master_slave_groups"] = json::array();
    for (const auto &g : c.master_slave_groups) j["master_slave_groups"].push_back(master_slave_to_json(g));
    return j;
}

} // namespace fulcrum::config
