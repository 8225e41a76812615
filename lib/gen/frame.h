// Frames of fulcrum-gen's emulated clients: client:cport -> VIP:vport, TCP or UDP.
//
// One writer serves the live engine (into mbufs) and the pcap writer (into a buffer), so
// a replayed capture carries exactly the traffic the engine sends. Flow f's client is
// address client_ip + f / ports_per_ip, port first_port + f % ports_per_ip.
//
// Data frames carry a 10-byte stamp after the L4 header (a magic word and the TSC they
// left at; a 64-byte TCP frame has just room for it), zeros after it; TCP control
// frames (SYN, ACK, FIN) carry no payload and are padded to 60 bytes. Checksums: IPv4 always; TCP always (pseudo-header, header and stamp: the zero
// tail adds nothing); UDP 0 (optional in IPv4, and Fulcrum keeps it 0).
#pragma once

#include <cstdint>
#include <vector>

namespace fulcrum::gen {

enum class l4 : uint8_t { tcp = 6, udp = 17 };

constexpr uint16_t stamp_magic = 0xf1c0;
constexpr uint32_t eth_len = 14, ip_len = 20, tcp_len = 20, udp_len = 8, stamp_len = 10;
constexpr uint16_t min_frame = 60; // without FCS

// TCP flags as on the wire.
constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;

// The server's initial sequence number for a client's: stateless on both sides, so the
// client knows the SYN-ACK's number before it arrives (a pcap can hold the whole handshake).
inline uint32_t server_isn(uint32_t client_isn) { return client_isn + 0x10000000u; }

struct tuple_space {
    uint32_t client_ip = 0; // first client address, host order
    uint32_t ports_per_ip = 60000;
    uint16_t first_port = 1024;
    uint32_t ip(uint32_t flow) const { return client_ip + flow / ports_per_ip; }
    uint16_t port(uint32_t flow) const { return static_cast<uint16_t>(first_port + flow % ports_per_ip); }
    // The client's initial sequence number of flow f.
    static uint32_t isn(uint32_t flow) { return flow * 2654435761u; }
};

struct frame_spec {
    l4 proto = l4::udp;
    uint8_t dst_mac[6]{}, src_mac[6]{};
    uint32_t vip = 0; // host order
    uint16_t vport = 53;
    tuple_space clients;
};

// Header length before the stamp for a protocol.
inline uint32_t payload_offset(l4 p) { return eth_len + ip_len + (p == l4::tcp ? tcp_len : udp_len); }

// Write flow `flow`'s frame at `out` and return its length: headers, then `payload`
// bytes (a stamp with `tsc` first when there is room, zeros after), padded to the
// Ethernet minimum of 60. `flags`, `seq`, `ack_no` are for TCP (ignored for UDP).
uint16_t write_client_frame(uint8_t *out, const frame_spec &s, uint32_t flow, uint8_t flags, uint32_t seq,
                            uint32_t ack_no, uint16_t payload, uint64_t tsc);

// A backend's answer to an IPv6 UDP datagram `f` (as Fulcrum sent it): MACs, addresses
// and ports swapped in place (the checksum stays right: the sum does not change). False,
// `f` untouched, for anything else.
bool turn_around6(std::vector<uint8_t> &f);

// An IPv6 frame from src:sport to dst:dport (16-byte addresses): a TCP SYN with `seq` and
// no options, or a UDP datagram of 18 zero bytes; checksums computed. Returns its length.
uint16_t write_frame6(uint8_t *out, const uint8_t *dst_mac, const uint8_t *src_mac, const uint8_t *src, const uint8_t *dst,
                      l4 proto, uint16_t sport, uint16_t dport, uint32_t seq);

// Data frames of one scenario, fast: a template of the first 64 bytes built once, and
// per frame only the flow's fields and the checksums (one's-complement sums of the
// template plus what changed). Same bytes as write_client_frame's.
class data_frame_writer {
  public:
    data_frame_writer(const frame_spec &s, uint16_t frame_len);
    uint16_t len() const { return _len; }
    void write(uint8_t *out, uint32_t flow, uint32_t seq, uint32_t ack_no, uint64_t tsc) const;

  private:
    frame_spec _s;
    uint16_t _len;
    alignas(64) uint8_t _tmpl[64];
    uint32_t _ip_sum = 0, _l4_sum = 0; // sums of the template with the varying fields zero
};

// Turn a received frame around in place and return its new length: MACs (`src_mac` as
// source), addresses and ports swapped, TTL reset, checksums recomputed. TCP takes
// `flags`, `seq`, `ack_no`, and keeps `payload` bytes of its payload (0: a control frame).
uint16_t turn_around(uint8_t *frame, const uint8_t *src_mac, uint8_t flags, uint32_t seq, uint32_t ack_no,
                     uint16_t payload);

// What the engine needs to know of a received frame; `ok` is false for anything that is
// not IPv4 TCP/UDP with a whole header and stamp room.
struct frame_view {
    bool ok = false;
    l4 proto = l4::udp;
    uint8_t flags = 0;      // TCP
    uint32_t seq = 0, ack_no = 0; // TCP, host order
    uint16_t payload = 0;   // L4 payload bytes
    uint16_t payload_off = 0; // where they start, from the frame's first byte
    uint32_t src_ip = 0, dst_ip = 0; // host order
    uint16_t src_port = 0, dst_port = 0;
    bool stamped = false;
    uint64_t tsc = 0;
};
frame_view parse(const uint8_t *frame, uint32_t len);

// The frames of a pcap file (microsecond or nanosecond, Ethernet; as pcap_file or a PMD
// writes them); empty when the file cannot be read.
std::vector<std::vector<uint8_t>> read_pcap(const char *path);

// A pcap (microsecond, Ethernet) file; frames are written with increasing timestamps.
class pcap_file {
  public:
    explicit pcap_file(const char *path);
    ~pcap_file();
    pcap_file(const pcap_file &) = delete;
    pcap_file &operator=(const pcap_file &) = delete;
    bool ok() const { return _f != nullptr; }
    void write(const uint8_t *frame, uint32_t len);
    uint64_t frames() const { return _n; }

  private:
    void *_f;
    uint64_t _n = 0;
};

} // namespace fulcrum::gen
