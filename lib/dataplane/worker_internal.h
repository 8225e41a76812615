// What the worker's files share: header offsets, TCP flag bits, small helpers.
// Included only by lib/dataplane/worker*.cpp.
#pragma once

#include "dataplane/worker.h"
#include "net/checksum.h"

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>

namespace fulcrum::dataplane::detail {

constexpr uint32_t l3_off = sizeof(rte_ether_hdr);
constexpr uint8_t tcp_fin = RTE_TCP_FIN_FLAG, tcp_syn = RTE_TCP_SYN_FLAG, tcp_rst = RTE_TCP_RST_FLAG,
                  tcp_ack = RTE_TCP_ACK_FLAG;

} // namespace fulcrum::dataplane::detail

namespace fulcrum::dataplane {
// The worker files' shared vocabulary (this header is private to them).
using conn::connection;
using conn::flow_key;
using conn::tcp_state;
using namespace detail;
} // namespace fulcrum::dataplane
