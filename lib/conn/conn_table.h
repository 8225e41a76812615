// Per-worker connection table: a preallocated pool of `connection` lines plus an
// open-addressing index with one 64-byte bucket per cache line (VPP lb's layout).
//
// Each connection is indexed twice (client tuple and reply tuple). A bucket holds seven
// (signature, value) slots and an overflow count: the number of entries whose home is
// this bucket or an earlier one but which were placed past it. A lookup stops at the
// first bucket with overflow 0, so misses are usually one cache line. Nothing here is
// shared: the owning worker is the only reader and writer.
//
// Connections with an IPv6 side take a second entry from the IPv6 pool (conn_addr6, 64
// bytes: conn.h says how it is found), so IPv4 connections stay one line and the pool
// costs nothing when no IPv6 address is configured (its capacity is then 0).
#pragma once

#include "conn/conn.h"

#include <rte_hash_crc.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

namespace fulcrum::conn {

// The table's memory could not be mapped (what and how much in the message).
struct table_alloc_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class conn_table {
  public:
    static constexpr unsigned slots_per_bucket = 7;
    static constexpr unsigned max_probe = 16;
    static constexpr uint32_t no_conn = UINT32_MAX;

    // `touch_later`: allocate only; prepare() zeroes and fills the pool, so the pages are
    // first touched (and placed on a NUMA node) by the thread that calls it: the worker.
    enum class first_touch { now, later };
    // `seed` keys the index hash; 0 picks a random one (each start differs, so an attacker
    // cannot precompute tuples that pile into one bucket chain).
    // `capacity6`: how many of them may have an IPv6 side (at most `capacity`).
    explicit conn_table(uint32_t capacity, first_touch when = first_touch::now, uint32_t seed = 0,
                        uint32_t capacity6 = 0);
    void prepare();
    bool prepared() const { return _prepared; }
    ~conn_table();
    conn_table(const conn_table &) = delete;
    conn_table &operator=(const conn_table &) = delete;

    static uint32_t hash_with(const flow_key &k, uint32_t seed) {
        uint64_t a = uint64_t(k.src) | uint64_t(k.dst) << 32;
        uint32_t b = k.ports;
        uint32_t h = rte_hash_crc_8byte(a, seed ^ k.proto);
        return rte_hash_crc_4byte(b, h);
    }
    static uint32_t hash6_with(const flow_key6 &k, uint32_t seed) {
        uint64_t w[4];
        __builtin_memcpy(w, k.src, 16);
        __builtin_memcpy(w + 2, k.dst, 16);
        uint32_t h = rte_hash_crc_8byte(w[0], seed ^ k.proto ^ 0x6u << 8);
        h = rte_hash_crc_8byte(w[1], h);
        h = rte_hash_crc_8byte(w[2], h);
        h = rte_hash_crc_8byte(w[3], h);
        return rte_hash_crc_4byte(k.ports, h);
    }
    uint32_t hash(const flow_key &k) const { return hash_with(k, _seed); }
    uint32_t hash(const flow_key6 &k) const { return hash6_with(k, _seed); }
    // The hash a connection is indexed by in direction `dir`.
    uint32_t hash_of(const connection &c, unsigned dir) const {
        return dir_v6(c, dir) ? hash(key6_of(c, addr6(c), dir)) : hash(key_of(c, dir));
    }
    uint32_t seed() const { return _seed; }

    // Returns the connection and sets `dir` (0 client->VIP, 1 backend->laddr), or nullptr.
    connection *lookup(const flow_key &k, uint32_t h, unsigned &dir) const {
        return find(h, dir, [&](const connection &c, unsigned d) { return key_matches(c, d, k); });
    }
    connection *lookup(const flow_key6 &k, uint32_t h, unsigned &dir) const {
        return find(h, dir, [&](const connection &c, unsigned d) { return dir_v6(c, d) && key6_matches(c, addr6(c), d, k); });
    }

