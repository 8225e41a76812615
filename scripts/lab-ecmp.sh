# The scale-out lab: two Fulcrum nodes behind an ECMP router, each announcing the VIPs
# over BGP from its own BIRD through its exception path, over IPv4 and over IPv6.
#
#   [ns $LAB-cl] 10.10.0.2-9 - [ns $LAB-rt] router 10.10.0.1 | br 10.10.1.254 (BIRD AS 65000, multipath, L4 hash)
#    2001:db8:10::2-9               2001:db8:10::1           |    2001:db8:11::fe
#                                     |                          |
#                             upa 10.10.1.1                upb 10.10.1.2        <- each node's "up" port; its
#                                 2001:db8:11::1               2001:db8:11::2      BIRD (AS 65001) peers on
#                        [ns $LAB-a: fulcrum A, BIRD]  [ns $LAB-b: fulcrum B, BIRD]  the port's tap, a session
#                             dna 10.10.2.1                dnb 10.10.2.2           per family
#                                     |                          |
#                        [ns $LAB-sv] bridge: backends 10.10.2.11-13 (HTTP :8080, line echo :9000);
#                                     laddrs A .100, B .101
#
# VIPs 10.10.9.10 and 2001:db8:9::10 (outside every subnet: both nodes answer ARP and ND
# for them): tcp/80 -> 8080 and tcp/9000 -> 9000, both sch, health-checked every second;
# the IPv6 VIP's listeners reach the same IPv4 backends (6->4, the nodes' IPv4 laddrs).
# The nodes list each other as cluster nodes by their IPv6 port addresses (a peer's
# family does not matter to a handoff: the copy is an Ethernet frame), so a drained
# node's connections of either family are handed back to it. BGP hold time 3 s.
# Source after common.sh and lab.sh (for lab_ns, LAB, LAB_DIR); ecmp_down removes everything.
VIP6=2001:db8:9::10

ecmp_up() {
  for ns in cl rt a b sv; do ip netns add "$LAB-$ns"; lab_ns "$ns" ip link set lo up; done
  # IPv6 on the client side only (the backends are IPv4); no DAD to wait for, no RAs.
  for ns in sv; do lab_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
  for ns in cl rt a b; do
    lab_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
  done
  ip link add cl0 netns "$LAB-cl" type veth peer name rc netns "$LAB-rt"
  for i in 2 3 4 5 6 7 8 9; do
    lab_ns cl ip addr add "10.10.0.$i/24" dev cl0; lab_ns cl ip -6 addr add "2001:db8:10::$i/64" dev cl0 nodad
  done
  lab_ns cl ip link set cl0 up
  lab_ns cl ip route add default via 10.10.0.1
  lab_ns cl ip -6 route add default via 2001:db8:10::1
  lab_ns rt ip addr add 10.10.0.1/24 dev rc; lab_ns rt ip -6 addr add 2001:db8:10::1/64 dev rc nodad; lab_ns rt ip link set rc up
  lab_ns rt ip link add br0 type bridge; lab_ns rt ip addr add 10.10.1.254/24 dev br0
  lab_ns rt ip -6 addr add 2001:db8:11::fe/64 dev br0 nodad; lab_ns rt ip link set br0 up
  lab_ns rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1
  lab_ns sv ip link add br1 type bridge; lab_ns sv ip link set br1 up
  for i in 11 12 13; do lab_ns sv ip addr add "10.10.2.$i/24" dev br1; done
  for n in a b; do
    ip link add "r$n" netns "$LAB-rt" type veth peer name "up$n" netns "$LAB-$n"
    ip link add "s$n" netns "$LAB-sv" type veth peer name "dn$n" netns "$LAB-$n"
    lab_ns rt ip link set "r$n" master br0 up
    lab_ns sv ip link set "s$n" master br1 up
    lab_ns "$n" ip link set "up$n" up; lab_ns "$n" ip link set "dn$n" up
    lab_ns "$n" nft -f - <<NFT
table netdev fulcrum_lab {
  chain up { type filter hook ingress device "up$n" priority 0; policy drop; }
  chain dn { type filter hook ingress device "dn$n" priority 0; policy drop; }
}
NFT
  done
  lab_ns cl ethtool -K cl0 tx off >/dev/null
  for i in rc br0 ra rb; do lab_ns rt ethtool -K "$i" tx off >/dev/null 2>&1 || true; done
  for i in br1 sa sb; do lab_ns sv ethtool -K "$i" tx off >/dev/null 2>&1 || true; done
  cat > "$LAB_DIR/bird-rt.conf" <<EOF
router id 10.10.1.254;
log "$LAB_DIR/bird-rt.log" all;
protocol device {}
protocol kernel { ipv4 { export all; import none; }; merge paths on; }
protocol kernel { ipv6 { export all; import none; }; merge paths on; }
template bgp node { local as 65000; ipv4 { import all; export none; }; hold time 3; keepalive time 1; connect retry time 1; }
template bgp node6 { local as 65000; ipv6 { import all; export none; }; hold time 3; keepalive time 1; connect retry time 1; }
protocol bgp a from node { neighbor 10.10.1.1 as 65001; }
protocol bgp b from node { neighbor 10.10.1.2 as 65001; }
protocol bgp a6 from node6 { neighbor 2001:db8:11::1 as 65001; }
protocol bgp b6 from node6 { neighbor 2001:db8:11::2 as 65001; }
EOF
  lab_ns rt bird -c "$LAB_DIR/bird-rt.conf" -s "$LAB_DIR/bird-rt.ctl" -P "$LAB_DIR/bird-rt.pid"
}

