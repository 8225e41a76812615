#include "net/addr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace fulcrum::net {

std::optional<uint32_t> parse_ipv4(std::string_view text) {
    std::string s(text);
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
}

std::string format_ipv4(uint32_t ip) {
    return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
           "." + std::to_string(ip & 255);
}

std::string format_prefix(uint32_t net, unsigned len) { return format_ipv4(net) + "/" + std::to_string(len); }

std::optional<ip_addr> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt; // INET6_ADDRSTRLEN - 1
    std::string s(text);
    if (s.find(':') == std::string::npos) {
        auto v4 = parse_ipv4(s);
        if (!v4) return std::nullopt;
        return ip_addr::from_v4(*v4);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, s.c_str(), &a6) != 1) return std::nullopt;
    return ip_addr::from_v6(a6.s6_addr);
}

std::string format_ip(const ip_addr &a) {
    if (a.is_v4()) return format_ipv4(a.v4());
    uint16_t g[8];
    for (int i = 0; i < 8; i++) g[i] = static_cast<uint16_t>(a.b[2 * i] << 8 | a.b[2 * i + 1]);
    int best = -1, best_len = 1; // RFC 5952 4.2.2: a single zero group is not shortened
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) j++;
        if (j - i > best_len) best = i, best_len = j - i;
        i = j;
    }
    std::string out;
    char hex[8];
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(hex, sizeof hex, "%x", g[i]);
        out += hex;
    }
    return out;
}

ip_addr masked(const ip_addr &a, unsigned len) {
    ip_addr m = a;
    unsigned first = a.is_v4() ? 96 : 0; // an IPv4 prefix counts from the mapped address's bit 96
    unsigned keep = first + std::min(len, a.bits());
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (keep >= lo + 8) continue;
        m.b[i] = keep <= lo ? 0 : static_cast<uint8_t>(m.b[i] & (0xff00 >> (keep - lo)));
    }
    return m;
}

std::optional<ip_prefix> parse_prefix(std::string_view text) {
    auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    ip_prefix p{*ip, static_cast<uint8_t>(ip->bits())};
    if (slash == std::string_view::npos) return p;
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3) return std::nullopt;
    unsigned v = 0;
    for (char ch : len) {
        if (ch < '0' || ch > '9') return std::nullopt;
        v = v * 10 + unsigned(ch - '0');
    }
    if (v > ip->bits() || (len.size() > 1 && len[0] == '0')) return std::nullopt;
    p.len = static_cast<uint8_t>(v);
    return p;
}

bool ip_prefix::contains(const ip_addr &a) const {
    return a.is_v4() == net.is_v4() && masked(a, len) == net;
}

std::string format_prefix(const ip_prefix &p) { return format_ip(p.net) + "/" + std::to_string(p.len); }

std::optional<mac_bytes> parse_mac(std::string_view text) {
    std::string s(text);
    unsigned b[6];
    char tail;
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return std::nullopt;
    mac_bytes mac{};
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255) return std::nullopt;
        mac[i] = static_cast<uint8_t>(b[i]);
    }
    return mac;
}

std::string format_mac(const uint8_t *a) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
    return buf;
}

} // namespace fulcrum::net
