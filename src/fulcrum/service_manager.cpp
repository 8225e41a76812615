#include "service_manager.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace fulcrum::host {

void notify_service_manager(const std::string &state) {
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    size_t len = std::strlen(path);
    if (len >= sizeof a.sun_path) return;
    std::memcpy(a.sun_path, path, len);
    if (a.sun_path[0] == '@') a.sun_path[0] = 0; // an abstract socket
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&a),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
    ::close(fd);
}

} // namespace fulcrum::host
