// libFuzzer target: a control request as it comes off the socket. Text is bounded and
// parsed (config/json_text), run against a running model (control/actions); a change
// the API accepts must load back as a config. Any crash, sanitizer report or abort here
// is a finding.
#include "config/json_text.h"
#include "config/parse.h"
#include "control/actions.h"

#include <cstdlib>
#include <string_view>

using namespace fulcrum;

namespace {
const config::instance &running() {
    static config::instance model = [] {
        auto r = config::parse_instance(nlohmann::json::parse(R"({
          "ports": [{"name": "p0", "device": "d", "address": "10.0.0.1/24"}],
          "vips": ["10.0.0.10", "10.0.0.11"], "local_addresses": ["10.0.0.100"],
          "listeners": [{"VIP": "10.0.0.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080},
                        {"VIP": "10.0.0.10", "Protocol": "udp", "ListenerPort": 53, "BackendServerPort": 5353}],
          "vserver_groups": [{"VServerGroupId": "rsp-1", "BackendServers": [{"ServerId": "i-1", "ServerIp": "10.0.1.5", "Port": 9000}]}],
          "default_server_group": [{"ServerId": "i-1", "ServerIp": "10.0.1.5"}]})"));
        if (!r) std::abort();
        return r.value();
    }();
    return model;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auto doc = config::parse_json_text(std::string_view(reinterpret_cast<const char *>(data), size), "<request>");
    if (!doc) return 0;
    auto out = control::run_action(running(), doc.value());
    if (out && out.value().changes) {
        auto back = config::parse_instance(config::instance_to_json(out.value().next));
        if (!back) std::abort(); // accepted, yet not startable
    }
    if (out) (void)out.value().response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}
