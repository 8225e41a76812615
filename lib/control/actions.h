// The runtime API: JSON requests with the public cloud's action names, applied to the
// configuration model. Pure functions of (running config, request): the caller turns a
// successful result into a snapshot (dataplane::instance::apply), so a rejected request
// changes nothing.
#pragma once

#include "config/model.h"
#include "config/result.h"

#include <nlohmann/json.hpp>

namespace fulcrum::control {

struct action_outcome {
    config::instance next;   // the config to apply (== current for Describe* actions)
    nlohmann::json response; // action-specific fields, merged into the reply
    bool changes = false;
};

// Actions so far: AddBackendServers, SetBackendServers, RemoveBackendServers,
// DescribeBackendServers (the default server group); CreateVServerGroup,
// AddVServerGroupBackendServers, RemoveVServerGroupBackendServers,
// SetVServerGroupAttribute, ModifyVServerGroupBackendServers, DeleteVServerGroup,
// DescribeVServerGroups, DescribeVServerGroupAttribute; Create/Set TCP and UDP
// listeners, DeleteLoadBalancerListener, DescribeLoadBalancerListeners;
// CreateMasterSlaveServerGroup, DeleteMasterSlaveServerGroup,
// DescribeMasterSlaveServerGroups, DescribeMasterSlaveServerGroupAttribute.
config::result<action_outcome> run_action(const config::instance &current, const nlohmann::json &request);

nlohmann::json backends_json(const std::vector<config::backend> &group);

} // namespace fulcrum::control
