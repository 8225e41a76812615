#include "config/fields.h"

#include "config/parse.h"

#include <charconv>

namespace fulcrum::config::fields {

[[noreturn]] void fail(const std::string &field, const std::string &rule) {
    throw error{field, rule};
}

std::string join(const std::string &base, const std::string &key) {
    return base.empty() ? key : base + "." + key;
}
std::string index(const std::string &base, size_t i) {
    return base + "[" + std::to_string(i) + "]";
}

// Integer in [lo, hi]; accepts a JSON number or a decimal string ("80").
uint64_t get_uint(const json &v, const std::string &field, uint64_t lo, uint64_t hi) {
    uint64_t out = 0;
    std::string rule = "must be an integer " + std::to_string(lo) + "-" + std::to_string(hi);
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
        int64_t i = v.get<int64_t>();
        if (i < 0) fail(field, rule);
        out = static_cast<uint64_t>(i);
    } else if (v.is_string()) {
        const auto &s = v.get_ref<const std::string &>();
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (s.empty() || ec != std::errc() || p != s.data() + s.size()) fail(field, rule);
    } else {
        fail(field, rule);
    }
    if (out < lo || out > hi) fail(field, rule);
    return out;
}

uint64_t opt_uint(const json &obj, const std::string &base, const char *key, uint64_t lo,
                  uint64_t hi, uint64_t dflt) {
    auto it = obj.find(key);
    if (it == obj.end()) return dflt;
    return get_uint(*it, join(base, key), lo, hi);
}

std::string get_string(const json &v, const std::string &field) {
    if (!v.is_string()) fail(field, "must be a string");
    return v.get<std::string>();
}

const json &require(const json &obj, const std::string &base, const char *key) {
    auto it = obj.find(key);
    if (it == obj.end()) fail(join(base, key), "is required");
    return *it;
}

uint32_t get_ipv4(const json &v, const std::string &field) {
    auto r = parse_ipv4(get_string(v, field), field);
    if (!r) throw r.err();
    return r.value();
}

net::ip_addr get_ip(const json &v, const std::string &field) {
    auto r = parse_ip(get_string(v, field), field);
    if (!r) throw r.err();
    return r.value();
}

net::ip_addr get_ipv6(const json &v, const std::string &field) {
    net::ip_addr a = get_ip(v, field);
    if (a.is_v4()) fail(field, "must be an IPv6 address (RFC 4291 2.2, e.g. 2001:db8::1)");
    return a;
}

void check_keys(const json &obj, const std::string &base, std::initializer_list<const char *> keys) {
    if (!obj.is_object()) fail(base.empty() ? "<root>" : base, "must be an object");
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool known = std::any_of(keys.begin(), keys.end(),
                                 [&](const char *k) { return it.key() == k; });
        if (!known) fail(join(base, it.key()), "is not a known field");
    }
}

const json &get_array(const json &v, const std::string &field) {
    if (!v.is_array()) fail(field, "must be an array");
    return v;
}

std::array<uint8_t, 6> get_mac(const json &v, const std::string &field) {
    auto mac = net::parse_mac(get_string(v, field));
    if (!mac) fail(field, "must be a MAC address aa:bb:cc:dd:ee:ff");
    return *mac;
}

std::vector<net::ip_addr> parse_ip_list(const json &v, const std::string &f) {
    std::vector<net::ip_addr> out;
    const auto &arr = get_array(v, f);
    for (size_t i = 0; i < arr.size(); i++) {
        net::ip_addr ip = get_ip(arr[i], index(f, i));
        if (std::find(out.begin(), out.end(), ip) != out.end())
            fail(index(f, i), "must not repeat an address");
        out.push_back(ip);
    }
    return out;
}

// "on" / "off", as the public API spells switches.
bool opt_switch(const json &obj, const std::string &base, const char *key, bool dflt) {
    return !opt_name(obj, base, key, {"on", "off"}, !dflt);
}

} // namespace fulcrum::config::fields
