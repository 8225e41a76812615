// A worker's time: the TSC read once per loop, as timer-wheel ticks and seconds, and the
// token bucket that rate limits are made of.
#pragma once

#include "conn/timer_wheel.h"

#include <algorithm>
#include <cstdint>

namespace fulcrum::dataplane {

struct worker_clock {
    uint64_t hz = 1, tsc_per_tick = 1, start_tsc = 0, now_tsc = 0;
    uint32_t now_tick = 0;

    void start(uint64_t hz_, uint64_t tsc) {
        hz = hz_, tsc_per_tick = hz_ / conn::timer_wheel::ticks_per_second, start_tsc = now_tsc = tsc;
    }
    void set(uint64_t tsc) {
        now_tsc = tsc;
        now_tick = static_cast<uint32_t>((tsc - start_tsc) / tsc_per_tick);
    }
    uint32_t seconds() const { return static_cast<uint32_t>(now_tsc / hz); }
    static uint32_t ticks(uint32_t seconds) { return seconds * conn::timer_wheel::ticks_per_second; }
};

// `n` frames' tokens (all or none) from a bucket refilled at `per_s` with room for
// `cap_frames`. Tokens are kept in frames x hz, so the refill needs no division.
struct token_bucket {
    uint64_t tokens = UINT64_MAX / 2, last_tsc = 0; // starts full (clamped to the cap)

    // `keep`: frames' tokens that must be left (a reserve only other takers may use).
    bool take(const worker_clock &clock, uint64_t per_s, uint64_t cap_frames, uint64_t n = 1, uint64_t keep = 0) {
        uint64_t elapsed = std::min(clock.now_tsc - last_tsc, clock.hz);
        last_tsc = clock.now_tsc;
        tokens = std::min(cap_frames * clock.hz, tokens + elapsed * per_s);
        if (tokens < (n + keep) * clock.hz) return false;
        tokens -= n * clock.hz;
        return true;
    }
};

} // namespace fulcrum::dataplane
