#include "frames.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace fulcrum::test {

namespace {
void put32(bytes &b, size_t at, uint32_t v) { set16(b, at, uint16_t(v >> 16)), set16(b, at + 2, uint16_t(v)); }
uint32_t sum16(const uint8_t *p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) s += uint32_t(p[n - 1]) << 8;
    return s;
}
uint16_t finish(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}
uint32_t pseudo(const bytes &f, uint8_t proto, size_t l4_len) {
    return sum16(&f[off::ip_src], 8) + proto + uint32_t(l4_len);
}
uint32_t pseudo6(const bytes &f, uint8_t proto, size_t l4_len) {
    return sum16(&f[off6::src], 32) + proto + uint32_t(l4_len);
}
void copy_in(bytes &f, size_t at, const uint8_t *p, size_t n) { std::copy(p, p + n, f.begin() + long(at)); }

// The TCP or UDP header at `l4` (payload already in place), its checksum over the
// pseudo-header's sum `pseudo_sum` (either family).
void fill_l4(bytes &f, size_t l4, const frame_spec &s, size_t l4_hdr, uint32_t pseudo_sum) {
    size_t l4_len = l4_hdr + s.payload.size();
    set16(f, l4, s.sport);
    set16(f, l4 + 2, s.dport);
    if (s.proto == 6) {
        put32(f, l4 + 4, s.seq);
        put32(f, l4 + 8, s.ack);
        f[l4 + 12] = uint8_t((l4_hdr / 4) << 4);
        f[l4 + 13] = s.tcp_flags;
        set16(f, l4 + 14, s.window);
        std::copy(s.tcp_options.begin(), s.tcp_options.end(), f.begin() + long(l4 + 20));
        set16(f, l4 + 16, finish(sum16(&f[l4], l4_len, pseudo_sum)));
        return;
    }
    set16(f, l4 + 4, uint16_t(l4_len));
    if (s.udp_zero_checksum) return;
    uint16_t c = finish(sum16(&f[l4], l4_len, pseudo_sum));
    set16(f, l4 + 6, c == 0 ? 0xffff : c);
}

// The IPv6 form of build_frame (the extension headers between the header and L4).
bytes build_frame6(const frame_spec &s) {
    size_t ext_len = 0;
    for (const auto &e : s.ext) ext_len += (e.second.size() + 2 + 7) / 8 * 8;
    size_t l4_hdr = s.proto == 6 ? 20 + s.tcp_options.size() : 8;
    size_t l4_len = l4_hdr + s.payload.size();
    bytes f(54 + ext_len + l4_len, 0);
    std::copy(s.dst_mac.begin(), s.dst_mac.end(), f.begin());
    std::copy(s.src_mac.begin(), s.src_mac.end(), f.begin() + 6);
    set16(f, 12, 0x86dd);
    put32(f, 14, 6u << 28 | uint32_t(s.tos) << 20);
    set16(f, off6::plen, uint16_t(ext_len + l4_len));
    f[off6::next] = s.ext.empty() ? s.proto : s.ext[0].first;
    f[off6::hops] = s.ttl;
    copy_in(f, off6::src, s.src6.data(), 16);
    copy_in(f, off6::dst, s.dst6.data(), 16);
    size_t at = 54;
    for (size_t i = 0; i < s.ext.size(); i++) {
        size_t len = (s.ext[i].second.size() + 2 + 7) / 8 * 8;
        f[at] = i + 1 < s.ext.size() ? s.ext[i + 1].first : s.proto;
        f[at + 1] = uint8_t(len / 8 - 1);
        copy_in(f, at + 2, s.ext[i].second.data(), s.ext[i].second.size());
        at += len;
    }
    // The pseudo-header names the upper layer and its length, not the extension headers.
    size_t l4 = at;
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + long(l4 + l4_hdr));
    if (s.proto == 6 || s.proto == 17) fill_l4(f, l4, s, l4_hdr, pseudo6(f, s.proto, l4_len));
    if (s.proto == 58) {
        f[l4] = s.icmp_type;
        f[l4 + 1] = s.icmp_code;
        set16(f, l4 + 4, s.icmp_id);
        set16(f, l4 + 6, s.icmp_seq);
        set16(f, l4 + 2, finish(sum16(&f[l4], l4_len, pseudo6(f, 58, l4_len))));
    }
    return f;
}
} // namespace

