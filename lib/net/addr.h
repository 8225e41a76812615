// IP addresses (IPv4 and IPv6), prefixes and MAC addresses as text: the one parser and
// formatter each, for the config, the API, the prompt, the stats views and the kernel
// set-up. A bare IPv4 value is host byte order here (the data plane converts when it
// builds its tables); an `ip_addr` holds either family as the 16 bytes of an IPv6 address
// in network order, IPv4 as its IPv4-mapped form (RFC 4291 2.5.5.2, ::ffff:a.b.c.d).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fulcrum::net {

using mac_bytes = std::array<uint8_t, 6>;

std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t host_order_ip);

// The netmask of a prefix length 0-32, host order.
constexpr uint32_t prefix_mask(unsigned len) { return len == 0 ? 0 : ~uint32_t(0) << (32 - len); }
constexpr bool in_prefix(uint32_t ip, uint32_t net, unsigned len) {
    return ((ip ^ net) & prefix_mask(len)) == 0;
}
std::string format_prefix(uint32_t net, unsigned len); // "10.0.0.0/24"

// An IPv4 or IPv6 address. Value-initialised it is "none" (all zero: the unspecified
// IPv6 address, which no field accepts); IPv4 0.0.0.0 is ::ffff:0.0.0.0, a different value.
// Ordered and compared as the 16 bytes, so IPv4 addresses sort together, below IPv6 ones
// from 2000::/3 up.
struct ip_addr {
    std::array<uint8_t, 16> b{};

    static ip_addr from_v4(uint32_t host_order) {
        ip_addr a;
        a.b[10] = a.b[11] = 0xff;
        a.b[12] = static_cast<uint8_t>(host_order >> 24), a.b[13] = static_cast<uint8_t>(host_order >> 16);
        a.b[14] = static_cast<uint8_t>(host_order >> 8), a.b[15] = static_cast<uint8_t>(host_order);
        return a;
    }
    static ip_addr from_v6(const uint8_t *sixteen) {
        ip_addr a;
        for (int i = 0; i < 16; i++) a.b[i] = sixteen[i];
        return a;
    }
    bool is_v4() const {
        for (int i = 0; i < 10; i++)
            if (b[i]) return false;
        return b[10] == 0xff && b[11] == 0xff;
    }
    bool is_v6() const { return !is_v4() && !none(); }
    bool none() const {
        for (uint8_t x : b)
            if (x) return false;
        return true;
    }
    // The IPv4 value, host order (0 for an IPv6 address: ask is_v4 first).
    uint32_t v4() const {
        return is_v4() ? uint32_t(b[12]) << 24 | uint32_t(b[13]) << 16 | uint32_t(b[14]) << 8 | b[15] : 0;
    }
    unsigned bits() const { return is_v4() ? 32 : 128; } // the family's prefix length limit
    auto operator<=>(const ip_addr &) const = default;
};

// IPv4 in dotted-quad form (exactly four decimal parts, as inet_pton takes them) or IPv6
// in any form RFC 4291 2.2 allows (full, "::"-compressed, with a dotted-quad tail; either
// case); no zone index. An IPv4-mapped IPv6 text (::ffff:10.0.0.1) is that IPv4 address.
std::optional<ip_addr> parse_ip(std::string_view text);
// IPv4 dotted; IPv6 as RFC 5952 says (lower case, no leading zeros, the longest run of two
// or more zero groups, the first if tied, as "::").
std::string format_ip(const ip_addr &a);
inline std::string format_ip(uint32_t host_order_v4) { return format_ipv4(host_order_v4); }
// "10.0.0.5:80", "[2001:db8::5]:80" (RFC 5952 6).
inline std::string format_endpoint(const ip_addr &a, uint16_t port) {
    return (a.is_v4() ? format_ip(a) : "[" + format_ip(a) + "]") + ":" + std::to_string(port);
}

// The same from an address already in text (an IPv6 one has a ':').
inline std::string format_endpoint(const std::string &ip_text, uint16_t port) {
    return (ip_text.find(':') == std::string::npos ? ip_text : "[" + ip_text + "]") + ":" + std::to_string(port);
}

// A prefix of either family, host bits zero (parse_prefix refuses any set); `len` counts
// in the family's own bits (0-32, 0-128).
struct ip_prefix {
    ip_addr net;
    uint8_t len = 0;
    bool contains(const ip_addr &a) const;
    auto operator<=>(const ip_prefix &) const = default;
};
// "address/len" of either family (len within its bits), or a bare address (len: all its
// bits). The address is as written: mask it (masked()) for a network.
std::optional<ip_prefix> parse_prefix(std::string_view text);
// `a` with the bits past `len` (counted in its family's bits) cleared.
ip_addr masked(const ip_addr &a, unsigned len);
std::string format_prefix(const ip_prefix &p);
inline bool is_link_local(const ip_addr &a) { return a.is_v6() && a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80; }

// "aa:bb:cc:dd:ee:ff" (hex digits, either case).
std::optional<mac_bytes> parse_mac(std::string_view text);
std::string format_mac(const uint8_t *six_bytes);

} // namespace fulcrum::net
