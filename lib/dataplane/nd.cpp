// Neighbour Discovery (RFC 4861) for the neighbours component: solicitations for local
// IPv6 addresses (port address, VIPs, laddrs) answered, advertisements learned from under
// ARP's rule (only an entry this worker created is updated: an unsolicited advertisement
// creates nothing), next hops resolved and re-confirmed by solicitations. Addresses are
// configured, never auto-configured: no duplicate address detection of Fulcrum's own, and
// router advertisements are the kernel's business (routes come from the configuration).
#include "dataplane/neighbours.h"

#include "dataplane/headers.h"

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t nd_solicit = 135, nd_advert = 136;
constexpr uint8_t opt_source_lla = 1, opt_target_lla = 2;
constexpr uint32_t nd_len = 24; // type, code, checksum, flags/reserved, target
constexpr uint32_t na_solicited = 0x40000000u, na_override = 0x20000000u;

// The link-layer address option of `type` among an ND message's options, or nullptr;
// false when an option is malformed (length 0 or past the end: RFC 4861 7.1.1).
bool find_lla(const uint8_t *opt, uint32_t n, uint8_t type, const uint8_t *&lla) {
    lla = nullptr;
    while (n > 0) {
        if (n < 2 || opt[1] == 0 || opt[1] * 8u > n) return false;
        if (opt[0] == type && opt[1] == 1) lla = opt + 2;
        n -= opt[1] * 8u;
        opt += opt[1] * 8u;
    }
    return true;
}

void icmp6_checksum(rte_ipv6_hdr *ip, uint8_t *icmp) {
    icmp[2] = icmp[3] = 0;
    uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);
    std::memcpy(icmp + 2, &ck, 2);
}

} // namespace

bool neighbours::on_nd(rte_mbuf *m, uint8_t in_port, const snapshot &s, uint32_t icmp_off, uint32_t len) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, icmp_off);
    const uint8_t *target = icmp + 8;
    // RFC 4861 7.1.1 and 7.1.2: from a neighbour (hop limit 255), code 0, 24 bytes at
    // least, a unicast target, well-formed options.
    const uint8_t *lla;
    bool ok = ip->hop_limits == 255 && icmp[1] == 0 && len >= nd_len && !multicast6(target) &&
              icmp_off == l3_off + sizeof(rte_ipv6_hdr) &&
              find_lla(icmp + nd_len, len - nd_len, icmp[0] == nd_solicit ? opt_source_lla : opt_target_lla, lla);
    if (!ok) return drop_pkt(_drops, m, drop::nd_ignored), false;
    const port_rt &port = s.ports[in_port];
    rte_ether_addr mac;
    if (lla) std::memcpy(mac.addr_bytes, lla, 6);

    if (icmp[0] == nd_advert) {
        uint32_t flags;
        std::memcpy(&flags, icmp + 4, 4);
        if (multicast6(ip->dst_addr) && (rte_be_to_cpu_32(flags) & na_solicited))
            return drop_pkt(_drops, m, drop::nd_ignored), false;
        net::ip_addr t = net::ip_addr::from_v6(target);
        if (lla) {
            learn(t, mac, true);
        } else if (neigh_entry *e = _table->find(t); e && (e->resolved || e->probing)) {
            // No link-layer address (Linux's answer to a unicast solicitation): it
            // confirms the one known (RFC 4861 7.2.5).
            learn(t, e->mac, true);
        }
        return true; // the kernel resolves its own neighbours (health probes, BGP) too
    }

    // A solicitation. From the unspecified address (another node's duplicate address
    // detection) it must go to a solicited-node group and carry no link-layer address.
    bool dad = unspecified6(ip->src_addr);
    if (dad && (lla || !multicast6(ip->dst_addr))) return drop_pkt(_drops, m, drop::nd_ignored), false;
    const local_entry *local = s.find_local6(target);
    if (!dad && lla && port.on_link6(ip->src_addr)) {
        net::ip_addr from = net::ip_addr::from_v6(ip->src_addr);
        if (_table->find(from)) learn(from, mac, true); // an entry it has only (as for ARP)
    }
    if (!local) return true; // not Fulcrum's address: perhaps the host's (link-local)

    // The advertisement, in place: to the soliciting node (all nodes for a DAD probe:
    // the address is in use), solicited and override unless DAD, with our MAC.
    static const uint8_t all_nodes[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t dst[16], tgt[16];
    std::memcpy(dst, dad ? all_nodes : ip->src_addr, 16);
    std::memcpy(tgt, target, 16);
    constexpr uint32_t na_len = nd_len + 8;
    if (m->pkt_len < icmp_off + na_len && !rte_pktmbuf_append(m, static_cast<uint16_t>(icmp_off + na_len - m->pkt_len)))
        return drop_pkt(_drops, m, drop::nd_ignored), false;
    if (m->pkt_len > icmp_off + na_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - icmp_off - na_len));
    eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr *, l3_off);
    icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, icmp_off);
    if (dad) {
        eth->dst_addr = rte_ether_addr{{0x33, 0x33, 0, 0, 0, 1}};
    } else {
        eth->dst_addr = eth->src_addr;
    }
    eth->src_addr = port.mac;
    ipv6_header(ip, 0, static_cast<uint16_t>(na_len), IPPROTO_ICMPV6, 255, tgt, dst);
    icmp[0] = nd_advert;
    icmp[1] = 0;
    uint32_t flags = rte_cpu_to_be_32(dad ? na_override : na_solicited | na_override);
    std::memcpy(icmp + 4, &flags, 4);
    std::memcpy(icmp + 8, tgt, 16);
    icmp[24] = opt_target_lla;
    icmp[25] = 1;
    std::memcpy(icmp + 26, port.mac.addr_bytes, 6);
    icmp6_checksum(ip, icmp);
    m->ol_flags = 0;
    _counters.nd_advertisements++;
    _tx.enqueue(in_port, m);
    return false;
}

// A solicitation from the port's IPv6 address with our link-layer address: to the
// target's solicited-node group (ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX), or to the
// neighbour itself when re-confirming it.
void neighbours::send_ns(const port_rt &port, uint8_t out_port, const net::ip_addr &target,
                         const rte_ether_addr *unicast) {
    if (port.ip6.none()) return;
    rte_mbuf *m = rte_pktmbuf_alloc(_pool);
    if (!m) return;
    constexpr uint32_t ns_len = nd_len + 8;
    auto *eth = reinterpret_cast<rte_ether_hdr *>(
        rte_pktmbuf_append(m, static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + ns_len)));
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    auto *icmp = reinterpret_cast<uint8_t *>(ip + 1);
    uint8_t dst[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target.b[13], target.b[14], target.b[15]};
    if (unicast) {
        eth->dst_addr = *unicast;
        std::memcpy(dst, target.b.data(), 16);
    } else {
        eth->dst_addr = rte_ether_addr{{0x33, 0x33, 0xff, target.b[13], target.b[14], target.b[15]}};
    }
    eth->src_addr = port.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    ipv6_header(ip, 0, static_cast<uint16_t>(ns_len), IPPROTO_ICMPV6, 255, port.ip6.b.data(), dst);
    std::memset(icmp, 0, ns_len);
    icmp[0] = nd_solicit;
    std::memcpy(icmp + 8, target.b.data(), 16);
    icmp[24] = opt_source_lla;
    icmp[25] = 1;
    std::memcpy(icmp + 26, port.mac.addr_bytes, 6);
    icmp6_checksum(ip, icmp);
    _counters.nd_solicitations++;
    _tx.enqueue(out_port, m);
}

} // namespace fulcrum::dataplane
