// Volume through one worker on two vdevs: a net_ring client side and a net_null backend
// side. A million packets later nothing has leaked: the mempool is full again.
#include "harness.h"

#include <catch2/catch.hpp>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>

using namespace fulcrum::test;

TEST_CASE("a million packets through net_ring and net_null leave the mempool full", "[volume][null]") {
    REQUIRE(rte_vdev_init("net_null_vol0", "copy=1,size=64") == 0);
    rte_mempool *pool = test_pool();
    unsigned avail_before = rte_mempool_avail_count(pool);
    {
        auto cfg = base_config("");
        cfg["conn_capacity"] = 8192;
        cfg["ports"].push_back({{"name", "backends"}, {"device", "net_null_vol0"}, {"address", "10.0.1.1/24"}});
        cfg["local_addresses"].push_back("10.0.1.100"); // the backends' port needs a laddr of its own
        cfg["default_server_group"] = nlohmann::json::array();
        for (int i = 0; i < 4; i++) {
            std::string b = "10.0.1." + std::to_string(10 + i);
            cfg["ports"][1]["static_neighbours"].push_back({{"ip", b}, {"mac", "02:00:00:00:01:0" + std::to_string(i)}});
            cfg["default_server_group"].push_back({{"ServerId", "n" + std::to_string(i)}, {"ServerIp", b}});
        }
        lb t(cfg);
        std::vector<bytes> flows;
        for (int i = 0; i < 4000; i++) {
            frame_spec s;
            s.proto = 17, s.dst_mac = t.port->mac(), s.src_mac = client_mac;
            s.src = fulcrum::test::net::client + uint32_t(i / 1000), s.dst = fulcrum::test::net::vip;
            s.sport = static_cast<uint16_t>(1000 + i % 1000), s.dport = 53, s.payload = "0123456789abcdef";
            flows.push_back(build_frame(s));
        }
        const int total = 1'000'000;
        for (int sent = 0; sent < total;) {
            for (int k = 0; k < 2048 && sent < total; k++, sent++) t.port->inject(flows[sent % flows.size()]);
            while (rte_ring_count(t.port->rx) > 0) t.w().poll_once(t.clock);
            t.w().flush_tx();
        }
        const auto &c = t.w().counters();
        uint64_t garbage = c.drops[static_cast<unsigned>(fulcrum::dataplane::drop::other_mac)];
        CHECK(c.connections_created == 4000);
        CHECK(t.w().listener_counters(1).packets_in == uint64_t(total));
        CHECK(c.rx_packets == uint64_t(total) + garbage); // net_null's own rx is all-zero frames
        CHECK(c.tx_packets == uint64_t(total));
        CHECK(t.port->collect().empty()); // everything went out of the null port
    }
    uint16_t id;
    REQUIRE(rte_eth_dev_get_port_by_name("net_null_vol0", &id) == 0);
    rte_eth_dev_close(id);
    rte_vdev_uninit("net_null_vol0");
    CHECK(rte_mempool_avail_count(pool) == avail_before);
}

TEST_CASE("a million segments of 4,000 established TCP connections: each window-checked, none out of window, the "
          "mempool full again",
          "[volume][tcp]") {
    rte_mempool *pool = test_pool();
    unsigned avail_before = rte_mempool_avail_count(pool);
    {
        auto cfg = without_syn_proxy(base_config("", {1, 1, 1, 1}));
        cfg["conn_capacity"] = 8192;
        lb t(cfg);
        const mac_t mac = t.port->mac();
        auto client_of = [](int) { return fulcrum::test::net::client; }; // a static neighbour
        auto cport_of = [](int i) { return static_cast<uint16_t>(20000 + i); };
        for (int i = 0; i < 4000; i++) {
            bytes out = t.send_one(build_frame(client_segment(mac, client_of(i), cport_of(i), SYN, 1000, 0)));
            REQUIRE(!out.empty());
            uint32_t backend = get32(out, off::ip_dst);
            uint16_t lport = get16(out, off::sport);
            REQUIRE(t.send({build_frame(backend_segment(mac, backend, lport, SYN | ACK, 5000, 1001))}).size() == 1);
            REQUIRE(t.send({build_frame(client_segment(mac, client_of(i), cport_of(i), ACK, 1001, 5001))}).size() == 1);
        }
        // 250 ten-byte segments per connection: 2,500 bytes, inside the backend's 64 KiB window.
        const int total = 1'000'000;
        for (int sent = 0; sent < total;) {
            for (int k = 0; k < 2048 && sent < total; k++, sent++) {
                int i = sent % 4000; // the stream moves on ten bytes a round
                t.port->inject(build_frame(client_segment(mac, client_of(i), cport_of(i), PSH | ACK,
                                                          1001 + 10 * uint32_t(sent / 4000), 5001, "0123456789")));
            }
            while (rte_ring_count(t.port->rx) > 0) t.w().poll_once(t.clock);
            t.w().flush_tx();
            t.port->collect();
        }
        const auto &c = t.w().counters();
        CHECK(c.tcp_out_of_window == 0);
        CHECK(t.w().listener_counters(0).packets_in == uint64_t(total) + 8000);
        CHECK(c.tx_packets == uint64_t(total) + 12000);
        for (int i = 0; i < 4000; i += 997) {
            const auto *conn = t.w().find_conn(6, client_of(i), cport_of(i), fulcrum::test::net::vip, 80);
            REQUIRE(conn != nullptr);
            CHECK(conn->state == fulcrum::conn::tcp_state::established);
        }
    }
    CHECK(rte_mempool_avail_count(pool) == avail_before);
}
