#include "dataplane/ports.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#include "net/toeplitz.h"

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

constexpr uint64_t rss_l4 = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP;

// Whether the device can take Fulcrum's key for the IPv4 TCP and UDP hash; the reason if not.
std::optional<std::string> rss_unsupported(const rte_eth_dev_info &info) {
    if ((info.flow_type_rss_offloads & rss_l4) != rss_l4) return "no RSS over IPv4 TCP and UDP ports";
    if (info.hash_key_size != 0 && info.hash_key_size < 20) return "RSS key shorter than 20 bytes";
    if (info.reta_size == 0) return "no RSS redirection table";
    if (info.reta_size & (info.reta_size - 1)) return "RSS redirection table size not a power of two";
    return std::nullopt;
}

// After start: the RETA (entry j -> queue j % queues), then both read back: a device
// that silently kept its own key or table must not be trusted.
std::optional<std::string> program_reta(uint16_t id, const rte_eth_dev_info &info, uint16_t queues) {
    std::vector<rte_eth_rss_reta_entry64> reta((info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE);
    for (uint32_t j = 0; j < info.reta_size; j++) {
        reta[j / RTE_ETH_RETA_GROUP_SIZE].mask |= uint64_t(1) << (j % RTE_ETH_RETA_GROUP_SIZE);
        reta[j / RTE_ETH_RETA_GROUP_SIZE].reta[j % RTE_ETH_RETA_GROUP_SIZE] = static_cast<uint16_t>(j % queues);
    }
    if (int rc = rte_eth_dev_rss_reta_update(id, reta.data(), info.reta_size); rc != 0)
        return std::string("RETA update failed: ") + rte_strerror(-rc);
    std::vector<rte_eth_rss_reta_entry64> got(reta.size());
    for (auto &g : got) g.mask = ~uint64_t(0);
    if (rte_eth_dev_rss_reta_query(id, got.data(), info.reta_size) != 0) return "RETA cannot be read back";
    for (uint32_t j = 0; j < info.reta_size; j++)
        if (got[j / RTE_ETH_RETA_GROUP_SIZE].reta[j % RTE_ETH_RETA_GROUP_SIZE] != j % queues) return "RETA read back differs";
    uint8_t key[128] = {};
    rte_eth_rss_conf conf{};
    conf.rss_key = key;
    conf.rss_key_len = sizeof key;
    if (rte_eth_dev_rss_hash_conf_get(id, &conf) != 0) return "RSS key cannot be read back";
    if (std::memcmp(key, net::rss_key, 20) != 0) return "RSS key read back differs";
    return std::nullopt;
}

// rte_flow: for each local address, TCP and UDP destination port & (queues - 1) == q go
// to queue q (lports are then dealt by lport % workers). Validated whole before any is made.
std::optional<std::string> install_flow_rules(uint16_t id, const std::vector<uint32_t> &laddrs, uint16_t queues) {
    if (queues & (queues - 1)) return "rte_flow needs a power-of-two number of workers";
    struct rule {
        rte_flow_item_ipv4 ip_spec{}, ip_mask{};
        rte_flow_item_tcp tcp_spec{}, tcp_mask{};
        rte_flow_item_udp udp_spec{}, udp_mask{};
        rte_flow_action_queue queue{};
        bool udp;
    };
    std::vector<rule> rules;
    for (uint32_t l : laddrs)
        for (bool udp : {false, true})
            for (uint16_t q = 0; q < queues; q++) {
                rule r{};
                r.ip_spec.hdr.dst_addr = l;
                r.ip_mask.hdr.dst_addr = UINT32_MAX;
                r.tcp_spec.hdr.dst_port = r.udp_spec.hdr.dst_port = rte_cpu_to_be_16(q);
                r.tcp_mask.hdr.dst_port = r.udp_mask.hdr.dst_port = rte_cpu_to_be_16(uint16_t(queues - 1));
                r.queue.index = q;
                r.udp = udp;
                rules.push_back(r);
            }
    auto apply = [&](bool create) -> std::optional<std::string> {
        for (rule &r : rules) {
            rte_flow_attr attr{};
            attr.ingress = 1;
            rte_flow_item pattern[] = {
                {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr},
                {RTE_FLOW_ITEM_TYPE_IPV4, &r.ip_spec, nullptr, &r.ip_mask},
                {r.udp ? RTE_FLOW_ITEM_TYPE_UDP : RTE_FLOW_ITEM_TYPE_TCP,
                 r.udp ? static_cast<const void *>(&r.udp_spec) : &r.tcp_spec, nullptr,
                 r.udp ? static_cast<const void *>(&r.udp_mask) : &r.tcp_mask},
                {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr}};
            rte_flow_action actions[] = {{RTE_FLOW_ACTION_TYPE_QUEUE, &r.queue}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
            rte_flow_error err{};
            bool ok = create ? rte_flow_create(id, &attr, pattern, actions, &err) != nullptr
                             : rte_flow_validate(id, &attr, pattern, actions, &err) == 0;
            if (!ok) return std::string("rte_flow rule ") + (create ? "not made" : "refused") + ": " +
                            (err.message ? err.message : "not supported");
        }
        return std::nullopt;
    };
    if (laddrs.empty()) return "no local address on this port";
    if (auto refused = apply(false)) return refused;
    if (auto failed = apply(true)) {
        rte_flow_error err{};
        rte_flow_flush(id, &err);
        return failed;
    }
    return std::nullopt;
}
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
    // Several workers: the NIC spreads clients by RSS; with Fulcrum's key and RETA it
    // also sends each reply to the worker that chose its lport (steering::rss).
    std::string note;
    std::optional<std::string> no_rss = n_workers == 1 ? std::optional<std::string>("one worker")
                                        : n_rx < n_workers ? std::optional<std::string>("fewer rx queues than workers")
                                                           : rss_unsupported(info);
    uint8_t key[128] = {};
    std::memcpy(key, net::rss_key, net::rss_key_size);
    if (n_rx > 1 && info.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
        if (!no_rss && pp.steer == port_params::want::automatic) {
            conf.rx_adv_conf.rss_conf.rss_key = key;
            conf.rx_adv_conf.rss_conf.rss_key_len =
                static_cast<uint8_t>(info.hash_key_size ? std::min<uint32_t>(info.hash_key_size, sizeof key) : net::rss_key_size);
        }
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

    p.rx_queues = n_rx;
    if (n_workers == 1) {
        p.steer = steering::single;
        note = "one worker";
    } else if (pp.steer == port_params::want::emulated && n_rx == n_workers) {
        p.steer = steering::emulated;
        p.reta_size = emulated_reta_size;
        p.rss6 = true; // (net::rss_queue_of_frame hashes IPv6 TCP/UDP as a NIC does)
        note = "the traffic source splits frames by Fulcrum's key and a " + std::to_string(p.reta_size) + "-entry RETA";
    } else if (pp.steer != port_params::want::automatic) {
        p.steer = steering::redirect;
        note = pp.steer == port_params::want::redirect ? "rss off in the config" : "emulated needs a queue per worker";
    } else if (!no_rss && !(no_rss = program_reta(id, info, n_rx))) {
        p.steer = steering::rss;
        p.reta_size = info.reta_size;
        constexpr uint64_t rss_l4_v6 = RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;
        p.rss6 = (info.flow_type_rss_offloads & rss_l4_v6) == rss_l4_v6;
        note = "key and " + std::to_string(info.reta_size) + "-entry RETA programmed and read back";
        if (!p.rss6) note += "; no RSS over IPv6 TCP and UDP ports (IPv6 laddrs by redirect)";
    } else if (auto no_flow = n_rx < n_workers ? std::optional<std::string>("fewer rx queues than workers")
                                               : install_flow_rules(id, pp.laddrs, n_rx)) {
        p.steer = steering::redirect;
        note = "rss: " + *no_rss + "; flow: " + *no_flow;
    } else {
        p.steer = steering::flow;
        note = "rss: " + *no_rss + "; rte_flow rules per local address";
    }
    if (pp.steer_note) *pp.steer_note = note;
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
