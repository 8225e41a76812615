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
    w.head("fulcrum_node_drained", "gauge", "1 while the node is drained (SetNodeDrain): every VIP withdrawn.");
    w.sample("fulcrum_node_drained", "", v.node.drained ? 1 : 0);
    if (v.node.speaker) {
        w.head("fulcrum_node_announced_vips", "gauge", "VIPs the BGP speaker is told to announce.");
        w.sample("fulcrum_node_announced_vips", "", v.node.announced);
        w.head("fulcrum_node_speaker_ok", "gauge", "1 when the last include-file write and speaker reload succeeded.");
        w.sample("fulcrum_node_speaker_ok", "", v.node.speaker_ok ? 1 : 0);
        w.head("fulcrum_node_speaker_reloads_total", "counter", "Speaker reloads run.");
        w.sample("fulcrum_node_speaker_reloads_total", "", v.node.reloads);
        w.head("fulcrum_node_speaker_reload_failures_total", "counter", "Speaker reloads that failed or timed out.");
        w.sample("fulcrum_node_speaker_reload_failures_total", "", v.node.reload_failures);
    }

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
    w.head("fulcrum_port_reply_steering", "gauge",
           "1 for the way each port's replies reach the worker that owns their connection: single, rss, emulated, "
           "flow or redirect.");
    for (const auto &p : v.ports) w.sample("fulcrum_port_reply_steering", "port=\"" + p.name + "\",mode=\"" + p.steering + "\"", 1);

    auto worker_label = [](const deploy::worker_stat &s) { return "worker=\"" + std::to_string(s.id) + "\""; };
#define X(name, kind, help)                                                                     \
    {                                                                                          \
        std::string n = std::string("fulcrum_worker_") + #name + (#kind[0] == 'c' ? "_total" : ""); \
        w.head(n, #kind, help);                                                                \
        for (const auto &ws : v.workers) w.sample(n, worker_label(ws), ws.c.name);             \
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
        {"fulcrum_worker_lports", "Local address/port pairs the worker deals; each serves one connection to every backend address and port at once.",
         [](const deploy::worker_stat &s) { return uint64_t(s.lports); }},
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
#define X(name, kind, help)                                                                                 \
    {                                                                                                      \
        constexpr dataplane::metric_stem m = dataplane::stem_of(#name);                                    \
        std::string n = prefix + "_" + std::string(m.stem) + (#kind[0] == 'c' ? "_total" : "");            \
        w.head(n, #kind, help);                                                                            \
        for (const auto &[l, c] : items)                                                                   \
            w.sample(n, m.direction.empty() ? l : l + ",direction=\"" + std::string(m.direction) + "\"", c.name); \
    }
        FULCRUM_FLOW_COUNTERS(X)
#undef X
    };
    std::vector<std::pair<std::string, dataplane::flow_counters>> items;
    for (const auto &l : v.listeners)
        items.push_back({"listener=\"" + esc(l.proto + " " + net::format_endpoint(l.vip, l.port)) + "\",group=\"" +
                             esc(l.group) + "\"",
                         l.c});
    flows("fulcrum_listener", items);
    auto backend_labels = [](const deploy::backend_stat &b) {
        return "listener=\"" + esc(b.listener) + "\",group=\"" + esc(b.group) + "\",server_id=\"" + esc(b.server_id) +
               "\",address=\"" + esc(net::format_endpoint(b.ip, b.port)) + "\"";
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
    // "PORT" or ":PORT" listen on loopback: the counters name every backend, so they are
    // published beyond the host only when an address says so.
    auto colon = addr_port.rfind(':');
    const char *rule = "must be [ADDR:]PORT, e.g. 9100 (loopback) or 0.0.0.0:9100";
    std::string addr = colon == std::string::npos || colon == 0 ? "127.0.0.1" : addr_port.substr(0, colon);
    std::string port_text = colon == std::string::npos ? addr_port : addr_port.substr(colon + 1);
    auto ip = net::parse_ipv4(addr);
    char *end;
    unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
    if (!ip || port_text.empty() || *end || port > 65535) return error{"--metrics", rule};
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(*ip);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return error{"--metrics", "cannot listen on " + addr + ":" + port_text + ": " + why};
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    return std::unique_ptr<metrics_server>(new metrics_server(fd, ntohs(a.sin_port)));
}

metrics_server::metrics_server(int fd, uint16_t port) : _port(port) {
    client_set::policy p;
    p.max_request = 8192;
    p.deadline_s = 5; // a scraper that never reads its answer is dropped after this
    p.max_clients = 64;
    p.shed_incomplete = true; // a scraper with a whole request always gets in
    p.complete = [](const std::string &in) -> size_t {
        auto end = in.find("\r\n\r\n");
        return end == std::string::npos ? 0 : end + 4;
    };
    p.answer = [this](const std::string &request, const char *cut) {
        char method[16], target[1024];
        if (*cut || std::sscanf(request.c_str(), "%15s %1023s", method, target) != 2 || std::string(method) != "GET")
            return response(400, "bad request\n");
        if (std::string(target) != "/metrics") return response(404, "try /metrics\n");
        return response(200, _view ? prometheus_text((*_view)()) : std::string());
    };
    _clients = std::make_unique<client_set>(fd, std::move(p));
}

metrics_server::~metrics_server() = default;

std::string metrics_server::response(int code, const std::string &body) {
    const char *reason = code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request";
    return "HTTP/1.0 " + std::to_string(code) + " " + reason +
           "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

void metrics_server::turn(double now, const view_fn &view) {
    _view = &view;
    _clients->turn(now);
    _view = nullptr;
}

} // namespace fulcrum::observe
