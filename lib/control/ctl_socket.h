// The control socket: a Unix stream socket on which each connection carries one JSON
// request (then the client closes its write side) and gets one JSON reply. Served from
// the control thread's loop, never from a worker, and never blocking it (core/client_set):
// 1 MiB and 2 s per request, 128 clients at once.
//
// Who may act: the socket is mode 0600 (root), or 0660 with `group` as its group; and
// every peer is checked again with SO_PEERCRED (root, or that group as its primary or a
// supplementary group), so a socket whose mode was loosened still refuses other users.
#pragma once

#include "config/result.h"
#include "core/client_set.h"

#include <functional>
#include <memory>
#include <string>

namespace fulcrum::control {

class ctl_socket {
  public:
    using handler = std::function<std::string(const std::string &)>;
    static config::result<std::unique_ptr<ctl_socket>> open(const std::string &path, const std::string &group = "");
    ~ctl_socket();
    ctl_socket(const ctl_socket &) = delete;
    ctl_socket &operator=(const ctl_socket &) = delete;

    // For the control loop: wait on epoll_fd(), then turn().
    int epoll_fd() const { return _clients->epoll_fd(); }
    void turn(double now, const handler &handle);
    // Wait up to `timeout_ms` for something to do, then turn (tests, simple loops).
    void serve_once(int timeout_ms, const handler &handle);
    const client_set &clients() const { return *_clients; }

  private:
    ctl_socket(int fd, std::string path, unsigned allowed_gid);
    std::unique_ptr<client_set> _clients;
    std::string _path;
    unsigned _gid; // allowed besides root; ~0u: none
    const handler *_handle = nullptr;
};

// Client side (fulcrumctl, tests): send one request, return the reply text.
config::result<std::string> ctl_request(const std::string &path, const std::string &request);

} // namespace fulcrum::control
