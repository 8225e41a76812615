#!/usr/bin/env bash
# Scale-out (README "Scale-out: ECMP and BGP"): two Fulcrum nodes behind a router with
# BIRD and ECMP (scripts/lab-ecmp.sh), each announcing the VIPs (IPv4 and IPv6) over BGP
# from its own BIRD through its exception path, a session per family. Real kernel clients
# and servers.
#   1. both announce, two next hops, 1,000 connections over both nodes, all answered
#   5. sch: each client address reaches the same backend through either node
#   6. the same over IPv6: two IPv6 next hops, 1,000 IPv6 connections, sch across nodes
#   2. drain A: both VIPs withdrawn within seconds, new connections all to B, long-lived
#      IPv4 and IPv6 connections through A keep working (handed back to A by B, its
#      cluster peer by IPv6 address) until they close
#   4. one backend's health failure on A withdraws nothing; all of them down on A
#      withdraws A's route, B still serves
#   3. SIGKILL A: the router drops A's path within the hold time (3 s); the gap is printed
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$ROOT/scripts/lab.sh"
source "$ROOT/scripts/lab-ecmp.sh"
source "$ROOT/test/e2e/lib.sh"
trap 'ecmp_down; rm -rf "$LAB_DIR"' EXIT
CLIENT="python3 $ROOT/test/e2e/ecmp_client.py"
SOURCES="10.10.0.2 10.10.0.3 10.10.0.4 10.10.0.5 10.10.0.6 10.10.0.7 10.10.0.8 10.10.0.9"

jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ecmp_up
ecmp_backends
ecmp_start_node a
ecmp_start_node b

echo "== 1. both nodes announce; 1,000 connections"
hops_up=$(ecmp_wait_hops "10.10.1.1 10.10.1.2" 30 || true)
check "the router installed two next hops for the VIP (after ${hops_up} s): $(ecmp_route | xargs)" \
  test "$(ecmp_next_hops)" = "10.10.1.1 10.10.1.2"
for n in a b; do
  check "node $n's BIRD runs as its own user (bird), and read Fulcrum's include file" \
    bash -c "[ \"\$(ps -o user= -p \$(cat '$LAB_DIR/bird-$n.pid'))\" = bird ] && [ \"\$(stat -c %a '$LAB_DIR/vips-$n.conf')\" = 644 ]"
