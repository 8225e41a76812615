#!/usr/bin/env bash
# Real kernel TCP (curl) and UDP clients reach real servers through Fulcrum on af_packet
# ports in namespaces: WRR shares, full-NAT source addresses, ping, clean stop.
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
python3 - "$ROOT/conf/demo.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "udp", "ListenerPort": 53,
                       "BackendServerPort": 5353, "IdleTimeout": 30})
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" 10.10.2.13 5353 udp3 "$LAB_DIR/udp3.log" &
LAB_PIDS+=($!)
lab_start_fulcrum "$cfg"

check "VIP answers ping while it has listeners" lab_ns cl ping -c 1 -W 2 10.10.1.10 >/dev/null

declare -A got=()
fails=0
for i in $(seq 1 200); do
  name=$(lab_ns cl curl -s --max-time 3 "http://10.10.1.10/t$i" | awk '{print $1}') || name=""
  if [ -z "$name" ]; then fails=$((fails + 1)); else got[$name]=$(( ${got[$name]:-0} + 1 )); fi
done
check "200 of 200 HTTP requests answered through the VIP" [ "$fails" -eq 0 ]
within() { awk -v n="$1" -v t=200 -v w="$2" 'BEGIN { d = 100 * n / t - w; exit !(d <= 3 && d >= -3) }'; }
check "web1 share ~10% (got ${got[web1]:-0}/200)" within "${got[web1]:-0}" 10
check "web2 share ~20% (got ${got[web2]:-0}/200)" within "${got[web2]:-0}" 20
check "web3 share ~70% (got ${got[web3]:-0}/200)" within "${got[web3]:-0}" 70
check "backends only see Fulcrum's local addresses as sources" \
  bash -c "! cat '$LAB_DIR'/web*.log | awk '{print \$1}' | grep -vqE '^10\.10\.2\.10[01]$'"
check "backend access logs hold every request" [ "$(cat "$LAB_DIR"/web*.log | wc -l)" -eq 200 ]

udp_reply=$(udp_ask 10.10.1.3 10.10.1.10 53 hello)
check "UDP request/response through the VIP from a second client address ($udp_reply)" \
  bash -c "[[ '$udp_reply' == udp3\ 10.10.2.10[01]\ hello ]]"

kill -USR1 "$FULCRUM_PID"; sleep 0.5
check "SIGUSR1 prints the counters report" grep -q "== listeners ==" "$LAB_DIR/fulcrum.log"
lab_stop_fulcrum
# Backend rows: listener, server, address, weight, new conns, share, the share its weight asks.
check "clean stop prints per-backend shares" grep -qE "i-web3 +[0-9.]+:[0-9]+ +[0-9]+ +14[01] +[0-9.]+% +70.0%" "$LAB_DIR/fulcrum.log"
check "no packet dropped as malformed" bash -c "! grep -qE 'bad_|trunc_' '$LAB_DIR/fulcrum.log'"
e2e_finish
