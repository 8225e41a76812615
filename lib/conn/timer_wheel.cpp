#include "conn/timer_wheel.h"

namespace fulcrum::conn {

timer_wheel::timer_wheel(conn_table &table, uint32_t slots_pow2)
    : _table(table), _base(table.capacity()), _mask(slots_pow2 - 1), _links(slots_pow2) {
    for (uint32_t s = 0; s < slots_pow2; s++) _links[s] = {_base + s, _base + s};
}

void timer_wheel::add(connection *c) {
    uint32_t target = c->expire_tick;
    int32_t ahead = static_cast<int32_t>(target - _cur);
    if (ahead <= 0) target = _cur + 1;
    else if (static_cast<uint32_t>(ahead) > _mask) target = _cur + _mask; // re-filed on firing
    uint32_t head = sentinel(target);
    uint32_t i = _table.index_of(c);
    uint32_t first = next(head);
    c->timer_next = first;
    c->timer_prev = head;
    prev(first) = i;
    next(head) = i;
}

void timer_wheel::remove(connection *c) { unlink(_table.index_of(c)); }

} // namespace fulcrum::conn
