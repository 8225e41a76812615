#!/usr/bin/env bash
# net_tap with the kernel on the other side: a namespace pings the VIP, its ARP request
# is answered by Fulcrum, and a VIP without a listener stays silent.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$ROOT/test/e2e/lib.sh"
NS="fltap$$"
DIR=$(mktemp -d /tmp/fulcrum-tap.XXXXXX)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill -INT "$PID" 2>/dev/null; sleep 1; kill -KILL "$PID" 2>/dev/null || true; }
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# The peer kernel shares Fulcrum's namespace here, so Fulcrum's own exception-path
# interface (which would claim 10.77.0.1/24 in the same kernel) stays off.
cat > "$DIR/cfg.json" <<JSON
{ "workers": 1, "exception_path": "off",
  "ports": [ { "name": "tap", "device": "net_tap0", "address": "10.77.0.1/24" } ],
  "vips": ["10.77.0.10", "10.77.0.11"], "local_addresses": ["10.77.0.100"],
  "conn_capacity": 1024, "mbufs": 4096,
  "listeners": [ { "VIP": "10.77.0.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 80 } ],
  "default_server_group": [ { "ServerId": "i-1", "ServerIp": "10.77.0.2" } ] }
JSON
# shellcheck disable=SC2046
ip netns exec "$NS" "$BUILD/src/fulcrum/fulcrum" -l 0,1 --file-prefix "$NS" --no-pci $(eal_mem_args) \
  --vdev "net_tap0,iface=fltap0" -- --config "$DIR/cfg.json" > "$DIR/log" 2>&1 &
WRAP=$!
for _ in $(seq 1 100); do grep -q "bytes per connection" "$DIR/log" && break; sleep 0.1; done
PID=$(pgrep -P "$WRAP" | head -1 || true); PID=${PID:-$WRAP}
ip netns exec "$NS" ip addr add 10.77.0.2/24 dev fltap0
ip netns exec "$NS" ip link set fltap0 up
sleep 0.5
check "the kernel pings the VIP through net_tap" ip netns exec "$NS" ping -c 2 -W 2 10.77.0.10
mac=$(ip netns exec "$NS" ip neigh show 10.77.0.10 | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2)
check "the kernel learned the VIP's MAC from Fulcrum's ARP reply ($mac)" [ -n "$mac" ]
check "a VIP without a listener does not answer ping" bash -c "! ip netns exec $NS ping -c 1 -W 1 10.77.0.11 >/dev/null"
kill -INT "$PID"; wait "$WRAP" || true; PID=""
check "Fulcrum counted the ignored echo" grep -q "icmp_ignored" "$DIR/log"
check "Fulcrum answered ARP" grep -qE "arp replies [1-9]" "$DIR/log"
e2e_finish
