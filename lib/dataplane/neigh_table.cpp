#include "dataplane/neigh_table.h"

#include <algorithm>
#include <bit>

namespace fulcrum::dataplane {

namespace {
uint32_t index_slots(uint32_t capacity) { return std::bit_ceil(std::max<uint32_t>(16, capacity * 2)); }
} // namespace

neigh_table::neigh_table(uint32_t capacity, int socket)
    : _capacity(std::clamp<uint32_t>(capacity, 1, max_capacity)), _mask(index_slots(_capacity) - 1),
      _e(socket_array<neigh_entry>("the neighbour table", _capacity, socket)),
      _index(socket_array<uint16_t>("the neighbour index", _mask + 1, socket)) {
    std::fill(_index.get(), _index.get() + _mask + 1, empty);
    _free.reserve(_capacity);
    for (uint32_t i = _capacity; i-- > 0;) _free.push_back(static_cast<uint16_t>(i));
}

void neigh_table::index_insert(const net::ip_addr &a, uint16_t v) {
    uint32_t i = slot_of(a);
    while (_index[i] != empty && _index[i] != tombstone) i = (i + 1) & _mask;
    if (_index[i] == tombstone) _tombstones--;
    _index[i] = v;
}

void neigh_table::rebuild_index() {
    std::fill(_index.get(), _index.get() + _mask + 1, empty);
    _tombstones = 0;
    for (uint32_t i = 0; i < _capacity; i++)
        if (!_e[i].addr.none()) index_insert(_e[i].addr, static_cast<uint16_t>(i));
}

neigh_entry *neigh_table::find_or_add(const net::ip_addr &a, uint64_t now_tsc, bool *evicted) {
    if (neigh_entry *e = find(a)) return e;
    if (_free.empty()) {
        // Full: the least recently confirmed entry nobody uses, among a window of the
        // store that moves on each time (the cost of a full table is bounded per add).
        constexpr uint32_t window = 64;
        static_assert(window <= max_capacity);
        neigh_entry *victim = nullptr;
        for (uint32_t n = 0; n < std::min(window, _capacity); n++) {
            neigh_entry &c = _e[_evict_at];
            _evict_at = _evict_at + 1 == _capacity ? 0 : _evict_at + 1;
            if (c.evictable() && (!victim || c.confirmed_tsc < victim->confirmed_tsc)) victim = &c;
        }
        if (!victim) return nullptr;
        forget(*victim);
        if (evicted) *evicted = true;
    }
    uint16_t v = _free.back();
    _free.pop_back();
    neigh_entry &e = _e[v];
    e = neigh_entry{};
    e.addr = a;
    e.ip = a.is_v4() ? __builtin_bswap32(a.v4()) : 0;
    e.confirmed_tsc = now_tsc;
    index_insert(a, v);
    _used++;
    return &e;
}

void neigh_table::forget(neigh_entry &e) {
    uint32_t i = slot_of(e.addr);
    uint16_t v = index_of(&e);
    while (_index[i] != v) i = (i + 1) & _mask;
    // The end of a chain needs no tombstone: the slot (and tombstones before it) empty again.
    if (_index[(i + 1) & _mask] == empty) {
        _index[i] = empty;
        for (uint32_t p = (i - 1) & _mask; _index[p] == tombstone; p = (p - 1) & _mask) {
            _index[p] = empty;
            _tombstones--;
        }
    } else {
        _index[i] = tombstone;
        if (++_tombstones > (_mask + 1) / 4) rebuild_index();
    }
    e = neigh_entry{};
    _free.push_back(v);
    _used--;
}

} // namespace fulcrum::dataplane
