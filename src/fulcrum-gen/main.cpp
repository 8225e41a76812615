// fulcrum-gen [EAL options] -- --client-port DEV --server-port DEV [--flows N] [--size B]
//             [--rate PPS] [--duration S] [--vip IP] [--vport P] [--client-ip IP]
//
// Drives complete UDP request/response flows through a load balancer: requests leave the
// client port toward the VIP, the server port answers as the backends, and the answers are
// counted and timed back on the client port (see lib/gen/gen.h). Attach it to Fulcrum
// over memif (two processes), or to real NICs. Prints a summary with loss and latency.
#include "gen/gen.h"

#include <boost/program_options.hpp>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <arpa/inet.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace po = boost::program_options;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

bool start_port(const std::string &dev, rte_mempool *pool, uint16_t &id) {
    if (rte_eth_dev_get_port_by_name(dev.c_str(), &id) != 0) {
        std::fprintf(stderr, "fulcrum-gen: field '--client-port/--server-port': no DPDK port named '%s'\n", dev.c_str());
        return false;
    }
    rte_eth_conf conf{};
    return rte_eth_dev_configure(id, 1, 1, &conf) == 0 &&
           rte_eth_rx_queue_setup(id, 0, 1024, rte_eth_dev_socket_id(id), nullptr, pool) == 0 &&
           rte_eth_tx_queue_setup(id, 0, 1024, rte_eth_dev_socket_id(id), nullptr) == 0 && rte_eth_dev_start(id) == 0;
}
uint32_t ipv4(const std::string &s) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) throw po::error("not an IPv4 address: " + s);
    return ntohl(a.s_addr);
}
} // namespace

int main(int argc, char **argv) {
    int n = rte_eal_init(argc, argv);
    if (n < 0) {
        std::fprintf(stderr, "fulcrum-gen: EAL initialisation failed\n");
        return 1;
    }
    argc -= n, argv += n;
    std::string client_dev, server_dev, vip = "10.0.0.10", client_ip = "10.0.1.1";
    uint32_t flows = 1000, size = 64, vport = 53;
    double rate = 0, duration = 5, linger = 1;
    uint32_t window = 0;
    bool hold = false;
    po::options_description desc("fulcrum-gen [EAL options] -- options");
    desc.add_options()("help,h", "this help")
        ("client-port", po::value(&client_dev)->required(), "EAL device facing the load balancer's client side")
        ("server-port", po::value(&server_dev)->required(), "EAL device facing its server side (we answer as the backends)")
        ("flows", po::value(&flows)->default_value(1000), "concurrent client flows")
        ("size", po::value(&size)->default_value(64), "frame size in bytes (>= 64)")
        ("rate", po::value(&rate)->default_value(0), "requests per second (0: as fast as the port takes them)")
        ("window", po::value(&window)->default_value(0), "keep at most N requests unanswered (closed loop: the "
                                                         "highest rate the path sustains without overload; 0: open loop)")
        ("duration", po::value(&duration)->default_value(5), "seconds of sending")
        ("hold", po::bool_switch(&hold), "after the summary, stop touching the ports and wait for SIGINT/SIGTERM "
                                         "(stop the memif peer first: a peer must not vanish while the other polls)")
        ("linger", po::value(&linger)->default_value(1), "seconds to keep answering and counting after sending stops")
        ("vip", po::value(&vip)->default_value("10.0.0.10"), "VIP (UDP listener)")
        ("vport", po::value(&vport)->default_value(53), "listener port")
        ("client-ip", po::value(&client_ip)->default_value("10.0.1.1"), "first client address (60,000 flows per address)");
    po::variables_map vm;
    fulcrum::gen::settings s;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
        s.vip = ipv4(vip);
        s.client_ip = ipv4(client_ip);
    } catch (const po::error &e) {
        std::fprintf(stderr, "fulcrum-gen: %s\n", e.what());
        return 2;
    }
    s.flows = flows ? flows : 1;
    s.frame_size = static_cast<uint16_t>(size < 64 ? 64 : size);
    s.vport = static_cast<uint16_t>(vport);
    rte_mempool *pool = rte_pktmbuf_pool_create("gen_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    uint16_t client = 0, server = 0;
    if (!pool || !start_port(client_dev, pool, client) || !start_port(server_dev, pool, server)) return 1;
    rte_eth_macaddr_get(client, &s.client_mac);
    rte_eth_macaddr_get(server, &s.server_mac);
    std::memset(s.dut_client_mac.addr_bytes, 0xff, 6); // broadcast: the DUT takes it whatever its MAC
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    fulcrum::gen::engine e(s, pool, client, server);
    uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), stop_send = t0 + uint64_t(duration * double(hz));
    uint64_t stop_all = stop_send + uint64_t(linger * double(hz));
    double per_pkt = rate > 0 ? double(hz) / rate : 0;
    uint64_t due = t0;
    for (uint64_t now = t0; !g_stop && now < stop_all; now = rte_rdtsc()) {
        if (now < stop_send && (per_pkt == 0 || now >= due)) {
            uint16_t want = 32;
            if (per_pkt > 0) want = static_cast<uint16_t>(std::min<double>(32, 1 + double(now - due) / per_pkt));
            if (window) {
                uint64_t in_flight = e.stats().sent - e.stats().answered;
                want = in_flight >= window ? 0 : static_cast<uint16_t>(std::min<uint64_t>(want, window - in_flight));
            }
            uint16_t sent = want ? e.send_burst(want, now) : 0;
            due += static_cast<uint64_t>(per_pkt * sent);
        }
        e.poll(now);
    }
    std::printf("fulcrum-gen: %u flows, %u B: %s", s.flows, s.frame_size,
                e.summary(double(std::min(rte_rdtsc(), stop_send) - t0) / double(hz)).c_str());
    std::fflush(stdout);
    while (hold && !g_stop) rte_delay_ms(50);
    for (uint16_t p : {client, server}) rte_eth_dev_stop(p);
    return 0;
}
