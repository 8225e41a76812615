// IPv6 beside the standard test network (harness.h), for the IPv6 packet tests: the
// dual-stack configuration and the frames of its 6->4 and 6->6 connections.
#pragma once

#include "harness.h"

namespace fulcrum::test {

// The standard network with IPv6 beside it: port 2001:db8::1/64, VIP 2001:db8::10
// (tcp/80 and udp/53 -> the default group's 10.0.0.21: 6->4; tcp/81 and udp/54 -> group
// rsp-6, backend [2001:db8::31]:8081: 6->6), VIP 2001:db8::11 without listeners, laddr
// 2001:db8::100, client 2001:db8::50.
namespace six {
const addr6 port = ip6("2001:db8::1"), vip = ip6("2001:db8::10"), quiet_vip = ip6("2001:db8::11"),
            laddr = ip6("2001:db8::100"), client = ip6("2001:db8::50"), backend = ip6("2001:db8::31"),
            stranger = ip6("2001:db8::77");
constexpr mac_t backend_mac{2, 0, 0, 0, 0, 0x31}, stranger_mac{2, 0, 0, 0, 0, 0x77};
constexpr uint16_t cport = 40000;
} // namespace six

inline nlohmann::json dual_config(bool backend_neighbour = true) {
    auto cfg = base_config("", {1});
    cfg["ports"][0]["address6"] = "2001:db8::1/64";
    cfg["ports"][0]["static_neighbours"].push_back({{"ip", "2001:db8::50"}, {"mac", "02:00:00:00:00:50"}});
    if (backend_neighbour)
        cfg["ports"][0]["static_neighbours"].push_back({{"ip", "2001:db8::31"}, {"mac", "02:00:00:00:00:31"}});
    cfg["vips"].push_back("2001:db8::10");
    cfg["vips"].push_back("2001:db8::11");
    cfg["local_addresses"].push_back("2001:db8::100");
    cfg["vserver_groups"] = nlohmann::json::array({{{"VServerGroupId", "rsp-6"}, {"VServerGroupName", "six"},
        {"BackendServers", {{{"ServerId", "i-6"}, {"ServerIp", "2001:db8::31"}, {"Port", 8081}}}}}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 80}, {"BackendServerPort", 8080}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "udp"}, {"ListenerPort", 53},
                                {"BackendServerPort", 5353}, {"IdleTimeout", 5}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "tcp"}, {"ListenerPort", 81},
                                {"BackendServerPort", 1}, {"VServerGroupId", "rsp-6"}});
    cfg["listeners"].push_back({{"VIP", "2001:db8::10"}, {"Protocol", "udp"}, {"ListenerPort", 54},
                                {"BackendServerPort", 1}, {"VServerGroupId", "rsp-6"}, {"IdleTimeout", 5}});
    return cfg;
}

inline frame_spec from_client6(lb &t, uint8_t proto, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
                        std::string payload = "") {
    frame_spec s;
    s.v6 = true, s.proto = proto, s.dst_mac = t.port->mac(), s.src_mac = client_mac;
    s.src6 = six::client, s.dst6 = six::vip, s.sport = six::cport, s.dport = dport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload), s.tos = 0x28;
    return s;
}

// What a 6->4 connection's client packet becomes toward 10.0.0.21:8080 (or :5353), from
// 10.0.0.100:lport; IPv4 packets of up to 1260 bytes carry no DF and the worker's next
// identification (RFC 7915 5.1), counted by the caller from 0.
inline frame_spec to_backend4(lb &t, frame_spec s, uint16_t &next_id, uint16_t lport = 1024) {
    s.v6 = false;
    s.dst_mac = backend_mac(0), s.src_mac = t.port->mac();
    s.src = net::laddr, s.dst = net::backend(0), s.sport = lport;
    s.dport = s.proto == 6 ? net::bport : net::udp_bport;
    s.ttl = uint8_t(s.ttl - 1);
    size_t l4 = (s.proto == 6 ? 20 + s.tcp_options.size() : 8) + s.payload.size();
    s.df = 20 + l4 > 1260;
    s.ip_id = s.df ? 0 : next_id++;
    return s;
}

// A backend's IPv4 reply to the laddr and what it becomes toward the IPv6 client.
inline frame_spec from_backend4(lb &t, uint8_t proto, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = "",
                         uint16_t lport = 1024) {
    frame_spec s;
    s.proto = proto, s.dst_mac = t.port->mac(), s.src_mac = backend_mac(0);
    s.src = net::backend(0), s.dst = net::laddr, s.sport = proto == 6 ? net::bport : net::udp_bport, s.dport = lport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload), s.tos = 0x10;
    return s;
}
inline frame_spec to_client6(lb &t, frame_spec s, uint16_t vport) {
    s.v6 = true;
    s.dst_mac = client_mac, s.src_mac = t.port->mac();
    s.src6 = six::vip, s.dst6 = six::client, s.sport = vport, s.dport = six::cport;
    s.ttl = uint8_t(s.ttl - 1);
    s.udp_zero_checksum = false; // IPv6 needs one: computed
    return s;
}

// 6->6: toward [2001:db8::31]:8081 from [2001:db8::100]:lport, and back.
inline frame_spec to_backend6(lb &t, frame_spec s, uint16_t lport = 1024) {
    s.dst_mac = six::backend_mac, s.src_mac = t.port->mac();
    s.src6 = six::laddr, s.dst6 = six::backend, s.sport = lport, s.dport = 8081;
    s.ttl = uint8_t(s.ttl - 1);
    return s;
}
inline frame_spec from_backend6(lb &t, uint8_t proto, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload = "",
                         uint16_t lport = 1024) {
    frame_spec s;
    s.v6 = true, s.proto = proto, s.dst_mac = t.port->mac(), s.src_mac = six::backend_mac;
    s.src6 = six::backend, s.dst6 = six::laddr, s.sport = 8081, s.dport = lport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload);
    return s;
}

inline const fulcrum::conn::connection *only_conn(lb &t) {
    const auto &tab = t.w().conns();
    for (uint32_t i = 0; i < tab.capacity(); i++)
        if (fulcrum::conn::conn_table::live(tab.at(i))) return &tab.at(i);
    return nullptr;
}

inline bytes syn_options(uint16_t mss) {
    return {2, 4, uint8_t(mss >> 8), uint8_t(mss), 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
}


} // namespace fulcrum::test
