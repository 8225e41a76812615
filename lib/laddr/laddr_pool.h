// Local address/port pool: the full-NAT source addresses (laddr:lport) of one worker.
//
// How a laddr's ports are dealt depends on how its port steers replies (dataplane
// port_rt::steer):
//   by share (redirect, flow, one worker): the worker owns the lports with
//     lport % n_workers == worker, which any worker can compute to send a misdelivered
//     reply home through the software redirect ring.
//   by RSS bucket (rss, emulated): every worker holds every lport, sorted into one FIFO
//     per RETA entry by the lport's share of the reply's Toeplitz hash (low bits of
//     net::port_part). A reply's hash is source_part(backend) ^ address_part(laddr) ^
//     port_part(lport), so for a connection the worker wants RETA entry t it takes an
//     lport from bucket (source_part ^ address_part ^ t) & (buckets - 1): the NIC then
//     delivers the reply to t's queue, its own. For one backend a given lport sends its
//     reply to exactly one queue, so two workers can never hand out the same
//     (backend, laddr, lport): no sharing, no atomics.
// FIFO order maximises the time before a port is reused, which keeps a backend's
// TIME_WAIT entries from colliding with new connections.
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
    // rss_buckets[l]: 0 to deal laddr l by share, else its port's RETA size (a power of two).
    laddr_pool(const std::vector<uint32_t> &rss_buckets, uint16_t port_min, uint16_t port_max, uint32_t worker,
               uint32_t n_workers);

    bool rss(uint32_t laddr) const { return _laddrs[laddr].buckets > 1; }
    uint32_t buckets(uint32_t laddr) const { return _laddrs[laddr].buckets; }
    // The low bits of port_part(lport): its bucket in an RSS laddr of `buckets` buckets.
    uint32_t bucket_of(uint16_t lport, uint32_t buckets) const { return _lport_bits[lport - _port_min] & (buckets - 1); }

    // A free lport of `laddr` (from `bucket` when it is an RSS laddr; 0 otherwise).
    bool take(uint32_t laddr, uint32_t bucket, uint32_t &entry) {
        fifo &f = _fifos[_laddrs[laddr].first + bucket];
        if (f.count == 0) return false;
        entry = make_entry(laddr, _store[f.start + f.head]);
        f.head = f.head + 1 == f.size ? 0 : f.head + 1;
        f.count--;
        _free--;
        return true;
    }
    // From an RSS laddr: an lport whose reply lands on a RETA entry of `queue` (entries j
    // with j % queues == queue), `fixed` being the rest of the reply's hash
    // (source_part(backend) ^ address_part(laddr)). Aims at those entries in turn from
    // `turn`, skipping buckets that ran dry.
    bool take_rss(uint32_t laddr, uint32_t fixed, uint32_t queue, uint32_t queues, uint32_t &turn, uint32_t &entry) {
        uint32_t buckets = _laddrs[laddr].buckets, own = buckets / queues;
        fixed &= buckets - 1;
        for (uint32_t i = 0; i < own; i++)
            if (take(laddr, fixed ^ (((turn + i) % own) * queues + queue), entry)) {
                turn += i + 1;
                return true;
            }
        return false;
    }
    void give(uint32_t entry) {
        uint32_t l = entry_laddr(entry);
        uint16_t lport = entry_port(entry);
        fifo &f = _fifos[_laddrs[l].first + (rss(l) ? bucket_of(lport, _laddrs[l].buckets) : 0)];
        uint32_t tail = f.head + f.count;
        if (tail >= f.size) tail -= f.size;
        _store[f.start + tail] = lport;
        f.count++;
        _free++;
    }

    size_t free_count() const { return _free; }
    size_t capacity() const { return _store.size(); }

  private:
    struct fifo {
        uint32_t start, size, head, count;
    };
    struct laddr_fifos {
        uint32_t first;   // index of its first fifo
        uint32_t buckets; // 1: by share
    };
    uint16_t _port_min;
    std::vector<uint16_t> _lport_bits; // by lport - port_min
    std::vector<uint16_t> _store;      // every fifo's ring, one after another
    std::vector<fifo> _fifos;
    std::vector<laddr_fifos> _laddrs;
    size_t _free = 0;
};

} // namespace fulcrum::laddr