bytes build_icmp_error(const mac_t &dst_mac, const mac_t &src_mac, uint32_t src, uint32_t dst, uint8_t ttl,
                       uint8_t type, uint8_t code, uint16_t mtu, const bytes &quoted, size_t quote_len) {
    quote_len = std::min(quote_len, quoted.size());
    bytes f(14 + 20 + 8 + quote_len, 0);
    std::copy(dst_mac.begin(), dst_mac.end(), f.begin());
    std::copy(src_mac.begin(), src_mac.end(), f.begin() + 6);
    set16(f, 12, 0x0800);
    f[off::ip_vhl] = 0x45;
    set16(f, 16, uint16_t(20 + 8 + quote_len));
    f[off::ip_ttl] = ttl;
    f[off::ip_proto] = 1;
    put32(f, 26, src);
    put32(f, 30, dst);
    set16(f, off::ip_csum, finish(sum16(&f[off::ip_vhl], 20)));
    f[off::icmp_type] = type, f[off::icmp_code] = code;
    set16(f, 40, mtu);
    std::copy(quoted.begin(), quoted.begin() + long(quote_len), f.begin() + 42);
    set16(f, off::icmp_csum, finish(sum16(&f[off::l4], 8 + quote_len)));
    return f;
}

addr6 ip6(const char *text) {
    addr6 a{};
    inet_pton(AF_INET6, text, a.data());
    return a;
}

addr6 solicited_node(const addr6 &t) { return {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]}; }
mac_t multicast_mac(const addr6 &g) { return {0x33, 0x33, g[12], g[13], g[14], g[15]}; }

namespace {
bytes build_nd(uint8_t type, const mac_t &eth_dst, const mac_t &eth_src, const addr6 &src, const addr6 &dst,
               const addr6 &target, uint8_t flags, const mac_t *lla, uint8_t hops) {
    frame_spec s;
    s.v6 = true, s.proto = 58, s.icmp_type = type, s.ttl = hops;
    s.dst_mac = eth_dst, s.src_mac = eth_src, s.src6 = src, s.dst6 = dst;
    s.icmp_id = uint16_t(flags << 8), s.icmp_seq = 0;
    s.payload.assign(target.begin(), target.end());
    if (lla) {
        s.payload += char(type == 135 ? 1 : 2);
        s.payload += char(1);
        s.payload.append(lla->begin(), lla->end());
    }
    return build_frame(s);
}
} // namespace

bytes build_ns(const mac_t &eth_dst, const mac_t &eth_src, const addr6 &src, const addr6 &dst, const addr6 &target,
               const mac_t *lla, uint8_t hops) {
    return build_nd(135, eth_dst, eth_src, src, dst, target, 0, lla, hops);
}
bytes build_na(const mac_t &eth_dst, const mac_t &eth_src, const addr6 &src, const addr6 &dst, const addr6 &target,
               uint8_t flags, const mac_t *lla, uint8_t hops) {
    return build_nd(136, eth_dst, eth_src, src, dst, target, flags, lla, hops);
}

bytes build_icmp6_error(const mac_t &dst_mac, const mac_t &src_mac, const addr6 &src, const addr6 &dst, uint8_t hops,
                        uint8_t type, uint8_t code, uint32_t word, const bytes &quoted, size_t quote_len) {
    quote_len = std::min(quote_len, quoted.size());
    bytes f(54 + 8 + quote_len, 0);
    std::copy(dst_mac.begin(), dst_mac.end(), f.begin());
    std::copy(src_mac.begin(), src_mac.end(), f.begin() + 6);
    set16(f, 12, 0x86dd);
    put32(f, 14, 6u << 28);
    set16(f, off6::plen, uint16_t(8 + quote_len));
    f[off6::next] = 58;
    f[off6::hops] = hops;
    copy_in(f, off6::src, src.data(), 16);
    copy_in(f, off6::dst, dst.data(), 16);
    f[off6::icmp_type] = type, f[off6::icmp_code] = code;
    put32(f, off6::icmp_word, word);
    std::copy(quoted.begin(), quoted.begin() + long(quote_len), f.begin() + 62);
    set16(f, off6::icmp_csum, finish(sum16(&f[off6::l4], 8 + quote_len, pseudo6(f, 58, 8 + quote_len))));
    return f;
}

uint32_t ip(const char *dotted) {
    in_addr a{};
    inet_pton(AF_INET, dotted, &a);
    return ntohl(a.s_addr);
}

