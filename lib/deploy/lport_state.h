// Where each worker's lport rotations stood, kept across restarts (README "Restart"): a
// process that starts without its old connection table must not offer laddr:lport pairs
// the backends may still hold for the old process's connections (ESTABLISHED, or
// TIME_WAIT for their 60 s): a SYN on such a tuple meets an ACK for the old connection,
// the client resets it and retries a second later. The rotations offer each pair again
// only after going round (laddr/laddr_pool.h), so a process that goes on where the last
// one stood offers the least recently used pairs first, as the old process would have.
//
// The file (the state file's path + ".lports") is written every second by the control
// loop and once more after the workers stop ("clean"), to a temporary name and renamed.
// After a clean stop a start resumes exactly there; after a crash the file is up to a
// second old, so each rotation also skips twice what it dealt in the last interval saved,
// and 64 candidates more. A worker whose layout (lport range, laddrs, buckets, workers)
// changed, or a start with no file, begins each rotation at a random place instead of
// its first lport, so that repeated fresh starts do not all offer 1024 first.
#pragma once

#include "deploy/deployment.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::deploy {

class lport_state {
  public:
    explicit lport_state(std::string path) : _path(std::move(path)) {}
    // Before launch: every worker resumes from the file or scatters; a line for the log.
    std::string restore(deployment &dp);
    // The rotations now (clean: after the workers stopped); false, with `error`, when the
    // file cannot be written (kept and tried again next time).
    bool save(const deployment &dp, bool clean, std::string &error);
    const std::string &path() const { return _path; }

    static constexpr uint32_t crash_margin = 64; // candidates skipped past twice the last interval's

  private:
    std::string _path;
    std::vector<std::vector<uint32_t>> _last; // per worker, the cursors saved last
};

} // namespace fulcrum::deploy
