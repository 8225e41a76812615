#include "conn/conn_table.h"

#include <sys/mman.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace fulcrum::conn {

namespace {
constexpr size_t huge = size_t(2) << 20;
size_t line_bytes(size_t bytes) { return (bytes + huge - 1) & ~(huge - 1); }
// Fresh anonymous pages (never recycled by malloc, so untouched until first use),
// 2 MiB-aligned and THP-advised: a lookup is a random access, and with 4 KiB pages each
// one would also miss the TLB (measured: ~2x the forwarding rate).
template <class T>
T *alloc_lines(size_t n, const char *what) {
    size_t bytes = line_bytes(n * sizeof(T));
    void *raw = mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        throw table_alloc_failed("cannot map the connection table's " + std::string(what) + " (" +
                                 std::to_string(bytes) + " bytes for " + std::to_string(n) + " entries)");
    uintptr_t base = reinterpret_cast<uintptr_t>(raw), aligned = (base + huge - 1) & ~(huge - 1);
    if (aligned > base) munmap(raw, aligned - base);
    if (size_t tail = base + bytes + huge - (aligned + bytes)) munmap(reinterpret_cast<void *>(aligned + bytes), tail);
    madvise(reinterpret_cast<void *>(aligned), bytes, MADV_HUGEPAGE);
    return reinterpret_cast<T *>(aligned); // untouched: see conn_table::prepare
}
template <class T>
void free_lines(T *p, size_t n) {
    munmap(static_cast<void *>(p), line_bytes(n * sizeof(T)));
}
template <class T>
void zero_lines(T *p, size_t n) {
    std::memset(static_cast<void *>(p), 0, n * sizeof(T));
}
} // namespace

const char *tcp_state_name(tcp_state s) {
    static const char *names[] = {"NONE",     "SYN_SENT",  "SYN_RECV", "ESTABLISHED",
                                  "FIN_WAIT", "TIME_WAIT", "CLOSE"};
    return static_cast<unsigned>(s) < static_cast<unsigned>(tcp_state::count)
               ? names[static_cast<unsigned>(s)]
               : "?";
}

conn_table::conn_table(uint32_t capacity, first_touch when, uint32_t seed, uint32_t capacity6)
    : _capacity(capacity), _seed(seed), _capacity6(std::min(capacity6, capacity)) {
    while (_seed == 0 && getrandom(&_seed, sizeof(_seed), 0) != sizeof(_seed)) {
    }
    uint64_t n = buckets_for(capacity);
    _mask = static_cast<uint32_t>(n - 1);
    try {
        _conns = alloc_lines<connection>(capacity, "connections");
        _buckets = alloc_lines<bucket>(n, "index");
        _free = alloc_lines<uint32_t>(capacity, "free list");
        if (_capacity6) {
            _addr6 = alloc_lines<conn_addr6>(_capacity6, "IPv6 addresses");
            _free6 = alloc_lines<uint32_t>(_capacity6, "IPv6 free list");
        }
    } catch (const table_alloc_failed &) {
        if (_conns) free_lines(_conns, capacity);
        if (_buckets) free_lines(_buckets, n);
        if (_free) free_lines(_free, capacity);
        if (_addr6) free_lines(_addr6, _capacity6);
        throw;
    }
    _free_top = capacity; // nothing in use (the pool itself is filled by prepare)
    if (when == first_touch::now) prepare();
}

void conn_table::prepare() {
    if (_prepared) return;
    zero_lines(_conns, _capacity);
    zero_lines(_buckets, bucket_count());
    // LIFO pool filled so the lowest indices are handed out first.
    for (uint32_t i = 0; i < _capacity; i++) _free[i] = _capacity - 1 - i;
    _free_top = _capacity;
    if (_capacity6) zero_lines(_addr6, _capacity6);
    for (uint32_t i = 0; i < _capacity6; i++) _free6[i] = _capacity6 - 1 - i;
    _free6_top = _capacity6;
    _prepared = true;
}

conn_table::~conn_table() {
    free_lines(_conns, _capacity);
    free_lines(_buckets, bucket_count());
    free_lines(_free, _capacity);
    if (_capacity6) {
        free_lines(_addr6, _capacity6);
        free_lines(_free6, _capacity6);
    }
}

uint64_t conn_table::buckets_for(uint32_t capacity) {
    // Two entries per connection at a load factor of at most ~0.7.
    uint64_t want = (uint64_t(capacity) * 2 * 10 / 7 + slots_per_bucket - 1) / slots_per_bucket;
    uint64_t n = 1;
    while (n < want) n <<= 1;
    return n;
}

size_t conn_table::bytes_for(uint32_t capacity, uint32_t capacity6) {
    return size_t(capacity) * (sizeof(connection) + sizeof(uint32_t)) + buckets_for(capacity) * sizeof(bucket) +
           size_t(std::min(capacity6, capacity)) * bytes_per_addr6;
}

size_t conn_table::bytes() const { return bytes_for(_capacity, _capacity6); }

bool conn_table::insert_one(uint32_t h, uint32_t val) {
    uint32_t sig = signature(h);
    uint32_t home = h & _mask;
    uint32_t b = home;
    for (unsigned probe = 0; probe < max_probe; probe++) {
        bucket &bk = _buckets[b];
        for (unsigned s = 0; s < slots_per_bucket; s++) {
            if (bk.sig[s] != 0) continue;
            bk.sig[s] = sig;
            bk.val[s] = val;
            for (uint32_t o = home; o != b; o = (o + 1) & _mask) _buckets[o].overflow++;
            return true;
        }
        b = (b + 1) & _mask;
    }
    return false;
}

void conn_table::remove_one(uint32_t h, uint32_t val) {
    uint32_t sig = signature(h);
    uint32_t home = h & _mask;
    uint32_t b = home;
    for (unsigned probe = 0; probe < max_probe; probe++) {
        bucket &bk = _buckets[b];
        for (unsigned s = 0; s < slots_per_bucket; s++) {
            if (bk.sig[s] != sig || bk.val[s] != val) continue;
            bk.sig[s] = 0;
            bk.val[s] = 0;
            for (uint32_t o = home; o != b; o = (o + 1) & _mask) _buckets[o].overflow--;
            return;
        }
        b = (b + 1) & _mask;
    }
}

bool conn_table::insert(connection *c) {
    uint32_t idx = index_of(c);
    uint32_t h0 = hash_of(*c, 0);
    if (!insert_one(h0, idx << 1)) return false;
    if (!insert_one(hash_of(*c, 1), idx << 1 | 1)) {
        remove_one(h0, idx << 1);
        return false;
    }
    return true;
}

void conn_table::remove(connection *c) {
    uint32_t idx = index_of(c);
    // Removed before its burst ended: its reply direction was never indexed.
    for (uint32_t i = 0; i < _n_deferred; i++)
        if (_deferred[i].idx == idx) _deferred[i] = _deferred[--_n_deferred], i--;
    remove_one(hash_of(*c, 0), idx << 1);
    remove_one(hash_of(*c, 1), idx << 1 | 1);
    release(c);
}

} // namespace fulcrum::conn
