// fulcrumctl [--socket PATH] ACTION [JSON | @FILE]
//
// Sends one action to a running fulcrum's control socket and prints the JSON reply.
// JSON holds the action's parameters, e.g. '{"BackendServers":[{"ServerId":"i-1",...}]}'.
#include "control/ctl_socket.h"

#include "control/actions.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

using nlohmann::json;

namespace {
int usage() {
    std::fprintf(stderr, "usage: fulcrumctl [--socket PATH] ACTION [JSON | @FILE]\n  ACTION, one of:\n");
    for (const auto &a : fulcrum::control::actions()) std::fprintf(stderr, "    %-40s %s\n", a.name, a.help);
    std::fprintf(stderr,
                 "  JSON     the action's parameters as a JSON object (or @FILE to read them from a file)\n"
                 "  --socket the daemon's --ctl-socket (default /run/fulcrum.sock)\n"
                 "exit: 0 Success, 1 the daemon refused the request, 2 usage or connection error\n");
    return 2;
}
} // namespace

int main(int argc, char **argv) {
    std::string socket = "/run/fulcrum.sock";
    int i = 1;
    if (i < argc && (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help"))) return usage(), 0;
    if (i + 1 < argc && !std::strcmp(argv[i], "--socket")) {
        socket = argv[i + 1];
        i += 2;
    }
    if (i >= argc) return usage();
    json req = json::object();
    if (i + 1 < argc) {
        std::string text = argv[i + 1];
        if (!text.empty() && text[0] == '@') {
            std::ifstream f(text.substr(1));
            if (!f) {
                std::fprintf(stderr, "fulcrumctl: cannot read %s\n", text.c_str() + 1);
                return 2;
            }
            std::stringstream ss;
            ss << f.rdbuf();
            text = ss.str();
        }
        req = json::parse(text, nullptr, false);
        if (req.is_discarded() || !req.is_object()) {
            std::fprintf(stderr, "fulcrumctl: parameters must be a JSON object\n");
            return 2;
        }
    }
    req["Action"] = argv[i];
    auto reply = fulcrum::control::ctl_request(socket, req.dump());
    if (!reply) {
        std::fprintf(stderr, "fulcrumctl: %s\n", reply.err().message().c_str());
        return 2;
    }
    json r = json::parse(reply.value(), nullptr, false);
    if (r.is_discarded()) {
        std::fprintf(stderr, "fulcrumctl: unreadable reply: %s\n", reply.value().c_str());
        return 2;
    }
    std::cout << r.dump(2) << "\n";
    return r.value("Code", "") == "Success" ? 0 : 1;
}
