#include "control/service.h"

#include "config/state.h"
#include "control/actions.h"

#include <cstdio>

namespace fulcrum::control {

using nlohmann::json;

config::result<uint64_t> service::apply(const config::instance &next) {
    if (_state_path.empty()) return _dp.apply(next);
    return _dp.apply(next, [&](const config::instance &cfg) { return config::write_state(_state_path, cfg); });
}

json service::handle(const json &request) {
    json reply;
    uint64_t id = ++_request_id;
    reply["RequestId"] = std::to_string(id);
    auto fail = [&](const config::error &e) {
        reply["Code"] = "InvalidParameter";
        reply["Message"] = e.message();
        std::printf("fulcrum: request %llu rejected: %s\n", static_cast<unsigned long long>(id), e.message().c_str());
        std::fflush(stdout);
        return reply;
    };
    auto outcome = run_action(_dp.config(), request);
    if (!outcome) return fail(outcome.err());
    if (outcome.value().changes) {
        auto gen = apply(outcome.value().next);
        if (!gen) return fail(gen.err());
        reply["SnapshotGeneration"] = gen.value();
        std::printf("fulcrum: request %llu %s applied: snapshot generation %llu\n", static_cast<unsigned long long>(id),
                    request["Action"].get<std::string>().c_str(), static_cast<unsigned long long>(gen.value()));
        std::fflush(stdout);
    }
    reply.update(outcome.value().response);
    reply["Code"] = "Success";
    return reply;
}

std::string service::handle_text(const std::string &text) {
    auto request = json::parse(text, nullptr, false);
    if (request.is_discarded()) {
        json reply{{"RequestId", std::to_string(++_request_id)},
                   {"Code", "InvalidParameter"},
                   {"Message", "field '<request>': must be valid JSON"}};
        std::printf("fulcrum: request %llu rejected: not valid JSON\n", static_cast<unsigned long long>(_request_id));
        std::fflush(stdout);
        return reply.dump();
    }
    return handle(request).dump();
}

} // namespace fulcrum::control
