// fulcrum-gen [EAL options] -- --client-port DEV --server-port DEV [--mode stream|rr|cps]
//             [--proto tcp|udp] [--flows N] [--size B] [--rate R] [--window N] [--duration S]
// fulcrum-gen -- --pcap FILE [--mode ...] [--proto ...] [--flows N] [--size B] [--pcap-frames N]
//
// Drives complete flows through a load balancer (see lib/gen/gen.h): emulated clients on
// the client port, emulated backends on the server port. Attach it to Fulcrum over memif
// (two processes) or to real NICs. With --pcap it writes the scenario's client frames to
// a capture instead (no EAL, no ports) for tcpreplay, Pktgen-DPDK or TRex.
//
// Prints a summary line and the same figures as one JSON line ("fulcrum-gen-json: {...}").
#include "gen/gen.h"
#include "net/toeplitz.h"

#include <boost/program_options.hpp>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

namespace po = boost::program_options;
using namespace fulcrum;

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
void mac(const std::string &s, uint8_t *out) {
    rte_ether_addr a;
    if (rte_ether_unformat_addr(s.c_str(), &a) != 0) throw po::error("not a MAC address: " + s);
    std::memcpy(out, a.addr_bytes, 6);
}

struct run_options {
    std::string client_dev, server_dev, pcap;
    double rate = 0, duration = 5, linger = 1, setup_timeout = 120;
    uint32_t window = 0, setup_window = 4096;
    uint64_t pcap_frames = 0;
    uint32_t rss_queues = 0;
    std::string replies_from, frames_from;
    bool hold = false;
};

// The sending loop: `rate` frames (cps: connections) per second, or as fast as the port
// takes them; with a window, at most that many under way. Returns the seconds it sent.
double run(gen::engine &e, const run_options &o) {
    uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), stop_send = t0 + uint64_t(o.duration * double(hz));
    uint64_t stop_all = stop_send + uint64_t(o.linger * double(hz)), stall_check = t0, last_progress = 0;
    double per_unit = o.rate > 0 ? double(hz) / o.rate : 0;
    double due = double(t0);
    for (uint64_t now = t0; !g_stop && now < stop_all; now = rte_rdtsc()) {
        if (now < stop_send && (per_unit == 0 || double(now) >= due)) {
            uint16_t want = 32;
            if (per_unit > 0) want = static_cast<uint16_t>(std::min<double>(32, 1 + (double(now) - due) / per_unit));
            if (o.window) {
                uint64_t open = e.in_flight();
                want = open >= o.window ? 0 : static_cast<uint16_t>(std::min<uint64_t>(want, o.window - open));
            }
            uint16_t sent = want ? e.send_burst(want, now) : 0;
            if (per_unit > 0) due += per_unit * sent;
        }
        if (now < stop_send) e.send_flood(32, now); // as fast as the port takes them
        e.poll(now);
        // A closed loop that lost frames would wait for them for ever: after 50 ms with
        // nothing answered and the window full, what is under way counts as lost.
        if (o.window && now - stall_check > hz / 20) {
            uint64_t progress = e.stats().delivered + e.stats().answered + e.stats().resets;
            if (progress == last_progress && e.in_flight() >= o.window) e.write_off();
            last_progress = progress;
            stall_check = now;
        }
    }
    return double(std::min(rte_rdtsc(), stop_send) - t0) / double(hz);
}
} // namespace