# ecmp_backends: the three servers, HTTP on 8080 and a line echo on 9000 (logs in $LAB_DIR).
ecmp_backends() {
  for i in 1 2 3; do
    lab_ns sv python3 "$ROOT/test/e2e/backend_server.py" "10.10.2.1$i" 8080 "web$i" "$LAB_DIR/web$i.log" 2>/dev/null &
    lab_ns sv python3 "$ROOT/test/e2e/tcp_echo.py" "10.10.2.1$i" 9000 "echo$i" "$LAB_DIR/echo$i.log" 2>/dev/null &
  done
  local i=0
  until lab_ns sv ss -ltn | grep -q '10.10.2.13:9000' && lab_ns sv ss -ltn | grep -q '10.10.2.13:8080'; do
    sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || { echo "backends did not start" >&2; return 1; }
  done
}

# ecmp_node_config N > file: node N's (a or b) Fulcrum config.
ecmp_node_config() {
  local o=1 l=100; [ "$1" = b ] && { o=2; l=101; }
  python3 - "$1" "$o" "$l" "$LAB_DIR" <<'PY'
import json, sys
n, o, l, d = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
hc = {"HealthCheck": "on", "HealthCheckType": "tcp", "HealthCheckInterval": 1, "HealthCheckConnectTimeout": 1,
      "HealthyThreshold": 2, "UnhealthyThreshold": 2}
print(json.dumps({
  "workers": 1,
  "ports": [{"name": "up", "device": "net_af_packet0", "address": "10.10.1.%s/24" % o, "gateway": "10.10.1.254",
             "address6": "2001:db8:11::%s/64" % o, "gateway6": "2001:db8:11::fe"},
            {"name": "servers", "device": "net_af_packet1", "address": "10.10.2.%s/24" % o}],
  "vips": ["10.10.9.10", "2001:db8:9::10"], "local_addresses": ["10.10.2.%s" % l], "conn_capacity": 65536, "mbufs": 16384,
  "exception_path_rate": 1000,
  "bgp": {"include_file": "%s/vips-%s.conf" % (d, n), "include_file6": "%s/vips6-%s.conf" % (d, n),
          "reload_command": ["birdc", "-s", "%s/bird-%s.ctl" % (d, n), "configure"],
          "neighbours": ["10.10.1.254", "2001:db8:11::fe"]},
  "cluster": {"nodes": ["2001:db8:11::1", "2001:db8:11::2"]},
  "tcp_timeouts": {"time_wait": 2, "close": 2},
  "listeners": [dict(hc, VIP=v, Protocol="tcp", ListenerPort=p, BackendServerPort=p if p != 80 else 8080,
                     Scheduler="sch") for v in ("10.10.9.10", "2001:db8:9::10") for p in (80, 9000)],
  "default_server_group": [{"ServerId": "i-web%d" % i, "ServerIp": "10.10.2.%d" % (10 + i)} for i in (1, 2, 3)]}))
PY
}

