// Per-worker timer wheel for connection expiry (hashed wheel, 100 ticks per second).
//
// Packets only move a connection's expire_tick forward, which costs a store: the wheel
// notices when the slot fires and files the entry again further on. Only a shorter
// timeout (a state change such as ESTABLISHED -> FIN_WAIT) relinks the entry at once.
// Each slot is a circular doubly-linked list threaded through the connections
// themselves; indices at or above the table's capacity are the slots' sentinels.
#pragma once

#include "conn/conn_table.h"

#include <cstdint>
#include <vector>

namespace fulcrum::conn {

class timer_wheel {
  public:
    static constexpr uint32_t ticks_per_second = 100;

    timer_wheel(conn_table &table, uint32_t slots_pow2 = 8192);

    // The tick already processed; call once before use.
    void start(uint32_t now_tick) { _cur = now_tick; }
    uint32_t current() const { return _cur; }

    // File a connection by its expire_tick.
    void add(connection *c);
    void remove(connection *c);
    // Set a new expiry: lazy when it grows, relinked when it shrinks.
    void set_expiry(connection *c, uint32_t expire_tick) {
        if (static_cast<int32_t>(expire_tick - c->expire_tick) >= 0) {
            c->expire_tick = expire_tick;
            return;
        }
        remove(c);
        c->expire_tick = expire_tick;
        add(c);
    }

    // Process slots up to `now_tick`, calling `on_expire(connection*)` (after unlinking) for
    // each due connection, at most `budget` of them. Returns how many expired.
    template <class F>
    uint32_t advance(uint32_t now_tick, F &&on_expire, uint32_t budget) {
        uint32_t expired = 0;
        while (static_cast<int32_t>(now_tick - _cur) > 0) {
            uint32_t tick = _cur + 1;
            uint32_t head = sentinel(tick);
            uint32_t i = next(head);
            while (i != head) {
                if (expired == budget) return expired;
                uint32_t n = next(i);
                connection &c = _table.at(i);
                unlink(i);
                if (static_cast<int32_t>(c.expire_tick - tick) <= 0) {
                    on_expire(&c);
                    expired++;
                } else {
                    add(&c);
                }
                i = n;
            }
            _cur = tick;
        }
        return expired;
    }

    // The first connection, in expiry order, that `pred` accepts: slots from tick
    // `from` (at least the next tick) onward, at most `max_slots` of them and
    // `max_entries` entries examined. The wheel's order is the expiry order of entries
    // that were never extended, so among short-lived (unreplied) entries this is the
    // one due soonest: the least recently active. `from` is set to the tick of the slot
    // it was found in, so a caller can resume there (the slots before held nothing it
    // wanted). nullptr when none was found within the budget.
    template <class P>
    connection *find_due_first(P &&pred, uint32_t &from, uint32_t max_slots, uint32_t max_entries) {
        uint32_t tick = static_cast<int32_t>(from - (_cur + 1)) > 0 ? from : _cur + 1;
        for (uint32_t k = 0; k < max_slots && k <= _mask; k++, tick++) {
            uint32_t head = sentinel(tick);
            for (uint32_t i = next(head); i != head; i = next(i)) {
                if (max_entries-- == 0) return nullptr;
                connection &c = _table.at(i);
                if (pred(c)) {
                    from = tick;
                    return &c;
                }
            }
        }
        return nullptr;
    }

  private:
    uint32_t sentinel(uint32_t tick) const { return _base + (tick & _mask); }
    uint32_t &next(uint32_t i) { return i >= _base ? _links[i - _base].next : _table.at(i).timer_next; }
    uint32_t &prev(uint32_t i) { return i >= _base ? _links[i - _base].prev : _table.at(i).timer_prev; }
    void unlink(uint32_t i) {
        uint32_t n = next(i), p = prev(i);
        next(p) = n;
        prev(n) = p;
    }

    struct link {
        uint32_t next, prev;
    };
    conn_table &_table;
    uint32_t _base; // == table capacity
    uint32_t _mask;
    uint32_t _cur = 0;
    std::vector<link> _links;
};

} // namespace fulcrum::conn