    // Burst pipelining: touch the home bucket of every packet first, then (once it is in
    // cache) prefetch the connection its matching signature points to. The bucket is
    // loaded rather than prefetched: on this VM's EPYC, prefetcht0 on cold lines gained
    // little while independent loads overlapped (100k flows: 8.2 vs 10.4 Mpps).
    void touch_bucket(uint32_t h) const { (void)*(volatile const uint32_t *)&_buckets[h & _mask].overflow; }
    void prefetch_conn(uint32_t h) const {
        const bucket &bk = _buckets[h & _mask];
        uint32_t sig = signature(h);
        for (unsigned s = 0; s < slots_per_bucket; s++)
            if (bk.sig[s] == sig) __builtin_prefetch(&_conns[bk.val[s] >> 1]);
    }

    // An IPv6 connection's pool entry, for the entries a signature points to: the third
    // line of an IPv6 lookup. Reads the connection (prefetch_conn brought it in a few
    // packets before).
    void prefetch_addr6(uint32_t h) const {
        const bucket &bk = _buckets[h & _mask];
        uint32_t sig = signature(h);
        for (unsigned s = 0; s < slots_per_bucket; s++)
            if (bk.sig[s] == sig) {
                const connection &c = _conns[bk.val[s] >> 1];
                if (is_v6(c) && c.cip < _capacity6) __builtin_prefetch(&_addr6[c.cip]);
            }
    }

    // A zeroed connection from the pool, or nullptr when the table is full.
    connection *alloc() {
        if (_free_top == 0) return nullptr;
        connection *c = &_conns[_free[--_free_top]];
        *c = connection{};
        return c;
    }
    // A zeroed connection with an IPv6 pool entry (conn.h: cip holds its index, vip 0),
    // or nullptr when either pool is empty.
    connection *alloc6() {
        if (_free6_top == 0) return nullptr;
        connection *c = alloc();
        if (!c) return nullptr;
        c->cip = _free6[--_free6_top];
        c->vip = 0;
        return c;
    }
    conn_addr6 &addr6(const connection &c) const { return _addr6[c.cip]; }
    // Return a connection that was allocated but never inserted.
    void release(connection *c) {
        if (is_v6(*c)) _free6[_free6_top++] = c->cip;
        c->proto = 0;
        _free[_free_top++] = index_of(c);
    }

    // Index both directions of a filled-in connection. False (and nothing indexed) when
    // either direction finds no slot within max_probe buckets.
    bool insert(connection *c);
    // A burst's inserts, batched: the client direction (whose home bucket the burst's
    // lookup already brought into cache; `h0` its hash) is indexed now; the reply
    // direction's bucket, a cold line, is prefetched and indexed by flush_deferred() at
    // the end of the burst, by when the line has arrived. Nothing can look the reply up
    // in between: the backend has not seen the connection yet. False (nothing indexed)
    // when the client direction finds no slot.
    bool insert_deferred(connection *c, uint32_t h0) {
        uint32_t idx = index_of(c);
        if (!insert_one(h0, idx << 1)) return false;
        uint32_t h1 = hash_of(*c, 1);
        __builtin_prefetch(&_buckets[h1 & _mask], 1);
        _deferred[_n_deferred++] = {idx, h1};
        return true;
    }
    bool deferred_full() const { return _n_deferred == max_deferred; }
    // Whether a connection of this burst, not yet indexed by its reply direction, has
    // reply tuple `k` (a lookup cannot see it yet).
    bool deferred_holds(const flow_key &k) const {
        for (uint32_t i = 0; i < _n_deferred; i++) {
            const connection &c = _conns[_deferred[i].idx];
            if (!dir_v6(c, 1) && key_matches(c, 1, k)) return true;
        }
        return false;
    }
    bool deferred_holds(const flow_key6 &k) const {
        for (uint32_t i = 0; i < _n_deferred; i++) {
            const connection &c = _conns[_deferred[i].idx];
            if (dir_v6(c, 1) && key6_matches(c, addr6(c), 1, k)) return true;
        }
        return false;
    }
    // Index the deferred reply directions; a connection whose reply finds no slot is
    // handed to `failed` (still indexed by its client direction: the caller expires it).
    template <class F> void flush_deferred(F &&failed) {
        uint32_t n = _n_deferred;
        _n_deferred = 0;
        for (uint32_t i = 0; i < n; i++)
            if (!insert_one(_deferred[i].h1, _deferred[i].idx << 1 | 1)) failed(&_conns[_deferred[i].idx]);
    }
    static constexpr uint32_t max_deferred = 64;
    // Unindex both directions and return the connection to the pool.
    void remove(connection *c);

