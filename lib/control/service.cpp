#include "control/service.h"

#include "config/json_text.h"
#include "config/state.h"
#include "config/membership.h"
#include "config/parse.h"
#include "control/actions.h"
#include "deploy/stats.h"
#include "dataplane/log.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <ctime>

namespace fulcrum::control {

using nlohmann::json;

service::service(deploy::deployment &dp, std::string state_path, health::checker *health)
    : _dp(dp), _state_path(std::move(state_path)), _health(health) {
    announce();
    if (!_health) return;
    _dp.set_health([h = _health](const config::listener &l, const config::backend &b) {
        return h->is_up(health::key_for(l, b));
    });
    _health->set_log([](bool up, const std::string &line) {
        if (up) FULCRUM_LOG(NOTICE, health, "health: %s\n", line.c_str());
        else FULCRUM_LOG(WARNING, health, "health: %s\n", line.c_str());
    });
    _health->set_targets(health::targets_of(_dp.config()));
}

result<uint64_t> service::apply(const config::instance &next) {
    auto gen = _state_path.empty()
                   ? _dp.apply(next)
                   : _dp.apply(next, [&](const config::instance &cfg) { return config::write_state(_state_path, cfg); });
    if (gen) after_change();
    return gen;
}

int service::health_change_fd() const { return _health ? _health->change_fd() : -1; }

void service::announce() {
    _announcer.configure(_dp.config().bgp);
    _announcer.update(announcer::wanted(_dp.current_snapshot(), _dp.config().node_drain));
}

void service::withdraw_for_stop(double max_s, double grace_s) {
    if (_dp.config().bgp.include_file.empty()) return;
    FULCRUM_LOG(NOTICE, control, "bgp: stopping: every VIP withdrawn first\n");
    _announcer.update({});
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    while (elapsed() < max_s) {
        _announcer.poll();
        if (!_announcer.state().reloading && !_announcer.state().pending) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto settled = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - settled).count() < grace_s)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void service::poll() {
    _announcer.poll();
    if (!_health || _health->version() == _health_seen) return;
    _health_seen = _health->version();
    auto gen = _dp.refresh();
    if (gen) {
        FULCRUM_LOG(INFO, control, "health changed: snapshot generation %llu\n", static_cast<unsigned long long>(gen.value()));
        after_change();
    }
    std::fflush(stdout);
}

// Probe set in step with the config; a listener left with no backend up is logged once.
void service::after_change() {
    if (_health) _health->set_targets(health::targets_of(_dp.config()));
    announce();
    std::vector<std::string> now;
    for (const auto &l : _dp.current_snapshot().listeners) {
        if (l.eligible_len > 0) continue;
        now.push_back(std::string(l.proto == 6 ? "tcp " : "udp ") + config::format_ipv4(rte_be_to_cpu_32(l.vip)) + ":" +
                      std::to_string(rte_be_to_cpu_16(l.port)));
        if (std::find(_no_backend.begin(), _no_backend.end(), now.back()) == _no_backend.end())
            FULCRUM_LOG(WARNING, control, "listener %s has no backend up: new connections get a reset (tcp) or are "
                        "dropped (udp), counted as no_backend\n",
                        now.back().c_str());
    }
    for (const auto &was : _no_backend)
        if (std::find(now.begin(), now.end(), was) == now.end())
            FULCRUM_LOG(NOTICE, control, "listener %s has a backend up again\n", was.c_str());
    _no_backend = now;
    std::fflush(stdout);
}

json service::health_status() const {
    const config::instance &cfg = _dp.config();
    json out = json::array();
    auto when = [](std::time_t t) {
        if (!t) return std::string();
        char buf[32];
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return std::string(buf);
    };
    for (const auto &l : cfg.listeners) {
        for (const auto &m : config::members_of(cfg, l)) {
            const config::backend *b = m.b;
            const char *role = m.role == config::member_role::plain ? nullptr : config::role_name(m.role);
            json j = config::backend_to_json(*b);
            j.erase("Description");
            j["VIP"] = config::format_ip(l.vip);
            j["Protocol"] = l.proto == config::protocol::tcp ? "tcp" : "udp";
            j["ListenerPort"] = l.port;
            j["Port"] = m.port;
            if (role) j["ServerType"] = role;
            auto st = _health && l.health.enabled ? _health->state(health::key_for(l, *b)) : std::nullopt;
            if (!l.health.enabled) {
                j["ServerHealthStatus"] = "unavailable";
                j["Reason"] = "health check off";
            } else if (role && std::string(role) == "Slave") {
                j["ServerHealthStatus"] = "unavailable";
                j["Reason"] = "slave: not checked";
            } else if (!st) {
                j["ServerHealthStatus"] = "unavailable";
                j["Reason"] = "no checker running";
            } else {
                j["ServerHealthStatus"] = st->up ? "normal" : "abnormal";
                j["LastResult"] = st->last_result;
                j["Reason"] = st->reason;
                j["LastChange"] = when(st->last_change);
                j["Probes"] = st->probes;
            }
            out.push_back(j);
        }
    }
    return out;
}

json service::node_status() const {
    uint64_t conns = 0;
    for (const auto &w : deploy::collect_stats(_dp).workers) conns += w.conns_in_use;
    const announcer::status &st = _announcer.state();
    json vips = json::array();
    for (const net::ip_addr &v : st.announced) vips.push_back(net::format_ip(v));
    json out{{"Drain", _dp.config().node_drain ? "on" : "off"}, {"AnnouncedVips", vips}, {"ActiveConnections", conns}};
    const config::bgp_settings &b = _dp.config().bgp;
    if (!b.include_file.empty())
        out["Speaker"] = {{"IncludeFile", b.include_file}, {"Reloads", st.reloads}, {"Failures", st.failures},
                          {"Reloading", st.reloading || st.pending}, {"LastError", st.last_error}};
    return out;
}

json service::handle(const json &request) {
    uint64_t id = ++_request_id;
    try {
        return handle_checked(request, id);
    } catch (const std::exception &e) {
        // A fault of ours, not of the request: answered, logged, nothing applied (the
        // model is only replaced once every step passed).
        FULCRUM_LOG(ERR, control, "request %llu failed inside Fulcrum: %s\n", static_cast<unsigned long long>(id), e.what());
        std::fflush(stdout);
        return json{{"RequestId", std::to_string(id)}, {"Code", "InternalError"},
                    {"Message", std::string("the request could not be handled: ") + e.what()}};
    }
}

json service::handle_checked(const json &request, uint64_t id) {
    json reply;
    reply["RequestId"] = std::to_string(id);
    auto fail = [&](const config::error &e) {
        reply["Code"] = "InvalidParameter";
        reply["Message"] = e.message();
        FULCRUM_LOG(INFO, control, "request %llu rejected: %s\n", static_cast<unsigned long long>(id), e.message().c_str());
        std::fflush(stdout);
        return reply;
    };
    // Requests built in code (the prompt) have not been through the text parser's UTF-8
    // check: a name that is not text must not reach the model (nor the state file).
    try {
        (void)request.dump();
    } catch (const json::type_error &) {
        return fail({"<request>", "must hold only UTF-8 text"});
    }
    auto name = request.is_object() ? request.find("Action") : request.end();
    const action_info *known = name != request.end() && name->is_string() ? action_named(name->get<std::string>()) : nullptr;
    if (known && known->service) { // those the service answers: its state is not in the model
        if (std::string(known->name) == "DescribeNodeStatus") reply.update(node_status());
        else reply["BackendServers"] = health_status();
        reply["Code"] = "Success";
        return reply;
    }
    auto outcome = run_action(_dp.config(), request);
    if (!outcome) return fail(outcome.err());
    if (outcome.value().changes) {
        auto gen = apply(outcome.value().next);
        if (!gen) return fail(gen.err());
        reply["SnapshotGeneration"] = gen.value();
        FULCRUM_LOG(INFO, control, "request %llu %s applied: snapshot generation %llu\n", static_cast<unsigned long long>(id),
                    name->get<std::string>().c_str(), static_cast<unsigned long long>(gen.value()));
        std::fflush(stdout);
    }
    reply.update(outcome.value().response);
    if (name->get<std::string>() == "SetNodeDrain") reply.update(node_status()); // how many connections are left
    reply["Code"] = "Success";
    return reply;
}

std::string service::handle_text(const std::string &text) {
    auto request = config::parse_json_text(text, "<request>");
    json reply;
    if (!request) {
        reply = {{"RequestId", std::to_string(++_request_id)}, {"Code", "InvalidParameter"}, {"Message", request.err().message()}};
        FULCRUM_LOG(INFO, control, "request %llu rejected: %s\n", static_cast<unsigned long long>(_request_id),
                    request.err().message().c_str());
        std::fflush(stdout);
    } else {
        reply = handle(request.value());
    }
    // Strings echoed back may hold what the client sent: never let dump() throw on them.
    return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace fulcrum::control
