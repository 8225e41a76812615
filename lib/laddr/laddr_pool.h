// Local address/port candidates: the full-NAT source addresses (laddr:lport) of one
// worker, dealt in turn.
//
// A connection's reply tuple (backend, bport, laddr, lport) is what has to be unique,
// not the lport: the same laddr:lport serves a connection to every backend address and
// port at once. So the pool holds no free list. It offers candidates in a fixed
// rotation, and the worker takes the first whose reply tuple its connection table does
// not hold (worker::take_lport): capacity is the lport range per laddr *per backend
// port*, and a port is offered again only after the rotation has gone round, which
// keeps a backend's TIME_WAIT entries from colliding with new connections.
//
// Which lports a worker offers depends on how its port steers replies (dataplane
// port_rt::steer):
//   by share (redirect, flow, one worker): the worker offers the lports with
//     lport % n_workers == worker, which any worker can compute to send a misdelivered
//     reply home through the software redirect ring.
//   by RSS bucket (rss, emulated): every worker holds every lport, sorted into one
//     rotation per RETA entry by the lport's share of the reply's Toeplitz hash (low
//     bits of net::port_part). A reply's hash is source_part(backend) ^
//     address_part(laddr) ^ port_part(lport), so for a connection the worker wants RETA
//     entry t it takes an lport from bucket (source_part ^ address_part ^ t) &
//     (buckets - 1): the NIC then delivers the reply to t's queue, its own. For one
//     backend a given lport sends its reply to exactly one queue, so two workers can
//     never hand out the same (backend, laddr, lport): no sharing, no atomics.
//     An IPv6 laddr's rotations sort by the port's share of the IPv6 tuple's hash
//     (net::port_part6: the port stands at byte 34 of 36, so its share differs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fulcrum::laddr {

inline uint32_t owner_of_port(uint16_t lport, uint32_t n_workers) { return lport % n_workers; }

class laddr_pool {
  public:
    // rss_buckets[l]: 0 to deal laddr l by share, else its port's RETA size (a power of
    // two); v6[l] (missing: false): laddr l is IPv6.
    laddr_pool(const std::vector<uint32_t> &rss_buckets, uint16_t port_min, uint16_t port_max, uint32_t worker,
               uint32_t n_workers, const std::vector<bool> &v6 = {});

    bool rss(uint32_t laddr) const { return _laddrs[laddr].buckets > 1; }
    uint32_t buckets(uint32_t laddr) const { return _laddrs[laddr].buckets; }
    // The low bits of port_part(lport) (port_part6 for an IPv6 laddr): its bucket in an
    // RSS laddr of `buckets` buckets.
    uint32_t bucket_of(uint16_t lport, uint32_t buckets, bool v6 = false) const {
        return (v6 ? _lport_bits6 : _lport_bits)[lport - _port_min] & (buckets - 1);
    }

    // The next candidate lport (host order) of `laddr`'s `bucket` (0 for a laddr dealt by
    // share); false when that bucket holds none.
    bool next(uint32_t laddr, uint32_t bucket, uint16_t &lport) {
        rotation &r = _rotations[_laddrs[laddr].first + bucket];
        if (r.size == 0) return false;
        lport = _store[r.start + r.at];
        // (Relaxed: the control thread reads the cursors to keep them across a restart.)
        __atomic_store_n(&r.at, r.at + 1 == r.size ? 0 : r.at + 1, __ATOMIC_RELAXED);
        return true;
    }
    // For an RSS laddr, try `k` of a connection: the bucket of the `k`-th RETA entry of
    // `queue` (entries j with j % queues == queue) from `turn`, `fixed` being the rest of
    // the reply's hash (source_part(backend) ^ address_part(laddr)).
    uint32_t rss_bucket(uint32_t laddr, uint32_t fixed, uint32_t queue, uint32_t queues, uint32_t turn) const {
        uint32_t buckets = _laddrs[laddr].buckets, own = buckets / queues;
        return (fixed ^ ((turn % own) * queues + queue)) & (buckets - 1);
    }

    // Where the rotations stand, to go on there after a restart (deploy/lport_state.h):
    // each rotation's cursor, read from another thread while the worker deals (a value
    // a few candidates old at most).
    std::vector<uint32_t> cursors() const;
    // Before the worker runs: rotation i starts at at[i] + skip[i] (modulo its size); the
    // sizes must be this pool's (the same layout()).
    void resume(const std::vector<uint32_t> &at, const std::vector<uint32_t> &skip);
    // Before the worker runs: each rotation starts at a random place.
    void scatter(uint64_t seed);
    // A hash of every rotation's lports in order: equal layouts deal alike.
    uint64_t layout() const { return _layout; }
    size_t rotations() const { return _rotations.size(); }
    uint32_t rotation_size(size_t i) const { return _rotations[i].size; }

    // Candidates per laddr this worker offers (each serves every backend port once).
    size_t per_laddr(uint32_t laddr) const { return _laddrs[laddr].ports; }
    size_t capacity() const { return _store.size(); }

  private:
    struct rotation {
        uint32_t start, size, at;
    };
    struct laddr_rotations {
        uint32_t first;   // index of its first rotation
        uint32_t buckets; // 1: by share
        uint32_t ports;   // in all its rotations
        bool v6;
    };
    uint16_t _port_min;
    std::vector<uint16_t> _lport_bits;  // by lport - port_min
    std::vector<uint16_t> _lport_bits6; // the same for IPv6 tuples (only with an IPv6 RSS laddr)
    std::vector<uint16_t> _store;      // every rotation's ports, one after another
    std::vector<rotation> _rotations;
    std::vector<laddr_rotations> _laddrs;
    uint64_t _layout = 0;
};

} // namespace fulcrum::laddr
