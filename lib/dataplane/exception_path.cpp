#include "dataplane/exception_path.h"

#include "config/parse.h"

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>

#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <vector>

extern char **environ;

namespace fulcrum::dataplane {

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

std::string vdev_name(size_t i) { return "net_tap_fx" + std::to_string(i); }

bool in_subnet(uint32_t ip, const config::port &p) {
    uint32_t mask = p.prefix_len == 0 ? 0 : ~uint32_t(0) << (32 - p.prefix_len);
    return (ip & mask) == (p.address & mask);
}

} // namespace

std::string exception_ifname(const config::instance &cfg, size_t i) {
    std::string n = "fx" + std::to_string(i) + "-" + cfg.ports[i].name;
    if (n.size() > 15) n.resize(15);
    for (char &c : n)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    return n;
}

config::result<uint16_t> create_exception_port(const config::instance &cfg, size_t i, const port_rt &data,
                                               rte_mempool *pool, uint32_t n_workers) {
    std::string field = "ports[" + std::to_string(i) + "]";
    std::string ifname = exception_ifname(cfg, i);
    char mac[18];
    const uint8_t *a = data.mac.addr_bytes;
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
    std::string args = "iface=" + ifname + ",mac=" + mac;
    if (rte_vdev_init(vdev_name(i).c_str(), args.c_str()) != 0)
        return config::error{field, "cannot create the exception-path interface " + ifname +
                                        " (net_tap: needs /dev/net/tun and CAP_NET_ADMIN; or set \"exception_path\": \"off\")"};
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(vdev_name(i).c_str(), &id) != 0)
        return config::error{field, "net_tap port " + vdev_name(i) + " not found after creation"};
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(id, static_cast<uint16_t>(n_workers), static_cast<uint16_t>(n_workers), &conf) != 0)
        return config::error{field, "cannot configure the exception-path interface " + ifname};
    int socket = rte_eth_dev_socket_id(id);
    for (uint16_t q = 0; q < n_workers; q++)
        if (rte_eth_rx_queue_setup(id, q, 512, socket, nullptr, pool) != 0 ||
            rte_eth_tx_queue_setup(id, q, 512, socket, nullptr) != 0)
            return config::error{field, "cannot set up the queues of " + ifname};
    if (rte_eth_dev_start(id) != 0) return config::error{field, "cannot start " + ifname};

    const config::port &p = cfg.ports[i];
    std::vector<std::vector<std::string>> cmds = {
        {"ip", "link", "set", "dev", ifname, "mtu", std::to_string(p.mtu), "up"},
        {"ip", "addr", "add", config::format_ipv4(p.address) + "/" + std::to_string(p.prefix_len), "dev", ifname}};
    // Each laddr lives on the interface of the port whose subnet holds it (port 0 else).
    for (uint32_t l : cfg.local_addresses) {
        size_t home = 0;
        for (size_t k = 0; k < cfg.ports.size(); k++)
            if (in_subnet(l, cfg.ports[k])) {
                home = k;
                break;
            }
        if (home == i) cmds.push_back({"ip", "addr", "add", config::format_ipv4(l) + "/32", "dev", ifname});
    }
    for (const auto &c : cmds)
        if (run(c) != 0) {
            std::string line;
            for (const auto &w : c) line += (line.empty() ? "" : " ") + w;
            return config::error{field, "exception path: '" + line + "' failed"};
        }
    // Replies to laddr-sourced probes may arrive on another port's interface.
    std::ofstream("/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter") << "0\n";
    return id;
}

void remove_exception_port(const config::instance &, size_t i, uint16_t port_id) {
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
    rte_vdev_uninit(vdev_name(i).c_str());
}

} // namespace fulcrum::dataplane
