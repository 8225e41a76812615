// Ports on a real kernel: what an af_packet ring drops before the PMD sees it is counted
// as the port's missed frames.
#include "harness.h"

#include "dataplane/ports.h"
#include "deploy/port_stats.h"

#include <catch2/catch.hpp>

#include <rte_bus_vdev.h>

#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

using namespace fulcrum;

TEST_CASE("frames an af_packet ring drops show up as the port's missed count", "[ports][kernel]") {
    // A veth pair in a network namespace of this thread's own (removed with it).
    test::private_netns ns;
    REQUIRE(ns.ok);
    REQUIRE(std::system("ip link add flr0 type veth peer name flr1 && ip link set flr0 up && ip link set flr1 up") == 0);
    // A deliberately small ring: 64 frames.
    REQUIRE(rte_vdev_init("net_af_packet_flr", "iface=flr0,framecnt=64,blocksz=4096,framesz=2048") == 0);
    dataplane::port_params pp{"ports[0]", "net_af_packet_flr", 0, 0, 0, 1500};
    auto port = dataplane::start_port(pp, test::test_pool(), 1);
    REQUIRE(port);
    uint16_t id = port.value().port_id;

    // 1,000 frames into the other end while nothing polls the port.
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    REQUIRE(fd >= 0);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(if_nametoindex("flr1"));
    to.sll_halen = 6;
    test::frame_spec s;
    s.dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, s.src_mac = test::client_mac;
    s.proto = 17, s.src = test::ip("10.9.0.2"), s.dst = test::ip("10.9.0.1"), s.sport = 1, s.dport = 2, s.payload = "x";
    test::bytes f = test::build_frame(s);
    for (int i = 0; i < 1000; i++)
        REQUIRE(sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)) == ssize_t(f.size()));
    close(fd);

    deploy::port_counters c = deploy::read_port_counters(id);
    CHECK(c.kernel_drops >= 900); // at most 64 fit (a few more if the kernel took some late)
    CHECK(c.missed() == c.eth.imissed + c.kernel_drops);
    // The frames that fit are there to read; drops are not counted twice on the next read.
    rte_mbuf *pkts[64];
    uint16_t got = 0, n;
    while ((n = rte_eth_rx_burst(id, 0, pkts, 64)) > 0) {
        got += n;
        rte_pktmbuf_free_bulk(pkts, n);
    }
    // Every frame is either read or counted (the kernel may add a frame of its own, such
    // as an IPv6 router solicitation on a fresh link).
    CHECK(got + c.kernel_drops >= 1000);
    CHECK(got + c.kernel_drops <= 1010);
    CHECK(deploy::read_port_counters(id).kernel_drops == c.kernel_drops);

    rte_eth_dev_stop(id);
    rte_eth_dev_close(id);
    rte_vdev_uninit("net_af_packet_flr");
    std::system("ip link del flr0 2>/dev/null");
}
