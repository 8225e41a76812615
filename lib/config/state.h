// The state file: the applied configuration, kept across restarts.
//
// After every accepted change the control thread writes the whole model as config JSON
// to a temporary file beside the state file, fsyncs it and renames it over the old one,
// so a crash leaves either the previous or the new state, never a mix. At start the
// restart-only part (ports, workers, local addresses, sizes) comes from --config and the
// run-time part (runtime_keys) from the state file, so an operator can still change a
// port in the config and restart without losing what was applied over the socket.
// A state file that does not parse or validate is an error that names it; it is never
// silently replaced.
#pragma once

#include "config/model.h"
#include "config/result.h"

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace fulcrum::config {

// Top-level config keys that the actions API changes and the state file carries.
extern const char *const runtime_keys[6];

// A JSON file, or an error naming `what` (e.g. "--config") with the parser's position.
result<nlohmann::json> load_json_file(const std::string &path, const std::string &what);

// --config merged with the state file when that exists (see above).
result<instance> load_with_state(const std::string &config_path, const std::string &state_path);

// Write `cfg` atomically (temp file, fsync, rename, fsync of the directory).
result<bool> write_state(const std::string &state_path, const instance &cfg);

} // namespace fulcrum::config
