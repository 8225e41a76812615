#!/usr/bin/env bash
# Bulk TCP, path MTU and jumbo frames through Fulcrum with real kernels on both sides:
#  1. iperf3, four streams for 10 s through the VIP: near-zero retransmits with the lab's
#     8,192-frame af_packet rings, and the kernel rings' drops in Fulcrum's counters;
#  2. the same with af_packet's default 512-frame ring: whatever the ring drops is counted;
#  3. a backend behind a router whose next hop has MTU 1400: 1 MB uploaded with DF set
#     (the router's "fragmentation needed" reaches the client through Fulcrum);
#  4. MTU 9000 everywhere: jumbo frames cross Fulcrum, IPv4 and IPv6 (6->6).
source "$(dirname "$0")/lab_prelude.sh"

write_cfg() { # write_cfg MTU > file: demo.json, iperf3 listeners, a route to 10.10.3.0/24
  python3 - "$ROOT/conf/demo.json" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); mtu = int(sys.argv[2])
for p in c["ports"]: p["mtu"] = mtu
c["ports"][1]["gateway"] = "10.10.2.11"   # the servers' namespace routes to 10.10.3.0/24
c["mbufs"] = 8192
c["vserver_groups"] = [
  {"VServerGroupId": "rsp-1", "VServerGroupName": "iperf", "BackendServers": [{"ServerId": "i-web1", "ServerIp": "10.10.2.11", "Port": 5201}]},
  {"VServerGroupId": "rsp-2", "VServerGroupName": "far", "BackendServers": [{"ServerId": "i-far", "ServerIp": "10.10.3.2", "Port": 5201}]}]
# IPv6 beside (6->6 to the iperf3 server's IPv6 address): the jumbo part runs it too.
c["ports"][0]["address6"], c["ports"][1]["address6"] = "2001:db8:1::1/64", "2001:db8:2::1/64"
c["vips"].append("2001:db8:1::10")
c["local_addresses"].append("2001:db8:2::100")
c["vserver_groups"].append({"VServerGroupId": "rsp-6", "VServerGroupName": "iperf6", "BackendServers": [
  {"ServerId": "i-web1", "ServerIp": "2001:db8:2::11", "Port": 5201}]})
