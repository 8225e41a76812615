// IPv4 addresses, prefixes and MAC addresses as text: the one parser and formatter each,
// for the config, the API, the prompt, the stats views and the kernel set-up. Addresses
// are host byte order here (the data plane converts when it builds its tables).
#pragma once

#include <array>
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

// "aa:bb:cc:dd:ee:ff" (hex digits, either case).
std::optional<mac_bytes> parse_mac(std::string_view text);
std::string format_mac(const uint8_t *six_bytes);

} // namespace fulcrum::net
