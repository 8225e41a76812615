#include "conn/conn_table.h"
#include "conn/timer_wheel.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

using namespace fulcrum::conn;

namespace {
connection *add(conn_table &t, uint32_t i) {
    connection *c = t.alloc();
    if (!c) return nullptr;
    c->cip = 0x0a000000 + i, c->vip = 0x0a0000ff, c->cport = uint16_t(i), c->vport = 80;
    c->bip = 0x0b000000 + i % 7, c->laddr = 0x0c000001, c->lport = uint16_t(1024 + i), c->bport = 8080;
    c->proto = 6;
    if (!t.insert(c)) {
        t.release(c);
        return nullptr;
    }
    return c;
}
unsigned find(conn_table &t, const flow_key &k, connection *&out) {
    unsigned dir = 9;
    out = t.lookup(k, t.hash(k), dir);
    return dir;
}
} // namespace

TEST_CASE("both directions of a connection are found, and nothing else", "[conn]") {
    conn_table t(1024);
    std::vector<connection *> all;
    for (uint32_t i = 0; i < 1000; i++) all.push_back(add(t, i));
    for (connection *c : all) {
        REQUIRE(c);
        connection *got;
        CHECK(find(t, key_of(*c, 0), got) == 0);
        CHECK(got == c);
        CHECK(find(t, key_of(*c, 1), got) == 1);
        CHECK(got == c);
    }
    flow_key other = key_of(*all[0], 0);
    other.ports ^= 0xffff;
    connection *got;
    find(t, other, got);
    CHECK(got == nullptr);
}

TEST_CASE("a full table refuses new connections and keeps the old ones", "[conn]") {
    conn_table t(64);
    for (uint32_t i = 0; i < 64; i++) REQUIRE(add(t, i));
    CHECK(add(t, 64) == nullptr);
    CHECK(t.in_use() == 64);
    connection *got;
    connection probe{};
    probe.cip = 0x0a000000 + 5, probe.vip = 0x0a0000ff, probe.cport = 5, probe.vport = 80, probe.proto = 6;
    find(t, key_of(probe, 0), got);
    CHECK(got != nullptr);
}

TEST_CASE("removed connections vanish from both indexes and their slot is reused", "[conn]") {
    conn_table t(256);
    std::vector<connection *> all;
    for (uint32_t i = 0; i < 256; i++) all.push_back(add(t, i));
    for (uint32_t i = 0; i < 256; i += 2) t.remove(all[i]);
    CHECK(t.in_use() == 128);
    for (uint32_t i = 0; i < 256; i++) {
        connection *got;
        find(t, key_of(*all[i], 1), got);
        CHECK((got != nullptr) == (i % 2 == 1));
    }
    for (uint32_t i = 1000; i < 1128; i++) CHECK(add(t, i) != nullptr);
    CHECK(t.in_use() == 256);
}

TEST_CASE("memory per connection stays at or below 128 bytes", "[conn]") {
    for (uint32_t cap : {1u << 16, 1u << 20, 1000000u}) {
        conn_table t(cap);
        INFO("capacity " << cap << " bytes/conn " << t.bytes() / cap);
        CHECK(t.bytes() / cap <= 128);
    }
}

TEST_CASE("the timer wheel expires connections at their tick, extended lazily or shortened", "[conn][timer]") {
    conn_table t(64);
    timer_wheel w(t, 256);
    w.start(0);
    connection *a = add(t, 1), *b = add(t, 2), *c = add(t, 3);
    a->expire_tick = 10, b->expire_tick = 1000, c->expire_tick = 50; // b is past the wheel span
    w.add(a), w.add(b), w.add(c);
    std::vector<connection *> fired;
    auto collect = [&](connection *x) { fired.push_back(x); };
    w.advance(9, collect, 100);
    CHECK(fired.empty());
    w.set_expiry(a, 30); // extended by traffic
    w.advance(29, collect, 100);
    CHECK(fired.empty());
    w.advance(30, collect, 100);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == a);
    w.set_expiry(c, 35); // shortened by a state change
    w.advance(40, collect, 100);
    REQUIRE(fired.size() == 2);
    CHECK(fired[1] == c);
    w.advance(999, collect, 100);
    CHECK(fired.size() == 2);
    w.advance(1000, collect, 100);
    REQUIRE(fired.size() == 3);
    CHECK(fired[2] == b);
}

