#include "control/actions.h"

#include "config/parse.h"

#include <algorithm>

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
    s += config::format_ipv4(b.ip);
    if (b.port) {
        s += ':';
        s += std::to_string(b.port);
    }
    return s;
}

config::result<std::vector<backend>> request_backends(const json &req) {
    auto it = req.find("BackendServers");
    if (it == req.end()) return error{"BackendServers", "is required"};
    return config::parse_backend_servers(*it, "BackendServers");
}

} // namespace

json backends_json(const std::vector<backend> &group) {
    json out = json::array();
    for (const auto &b : group) {
        json j{{"ServerId", b.server_id}, {"Type", b.type}, {"ServerIp", config::format_ipv4(b.ip)},
               {"Weight", b.weight}, {"Description", b.description}};
        if (b.port) j["Port"] = b.port;
        out.push_back(j);
    }
    return out;
}

config::result<action_outcome> run_action(const config::instance &current, const json &request) {
    if (!request.is_object()) return error{"<request>", "must be a JSON object"};
    auto a = request.find("Action");
    if (a == request.end() || !a->is_string()) return error{"Action", "is required (a string)"};
    const std::string action = a->get<std::string>();
    action_outcome out{current, json::object(), false};
    auto &group = out.next.default_server_group;

    if (action == "DescribeBackendServers") {
        out.response["BackendServers"] = backends_json(group);
        return out;
    }
    if (action != "AddBackendServers" && action != "SetBackendServers" && action != "RemoveBackendServers")
        return error{"Action", "must be one of AddBackendServers, SetBackendServers, RemoveBackendServers, "
                               "DescribeBackendServers"};
    auto req = request_backends(request);
    if (!req) return req.err();
    if (action == "SetBackendServers") {
        // Weight is what Set changes; parsing defaults it to 100, so check it was given.
        json raw = request["BackendServers"];
        if (raw.is_string()) raw = json::parse(raw.get<std::string>(), nullptr, false);
        for (size_t i = 0; raw.is_array() && i < raw.size(); i++)
            if (!raw[i].contains("Weight"))
                return error{"BackendServers[" + std::to_string(i) + "].Weight", "is required by SetBackendServers"};
    }
    for (size_t i = 0; i < req.value().size(); i++) {
        const backend &b = req.value()[i];
        std::string field = "BackendServers[" + std::to_string(i) + "]";
        auto found = std::find_if(group.begin(), group.end(), [&](const backend &o) { return same_backend(o, b); });
        if (action == "AddBackendServers") {
            if (found != group.end()) return error{field, "backend " + describe(b) + " is already in the group"};
            if (group.size() >= 4096) return error{"BackendServers", "would exceed 4096 backends"};
            group.push_back(b);
        } else if (found == group.end()) {
            return error{field, "backend " + describe(b) + " is not in the group"};
        } else if (action == "SetBackendServers") {
            found->weight = b.weight;
            if (!b.description.empty()) found->description = b.description;
        } else {
            group.erase(found);
        }
    }
    out.changes = true;
    out.response["BackendServers"] = backends_json(group);
    return out;
}

} // namespace fulcrum::control
