# The namespace lab: real kernel clients and servers around one Fulcrum process.
#
#   [ns $LAB-cl]  cl0 10.10.1.2, 10.10.1.3          [ns $LAB-sv]  sv0 10.10.2.11-13
#        |  veth                                            |  veth
#       lbc --- net_af_packet0  [ns $LAB-lb: fulcrum]  net_af_packet1 --- lbs
#            port "client" 10.10.1.1/24               port "servers" 10.10.2.1/24
#            VIP 10.10.1.10                            laddrs 10.10.2.100-101
#
# Source after common.sh. Every name carries $LAB (unique per run); lab_down removes
# everything and is safe to call twice (install it with `trap lab_down EXIT`).

LAB="${LAB:-fl$$}"
# Logs and configs; a directory made here is removed by lab_down (KEEP_LAB=1 keeps it).
if [ -z "${LAB_DIR:-}" ]; then LAB_DIR=$(mktemp -d /tmp/fulcrum-lab.XXXXXX); LAB_DIR_MADE=1; fi
LAB_PIDS=()
LAB_EXTRA_NS=()
FULCRUM_PID=""
FULCRUM_WRAPPER=""

lab_ns() { ip netns exec "$LAB-$1" "${@:2}"; }

lab_up() {
  for ns in cl sv lb; do ip netns add "$LAB-$ns"; done
  ip link add cl0 netns "$LAB-cl" type veth peer name lbc netns "$LAB-lb"
  ip link add sv0 netns "$LAB-sv" type veth peer name lbs netns "$LAB-lb"
  lab_ns cl ip addr add 10.10.1.2/24 dev cl0
  lab_ns cl ip addr add 10.10.1.3/24 dev cl0
  for i in 11 12 13; do lab_ns sv ip addr add "10.10.2.$i/24" dev sv0; done
  for ns in cl sv lb; do
    lab_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    lab_ns "$ns" ip link set lo up
  done
  lab_ns cl ip link set cl0 up
  lab_ns sv ip link set sv0 up
  lab_ns lb ip link set lbc up
  lab_ns lb ip link set lbs up
  # The veth ends belong to Fulcrum (af_packet reads them before the ingress hook): the lb
  # namespace's own kernel, which holds the laddrs on Fulcrum's exception-path taps, must
  # not answer (RST, ARP) for traffic that arrives on them, as it never sees a DPDK NIC.
  lab_ns lb nft -f - <<'NFT'
table netdev fulcrum_lab {
  chain from_clients { type filter hook ingress device "lbc" priority 0; policy drop; }
  chain from_servers { type filter hook ingress device "lbs" priority 0; policy drop; }
}
NFT
  # Kernel ends must send complete checksums: Fulcrum updates them incrementally.
  lab_ns cl ethtool -K cl0 tx off >/dev/null
  lab_ns sv ethtool -K sv0 tx off >/dev/null
}

# IPv6 on for a namespace's interface (the lab is IPv4-only by default), without router
# advertisements or DAD: lab_v6_on NS IF
lab_v6_on() {
  lab_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
    "net.ipv6.conf.$2.disable_ipv6=0" "net.ipv6.conf.$2.accept_ra=0" "net.ipv6.conf.$2.accept_dad=0"
}