int main(int argc, char **argv) {
    // Application options follow "--"; without it, all are (pcap mode needs no EAL).
    int sep = 0;
    for (int i = 1; i < argc; i++)
        if (std::strcmp(argv[i], "--") == 0) sep = i;
    std::string flood = "none", flood_vip6;
    uint32_t flood_port = 0;
    std::string mode = "rr", proto = "udp", vip = "10.0.0.10", client_ip = "10.0.1.1", dut_mac = "ff:ff:ff:ff:ff:ff";
    uint32_t flows = 1000, size = 64, vport = 53;
    run_options o;
    po::options_description desc("fulcrum-gen [EAL options] -- options");
    desc.add_options()("help,h", "this help")
        ("client-port", po::value(&o.client_dev), "EAL device facing the load balancer's client side")
        ("server-port", po::value(&o.server_dev), "EAL device facing its server side (we answer as the backends)")
        ("mode", po::value(&mode)->default_value("rr"), "stream (one-way on open flows) | rr (request/response, "
                                                        "round trips timed) | cps (connections opened and closed)")
        ("proto", po::value(&proto)->default_value("udp"), "udp | tcp (cps: tcp)")
        ("flows", po::value(&flows)->default_value(1000), "concurrent flows (cps: distinct client tuples used in turn)")
        ("size", po::value(&size)->default_value(64), "data frame size in bytes without FCS")
        ("rate", po::value(&o.rate)->default_value(0), "frames (cps: connections) per second; 0: as fast as the port takes them")
        ("window", po::value(&o.window)->default_value(0), "closed loop: at most N frames (cps: connections) under way; 0: open loop")
        ("duration", po::value(&o.duration)->default_value(5), "seconds of sending, after setup")
        ("linger", po::value(&o.linger)->default_value(1), "seconds to keep answering and counting after sending stops")
        ("setup-window", po::value(&o.setup_window)->default_value(4096), "flows opening at a time during setup")
        ("setup-timeout", po::value(&o.setup_timeout)->default_value(120), "seconds allowed to open every flow")
        ("hold", po::bool_switch(&o.hold), "after the summary, stop touching the ports and wait for SIGINT/SIGTERM "
                                           "(stop the memif peer first: a peer must not vanish while the other polls)")
        ("vip", po::value(&vip)->default_value("10.0.0.10"), "VIP")
        ("vport", po::value(&vport)->default_value(53), "listener port")
        ("client-ip", po::value(&client_ip)->default_value("10.0.1.1"), "first client address (60,000 flows per address)")
        ("dut-mac", po::value(&dut_mac)->default_value("ff:ff:ff:ff:ff:ff"), "destination MAC of client frames (the DUT's port)")
        ("flood", po::value(&flood)->default_value("none"), "with stream: also spoofed syn | udp frames as fast as the "
                                                            "port takes them (sources in 172.16.0.0/12); syn6 | udp6: "
                                                            "IPv6 ones to --flood-vip6 (sources in 2001:db8:99::/64)")
        ("flood-vip6", po::value(&flood_vip6)->default_value("2001:db8::10"), "the IPv6 flood's VIP")
        ("flood-port", po::value(&flood_port)->default_value(0), "the flood's destination port (0: --vport)")
        ("pcap", po::value(&o.pcap), "write the scenario's client frames to this pcap file instead of sending them")
        ("pcap-frames", po::value(&o.pcap_frames)->default_value(0), "data frames after setup in the pcap (cps: connections)")
        ("rss-queues", po::value(&o.rss_queues)->default_value(0),
         "with --pcap: split the frames into FILE.q0 .. FILE.q<N-1> by the rx queue a NIC with Fulcrum's RSS key and a "
         "128-entry RETA would choose (emulated RSS)")
        ("frames-from", po::value(&o.frames_from),
         "with --pcap and --rss-queues: the client frames are this capture's (e.g. IPv6 flows written elsewhere) "
         "instead of the scenario's")
        ("replies-from", po::value(&o.replies_from),
         "with --pcap: after the scenario's frames, each backend's reply (addresses, ports and MACs swapped) to every "
         "frame of these captures of what Fulcrum sent (comma-separated pcap files)");
    po::variables_map vm;
    gen::settings s;
    try {
        po::store(po::parse_command_line(argc - sep, argv + sep, desc), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
        if (mode != "stream" && mode != "rr" && mode != "cps") throw po::error("--mode: stream, rr or cps");
        if (proto != "tcp" && proto != "udp") throw po::error("--proto: tcp or udp");
        if (mode == "cps" && proto != "tcp") throw po::error("--mode cps: TCP only (--proto tcp)");
        if (size > 1514) throw po::error("--size: at most 1514");
        s.mode = mode == "stream" ? gen::scenario::stream : mode == "rr" ? gen::scenario::rr : gen::scenario::cps;
        s.frame.proto = proto == "tcp" ? gen::l4::tcp : gen::l4::udp;
        if (flood != "none" && flood != "syn" && flood != "udp" && flood != "syn6" && flood != "udp6")
            throw po::error("--flood: none, syn, udp, syn6 or udp6");
        if (flood != "none" && mode != "stream") throw po::error("--flood: with --mode stream only");
        if ((flood == "udp" || flood == "udp6") && proto != "tcp") throw po::error("--flood udp: the flows must be TCP (--proto tcp)");
        s.flood_v6 = flood == "syn6" || flood == "udp6";
        if (s.flood_v6 && inet_pton(AF_INET6, flood_vip6.c_str(), s.flood_vip6.data()) != 1)
            throw po::error("--flood-vip6: an IPv6 address");
        if (s.flood_v6) flood.pop_back();
        s.flood = flood == "syn" ? gen::flood_kind::syn : flood == "udp" ? gen::flood_kind::udp : gen::flood_kind::none;
        s.flood_port = static_cast<uint16_t>(flood_port ? flood_port : vport);
        s.frame.vip = ipv4(vip);
        s.frame.vport = static_cast<uint16_t>(vport);
        s.frame.clients.client_ip = ipv4(client_ip);
        mac(dut_mac, s.frame.dst_mac);
        s.flows = flows ? flows : 1;
        s.frame_size = static_cast<uint16_t>(std::max<uint32_t>(size, gen::min_frame));
        if (o.pcap.empty() && (o.client_dev.empty() || o.server_dev.empty()))
            throw po::error("--client-port and --server-port are required (or --pcap)");
    } catch (const po::error &e) {
        std::fprintf(stderr, "fulcrum-gen: %s\n", e.what());
        return 2;
    }
    if (!o.pcap.empty() && (o.rss_queues > 0 || !o.replies_from.empty())) {
        // The scenario (or --frames-from) through a scratch file, then the replies, then the split.
        std::string scratch = o.pcap + ".scenario";
        if (o.frames_from.empty()) {
            gen::pcap_file f(scratch.c_str());
            if (!f.ok()) return std::perror(scratch.c_str()), 1;
            gen::engine::write_pcap(s, f, o.pcap_frames);
        }
        auto frames = gen::read_pcap(o.frames_from.empty() ? scratch.c_str() : o.frames_from.c_str());
        if (o.frames_from.empty()) std::remove(scratch.c_str());
        size_t scenario = frames.size();
        for (size_t at = 0; !o.replies_from.empty() && at != std::string::npos;) {
            size_t comma = o.replies_from.find(',', at);
            std::string path = o.replies_from.substr(at, comma == std::string::npos ? comma : comma - at);
            at = comma == std::string::npos ? comma : comma + 1;
            for (auto &f : gen::read_pcap(path.c_str())) {
                if (gen::turn_around6(f)) { // an IPv6 datagram: addresses and ports swapped
                    frames.push_back(std::move(f));
                    continue;
                }
                if (f.size() < gen::eth_len + gen::ip_len + gen::udp_len) continue;
                uint8_t backend_mac[6];
                std::memcpy(backend_mac, f.data(), 6);
                f.resize(std::max<size_t>(f.size(), 128));
                f.resize(gen::turn_around(f.data(), backend_mac, gen::ack, 0, 0, 0));
                frames.push_back(std::move(f));
            }
        }
        uint32_t queues = std::max<uint32_t>(o.rss_queues, 1);
        std::vector<std::unique_ptr<gen::pcap_file>> out;
        for (uint32_t q = 0; q < queues; q++) {
            std::string path = o.rss_queues ? o.pcap + ".q" + std::to_string(q) : o.pcap;
            out.push_back(std::make_unique<gen::pcap_file>(path.c_str()));
            if (!out.back()->ok()) return std::perror(path.c_str()), 1;
        }
        for (const auto &f : frames)
            out[net::rss_queue_of_frame(f.data(), f.size(), net::emulated_reta_size, queues)]->write(
                f.data(), static_cast<uint32_t>(f.size()));
        std::printf("fulcrum-gen: wrote %zu scenario frames and %zu replies to %u file(s) %s%s\n", scenario,
                    frames.size() - scenario, queues, o.pcap.c_str(), o.rss_queues ? ".q*" : "");
        return 0;
    }
    if (!o.pcap.empty()) {
        gen::pcap_file f(o.pcap.c_str());
        if (!f.ok()) {
            std::perror(o.pcap.c_str());
            return 1;
        }
        gen::engine::write_pcap(s, f, o.pcap_frames);
        std::printf("fulcrum-gen: wrote %" PRIu64 " frames (%s %s, %u flows) to %s\n", f.frames(), mode.c_str(),
                    proto.c_str(), s.flows, o.pcap.c_str());
        return 0;
    }

    if (rte_eal_init(sep ? sep + 1 : 1, argv) < 0) {
        std::fprintf(stderr, "fulcrum-gen: EAL initialisation failed\n");
        return 1;
    }
    rte_mempool *pool = rte_pktmbuf_pool_create("gen_mbufs", 65535, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    uint16_t client = 0, server = 0;
    if (!pool || !start_port(o.client_dev, pool, client) || !start_port(o.server_dev, pool, server)) return 1;
    rte_ether_addr a;
    rte_eth_macaddr_get(client, &a);
    std::memcpy(s.frame.src_mac, a.addr_bytes, 6);
    rte_eth_macaddr_get(server, &a);
    std::memcpy(s.server_mac, a.addr_bytes, 6);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    // memif and real NICs bring links up asynchronously: start once both are up (10 s at most).
    bool up = false;
    for (int i = 0; i < 200 && !up && !g_stop; i++) {
        rte_eth_link la{}, lb{};
        rte_eth_link_get_nowait(client, &la);
        rte_eth_link_get_nowait(server, &lb);
        up = la.link_status && lb.link_status;
        if (!up) rte_delay_ms(50);
    }
    if (!up) {
        std::printf("fulcrum-gen: error: links of %s and %s not up after 10 s (is the peer there?)\n",
                    o.client_dev.c_str(), o.server_dev.c_str());
        for (uint16_t p : {client, server}) rte_eth_dev_stop(p);
        return 1;
    }
    gen::engine e(s, pool, client, server);
    uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), give_up = t0 + uint64_t(o.setup_timeout * double(hz));
    uint64_t now = t0;
    bool ready = false;
    while (!g_stop && !(ready = e.setup_step(o.setup_window, now)) && now < give_up) {
        e.poll(now);
        now = rte_rdtsc();
    }
    int status = 0;
    if (!ready) {
        std::printf("fulcrum-gen: setup did not finish: %" PRIu64 " of %u flows open after %.1f s\n",
                    e.flows_open(), s.flows, double(now - t0) / double(hz));
        status = 1;
    } else {
        if (s.mode != gen::scenario::cps)
            std::printf("fulcrum-gen: %u flows open in %.3f s\n", s.flows, double(rte_rdtsc() - t0) / double(hz));
        e.reset_counters();
        double seconds = run(e, o);
        std::printf("fulcrum-gen: %s\nfulcrum-gen-json: %s\n", e.summary(seconds).c_str(), e.json(seconds).c_str());
    }
    std::fflush(stdout);
    while (o.hold && !g_stop) rte_delay_ms(50);
    for (uint16_t p : {client, server}) rte_eth_dev_stop(p);
    return status;
}
