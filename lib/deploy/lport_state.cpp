#include "deploy/lport_state.h"

#include "core/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

namespace fulcrum::deploy {

namespace {
constexpr uint32_t magic = 0x53504c46, version = 1; // "FLPS"

struct saved_worker {
    uint64_t layout = 0;
    std::vector<uint32_t> at, dealt; // per rotation: the cursor, and how far it moved in the last interval
};

// The file, or nothing when it is missing, short, or not this format.
std::vector<saved_worker> read_file(const std::string &path, bool &clean) {
    std::ifstream in(path, std::ios::binary);
    auto get = [&](auto &v) { return bool(in.read(reinterpret_cast<char *>(&v), sizeof v)); };
    uint32_t m = 0, v = 0, c = 0, n = 0;
    if (!get(m) || !get(v) || !get(c) || !get(n) || m != magic || v != version || n > 1024) return {};
    clean = c != 0;
    std::vector<saved_worker> out(n);
    for (auto &w : out) {
        uint32_t rotations = 0;
        if (!get(w.layout) || !get(rotations) || rotations > (1u << 18)) return {};
        w.at.resize(rotations), w.dealt.resize(rotations);
        for (uint32_t i = 0; i < rotations; i++)
            if (!get(w.at[i]) || !get(w.dealt[i])) return {};
    }
    return out;
}
} // namespace

std::string lport_state::restore(deployment &dp) {
    bool clean = false;
    std::vector<saved_worker> saved = _path.empty() ? std::vector<saved_worker>{} : read_file(_path, clean);
    std::random_device rd;
    size_t resumed = 0;
    for (size_t i = 0; i < dp.worker_count(); i++) {
        laddr::laddr_pool &pool = dp.worker_at(i).lports_for_start();
        if (i < saved.size() && saved[i].layout == pool.layout() && saved[i].at.size() == pool.rotations()) {
            std::vector<uint32_t> skip(saved[i].dealt.size(), 0);
            if (!clean)
                for (size_t r = 0; r < skip.size(); r++) skip[r] = 2 * saved[i].dealt[r] + crash_margin;
            pool.resume(saved[i].at, skip);
            resumed++;
        } else {
            pool.scatter((uint64_t(rd()) << 32) | rd());
        }
        _last.push_back(pool.cursors());
    }
    if (_path.empty()) return "lports: each rotation starts at a random place (no --state-file to keep them in)";
    if (resumed == dp.worker_count())
        return "lports: resumed from " + _path + (clean ? " (a clean stop: exactly where it left off)"
                                                         : " (not a clean stop: past what the last second may have dealt)");
    return "lports: " + std::to_string(dp.worker_count() - resumed) + " worker(s) start at random places (" +
           (saved.empty() ? "no saved rotations in " + _path : "the saved layout differs") + ")";
}

bool lport_state::save(const deployment &dp, bool clean, std::string &error) {
    if (_path.empty()) return true;
    std::string data;
    auto put = [&](const auto &v) { data.append(reinterpret_cast<const char *>(&v), sizeof v); };
    put(magic), put(version), put(uint32_t(clean)), put(uint32_t(dp.worker_count()));
    _last.resize(dp.worker_count());
    for (size_t i = 0; i < dp.worker_count(); i++) {
        const laddr::laddr_pool &pool = dp.worker_at(i).lports();
        std::vector<uint32_t> now = pool.cursors();
        if (_last[i].size() != now.size()) _last[i] = now;
        put(pool.layout()), put(uint32_t(now.size()));
        for (size_t r = 0; r < now.size(); r++) {
            uint32_t size = pool.rotation_size(r);
            uint32_t dealt = size ? (now[r] + size - _last[i][r] % size) % size : 0;
            put(now[r]), put(dealt);
        }
        _last[i] = std::move(now);
    }
    return replace_file(_path, data, 0600, error);
}

} // namespace fulcrum::deploy