# lab_start_backends NAME:IP[:PORT][@NS]... (IPv6: NAME:[IP][:PORT]) : an HTTP server on IP:PORT (default 8080) in
# namespace NS (default sv) per backend, its access log in $LAB_DIR/NAME.log.
lab_start_backends() {
  local spec name rest ip port ns
  for spec in "$@"; do
    ns=sv; [[ "$spec" == *@* ]] && ns="${spec##*@}"; rest="${spec%@*}"
    name="${rest%%:*}"; rest="${rest#*:}"; port=8080
    if [[ "$rest" == \[* ]]; then # an IPv6 address: NAME:[ADDR][:PORT]
      ip="${rest#[}"; ip="${ip%%]*}"; rest="${rest#*]}"; [[ "$rest" == :* ]] && port="${rest#:}"
    else
      ip="${rest%%:*}"; [[ "$rest" == *:* ]] && port="${rest#*:}"
    fi
    # stderr (tracebacks; the shell's "Terminated" when a test stops it) goes to NAME.err
    { lab_ns "$ns" python3 "$ROOT/test/e2e/backend_server.py" "$ip" "$port" "$name" "$LAB_DIR/$name.log"; } \
      2>>"$LAB_DIR/$name.err" &
    LAB_PIDS+=($!)
    local n=0
    until lab_ns "$ns" bash -c "echo > /dev/tcp/$ip/$port" 2>/dev/null; do
      sleep 0.1; n=$((n + 1)); [ $n -lt 100 ] || { echo "backend $ip:$port did not start" >&2; return 1; }
    done
  done
}

# lab_add_eni: namespace $LAB-eni with an ENI-like interface (a macvlan on the servers'
# segment) holding a primary IP 10.10.2.31 and two secondary IPs 10.10.2.32-33.
lab_add_eni() {
  ip netns add "$LAB-eni"
  lab_ns sv ip link add eni0 link sv0 type macvlan mode bridge
  lab_ns sv ip link set eni0 netns "$LAB-eni"
  lab_ns eni ip link set lo up
  lab_ns eni sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  for i in 31 32 33; do lab_ns eni ip addr add "10.10.2.$i/24" dev eni0; done
  lab_ns eni ip link set eni0 up
  lab_ns eni ethtool -K eni0 tx off >/dev/null 2>&1 || true
}

# lab_start_fulcrum CONFIG [extra app args]: runs Fulcrum in the lb namespace.
lab_start_fulcrum() {
  local cfg="$1"; shift
  rm -f "$LAB_DIR/fulcrum.log" # a previous run's log must not pass for this one's start
  # shellcheck disable=SC2046
  # LAB_EAL_EXTRA adds EAL options (e.g. log levels). LAB_PMD=af_xdp attaches with
  # net_af_xdp instead of net_af_packet (the config must name net_af_xdp0/1).
  # LAB_LCORES / LAB_AFP_OPTS let a test run more workers (e.g. --lcores 0@0,1@1,2@1
  # and qpairs=2: two workers sharing a CPU, with the kernel's fanout spreading flows).
  # af_packet's default ring (512 frames) overflows under bulk TCP here (1.8% lost in an
  # iperf3 run): 8,192 frames per queue (LAB_AFP_RING changes it, e.g. for jumbo frames).
  local ring=""
  [ "${LAB_PMD:-af_packet}" = af_packet ] && ring=",${LAB_AFP_RING:-framecnt=8192}"
  lab_ns lb "$BUILD/src/fulcrum/fulcrum" ${LAB_LCORES:--l 0,1} --file-prefix "$LAB" --no-pci $(eal_mem_args) \
    --log-level 'pmd.net.af_packet:warning' --log-level 'pmd.net.tap:critical' ${LAB_EAL_EXTRA:-} \
    --vdev "net_${LAB_PMD:-af_packet}0,iface=lbc$ring${LAB_AFP_OPTS:-}" \
    --vdev "net_${LAB_PMD:-af_packet}1,iface=lbs$ring${LAB_AFP_OPTS:-}" \
    -- --config "$cfg" "$@" \
    > "$LAB_DIR/fulcrum.log" 2>&1 &
  FULCRUM_WRAPPER=$!
  local n=0
  until grep -q "bytes per connection" "$LAB_DIR/fulcrum.log" 2>/dev/null; do
    if ! kill -0 "$FULCRUM_WRAPPER" 2>/dev/null; then cat "$LAB_DIR/fulcrum.log" >&2; return 1; fi
    sleep 0.1; n=$((n + 1)); [ $n -lt 300 ] || { echo "fulcrum did not start" >&2; return 1; }
  done
  # `ip netns exec` forks: signal the daemon itself, not the wrapper.
  FULCRUM_PID=$(pgrep -P "$FULCRUM_WRAPPER" -x fulcrum | head -1)
  [ -n "$FULCRUM_PID" ] || { echo "fulcrum's pid not found under $FULCRUM_WRAPPER" >&2; return 1; }
  sleep 0.3
}

# Stop Fulcrum cleanly (SIGINT) and wait for its final report.
lab_stop_fulcrum() {
  [ -n "$FULCRUM_PID" ] || return 0
  kill -INT "$FULCRUM_PID" 2>/dev/null || true
  local n=0
  while kill -0 "$FULCRUM_PID" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$FULCRUM_PID" 2>/dev/null || true
  wait "$FULCRUM_WRAPPER" 2>/dev/null || true
  FULCRUM_PID=""
}

lab_down() {
  lab_stop_fulcrum
  for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${LAB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  LAB_PIDS=()
  # (LAB_EXTRA_NS: a test's own namespaces, named $LAB-NAME, removed the same way)
  for ns in cl sv lb eni "${LAB_EXTRA_NS[@]}"; do
    ip netns pids "$LAB-$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$LAB-$ns" 2>/dev/null || true
  done
  rm -rf "/dev/hugepages/${LAB}"map_* 2>/dev/null || true
  if [ "${LAB_DIR_MADE:-0}" = 1 ] && [ -z "${KEEP_LAB:-}" ]; then rm -rf "$LAB_DIR"; fi
}
