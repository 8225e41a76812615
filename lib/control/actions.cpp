#include "control/actions.h"

#include "config/parse.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace fulcrum::control {

using nlohmann::json;
using config::backend;
using config::error;

namespace {

bool same_backend(const backend &a, const backend &b) {
    return a.server_id == b.server_id && a.ip == b.ip && a.port == b.port;
}

std::string describe(const backend &b) {
    // Built with += : GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
    std::string s = b.server_id;
    s += ' ';
    s += b.port ? net::format_endpoint(b.ip, b.port) : config::format_ip(b.ip);
    return s;
}

} // namespace

json backends_json(const std::vector<backend> &group) {
    json out = json::array();
    for (const auto &b : group) out.push_back(config::backend_to_json(b));
    return out;
}

namespace {

enum class edit { add, set, remove };

// Apply a BackendServers list (from request field `field`) to `group`. Every entry is
// checked; the caller's copy is only kept when all of them pass.
std::optional<error> edit_group(std::vector<backend> &group, const json &request, const std::string &field, edit how,
                                bool need_port) {
    auto it = request.find(field);
    if (it == request.end()) return error{field, "is required"};
    auto req = config::parse_backend_servers(*it, field);
    if (!req) return req.err();
    json raw = *it;
    if (raw.is_string()) raw = json::parse(raw.get<std::string>(), nullptr, false);
    for (size_t i = 0; i < req.value().size(); i++) {
        const backend &b = req.value()[i];
        std::string f = field + "[" + std::to_string(i) + "]";
        if (need_port && b.port == 0) return error{f + ".Port", "is required in a vserver group"};
        // Set changes Weight; parsing defaults it to 100, so check it was given.
        if (how == edit::set && raw.is_array() && i < raw.size() && !raw[i].contains("Weight"))
            return error{f + ".Weight", "is required to set a backend"};
        auto found = std::find_if(group.begin(), group.end(), [&](const backend &o) { return same_backend(o, b); });
        if (how == edit::add) {
            if (found != group.end()) return error{f, "backend " + describe(b) + " is already in the group"};
            if (group.size() >= 4096) return error{field, "would exceed 4096 backends"};
            group.push_back(b);
        } else if (found == group.end()) {
            return error{f, "backend " + describe(b) + " is not in the group"};
        } else if (how == edit::set) {
            found->weight = b.weight;
            if (!b.description.empty()) found->description = b.description;
        } else {
            group.erase(found);
        }
    }
    return std::nullopt;
}

config::result<std::string> string_field(const json &request, const char *name) {
    auto it = request.find(name);
    if (it == request.end()) return error{name, "is required"};
    if (!it->is_string() || it->get<std::string>().empty()) return error{name, "must be a non-empty string"};
    return it->get<std::string>();
}

// The (VIP, protocol, ListenerPort) a request names, as a listener with only those set.
config::result<config::listener> listener_key(const json &request, const std::string &proto) {
    json j{{"Protocol", proto}, {"BackendServerPort", 1}};
    for (const char *f : {"VIP", "ListenerPort"}) {
        if (!request.contains(f)) return error{f, "is required"};
        j[f] = request[f];
    }
    config::instance any_vip; // the key's VIP is checked against listeners, not VIPs
    auto vip = request["VIP"].is_string() ? config::parse_ip(request["VIP"].get<std::string>(), "VIP")
                                          : config::result<net::ip_addr>(error{"VIP", "must be a string: an IPv4 or IPv6 address"});
    if (!vip) return vip.err();
    any_vip.vips.push_back(vip.value());
    return config::parse_listener_object(j, any_vip);
}

// Vserver and master/slave groups share one id space, as in the public API.
std::string next_group_id(const config::instance &cfg) {
    unsigned long n = 0;
    auto see = [&](const std::string &id) {
        if (id.rfind("rsp-", 0) == 0) n = std::max(n, std::strtoul(id.c_str() + 4, nullptr, 10));
    };
    for (const auto &g : cfg.vserver_groups) see(g.id);
    for (const auto &g : cfg.master_slave_groups) see(g.id);
    return "rsp-" + std::to_string(n + 1);
}

} // namespace