# ecmp_start_node N: Fulcrum N and its BIRD (peering through Fulcrum's exception-path tap).
ecmp_start_node() {
  local n=$1 o=1 cores="0@0,1@1"; [ "$n" = b ] && { o=2; cores="0@1,1@0"; }
  ecmp_node_config "$n" > "$LAB_DIR/node-$n.json"
  : > "$LAB_DIR/vips-$n.conf"; : > "$LAB_DIR/vips6-$n.conf"
  cat > "$LAB_DIR/bird-$n.conf" <<EOF
router id 10.10.1.$o;
log "$LAB_DIR/bird-$n.log" all;
protocol device {}
protocol static fulcrum_vips {
  ipv4;
  include "$LAB_DIR/vips-$n.conf";
}
protocol static fulcrum_vips6 {
  ipv6;
  include "$LAB_DIR/vips6-$n.conf";
}
protocol bgp up { local as 65001; neighbor 10.10.1.254 as 65000; ipv4 { import none; export where proto = "fulcrum_vips"; };
  hold time 3; keepalive time 1; connect retry time 1; }
protocol bgp up6 { local as 65001; neighbor 2001:db8:11::fe as 65000; ipv6 { import none; export where proto = "fulcrum_vips6"; };
  hold time 3; keepalive time 1; connect retry time 1; }
EOF
  # The node's speaker runs as Debian's does, under its own user: it must read the include
  # file Fulcrum writes (0644, in a directory it can enter, as /run/fulcrum is 0755).
  local as_user=()
  if id bird >/dev/null 2>&1; then
    as_user=(-u bird -g bird)
    chmod 755 "$LAB_DIR"
    touch "$LAB_DIR/bird-$n.log" "$LAB_DIR/bird-$n.pid" && chown bird:bird "$LAB_DIR/bird-$n.log" "$LAB_DIR/bird-$n.pid"
  fi
  lab_ns "$n" bird -c "$LAB_DIR/bird-$n.conf" -s "$LAB_DIR/bird-$n.ctl" -P "$LAB_DIR/bird-$n.pid" "${as_user[@]}"
  # shellcheck disable=SC2046
  # Not through lab_ns: `ip netns exec` execs Fulcrum, so $! is Fulcrum's own pid.
  ip netns exec "$LAB-$n" "$BUILD/src/fulcrum/fulcrum" --lcores "$cores" --file-prefix "$LAB-$n" --no-pci $(eal_mem_args) \
    --log-level 'pmd.net.af_packet:warning' --log-level 'pmd.net.tap:critical' \
    --vdev "net_af_packet0,iface=up$n,framecnt=8192" --vdev "net_af_packet1,iface=dn$n,framecnt=8192" \
    -- --config "$LAB_DIR/node-$n.json" --ctl-socket "$LAB_DIR/ctl-$n.sock" --metrics 9100 > "$LAB_DIR/fulcrum-$n.log" 2>&1 &
  local w=$! i=0
  disown "$w" # killed by ecmp_down or a test, without a job notice
  echo "$w" > "$LAB_DIR/fulcrum-$n.pid"
  until grep -q "bytes per connection" "$LAB_DIR/fulcrum-$n.log" 2>/dev/null; do
    kill -0 "$w" 2>/dev/null || { cat "$LAB_DIR/fulcrum-$n.log" >&2; return 1; }
    sleep 0.1; i=$((i + 1)); [ $i -lt 300 ] || { echo "fulcrum $n did not start" >&2; return 1; }
  done
}

# The router's route to the VIP, and its next hops sorted ("10.10.1.1 10.10.1.2"); the
# same for the IPv6 VIP, each next hop (the node's global IPv6 port address, as BIRD
# sets it on a single-hop session) named by its node's IPv4 port address.
ecmp_route() { lab_ns rt ip route show 10.10.9.10; }
ecmp_next_hops() { ecmp_route | grep -oE 'via 10\.10\.1\.[0-9]+' | awk '{print $2}' | sort | xargs; }
ecmp_route6() { lab_ns rt ip -6 route show "$VIP6"; }
ecmp_next_hops6() {
  ecmp_route6 | grep -oE 'via [0-9a-f:]+' | awk '{print $2}' | sed 's/^2001:db8:11::/10.10.1./' | sort | xargs
}
# ecmp_wait_hops WANT SECONDS [FN]: until the next hops (FN: ecmp_next_hops or
# ecmp_next_hops6) are WANT; prints the seconds it took.
ecmp_wait_hops() {
  local t0 ms fn=${3:-ecmp_next_hops}
  t0=$(date +%s%N)
  while :; do
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$($fn)" = "$1" ] && { awk -v ms=$ms 'BEGIN { printf "%.1f", ms / 1000 }'; return 0; }
    [ $ms -lt $(($2 * 1000)) ] || { echo "timeout"; return 1; }
    sleep 0.1
  done
}
ecmp_ctl() { local n=$1; shift; "$BUILD/src/fulcrumctl/fulcrumctl" --socket "$LAB_DIR/ctl-$n.sock" "$@"; }
# ecmp_counter N LABEL: node N's worker counter (from the report SIGUSR1 prints).
ecmp_counter() {
  kill -USR1 "$(cat "$LAB_DIR/fulcrum-$1.pid")"
  sleep 0.3
  grep -oE "$2 [0-9]+" "$LAB_DIR/fulcrum-$1.log" | tail -1 | awk '{print $NF}'
}

ecmp_down() {
  for ns in cl rt a b sv; do
    ip netns pids "$LAB-$ns" 2>/dev/null | xargs -r kill -INT 2>/dev/null || true
  done
  sleep 1
  for ns in cl rt a b sv; do
    ip netns pids "$LAB-$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$LAB-$ns" 2>/dev/null || true
  done
  rm -rf "/dev/hugepages/${LAB}"-*map_* 2>/dev/null || true
}
