#include "deploy/host_if.h"

#include "net/addr.h"

#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <vector>

extern char **environ;

namespace fulcrum::deploy {

namespace {
// Run a command (no shell); returns its exit status, -1 if it could not run.
int run(const std::vector<std::string> &argv) {
    std::vector<char *> args;
    for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
} // namespace

std::string host_ifname(const config::instance &cfg, size_t i) {
    std::string n = "fx" + std::to_string(i) + "-" + cfg.ports[i].name;
    if (n.size() > 15) n.resize(15);
    for (char &c : n)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    return n;
}

result<bool> configure_host_if(const config::instance &cfg, size_t i, const std::vector<config::local_address> &laddrs) {
    const config::port &p = cfg.ports[i];
    std::string ifname = host_ifname(cfg, i);
    // A port without IPv6: the kernel's own IPv6 chatter (MLD, router solicitations) has
    // no business on it. With IPv6 (address6): the kernel takes no router advertisements,
    // autoconfigures nothing and sends no solicitations (routes are configured), and its
    // addresses skip duplicate detection (Fulcrum answers for them on the wire). Set
    // before the interface comes up.
    std::string conf = "/proc/sys/net/ipv6/conf/" + ifname + "/";
    bool v6 = !p.address6.none();
    std::ofstream(conf + "disable_ipv6") << (v6 ? "0\n" : "1\n");
    if (v6)
        for (const char *knob : {"accept_ra", "autoconf", "router_solicitations", "dad_transmits", "accept_redirects"})
            std::ofstream(conf + knob) << "0\n";
    std::vector<std::vector<std::string>> cmds = {
        {"ip", "link", "set", "dev", ifname, "mtu", std::to_string(p.mtu), "up"},
        {"ip", "addr", "add", net::format_prefix(p.address, p.prefix_len), "dev", ifname}};
    if (v6)
        cmds.push_back({"ip", "-6", "addr", "add", net::format_ip(p.address6) + "/" + std::to_string(p.prefix6_len), "dev",
                        ifname, "nodad"});
    // Each laddr lives on the interface of the port it belongs to.
    for (const config::local_address &l : laddrs)
        if (l.port == i)
            cmds.push_back(l.ip.is_v4() ? std::vector<std::string>{"ip", "addr", "add", net::format_ip(l.ip) + "/32", "dev", ifname}
                                        : std::vector<std::string>{"ip", "-6", "addr", "add", net::format_ip(l.ip) + "/128",
                                                                   "dev", ifname, "nodad"});
    // The kernel's own IPv6 beyond the prefix (BGP, probes to far backends) by gateway6.
    if (v6 && !p.gateway6.none())
        cmds.push_back({"ip", "-6", "route", "replace", "default", "via", net::format_ip(p.gateway6), "dev", ifname});
    for (const auto &c : cmds)
        if (run(c) != 0) {
            std::string line;
            for (const auto &w : c) line += (line.empty() ? "" : " ") + w;
            return error{"ports[" + std::to_string(i) + "]", "exception path: '" + line + "' failed"};
        }
    // Replies to laddr-sourced probes may arrive on another port's interface.
    std::ofstream("/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter") << "0\n";
    return true;
}

} // namespace fulcrum::deploy
