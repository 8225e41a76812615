// The control service: the one path every change takes, whichever door it came in by
// (control socket, SIGHUP reload, the interactive prompt).
//
//   request -> run_action (validate against the running model) -> snapshot build
//           -> state file written -> snapshot posted to the workers
//
// A request that fails at any step changes nothing: not the model, not the workers, not
// the state file.
#pragma once

#include "control/announcer.h"
#include "core/result.h"
#include "deploy/deployment.h"
#include "health/checker.h"

#include <nlohmann/json.hpp>
#include <string>

namespace fulcrum::control {

class service {
  public:
    // `state_path` empty: changes are not persisted. `health` (may be null) is the
    // checker whose verdicts the snapshots follow; the service keeps its probe set in
    // step with the config.
    service(deploy::deployment &dp, std::string state_path, health::checker *health = nullptr);

    // One JSON request in, one JSON reply out: {"RequestId", "Code": "Success" | error
    // code, "Message" on error, "SnapshotGeneration" when something changed, ...}.
    // Nothing thrown escapes: a failure inside is an InternalError reply, logged, with
    // nothing applied. Text is bounded (1 MiB, 64 levels of nesting) before parsing.
    nlohmann::json handle(const nlohmann::json &request);
    std::string handle_text(const std::string &text);

    // Apply a whole configuration (SIGHUP reload): the same steps as a request.
    result<uint64_t> apply(const config::instance &next);
    // Called from the control loop: a health change becomes a new snapshot.
    void poll();
    // Readable when the checker has a change for poll() (-1: no checker).
    int health_change_fd() const;
    // DescribeHealthStatus: every backend of every listener, with its check state.
    nlohmann::json health_status() const;
    // DescribeNodeStatus: drain, the VIPs announced, connections left, the speaker's state.
    nlohmann::json node_status() const;
    const announcer &bgp() const { return _announcer; }
    // A clean stop, before the data plane stops: every VIP withdrawn and the speaker's
    // reload waited for (at most `max_s`), then `grace_s` more of forwarding while the
    // routers move the traffic away. Nothing when no speaker is configured.
    void withdraw_for_stop(double max_s, double grace_s);

    deploy::deployment &deployment() { return _dp; }

  private:
    deploy::deployment &_dp;
    std::string _state_path;
    uint64_t _request_id = 0;
    health::checker *_health;
    uint64_t _health_seen = 0;
    std::vector<std::string> _no_backend; // listeners logged as having no backend up
    announcer _announcer;
    void after_change();
    void announce(); // the VIPs the current snapshot serves, to the BGP speaker
    nlohmann::json handle_checked(const nlohmann::json &request, uint64_t id);
};

} // namespace fulcrum::control