    uint32_t index_of(const connection *c) const { return static_cast<uint32_t>(c - _conns); }
    connection &at(uint32_t idx) const { return _conns[idx]; }
    // Pool entries in use carry a protocol (sweeps walk the pool by index).
    static bool live(const connection &c) { return c.proto != 0; }

    uint32_t capacity() const { return _capacity; }
    uint32_t in_use() const { return _capacity - _free_top; }
    uint32_t capacity6() const { return _capacity6; }
    uint32_t in_use6() const { return _capacity6 - _free6_top; }
    size_t bucket_count() const { return _mask + 1; }
    // Bytes this table allocated, divided by capacity = memory per connection.
    size_t bytes() const;
    // What a table of `capacity` connections takes (entries, index, free pool, and the
    // IPv6 pool of `capacity6`), before it is made: for checking a configuration against
    // the host's memory.
    static size_t bytes_for(uint32_t capacity, uint32_t capacity6 = 0);
    // What one IPv6 pool entry adds to a connection (entry and its free-list word).
    static constexpr size_t bytes_per_addr6 = sizeof(conn_addr6) + sizeof(uint32_t);

  private:
    // The entry of hash `h` that `matches` (connection, direction), probing as insert placed it.
    template <class Match> connection *find(uint32_t h, unsigned &dir, Match &&matches) const {
        uint32_t sig = signature(h);
        uint32_t b = h & _mask;
        for (unsigned probe = 0; probe < max_probe; probe++) {
            const bucket &bk = _buckets[b];
            for (unsigned s = 0; s < slots_per_bucket; s++) {
                if (bk.sig[s] != sig) continue;
                connection &c = _conns[bk.val[s] >> 1];
                if (matches(c, bk.val[s] & 1)) {
                    dir = bk.val[s] & 1;
                    return &c;
                }
            }
            if (bk.overflow == 0) return nullptr;
            b = (b + 1) & _mask;
        }
        return nullptr;
    }
    static uint64_t buckets_for(uint32_t capacity);
    struct alignas(64) bucket {
        uint32_t sig[slots_per_bucket];
        uint32_t overflow;
        uint32_t val[slots_per_bucket]; // connection index << 1 | direction
        uint32_t pad;
    };
    static_assert(sizeof(bucket) == 64);

    static uint32_t signature(uint32_t h) { return (h >> 8) | 0x80000000u; }
    bool insert_one(uint32_t h, uint32_t val);
    void remove_one(uint32_t h, uint32_t val);

    uint32_t _capacity;
    uint32_t _seed;
    uint32_t _mask;
    connection *_conns = nullptr;
    bucket *_buckets = nullptr;
    uint32_t *_free = nullptr;
    uint32_t _free_top;
    uint32_t _capacity6;
    conn_addr6 *_addr6 = nullptr;
    uint32_t *_free6 = nullptr;
    uint32_t _free6_top = 0;
    struct deferred {
        uint32_t idx, h1;
    };
    deferred _deferred[max_deferred];
    uint32_t _n_deferred = 0;
    bool _prepared = false;
};

} // namespace fulcrum::conn
