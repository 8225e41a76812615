#!/usr/bin/env bash
# Observability of a running Fulcrum with real traffic: DPDK telemetry endpoints
# (dpdk-telemetry.py), the Prometheus endpoint (curl), and dpdk-dumpcap capturing
# packets that tcpdump then reads back.
source "$(dirname "$0")/lab_prelude.sh"
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_start_fulcrum "$ROOT/conf/demo.json" --metrics 127.0.0.1:9100

telemetry() { printf '%s\n' "$1" | timeout 10 dpdk-telemetry.py -f "$LAB" 2>/dev/null | grep "^{"; }
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))" "$1"; }

list=$(telemetry /)
for ep in /fulcrum/stats /fulcrum/workers /fulcrum/listeners /fulcrum/backends; do
  check "telemetry lists $ep" grep -q "\"$ep\"" <<<"$list"
done
before=$(telemetry /fulcrum/stats | field 'd["/fulcrum/stats"]["connections_created"]')
read -r a b c f < <(count 20)
sleep 0.5 # the control loop publishes every 200 ms
after=$(telemetry /fulcrum/stats | field 'd["/fulcrum/stats"]["connections_created"]')
check "telemetry /fulcrum/stats counts the 20 new connections ($before -> $after)" test "$((after - before))" -eq 20
web3=$(telemetry /fulcrum/backends | field 'd["/fulcrum/backends"]["tcp_10_10_1_10_80_10_10_2_13_8080"]')
check "telemetry /fulcrum/backends has web3's live counters and shares ($web3)" \
  python3 -c "d=$web3; import sys; sys.exit(0 if d['new_connections'] == $c and d['weight_share_pct'] == '70.00' else 1)"
lst=$(telemetry /fulcrum/listeners | field 'd["/fulcrum/listeners"]["tcp_10_10_1_10_80"]["new_connections"]')
check "telemetry /fulcrum/listeners: $lst connections on tcp 10.10.1.10:80" test "$lst" -eq 20

scrape() { lab_ns lb curl -s --max-time 3 http://127.0.0.1:9100/metrics; }
m1=$(scrape)
check "the Prometheus endpoint answers in text exposition format" python3 -c "
import re, sys
text = sys.stdin.read(); names = set(); typed = set()
for line in text.splitlines():
    if line.startswith('# TYPE '): typed.add(line.split()[2]); continue
    if line.startswith('#'): continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+)', line)  # the exposition format's names
    if not m: sys.exit('bad line: ' + line)
    names.add(m.group(1))
sys.exit(0 if names and names <= typed else 'untyped: %s' % (names - typed))" <<<"$m1"
metric() { grep -E "^$1" <<<"$2" | awk '{print $NF}'; }
n1=$(metric 'fulcrum_listener_new_connections_total\{listener="tcp 10.10.1.10:80"' "$m1")
read -r a b c f < <(count 10)
m2=$(scrape)
n2=$(metric 'fulcrum_listener_new_connections_total\{listener="tcp 10.10.1.10:80"' "$m2")
check "Prometheus listener counter moves with 10 requests ($n1 -> $n2)" test "$((n2 - n1))" -eq 10
p1=$(metric 'fulcrum_backend_packets_total\{listener="tcp 10.10.1.10:80",group="default",server_id="i-web3",address="10.10.2.13:8080",direction="in"' "$m1")
p2=$(metric 'fulcrum_backend_packets_total\{listener="tcp 10.10.1.10:80",group="default",server_id="i-web3",address="10.10.2.13:8080",direction="in"' "$m2")
check "Prometheus backend packet counter moves ($p1 -> $p2)" test "$p2" -gt "$p1"
check "Prometheus shows the weight's share next to the backend's" \
  grep -q 'fulcrum_backend_weight_share_ratio{listener="tcp 10.10.1.10:80",group="default",server_id="i-web3",address="10.10.2.13:8080"} 0.7' <<<"$m2"
check "anything but /metrics is a 404" bash -c "[ \"\$(ip netns exec '$LAB-lb' curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9100/)\" = 404 ]"

# dpdk-dumpcap attaches as a secondary process: it needs the primary on hugepages.
if [[ "$(eal_mem_args)" == *no-huge* ]]; then
  echo "  SKIP dpdk-dumpcap: no hugepages here (FULCRUM_NO_HUGE or none free); a --no-huge primary cannot be attached to"
else
  timeout 30 dpdk-dumpcap --file-prefix="$LAB" -i net_af_packet0 -c 10 -w "$LAB_DIR/cap.pcapng" \
    > "$LAB_DIR/dumpcap.log" 2>&1 &
  dc=$!
  for _ in $(seq 1 50); do grep -q "Capturing on" "$LAB_DIR/dumpcap.log" && break; sleep 0.1; done
  count 5 >/dev/null
  rc=0; wait "$dc" || rc=$?
  check "dpdk-dumpcap captured 10 packets from the running Fulcrum and exited ($rc)" test "$rc" -eq 0
  read_back=$(tcpdump -nn -r "$LAB_DIR/cap.pcapng" 2>/dev/null)
  # dpdk-dumpcap checks -c per received burst, so it may write a few more than asked.
  check "tcpdump reads them back: $(wc -l <<<"$read_back") packets (at least 10)" test "$(wc -l <<<"$read_back")" -ge 10
  check "  and they are the clients' traffic to the VIP" grep -q "> 10.10.1.10.80:" <<<"$read_back"
fi
e2e_finish