c["listeners"] += [
  {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 5203, "BackendServerPort": 1, "VServerGroupId": "rsp-6"},
  {"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 5201, "BackendServerPort": 5201, "VServerGroupId": "rsp-1"},
  {"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 5202, "BackendServerPort": 5201, "VServerGroupId": "rsp-2"}]
print(json.dumps(c))
PY
}
iperf() { # iperf [-6] ARGS...: iperf3 from the client to the VIP (-6: the IPv6 one); prints "bytes retransmits"
  local vip=10.10.1.10
  [ "${1:-}" = -6 ] && { vip=2001:db8:1::10; shift; }
  lab_ns cl iperf3 -J -c "$vip" "$@" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)["end"]["sum_sent"]; print(int(d["bytes"]), int(d.get("retransmits", 0)))
except Exception: print("0 -1")'
}
ring_drops() { # kernel-ring drops in the last report, summed over ports
  sed -n 's/.*(kernel ring \([0-9]*\)).*/\1/p' "$LAB_DIR/fulcrum.log" | awk '{ s += $1 } END { print s + 0 }'
}

lab_up
# A router in the servers' namespace: 10.10.3.0/24 behind it, its next hop there MTU 1400
# (a route MTU: the link itself is 1500, as is the far backend's interface).
ip netns add "$LAB-far"
ip link add rt1 netns "$LAB-sv" type veth peer name far0 netns "$LAB-far"
lab_ns sv ip addr add 10.10.3.1/24 dev rt1
lab_ns sv ip link set rt1 up
lab_ns sv sysctl -qw net.ipv4.ip_forward=1
lab_ns sv ip route replace 10.10.3.0/24 dev rt1 mtu lock 1400
lab_ns far ip link set lo up
lab_ns far ip addr add 10.10.3.2/24 dev far0
lab_ns far ip link set far0 up
lab_ns far ip route add default via 10.10.3.1
lab_ns far ethtool -K far0 tx off >/dev/null
lab_ns sv ethtool -K rt1 tx off >/dev/null
LAB_EXTRA_NS=(far) # lab_down kills what runs in it and removes it
lab_v6_on cl cl0
lab_ns cl ip -6 addr add 2001:db8:1::2/64 dev cl0 nodad
lab_v6_on sv sv0
lab_ns sv ip -6 addr add 2001:db8:2::11/64 dev sv0 nodad
lab_ns sv iperf3 -s -B 10.10.2.11 -p 5201 >/dev/null 2>&1 &
LAB_PIDS+=($!)
lab_ns sv iperf3 -s -B 2001:db8:2::11 -p 5201 >/dev/null 2>&1 &
LAB_PIDS+=($!)
lab_ns far iperf3 -s -B 10.10.3.2 -p 5201 >/dev/null 2>&1 &
LAB_PIDS+=($!)
sleep 0.5

# --- 1 and 3: MTU 1500, the lab's rings ------------------------------------------------------
write_cfg 1500 > "$LAB_DIR/cfg.json"
lab_start_fulcrum "$LAB_DIR/cfg.json"
read -r bytes retr <<< "$(iperf -p 5201 -P 4 -t 10)"
kill -USR1 "$FULCRUM_PID"; sleep 0.5
drops=$(ring_drops)
echo "  (iperf3: $bytes bytes in 10 s, $retr retransmits; kernel ring drops $drops)"
check "a 10 s four-stream iperf3 transfer through the VIP completes ($bytes bytes)" [ "$bytes" -gt 10000000 ]
check "with 8,192-frame rings it has near-zero retransmits ($retr, at most 50)" bash -c "[ '$retr' -ge 0 ] && [ '$retr' -le 50 ]"
oow=$(sed -n 's/.* tcp out of window \([0-9]*\),.*/\1/p' "$LAB_DIR/fulcrum.log" | tail -1)
check "real kernels' bulk TCP is never judged out of window (${oow:-none})" [ "${oow:-x}" = 0 ]

read -r bytes retr <<< "$(iperf -p 5202 -n 1M)"
kill -USR1 "$FULCRUM_PID"; sleep 0.5
fwd=$(sed -n 's/.* icmp errors forwarded \([0-9]*\),.*/\1/p' "$LAB_DIR/fulcrum.log" | tail -1)
pmtu=$(lab_ns cl ip route get 10.10.1.10 | grep -o 'mtu [0-9]*' || true)
check "1 MB uploaded to a backend behind a 1400-MTU hop ($bytes bytes, $retr retransmits)" [ "$bytes" -ge 1048576 ]
check "the hop's fragmentation-needed reached the client through Fulcrum ($fwd forwarded; client route: ${pmtu:-no pmtu})" \
  bash -c "[ '${fwd:-0}' -ge 1 ] && [ '$pmtu' = 'mtu 1400' ]"
lab_stop_fulcrum

# --- 2: af_packet's default ring -----------------------------------------------------------------
LAB_AFP_RING="framecnt=512" lab_start_fulcrum "$LAB_DIR/cfg.json"
read -r bytes retr <<< "$(iperf -p 5201 -P 4 -t 5)"
kill -USR1 "$FULCRUM_PID"; sleep 0.5
drops=$(ring_drops)
echo "  (512-frame rings: $retr retransmits, kernel ring drops $drops)"
# Each ring loss costs the sender a retransmission: the counted drops must account for
# them (here about one for one), not merely be more than zero.
check "with 512-frame rings, ring losses are counted: $drops drops for $retr retransmits" \
  bash -c "[ '$retr' -ge 0 ] && { [ '$retr' -lt 20 ] || [ \$(( $drops * 4 )) -ge '$retr' ]; }"
lab_stop_fulcrum

# --- 4: jumbo frames --------------------------------------------------------------------------------
lab_ns cl ip link set cl0 mtu 9000
lab_ns cl ip route flush cache # the VIP's path MTU of 1400 learnt in part 3
lab_ns sv ip link set sv0 mtu 9000
write_cfg 9000 > "$LAB_DIR/cfg9000.json"
LAB_AFP_RING="framecnt=1024,framesz=10240,blocksz=20480" lab_start_fulcrum "$LAB_DIR/cfg9000.json"
check "Fulcrum set MTU 9000 on its af_packet interfaces" bash -c "ip netns exec '$LAB-lb' ip link show lbc | grep -q 'mtu 9000'"
jumbo() { # jumbo NAME PING-ARGS -- IPERF-ARGS: a 9,000-byte ping, then 20 MB, in jumbo frames at the backend
  local name=$1 ping=() rx0 p0 rx1 p1 bytes retr avg; shift
  while [ "$1" != -- ]; do ping+=("$1"); shift; done; shift
  check "a 9,000-byte ping to the $name is answered (DF, no fragments)" \
    bash -c "ip netns exec '$LAB-cl' ping -q -c 2 -W 2 -M do ${ping[*]} >/dev/null"
  rx0=$(lab_ns sv cat /sys/class/net/sv0/statistics/rx_bytes); p0=$(lab_ns sv cat /sys/class/net/sv0/statistics/rx_packets)
  read -r bytes retr <<< "$(iperf "$@" -n 20M)"
  rx1=$(lab_ns sv cat /sys/class/net/sv0/statistics/rx_bytes); p1=$(lab_ns sv cat /sys/class/net/sv0/statistics/rx_packets)
  avg=$(( (rx1 - rx0) / ( (p1 - p0) > 0 ? (p1 - p0) : 1 ) ))
  check "20 MB through the $name at MTU 9000 ($bytes bytes, $retr retransmits)" [ "$bytes" -ge 20971520 ]
  check "the backend received jumbo frames (average $avg bytes per frame)" [ "$avg" -gt 4000 ]
}
jumbo VIP -s 8972 10.10.1.10 -- -p 5201
jumbo "IPv6 VIP (6->6)" -6 -s 8952 2001:db8:1::10 -- -6 -p 5203
lab_stop_fulcrum
check "no packet dropped as malformed or too big" bash -c "! grep -qE 'bad_|trunc_|too_big|multi_segment' '$LAB_DIR/fulcrum.log'"
e2e_finish
