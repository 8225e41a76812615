// Side entries: 16 bytes per connection index, beside the 64-byte connection, for the
// connections flagged conn::has_side only: the SYN proxy's translation (synproxy.h) and
// the client-address header's (client_addr.h). The array is untouched anonymous memory:
// only the entries of such connections ever get pages.
#pragma once

#include "conn/conn.h"
#include "conn/tcp_window.h"

#include <cstdint>

namespace fulcrum::dataplane {

using conn::connection;
using conn::flow_key;
using conn::tcp_state;
namespace tcp_window = conn::tcp_window;

struct conn_side {
    uint32_t delta;         // SYN proxy: client-facing sequence = backend's + delta
    uint32_t first_seq;     // the client's ISN + 1: where its bytes (or the PROXY header) start
    uint16_t pending;       // SYN proxy: 1 + its waiting slot while the backend has not answered
    uint8_t ws_backend : 4; // SYN proxy: window scale the backend uses; tcp_window::no_scale when
                            // it did not answer the offer of a client that scales (both ways unscaled)
    uint8_t ws_client_view : 4; // SYN proxy: window scale the client was promised
    uint8_t client_addr : 4;    // listener_rt::client_addr_*, fixed when the connection was made
    uint8_t header : 4;         // PROXY v2 over TCP: header_unsent, header_sent, header_acked
    uint16_t win;           // PROXY v2: the client's window when the header went out (resends)
    uint16_t backend_mss;   // SYN proxy: the MSS the backend's SYN-ACK asked for (0: none)
    enum : uint8_t { header_unsent, header_sent, header_acked };
};
static_assert(sizeof(conn_side) == 16);

class side_table {
  public:
    explicit side_table(uint32_t capacity); // throws allocation_failed
    ~side_table();
    side_table(const side_table &) = delete;
    side_table &operator=(const side_table &) = delete;

    conn_side &at(uint32_t conn_index) { return _e[conn_index]; }
    const conn_side &at(uint32_t conn_index) const { return _e[conn_index]; }
    // A fresh entry for connection `c` (index `conn_index`), flagged has_side.
    conn_side &open(connection &c, uint32_t conn_index, uint32_t first_seq, uint8_t client_addr) {
        conn_side &s = _e[conn_index];
        s = conn_side{};
        s.first_seq = first_seq;
        s.client_addr = client_addr;
        c.flags |= conn::has_side;
        return s;
    }

  private:
    conn_side *_e;
    uint32_t _capacity;
};

} // namespace fulcrum::dataplane
