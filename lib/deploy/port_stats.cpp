#include "deploy/port_stats.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <map>
#include <string>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace fulcrum::deploy {

namespace {

// af_packet's counts reset on every read: the running sum per socket (fd) lives here.
std::map<int, uint64_t> packet_drops_by_fd;

// Every AF_PACKET or AF_XDP socket of this process bound to `ifindex` (the PMD's own,
// opened in this process), with what its kernel ring dropped.
uint64_t kernel_ring_drops(int ifindex) {
    uint64_t total = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (dirent *e = readdir(d)) {
        char *end;
        long fd_l = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd_l < 0) continue;
        int fd = static_cast<int>(fd_l);
        int domain = 0;
        socklen_t len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) continue; // not a socket
        if (domain == AF_PACKET) {
            sockaddr_ll ll{};
            len = sizeof(ll);
            if (getsockname(fd, reinterpret_cast<sockaddr *>(&ll), &len) != 0 || ll.sll_ifindex != ifindex) continue;
            tpacket_stats st{};
            len = sizeof(st);
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) packet_drops_by_fd[fd] += st.tp_drops;
            total += packet_drops_by_fd[fd];
        } else if (domain == AF_XDP) {
            sockaddr_xdp sx{};
            len = sizeof(sx);
            if (getsockname(fd, reinterpret_cast<sockaddr *>(&sx), &len) != 0 || int(sx.sxdp_ifindex) != ifindex) continue;
            xdp_statistics st{};
            len = sizeof(st);
            // Cumulative; rx_dropped the PMD already counts as imissed, a full rx ring it does not.
            if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) total += st.rx_ring_full;
        }
    }
    closedir(d);
    return total;
}

} // namespace

port_counters read_port_counters(uint16_t port_id) {
    port_counters pc;
    rte_eth_stats_get(port_id, &pc.eth);
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port_id, &info) == 0 && info.if_index > 0)
        pc.kernel_drops = kernel_ring_drops(static_cast<int>(info.if_index));
    return pc;
}

} // namespace fulcrum::deploy
