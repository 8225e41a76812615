#include "control/ctl_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}
} // namespace

config::result<std::unique_ptr<ctl_socket>> ctl_socket::open(const std::string &path) {
    sockaddr_un addr;
    if (!make_addr(path, addr)) return config::error{"--ctl-socket", "path is too long for a Unix socket"};
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return config::error{"--ctl-socket", std::string("socket: ") + std::strerror(errno)};
    ::unlink(path.c_str()); // a stale socket from a previous run
    mode_t old = ::umask(0177); // the socket is created 0600: the API can change everything
    int rc = ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0 || ::listen(fd, 16) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return config::error{"--ctl-socket", "cannot listen on '" + path + "': " + why};
    }
    ::chmod(path.c_str(), 0600);
    return std::unique_ptr<ctl_socket>(new ctl_socket(fd, path));
}

ctl_socket::~ctl_socket() {
    ::close(_fd);
    ::unlink(_path.c_str());
}

void ctl_socket::serve_once(int timeout_ms, const std::function<std::string(const std::string &)> &handle) {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    int c = ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    std::string req;
    std::string reply = read_all(c, req, 2000, max_request)
                            ? handle(req)
                            : std::string(R"x({"Code":"InvalidParameter","Message":"request not received whole (send one JSON object, then close the write side; at most 1 MiB)"})x");
    write_all(c, reply + "\n");
    ::close(c);
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
