#include "control/announcer.h"

#include "config/parse.h"
#include "core/text_file.h"
#include "dataplane/log.h"

#include <rte_byteorder.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

extern char **environ;

namespace fulcrum::control {

namespace {
uint64_t now_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1000 + uint64_t(t.tv_nsec) / 1000000;
}
} // namespace

announcer::~announcer() {
    if (_child <= 0) return;
    kill(_child, SIGKILL); // no reload outlives the process that started it
    waitpid(_child, nullptr, 0);
}

std::vector<net::ip_addr> announcer::wanted(const dataplane::snapshot &s, bool drained) {
    std::vector<net::ip_addr> vips;
    if (drained) return vips;
    for (const auto &l : s.listeners)
        if (l.eligible_len > 0) vips.push_back(l.vip ? net::ip_addr::from_v4(rte_be_to_cpu_32(l.vip)) : l.vip6);
    std::sort(vips.begin(), vips.end());
    vips.erase(std::unique(vips.begin(), vips.end()), vips.end());
    return vips;
}

void announcer::configure(const config::bgp_settings &s) {
    if (s == _s) return;
    _s = s;
    _written = false; // a new file or command: the next update() tells the speaker again
}

void announcer::update(std::vector<net::ip_addr> vips) {
    if (vips == _st.announced && _written) return;
    for (const net::ip_addr &v : vips)
        if (!std::binary_search(_st.announced.begin(), _st.announced.end(), v))
            FULCRUM_LOG(NOTICE, control, "bgp: announce %s\n", net::format_ip(v).c_str());
    for (const net::ip_addr &v : _st.announced)
        if (!std::binary_search(vips.begin(), vips.end(), v))
            FULCRUM_LOG(NOTICE, control, "bgp: withdraw %s\n", net::format_ip(v).c_str());
    _st.announced = std::move(vips);
    _written = false;
    if (!_s.include_file.empty()) write_files();
}

// A VIP as the speaker's prefix: /32 or /128.
static std::string host_prefix(const net::ip_addr &v) { return net::format_ip(v) + (v.is_v4() ? "/32" : "/128"); }

void announcer::write_files() {
    if (!write_file(_s.include_file, false)) return;
    if (!_s.include_file6.empty() && !write_file(_s.include_file6, true)) return;
    _written = true;
    _st.pending = !_s.reload_command.empty();
    if (_st.pending && _child < 0) start_reload();
}

bool announcer::write_file(const std::string &path, bool v6) {
    std::string text = "# Written by Fulcrum: the VIPs this node serves (none while it is drained). Do not edit.\n";
    for (const net::ip_addr &v : _st.announced)
        if (v.is_v6() == v6) text += "route " + host_prefix(v) + " blackhole;\n";
    // Readable by the speaker, which often runs as its own user (Debian's BIRD runs as bird).
    if (!replace_file(path, text, 0644, _st.last_error)) {
        _st.failures++;
        FULCRUM_LOG(ERR, control, "bgp: %s\n", _st.last_error.c_str());
        _retry_ms = now_ms() + 1000; // poll() writes them again
        return false;
    }
    return true;
}

void announcer::start_reload() {
    std::vector<char *> argv;
    for (auto &a : _s.reload_command) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The child gets stdin/stdout/stderr only: not the control socket, its clients or
    // the hugepage files (a speaker's helper that lingers must not hold them).
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    // FULCRUM_VIPS: the set as prefixes ("192.0.2.10/32 2001:db8::10/128"), for a speaker
    // driven by commands rather than an included file (FRR's vtysh).
    std::string set = "FULCRUM_VIPS=";
    for (size_t i = 0; i < _st.announced.size(); i++) set += (i ? " " : "") + host_prefix(_st.announced[i]);
    std::vector<char *> envp;
    for (char **e = environ; *e; e++)
        if (std::strncmp(*e, "FULCRUM_VIPS=", 13) != 0) envp.push_back(*e);
    envp.push_back(set.data());
    envp.push_back(nullptr);
    // Nor Fulcrum's signal state: its loop blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 for
    // signalfd and ignores SIGPIPE; the child starts with nothing blocked, all default.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    _st.pending = false;
    if (rc != 0) {
        _st.last_error = "cannot run " + _s.reload_command[0] + ": " + std::strerror(rc);
        _st.failures++;
        _st.pending = true;
        _retry_ms = now_ms() + 1000;
        FULCRUM_LOG(ERR, control, "bgp: %s\n", _st.last_error.c_str());
        return;
    }
    _child = pid;
    _child_started_ms = now_ms();
    _st.reloading = true;
}

void announcer::poll() {
    if (_child > 0) {
        int status = 0;
        pid_t r = waitpid(_child, &status, WNOHANG);
        if (r == 0) {
            // A hung speaker must not hold every later change back: killed, and reaped by
            // a later poll (never waited for here: the loop serves everything else).
            if (!_killed && now_ms() - _child_started_ms >= reload_timeout_ms) {
                kill(_child, SIGKILL);
                _killed = true;
            }
            return;
        }
        _killed = false;
        _child = -1;
        _st.reloading = false;
        _st.reloads++;
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            _st.last_error = _s.reload_command[0] + " failed (" +
                             (r > 0 && WIFEXITED(status)     ? "exit " + std::to_string(WEXITSTATUS(status))
                              : r > 0 && WIFSIGNALED(status) ? "killed after " + std::to_string(reload_timeout_ms / 1000) + " s"
                                                             : std::string("no exit status")) +
                             ")";
            _st.failures++;
            _st.pending = true; // the speaker may still hold the old set: again, a second later
            _retry_ms = now_ms() + 1000;
            FULCRUM_LOG(ERR, control, "bgp: %s\n", _st.last_error.c_str());
        } else if (!_st.pending) {
            _st.last_error.clear();
        }
    }
    if (_s.include_file.empty() || now_ms() < _retry_ms) return;
    if (!_written) write_files();
    else if (_st.pending && _child < 0) start_reload();
}

} // namespace fulcrum::control
