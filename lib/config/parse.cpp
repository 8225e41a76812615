// Parsing walks the document once; the first violation aborts the walk (internally by
// throwing `error`, caught at the API edge and returned as a value) so a bad config
// produces exactly one message naming the field and the rule.
#include "config/parse.h"

#include "config/fields.h"
#include "config/parse_listener.h"

#include "config/state.h"

#include "sched/maglev.h"

#include <arpa/inet.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace fulcrum::config {
namespace {

using nlohmann::json;
using namespace fields;
using detail::parse_listener;

port parse_port(const json &j, const std::string &f) {
    check_keys(j, f, {"name", "device", "address", "gateway", "address6", "gateway6", "mtu", "static_neighbours", "rss",
                      "local_addresses"});
    port p;
    p.name = get_string(require(j, f, "name"), join(f, "name"));
    p.device = get_string(require(j, f, "device"), join(f, "device"));
    std::string addr = get_string(require(j, f, "address"), join(f, "address"));
    auto slash = addr.find('/');
    if (slash == std::string::npos) fail(join(f, "address"), "must be an IPv4 prefix a.b.c.d/len");
    auto ip = parse_ipv4(addr.substr(0, slash), join(f, "address"));
    if (!ip) throw ip.err();
    p.address = ip.value();
    p.prefix_len = static_cast<uint8_t>(get_uint(json(addr.substr(slash + 1)), join(f, "address"), 1, 32));
    if (auto it = j.find("gateway"); it != j.end()) {
        p.gateway = get_ipv4(*it, join(f, "gateway"));
        if (!net::in_prefix(p.gateway, p.address, p.prefix_len))
            fail(join(f, "gateway"), "must be inside the port's own subnet");
    }
    if (auto it = j.find("address6"); it != j.end()) {
        std::string field = join(f, "address6"), text = get_string(*it, field);
        auto pfx = net::parse_prefix(text);
        if (!pfx || !pfx->net.is_v6() || text.find('/') == std::string::npos || pfx->len == 0)
            fail(field, "must be an IPv6 address and prefix length, e.g. 2001:db8::1/64 (RFC 4291 2.3)");
        if (auto ok = parse_ip(text.substr(0, text.find('/')), field); !ok) throw ok.err();
        if (net::is_link_local(pfx->net))
            fail(field, "must not be link-local (fe80::/10): the port's link-local address is derived from its MAC");
        p.address6 = pfx->net;
        p.prefix6_len = pfx->len;
    }
    if (auto it = j.find("gateway6"); it != j.end()) {
        if (p.address6.none()) fail(join(f, "gateway6"), "needs the port's address6");
        p.gateway6 = get_ipv6(*it, join(f, "gateway6"));
        if (!p.on_link(p.gateway6) && !net::is_link_local(p.gateway6))
            fail(join(f, "gateway6"), "must be inside the port's IPv6 subnet or link-local (fe80::/10)");
    }
    p.mtu = static_cast<uint16_t>(opt_uint(j, f, "mtu", 576, 9000, 1500));
    p.rss = opt_name(j, f, "rss", {"auto", "emulated", "off"}, rss_setting::auto_);
    if (auto it = j.find("local_addresses"); it != j.end())
        p.local_addresses = parse_ip_list(*it, join(f, "local_addresses"));
    if (auto it = j.find("static_neighbours"); it != j.end()) {
        const auto &arr = get_array(*it, join(f, "static_neighbours"));
        for (size_t i = 0; i < arr.size(); i++) {
            std::string nf = index(join(f, "static_neighbours"), i);
            check_keys(arr[i], nf, {"ip", "mac"});
            neighbour n;
            n.ip = get_ip(require(arr[i], nf, "ip"), join(nf, "ip"));
            if (n.ip.is_v6() && p.address6.none()) fail(join(nf, "ip"), "is IPv6 but the port has no address6");
            n.mac = get_mac(require(arr[i], nf, "mac"), join(nf, "mac"));
            p.static_neighbours.push_back(n);
        }
    }
    return p;
}

backend parse_backend(const json &j, const std::string &f) {
    check_keys(j, f, {"ServerId", "Type", "ServerIp", "Port", "Weight", "Description"});
    backend b;
    b.server_id = get_string(require(j, f, "ServerId"), join(f, "ServerId"));
    if (b.server_id.empty()) fail(join(f, "ServerId"), "must not be empty");
    if (auto it = j.find("Type"); it != j.end()) {
        b.type = get_string(*it, join(f, "Type"));
        if (b.type != "ecs" && b.type != "eni") fail(join(f, "Type"), "must be one of ecs, eni");
    }
    b.ip = get_ip(require(j, f, "ServerIp"), join(f, "ServerIp"));
    b.port = static_cast<uint16_t>(opt_uint(j, f, "Port", 1, 65535, 0));
    b.weight = static_cast<uint8_t>(opt_uint(j, f, "Weight", 0, 100, 100));
    if (auto it = j.find("Description"); it != j.end())
        b.description = get_string(*it, join(f, "Description"));
    return b;
}

vserver_group parse_vserver_group(const json &j, const std::string &f) {
    check_keys(j, f, {"VServerGroupId", "VServerGroupName", "BackendServers"});
    vserver_group g;
    g.id = get_string(require(j, f, "VServerGroupId"), join(f, "VServerGroupId"));
    if (g.id.empty()) fail(join(f, "VServerGroupId"), "must not be empty");
    if (auto it = j.find("VServerGroupName"); it != j.end()) g.name = get_string(*it, join(f, "VServerGroupName"));
    if (auto it = j.find("BackendServers"); it != j.end()) {
        const auto &arr = get_array(*it, join(f, "BackendServers"));
        for (size_t i = 0; i < arr.size(); i++) {
            std::string bf = index(join(f, "BackendServers"), i);
            backend b = parse_backend(arr[i], bf);
            if (b.port == 0) fail(join(bf, "Port"), "is required in a vserver group");
            for (const auto &o : g.backends)
                if (o.server_id == b.server_id && o.ip == b.ip && o.port == b.port)
                    fail(bf, "must not repeat a (ServerId, ServerIp, Port) backend");
            g.backends.push_back(b);
        }
    }
    return g;
}

master_slave_group parse_master_slave_group(const json &j, const std::string &f) {
    check_keys(j, f, {"MasterSlaveServerGroupId", "MasterSlaveServerGroupName", "MasterSlaveBackendServers"});
    master_slave_group g;
    g.id = get_string(require(j, f, "MasterSlaveServerGroupId"), join(f, "MasterSlaveServerGroupId"));
    if (g.id.empty()) fail(join(f, "MasterSlaveServerGroupId"), "must not be empty");
    if (auto it = j.find("MasterSlaveServerGroupName"); it != j.end())
        g.name = get_string(*it, join(f, "MasterSlaveServerGroupName"));
    std::string bf = join(f, "MasterSlaveBackendServers");
    const auto &arr = get_array(require(j, f, "MasterSlaveBackendServers"), bf);
    if (arr.size() != 2) fail(bf, "must hold exactly two backends, one Master and one Slave");
    bool have_master = false, have_slave = false;
    for (size_t i = 0; i < 2; i++) {
        std::string ef = index(bf, i);
        if (!arr[i].is_object()) fail(ef, "must be an object");
        json entry = arr[i];
        std::string type = get_string(require(entry, ef, "ServerType"), join(ef, "ServerType"));
        entry.erase("ServerType");
        backend b = parse_backend(entry, ef);
        if (b.port == 0) fail(join(ef, "Port"), "is required in a master/slave group");
        if (type == "Master" && !have_master) g.master = b, have_master = true;
        else if (type == "Slave" && !have_slave) g.slave = b, have_slave = true;
        else fail(join(ef, "ServerType"), "must be Master for one backend and Slave for the other");
    }
    return g;
}

// "min-max" within 1024-65535.
void parse_port_range(const json &doc, const char *key, uint16_t &lo, uint16_t &hi) {
    auto it = doc.find(key);
    if (it == doc.end()) return;
    std::string r = get_string(*it, key);
    auto dash = r.find('-');
    if (dash == std::string::npos) fail(key, "must be 'min-max' within 1024-65535");
    lo = static_cast<uint16_t>(get_uint(json(r.substr(0, dash)), key, 1024, 65535));
    hi = static_cast<uint16_t>(get_uint(json(r.substr(dash + 1)), key, 1024, 65535));
    if (lo > hi) fail(key, "min must not exceed max");
}

// A list of named groups whose ids must be unique.
template <class Group, class Parse>
void parse_groups(const json &doc, const char *key, const char *id_field, const char *kind, Parse parse,
                  std::vector<Group> &out) {
    auto it = doc.find(key);
    if (it == doc.end()) return;
    const auto &arr = get_array(*it, key);
    for (size_t i = 0; i < arr.size(); i++) {
        std::string f = index(key, i);
        Group g = parse(arr[i], f);
        for (const auto &o : out)
            if (o.id == g.id) fail(join(f, id_field), std::string("must be unique among ") + kind + " groups");
        out.push_back(std::move(g));
    }
}

bgp_settings parse_bgp(const json &j, const std::string &f) {
    check_keys(j, f, {"include_file", "include_file6", "reload_command", "neighbours"});
    bgp_settings b;
    b.include_file = get_string(require(j, f, "include_file"), join(f, "include_file"));
    if (b.include_file.empty() || b.include_file[0] != '/') fail(join(f, "include_file"), "must be an absolute path");
    if (auto it = j.find("include_file6"); it != j.end()) {
        b.include_file6 = get_string(*it, join(f, "include_file6"));
        if (b.include_file6.empty() || b.include_file6[0] != '/') fail(join(f, "include_file6"), "must be an absolute path");
        if (b.include_file6 == b.include_file) fail(join(f, "include_file6"), "must differ from include_file");
    }
    if (auto it = j.find("reload_command"); it != j.end()) {
        const json &argv = get_array(*it, join(f, "reload_command"));
        for (size_t i = 0; i < argv.size(); i++) b.reload_command.push_back(get_string(argv[i], index(join(f, "reload_command"), i)));
        if (b.reload_command.empty() || b.reload_command[0].empty())
            fail(join(f, "reload_command"), "must name a program, e.g. [\"birdc\", \"-s\", \"/run/bird/bird.ctl\", \"configure\"]");
    }
    if (auto it = j.find("neighbours"); it != j.end()) {
        b.neighbours = parse_ip_list(*it, join(f, "neighbours"));
        if (b.neighbours.size() > 64) fail(join(f, "neighbours"), "must have at most 64 entries");
    }
    return b;
}

cluster_settings parse_cluster(const json &j, const std::vector<port> &ports) {
    check_keys(j, "cluster", {"nodes", "handoff_rate"});
    cluster_settings c;
    c.nodes = parse_ip_list(require(j, "cluster", "nodes"), "cluster.nodes");
    if (c.nodes.size() > 32) fail("cluster.nodes", "must have at most 32 entries");
    for (size_t i = 0; i < c.nodes.size(); i++) {
        const net::ip_addr &n = c.nodes[i];
        if (std::none_of(ports.begin(), ports.end(), [&](const port &p) { return p.on_link(n); }))
            fail(index("cluster.nodes", i), "must lie in a port's subnet: segments are handed to other nodes on a shared link");
    }
    c.handoff_rate = static_cast<uint32_t>(opt_uint(j, "cluster", "handoff_rate", 0, 100000000, c.handoff_rate));
    return c;
}

instance parse_root(const json &doc) {
    check_keys(doc, "", {"workers", "ports", "vips", "local_addresses", "lport_range",
                         "conn_capacity", "neighbour_capacity", "mbufs", "maglev_size", "tcp_timeouts", "listeners",
                         "default_server_group", "vserver_groups", "master_slave_groups", "comment",
                         "exception_path", "health_check_source", "health_check_source6", "probe_port_range", "udp_timeouts",
                         "neighbour_timeout", "exception_path_rate", "syn_proxy_threshold", "ipv6_source_prefix", "bgp", "cluster", "node_drain"});
    instance inst;
    inst.workers = static_cast<uint32_t>(opt_uint(doc, "", "workers", 0, 64, 0));
    const auto &ports = get_array(require(doc, "", "ports"), "ports");
    if (ports.empty()) fail("ports", "must name at least one port");
    std::set<std::string> names;
    for (size_t i = 0; i < ports.size(); i++) {
        inst.ports.push_back(parse_port(ports[i], index("ports", i)));
        if (!names.insert(inst.ports.back().name).second)
            fail(index("ports", i) + ".name", "must be unique among ports");
    }
    if (inst.ports.size() > 16) fail("ports", "must have at most 16 entries");
    inst.vips = parse_ip_list(require(doc, "", "vips"), "vips");
    if (auto it = doc.find("local_addresses"); it != doc.end())
        inst.local_addresses = parse_ip_list(*it, "local_addresses");
    for (size_t i = 0; i < inst.local_addresses.size(); i++) {
        const net::ip_addr &l = inst.local_addresses[i];
        bool in_subnet = std::any_of(inst.ports.begin(), inst.ports.end(), [&](const port &p) { return p.on_link(l); });
        if (!in_subnet && inst.ports.size() > 1)
            fail(index("local_addresses", i), "must lie in a port's subnet, so that it belongs to that port (an address "
                                              "outside every subnet goes under ports[i].local_addresses: that port's routed pool)");
    }
    std::vector<local_address> all = local_addresses_by_port(inst);
    if (all.empty())
        fail("local_addresses", "must hold at least one address (the full-NAT source pool), here or under a port");
    if (all.size() > max_local_addresses) fail("local_addresses", "must have at most 256 entries, ports' own included");
    auto laddr_field = [&](size_t k) {
        if (k < inst.local_addresses.size()) return index("local_addresses", k);
        for (size_t p = 0, base = inst.local_addresses.size(); p < inst.ports.size(); base += inst.ports[p++].local_addresses.size())
            if (k < base + inst.ports[p].local_addresses.size())
                return index(index("ports", p) + ".local_addresses", k - base);
        return std::string("local_addresses");
    };
    for (size_t k = 0; k < all.size(); k++) {
        if (std::find(inst.vips.begin(), inst.vips.end(), all[k].ip) != inst.vips.end())
            fail(laddr_field(k), "must not also be a VIP");
        for (size_t e = 0; e < k; e++)
            if (all[e].ip == all[k].ip) fail(laddr_field(k), "must appear once among the local addresses");
    }
    parse_port_range(doc, "lport_range", inst.lport_min, inst.lport_max);
    parse_port_range(doc, "probe_port_range", inst.probe_port_min, inst.probe_port_max);
    if (inst.lport_min <= inst.probe_port_max && inst.probe_port_min <= inst.lport_max)
        fail(doc.contains("probe_port_range") ? "probe_port_range" : "lport_range",
             "lport_range and probe_port_range must not overlap (defaults 1024-60999 and 61000-65535)");
    inst.exception_path = opt_switch(doc, "", "exception_path", true);
    for (size_t k = 0; k < all.size(); k++)
        if (all[k].ip.is_v6() && inst.ports[all[k].port].address6.none())
            fail(laddr_field(k), "is IPv6 but its port has no address6");
    auto probe_source = [&](const char *key, bool v6, net::ip_addr &out) {
        for (const auto &a : all)
            if (a.ip.is_v6() == v6) {
                out = a.ip;
                break;
            }
        auto it = doc.find(key);
        if (it == doc.end()) return;
        out = get_ip(*it, key);
        if (out.is_v6() != v6) fail(key, v6 ? "must be an IPv6 local address" : "must be an IPv4 local address");
        if (std::none_of(all.begin(), all.end(), [&](const local_address &a) { return a.ip == out; }))
            fail(key, "must be one of the local addresses");
    };
    probe_source("health_check_source", false, inst.probe_source);
    probe_source("health_check_source6", true, inst.probe_source6);
    inst.conn_capacity = static_cast<uint32_t>(opt_uint(doc, "", "conn_capacity", 64, 1u << 26, 1u << 20));
    inst.neighbour_capacity = static_cast<uint32_t>(opt_uint(doc, "", "neighbour_capacity", 16, 32768, 8192));
    inst.mbufs = static_cast<uint32_t>(opt_uint(doc, "", "mbufs", 1024, 1u << 24, 32768));
    inst.maglev_size = static_cast<uint32_t>(opt_uint(doc, "", "maglev_size", 251, 1000003, 65537));
    if (!sched::is_prime(inst.maglev_size)) fail("maglev_size", "must be a prime number (e.g. 65537)");
    if (auto it = doc.find("tcp_timeouts"); it != doc.end()) {
        const json &t = *it;
        check_keys(t, "tcp_timeouts", {"syn_sent", "syn_recv", "fin_wait", "time_wait", "close"});
        auto &to = inst.timeouts;
        to.syn_sent = static_cast<uint32_t>(opt_uint(t, "tcp_timeouts", "syn_sent", 1, 3600, to.syn_sent));
        to.syn_recv = static_cast<uint32_t>(opt_uint(t, "tcp_timeouts", "syn_recv", 1, 3600, to.syn_recv));
        to.fin_wait = static_cast<uint32_t>(opt_uint(t, "tcp_timeouts", "fin_wait", 1, 3600, to.fin_wait));
        to.time_wait = static_cast<uint32_t>(opt_uint(t, "tcp_timeouts", "time_wait", 1, 3600, to.time_wait));
        to.close = static_cast<uint32_t>(opt_uint(t, "tcp_timeouts", "close", 1, 3600, to.close));
    }
    if (auto it = doc.find("udp_timeouts"); it != doc.end()) {
        check_keys(*it, "udp_timeouts", {"unreplied"});
        inst.udp_unreplied_timeout =
            static_cast<uint32_t>(opt_uint(*it, "udp_timeouts", "unreplied", 1, 3600, inst.udp_unreplied_timeout));
    }
    inst.neighbour_timeout = static_cast<uint32_t>(opt_uint(doc, "", "neighbour_timeout", 5, 3600, 60));
    inst.exception_path_rate = static_cast<uint32_t>(opt_uint(doc, "", "exception_path_rate", 0, 100000000, 20000));
    inst.syn_proxy_threshold = static_cast<uint32_t>(opt_uint(doc, "", "syn_proxy_threshold", 1, 1u << 26, 512));
    inst.ipv6_source_prefix = static_cast<uint8_t>(opt_uint(doc, "", "ipv6_source_prefix", 8, 128, 64));
    inst.node_drain = opt_switch(doc, "", "node_drain", false);
    if (auto it = doc.find("bgp"); it != doc.end()) {
        inst.bgp = parse_bgp(*it, "bgp");
        // A BIRD static protocol takes one family: IPv6 VIPs' routes need their own file.
        if (inst.bgp.include_file6.empty() && std::any_of(inst.vips.begin(), inst.vips.end(), [](const net::ip_addr &v) { return v.is_v6(); }))
            fail("bgp.include_file6", "is required when vips has IPv6 addresses: their routes go to a file an ipv6 static protocol includes");
    }
    if (auto it = doc.find("cluster"); it != doc.end()) inst.cluster = parse_cluster(*it, inst.ports);
    parse_groups(doc, "vserver_groups", "VServerGroupId", "vserver", parse_vserver_group, inst.vserver_groups);
    parse_groups(doc, "master_slave_groups", "MasterSlaveServerGroupId", "master/slave", parse_master_slave_group,
                 inst.master_slave_groups);
    if (auto it = doc.find("listeners"); it != doc.end()) {
        const auto &arr = get_array(*it, "listeners");
        if (arr.size() > max_listeners) fail("listeners", "must have at most 50 entries");
        for (size_t i = 0; i < arr.size(); i++) {
            listener l = parse_listener(arr[i], index("listeners", i), inst.vips, inst.vserver_groups,
                                        inst.master_slave_groups);
            for (const auto &o : inst.listeners)
                if (o.vip == l.vip && o.proto == l.proto && o.port == l.port)
                    fail(index("listeners", i), "must not repeat a (VIP, Protocol, ListenerPort)");
            inst.listeners.push_back(l);
        }
    }
    // A backend is reached from a local address of its own family (6->4: an IPv6 client,
    // an IPv4 laddr); an IPv6 VIP from a port that speaks IPv6.
    bool have6 = std::any_of(all.begin(), all.end(), [](const local_address &a) { return a.ip.is_v6(); });
    bool have4 = std::any_of(all.begin(), all.end(), [](const local_address &a) { return a.ip.is_v4(); });
    auto reachable = [&](const backend &b, const std::string &field) {
        if (b.ip.is_v6() && !have6) fail(field, "is IPv6 but no local address is (full-NAT needs an IPv6 laddr for it)");
        if (b.ip.is_v4() && !have4) fail(field, "is IPv4 but no local address is (full-NAT needs an IPv4 laddr for it)");
    };
    for (size_t i = 0; i < inst.vips.size(); i++)
        if (inst.vips[i].is_v6() && std::all_of(inst.ports.begin(), inst.ports.end(), [](const port &p) { return p.address6.none(); }))
            fail(index("vips", i), "is IPv6 but no port has an address6");
    for (size_t g = 0; g < inst.vserver_groups.size(); g++)
        for (size_t i = 0; i < inst.vserver_groups[g].backends.size(); i++)
            reachable(inst.vserver_groups[g].backends[i], index(index("vserver_groups", g) + ".BackendServers", i) + ".ServerIp");
    for (size_t g = 0; g < inst.master_slave_groups.size(); g++) {
        std::string f = index("master_slave_groups", g) + ".MasterSlaveBackendServers";
        reachable(inst.master_slave_groups[g].master, f + ".ServerIp");
        reachable(inst.master_slave_groups[g].slave, f + ".ServerIp");
    }
    if (auto it = doc.find("default_server_group"); it != doc.end()) {
        const auto &arr = get_array(*it, "default_server_group");
        for (size_t i = 0; i < arr.size(); i++) {
            backend b = parse_backend(arr[i], index("default_server_group", i));
            bool dup = std::any_of(inst.default_server_group.begin(), inst.default_server_group.end(),
                                   [&](const backend &o) { return o.ip == b.ip && o.port == b.port; });
            if (dup) fail(index("default_server_group", i), "must not repeat a (ServerIp, Port) backend");
            reachable(b, index("default_server_group", i) + ".ServerIp");
            inst.default_server_group.push_back(b);
        }
    }
    return inst;
}

} // namespace