TEST_CASE("the timer wheel honours its per-call budget", "[conn][timer]") {
    conn_table t(64);
    timer_wheel w(t, 256);
    w.start(0);
    for (uint32_t i = 0; i < 10; i++) {
        connection *c = add(t, i);
        c->expire_tick = 5;
        w.add(c);
    }
    int n = 0;
    auto count = [&](connection *) { n++; };
    CHECK(w.advance(5, count, 4) == 4);
    CHECK(w.advance(5, count, 4) == 4);
    CHECK(w.advance(5, count, 4) == 2);
    CHECK(n == 10);
}

TEST_CASE("each table draws its own hash seed unless one is given", "[conn]") {
    // Eight tables: with 32 random bits each, two equal seeds would mean no randomness.
    std::vector<uint32_t> seeds;
    for (int i = 0; i < 8; i++) seeds.push_back(conn_table(64).seed());
    std::sort(seeds.begin(), seeds.end());
    CHECK(std::adjacent_find(seeds.begin(), seeds.end()) == seeds.end());
    for (uint32_t s : seeds) CHECK(s != 0);

    conn_table a(64, conn_table::first_touch::now, 7), b(64, conn_table::first_touch::now, 8);
    flow_key k{0x0a000001, 0x0a0000ff, pack_ports(1234, 80), 6};
    CHECK(a.seed() == 7);
    CHECK(a.hash(k) == conn_table::hash_with(k, 7));
    CHECK(a.hash(k) != b.hash(k)); // the seed changes where a tuple lands
    // And a table still finds what it holds under its own seed.
    connection *c = add(a, 5);
    REQUIRE(c);
    connection *got;
    CHECK(find(a, key_of(*c, 0), got) == 0);
    CHECK(got == c);
}

TEST_CASE("deferred inserts: the client direction at once, the reply direction at the burst's end; a connection "
          "removed before then leaves nothing behind, and its reused entry is indexed once", "[conn]") {
    conn_table t(1024);
    auto fill = [](connection *c, uint32_t i) {
        c->cip = 0x0a000000 + i, c->vip = 0x0a0000ff, c->cport = uint16_t(i), c->vport = 80;
        c->bip = 0x0b000001, c->laddr = 0x0c000001, c->lport = uint16_t(1024 + i), c->bport = 8080;
        c->proto = 6;
    };
    std::vector<connection *> burst;
    for (uint32_t i = 0; i < 32; i++) {
        connection *c = t.alloc();
        fill(c, i);
        REQUIRE(t.insert_deferred(c, t.hash(key_of(*c, 0))));
        burst.push_back(c);
    }
    connection *got;
    CHECK(find(t, key_of(*burst[5], 0), got) == 0);
    CHECK(got == burst[5]);
    CHECK(find(t, key_of(*burst[5], 1), got) == 9); // not yet
    // One goes before the burst ends (a reset, an eviction); its entry is taken again.
    flow_key gone_reply = key_of(*burst[7], 1);
    t.remove(burst[7]);
    connection *again = t.alloc();
    REQUIRE(again == burst[7]); // the pool is LIFO
    fill(again, 100);
    REQUIRE(t.insert_deferred(again, t.hash(key_of(*again, 0))));
    size_t failed = 0;
    t.flush_deferred([&](connection *) { failed++; });
    CHECK(failed == 0);
    for (uint32_t i = 0; i < 32; i++) {
        CHECK(find(t, key_of(*burst[i], 0), got) == 0);
        CHECK(got == burst[i]);
        CHECK(find(t, key_of(*burst[i], 1), got) == 1);
        CHECK(got == burst[i]);
    }
    CHECK(find(t, gone_reply, got) == 9);
    // Everything comes out clean: after removing all, no index entry is left.
    for (connection *c : burst) t.remove(c);
    CHECK(t.in_use() == 0);
    for (uint32_t i = 0; i < 32; i++) {
        connection probe{};
        fill(&probe, i);
        CHECK(find(t, key_of(probe, 0), got) == 9);
        CHECK(find(t, key_of(probe, 1), got) == 9);
    }
}
