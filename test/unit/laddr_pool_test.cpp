#include "laddr/laddr_pool.h"
#include "net/toeplitz.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <rte_thash.h>

#include <array>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <tuple>

using namespace fulcrum::laddr;
namespace net = fulcrum::net;

TEST_CASE("by share: workers offer disjoint lport slices that cover the range", "[laddr]") {
    std::set<std::pair<uint32_t, uint16_t>> seen;
    for (uint32_t w = 0; w < 3; w++) {
        laddr_pool p({0, 0}, 1024, 2047, w, 3);
        for (uint32_t l = 0; l < 2; l++) {
            REQUIRE(p.per_laddr(l) > 0);
            for (size_t i = 0; i < p.per_laddr(l); i++) {
                uint16_t lport;
                REQUIRE(p.next(l, 0, lport));
                CHECK(owner_of_port(lport, 3) == w);
                CHECK(seen.insert({l, lport}).second);
            }
        }
    }
    CHECK(seen.size() == 2 * 1024);
}

TEST_CASE("candidates come in a fixed rotation: a port is offered again only after every other one", "[laddr]") {
    laddr_pool p({0}, 1024, 1027, 0, 1);
    std::vector<uint16_t> got;
    for (int i = 0; i < 9; i++) {
        uint16_t lport;
        REQUIRE(p.next(0, 0, lport));
        got.push_back(lport);
    }
    CHECK(got == std::vector<uint16_t>{1024, 1025, 1026, 1027, 1024, 1025, 1026, 1027, 1024});
    CHECK(p.capacity() == 4);
    laddr_pool none({0}, 1024, 1024, 1, 2); // worker 1 of 2 owns no port of a one-port range
    uint16_t lport;
    CHECK_FALSE(none.next(0, 0, lport));
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

namespace {
// rte_softrss's view of an IPv6 tuple: nine host-order words (source, destination,
// source port << 16 | destination port), as rte_thash_load_v6_addrs lays them out.
uint32_t softrss6(const uint8_t *src, const uint8_t *dst, uint16_t sport, uint16_t dport) {
    uint32_t words[9];
    for (int i = 0; i < 4; i++) {
        uint32_t s, d;
        std::memcpy(&s, src + 4 * i, 4);
        std::memcpy(&d, dst + 4 * i, 4);
        words[i] = ntohl(s), words[4 + i] = ntohl(d);
    }
    words[8] = uint32_t(sport) << 16 | dport;
    return rte_softrss(words, 9, net::rss_key);
}
std::array<uint8_t, 16> parse6(const char *text) {
    std::array<uint8_t, 16> a{};
    REQUIRE(inet_pton(AF_INET6, text, a.data()) == 1);
    return a;
}
} // namespace

TEST_CASE("IPv6 Toeplitz (36-byte tuples) agrees with the RSS verification suite and rte_softrss, and is the XOR of "
          "its parts",
          "[laddr][rss][ipv6]") {
    // Microsoft's RSS verification suite, IPv6 with TCP ports (the default key).
    struct vec {
        const char *dst;
        uint16_t dport;
        const char *src;
        uint16_t sport;
        uint32_t hash;
    } vectors[] = {{"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x40207d3d},
                   {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0xdde51bbf},
                   {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x02d1feef}};
    for (const vec &v : vectors) {
        auto src = parse6(v.src), dst = parse6(v.dst);
        CHECK(net::rss_hash6(src.data(), dst.data(), htons(v.sport), htons(v.dport)) == v.hash);
        CHECK(softrss6(src.data(), dst.data(), v.sport, v.dport) == v.hash);
    }
    std::mt19937 rng(11);
    for (int i = 0; i < 10000; i++) {
        uint8_t src[16], dst[16];
        for (auto &b : src) b = uint8_t(rng());
        for (auto &b : dst) b = uint8_t(rng());
        uint16_t sport = uint16_t(rng()), dport = uint16_t(rng());
        uint32_t reference = softrss6(src, dst, sport, dport);
        REQUIRE(net::rss_hash6(src, dst, htons(sport), htons(dport)) == reference);
        REQUIRE((net::source_part6(src, htons(sport)) ^ net::address_part6(dst) ^ net::port_part6(htons(dport))) ==
                reference);
    }
    CHECK(net::port_rank(12, true) == 12); // every RETA entry up to 4,096 reachable through the lport
}

TEST_CASE("by RSS, IPv6 laddrs: every lport a worker is offered sends its IPv6 reply to one of that worker's queues "
          "(rte_softrss over the 36-byte tuple, a 128-entry RETA); an IPv4 laddr beside it keeps IPv4's buckets",
          "[laddr][rss][ipv6]") {
    constexpr uint32_t reta = 128, workers = 2;
    auto laddr6 = parse6("2001:db8::100");
    const uint32_t laddr4 = 0x0a000064;
    std::vector<laddr_pool> pools;
    for (uint32_t w = 0; w < workers; w++)
        pools.emplace_back(std::vector<uint32_t>{reta, reta}, 1024, 65535, w, workers, std::vector<bool>{true, false});
    std::mt19937 rng(13);
    std::vector<size_t> per_queue(workers, 0);
    uint32_t turn = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t w = rng() % workers;
        uint8_t bip[16];
        std::memcpy(bip, laddr6.data(), 16);
        bip[15] = uint8_t(rng()), bip[14] = uint8_t(rng());
        uint16_t bport = static_cast<uint16_t>(1024 + rng() % 64000);
        uint32_t fixed = net::source_part6(bip, htons(bport)) ^ net::address_part6(laddr6.data());
        uint16_t lport = 0;
        REQUIRE(pools[w].next(0, pools[w].rss_bucket(0, fixed, w, workers, turn++), lport));
        uint32_t queue = (softrss6(bip, laddr6.data(), bport, lport) & (reta - 1)) % workers;
        REQUIRE(queue == w);
        per_queue[queue]++;
        // The IPv4 laddr (index 1) of the same pool, toward an IPv4 backend.
        uint32_t bip4 = 0x0a000200 + rng() % 16;
        uint32_t fixed4 = net::source_part(htonl(bip4), htons(bport)) ^ net::address_part(htonl(laddr4));
        REQUIRE(pools[w].next(1, pools[w].rss_bucket(1, fixed4, w, workers, turn++), lport));
        uint32_t tuple[3] = {bip4, laddr4, uint32_t(bport) << 16 | lport};
        REQUIRE((rte_softrss(tuple, 3, net::rss_key) & (reta - 1)) % workers == w);
    }
    CHECK(per_queue[0] > 8000);
    CHECK(per_queue[1] > 8000);
}

TEST_CASE("by RSS: 100,000 random reply tuples, every lport a worker is offered sends its reply to one of that "
          "worker's queues (rte_softrss with the programmed key and a 128-entry RETA), so no tuple another worker "
          "holds is ever offered",
          "[laddr][rss]") {
    constexpr uint32_t reta = 128, workers = 2;
    const std::vector<uint32_t> laddrs = {0x0a000064, 0x0a000065}; // 10.0.0.100, .101
    std::vector<laddr_pool> pools;
    for (uint32_t w = 0; w < workers; w++) pools.emplace_back(std::vector<uint32_t>{reta, reta}, 1024, 65535, w, workers);
    std::vector<uint32_t> turn(workers, 0);
    std::mt19937 rng(5);
    // Held (backend, bport, laddr, lport) -> worker, as the workers' tables would hold them.
    std::map<std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>, uint32_t> held;
    std::vector<std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>> order;
    std::vector<size_t> per_queue(workers, 0);
    for (int i = 0; i < 100000; i++) {
        uint32_t w = rng() % workers, l = rng() % 2;
        // A few backends, so the same reply tuples come up again across workers.
        uint32_t bip = 0x0a000200 + rng() % 16;
        uint16_t bport = static_cast<uint16_t>(rng() % 2 ? 8080 : 1024 + rng() % 64000);
        uint32_t fixed = net::source_part(htonl(bip), htons(bport)) ^ net::address_part(htonl(laddrs[l]));
        for (int tries = 0;; tries++) {
            REQUIRE(tries < 16);
            uint16_t lport;
            REQUIRE(pools[w].next(l, pools[w].rss_bucket(l, fixed, w, workers, turn[w]++), lport));
            uint32_t tuple[3] = {bip, laddrs[l], uint32_t(bport) << 16 | lport};
            uint32_t queue = (rte_softrss(tuple, 3, net::rss_key) & (reta - 1)) % workers; // RETA j -> j % workers
            REQUIRE(queue == w);
            auto key = std::make_tuple(bip, bport, laddrs[l], lport);
            auto it = held.find(key);
            if (it != held.end()) {
                REQUIRE(it->second == w); // held by this very worker: its table says so, it tries the next
                continue;
            }
            per_queue[queue]++;
            held.emplace(key, w);
            order.push_back(key);
            break;
        }
        if (order.size() > 2000) { // most connections end, a growing few stay
            held.erase(order.front());
            order.erase(order.begin());
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

TEST_CASE("a random RSS key per start: it differs, every RETA entry up to 4,096 stays reachable through the lport, "
          "and the hash is still the XOR of its parts",
          "[laddr][rss]") {
    uint8_t before[net::rss_key_size];
    std::copy(std::begin(net::rss_key), std::end(net::rss_key), before);
    CHECK(net::port_rank(12) == 12); // the default key too
    net::randomize_rss_key();
    CHECK_FALSE(std::equal(std::begin(before), std::end(before), std::begin(net::rss_key)));
    CHECK(net::port_rank(12) == 12);
    CHECK(net::port_rank(12, true) == 12);
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; i++) {
        uint32_t src = rng(), dst = rng(), ports = rng();
        uint16_t sport = uint16_t(ports >> 16), dport = uint16_t(ports);
        uint32_t tuple[3] = {src, dst, uint32_t(sport) << 16 | dport};
        REQUIRE(net::rss_hash(htonl(src), htonl(dst), htons(sport), htons(dport)) == rte_softrss(tuple, 3, net::rss_key));
        REQUIRE((net::source_part(htonl(src), htons(sport)) ^ net::address_part(htonl(dst)) ^ net::port_part(htons(dport))) ==
                rte_softrss(tuple, 3, net::rss_key));
    }
    laddr_pool p({4096}, 1024, 65535, 0, 1);
    std::vector<uint32_t> n(4096, 0);
    for (uint32_t lport = 1024; lport <= 65535; lport++) n[p.bucket_of(static_cast<uint16_t>(lport), 4096)]++;
    CHECK(std::count(n.begin(), n.end(), 0u) == 0);
    std::copy(std::begin(before), std::end(before), net::rss_key); // the other tests use the default
}
