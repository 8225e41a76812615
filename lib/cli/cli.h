// The testpmd-style prompt (`fulcrum> `, DPDK librte_cmdline): interactive with tab
// completion on the terminal (-i), or line by line from a command file (-f FILE, `load`).
//
// Commands are split by area: cli_port.cpp (ports), cli_group.cpp (listeners, groups,
// backends, and the commands that change them), cli_stats.cpp (counters), cli_conn.cpp
// (connections), cli_config.cpp (config, apply, load, help, log levels, quit). Every
// change goes through control::service, the same path as the socket API: one source of
// truth, one validation. Each command's help text is its syntax.
#pragma once

#include "control/service.h"
#include "deploy/deployment.h"
#include "net/addr.h"

#include <cmdline_parse.h>
#include <cmdline_parse_ipaddr.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

struct cmdline;

namespace fulcrum::cli {

// What the commands act on; one per process (the callbacks reach it through current()).
struct env {
    control::service &svc;
    deploy::deployment &dp;
    bool quit = false;
    // `load`: runs a command file into the current output (set by the session).
    std::function<bool(const std::string &)> run_file;
};
env &current();

class session {
  public:
    explicit session(env &e);
    ~session();
    session(const session &) = delete;
    session &operator=(const session &) = delete;

    // Prompt on the terminal (stdin/stdout); poll() serves it from the control loop
    // without blocking and returns false once `quit` was entered (or stdin closed).
    void start_interactive();
    bool poll();
    // One command line (at most max_line characters), its output to out_fd; false when
    // it did not parse (a message saying so is written).
    static constexpr size_t max_line = 4095;
    bool run_line(const std::string &line, int out_fd);
    // Every line of a file (blank lines and # comments skipped), each echoed after the
    // prompt; false if the file cannot be read or a line did not parse. A regular file
    // of at most 1 MiB; files that load files nest at most 8 deep.
    bool run_file(const std::string &path, int out_fd);

  private:
    env &_env;
    struct cmdline *_interactive = nullptr;
    int _out_fd = 1;      // where the command being run writes (for `load`)
    int _load_depth = 0;  // command files being run, one inside the other
};

// One command as librte_cmdline reads it (struct cmdline_inst), with room for its
// tokens: C++ cannot initialise that struct's flexible array (GCC allows it as an
// extension, clang does not), so commands are declared as this and handed over as the C
// struct, whose layout it repeats.
struct command {
    void (*f)(void *, struct cmdline *, void *);
    void *data;
    const char *help_str;
    cmdline_parse_token_hdr_t *tokens[12]; // ends with nullptr
    cmdline_parse_inst_t *inst() { return reinterpret_cast<cmdline_parse_inst_t *>(this); }
};
static_assert(offsetof(command, f) == offsetof(cmdline_parse_inst_t, f) &&
              offsetof(command, help_str) == offsetof(cmdline_parse_inst_t, help_str) &&
              offsetof(command, tokens) == offsetof(cmdline_parse_inst_t, tokens));

// The commands of each area (cli_*.cpp), and all of them with `help` (cli.cpp).
std::vector<command *> port_commands();
std::vector<command *> group_commands();
std::vector<command *> stats_commands();
std::vector<command *> conn_commands();
std::vector<command *> config_commands();
cmdline_parse_ctx_t *all_commands();

// Shared by the areas: run one action through the service and print its outcome.
void run_action(struct cmdline *cl, const nlohmann::json &request);
std::string ip_text(uint32_t network_order_ip);
// The address a cmdline IPADDR token parsed (either family).
net::ip_addr token_ip(const cmdline_ipaddr_t &t);

} // namespace fulcrum::cli

// Token helpers: every token is declared with its result struct and field.
#define FULCRUM_TOKEN(tok) reinterpret_cast<cmdline_parse_token_hdr_t *>(&(tok))
