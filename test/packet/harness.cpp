#include "harness.h"

#include "net/toeplitz.h"

#include "config/parse.h"

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <stdexcept>

namespace fulcrum::test {

rte_mempool *test_pool() {
    static rte_mempool *pool = rte_pktmbuf_pool_create("test_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                       static_cast<int>(rte_socket_id()));
    if (!pool) throw std::runtime_error("cannot create test mempool");
    return pool;
}

ring_port::ring_port(unsigned queues) {
    static int seq = 0;
    int n = seq++;
    name = "net_ring_t" + std::to_string(n);
    for (unsigned q = 0; q < queues; q++) {
        std::string sfx = std::to_string(n) + "_" + std::to_string(q);
        rxs.push_back(rte_ring_create(("trx" + sfx).c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        txs.push_back(rte_ring_create(("ttx" + sfx).c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        if (!rxs.back() || !txs.back()) throw std::runtime_error("ring create failed");
    }
    rx = rxs[0], tx = txs[0];
    int id = rte_eth_from_rings(("t" + std::to_string(n)).c_str(), rxs.data(), queues, txs.data(), queues,
                                0); // named net_ring_tN
    if (id < 0) throw std::runtime_error("rte_eth_from_rings failed");
    port_id = static_cast<uint16_t>(id);
}

ring_port::~ring_port() {
    for (auto &f : collect()) (void)f;
    rte_eth_dev_close(port_id); // the instance stopped it
    void *m;
    for (rte_ring *r : rxs) {
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
        rte_ring_free(r);
    }
    for (rte_ring *r : txs) rte_ring_free(r);
}

void ring_port::inject(const bytes &frame, unsigned queue) {
    rte_mbuf *m = rte_pktmbuf_alloc(test_pool());
    if (!m) throw std::runtime_error("mempool empty");
    char *p = frame.size() <= UINT16_MAX ? rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())) : nullptr;
    if (!p) {
        rte_pktmbuf_free(m);
        throw std::runtime_error("frame larger than an mbuf");
    }
    std::copy(frame.begin(), frame.end(), p);
    m->port = port_id;
    if (rte_ring_enqueue(rxs.at(queue), m) != 0) {
        rte_pktmbuf_free(m);
        throw std::runtime_error("rx ring full");
    }
}

void ring_port::inject_rss(const bytes &frame) {
    inject(frame, fulcrum::net::rss_queue_of_frame(frame.data(), frame.size(), dataplane::emulated_reta_size,
                                          static_cast<uint32_t>(rxs.size())));
}

std::vector<bytes> ring_port::collect() {
    std::vector<bytes> out;
    void *obj;
    for (rte_ring *r : txs)
        while (rte_ring_dequeue(r, &obj) == 0) {
            auto *m = static_cast<rte_mbuf *>(obj);
            const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
            out.emplace_back(p, p + m->data_len);
            rte_pktmbuf_free(m);
        }
    return out;
}

mac_t ring_port::mac() const {
    rte_ether_addr a;
    rte_eth_macaddr_get(port_id, &a);
    mac_t m;
    std::copy(a.addr_bytes, a.addr_bytes + 6, m.begin());
    return m;
}

nlohmann::json base_config(const std::string &device, std::vector<int> weights) {
    using nlohmann::json;
    json neigh = json::array({{{"ip", "10.0.0.50"}, {"mac", "02:00:00:00:00:50"}}});
    json group = json::array();
    for (size_t i = 0; i < weights.size(); i++) {
        std::string ipb = "10.0.0." + std::to_string(21 + i);
        char mac[32];
        snprintf(mac, sizeof mac, "02:00:00:00:00:%02x", unsigned(0x20 + i));
        neigh.push_back({{"ip", ipb}, {"mac", mac}});
        group.push_back({{"ServerId", "i-" + std::to_string(i)}, {"ServerIp", ipb}, {"Weight", weights[i]}});
    }
    return json{
        {"ports", json::array({{{"name", "p0"}, {"device", device}, {"address", "10.0.0.1/24"},
                                {"static_neighbours", neigh}}})},
        {"vips", json::array({"10.0.0.10", "10.0.0.11"})},
        {"local_addresses", json::array({"10.0.0.100"})},
        {"conn_capacity", 4096},
        {"exception_path", "off"}, // packet tests see every frame; the taps have their own test
        {"listeners", json::array({{{"VIP", "10.0.0.10"}, {"Protocol", "tcp"}, {"ListenerPort", 80},
                                    {"BackendServerPort", 8080}},
                                   {{"VIP", "10.0.0.10"}, {"Protocol", "udp"}, {"ListenerPort", 53},
                                    {"BackendServerPort", 5353}, {"IdleTimeout", 5}}})},
        {"default_server_group", group}};
}

private_netns::private_netns() {
    original = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ok = original >= 0 && ::unshare(CLONE_NEWNET) == 0;
}

private_netns::~private_netns() {
    if (original < 0) return;
    ::setns(original, CLONE_NEWNET);
    ::close(original);
}

frame_spec client_segment(const mac_t &port_mac, uint32_t client, uint16_t cport, uint8_t flags, uint32_t seq,
                          uint32_t ack, std::string payload) {
    frame_spec s;
    s.dst_mac = port_mac, s.src_mac = net::client_mac;
    s.src = client, s.dst = net::vip, s.sport = cport, s.dport = net::vport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload);
    return s;
}

frame_spec backend_segment(const mac_t &port_mac, uint32_t backend, uint16_t lport, uint8_t flags, uint32_t seq,
                           uint32_t ack, std::string payload) {
    frame_spec s;
    s.dst_mac = port_mac, s.src_mac = net::backend_mac(int(backend - net::backend(0)));
    s.src = backend, s.dst = net::laddr, s.sport = net::bport, s.dport = lport;
    s.tcp_flags = flags, s.seq = seq, s.ack = ack, s.payload = std::move(payload);
    return s;
}

void make_streams(lb &t, const std::vector<std::pair<bytes, bytes>> &exchanges) {
    for (int round = 0; round < 4; round++) {
        if (round) t.advance_seconds(3.5);
        for (const auto &[datagram, reply] : exchanges) {
            if (t.send({datagram}).size() != 1 || t.send({reply}).size() != 1)
                throw std::runtime_error("make_streams: a datagram was not forwarded");
        }
    }
}

namespace conversation {
frame_spec from_client(lb &t, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload) {
    return client_segment(t.port->mac(), client, net::cport, flags, seq, ack, std::move(payload));
}
frame_spec from_backend(lb &t, uint8_t flags, uint32_t seq, uint32_t ack, std::string payload) {
    return backend_segment(t.port->mac(), be0, net::first_lport, flags, seq, ack, std::move(payload));
}
frame_spec to_backend(lb &t, frame_spec s, uint16_t lport) {
    s.dst_mac = backend_mac(0), s.src_mac = t.port->mac();
    s.src = laddr, s.dst = be0, s.sport = lport, s.dport = net::bport, s.ttl = 63;
    return s;
}
frame_spec to_client(lb &t, frame_spec s) {
    s.dst_mac = client_mac, s.src_mac = t.port->mac();
    s.src = vip, s.dst = client, s.sport = net::vport, s.dport = net::cport, s.ttl = 63;
    return s;
}
conn::tcp_state state_of(lb &t) {
    auto *c = t.w().find_conn(6, client, 40000, vip, 80);
    return c ? c->state : conn::tcp_state::count;
}
} // namespace conversation

nlohmann::json without_syn_proxy(nlohmann::json cfg) {
    for (auto &l : cfg["listeners"])
        if (l["Protocol"] == "tcp") l["SynProxy"] = "off";
    return cfg;
}

lb::lb(nlohmann::json cfg, uint32_t workers) : port(std::make_unique<ring_port>(workers)) {
    cfg["ports"][0]["device"] = port->name;
    auto parsed = config::parse_instance(cfg);
    if (!parsed) throw std::runtime_error("test config: " + parsed.err().message());
    auto created = deploy::deployment::create(parsed.value(), test_pool(), workers);
    if (!created) throw std::runtime_error("instance: " + created.err().message());
    inst = std::move(created.value());
    clock = rte_get_tsc_cycles();
    for (size_t i = 0; i < inst->worker_count(); i++) w(i).poll_once(clock);
}

void lb::poll_all() {
    for (size_t i = 0; i < inst->worker_count(); i++) w(i).poll_once(clock);
    for (size_t i = 0; i < inst->worker_count(); i++) w(i).flush_tx();
}

lb::~lb() {
    inst.reset();
    port.reset();
}

std::vector<bytes> lb::send(const std::vector<bytes> &frames) {
    for (const auto &f : frames) port->inject(f);
    // The worker takes at most one burst per queue per iteration.
    for (size_t i = 0; i <= frames.size() / dataplane::worker::burst; i++) w().poll_once(clock);
    w().flush_tx();
    return port->collect();
}

bytes lb::send_one(const bytes &frame) {
    auto out = send({frame});
    return out.size() == 1 ? out[0] : bytes{};
}

void lb::advance_seconds(double s) {
    clock += static_cast<uint64_t>(s * double(rte_get_tsc_hz()));
    w().poll_once(clock);
    w().flush_tx();
}

result<uint64_t> lb::apply(nlohmann::json cfg) {
    cfg["ports"][0]["device"] = port->name;
    auto parsed = config::parse_instance(cfg);
    if (!parsed) return parsed.err();
    return inst->apply(parsed.value());
}

uint64_t lb::drops(dataplane::drop d) const {
    return inst->worker_at(0).counters().drops[static_cast<unsigned>(d)];
}

} // namespace fulcrum::test
