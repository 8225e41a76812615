// JSON -> validated instance configuration.
#pragma once

#include "config/model.h"
#include "config/result.h"
#include "net/addr.h"

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace fulcrum::config {

result<instance> parse_instance(const nlohmann::json &doc);
result<instance> load_instance_file(const std::string &path);

// A BackendServers list as the public API sends it (an array, or that array as a JSON
// string); duplicate entries collapse to the first.
result<std::vector<backend>> parse_backend_servers(const nlohmann::json &v, const std::string &field);

// One listener object (config or action parameters) validated against `inst`'s VIPs and
// vserver groups, and the reverse: a listener as that JSON object.
result<listener> parse_listener_object(const nlohmann::json &j, const instance &inst);
nlohmann::json listener_to_json(const listener &l);
nlohmann::json backend_to_json(const backend &b);
nlohmann::json master_slave_to_json(const master_slave_group &g);
// The whole model as config JSON: parse_instance(instance_to_json(c)) gives back c. It is
// what the state file holds and what `show config` prints.
nlohmann::json instance_to_json(const instance &c);
std::string format_cidr(const cidr &c);
// One master/slave group object (MasterSlaveServerGroupId, ...Name, ...BackendServers).
result<master_slave_group> parse_master_slave_object(const nlohmann::json &j);

// Value helpers shared with later request parsers. Numbers may arrive as strings.
result<uint32_t> parse_ipv4(const std::string &text, const std::string &field);
// An address of either family (net::parse_ip's forms) that can name a host: not the
// unspecified address, an IPv6 multicast (ff00::/8) or the IPv6 loopback (::1).
result<net::ip_addr> parse_ip(const std::string &text, const std::string &field);
using net::format_ip;
using net::format_ipv4;

} // namespace fulcrum::config