result<uint32_t> parse_ipv4(const std::string &text, const std::string &field) {
    auto ip = net::parse_ipv4(text);
    if (!ip) return error{field, "must be an IPv4 address a.b.c.d"};
    return *ip;
}

result<net::ip_addr> parse_ip(const std::string &text, const std::string &field) {
    auto ip = net::parse_ip(text);
    if (!ip) return error{field, "must be an IPv4 address (a.b.c.d) or an IPv6 address (RFC 4291 2.2, e.g. 2001:db8::1)"};
    if (ip->none()) return error{field, "must not be the unspecified address ::"};
    if (ip->is_v6() && ip->b[0] == 0xff) return error{field, "must not be an IPv6 multicast address (ff00::/8)"};
    if (*ip == *net::parse_ip("::1")) return error{field, "must not be the IPv6 loopback address ::1"};
    return *ip;
}

result<std::vector<backend>> parse_backend_servers(const json &v, const std::string &field) {
    try {
        // The public API passes BackendServers as a JSON-encoded string; accept both.
        json parsed;
        const json *arr = &v;
        if (v.is_string()) {
            parsed = json::parse(v.get<std::string>(), nullptr, false);
            if (parsed.is_discarded()) fail(field, "must be a JSON array of backend servers");
            arr = &parsed;
        }
        get_array(*arr, field);
        if (arr->empty()) fail(field, "must name at least one backend server");
        std::vector<backend> out;
        for (size_t i = 0; i < arr->size(); i++) {
            backend b = parse_backend((*arr)[i], index(field, i));
            bool dup = std::any_of(out.begin(), out.end(), [&](const backend &o) {
                return o.server_id == b.server_id && o.ip == b.ip && o.port == b.port;
            });
            if (!dup) out.push_back(b); // duplicates within one request collapse to the first
        }
        return out;
    } catch (const error &e) {
        return e;
    }
}

result<listener> parse_listener_object(const json &j, const instance &inst) {
    try {
        return parse_listener(j, "", inst.vips, inst.vserver_groups, inst.master_slave_groups);
    } catch (const error &e) {
        return e;
    }
}

result<master_slave_group> parse_master_slave_object(const json &j) {
    try {
        return parse_master_slave_group(j, "");
    } catch (const error &e) {
        return e;
    }
}

result<instance> parse_instance(const json &doc) {
    try {
        return parse_root(doc);
    } catch (const error &e) {
        return e;
    } catch (const json::exception &e) {
        return error{"<root>", std::string("malformed JSON value: ") + e.what()};
    }
}

result<instance> load_instance_file(const std::string &path) {
    auto doc = load_json_file(path, "--config");
    if (!doc) return doc.err();
    return parse_instance(doc.value());
}

} // namespace fulcrum::config
