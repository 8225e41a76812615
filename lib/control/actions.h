// The runtime API: JSON requests with the public cloud's action names, applied to the
// configuration model. Pure functions of (running config, request): the caller turns a
// successful result into a snapshot (deploy::deployment::apply), so a rejected request
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

// One action of the API: its name, what it does, and whether the running service
// answers it (DescribeHealthStatus: health is not in the model) instead of run_action.
struct action_info {
    const char *name;
    const char *help;
    bool service;
};
// Every action, in the order fulcrumctl lists them (the one table).
std::vector<action_info> actions();
const action_info *action_named(const std::string &name);

// Dispatches through the table; an unknown name gets the list of known ones.
config::result<action_outcome> run_action(const config::instance &current, const nlohmann::json &request);

nlohmann::json backends_json(const std::vector<config::backend> &group);

} // namespace fulcrum::control