done
# (The IPv6 sessions come up on their own timers: the IPv4 next hops above say nothing of them.)
established() { lab_ns rt birdc -s "$LAB_DIR/bird-rt.ctl" show protocols | grep -c Established || true; }
i=0; until [ "$(established)" = 4 ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
check "all four BGP sessions (two nodes, IPv4 and IPv6) are Established" \
  test "$(lab_ns rt birdc -s "$LAB_DIR/bird-rt.ctl" show protocols | grep -c Established)" = 4
for n in a b; do
  check "node $n reports both VIPs announced" \
    test "$(ecmp_ctl $n DescribeNodeStatus | jq_py '",".join(d["AnnouncedVips"])')" = "10.10.9.10,$VIP6"
done
a0=$(ecmp_counter a "connections created"); b0=$(ecmp_counter b "connections created")
# shellcheck disable=SC2086
r=$(lab_ns cl $CLIENT spread http://10.10.9.10/ 1000 $SOURCES)
echo "  spread: $(echo "$r" | jq_py 'd["ok"], d["failed"], dict(d["by_node"])')"
check "1,000 of 1,000 connections answered" test "$(echo "$r" | jq_py 'd["ok"]')" = 1000
a1=$(ecmp_counter a "connections created"); b1=$(ecmp_counter b "connections created")
check "both nodes made connections (A $((a1 - a0)), B $((b1 - b0)); total $((a1 - a0 + b1 - b0)))" \
  test $((a1 - a0)) -gt 50 -a $((b1 - b0)) -gt 50 -a $((a1 - a0 + b1 - b0)) -ge 1000
check "the backends saw both nodes' local addresses" \
  test "$(echo "$r" | jq_py '" ".join(sorted(d["by_node"]))')" = "10.10.2.100 10.10.2.101"

echo "== 5. sch: a client address reaches the same backend through either node"
echo "$r" | python3 -c '
import json, sys
d = json.load(sys.stdin)
backends, nodes = d["by_source"], d["by_source_node"]
for s in sorted(backends):
    print(f"  {s}: backends {backends[s]} through laddrs {nodes[s]}")'
check "each of 8 client addresses got one backend for all its connections" \
  test "$(echo "$r" | jq_py 'sum(1 for s in d["by_source"].values() if len(s) == 1)')" = 8
check "and at least 6 of them crossed both nodes" \
  test "$(echo "$r" | jq_py 'sum(1 for s in d["by_source_node"].values() if len(s) == 2)')" -ge 6
check "the 8 addresses used more than one backend (the hash spreads)" \
  test "$(echo "$r" | jq_py 'len({k for s in d["by_source"].values() for k in s})')" -ge 2

echo "== 6. IPv6: both nodes announce $VIP6; 1,000 IPv6 connections; sch across nodes"
hops6=$(ecmp_wait_hops "10.10.1.1 10.10.1.2" 30 ecmp_next_hops6 || true)
check "the router installed two IPv6 next hops for the IPv6 VIP (after ${hops6} s): $(ecmp_route6 | xargs)" \
  test "$(ecmp_route6 | grep -oE 'via [0-9a-f:]+' | awk '{print $2}' | sort | xargs)" = "2001:db8:11::1 2001:db8:11::2"
for n in a b; do
  check "node $n announced the IPv6 VIP from include_file6 (a /128)" \
    grep -qx "route $VIP6/128 blackhole;" "$LAB_DIR/vips6-$n.conf"
done
SOURCES6="2001:db8:10::2 2001:db8:10::3 2001:db8:10::4 2001:db8:10::5 2001:db8:10::6 2001:db8:10::7 2001:db8:10::8 2001:db8:10::9"
a0=$(ecmp_counter a "connections created"); b0=$(ecmp_counter b "connections created")
# shellcheck disable=SC2086
r=$(lab_ns cl $CLIENT spread "http://[$VIP6]/" 1000 $SOURCES6)
echo "  spread over IPv6: $(echo "$r" | jq_py 'd["ok"], d["failed"], dict(d["by_node"])')"
check "1,000 of 1,000 IPv6 connections answered" test "$(echo "$r" | jq_py 'd["ok"]')" = 1000
a1=$(ecmp_counter a "connections created"); b1=$(ecmp_counter b "connections created")
check "both nodes made IPv6 connections (A $((a1 - a0)), B $((b1 - b0)))" \
  test $((a1 - a0)) -gt 50 -a $((b1 - b0)) -gt 50 -a $((a1 - a0 + b1 - b0)) -ge 1000
check "the backends saw both nodes' local addresses (6->4)" \
  test "$(echo "$r" | jq_py '" ".join(sorted(d["by_node"]))')" = "10.10.2.100 10.10.2.101"
check "each of 8 IPv6 client addresses got one backend for all its connections, through either node" \
  test "$(echo "$r" | jq_py 'sum(1 for s in d["by_source"].values() if len(s) == 1)')" = 8
check "and at least 6 of them crossed both nodes" \
  test "$(echo "$r" | jq_py 'sum(1 for s in d["by_source_node"].values() if len(s) == 2)')" -ge 6
check "the 8 IPv6 addresses used more than one backend" \
  test "$(echo "$r" | jq_py 'len({k for s in d["by_source"].values() for k in s})')" -ge 2

echo "== 2. drain node A"
# Connections from A's laddr with an lport (below 61000; the health probes use 61000-65535).
echo_through_a() { cat "$LAB_DIR"/echo*.log | awk '$1 == "10.10.2.100" && $2 < 61000' | wc -l; }
lab_ns cl $CLIENT hold 10.10.9.10 9000 20 12 > "$LAB_DIR/hold.json" &
holder=$!
sleep 1.5
through_a=$(echo_through_a)
lab_ns cl $CLIENT hold "$VIP6" 9000 20 11 > "$LAB_DIR/hold6.json" &
holder6=$!
sleep 1.5
through_a6=$(( $(echo_through_a) - through_a ))
handed0=$(ecmp_counter b "cluster handoffs")
ecmp_ctl a SetNodeDrain '{"Drain": "on"}' > "$LAB_DIR/drain.json"
took=$(ecmp_wait_hops "10.10.1.2" 10 || true)
check "A's route is withdrawn: only B is a next hop ${took} s after SetNodeDrain" test "$(ecmp_next_hops)" = 10.10.1.2
took6=$(ecmp_wait_hops "10.10.1.2" 10 ecmp_next_hops6 || true)
check "A's IPv6 route too: only B is an IPv6 next hop (${took6} s later)" test "$(ecmp_next_hops6)" = 10.10.1.2
st=$(ecmp_ctl a DescribeNodeStatus)
left=$(echo "$st" | jq_py 'd["ActiveConnections"]')
check "A reports drain on, nothing announced, $left connections left" \
  test "$(echo "$st" | jq_py 'd["Drain"] + " " + str(len(d["AnnouncedVips"]))')" = "on 0" -a "$left" -gt 0
m=$(lab_ns a curl -s http://127.0.0.1:9100/metrics)
check "A's metrics say drained, 0 VIPs announced, the speaker fine" \
  test "$(echo "$m" | grep -E '^fulcrum_node_(drained|announced_vips|speaker_ok) ' | awk '{print $2}' | xargs)" = "1 0 1"
a2=$(ecmp_counter a "connections created")
# shellcheck disable=SC2086
r=$(lab_ns cl $CLIENT spread http://10.10.9.10/ 200 $SOURCES)
check "200 new connections answered, all through B: $(echo "$r" | jq_py 'dict(d["by_node"])')" \
  test "$(echo "$r" | jq_py '(d["ok"], dict(d["by_node"]))')" = "(200, {'10.10.2.101': 200})"
# shellcheck disable=SC2086
r=$(lab_ns cl $CLIENT spread "http://[$VIP6]/" 100 $SOURCES6)
check "100 new IPv6 connections answered, all through B: $(echo "$r" | jq_py 'dict(d["by_node"])')" \
  test "$(echo "$r" | jq_py '(d["ok"], dict(d["by_node"]))')" = "(100, {'10.10.2.101': 100})"
check "A made no new connection while drained" test "$(ecmp_counter a "connections created")" = "$a2"
wait "$holder"
wait "$holder6"
h=$(cat "$LAB_DIR/hold.json")
h6=$(cat "$LAB_DIR/hold6.json")
echo "  long-lived IPv4: $h; $through_a of 20 through A"
echo "  long-lived IPv6: $h6; $through_a6 of 20 through A"
check "the 20 long-lived connections ($through_a through A) answered every line across the drain" \
  test "$(echo "$h" | jq_py 'd["lines"] == d["answered"] and d["lines"] >= 20 * 30 and not d["broken"]')" = True -a "$through_a" -gt 0
check "the 20 long-lived IPv6 connections ($through_a6 through A) answered every line across the drain" \
  test "$(echo "$h6" | jq_py 'd["lines"] == d["answered"] and d["lines"] >= 20 * 25 and not d["broken"]')" = True -a "$through_a6" -gt 0
handed=$(( $(ecmp_counter b "cluster handoffs") - handed0 ))
check "B handed A's segments back to it ($handed)" test "$handed" -gt 0
i=0; while [ "$(ecmp_ctl a DescribeNodeStatus | jq_py 'd["ActiveConnections"]')" != 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "A's connections left reach 0 once they closed" test "$(ecmp_ctl a DescribeNodeStatus | jq_py 'd["ActiveConnections"]')" = 0
ecmp_ctl a SetNodeDrain '{"Drain": "off"}' > /dev/null
took=$(ecmp_wait_hops "10.10.1.1 10.10.1.2" 10 || true)
check "drain off: A is a next hop again (${took} s)" test "$(ecmp_next_hops)" = "10.10.1.1 10.10.1.2"
took6=$(ecmp_wait_hops "10.10.1.1 10.10.1.2" 10 ecmp_next_hops6 || true)
check "and an IPv6 next hop (${took6} s)" test "$(ecmp_next_hops6)" = "10.10.1.1 10.10.1.2"

echo "== 4. health checks on one node"
# A's probes (and only A's) to web1 are dropped at the backends.
lab_ns sv nft -f - <<'NFT'
table inet ecmp_test {
  chain input_rules {
    type filter hook input priority 0;
    ip saddr 10.10.2.100 ip daddr 10.10.2.11 drop
  }
}
NFT
abnormal() { ecmp_ctl "$1" DescribeHealthStatus | jq_py "sum(1 for b in d['BackendServers'] if b['ServerHealthStatus'] == 'abnormal')"; }
i=0; until [ "$(abnormal a)" = 4 ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
check "A sees web1 down on all four listeners (two per VIP)" test "$(abnormal a)" = 4
sleep 1
check "and still announces: two next hops" test "$(ecmp_next_hops)" = "10.10.1.1 10.10.1.2"
check "B sees every backend up" test "$(abnormal b)" = 0
lab_ns sv nft flush chain inet ecmp_test input_rules
lab_ns sv nft add rule inet ecmp_test input_rules ip saddr 10.10.2.100 drop
took=$(ecmp_wait_hops "10.10.1.2" 15 || true)
check "all backends down on A: A's route withdrawn (${took} s after they were cut off)" test "$(ecmp_next_hops)" = 10.10.1.2
check "A says nothing is announced, and the router has only B for the IPv6 VIP too" \
  test "$(ecmp_ctl a DescribeNodeStatus | jq_py 'len(d["AnnouncedVips"])')" = 0 -a "$(ecmp_next_hops6)" = 10.10.1.2
# shellcheck disable=SC2086
r=$(lab_ns cl $CLIENT spread http://10.10.9.10/ 100 $SOURCES)
check "B serves all 100 new connections" test "$(echo "$r" | jq_py '(d["ok"], dict(d["by_node"]))')" = "(100, {'10.10.2.101': 100})"
lab_ns sv nft delete table inet ecmp_test
took=$(ecmp_wait_hops "10.10.1.1 10.10.1.2" 15 || true)
check "backends healthy again on A: announced again (${took} s)" test "$(ecmp_next_hops)" = "10.10.1.1 10.10.1.2"

echo "== 3. a flood at node B's port address"
# TCP SYNs and UDP datagrams to B's own address (the host's) from the client side, for
# 6 s: over 100x the exception path's 1,000/s (the lab's). B's BGP with the router, over
# IPv4 and IPv6, is a lifeline (bgp.neighbours): the port's exception path is one budget
# for both families, so the IPv6 session lives on the same reserve. (Measured here: the same flood without the lifeline broke the
# sessions, 8 of 11 samples Established and next hops lost; at 5,000/s it did not, TCP
# retransmitting the keepalives through what passed, so the lab runs at 1,000/s to make
# this check discriminate; test/packet/l2l3_test.cpp shows the reserve itself.)
rx0=$(ecmp_counter b "rx packets")
lab_ns cl timeout 6 hping3 -q -S -p 22 --flood 10.10.1.2 >/dev/null 2>&1 &
flood=$!
lab_ns cl timeout 6 hping3 -q -2 -p 9 --flood 10.10.1.2 >/dev/null 2>&1 &
flood2=$!
sleep 0.5
samples=0 up=0
t0=$(date +%s.%N)
while kill -0 "$flood" 2>/dev/null; do
  s=$(lab_ns rt birdc -s "$LAB_DIR/bird-rt.ctl" show protocols 2>/dev/null | grep -cE '^(a|b)6? +BGP .* Established')
  samples=$((samples + 1)); [ "$s" = 4 ] && up=$((up + 1))
  sleep 0.5
done
t1=$(date +%s.%N)
wait "$flood" || true
wait "$flood2" || true
rx1=$(ecmp_counter b "rx packets")
pps=$(awk -v a="$rx0" -v b="$rx1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%d", (b - a) / (t1 - t0 + 0.5) }')
limited=$(ecmp_counter b "exception_limited +")
echo "  flood at B: ~$pps frames/s received by B ($limited host frames over the rate dropped)"
# (The flooder's own speed varies with the machine's load: 93k-200k/s here; 20 times the
# rate is what the check needs, not a speed.)
check "the flood was many times the exception path's rate (~$pps/s vs 1,000/s)" [ "$pps" -ge 20000 ]
check "all four BGP sessions Established in every sample during the flood ($up of $samples)" \
  bash -c "[ '$samples' -ge 5 ] && [ '$up' = '$samples' ]"
check "and the router kept both next hops" test "$(ecmp_next_hops)" = "10.10.1.1 10.10.1.2"

echo "== 4. SIGKILL node A"
lab_ns cl $CLIENT watch http://10.10.9.10/ 9 > "$LAB_DIR/watch.json" &
watcher=$!
sleep 2
killed=$(date +%s.%N)
kill -KILL "$(cat "$LAB_DIR/fulcrum-a.pid")"
took=$(ecmp_wait_hops "10.10.1.2" 8 || true)
wait "$watcher"
read -r gap fails late via_b < <(python3 - "$LAB_DIR/watch.json" "$killed" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["attempts"]; k = float(sys.argv[2])
after = [x for x in a if x[0] >= k]
bad = [x[0] for x in after if not x[1]]
gap = (max(bad) + 1.0 - k) if bad else 0.0      # a failed attempt waited 1 s
late = [x for x in after if x[0] > k + 4.0]
print(f"{gap:.1f} {len(bad)} {len(late)} {sum(1 for x in late if x[1] and x[2] == '10.10.2.101')}")
PY
)
echo "  route to B only ${took} s after the kill; failed attempts: $fails, the last ending ${gap} s after the kill"
check "the router dropped A's path within the hold time (3 s) plus a second" \
  awk -v t="$took" 'BEGIN { exit !(t != "timeout" && t + 0 <= 4) }'
check "from 4 s after the kill on, every new connection ($late) went through B" test "$late" -gt 20 -a "$via_b" = "$late"
check "and the router dropped A's IPv6 path too: $(ecmp_route6 | xargs)" test "$(ecmp_next_hops6)" = 10.10.1.2

e2e_finish
