#include "laddr/laddr_pool.h"
#include "net/toeplitz.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <rte_thash.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

using namespace fulcrum::laddr;
namespace net = fulcrum::net;

TEST_CASE("by share: workers own disjoint lport slices that cover the range", "[laddr]") {
    std::set<uint32_t> seen;
    size_t total = 0;
    for (uint32_t w = 0; w < 3; w++) {
        laddr_pool p({0, 0}, 1024, 2047, w, 3);
        uint32_t e;
        for (uint32_t l = 0; l < 2; l++)
            while (p.take(l, 0, e)) {
                CHECK(entry_laddr(e) == l);
                CHECK(owner_of_port(entry_port(e), 3) == w);
                CHECK(seen.insert(e).second);
                total++;
            }
    }
    CHECK(total == 2 * 1024);
}

TEST_CASE("ports come back in FIFO order and exhaustion is reported, not fatal", "[laddr]") {
    laddr_pool p({0}, 1024, 1027, 0, 1);
    uint32_t a = 0, b = 0, e = 0;
    REQUIRE(p.take(0, 0, a));
    REQUIRE(p.take(0, 0, b));
    CHECK(entry_port(a) == 1024);
    CHECK(entry_port(b) == 1025);
    REQUIRE(p.take(0, 0, e));
    REQUIRE(p.take(0, 0, e));
    CHECK_FALSE(p.take(0, 0, e));
    CHECK(p.free_count() == 0);
    p.give(a);
    REQUIRE(p.take(0, 0, e));
    CHECK(e == a);
}

TEST_CASE("Fulcrum's Toeplitz agrees with DPDK's rte_softrss and is the XOR of its parts", "[laddr][rss]") {
    std::mt19937 rng(3);
    for (int i = 0; i < 10000; i++) {
        uint32_t src = rng(), dst = rng(), ports = rng();
        uint16_t sport = uint16_t(ports >> 16), dport = uint16_t(ports);
        uint32_t tuple[3] = {src, dst, uint32_t(sport) << 16 | dport}; // rte_softrss: host order
        uint32_t reference = rte_softrss(tuple, 3, net::rss_key);
        uint32_t ours = net::rss_hash(htonl(src), htonl(dst), htons(sport), htons(dport));
        REQUIRE(ours == reference);
        REQUIRE((net::source_part(htonl(src), htons(sport)) ^ net::address_part(htonl(dst)) ^ net::port_part(htons(dport))) ==
                ours);
    }
}

TEST_CASE("by RSS: 100,000 random reply tuples, every lport a worker takes sends its reply to one of that worker's "
          "queues (rte_softrss with the programmed key and a 128-entry RETA), never one another worker holds",
          "[laddr][rss]") {
    constexpr uint32_t reta = 128, workers = 2;
    const std::vector<uint32_t> laddrs = {0x0a000064, 0x0a000065}; // 10.0.0.100, .101
    std::vector<laddr_pool> pools;
    for (uint32_t w = 0; w < workers; w++) pools.emplace_back(std::vector<uint32_t>{reta, reta}, 1024, 65535, w, workers);
    std::vector<uint32_t> turn(workers, 0);
    std::mt19937 rng(5);
    // Held (backend, bport, laddr, lport) -> worker: a reply tuple is never given out twice.
    std::map<std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>, uint32_t> held;
    std::vector<std::pair<uint32_t, std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>>> order;
    std::vector<size_t> per_queue(workers, 0);
    for (int i = 0; i < 100000; i++) {
        uint32_t w = rng() % workers, l = rng() % 2;
        // A few backends, so the same reply tuples come up again across workers.
        uint32_t bip = 0x0a000200 + rng() % 16;
        uint16_t bport = static_cast<uint16_t>(rng() % 2 ? 8080 : 1024 + rng() % 64000);
        uint32_t fixed = net::source_part(htonl(bip), htons(bport)) ^ net::address_part(htonl(laddrs[l]));
        uint32_t e;
        REQUIRE(pools[w].take_rss(l, fixed, w, workers, turn[w], e));
        REQUIRE(entry_laddr(e) == l);
        uint16_t lport = entry_port(e);
        uint32_t tuple[3] = {bip, laddrs[l], uint32_t(bport) << 16 | lport};
        uint32_t queue = (rte_softrss(tuple, 3, net::rss_key) & (reta - 1)) % workers; // RETA j -> j % workers
        REQUIRE(queue == w);
        per_queue[queue]++;
        auto key = std::make_tuple(bip, bport, laddrs[l], lport);
        REQUIRE(held.emplace(key, w).second);
        order.push_back({e, key});
        // Give most back (FIFO reuse), keep a growing few.
        if (order.size() > 2000) {
            auto [old, old_key] = order.front();
            order.erase(order.begin());
            pools[held[old_key]].give(old);
            held.erase(old_key);
        }
    }
    CHECK(per_queue[0] > 40000);
    CHECK(per_queue[1] > 40000);
}

TEST_CASE("by RSS: every bucket of a 512-entry RETA has lports (the key reaches every entry through the lport)", "[laddr][rss]") {
    laddr_pool p({512}, 1024, 65535, 0, 1);
    std::vector<uint32_t> n(512, 0);
    for (uint32_t lport = 1024; lport <= 65535; lport++) n[p.bucket_of(static_cast<uint16_t>(lport), 512)]++;
    for (uint32_t b = 0; b < 512; b++) REQUIRE(n[b] > 0);
    CHECK(p.capacity() == 65535 - 1024 + 1);
}
