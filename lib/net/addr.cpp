#include "net/addr.h"

#include <arpa/inet.h>

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
