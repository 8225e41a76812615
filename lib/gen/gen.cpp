#include "gen/gen.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace fulcrum::gen {

namespace {
constexpr uint32_t magic = 0xf1c0ffee;
struct stamp {
    uint32_t magic, flow;
    uint64_t tsc;
};
constexpr uint32_t l3 = sizeof(rte_ether_hdr), l4 = l3 + sizeof(rte_ipv4_hdr), payload = l4 + sizeof(rte_udp_hdr);
} // namespace

uint64_t counters::latency_percentile_ns(double p) const {
    uint64_t total = 0;
    for (uint64_t n : lat_log2) total += n;
    if (!total) return 0;
    uint64_t want = static_cast<uint64_t>(p / 100.0 * double(total)), seen = 0;
    for (unsigned b = 0; b < lat_log2.size(); b++) {
        seen += lat_log2[b];
        if (seen > want || seen == total) return uint64_t(2) << b; // the bucket's upper bound
    }
    return 0;
}

engine::engine(const settings &s, rte_mempool *pool, uint16_t client_port, uint16_t server_port)
    : _s(s), _pool(pool), _client(client_port), _server(server_port), _tsc_hz(rte_get_tsc_hz()) {
    if (_s.frame_size < payload + sizeof(stamp)) _s.frame_size = payload + sizeof(stamp);
}

uint16_t engine::send_burst(uint16_t n, uint64_t now_tsc) {
    rte_mbuf *pkts[64];
    if (n > 64) n = 64;
    if (rte_pktmbuf_alloc_bulk(_pool, pkts, n) != 0) return 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        uint32_t flow = _next_flow;
        _next_flow = _next_flow + 1 == _s.flows ? 0 : _next_flow + 1;
        auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, _s.frame_size));
        std::memset(eth, 0, _s.frame_size);
        eth->dst_addr = _s.dut_client_mac;
        eth->src_addr = _s.client_mac;
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
        ip->version_ihl = 0x45;
        ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(_s.frame_size - l3));
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_UDP;
        ip->src_addr = rte_cpu_to_be_32(_s.client_ip + flow / 60000);
        ip->dst_addr = rte_cpu_to_be_32(_s.vip);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
        udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + flow % 60000));
        udp->dst_port = rte_cpu_to_be_16(_s.vport);
        udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(_s.frame_size - l4));
        udp->dgram_cksum = 0; // optional in IPv4
        stamp st{magic, flow, now_tsc};
        std::memcpy(reinterpret_cast<uint8_t *>(eth) + payload, &st, sizeof st);
    }
    uint16_t sent = rte_eth_tx_burst(_client, 0, pkts, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
    _c.sent += sent;
    return sent;
}

void engine::poll(uint64_t now_tsc) {
    rte_mbuf *pkts[64];
    // Backends: turn every request around.
    uint16_t n = rte_eth_rx_burst(_server, 0, pkts, 64);
    uint16_t out = 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
        if (m->data_len < payload || eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
            _c.foreign++;
            rte_pktmbuf_free(m);
            continue;
        }
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
        auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
        rte_ether_addr peer = eth->src_addr;
        eth->dst_addr = peer;
        eth->src_addr = _s.server_mac;
        uint32_t a = ip->src_addr;
        ip->src_addr = ip->dst_addr;
        ip->dst_addr = a;
        uint16_t p = udp->src_port;
        udp->src_port = udp->dst_port;
        udp->dst_port = p;
        udp->dgram_cksum = 0;
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip); // TTL was lowered on the way
        pkts[out++] = m;
    }
    uint16_t sent = out ? rte_eth_tx_burst(_server, 0, pkts, out) : 0;
    for (uint16_t i = sent; i < out; i++) rte_pktmbuf_free(pkts[i]);
    _c.reflected += sent;

    // Clients: count the answers and their round trip.
    n = rte_eth_rx_burst(_client, 0, pkts, 64);
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        stamp st{};
        if (m->data_len >= payload + sizeof st) std::memcpy(&st, rte_pktmbuf_mtod_offset(m, uint8_t *, payload), sizeof st);
        if (st.magic != magic) {
            _c.foreign++;
        } else {
            _c.answered++;
            uint64_t ns = (now_tsc - st.tsc) * 1000000000ull / _tsc_hz;
            _c.lat_sum_ns += ns;
            _c.lat_log2[ns ? 63 - __builtin_clzll(ns) : 0]++;
        }
        rte_pktmbuf_free(m);
    }
}

std::string engine::summary(double seconds) const {
    char b[512];
    uint64_t lost = _c.sent > _c.answered ? _c.sent - _c.answered : 0;
    std::snprintf(b, sizeof b,
                  "sent %" PRIu64 " answered %" PRIu64 " lost %" PRIu64 " (%.4f%%) reflected %" PRIu64
                  " foreign %" PRIu64 "; %.3f Mpps offered, %.3f Mpps answered; round trip mean %.1f us, "
                  "p50 <= %.1f us, p99 <= %.1f us\n",
                  _c.sent, _c.answered, lost, _c.sent ? 100.0 * double(lost) / double(_c.sent) : 0.0, _c.reflected,
                  _c.foreign, double(_c.sent) / seconds / 1e6, double(_c.answered) / seconds / 1e6,
                  _c.answered ? double(_c.lat_sum_ns) / double(_c.answered) / 1000 : 0.0,
                  double(_c.latency_percentile_ns(50)) / 1000, double(_c.latency_percentile_ns(99)) / 1000);
    return b;
}

} // namespace fulcrum::gen
