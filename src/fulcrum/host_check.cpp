#include "host_check.h"

#include "config/capacity.h"
#include "conn/conn_table.h"
#include "dataplane/ports.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace fulcrum::host {

namespace {

std::string read_line(const std::string &path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

// "0-3,6" (also "(0-1)" groups, which --lcores uses) -> {0,1,2,3,6}; false on junk.
bool parse_cpu_list(std::string text, std::set<unsigned> &out) {
    text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '(' || c == ')'; }), text.end());
    std::stringstream ss(text);
    for (std::string part; std::getline(ss, part, ',');) {
        unsigned a, b;
        char dash;
        std::istringstream p(part);
        if (!(p >> a)) return false;
        b = a;
        if (p >> dash && (dash != '-' || !(p >> b))) return false;
        for (unsigned c = a; c <= b && c < 4096; c++) out.insert(c);
    }
    return true;
}

// The CPUs of an --lcores value: "lcore[@cpu]" or "(lcores)@(cpus)" items, comma-separated.
bool lcores_cpus(const std::string &v, std::set<unsigned> &out) {
    size_t i = 0;
    while (i < v.size()) {
        // One item: up to the next comma outside parentheses.
        size_t j = i;
        int depth = 0;
        while (j < v.size() && (v[j] != ',' || depth > 0)) depth += v[j] == '(' ? 1 : v[j] == ')' ? -1 : 0, j++;
        std::string item = v.substr(i, j - i);
        auto at = item.find('@');
        if (!parse_cpu_list(at == std::string::npos ? item : item.substr(at + 1), out)) return false;
        i = j + 1;
    }
    return true;
}

std::string human(double bytes) {
    char b[32];
    if (bytes >= double(1ull << 30)) std::snprintf(b, sizeof b, "%.1f GiB", bytes / double(1ull << 30));
    else std::snprintf(b, sizeof b, "%.0f MiB", bytes / double(1 << 20));
    return b;
}

struct report {
    int failed = 0, passed = 0;
    void ok(const std::string &field, const std::string &what) {
        passed++;
        std::printf("  ok    %s: %s\n", field.c_str(), what.c_str());
    }
    void fail(const std::string &field, const std::string &what, const std::string &fix) {
        failed++;
        std::printf("  FAIL  field '%s': %s\n        fix: %s\n", field.c_str(), what.c_str(), fix.c_str());
    }
};

bool looks_pci(const std::string &d) { return std::count(d.begin(), d.end(), ':') >= 1 && d.find('.') != std::string::npos; }

// Why a device EAL did not make a port, and what to do about it.
void missing_device(report &r, const std::string &field, const std::string &dev) {
    if (!looks_pci(dev)) {
        r.fail(field, "no DPDK port named '" + dev + "'", "give it to EAL: --vdev '" + dev + ",...' (virtual devices)");
        return;
    }
    std::string sys = "/sys/bus/pci/devices/" + dev;
    struct stat st{};
    if (::stat(sys.c_str(), &st) != 0) {
        r.fail(field, "no PCI device " + dev + " on this host", "lspci -D lists the devices; use the full address (0000:01:00.0)");
        return;
    }
    char link[512] = {};
    ssize_t n = ::readlink((sys + "/driver").c_str(), link, sizeof link - 1);
    std::string driver = n > 0 ? std::string(std::strrchr(link, '/') + 1) : "no driver";
    if (driver != "vfio-pci" && driver != "uio_pci_generic" && driver != "igb_uio")
        r.fail(field, dev + " is bound to " + driver + ", not to a DPDK driver",
               "fulcrum-setup --apply --config FILE (or: dpdk-devbind.py --bind=vfio-pci " + dev + ")");
    else
        r.fail(field, dev + " is bound to " + driver + " but EAL did not take it", "pass -a " + dev + " to EAL");
}

uint64_t meminfo_kb(const char *key) {
    std::ifstream in("/proc/meminfo");
    for (std::string k; in >> k;) {
        uint64_t v;
        in >> v;
        if (k == std::string(key) + ":") return v;
        in.ignore(64, '\n');
    }
    return 0;
}

