#include "control/ctl_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grp.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fulcrum::control {

namespace {
constexpr size_t max_request = 1 << 20;

bool make_addr(const std::string &path, sockaddr_un &addr) {
    if (path.size() >= sizeof(addr.sun_path)) return false;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return true;
}

// Read until EOF or `limit`, waiting at most `timeout_ms` for each chunk.
bool read_all(int fd, std::string &out, int timeout_ms, size_t limit) {
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > limit) return false;
    }
}

void write_all(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}
} // namespace

config::result<std::unique_ptr<ctl_socket>> ctl_socket::open(const std::string &path, const std::string &group_name) {
    sockaddr_un addr;
    if (!make_addr(path, addr)) return config::error{"--ctl-socket", "path is too long for a Unix socket"};
    unsigned gid = ~0u;
    if (!group_name.empty()) {
        struct group *g = ::getgrnam(group_name.c_str());
        if (!g) return config::error{"--ctl-group", "no group named '" + group_name + "'"};
        gid = g->gr_gid;
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return config::error{"--ctl-socket", std::string("socket: ") + std::strerror(errno)};
    ::unlink(path.c_str()); // a stale socket from a previous run
    mode_t old = ::umask(0177); // created 0600: the API can change everything
    int rc = ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return config::error{"--ctl-socket", "cannot listen on '" + path + "': " + why};
    }
    if (gid != ~0u && (::chown(path.c_str(), 0, gid) != 0 || ::chmod(path.c_str(), 0660) != 0)) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return config::error{"--ctl-group", "cannot give '" + path + "' to group '" + group_name + "': " + why};
    }
    if (gid == ~0u) ::chmod(path.c_str(), 0600);
    return std::unique_ptr<ctl_socket>(new ctl_socket(fd, path, gid));
}

namespace {
std::string refusal(const std::string &message) {
    return R"({"Code":"Forbidden","Message":)" + nlohmann::json(message).dump() + "}\n";
}

// Whether `uid`/`gid` of process `pid` may act: root, or in group `allowed`.
bool peer_allowed(int fd, unsigned allowed, std::string &who) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        who = "a peer whose credentials cannot be read";
        return false;
    }
    who = "uid " + std::to_string(cred.uid);
    if (cred.uid == 0) return true;
    if (allowed == ~0u) return false;
    if (cred.gid == allowed) return true;
    // Supplementary groups, from the peer's status (read at accept).
    std::ifstream st("/proc/" + std::to_string(cred.pid) + "/status");
    std::string line;
    while (std::getline(st, line))
        if (line.rfind("Groups:", 0) == 0) {
            std::istringstream groups(line.substr(7));
            unsigned g;
            while (groups >> g)
                if (g == allowed) return true;
        }
    return false;
}
} // namespace

ctl_socket::ctl_socket(int fd, std::string path, unsigned allowed_gid) : _path(std::move(path)), _gid(allowed_gid) {
    client_set::policy p;
    p.max_request = max_request;
    p.deadline_s = 2;
    p.max_clients = 128;
    p.complete = nullptr; // a request ends when the client closes its write side
    p.answer = [this](const std::string &request, const char *cut) -> std::string {
        if (*cut && std::string(cut) != "closed early") {
            const char *why = std::string(cut) == "too large" ? "is more than 1 MiB"
                                                               : "was not received whole within 2 s";
            return R"({"Code":"InvalidParameter","Message":"field '<request>': )" + std::string(why) +
                   R"x( (send one JSON object, then close the write side)"})x" "\n";
        }
        return (_handle ? (*_handle)(request) : std::string(R"({"Code":"InternalError"})")) + "\n";
    };
    p.admit = [this](int c) -> std::optional<std::string> {
        std::string who;
        if (peer_allowed(c, _gid, who)) return std::nullopt;
        return refusal(who + " may not use the control socket (root" +
                       std::string(_gid == ~0u ? " only)" : " or members of its group)"));
    };
    _clients = std::make_unique<client_set>(fd, std::move(p));
}

ctl_socket::~ctl_socket() {
    _clients.reset();
    ::unlink(_path.c_str());
}

void ctl_socket::turn(double now, const handler &handle) {
    _handle = &handle;
    _clients->turn(now);
    _handle = nullptr;
}

void ctl_socket::serve_once(int timeout_ms, const handler &handle) {
    pollfd p{_clients->epoll_fd(), POLLIN, 0};
    ::poll(&p, 1, timeout_ms);
    turn(std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(), handle);
}

config::result<std::string> ctl_request(const std::string &path, const std::string &request) {
    sockaddr_un addr;
    if (!make_addr(path, addr)) return config::error{"--socket", "path is too long for a Unix socket"};
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return config::error{"--socket", std::strerror(errno)};
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return config::error{"--socket", "cannot connect to '" + path + "': " + why};
    }
    write_all(fd, request);
    ::shutdown(fd, SHUT_WR);
    std::string reply;
    bool ok = read_all(fd, reply, 10000, max_request);
    ::close(fd);
    if (!ok) return config::error{"--socket", "no complete reply from '" + path + "'"};
    return reply;
}

} // namespace fulcrum::control
