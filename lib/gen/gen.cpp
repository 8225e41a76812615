#include "gen/gen.h"

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace fulcrum::gen {

namespace {
constexpr uint16_t max_burst = 64;

const char *name(scenario m) { return m == scenario::stream ? "stream" : m == scenario::rr ? "rr" : "cps"; }
const char *name(l4 p) { return p == l4::tcp ? "tcp" : "udp"; }

uint8_t *data(rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
void set_len(rte_mbuf *m, uint16_t len) { m->data_len = m->pkt_len = len; }
// What a backend behind a PROXY-v2 listener reads first (preamble, version 2 PROXY):
// Fulcrum's own TCP segment ahead of a flow's data, not a data frame. (A datagram's
// header comes with its payload: that is data.)
bool is_proxy_v2_header(const uint8_t *frame, const frame_view &v) {
    return v.proto == l4::tcp && v.payload >= 16 && std::memcmp(frame + v.payload_off, "\r\n\r\n\0\r\nQUIT\n\x21", 13) == 0;
}

} // namespace

void latency_histogram::add(uint64_t ns) {
    unsigned b;
    if (ns < sub) {
        b = static_cast<unsigned>(ns);
    } else {
        unsigned e = 63 - __builtin_clzll(ns); // >= 4
        b = (e - 3) * sub + static_cast<unsigned>((ns >> (e - 4)) & (sub - 1));
    }
    if (b >= buckets.size()) b = buckets.size() - 1;
    buckets[b]++;
    count++;
    sum_ns += ns;
}

uint64_t latency_histogram::percentile_ns(double p) const {
    if (!count) return 0;
    uint64_t want = static_cast<uint64_t>(p / 100.0 * double(count)), seen = 0;
    for (unsigned b = 0; b < buckets.size(); b++) {
        seen += buckets[b];
        if (seen > want || seen == count) {
            if (b < sub) return b + 1;
            unsigned e = b / sub + 3, m = b % sub;
            return (uint64_t(sub + m + 1) << (e - 4)); // the bucket's upper bound
        }
    }
    return 0;
}

namespace {
settings checked(settings s) {
    uint16_t least = static_cast<uint16_t>(payload_offset(s.frame.proto) + stamp_len);
    if (s.frame_size < least) s.frame_size = least;
    if (s.flows == 0) s.flows = 1;
    return s;
}
} // namespace

engine::engine(const settings &s, rte_mempool *pool, uint16_t client_port, uint16_t server_port)
    : _s(checked(s)), _data(_s.frame, _s.frame_size), _pool(pool), _client(client_port), _server(server_port),
      _tsc_hz(rte_get_tsc_hz()) {
    _ready = _s.mode == scenario::cps;
}

uint32_t engine::flow_of(uint32_t client_ip, uint16_t client_port) const {
    const tuple_space &t = _s.frame.clients;
    return (client_ip - t.client_ip) * t.ports_per_ip + (client_port - t.first_port);
}

uint64_t engine::in_flight() const {
    uint64_t done = _c.written_off + (_s.mode == scenario::stream ? _c.delivered : _c.answered + _c.resets);
    return _c.sent > done ? _c.sent - done : 0;
}

// Client frames out; what the port does not take is freed. Returns how many it took.
uint16_t engine::send(rte_mbuf **pkts, uint16_t n) {
    uint16_t sent = rte_eth_tx_burst(_client, 0, pkts, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
    return sent;
}

void engine::mark_open(uint32_t flow) {
    if (flow >= _s.flows) return;
    uint64_t bit = uint64_t(1) << (flow % 64);
    if (_open[flow / 64] & bit) return; // a retried flow answered twice
    _open[flow / 64] |= bit;
    _setup_done++;
}

uint16_t engine::write_opening(rte_mbuf *m, uint32_t f, uint64_t now_tsc) {
    uint16_t len = _s.frame.proto == l4::tcp
                       ? write_client_frame(data(m), _s.frame, f, syn, tuple_space::isn(f), 0, 0, now_tsc)
                       : write_client_frame(data(m), _s.frame, f, 0, 0, 0, data_payload(), now_tsc);
    set_len(m, len);
    return len;
}

bool engine::setup_step(uint32_t window, uint64_t now_tsc) {
    if (_ready) return true;
    if (_open.empty()) {
        _open.assign((_s.flows + 63) / 64, 0);
        _setup_check_tsc = now_tsc;
    }
    if (_setup_done >= _s.flows) {
        _ready = true;
        _open = {};
        return true;
    }
    rte_mbuf *pkts[max_burst];
    uint32_t n = 0;
    if (_setup_sent < _s.flows) { // first pass, flow by flow
        uint64_t open = _setup_sent - _setup_done;
        n = static_cast<uint32_t>(
            std::min<uint64_t>({uint64_t(max_burst), _s.flows - _setup_sent, window > open ? window - open : 0}));
        if (n == 0 || rte_pktmbuf_alloc_bulk(_pool, pkts, n) != 0) return false;
        for (uint32_t i = 0; i < n; i++) write_opening(pkts[i], _setup_sent + i, now_tsc);
        _setup_sent += send(pkts, static_cast<uint16_t>(n));
        return false;
    }
    // Every flow was tried: once nothing opened for 20 ms, try the rest again.
    if (now_tsc - _setup_check_tsc < _tsc_hz / 50) return false;
    bool stalled = _setup_done == _setup_last_done;
    _setup_last_done = _setup_done;
    _setup_check_tsc = now_tsc;
    if (!stalled) return false;
    for (uint32_t looked = 0; looked < _s.flows && n < max_burst; looked++) {
        uint32_t f = _retry_cursor;
        _retry_cursor = _retry_cursor + 1 == _s.flows ? 0 : _retry_cursor + 1;
        if (_open[f / 64] & (uint64_t(1) << (f % 64))) continue;
        if (!(pkts[n] = rte_pktmbuf_alloc(_pool))) break;
        write_opening(pkts[n++], f, now_tsc);
    }
    if (n) send(pkts, static_cast<uint16_t>(n));
    return false;
}

uint16_t engine::send_burst(uint16_t n, uint64_t now_tsc) {
    rte_mbuf *pkts[max_burst];
    n = std::min(n, max_burst);
    if (!_ready || n == 0 || rte_pktmbuf_alloc_bulk(_pool, pkts, n) != 0) return 0;
    for (uint16_t i = 0; i < n; i++) {
        uint16_t len;
        if (_s.mode == scenario::cps) {
            uint32_t f = static_cast<uint32_t>(_next_conn++ % _s.flows);
            len = write_client_frame(data(pkts[i]), _s.frame, f, syn, tuple_space::isn(f), 0, 0, now_tsc);
        } else {
            uint32_t f = _next_flow;
            if (++_next_flow == _s.flows) _next_flow = 0, _pass++;
            // Each pass is the next segment of every flow: its sequence number moves on by
            // one payload, as a sender's would (only a flow's first segment sits at ISN + 1,
            // which a listener may treat apart: TOA).
            uint32_t seq = tuple_space::isn(f) + 1 + _pass * uint32_t(_data.len() - 54u);
            _data.write(data(pkts[i]), f, seq, server_isn(seq - 1) + 1, now_tsc);
            len = _data.len();
        }
        set_len(pkts[i], len);
    }
    uint16_t sent = send(pkts, n);
    if (_s.mode == scenario::cps) _next_conn -= n - sent;
    else _next_flow = static_cast<uint32_t>((_next_flow + _s.flows - (n - sent)) % _s.flows);
    _c.sent += sent;
    return sent;
}

uint16_t engine::send_flood(uint16_t n, uint64_t now_tsc) {
    rte_mbuf *pkts[max_burst];
    n = std::min(n, max_burst);
    if (_s.flood == flood_kind::none || n == 0 || rte_pktmbuf_alloc_bulk(_pool, pkts, n) != 0) return 0;
    frame_spec f = _s.frame;
    f.vport = _s.flood_port;
    f.proto = _s.flood == flood_kind::syn ? l4::tcp : l4::udp;
    f.clients.ports_per_ip = 1;
    for (uint16_t i = 0; i < n; i++) {
        _flood_rng ^= _flood_rng << 13, _flood_rng ^= _flood_rng >> 7, _flood_rng ^= _flood_rng << 17;
        if (_s.flood_v6) {
            uint8_t src[16];
            std::memcpy(src, flood_net6.data(), 8);
            std::memcpy(src + 8, &_flood_rng, 8);
            uint16_t sport = static_cast<uint16_t>(1024 + (_flood_rng >> 32) % 64000);
            set_len(pkts[i], write_frame6(data(pkts[i]), f.dst_mac, f.src_mac, src, _s.flood_vip6.data(), f.proto, sport,
                                          f.vport, uint32_t(_flood_rng >> 20)));
            continue;
        }
        f.clients.client_ip = flood_net | static_cast<uint32_t>(_flood_rng & ~flood_mask);
        f.clients.first_port = static_cast<uint16_t>(1024 + (_flood_rng >> 32) % 64000);
        uint16_t len = f.proto == l4::tcp ? write_client_frame(data(pkts[i]), f, 0, syn, uint32_t(_flood_rng >> 20), 0, 0, now_tsc)
                                          : write_client_frame(data(pkts[i]), f, 0, 0, 0, 0, 18, now_tsc);
        set_len(pkts[i], len);
    }
    uint16_t sent = send(pkts, n);
    _c.flood_sent += sent;
    return sent;
}

// The backends: every answer is computed from the frame it answers.
void engine::answer_as_server(rte_mbuf *m, rte_mbuf **out, uint16_t &n_out) {
    frame_view v = parse(data(m), m->data_len);
    // During setup UDP flows are echoed too: the client learns which ones are open.
    bool echo = _s.mode == scenario::rr || (!_ready && v.proto == l4::udp);
    if (!v.ok) {
        _c.foreign++;
    } else if (v.proto == l4::udp) {
        if (_ready) _c.delivered++;
        if (echo) {
            set_len(m, turn_around(data(m), _s.server_mac, 0, 0, 0, 0));
            out[n_out++] = m;
            return;
        }
    } else if (v.flags & rst) {
        _c.server_resets++;
    } else if ((v.flags & (syn | ack)) == syn) {
        set_len(m, turn_around(data(m), _s.server_mac, syn | ack, server_isn(v.seq), v.seq + 1, 0));
        out[n_out++] = m;
        return;
    } else if (v.flags & fin) {
        set_len(m, turn_around(data(m), _s.server_mac, fin | ack, v.ack_no, v.seq + v.payload + 1, 0));
        out[n_out++] = m;
        return;
    } else if (is_proxy_v2_header(data(m), v)) {
        _c.proxy_headers++;
    } else if (v.payload) {
        _c.delivered++;
        if (echo) {
            set_len(m, turn_around(data(m), _s.server_mac, psh | ack, v.ack_no, v.seq + v.payload, v.payload));
            out[n_out++] = m;
            return;
        }
    }
    rte_pktmbuf_free(m);
}

// The clients: complete handshakes and closes, count answers and their round trips.
void engine::account_at_client(rte_mbuf *m, uint64_t now_tsc, rte_mbuf **out, uint16_t &n_out) {
    frame_view v = parse(data(m), m->data_len);
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(data(m));
    // (The flows are IPv4: under an IPv6 flood, what comes back in IPv6 answers it.)
    bool to_spoofed6 = _s.flood_v6 && m->data_len >= eth_len && eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    if (!v.ok && !to_spoofed6) {
        _c.foreign++;
        rte_pktmbuf_free(m);
        return;
    }
    if (to_spoofed6 || (v.dst_ip & flood_mask) == flood_net) { // an answer to a spoofed source
        _c.flood_answers++;
        rte_pktmbuf_free(m);
        return;
    }
    uint32_t f = flow_of(v.dst_ip, v.dst_port);
    if (v.proto == l4::tcp && (v.flags & rst)) {
        _c.resets++;
    } else if (v.proto == l4::tcp && (v.flags & (syn | ack)) == (syn | ack)) {
        // Handshake done: the last ACK (cps: and the client's FIN right behind it).
        if (_ready) _c.opened++;
        else mark_open(f);
        set_len(m, write_client_frame(data(m), _s.frame, f, ack, v.ack_no, v.seq + 1, 0, now_tsc));
        out[n_out++] = m;
        if (_s.mode == scenario::cps && _ready) {
            rte_mbuf *f2 = rte_pktmbuf_alloc(_pool);
            if (!f2) return;
            set_len(f2, write_client_frame(data(f2), _s.frame, f, fin | ack, v.ack_no, v.seq + 1, 0, now_tsc));
            out[n_out++] = f2;
        }
        return;
    } else if (v.proto == l4::tcp && (v.flags & fin)) {
        _c.answered++; // the server closed its side: the connection is complete
        set_len(m, write_client_frame(data(m), _s.frame, f, ack, v.ack_no, v.seq + 1, 0, now_tsc));
        out[n_out++] = m;
        return;
    } else if (!_ready && v.proto == l4::udp) {
        mark_open(f); // the echo of a UDP flow's first datagram
    } else if (v.stamped) {
        if (_s.mode == scenario::rr) {
            _c.answered++;
            _c.latency.add((now_tsc - v.tsc) * 1000000000ull / _tsc_hz);
        }
    } else {
        _c.foreign++;
    }
    rte_pktmbuf_free(m);
}

void engine::poll(uint64_t now_tsc) {
    rte_mbuf *in[max_burst], *out[2 * max_burst];
    uint16_t n = rte_eth_rx_burst(_server, 0, in, max_burst), n_out = 0;
    if (_ready && _s.mode == scenario::stream) {
        // Once every flow is open only data frames should reach the backends: count
        // those that are (one of ours, with payload); anything else is foreign.
        for (uint16_t i = 0; i < n; i++) {
            frame_view v = parse(data(in[i]), in[i]->data_len);
            // A flood frame at a backend: a SYN (no flow opens now), or a datagram (the
            // flows are TCP under a UDP flood).
            bool flood = v.ok && _s.flood != flood_kind::none &&
                         (_s.flood == flood_kind::syn ? v.proto == l4::tcp && (v.flags & (syn | ack)) == syn
                                                      : v.proto == l4::udp);
            bool ours = !flood && v.ok && v.payload && (v.proto == l4::udp || !(v.flags & (syn | fin | rst)));
            if (flood) _c.flood_at_backends++;
            else if (ours && is_proxy_v2_header(data(in[i]), v)) _c.proxy_headers++; // a late flow's
            else if (ours) _c.delivered++;
            else _c.foreign++;
        }
        rte_pktmbuf_free_bulk(in, n);
    } else {
        for (uint16_t i = 0; i < n; i++) answer_as_server(in[i], out, n_out);
    }
    if (n_out) {
        uint16_t sent = rte_eth_tx_burst(_server, 0, out, n_out);
        for (uint16_t i = sent; i < n_out; i++) rte_pktmbuf_free(out[i]);
    }
    n = rte_eth_rx_burst(_client, 0, in, max_burst);
    n_out = 0;
    for (uint16_t i = 0; i < n; i++) account_at_client(in[i], now_tsc, out, n_out);
    if (n_out) send(out, n_out);
}

std::string engine::summary(double seconds) const {
    char b[900];
    uint64_t done = _s.mode == scenario::stream ? _c.delivered : _c.answered;
    // Signed: more frames counted than sent (duplicates, or a counting fault) shows as a
    // negative loss instead of being hidden at 0.
    int64_t lost = int64_t(_c.sent) - int64_t(done) - int64_t(_c.resets);
    const char *what = _s.mode == scenario::cps ? "connections" : "frames";
    int k = std::snprintf(b, sizeof b,
                          "%s %s, %u flows, %u B: sent %" PRIu64 " %s, %s %" PRIu64 ", lost %" PRId64
                          " (%.4f%%), resets %" PRIu64 ", foreign %" PRIu64 "; %.3f M/s sent, %.3f M/s %s",
                          name(_s.mode), name(_s.frame.proto), _s.flows, _s.frame_size, _c.sent, what,
                          _s.mode == scenario::stream ? "delivered" : _s.mode == scenario::rr ? "answered" : "completed",
                          done, lost, _c.sent ? 100.0 * double(lost) / double(_c.sent) : 0.0, _c.resets, _c.foreign,
                          double(_c.sent) / seconds / 1e6, double(done) / seconds / 1e6,
                          _s.mode == scenario::stream ? "delivered" : _s.mode == scenario::rr ? "answered" : "completed");
    if (_s.flood != flood_kind::none && k > 0 && size_t(k) < sizeof b)
        k += std::snprintf(b + k, sizeof b - size_t(k),
                           "; flood %s: sent %" PRIu64 " (%.3f M/s), at backends %" PRIu64 ", answered %" PRIu64,
                           _s.flood == flood_kind::syn ? "syn" : "udp", _c.flood_sent, double(_c.flood_sent) / seconds / 1e6,
                           _c.flood_at_backends, _c.flood_answers);
    if (_c.latency.count && k > 0 && size_t(k) < sizeof b)
        std::snprintf(b + k, sizeof b - size_t(k), "; round trip mean %.2f us, p50 %.2f us, p99 %.2f us, p99.9 %.2f us",
                      double(_c.latency.sum_ns) / double(_c.latency.count) / 1000,
                      double(_c.latency.percentile_ns(50)) / 1000, double(_c.latency.percentile_ns(99)) / 1000,
                      double(_c.latency.percentile_ns(99.9)) / 1000);
    return b;
}

std::string engine::json(double seconds) const {
    char b[1024];
    uint64_t done = _s.mode == scenario::stream ? _c.delivered : _c.answered;
    int64_t lost = int64_t(_c.sent) - int64_t(done) - int64_t(_c.resets);
    std::snprintf(b, sizeof b,
                  "{\"mode\":\"%s\",\"proto\":\"%s\",\"flows\":%u,\"frame_size\":%u,\"seconds\":%.3f,"
                  "\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"opened\":%" PRIu64
                  ",\"resets\":%" PRIu64 ",\"server_resets\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"lost\":%" PRId64 ",\"written_off\":%" PRIu64
                  ",\"sent_mps\":%.4f,\"done_mps\":%.4f,\"lat_mean_us\":%.3f,\"lat_p50_us\":%.3f,"
                  "\"lat_p99_us\":%.3f,\"lat_p999_us\":%.3f,\"flood\":\"%s\",\"flood_sent\":%" PRIu64
                  ",\"flood_mps\":%.4f,\"flood_at_backends\":%" PRIu64 ",\"flood_answers\":%" PRIu64
                  ",\"proxy_headers\":%" PRIu64 "}",
                  name(_s.mode), name(_s.frame.proto), _s.flows, _s.frame_size, seconds, _c.sent, _c.delivered,
                  _c.answered, _c.opened, _c.resets, _c.server_resets, _c.foreign, lost, _c.written_off, double(_c.sent) / seconds / 1e6,
                  double(done) / seconds / 1e6,
                  _c.latency.count ? double(_c.latency.sum_ns) / double(_c.latency.count) / 1000 : 0.0,
                  double(_c.latency.percentile_ns(50)) / 1000, double(_c.latency.percentile_ns(99)) / 1000,
                  double(_c.latency.percentile_ns(99.9)) / 1000,
                  _s.flood == flood_kind::none  ? "none"
                  : _s.flood == flood_kind::syn ? (_s.flood_v6 ? "syn6" : "syn")
                                                : (_s.flood_v6 ? "udp6" : "udp"),
                  _c.flood_sent,
                  double(_c.flood_sent) / seconds / 1e6, _c.flood_at_backends, _c.flood_answers, _c.proxy_headers);
    return b;
}

void engine::write_pcap(const settings &s, pcap_file &out, uint64_t data_frames) {
    uint8_t frame[2048];
    bool tcp = s.frame.proto == l4::tcp;
    uint16_t payload = static_cast<uint16_t>(std::max<int>(stamp_len, s.frame_size - int(payload_offset(s.frame.proto))));
    auto put = [&](uint32_t f, uint8_t flags, uint32_t seq, uint32_t ack_no, uint16_t pl) {
        out.write(frame, write_client_frame(frame, s.frame, f, flags, seq, ack_no, pl, 0));
    };
    if (s.mode == scenario::cps) {
        for (uint64_t c = 0; c < data_frames; c++) {
            uint32_t f = static_cast<uint32_t>(c % s.flows), x = tuple_space::isn(f), y = server_isn(x);
            put(f, syn, x, 0, 0);
            put(f, ack, x + 1, y + 1, 0);
            put(f, fin | ack, x + 1, y + 1, 0);
            put(f, ack, x + 2, y + 2, 0);
        }
        return;
    }
    for (uint32_t f = 0; f < s.flows; f++) {
        uint32_t x = tuple_space::isn(f);
        if (tcp) put(f, syn, x, 0, 0);
        else put(f, 0, 0, 0, payload);
    }
    if (tcp)
        for (uint32_t f = 0; f < s.flows; f++) put(f, ack, tuple_space::isn(f) + 1, server_isn(tuple_space::isn(f)) + 1, 0);
    for (uint64_t i = 0; i < data_frames; i++) { // each pass over the flows moves their sequence on, as live
        uint32_t f = static_cast<uint32_t>(i % s.flows), x = tuple_space::isn(f);
        put(f, tcp ? (psh | ack) : 0, x + 1 + uint32_t(i / s.flows) * payload, server_isn(x) + 1, payload);
    }
}

} // namespace fulcrum::gen
