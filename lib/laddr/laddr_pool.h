// Local address/port pool: the full-NAT source addresses (laddr:lport) of one worker.
//
// Every (laddr, lport) belongs to exactly one worker, so taking and returning a port is
// a plain FIFO operation on the worker's own array: no atomics. Ownership is
// `lport % n_workers`, which any worker can compute to send a misdelivered reply home
// (the software redirect of DESIGN.md). FIFO order maximises the time before a port is
// reused, which keeps a backend's TIME_WAIT entries from colliding with new connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fulcrum::laddr {

// An entry packs (laddr index << 16) | lport.
inline uint32_t make_entry(uint32_t laddr_index, uint16_t lport) { return laddr_index << 16 | lport; }
inline uint32_t entry_laddr(uint32_t e) { return e >> 16; }
inline uint16_t entry_port(uint32_t e) { return static_cast<uint16_t>(e & 0xffff); }

inline uint32_t owner_of_port(uint16_t lport, uint32_t n_workers) { return lport % n_workers; }

class laddr_pool {
  public:
    laddr_pool(uint32_t n_laddrs, uint16_t port_min, uint16_t port_max, uint32_t worker,
               uint32_t n_workers);

    bool take(uint32_t &entry) {
        if (_count == 0) return false;
        entry = _ring[_head];
        _head = _head + 1 == _ring.size() ? 0 : _head + 1;
        _count--;
        return true;
    }

    void give(uint32_t entry) {
        size_t tail = _head + _count;
        if (tail >= _ring.size()) tail -= _ring.size();
        _ring[tail] = entry;
        _count++;
    }

    size_t free_count() const { return _count; }
    size_t capacity() const { return _ring.size(); }

  private:
    std::vector<uint32_t> _ring;
    size_t _head = 0;
    size_t _count = 0;
};

} // namespace fulcrum::laddr
