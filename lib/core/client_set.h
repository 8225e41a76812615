// Clients of one listening socket, served without ever blocking the thread that serves
// them: each is read until its request is whole, answered, and written as fast as the
// socket takes it (MSG_NOSIGNAL: a client that hung up costs an error, not the process);
// a partial write resumes on a later turn. Every client has a size limit and a deadline
// for its whole exchange, and the set a limit on clients at once, so many slow or silent
// clients cannot hold the thread, delay a fast client, or exhaust descriptors.
//
// The set has an epoll instance of its own; its descriptor is what a loop waits on
// (epoll nests), and turn() then serves whatever is ready.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace fulcrum {

class client_set {
  public:
    struct policy {
        size_t max_request = 1 << 20;
        double deadline_s = 2;      // from accept to the reply's last byte
        unsigned max_clients = 128; // beyond: refused at accept (closed at once)...
        // ...unless this is set: then the client accepted longest ago that has not sent a
        // whole request gives way (closed, counted), as servers shed idle keep-alive
        // clients, so idle or slow clients cannot keep a real request out.
        bool shed_incomplete = false;
        // Bytes of `in` that make one whole request, 0 while it is not (the peer closing
        // its write side also ends a request).
        std::function<size_t(const std::string &in)> complete;
        // The reply to a request; `cut` says why it is not whole ("" when it is):
        // "too large", "deadline" or "closed early".
        std::function<std::string(const std::string &request, const char *cut)> answer;
        // Checked at accept (e.g. SO_PEERCRED): nothing, or a reply that refuses the peer.
        std::function<std::optional<std::string>(int fd)> admit;
    };

    // Serves `listen_fd` (made non-blocking; the set closes it).
    client_set(int listen_fd, policy p);
    ~client_set();
    client_set(const client_set &) = delete;
    client_set &operator=(const client_set &) = delete;

    int epoll_fd() const { return _ep; }
    // Serve what is ready now, and end the clients past their deadline (`now`: seconds
    // on a monotonic clock).
    void turn(double now);
    size_t clients() const { return _clients.size(); }
    uint64_t refused() const { return _refused; }   // over max_clients, or not admitted
    uint64_t timed_out() const { return _timed_out; }
    uint64_t shed() const { return _shed; } // gave way to a newer client (shed_incomplete)

  private:
    struct client {
        std::string in, out;
        size_t out_off = 0;
        double deadline = 0;
        bool replying = false;
        uint64_t order = 0; // accepted as the order-th
    };
    void accept_all(double now);
    void on_readable(int fd, client &c);
    void reply(int fd, client &c, std::string text);
    bool flush(int fd, client &c); // true when the client is done (written or failed)
    void drop(int fd);

    int _listen, _ep;
    policy _p;
    std::unordered_map<int, client> _clients;
    uint64_t _refused = 0, _timed_out = 0, _shed = 0, _accepted = 0;
};

} // namespace fulcrum
