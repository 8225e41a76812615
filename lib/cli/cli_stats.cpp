// show stats [workers|listeners|backends], clear stats: the counters an operator reads to
// answer "is it healthy, is the distribution fair?".
#include "cli/cli.h"

#include "deploy/stats.h"
#include "observe/observe.h"

#include <cmdline.h>
#include <cmdline_parse_string.h>

#include <cinttypes>

namespace fulcrum::cli {
namespace {

struct stats_res {
    cmdline_fixed_string_t show, stats, what;
};
// cmdline_printf formats into a BUFSIZ buffer: print a long text a line at a time.
void print_lines(struct cmdline *cl, const std::string &text) {
    for (size_t at = 0; at < text.size();) {
        size_t nl = text.find('\n', at);
        size_t end = nl == std::string::npos ? text.size() : nl + 1;
        cmdline_printf(cl, "%s", text.substr(at, end - at).c_str());
        at = end;
    }
}

void stats_cb(void *r, struct cmdline *cl, void *) {
    auto *res = static_cast<stats_res *>(r);
    std::string what = res->what;
    unsigned section = what == "workers" ? observe::workers : what == "listeners" ? observe::listeners : observe::backends;
    print_lines(cl, observe::render_text(deploy::collect_stats(current().dp), section));
}
void summary_cb(void *, struct cmdline *cl, void *) {
    print_lines(cl, observe::render_text(deploy::collect_stats(current().dp)));
}
void clear_cb(void *, struct cmdline *cl, void *) {
    current().dp.clear_stats();
    cmdline_printf(cl, "counters cleared (active connections are a gauge and stay)\n");
}

cmdline_parse_token_string_t s_show = TOKEN_STRING_INITIALIZER(stats_res, show, "show");
cmdline_parse_token_string_t s_stats = TOKEN_STRING_INITIALIZER(stats_res, stats, "stats");
cmdline_parse_token_string_t s_what = TOKEN_STRING_INITIALIZER(stats_res, what, "workers#listeners#backends");
command show_stats_of = {stats_cb, nullptr, "show stats workers|listeners|backends",
                                      {FULCRUM_TOKEN(s_show), FULCRUM_TOKEN(s_stats), FULCRUM_TOKEN(s_what), nullptr}};
command show_stats = {summary_cb, nullptr, "show stats",
                                   {FULCRUM_TOKEN(s_show), FULCRUM_TOKEN(s_stats), nullptr}};
cmdline_parse_token_string_t c_clear = TOKEN_STRING_INITIALIZER(stats_res, show, "clear");
command clear_stats = {clear_cb, nullptr, "clear stats",
                                    {FULCRUM_TOKEN(c_clear), FULCRUM_TOKEN(s_stats), nullptr}};

} // namespace

std::vector<command *> stats_commands() { return {&show_stats, &show_stats_of, &clear_stats}; }

} // namespace fulcrum::cli
