#include "observe/observe.h"

#include "net/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <sstream>

namespace fulcrum::observe {

namespace {

// A label value with \, " and newlines escaped.
std::string esc(const std::string &s) {
    std::string o;
    for (char c : s) {
        if (c == '\\' || c == '"') o += '\\';
        if (c == '\n') {
            o += "\\n";
            continue;
        }
        o += c;
    }
    return o;
}

struct writer {
    std::ostringstream o;
    std::string last;
    void head(const std::string &name, const char *type, const char *help) {
        if (name == last) return;
        last = name;
        o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    }
    template <class V>
    void sample(const std::string &name, const std::string &labels, V v) {
        o << name;
        if (!labels.empty()) o << '{' << labels << '}';
        o << ' ' << v << '\n';
    }
};

} // namespace

std::string prometheus_text(const deploy::stats_view &v) {
    writer w;
    w.head("fulcrum_snapshot_generation", "gauge", "Generation of the configuration snapshot in use.");
    w.sample("fulcrum_snapshot_generation", "", v.generation);

    struct port_metric {
        const char *name, *help;
        uint64_t (*get)(const deploy::port_counters &);
    };
    static const port_metric port_metrics[] = {
        {"fulcrum_port_rx_packets_total", "Frames the port received.", [](const deploy::port_counters &c) { return c.eth.ipackets; }},
        {"fulcrum_port_tx_packets_total", "Frames the port sent.", [](const deploy::port_counters &c) { return c.eth.opackets; }},
        {"fulcrum_port_rx_missed_total", "Frames lost before Fulcrum saw them (NIC or kernel ring full).",
         [](const deploy::port_counters &c) { return c.missed(); }},
        {"fulcrum_port_kernel_ring_drops_total", "Of those, dropped by the kernel ring of an af_packet/AF_XDP port.",
         [](const deploy::port_counters &c) { return c.kernel_drops; }},
    };
    for (const auto &m : port_metrics) {
        w.head(m.name, "counter", m.help);
        for (const auto &p : v.ports) w.sample(m.name, "port=\"" + p.name + "\"", m.get(p.c));
    }

    auto worker_label = [](const deploy::worker_stat &s) { return "worker=\"" + std::to_string(s.id) + "\""; };
#define X(name, kind, label, metric, help)                                                                \
    {                                                                                                     \
        std::string n = std::string("fulcrum_worker_") + metric + (#kind[0] == 'c' ? "_total" : "");     \
        w.head(n, #kind, help);                                                                           \
        for (const auto &ws : v.workers) w.sample(n, worker_label(ws), ws.c.name);                        \
    }
    FULCRUM_WORKER_COUNTERS(X)
#undef X
    struct gauge {
        const char *name, *help;
        uint64_t (*get)(const deploy::worker_stat &);
    };
    static const gauge worker_gauges[] = {
        {"fulcrum_worker_connections", "Connections in the worker's table.",
         [](const deploy::worker_stat &s) { return uint64_t(s.conns_in_use); }},
        {"fulcrum_worker_connection_capacity", "Size of the worker's connection table.",
         [](const deploy::worker_stat &s) { return uint64_t(s.conns_capacity); }},
        {"fulcrum_worker_lports_free", "Free local address/port pairs.",
         [](const deploy::worker_stat &s) { return uint64_t(s.lports_free); }},
        {"fulcrum_worker_snapshot_generation", "Snapshot generation the worker runs on.",
         [](const deploy::worker_stat &s) { return s.generation; }},
    };
    for (const auto &g : worker_gauges) {
        w.head(g.name, "gauge", g.help);
        for (const auto &ws : v.workers) w.sample(g.name, worker_label(ws), g.get(ws));
    }
    w.head("fulcrum_worker_drops_total", "counter", "Packets dropped, by reason.");
    for (const auto &ws : v.workers)
        for (unsigned d = 0; d < dataplane::drop_count; d++)
            w.sample("fulcrum_worker_drops_total",
                     worker_label(ws) + ",reason=\"" + dataplane::drop_name(static_cast<dataplane::drop>(d)) + "\"",
                     ws.c.drops[d]);

    // Per listener and per backend, from the flow counter list: each metric's samples
    // together, as Prometheus wants (in/out pairs share a name and differ by direction).
    auto flows = [&](const std::string &prefix,
                     const std::vector<std::pair<std::string, dataplane::flow_counters>> &items) {
#define X(name, kind, label, metric, dir, help)                                                           \
    {                                                                                                     \
        std::string n = prefix + "_" + metric + (#kind[0] == 'c' ? "_total" : "");                        \
        w.head(n, #kind, help);                                                                           \
        for (const auto &[l, c] : items)                                                                  \
            w.sample(n, *dir ? l + ",direction=\"" + dir + "\"" : l, c.name);                            \
    }
        FULCRUM_FLOW_COUNTERS(X)
#undef X
    };
    std::vector<std::pair<std::string, dataplane::flow_counters>> items;
    for (const auto &l : v.listeners)
        items.push_back({"listener=\"" + esc(l.proto + " " + l.vip + ":" + std::to_string(l.port)) + "\",group=\"" +
                             esc(l.group) + "\"",
                         l.c});
    flows("fulcrum_listener", items);
    auto backend_labels = [](const deploy::backend_stat &b) {
        return "listener=\"" + esc(b.listener) + "\",group=\"" + esc(b.group) + "\",server_id=\"" + esc(b.server_id) +
               "\",address=\"" + esc(b.ip + ":" + std::to_string(b.port)) + "\"";
    };
    items.clear();
    for (const auto &b : v.backends) items.push_back({backend_labels(b), b.c});
    flows("fulcrum_backend", items);
    w.head("fulcrum_backend_up", "gauge", "1 when the backend receives new connections (weight > 0 and healthy).");
    for (const auto &b : v.backends) w.sample("fulcrum_backend_up", backend_labels(b), b.eligible ? 1 : 0);
    w.head("fulcrum_backend_weight", "gauge", "Configured weight.");
    for (const auto &b : v.backends) w.sample("fulcrum_backend_weight", backend_labels(b), unsigned(b.weight));
    w.head("fulcrum_backend_new_connection_share_ratio", "gauge", "Share of the listener's new connections (0-1).");
    for (const auto &b : v.backends) w.sample("fulcrum_backend_new_connection_share_ratio", backend_labels(b), b.share_pct / 100);
    w.head("fulcrum_backend_weight_share_ratio", "gauge", "Share of new connections its weight asks for (0-1).");
    for (const auto &b : v.backends) w.sample("fulcrum_backend_weight_share_ratio", backend_labels(b), b.weight_pct / 100);
    return w.o.str();
}

result<std::unique_ptr<metrics_server>> metrics_server::open(const std::string &addr_port) {
    auto colon = addr_port.rfind(':');
    const char *rule = "must be ADDR:PORT, e.g. 127.0.0.1:9100";
    if (colon == std::string::npos) return error{"--metrics", rule};
    auto ip = net::parse_ipv4(addr_port.substr(0, colon));
    char *end;
    unsigned long port = std::strtoul(addr_port.c_str() + colon + 1, &end, 10);
    if (!ip || *end || port > 65535) return error{"--metrics", rule};
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(*ip);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return error{"--metrics", "cannot listen on " + addr_port + ": " + why};
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    return std::unique_ptr<metrics_server>(new metrics_server(fd, ntohs(a.sin_port)));
}

metrics_server::~metrics_server() { ::close(_fd); }

int metrics_server::accept_one() { return ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC); }

bool metrics_server::read_request(int c, std::string &path) {
    std::string req;
    char buf[2048];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) return false;
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) return false;
        req.append(buf, size_t(n));
    }
    char method[16], target[1024];
    if (std::sscanf(req.c_str(), "%15s %1023s", method, target) != 2 || std::string(method) != "GET") return false;
    path = target;
    return true;
}

void metrics_server::respond(int c, int code, const std::string &body) {
    const char *reason = code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request";
    std::string head = "HTTP/1.0 " + std::to_string(code) + " " + reason +
                       "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    std::string all = head + body;
    size_t off = 0;
    while (off < all.size()) {
        pollfd p{c, POLLOUT, 0};
        if (::poll(&p, 1, 200) <= 0) break;
        ssize_t n = ::send(c, all.data() + off, all.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += size_t(n);
    }
    ::close(c);
}

} // namespace fulcrum::observe
