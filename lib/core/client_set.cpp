#include "core/client_set.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace fulcrum {

client_set::client_set(int listen_fd, policy p) : _listen(listen_fd), _ep(::epoll_create1(EPOLL_CLOEXEC)), _p(std::move(p)) {
    ::fcntl(_listen, F_SETFL, ::fcntl(_listen, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = _listen;
    ::epoll_ctl(_ep, EPOLL_CTL_ADD, _listen, &ev);
}

client_set::~client_set() {
    for (auto &[fd, c] : _clients) ::close(fd);
    ::close(_ep);
    ::close(_listen);
}

void client_set::drop(int fd) {
    ::epoll_ctl(_ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    _clients.erase(fd);
}

void client_set::accept_all(double now) {
    for (;;) {
        int fd = ::accept4(_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; // EAGAIN, or out of descriptors: the listen backlog waits
        if (_clients.size() >= _p.max_clients) {
            int oldest = -1;
            uint64_t oldest_order = UINT64_MAX;
            if (_p.shed_incomplete)
                for (const auto &[cfd, cl] : _clients)
                    if (!cl.replying && cl.order < oldest_order) oldest = cfd, oldest_order = cl.order;
            if (oldest < 0) {
                _refused++;
                ::close(fd);
                continue;
            }
            _shed++;
            drop(oldest);
        }
        client &c = _clients[fd];
        c.deadline = now + _p.deadline_s;
        c.order = ++_accepted;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        ::epoll_ctl(_ep, EPOLL_CTL_ADD, fd, &ev);
        if (_p.admit) {
            if (auto refusal = _p.admit(fd)) {
                _refused++;
                reply(fd, c, std::move(*refusal));
                continue;
            }
        }
        on_readable(fd, c); // a short request is often all there already
    }
}

void client_set::reply(int fd, client &c, std::string text) {
    c.replying = true;
    c.out = std::move(text);
    c.out_off = 0;
    c.in.clear();
    ::shutdown(fd, SHUT_RD);
    if (flush(fd, c)) return drop(fd);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(_ep, EPOLL_CTL_MOD, fd, &ev);
}

bool client_set::flush(int fd, client &c) {
    while (c.out_off < c.out.size()) {
        ssize_t n = ::send(fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_off += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)); // gone (EPIPE...): done with it
    }
    return true;
}

void client_set::on_readable(int fd, client &c) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { // end of the request (or an error: nobody to answer)
            if (n < 0) return drop(fd);
            return reply(fd, c, _p.answer(c.in, c.in.empty() ? "closed early" : ""));
        }
        c.in.append(buf, size_t(n));
        if (c.in.size() > _p.max_request) return reply(fd, c, _p.answer(c.in, "too large"));
        if (size_t whole = _p.complete ? _p.complete(c.in) : 0) {
            c.in.resize(whole);
            return reply(fd, c, _p.answer(c.in, ""));
        }
    }
}

void client_set::turn(double now) {
    epoll_event evs[64];
    int n = ::epoll_wait(_ep, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == _listen) {
            accept_all(now);
            continue;
        }
        auto it = _clients.find(fd);
        if (it == _clients.end()) continue;
        client &c = it->second;
        if (c.replying) {
            if (flush(fd, c)) drop(fd);
        } else {
            on_readable(fd, c);
        }
    }
    std::vector<int> late;
    for (auto &[fd, c] : _clients)
        if (now >= c.deadline) late.push_back(fd);
    for (int fd : late) {
        client &c = _clients[fd];
        _timed_out++;
        if (c.replying) {
            drop(fd); // a reader too slow for its reply
        } else {
            // Answered once, without waiting: a client still sending gets what is wrong.
            reply(fd, c, _p.answer(c.in, "deadline"));
            if (_clients.count(fd)) drop(fd);
        }
    }
}

} // namespace fulcrum
