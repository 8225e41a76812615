#include "dataplane/ports.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace fulcrum::dataplane {

namespace {
constexpr uint16_t ring_size = 1024;

// SIOCSIFMTU on a kernel interface of this network namespace; the error text, or nothing.
std::optional<std::string> set_kernel_mtu(uint32_t if_index, uint16_t mtu) {
    ifreq req{};
    if (!if_indextoname(if_index, req.ifr_name)) return std::string("no interface with index ") + std::to_string(if_index);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return std::string(std::strerror(errno));
    req.ifr_mtu = mtu;
    int rc = ioctl(fd, SIOCSIFMTU, &req);
    int err = errno;
    close(fd);
    if (rc != 0) return std::string(req.ifr_name) + ": " + std::strerror(err);
    return std::nullopt;
}
std::string tap_vdev(size_t i) { return "net_tap_fx" + std::to_string(i); }
} // namespace

uint16_t mbuf_data_room(uint16_t max_mtu) {
    // A frame of the MTU, rounded up to whole KiB with a KiB to spare: PMDs over kernel
    // rings want room for their whole ring frame (af_packet: framesz, e.g. 10240 for 9000).
    uint32_t frame = uint32_t(max_mtu) + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
    uint32_t room = frame <= 1518 ? RTE_MBUF_DEFAULT_DATAROOM : (frame + 1023) / 1024 * 1024 + 1024;
    return static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room);
}

uint16_t rx_queue_count(uint16_t id, uint32_t n_workers) {
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(id, &info);
    return static_cast<uint16_t>(std::min<uint32_t>(n_workers, info.max_rx_queues));
}

result<port_rt> start_port(const port_params &pp, rte_mempool *pool, uint32_t n_workers) {
    std::string dev_field = pp.field + ".device";
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(pp.device.c_str(), &id) != 0)
        return error{dev_field, "no DPDK port named '" + pp.device + "' (give it to EAL with --vdev or -a)"};
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) != 0) return error{dev_field, "cannot read device info of '" + pp.device + "'"};
    if (info.max_tx_queues < n_workers)
        return error{dev_field, "port has " + std::to_string(info.max_tx_queues) + " tx queues; need one per worker (" +
                                    std::to_string(n_workers) + ")"};
    uint16_t n_rx = rx_queue_count(id, n_workers);
    rte_eth_conf conf{};
    port_rt p;
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
        p.tx_ip_cksum = true;
    }
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
        p.rx_ip_cksum = true;
    }
    if (n_rx > 1 && info.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    }
    // Every frame must fit one mbuf (multi-segment frames are dropped): the pool is sized
    // for the largest port MTU by whoever made it (see mbuf_data_room).
    std::string mtu_field = pp.field + ".mtu";
    const uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
    uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
    if (uint32_t(pp.mtu) + overhead > room)
        return error{mtu_field, "frames of this MTU do not fit the mbufs (" + std::to_string(room) + " bytes of data)"};
    if (pp.mtu < info.min_mtu || pp.mtu > info.max_mtu)
        return error{mtu_field, "device '" + pp.device + "' takes an MTU of " + std::to_string(info.min_mtu) + "-" +
                                    std::to_string(info.max_mtu)};
    // Virtual devices over a kernel interface (af_packet, AF_XDP, net_tap) report 1518-byte
    // frames at most, yet carry what their kernel interface and ring carry: the MTU goes
    // on the kernel interface instead. Other devices must take it themselves.
    bool on_kernel_if = uint32_t(pp.mtu) + overhead > info.max_rx_pktlen;
    if (on_kernel_if && info.if_index == 0)
        return error{mtu_field, "device '" + pp.device + "' takes frames of at most " +
                                    std::to_string(info.max_rx_pktlen) + " bytes (MTU " +
                                    std::to_string(info.max_rx_pktlen - overhead) + ")"};
    conf.rxmode.mtu = on_kernel_if ? static_cast<uint16_t>(info.max_rx_pktlen - overhead) : pp.mtu;
    if (int rc = rte_eth_dev_configure(id, n_rx, static_cast<uint16_t>(n_workers), &conf); rc != 0)
        return error{dev_field, std::string("rte_eth_dev_configure failed: ") + rte_strerror(-rc)};
    if (on_kernel_if) {
        if (auto failed = set_kernel_mtu(info.if_index, pp.mtu))
            return error{mtu_field, "cannot set MTU " + std::to_string(pp.mtu) + " on the kernel interface of '" +
                                        pp.device + "': " + *failed};
    } else if (int rc = rte_eth_dev_set_mtu(id, pp.mtu); rc != 0 && rc != -ENOTSUP) {
        // (net_ring, net_null have no MTU to set)
        return error{mtu_field, "cannot set MTU " + std::to_string(pp.mtu) + " on '" + pp.device + "': " + rte_strerror(-rc)};
    }
    uint16_t nb_rxd = ring_size, nb_txd = ring_size;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd);
    int socket = rte_eth_dev_socket_id(id);
    for (uint16_t q = 0; q < n_rx; q++)
        if (int rc = rte_eth_rx_queue_setup(id, q, nb_rxd, socket, nullptr, pool); rc != 0)
            return error{dev_field, std::string("rx queue setup failed: ") + rte_strerror(-rc)};
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    for (uint16_t q = 0; q < n_workers; q++)
        if (int rc = rte_eth_tx_queue_setup(id, q, nb_txd, socket, &txc); rc != 0)
            return error{dev_field, std::string("tx queue setup failed: ") + rte_strerror(-rc)};
    if (int rc = rte_eth_dev_start(id); rc != 0)
        return error{dev_field, std::string("port start failed: ") + rte_strerror(-rc)};
    rte_eth_promiscuous_enable(id); // not every PMD has it; unicast to our MAC is enough

    p.port_id = id;
    rte_eth_macaddr_get(id, &p.mac);
    p.ip = pp.ip;
    p.mask = pp.mask;
    p.gateway = pp.gateway;
    p.mtu = pp.mtu;
    return p;
}

result<uint16_t> start_tap(size_t index, const std::string &field, const std::string &ifname,
                           const rte_ether_addr &mac, rte_mempool *pool, uint32_t n_workers) {
    char mac_text[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac_text, sizeof mac_text, &mac);
    std::string args = "iface=" + ifname + ",mac=" + mac_text;
    if (rte_vdev_init(tap_vdev(index).c_str(), args.c_str()) != 0)
        return error{field, "cannot create the exception-path interface " + ifname +
                                " (net_tap: needs /dev/net/tun and CAP_NET_ADMIN; or set \"exception_path\": \"off\")"};
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(tap_vdev(index).c_str(), &id) != 0)
        return error{field, "net_tap port " + tap_vdev(index) + " not found after creation"};
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(id, static_cast<uint16_t>(n_workers), static_cast<uint16_t>(n_workers), &conf) != 0)
        return error{field, "cannot configure the exception-path interface " + ifname};
    int socket = rte_eth_dev_socket_id(id);
    for (uint16_t q = 0; q < n_workers; q++)
        if (rte_eth_rx_queue_setup(id, q, 512, socket, nullptr, pool) != 0 ||
            rte_eth_tx_queue_setup(id, q, 512, socket, nullptr) != 0)
            return error{field, "cannot set up the queues of " + ifname};
    if (rte_eth_dev_start(id) != 0) return error{field, "cannot start " + ifname};
    return id;
}

void remove_tap(size_t index, uint16_t port_id) {
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
    rte_vdev_uninit(tap_vdev(index).c_str());
}

} // namespace fulcrum::dataplane