uint64_t free_hugepage_bytes() {
    uint64_t total = 0;
    for (const char *size : {"2048", "1048576"}) {
        std::string v = read_line(std::string("/sys/kernel/mm/hugepages/hugepages-") + size + "kB/free_hugepages");
        if (!v.empty()) total += std::strtoull(v.c_str(), nullptr, 10) * std::strtoull(size, nullptr, 10) * 1024;
    }
    return total;
}

void check_ports(report &r, const config::instance &cfg, const std::vector<unsigned> &lcores) {
    const uint32_t workers = static_cast<uint32_t>(lcores.size());
    std::set<int> worker_sockets;
    for (unsigned lc : lcores) worker_sockets.insert(static_cast<int>(rte_lcore_to_socket_id(lc)));
    for (size_t i = 0; i < cfg.ports.size(); i++) {
        const config::port &p = cfg.ports[i];
        std::string field = "ports[" + std::to_string(i) + "]";
        uint16_t id;
        if (rte_eth_dev_get_port_by_name(p.device.c_str(), &id) != 0) {
            missing_device(r, field + ".device", p.device);
            continue;
        }
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(id, &info) != 0) {
            r.fail(field + ".device", "cannot read the device info of '" + p.device + "'", "check the device and its driver");
            continue;
        }
        int socket = rte_eth_dev_socket_id(id);
        r.ok(field + ".device", p.device + " (" + info.driver_name + "), " + std::to_string(info.max_rx_queues) + " rx / " +
                                    std::to_string(info.max_tx_queues) + " tx queues, NUMA " +
                                    (socket < 0 ? std::string("any") : std::to_string(socket)));
        if (info.max_tx_queues < workers)
            r.fail("workers", "port '" + p.name + "' has " + std::to_string(info.max_tx_queues) + " tx queue(s); each of the " +
                                  std::to_string(workers) + " workers needs one",
                   "at most " + std::to_string(info.max_tx_queues) + " workers, or more queues on the device (af_packet: qpairs=" +
                       std::to_string(workers) + ")");
        else
            r.ok(field + " queues", std::to_string(workers) + " tx, " + std::to_string(std::min<uint32_t>(workers, info.max_rx_queues)) +
                                        " rx" + (info.max_rx_queues < workers ? " (fewer rx queues than workers: replies go through the redirect ring)" : ""));
        uint16_t rxd = 1024, txd = 1024;
        rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
        r.ok(field + " descriptors", std::to_string(rxd) + " rx / " + std::to_string(txd) + " tx per queue (device allows " +
                                         std::to_string(info.rx_desc_lim.nb_min) + "-" + std::to_string(info.rx_desc_lim.nb_max) + ")");
        const uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
        bool on_kernel_if = uint32_t(p.mtu) + overhead > info.max_rx_pktlen && info.if_index != 0;
        if (p.mtu < info.min_mtu || p.mtu > info.max_mtu || (uint32_t(p.mtu) + overhead > info.max_rx_pktlen && !on_kernel_if))
            r.fail(field + ".mtu", "device '" + p.device + "' takes an MTU of " + std::to_string(info.min_mtu) + "-" +
                                       std::to_string(std::min<uint32_t>(info.max_mtu, info.max_rx_pktlen - overhead)),
                   "a smaller mtu");
        if (socket >= 0 && (worker_sockets.size() > 1 || !worker_sockets.count(socket)))
            std::printf("  note  %s: on NUMA %d, but workers run on other sockets too: pick lcores on socket %d\n",
                        field.c_str(), socket, socket);
    }
}

