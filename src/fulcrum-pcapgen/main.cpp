// fulcrum-pcapgen: writes client->VIP traffic as a pcap for benchmarks and replay
// (net_pcap infinite_rx, tcpreplay, Pktgen-DPDK, TRex).
//
// One packet per flow, flows in order, so a replay loop touches every flow once per
// pass: with N flows that is N concurrent connections in the load balancer.
#include <boost/program_options.hpp>

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace {

uint16_t csum(const uint8_t *p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = v & 0xff; }
void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v & 0xffff); }

bool parse_mac(const std::string &s, uint8_t *mac) {
    unsigned b[6];
    if (sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return false;
    for (int i = 0; i < 6; i++) mac[i] = static_cast<uint8_t>(b[i]);
    return true;
}

} // namespace

int main(int argc, char **argv) {
    std::string out, proto, vip_s, client_s, dst_mac_s, src_mac_s;
    uint32_t flows, size;
    uint16_t vport;
    po::options_description desc("fulcrum-pcapgen [options]");
    desc.add_options()("help,h", "print this help")
        ("out,o", po::value(&out)->required(), "pcap file to write")
        ("flows", po::value(&flows)->default_value(1000), "number of distinct client flows (= packets)")
        ("size", po::value(&size)->default_value(64), "frame size in bytes without FCS (>= 60)")
        ("proto", po::value(&proto)->default_value("udp"), "udp | tcp (TCP packets are SYNs)")
        ("vip", po::value(&vip_s)->default_value("10.0.0.10"), "destination VIP")
        ("vport", po::value(&vport)->default_value(80), "destination port")
        ("client-base", po::value(&client_s)->default_value("10.1.0.0"), "first client address; flows spread over addresses and ports")
        ("dst-mac", po::value(&dst_mac_s)->default_value("02:00:00:00:00:01"), "destination MAC (the load balancer's port)")
        ("src-mac", po::value(&src_mac_s)->default_value("02:00:00:00:00:02"), "source MAC");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
    } catch (const po::error &e) {
        std::cerr << "fulcrum-pcapgen: " << e.what() << "\n";
        return 2;
    }
    in_addr vip{}, cbase{};
    uint8_t dmac[6], smac[6];
    if (inet_pton(AF_INET, vip_s.c_str(), &vip) != 1 || inet_pton(AF_INET, client_s.c_str(), &cbase) != 1 ||
        !parse_mac(dst_mac_s, dmac) || !parse_mac(src_mac_s, smac) || size < 60 || size > 1514 ||
        (proto != "udp" && proto != "tcp")) {
        std::cerr << "fulcrum-pcapgen: bad address, MAC, size or protocol\n";
        return 2;
    }
    FILE *f = std::fopen(out.c_str(), "wb");
    if (!f) {
        std::perror(out.c_str());
        return 1;
    }
    const uint32_t ghdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    std::fwrite(ghdr, sizeof ghdr, 1, f);
    std::vector<uint8_t> pkt(size);
    bool tcp = proto == "tcp";
    uint32_t base = ntohl(cbase.s_addr);
    for (uint32_t i = 0; i < flows; i++) {
        std::fill(pkt.begin(), pkt.end(), 0);
        uint8_t *p = pkt.data();
        std::memcpy(p, dmac, 6);
        std::memcpy(p + 6, smac, 6);
        put16(p + 12, 0x0800);
        uint8_t *ip = p + 14;
        uint32_t l4_len = size - 34;
        ip[0] = 0x45;
        put16(ip + 2, static_cast<uint16_t>(20 + l4_len));
        ip[8] = 64;
        ip[9] = tcp ? 6 : 17;
        put32(ip + 12, base + i / 50000);
        std::memcpy(ip + 16, &vip.s_addr, 4);
        put16(ip + 10, csum(ip, 20));
        uint8_t *l4 = ip + 20;
        uint16_t sport = static_cast<uint16_t>(10000 + i % 50000);
        put16(l4, sport);
        put16(l4 + 2, vport);
        uint32_t pseudo = 0;
        for (int k = 12; k < 20; k += 2) pseudo += uint32_t(ip[k]) << 8 | ip[k + 1];
        pseudo += ip[9] + l4_len;
        if (tcp) {
            put32(l4 + 4, 1000 + i);
            l4[12] = 5 << 4;
            l4[13] = 0x02;
            put16(l4 + 14, 65535);
            put16(l4 + 16, csum(l4, l4_len, pseudo));
        } else {
            put16(l4 + 4, static_cast<uint16_t>(l4_len));
            uint16_t c = csum(l4, l4_len, pseudo);
            put16(l4 + 6, c == 0 ? 0xffff : c);
        }
        const uint32_t rec[4] = {i / 1000000, i % 1000000, size, size};
        std::fwrite(rec, sizeof rec, 1, f);
        std::fwrite(p, size, 1, f);
    }
    std::fclose(f);
    std::printf("fulcrum-pcapgen: wrote %u %s flows of %u B to %s\n", flows, proto.c_str(), size, out.c_str());
    return 0;
}
