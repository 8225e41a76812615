// Reading one field of a JSON config or request: typed getters that name the field and
// the rule when the value breaks it (by throwing config::error, which the parsers catch
// at their edge and return as a value). Shared by the config parsers.
#pragma once

#include "config/result.h"
#include "net/addr.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace fulcrum::config::fields {

using nlohmann::json;

[[noreturn]] void fail(const std::string &field, const std::string &rule);
std::string join(const std::string &base, const std::string &key);
std::string index(const std::string &base, size_t i);
uint64_t get_uint(const json &v, const std::string &field, uint64_t lo, uint64_t hi);
uint64_t opt_uint(const json &obj, const std::string &base, const char *key, uint64_t lo,
                  uint64_t hi, uint64_t dflt);
std::string get_string(const json &v, const std::string &field);
const json &require(const json &obj, const std::string &base, const char *key);
uint32_t get_ipv4(const json &v, const std::string &field);
net::ip_addr get_ip(const json &v, const std::string &field);   // either family (config::parse_ip's rules)
net::ip_addr get_ipv6(const json &v, const std::string &field); // IPv6 only
const json &get_array(const json &v, const std::string &field);
void check_keys(const json &obj, const std::string &base, std::initializer_list<const char *> keys);
std::array<uint8_t, 6> get_mac(const json &v, const std::string &field);
std::vector<net::ip_addr> parse_ip_list(const json &v, const std::string &f);
bool opt_switch(const json &obj, const std::string &base, const char *key, bool dflt);

// The index of the string `obj[key]` among `names` (an enum's values in order), or
// `dflt` when the key is absent.
template <typename Enum>
Enum opt_name(const json &obj, const std::string &base, const char *key, std::initializer_list<const char *> names,
              Enum dflt) {
    auto it = obj.find(key);
    if (it == obj.end()) return dflt;
    std::string v = get_string(*it, join(base, key)), rule = "must be one of ";
    int i = 0;
    for (const char *n : names) {
        if (v == n) return static_cast<Enum>(i);
        rule += (i++ ? ", " : "") + std::string(n);
    }
    fail(join(base, key), rule);
}

} // namespace fulcrum::config::fields