namespace {

using handler = std::optional<error> (*)(action_outcome &out, const json &request, const std::string &action);

// Default server group.
std::optional<error> describe_backends(action_outcome &out, const json &, const std::string &) {
    out.response["BackendServers"] = backends_json(out.next.default_server_group);
    return std::nullopt;
}
std::optional<error> edit_default(action_outcome &out, const json &request, const std::string &action) {
    edit how = action[0] == 'A' ? edit::add : action[0] == 'S' ? edit::set : edit::remove;
    if (auto e = edit_group(out.next.default_server_group, request, "BackendServers", how, false)) return e;
    out.changes = true;
    out.response["BackendServers"] = backends_json(out.next.default_server_group);
    return std::nullopt;
}

// Listeners. The public API names a listener by load balancer and port; one Fulcrum
// instance has many VIPs, so requests name the VIP too.
std::optional<error> describe_listeners(action_outcome &out, const json &, const std::string &) {
    json ls = json::array();
    for (const auto &l : out.next.listeners) ls.push_back(config::listener_to_json(l));
    out.response["Listeners"] = ls;
    return std::nullopt;
}
bool same_listener(const config::listener &l, const config::listener &n) {
    return l.vip == n.vip && l.proto == n.proto && l.port == n.port;
}
std::optional<error> create_or_set_listener(action_outcome &out, const json &request, const std::string &action) {
    auto &cfg = out.next;
    std::string lower = action.find("TCP") != std::string::npos ? "tcp" : "udp";
    json params = request;
    params.erase("Action");
    params.erase("LoadBalancerId"); // one instance: accepted and ignored
    params["Protocol"] = lower;
    if (action.rfind("Set", 0) == 0) {
        // Overlay the given fields on the listener as it is, then validate the whole.
        auto key = listener_key(request, lower);
        if (!key) return key.err();
        auto it = std::find_if(cfg.listeners.begin(), cfg.listeners.end(),
                               [&](const config::listener &l) { return same_listener(l, key.value()); });
        if (it == cfg.listeners.end()) return error{"ListenerPort", "no " + lower + " listener on that VIP and port"};
        json merged = config::listener_to_json(*it);
        for (auto f = params.begin(); f != params.end(); ++f) merged[f.key()] = f.value();
        for (const char *k : {"VServerGroupId", "MasterSlaveServerGroupId"})
            if (merged.contains(k) && merged[k] == "") merged.erase(k);
        auto next = config::parse_listener_object(merged, cfg);
        if (!next) return next.err();
        if (!same_listener(*it, next.value())) return error{"ListenerPort", "identifies the listener and cannot change"};
        *it = next.value();
    } else {
        auto next = config::parse_listener_object(params, cfg);
        if (!next) return next.err();
        for (const auto &l : cfg.listeners)
            if (same_listener(l, next.value()))
                return error{"ListenerPort", "a " + lower + " listener on that VIP and port exists"};
        if (cfg.listeners.size() >= config::max_listeners) return error{"ListenerPort", "would exceed 50 listeners"};
        cfg.listeners.push_back(next.value());
    }
    out.changes = true;
    describe_listeners(out, request, action);
    return std::nullopt;
}
std::optional<error> delete_listener(action_outcome &out, const json &request, const std::string &) {
    auto &cfg = out.next;
    auto proto = string_field(request, "ListenerProtocol");
    if (!proto) return proto.err();
    if (proto.value() != "tcp" && proto.value() != "udp") return error{"ListenerProtocol", "must be one of tcp, udp"};
    auto key = listener_key(request, proto.value());
    if (!key) return key.err();
    auto it = std::find_if(cfg.listeners.begin(), cfg.listeners.end(),
                           [&](const config::listener &l) { return same_listener(l, key.value()); });
    if (it == cfg.listeners.end()) return error{"ListenerPort", "no " + proto.value() + " listener on that VIP and port"};
    cfg.listeners.erase(it);
    out.changes = true;
    return std::nullopt;
}

// Scale-out: a drained node withdraws every VIP from its BGP speaker and keeps serving
// the connections it has (the service adds how many are left to the reply).
std::optional<error> set_node_drain(action_outcome &out, const json &request, const std::string &) {
    auto drain = string_field(request, "Drain");
    if (!drain) return drain.err();
    if (drain.value() != "on" && drain.value() != "off") return error{"Drain", "must be one of on, off"};
    bool on = drain.value() == "on";
    out.changes = on != out.next.node_drain;
    out.next.node_drain = on;
    return std::nullopt;
}

std::string bound_to(const config::listener &l) {
    return net::format_endpoint(l.vip, l.port) + "; unbind it first";
}

// Master/slave groups.
std::optional<error> describe_master_slave_groups(action_outcome &out, const json &, const std::string &) {
    json groups = json::array();
    for (const auto &g : out.next.master_slave_groups) groups.push_back(config::master_slave_to_json(g));
    out.response["MasterSlaveServerGroups"] = groups;
    return std::nullopt;
}
std::optional<error> create_master_slave_group(action_outcome &out, const json &request, const std::string &) {
    json obj{{"MasterSlaveServerGroupId", next_group_id(out.next)}};
    if (request.contains("MasterSlaveServerGroupName")) obj["MasterSlaveServerGroupName"] = request["MasterSlaveServerGroupName"];
    if (!request.contains("MasterSlaveBackendServers")) return error{"MasterSlaveBackendServers", "is required"};
    obj["MasterSlaveBackendServers"] = request["MasterSlaveBackendServers"];
    if (obj["MasterSlaveBackendServers"].is_string())
        obj["MasterSlaveBackendServers"] = json::parse(obj["MasterSlaveBackendServers"].get<std::string>(), nullptr, false);
    auto g = config::parse_master_slave_object(obj);
    if (!g) return g.err();
    out.response = config::master_slave_to_json(g.value());
    out.next.master_slave_groups.push_back(g.value());
    out.changes = true;
    return std::nullopt;
}
std::optional<error> master_slave_group_by_id(action_outcome &out, const json &request, const std::string &action) {
    auto &cfg = out.next;
    auto id = string_field(request, "MasterSlaveServerGroupId");
    if (!id) return id.err();
    auto g = std::find_if(cfg.master_slave_groups.begin(), cfg.master_slave_groups.end(),
                          [&](const config::master_slave_group &x) { return x.id == id.value(); });
    if (g == cfg.master_slave_groups.end())
        return error{"MasterSlaveServerGroupId", "no master/slave group '" + id.value() + "'"};
    if (action == "DescribeMasterSlaveServerGroupAttribute") {
        out.response = config::master_slave_to_json(*g);
        return std::nullopt;
    }
    for (const auto &l : cfg.listeners)
        if (l.master_slave_group_id == g->id)
            return error{"MasterSlaveServerGroupId", "group '" + g->id + "' is still bound to listener " + bound_to(l)};
    cfg.master_slave_groups.erase(g);
    out.changes = true;
    return std::nullopt;
}

// Vserver groups.
std::optional<error> describe_vserver_groups(action_outcome &out, const json &, const std::string &) {
    json groups = json::array();
    for (const auto &g : out.next.vserver_groups) {
        size_t bound = std::count_if(out.next.listeners.begin(), out.next.listeners.end(),
                                     [&](const config::listener &l) { return l.vserver_group_id == g.id; });
        groups.push_back({{"VServerGroupId", g.id}, {"VServerGroupName", g.name},
                          {"BackendServerCount", g.backends.size()}, {"ListenerCount", bound}});
    }
    out.response["VServerGroups"] = groups;
    return std::nullopt;
}
std::optional<error> create_vserver_group(action_outcome &out, const json &request, const std::string &) {
    config::vserver_group g;
    g.id = next_group_id(out.next);
    if (auto it = request.find("VServerGroupName"); it != request.end()) {
        if (!it->is_string()) return error{"VServerGroupName", "must be a string"};
        g.name = it->get<std::string>();
    }
    if (request.contains("BackendServers"))
        if (auto e = edit_group(g.backends, request, "BackendServers", edit::add, true)) return e;
    out.response["VServerGroupId"] = g.id;
    out.response["BackendServers"] = backends_json(g.backends);
    out.next.vserver_groups.push_back(std::move(g));
    out.changes = true;
    return std::nullopt;
}
std::optional<error> vserver_group_by_id(action_outcome &out, const json &request, const std::string &action) {
    auto &cfg = out.next;
    auto id = string_field(request, "VServerGroupId");
    if (!id) return id.err();
    auto g = std::find_if(cfg.vserver_groups.begin(), cfg.vserver_groups.end(),
                          [&](const config::vserver_group &x) { return x.id == id.value(); });
    if (g == cfg.vserver_groups.end()) return error{"VServerGroupId", "no vserver group '" + id.value() + "'"};
    if (action == "DescribeVServerGroupAttribute") {
        out.response = {{"VServerGroupId", g->id}, {"VServerGroupName", g->name},
                        {"BackendServers", backends_json(g->backends)}};
        return std::nullopt;
    }
    if (action == "DeleteVServerGroup") {
        for (const auto &l : cfg.listeners)
            if (l.vserver_group_id == g->id)
                return error{"VServerGroupId", "group '" + g->id + "' is still bound to listener " + bound_to(l)};
        cfg.vserver_groups.erase(g);
        out.changes = true;
        return std::nullopt;
    }
    if (action == "AddVServerGroupBackendServers" || action == "RemoveVServerGroupBackendServers") {
        if (auto e = edit_group(g->backends, request, "BackendServers", action[0] == 'A' ? edit::add : edit::remove, true))
            return e;
    } else if (action == "SetVServerGroupAttribute") {
        if (auto it = request.find("VServerGroupName"); it != request.end()) {
            if (!it->is_string()) return error{"VServerGroupName", "must be a string"};
            g->name = it->get<std::string>();
        }
        if (request.contains("BackendServers"))
            if (auto e = edit_group(g->backends, request, "BackendServers", edit::set, true)) return e;
    } else { // ModifyVServerGroupBackendServers: replace the old entries by the new ones
        if (auto e = edit_group(g->backends, request, "OldBackendServers", edit::remove, true)) return e;
        if (auto e = edit_group(g->backends, request, "NewBackendServers", edit::add, true)) return e;
    }
    out.changes = true;
    out.response = {{"VServerGroupId", g->id}, {"BackendServers", backends_json(g->backends)}};
    return std::nullopt;
}

struct entry {
    action_info info;
    handler run; // nullptr: answered by the running service (its state is not in the model)
};

// Every action: the table dispatch, the error listing known actions, fulcrumctl's help
// and the service's routing come from.
const entry table[] = {
    {{"AddBackendServers", "add backends to the default server group", false}, edit_default},
    {{"SetBackendServers", "set weights/descriptions in the default server group", false}, edit_default},
    {{"RemoveBackendServers", "remove backends from the default server group", false}, edit_default},
    {{"DescribeBackendServers", "list the default server group", false}, describe_backends},
    {{"CreateVServerGroup", "create a vserver group (with backends)", false}, create_vserver_group},
    {{"AddVServerGroupBackendServers", "add backends to a vserver group", false}, vserver_group_by_id},
    {{"RemoveVServerGroupBackendServers", "remove backends from a vserver group", false}, vserver_group_by_id},
    {{"SetVServerGroupAttribute", "rename a vserver group, set its backends' weights", false}, vserver_group_by_id},
    {{"ModifyVServerGroupBackendServers", "replace backends of a vserver group", false}, vserver_group_by_id},
    {{"DeleteVServerGroup", "delete a vserver group no listener uses", false}, vserver_group_by_id},
    {{"DescribeVServerGroups", "list vserver groups", false}, describe_vserver_groups},
    {{"DescribeVServerGroupAttribute", "one vserver group with its backends", false}, vserver_group_by_id},
    {{"CreateLoadBalancerTCPListener", "create a TCP listener", false}, create_or_set_listener},
    {{"CreateLoadBalancerUDPListener", "create a UDP listener", false}, create_or_set_listener},
    {{"SetLoadBalancerTCPListenerAttribute", "change a TCP listener", false}, create_or_set_listener},
    {{"SetLoadBalancerUDPListenerAttribute", "change a UDP listener", false}, create_or_set_listener},
    {{"DeleteLoadBalancerListener", "delete a listener", false}, delete_listener},
    {{"DescribeLoadBalancerListeners", "list listeners", false}, describe_listeners},
    {{"CreateMasterSlaveServerGroup", "create an active/standby pair", false}, create_master_slave_group},
    {{"DeleteMasterSlaveServerGroup", "delete an active/standby pair no listener uses", false}, master_slave_group_by_id},
    {{"DescribeMasterSlaveServerGroups", "list active/standby pairs", false}, describe_master_slave_groups},
    {{"DescribeMasterSlaveServerGroupAttribute", "one active/standby pair", false}, master_slave_group_by_id},
    {{"DescribeHealthStatus", "every backend's health-check state", true}, nullptr},
    {{"SetNodeDrain", "withdraw (on) or announce again (off) this node's VIPs", false}, set_node_drain},
    {{"DescribeNodeStatus", "drain, announced VIPs, connections left, the BGP speaker's state", true}, nullptr},
};

const entry *find_action(const std::string &name) {
    for (const auto &e : table)
        if (name == e.info.name) return &e;
    return nullptr;
}

} // namespace

std::vector<action_info> actions() {
    std::vector<action_info> out;
    for (const auto &e : table) out.push_back(e.info);
    return out;
}

const action_info *action_named(const std::string &name) {
    const entry *e = find_action(name);
    return e ? &e->info : nullptr;
}

config::result<action_outcome> run_action(const config::instance &current, const json &request) {
    if (!request.is_object()) return error{"<request>", "must be a JSON object"};
    auto a = request.find("Action");
    if (a == request.end() || !a->is_string()) return error{"Action", "is required (a string)"};
    const std::string action = a->get<std::string>();
    const entry *e = find_action(action);
    if (!e || !e->run) {
        if (e) return error{"Action", "is answered by the running service, not the model"};
        std::string known;
        for (const auto &t : table) known += (known.empty() ? "" : ", ") + std::string(t.info.name);
        return error{"Action", "must be one of " + known};
    }
    action_outcome out{current, json::object(), false};
    if (auto err = e->run(out, request, action)) return *err;
    // One set of rules for the API and the config file: a model the API accepts must
    // load as a config (else the state file would stop the next start).
    if (out.changes)
        if (auto startable = config::parse_instance(config::instance_to_json(out.next)); !startable)
            return startable.err();
    return out;
}

} // namespace fulcrum::control
