// show config, apply <json file>, load <command file>, set log <type> <level>, quit.
#include "cli/cli.h"

#include "config/parse.h"
#include "config/state.h"

#include <cmdline.h>
#include <cmdline_parse_string.h>

#include <rte_log.h>

namespace fulcrum::cli {
namespace {

struct one_res {
    cmdline_fixed_string_t a, b, arg;
};

void config_cb(void *, struct cmdline *cl, void *) {
    cmdline_printf(cl, "%s\n", config::instance_to_json(current().dp.config()).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

// A file holding one action object, or an array of them, applied in order.
void apply_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<one_res *>(r);
    auto doc = config::load_json_file(res->arg, "apply");
    if (!doc) {
        cmdline_printf(cl, "Error: %s\n", doc.err().message().c_str());
        return;
    }
    nlohmann::json list = doc.value().is_array() ? doc.value() : nlohmann::json::array({doc.value()});
    for (const auto &req : list) run_action(cl, req);
}

void load_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<one_res *>(r);
    if (!current().run_file || !current().run_file(res->arg)) cmdline_printf(cl, "load %s: not every line ran\n", res->arg);
}

void quit_cb(void *, struct cmdline *cl, void *) {
    current().quit = true;
    cmdline_printf(cl, "stopping Fulcrum\n");
}

// set log <type pattern> <level>: DPDK log types, Fulcrum's are fulcrum.*
struct log_res {
    cmdline_fixed_string_t set, log, type, level;
};
void log_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<log_res *>(r);
    static const char *names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    std::string want = res->level;
    for (unsigned i = 0; i < 8; i++)
        if (want == names[i] || want == std::to_string(i + 1)) {
            if (rte_log_set_level_pattern(res->type, i + 1) != 0) cmdline_printf(cl, "Error: cannot set %s\n", res->type);
            else cmdline_printf(cl, "log level of %s: %s\n", res->type, names[i]);
            return;
        }
    cmdline_printf(cl, "Error: level must be one of emerg alert crit err warning notice info debug\n");
}

cmdline_parse_token_string_t sc_show = TOKEN_STRING_INITIALIZER(one_res, a, "show");
cmdline_parse_token_string_t sc_config = TOKEN_STRING_INITIALIZER(one_res, b, "config");
command show_config = {config_cb, nullptr, "show config", {FULCRUM_TOKEN(sc_show), FULCRUM_TOKEN(sc_config), nullptr}};

cmdline_parse_token_string_t ap_apply = TOKEN_STRING_INITIALIZER(one_res, a, "apply");
cmdline_parse_token_string_t ap_file = TOKEN_STRING_INITIALIZER(one_res, arg, nullptr);
command apply = {apply_cb, nullptr, "apply <json file: one action object or an array of them>",
                              {FULCRUM_TOKEN(ap_apply), FULCRUM_TOKEN(ap_file), nullptr}};

cmdline_parse_token_string_t ld_load = TOKEN_STRING_INITIALIZER(one_res, a, "load");
command load = {load_cb, nullptr, "load <command file>", {FULCRUM_TOKEN(ld_load), FULCRUM_TOKEN(ap_file), nullptr}};

cmdline_parse_token_string_t q_quit = TOKEN_STRING_INITIALIZER(one_res, a, "quit");
command quit = {quit_cb, nullptr, "quit", {FULCRUM_TOKEN(q_quit), nullptr}};

cmdline_parse_token_string_t lg2_set = TOKEN_STRING_INITIALIZER(log_res, set, "set");
cmdline_parse_token_string_t lg2_log = TOKEN_STRING_INITIALIZER(log_res, log, "log");
cmdline_parse_token_string_t lg2_type = TOKEN_STRING_INITIALIZER(log_res, type, nullptr);
cmdline_parse_token_string_t lg2_level = TOKEN_STRING_INITIALIZER(log_res, level, nullptr);
command set_log = {log_cb, nullptr, "set log <type, e.g. fulcrum.* or pmd.net.*> <level>",
                                {FULCRUM_TOKEN(lg2_set), FULCRUM_TOKEN(lg2_log), FULCRUM_TOKEN(lg2_type),
                                 FULCRUM_TOKEN(lg2_level), nullptr}};

// show node / set node drain on|off: scale-out (DescribeNodeStatus, SetNodeDrain)
struct node_res {
    cmdline_fixed_string_t a, node, drain, value;
};
void show_node_cb(void *, struct cmdline *cl, void *) { run_action(cl, {{"Action", "DescribeNodeStatus"}}); }
void drain_cb(void *r, struct cmdline *cl, void *) {
    run_action(cl, {{"Action", "SetNodeDrain"}, {"Drain", static_cast<node_res *>(r)->value}});
}
cmdline_parse_token_string_t nd_show = TOKEN_STRING_INITIALIZER(node_res, a, "show");
cmdline_parse_token_string_t nd_set = TOKEN_STRING_INITIALIZER(node_res, a, "set");
cmdline_parse_token_string_t nd_node = TOKEN_STRING_INITIALIZER(node_res, node, "node");
cmdline_parse_token_string_t nd_drain = TOKEN_STRING_INITIALIZER(node_res, drain, "drain");
cmdline_parse_token_string_t nd_value = TOKEN_STRING_INITIALIZER(node_res, value, "on#off");
command show_node = {show_node_cb, nullptr, "show node", {FULCRUM_TOKEN(nd_show), FULCRUM_TOKEN(nd_node), nullptr}};
command set_node_drain = {drain_cb, nullptr, "set node drain on|off",
                          {FULCRUM_TOKEN(nd_set), FULCRUM_TOKEN(nd_node), FULCRUM_TOKEN(nd_drain), FULCRUM_TOKEN(nd_value), nullptr}};

} // namespace

std::vector<command *> config_commands() { return {&show_config, &apply, &load, &quit, &set_log, &show_node, &set_node_drain}; }

} // namespace fulcrum::cli