bytes build_frame(const frame_spec &s) {
    if (s.v6) return build_frame6(s);
    size_t l4_hdr = s.proto == 6 ? 20 + s.tcp_options.size() : 8;
    size_t l4_len = l4_hdr + s.payload.size();
    bytes f(14 + 20 + l4_len, 0);
    std::copy(s.dst_mac.begin(), s.dst_mac.end(), f.begin());
    std::copy(s.src_mac.begin(), s.src_mac.end(), f.begin() + 6);
    set16(f, 12, 0x0800);
    f[off::ip_vhl] = 0x45;
    set16(f, 16, uint16_t(20 + l4_len));
    set16(f, 18, s.ip_id);
    set16(f, 20, s.df ? 0x4000 : 0);
    f[off::ip + 1] = s.tos;
    f[off::ip_ttl] = s.ttl;
    f[off::ip_proto] = s.proto;
    put32(f, 26, s.src);
    put32(f, 30, s.dst);
    set16(f, off::ip_csum, finish(sum16(&f[off::ip_vhl], 20)));
    size_t l4 = 34;
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + long(l4 + l4_hdr));
    if (s.proto == 6 || s.proto == 17) {
        fill_l4(f, l4, s, l4_hdr, pseudo(f, s.proto, l4_len));
    } else if (s.proto == 1) {
        f.resize(34 + 8 + s.payload.size());
        set16(f, 16, uint16_t(20 + 8 + s.payload.size()));
        set16(f, off::ip_csum, 0);
        set16(f, off::ip_csum, finish(sum16(&f[off::ip_vhl], 20)));
        f[l4] = s.icmp_type;
        f[l4 + 1] = 0;
        set16(f, l4 + 4, s.icmp_id);
        set16(f, l4 + 6, s.icmp_seq);
        std::copy(s.payload.begin(), s.payload.end(), f.begin() + long(l4 + 8));
        set16(f, l4 + 2, finish(sum16(&f[l4], 8 + s.payload.size())));
    }
    return f;
}

bytes build_arp(uint16_t op, const mac_t &eth_dst, const mac_t &sha, uint32_t sip, const mac_t &tha, uint32_t tip) {
    bytes f(42, 0);
    std::copy(eth_dst.begin(), eth_dst.end(), f.begin());
    std::copy(sha.begin(), sha.end(), f.begin() + 6);
    set16(f, 12, 0x0806);
    set16(f, 14, 1);
    set16(f, 16, 0x0800);
    f[18] = 6; // ARP: hardware and protocol address lengths
    f[19] = 4;
    set16(f, 20, op);
    std::copy(sha.begin(), sha.end(), f.begin() + 22);
    put32(f, 28, sip);
    std::copy(tha.begin(), tha.end(), f.begin() + 32);
    put32(f, 38, tip);
    return f;
}

bool checksums_valid(const bytes &f) {
    if (f.size() >= 54 && get16(f, 12) == 0x86dd) {
        size_t l4_len = get16(f, off6::plen);
        uint8_t proto = f[off6::next];
        if (f.size() != 54 + l4_len) return false;
        if (proto == 6 || proto == 17 || proto == 58)
            return finish(sum16(&f[off6::l4], l4_len, pseudo6(f, proto, l4_len))) == 0;
        return true;
    }
    if (f.size() < 34 || get16(f, 12) != 0x0800) return false;
    if (finish(sum16(&f[off::ip_vhl], 20)) != 0) return false;
    size_t total = get16(f, 16);
    size_t l4_len = total - 20;
    uint8_t proto = f[off::ip_proto];
    if (proto == 6) return finish(sum16(&f[off::l4], l4_len, pseudo(f, 6, l4_len))) == 0;
    if (proto == 17) return get16(f, off::udp_csum) == 0 || finish(sum16(&f[off::l4], l4_len, pseudo(f, 17, l4_len))) == 0;
    if (proto == 1) return finish(sum16(&f[off::l4], l4_len)) == 0;
    return true;
}

std::string hex(const bytes &b) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < b.size(); i++) {
        snprintf(buf, sizeof buf, "%02x", b[i]);
        s += buf;
        if (i % 16 == 15) s += '\n';
        else s += ' ';
    }
    return s;
}

void fix_ip_checksum(bytes &f) {
    f[off::ip_csum] = f[off::ip_csum + 1] = 0;
    set16(f, off::ip_csum, finish(sum16(&f[off::ip], 20)));
}

} // namespace fulcrum::test
