// The control socket: a Unix stream socket (mode 0600) on which each connection carries
// one JSON request and gets one JSON reply. Served from the control thread's loop,
// never from a worker.
#pragma once

#include "config/result.h"

#include <functional>
#include <memory>
#include <string>

namespace fulcrum::control {

class ctl_socket {
  public:
    static config::result<std::unique_ptr<ctl_socket>> open(const std::string &path);
    ~ctl_socket();
    ctl_socket(const ctl_socket &) = delete;
    ctl_socket &operator=(const ctl_socket &) = delete;

    // Wait up to `timeout_ms` for a client; answer it with handle(request text).
    void serve_once(int timeout_ms, const std::function<std::string(const std::string &)> &handle);

  private:
    ctl_socket(int fd, std::string path) : _fd(fd), _path(std::move(path)) {}
    int _fd;
    std::string _path;
};

// Client side (fulcrumctl, tests): send one request, return the reply text.
config::result<std::string> ctl_request(const std::string &path, const std::string &request);

} // namespace fulcrum::control