void check_memory(report &r, const config::instance &cfg, uint32_t workers) {
    // DPDK memory: the mbuf pool, with 10% and 32 MiB for rings, worker arrays and taps.
    uint32_t max_mtu = 0;
    for (const auto &p : cfg.ports) max_mtu = std::max<uint32_t>(max_mtu, p.mtu);
    double per_mbuf = double(sizeof(rte_mbuf) + dataplane::mbuf_data_room(static_cast<uint16_t>(max_mtu)) + 64);
    double need = double(cfg.mbufs) * per_mbuf * 1.1 + double(32 << 20);
    double have = 0;
    rte_malloc_socket_stats st{};
    for (unsigned s = 0; s < rte_socket_count(); s++)
        if (rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id_by_idx(s)), &st) == 0) have += double(st.heap_freesz_bytes);
    bool huge = rte_eal_has_hugepages();
    if (huge) have += double(free_hugepage_bytes());
    std::string where = huge ? "free hugepages and DPDK heap" : "the --no-huge heap (-m)";
    if (need > have)
        r.fail("mbufs", std::to_string(cfg.mbufs) + " mbufs need " + human(need) + " of DPDK memory; " + human(have) + " free in " + where,
               huge ? "reserve more hugepages (fulcrum-setup --apply), or fewer mbufs" : "a larger -m, or fewer mbufs");
    else
        r.ok("mbufs", std::to_string(cfg.mbufs) + " need " + human(need) + "; " + human(have) + " free in " + where);
    // Connection tables: ordinary memory (transparent huge pages), per worker, plus the
    // 16-byte side entry of each connection.
    // With IPv6 on a port, the IPv6 pool as well (one entry per connection: conn_table.h).
    bool any6 = std::any_of(cfg.ports.begin(), cfg.ports.end(), [](const config::port &p) { return !p.address6.none(); });
    double per_worker = double(conn::conn_table::bytes_for(cfg.conn_capacity, any6 ? cfg.conn_capacity : 0)) +
                        16.0 * cfg.conn_capacity;
    double tables = per_worker * workers;
    double avail = double(meminfo_kb("MemAvailable")) * 1024;
    std::string what = std::to_string(workers) + " worker(s) x " + std::to_string(cfg.conn_capacity) + " connections need " +
                       human(tables) + " (" + std::to_string(uint64_t(per_worker / cfg.conn_capacity)) + " B each)";
    if (tables > avail)
        r.fail("conn_capacity", what + "; the host has " + human(avail) + " available (MemAvailable)", "a smaller conn_capacity, or fewer workers");
    else
        r.ok("conn_capacity", what + "; " + human(avail) + " available");
    r.ok("capacity", config::describe(config::capacity_of(cfg, workers), cfg, workers));
}

} // namespace

std::string check_eal_cpus(int argc, char **argv) {
    std::string online_text = read_line("/sys/devices/system/cpu/online");
    std::set<unsigned> online;
    // Unreadable (a restricted container): nothing to check against; EAL decides.
    if (!parse_cpu_list(online_text, online) || online.empty()) return {};
    for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; i++) {
        std::string a = argv[i], opt, val;
        if (a == "-l" || a == "--lcores" || a == "-c") {
            if (i + 1 >= argc) break;
            opt = a, val = argv[++i];
        } else if (a.rfind("--lcores=", 0) == 0) {
            opt = "--lcores", val = a.substr(9);
        } else if (a.size() > 2 && (a.rfind("-l", 0) == 0 || a.rfind("-c", 0) == 0)) {
            opt = a.substr(0, 2), val = a.substr(2);
        } else {
            continue;
        }
        std::set<unsigned> cpus;
        bool parsed = true;
        if (opt == "-c") {
            unsigned long long mask = std::strtoull(val.c_str(), nullptr, 16);
            for (unsigned b = 0; b < 64; b++)
                if (mask >> b & 1) cpus.insert(b);
        } else {
            parsed = opt == "-l" ? parse_cpu_list(val, cpus) : lcores_cpus(val, cpus);
        }
        if (!parsed) return "field '" + opt + "': cannot read '" + val + "' as a CPU list";
        for (unsigned c : cpus)
            if (!online.count(c))
                return "field '" + opt + "': CPU " + std::to_string(c) + " is not online on this host (online: " + online_text + ")";
    }
    return {};
}

int check_host(const config::instance &cfg, const std::vector<unsigned> &lcores) {
    report r;
    std::printf("fulcrum --check: the configuration against this host\n");
    std::string list;
    for (unsigned lc : lcores)
        list += (list.empty() ? "" : ", ") + std::to_string(lc) + " (NUMA " + std::to_string(rte_lcore_to_socket_id(lc)) + ")";
    r.ok("config", std::to_string(cfg.ports.size()) + " port(s), " + std::to_string(cfg.listeners.size()) + " listener(s)");
    r.ok("workers", std::to_string(lcores.size()) + " on lcore(s) " + list + ", control on lcore " + std::to_string(rte_get_main_lcore()));
    check_ports(r, cfg, lcores);
    check_memory(r, cfg, static_cast<uint32_t>(lcores.size()));
    std::printf("fulcrum --check: %d ok, %d failed\n", r.passed, r.failed);
    return r.failed;
}

} // namespace fulcrum::host
