#include "config/parse_listener.h"

#include "config/fields.h"
#include "config/parse.h"

#include <algorithm>
#include <charconv>

namespace fulcrum::config::detail {
namespace {

using nlohmann::json;
using namespace fields;

cidr parse_cidr(const json &v, const std::string &field) {
    auto p = net::parse_prefix(get_string(v, field));
    if (!p) fail(field, "must be an IPv4 or IPv6 address or prefix (a.b.c.d/len, 2001:db8::/32)");
    return {net::masked(p->net, p->len), p->len};
}

// An array of prefixes, or (as the public API sends lists) that array as a JSON string.
std::vector<cidr> parse_acl_entries(const json &v, const std::string &f) {
    json parsed = v;
    if (v.is_string()) {
        parsed = json::parse(v.get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) fail(f, "must be an array of IPv4 or IPv6 prefixes");
    }
    const auto &arr = get_array(parsed, f);
    if (arr.size() > max_acl_entries) fail(f, "must have at most 300 entries");
    std::vector<cidr> out;
    for (size_t i = 0; i < arr.size(); i++) {
        cidr c = parse_cidr(arr[i], index(f, i));
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
    return out;
}

health_check parse_health_check(const json &j, const std::string &f, protocol proto) {
    health_check h;
    h.kind = proto == protocol::udp ? health_kind::udp : health_kind::tcp;
    h.enabled = opt_switch(j, f, "HealthCheck", false);
    if (auto it = j.find("HealthCheckType"); it != j.end()) {
        std::string t = get_string(*it, join(f, "HealthCheckType"));
        if (proto == protocol::udp && t != "udp") fail(join(f, "HealthCheckType"), "must be udp on a udp listener");
        if (proto == protocol::tcp && t == "tcp") h.kind = health_kind::tcp;
        else if (proto == protocol::tcp && t == "http") h.kind = health_kind::http;
        else if (proto == protocol::tcp) fail(join(f, "HealthCheckType"), "must be one of tcp, http on a tcp listener");
    }
    bool udp = h.kind == health_kind::udp;
    h.connect_port = static_cast<uint16_t>(opt_uint(j, f, "HealthCheckConnectPort", 1, 65535, 0));
    h.interval = static_cast<uint32_t>(opt_uint(j, f, "HealthCheckInterval", 1, 50, udp ? 5 : 2));
    h.timeout = static_cast<uint32_t>(opt_uint(j, f, "HealthCheckConnectTimeout", 1, 300, udp ? 10 : 5));
    h.timeout = std::max(h.timeout, h.interval); // a probe may take until the next one is due
    h.healthy_threshold = static_cast<uint8_t>(opt_uint(j, f, "HealthyThreshold", 2, 10, 3));
    h.unhealthy_threshold = static_cast<uint8_t>(opt_uint(j, f, "UnhealthyThreshold", 2, 10, 3));
    if (auto it = j.find("HealthCheckURI"); it != j.end()) {
        h.uri = get_string(*it, join(f, "HealthCheckURI"));
        if (h.uri.empty() || h.uri[0] != '/' || h.uri.size() > 80 ||
            h.uri.find_first_of(" \r\n") != std::string::npos)
            fail(join(f, "HealthCheckURI"), "must be a path starting with '/', at most 80 characters, no spaces");
    }
    if (auto it = j.find("HealthCheckDomain"); it != j.end()) {
        h.domain = get_string(*it, join(f, "HealthCheckDomain"));
        if (h.domain.size() > 80 || h.domain.find_first_of(" \r\n/") != std::string::npos)
            fail(join(f, "HealthCheckDomain"), "must be a host name of at most 80 characters");
    }
    if (auto it = j.find("HealthCheckHttpCode"); it != j.end()) {
        std::string codes = get_string(*it, join(f, "HealthCheckHttpCode"));
        h.http_codes = 0;
        static const char *names[] = {"http_2xx", "http_3xx", "http_4xx", "http_5xx"};
        size_t start = 0;
        while (start <= codes.size()) {
            size_t comma = codes.find(',', start);
            std::string one = codes.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            auto n = std::find_if(std::begin(names), std::end(names), [&](const char *x) { return one == x; });
            if (n == std::end(names))
                fail(join(f, "HealthCheckHttpCode"), "must be a comma-separated list of http_2xx, http_3xx, http_4xx, http_5xx");
            h.http_codes |= static_cast<uint8_t>(1u << (n - std::begin(names)));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    for (auto [key, out] : {std::pair{"HealthCheckReq", &h.udp_request}, std::pair{"HealthCheckExp", &h.udp_expect}})
        if (auto it = j.find(key); it != j.end()) {
            *out = get_string(*it, join(f, key));
            if (out->size() > 500) fail(join(f, key), "must be at most 500 characters");
        }
    return h;
}

} // namespace

listener parse_listener(const json &j, const std::string &f, const std::vector<net::ip_addr> &vips,
                        const std::vector<vserver_group> &groups, const std::vector<master_slave_group> &ms_groups) {
    check_keys(j, f, {"VIP", "Protocol", "ListenerPort", "BackendServerPort", "Scheduler",
                      "EstablishedTimeout", "IdleTimeout", "Description", "VServerGroupId",
                      "MasterSlaveServerGroupId", "PersistenceTimeout", "ConnectionDrain",
                      "ConnectionDrainTimeout", "AclStatus", "AclType", "AclEntries", "HealthCheck",
                      "HealthCheckType", "HealthCheckConnectPort", "HealthCheckInterval",
                      "HealthCheckConnectTimeout", "HealthyThreshold", "UnhealthyThreshold", "HealthCheckURI",
                      "HealthCheckDomain", "HealthCheckHttpCode", "HealthCheckReq", "HealthCheckExp",
                      "MaxConnections", "MaxNewConnectionRate", "MaxConnectionsPerSource", "SynProxy",
                      "ProxyProtocolV2Enabled", "ToaEnabled"});
    listener l;
    l.vip = get_ip(require(j, f, "VIP"), join(f, "VIP"));
    if (std::find(vips.begin(), vips.end(), l.vip) == vips.end())
        fail(join(f, "VIP"), "must be one of the instance's vips");
    require(j, f, "Protocol");
    l.proto = opt_name(j, f, "Protocol", {"tcp", "udp"}, protocol::tcp);
    l.port = static_cast<uint16_t>(get_uint(require(j, f, "ListenerPort"), join(f, "ListenerPort"), 1, 65535));
    l.backend_port = static_cast<uint16_t>(
        get_uint(require(j, f, "BackendServerPort"), join(f, "BackendServerPort"), 1, 65535));
    l.scheduler = opt_name(j, f, "Scheduler", {"wrr", "rr", "wlc", "sch", "tch"}, scheduler_kind::wrr);
    l.established_timeout = static_cast<uint32_t>(opt_uint(j, f, "EstablishedTimeout", 10, 900, 900));
    l.idle_timeout = static_cast<uint32_t>(opt_uint(j, f, "IdleTimeout", 1, 3600, 300));
    if (auto it = j.find("VServerGroupId"); it != j.end()) {
        l.vserver_group_id = get_string(*it, join(f, "VServerGroupId"));
        bool known = std::any_of(groups.begin(), groups.end(), [&](const vserver_group &g) { return g.id == l.vserver_group_id; });
        if (!known) fail(join(f, "VServerGroupId"), "must name an existing vserver group");
    }
    if (auto it = j.find("MasterSlaveServerGroupId"); it != j.end()) {
        l.master_slave_group_id = get_string(*it, join(f, "MasterSlaveServerGroupId"));
        bool known = std::any_of(ms_groups.begin(), ms_groups.end(),
                                 [&](const master_slave_group &g) { return g.id == l.master_slave_group_id; });
        if (!known) fail(join(f, "MasterSlaveServerGroupId"), "must name an existing master/slave group");
        if (!l.vserver_group_id.empty())
            fail(join(f, "MasterSlaveServerGroupId"), "must not be set together with VServerGroupId (one group per listener)");
    }
    if (auto it = j.find("Description"); it != j.end()) l.description = get_string(*it, join(f, "Description"));
    l.persistence_timeout = static_cast<uint32_t>(opt_uint(j, f, "PersistenceTimeout", 0, 3600, 0));
    l.connection_drain = opt_switch(j, f, "ConnectionDrain", false);
    l.connection_drain_timeout = static_cast<uint32_t>(opt_uint(j, f, "ConnectionDrainTimeout", 10, 900, 300));
    l.acl_enabled = opt_switch(j, f, "AclStatus", false);
    l.acl_whitelist = !opt_name(j, f, "AclType", {"white", "black"}, false);
    if (auto it = j.find("AclEntries"); it != j.end()) l.acl_entries = parse_acl_entries(*it, join(f, "AclEntries"));
    if (l.acl_enabled && !j.contains("AclType")) fail(join(f, "AclType"), "is required when AclStatus is on");
    l.health = parse_health_check(j, f, l.proto);
    l.max_connections = static_cast<uint32_t>(opt_uint(j, f, "MaxConnections", 0, 100000000, 0));
    l.max_new_connection_rate = static_cast<uint32_t>(opt_uint(j, f, "MaxNewConnectionRate", 0, 100000000, 0));
    l.max_connections_per_source = static_cast<uint32_t>(opt_uint(j, f, "MaxConnectionsPerSource", 0, 65535, 0));
    l.syn_proxy = opt_name(j, f, "SynProxy", {"auto", "on", "off"}, syn_proxy_mode::automatic);
    if (l.proto != protocol::tcp && l.syn_proxy == syn_proxy_mode::on)
        fail(join(f, "SynProxy"), "applies to TCP listeners only");
    l.proxy_protocol_v2 = opt_switch(j, f, "ProxyProtocolV2Enabled", false);
    l.toa = opt_switch(j, f, "ToaEnabled", false);
    if (l.toa && l.proto != protocol::tcp) fail(join(f, "ToaEnabled"), "applies to TCP listeners only");
    if (l.toa && l.proxy_protocol_v2)
        fail(join(f, "ToaEnabled"), "must be off while ProxyProtocolV2Enabled is on (one way to carry the client address)");
    return l;
}

} // namespace fulcrum::config::detail
