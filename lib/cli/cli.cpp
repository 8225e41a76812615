#include "cli/cli.h"

#include "config/parse.h"
#include "core/text_file.h"

#include <cmdline.h>
#include <cmdline_parse_string.h>
#include <cmdline_rdline.h>
#include <cmdline_socket.h>

#include <rte_byteorder.h>

#include <sstream>
#include <unistd.h>
#include <memory>

namespace fulcrum::cli {

namespace {
env *g_env = nullptr;
const std::string prompt = "fulcrum> ";

struct help_res {
    cmdline_fixed_string_t help;
};
cmdline_parse_token_string_t t_help = TOKEN_STRING_INITIALIZER(help_res, help, "help");
void help_cb(void *, struct cmdline *cl, void *) {
    cmdline_printf(cl, "Commands (the help of each is its syntax; TAB completes, ? shows the choices):\n");
    for (cmdline_parse_ctx_t *c = all_commands(); *c; c++) cmdline_printf(cl, "  %s\n", (*c)->help_str);
}
command help_cmd = {help_cb, nullptr, "help", {FULCRUM_TOKEN(t_help), nullptr}};
} // namespace

// (dprintf is unusable here: DPDK's cmdline headers define it as a debug no-op.)
void write_text(int fd, const std::string &text) {
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

env &current() { return *g_env; }

cmdline_parse_ctx_t *all_commands() {
    static std::vector<cmdline_parse_inst_t *> all = [] {
        std::vector<cmdline_parse_inst_t *> v;
        for (auto part : {port_commands(), group_commands(), stats_commands(), conn_commands(), config_commands()})
            for (command *c : part) v.push_back(c->inst());
        v.push_back(help_cmd.inst());
        v.push_back(nullptr);
        return v;
    }();
    return all.data();
}

std::string ip_text(uint32_t be) { return config::format_ipv4(rte_be_to_cpu_32(be)); }
net::ip_addr token_ip(const cmdline_ipaddr_t &t) {
    if (t.family == AF_INET) return net::ip_addr::from_v4(rte_be_to_cpu_32(t.addr.ipv4.s_addr));
    return net::ip_addr::from_v6(t.addr.ipv6.s6_addr);
}

void run_action(struct cmdline *cl, const nlohmann::json &request) {
    nlohmann::json reply = current().svc.handle(request);
    if (reply.value("Code", std::string()) == "Success") {
        if (reply.contains("SnapshotGeneration"))
            cmdline_printf(cl, "Success: %s applied, snapshot generation %llu\n",
                           request.value("Action", std::string("?")).c_str(),
                           static_cast<unsigned long long>(reply["SnapshotGeneration"].get<uint64_t>()));
        else
            cmdline_printf(cl, "%s\n", reply.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        cmdline_printf(cl, "Error: %s\n", reply.value("Message", std::string("refused")).c_str());
    }
}

session::session(env &e) : _env(e) {
    g_env = &e;
    _env.run_file = [this](const std::string &path) { return run_file(path, _out_fd); };
}

session::~session() {
    if (_interactive) cmdline_stdin_exit(_interactive);
    g_env = nullptr;
}

void session::start_interactive() {
    _interactive = cmdline_stdin_new(all_commands(), prompt.c_str());
}

bool session::poll() {
    if (!_interactive) return true;
    _out_fd = STDOUT_FILENO;
    int st = cmdline_poll(_interactive);
    if (st == RDLINE_EXITED || st < 0 || _env.quit) {
        cmdline_stdin_exit(_interactive);
        _interactive = nullptr;
        return false;
    }
    return true;
}

bool session::run_line(const std::string &line, int out_fd) {
    if (line.size() > max_line) {
        write_text(out_fd, "Error: a command line of " + std::to_string(line.size()) + " characters (at most " +
                               std::to_string(max_line) + ")\n");
        return false;
    }
    int saved = _out_fd;
    _out_fd = out_fd;
    struct restore {
        int &fd, was;
        ~restore() { fd = was; }
    } r{_out_fd, saved};
    // cmdline_free closes descriptors above 2: hand it a duplicate of ours.
    int fd = out_fd > 2 ? ::dup(out_fd) : out_fd;
    std::unique_ptr<struct cmdline, void (*)(struct cmdline *)> cl(cmdline_new(all_commands(), "", fd, fd), cmdline_free);
    if (!cl) return false;
    std::string buf = line + "\n";
    int rc = cmdline_parse(cl.get(), buf.c_str());
    if (rc == CMDLINE_PARSE_AMBIGUOUS) cmdline_printf(cl.get(), "Ambiguous command: %s\n", line.c_str());
    else if (rc == CMDLINE_PARSE_NOMATCH) cmdline_printf(cl.get(), "Command not found: %s (see help)\n", line.c_str());
    else if (rc == CMDLINE_PARSE_BAD_ARGS) cmdline_printf(cl.get(), "Bad arguments: %s (see help)\n", line.c_str());
    return rc >= 0;
}

bool session::run_file(const std::string &path, int out_fd) {
    // A file that loads itself, directly or not, stops at this depth.
    constexpr int max_depth = 8;
    constexpr size_t max_bytes = size_t(1) << 20;
    if (_load_depth >= max_depth) {
        write_text(out_fd, "Error: command files nest deeper than " + std::to_string(max_depth) + " (a file that loads itself?): '" + path + "' not run\n");
        return false;
    }
    auto text = read_text_file(path, "load", max_bytes);
    if (!text) {
        write_text(out_fd, "Error: " + text.err().message() + "\n");
        return false;
    }
    struct depth {
        int &d;
        explicit depth(int &x) : d(++x) {}
        ~depth() { --d; }
    } nested(_load_depth);
    bool all_ok = true;
    std::istringstream in(text.value());
    std::string line;
    while (std::getline(in, line) && !_env.quit) {
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        write_text(out_fd, prompt + line + "\n");
        all_ok = run_line(line, out_fd) && all_ok;
    }
    return all_ok;
}

} // namespace fulcrum::cli
