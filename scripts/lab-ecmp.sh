# The scale-out lab: two Fulcrum nodes behind an ECMP router, each announcing the VIP
# over BGP from its own BIRD through its exception path.
#
#   [ns $LAB-cl] 10.10.0.2-9 - [ns $LAB-rt] router 10.10.0.1 | br 10.10.1.254 (BIRD AS 65000, multipath, L4 hash)
#                                     |                          |
#                             upa 10.10.1.1                upb 10.10.1.2        <- each node's "up" port; its
#                        [ns $LAB-a: fulcrum A, BIRD]  [ns $LAB-b: fulcrum B, BIRD]  BIRD (AS 65001) peers on
#                             dna 10.10.2.1                dnb 10.10.2.2           the port's tap
#                                     |                          |
#                        [ns $LAB-sv] bridge: backends 10.10.2.11-13 (HTTP :8080, line echo :9000);
#                                     laddrs A .100, B .101
#
# VIP 10.10.9.10 (outside every subnet: both nodes answer ARP for it): tcp/80 -> 8080 and
# tcp/9000 -> 9000, both sch, health-checked every second. The nodes list each other as
# cluster nodes, so a drained node's connections are handed back to it. BGP hold time 3 s.
# Source after common.sh and lab.sh (for lab_ns, LAB, LAB_DIR); ecmp_down removes everything.

ecmp_up() {
  for ns in cl rt a b sv; do ip netns add "$LAB-$ns"; lab_ns "$ns" ip link set lo up
    lab_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
  ip link add cl0 netns "$LAB-cl" type veth peer name rc netns "$LAB-rt"
  for i in 2 3 4 5 6 7 8 9; do lab_ns cl ip addr add "10.10.0.$i/24" dev cl0; done
  lab_ns cl ip link set cl0 up
  lab_ns cl ip route add default via 10.10.0.1
  lab_ns rt ip addr add 10.10.0.1/24 dev rc; lab_ns rt ip link set rc up
  lab_ns rt ip link add br0 type bridge; lab_ns rt ip addr add 10.10.1.254/24 dev br0; lab_ns rt ip link set br0 up
  lab_ns rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
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
template bgp node { local as 65000; ipv4 { import all; export none; }; hold time 3; keepalive time 1; connect retry time 1; }
protocol bgp a from node { neighbor 10.10.1.1 as 65001; }
protocol bgp b from node { neighbor 10.10.1.2 as 65001; }
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
  "ports": [{"name": "up", "device": "net_af_packet0", "address": "10.10.1.%s/24" % o, "gateway": "10.10.1.254"},
            {"name": "servers", "device": "net_af_packet1", "address": "10.10.2.%s/24" % o}],
  "vips": ["10.10.9.10"], "local_addresses": ["10.10.2.%s" % l], "conn_capacity": 65536, "mbufs": 16384,
  "exception_path_rate": 1000,
  "bgp": {"include_file": "%s/vips-%s.conf" % (d, n), "reload_command": ["birdc", "-s", "%s/bird-%s.ctl" % (d, n), "configure"],
          "neighbours": ["10.10.1.254"]},
  "cluster": {"nodes": ["10.10.1.1", "10.10.1.2"]},
  "tcp_timeouts": {"time_wait": 2, "close": 2},
  "listeners": [dict(hc, VIP="10.10.9.10", Protocol="tcp", ListenerPort=p, BackendServerPort=p if p != 80 else 8080,
                     Scheduler="sch") for p in (80, 9000)],
  "default_server_group": [{"ServerId": "i-web%d" % i, "ServerIp": "10.10.2.%d" % (10 + i)} for i in (1, 2, 3)]}))
PY
}

# ecmp_start_node N: Fulcrum N and its BIRD (peering through Fulcrum's exception-path tap).
ecmp_start_node() {
  local n=$1 o=1 cores="0@0,1@1"; [ "$n" = b ] && { o=2; cores="0@1,1@0"; }
  ecmp_node_config "$n" > "$LAB_DIR/node-$n.json"
  : > "$LAB_DIR/vips-$n.conf"
  cat > "$LAB_DIR/bird-$n.conf" <<EOF
router id 10.10.1.$o;
log "$LAB_DIR/bird-$n.log" all;
protocol device {}
protocol static fulcrum_vips {
  ipv4;
  include "$LAB_DIR/vips-$n.conf";
}
protocol bgp up { local as 65001; neighbor 10.10.1.254 as 65000; ipv4 { import none; export where proto = "fulcrum_vips"; };
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

# The router's route to the VIP, and its next hops sorted ("10.10.1.1 10.10.1.2").
ecmp_route() { lab_ns rt ip route show 10.10.9.10; }
ecmp_next_hops() { ecmp_route | grep -oE 'via 10\.10\.1\.[0-9]+' | awk '{print $2}' | sort | xargs; }
# ecmp_wait_hops WANT SECONDS: until the next hops are WANT; prints the seconds it took.
ecmp_wait_hops() {
  local t0 ms
  t0=$(date +%s%N)
  while :; do
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$(ecmp_next_hops)" = "$1" ] && { awk -v ms=$ms 'BEGIN { printf "%.1f", ms / 1000 }'; return 0; }
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
