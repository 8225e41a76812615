// Weighted round robin, built on the control side into a read-only pick sequence.
//
// The sequence is nginx's "smooth" WRR unrolled over one full cycle (sum of weights /
// gcd picks): weights 5/1/1 give a,a,b,a,c,a,a rather than a burst of five a's. A worker
// only walks the sequence with its own cursor, so a pick is one load, no lock, no
// per-packet arithmetic on weights. Workers start at different offsets so that N
// workers do not all send their next flow to the same backend.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fulcrum::sched {

// Indices into `weights` in pick order; entries with weight 0 never appear. Empty if
// every weight is 0.
std::vector<uint16_t> build_smooth_wrr(std::span<const uint8_t> weights);

// Plain round robin: every entry with weight > 0 once, in order.
std::vector<uint16_t> build_rr(std::span<const uint8_t> weights);

} // namespace fulcrum::sched
