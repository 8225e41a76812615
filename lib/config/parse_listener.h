// A listener of the config or of an action (parse.cpp's part for listeners): its keys,
// scheduler, timeouts, ACL, health check, caps, SYN proxy and client-address settings,
// checked against the VIPs and groups it may name. Throws config::error (fields.h).
#pragma once

#include "config/model.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fulcrum::config::detail {

listener parse_listener(const nlohmann::json &j, const std::string &f, const std::vector<net::ip_addr> &vips,
                        const std::vector<vserver_group> &groups, const std::vector<master_slave_group> &ms_groups);

} // namespace fulcrum::config::detail
