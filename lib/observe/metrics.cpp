#include "observe/observe.h"

#include "config/parse.h"

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

std::string prometheus_text(const dataplane::stats_view &v) {
    writer w;
    w.head("fulcrum_snapshot_generation", "gauge", "Generation of the configuration snapshot in use.");
    w.sample("fulcrum_snapshot_generation", "", v.generation);

    struct wc {
        const char *name, *type, *help;
        uint64_t (*get)(const dataplane::worker_stat &);
    };
    static const wc worker_metrics[] = {
        {"fulcrum_worker_rx_packets_total", "counter", "Packets received.", [](const dataplane::worker_stat &s) { return s.c.rx_pkts; }},
        {"fulcrum_worker_tx_packets_total", "counter", "Packets sent.", [](const dataplane::worker_stat &s) { return s.c.tx_pkts; }},
        {"fulcrum_worker_rx_bytes_total", "counter", "Bytes received.", [](const dataplane::worker_stat &s) { return s.c.rx_bytes; }},
        {"fulcrum_worker_tx_bytes_total", "counter", "Bytes sent.", [](const dataplane::worker_stat &s) { return s.c.tx_bytes; }},
        {"fulcrum_worker_connections_created_total", "counter", "Connections created.",
         [](const dataplane::worker_stat &s) { return s.c.conn_created; }},
        {"fulcrum_worker_connections_expired_total", "counter", "Connections expired or closed.",
         [](const dataplane::worker_stat &s) { return s.c.conn_expired; }},
        {"fulcrum_worker_connections_drained_total", "counter", "Connections reset when their drain ended.",
         [](const dataplane::worker_stat &s) { return s.c.conn_drained; }},
        {"fulcrum_worker_resets_sent_total", "counter", "TCP resets Fulcrum sent on its own.",
         [](const dataplane::worker_stat &s) { return s.c.rst_sent; }},
        {"fulcrum_worker_connections", "gauge", "Connections in the worker's table.",
         [](const dataplane::worker_stat &s) { return uint64_t(s.conns_in_use); }},
        {"fulcrum_worker_connection_capacity", "gauge", "Size of the worker's connection table.",
         [](const dataplane::worker_stat &s) { return uint64_t(s.conns_capacity); }},
        {"fulcrum_worker_lports_free", "gauge", "Free local address/port pairs.",
         [](const dataplane::worker_stat &s) { return uint64_t(s.lports_free); }},
        {"fulcrum_worker_snapshot_generation", "gauge", "Snapshot generation the worker runs on.",
         [](const dataplane::worker_stat &s) { return s.generation; }},
    };
    for (const auto &m : worker_metrics) {
        w.head(m.name, m.type, m.help);
        for (const auto &ws : v.workers) w.sample(m.name, "worker=\"" + std::to_string(ws.id) + "\"", m.get(ws));
    }
    w.head("fulcrum_worker_drops_total", "counter", "Packets dropped, by reason.");
    for (const auto &ws : v.workers)
        for (unsigned d = 0; d < dataplane::drop_count; d++)
            w.sample("fulcrum_worker_drops_total",
                     "worker=\"" + std::to_string(ws.id) + "\",reason=\"" +
                         dataplane::drop_name(static_cast<dataplane::drop>(d)) + "\"",
                     ws.c.drops[d]);

    // Per listener and per backend: each metric's samples together, as Prometheus wants.
    auto flows = [&](const std::string &prefix, const std::vector<std::pair<std::string, dataplane::flow_counters>> &items) {
        w.head(prefix + "_new_connections_total", "counter", "New connections.");
        for (const auto &[l, c] : items) w.sample(prefix + "_new_connections_total", l, c.new_conns);
        w.head(prefix + "_active_connections", "gauge", "Connections in the tables now.");
        for (const auto &[l, c] : items) w.sample(prefix + "_active_connections", l, c.active);
        w.head(prefix + "_packets_total", "counter", "Packets forwarded (in: client to backend; out: back).");
        for (const auto &[l, c] : items) {
            w.sample(prefix + "_packets_total", l + ",direction=\"in\"", c.pkts_in);
            w.sample(prefix + "_packets_total", l + ",direction=\"out\"", c.pkts_out);
        }
        w.head(prefix + "_bytes_total", "counter", "Bytes forwarded (in: client to backend; out: back).");
        for (const auto &[l, c] : items) {
            w.sample(prefix + "_bytes_total", l + ",direction=\"in\"", c.bytes_in);
            w.sample(prefix + "_bytes_total", l + ",direction=\"out\"", c.bytes_out);
        }
    };
    std::vector<std::pair<std::string, dataplane::flow_counters>> items;
    for (const auto &l : v.listeners)
        items.push_back({"listener=\"" + esc(l.proto + " " + l.vip + ":" + std::to_string(l.port)) + "\",group=\"" +
                             esc(l.group) + "\"",
                         l.c});
    flows("fulcrum_listener", items);
    auto backend_labels = [](const dataplane::backend_stat &b) {
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

config::result<std::unique_ptr<metrics_server>> metrics_server::open(const std::string &addr_port) {
    auto colon = addr_port.rfind(':');
    const char *rule = "must be ADDR:PORT, e.g. 127.0.0.1:9100";
    if (colon == std::string::npos) return config::error{"--metrics", rule};
    auto ip = config::parse_ipv4(addr_port.substr(0, colon), "--metrics");
    char *end;
    unsigned long port = std::strtoul(addr_port.c_str() + colon + 1, &end, 10);
    if (!ip || *end || port > 65535) return config::error{"--metrics", rule};
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ip.value());
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return config::error{"--metrics", "cannot listen on " + addr_port + ": " + why};
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
