#!/usr/bin/env bash
# Floods from the client side, real kernel clients and servers: while (and right after)
# 300,000 one-datagram UDP flows from four client addresses fill Fulcrum's table, and
# while a spoofed SYN flood runs, new curl connections to the TCP listener all succeed.
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
python3 - "$ROOT/conf/demo.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
# Internet-facing: replies to any source leave through a gateway (the client namespace).
c["ports"][0]["gateway"] = "10.10.1.2"
c["conn_capacity"] = 65536
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "udp", "ListenerPort": 53,
                       "BackendServerPort": 5353, "IdleTimeout": 300})
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
for a in 4 5; do lab_ns cl ip addr add "10.10.1.$a/24" dev cl0; done
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
for i in 11 12 13; do # DNS-like backends: every datagram answered
  lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" "10.10.2.$i" 5353 "udp$i" - &
  LAB_PIDS+=($!)
done
lab_start_fulcrum "$cfg"

curls() { # curls N: how many of N new connections to the TCP listener got an answer
  local ok=0
  for _ in $(seq 1 "$1"); do
    lab_ns cl curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' http://10.10.1.10/ | grep -q 200 && ok=$((ok + 1))
  done
  echo "$ok"
}
counter() { # counter LABEL: the worker counter of that label in the last report
  sed -n "s/.* $1 \([0-9]*\),.*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1
}
report() { kill -USR1 "$FULCRUM_PID"; sleep 0.5; }

# --- UDP: 75,000 datagrams from each of four addresses, source port +1 each --------------
# (64,512 distinct ports per address: ~258,000 distinct flows, 300,000 datagrams)
flood_pids=()
for a in 2 3 4 5; do
  lab_ns cl hping3 -q -2 -a "10.10.1.$a" -s 1024 -p 53 -c 75000 -i u20 10.10.1.10 >/dev/null 2>&1 &
  flood_pids+=($!)
done
sleep 3
during=$(curls 20)
for p in "${flood_pids[@]}"; do wait "$p" || true; done
after=$(curls 20)
report
created=$(counter "connections created"); evicted=$(counter evicted)
table=$(sed -n 's/.*: table \([0-9]*\)\/.*/\1/p' "$LAB_DIR/fulcrum.log" | tail -1)
check "20 of 20 curl connections during the UDP flood ($during)" [ "$during" -eq 20 ]
check "20 of 20 right after it ($after)" [ "$after" -eq 20 ]
check "the flood made over 200,000 flows ($created) and filled the table ($table of 65,536)" \
  bash -c "[ '$created' -gt 200000 ] && [ '$table' -gt 60000 ]"
check "room came from unassured flows ($evicted evicted)" [ "${evicted:-0}" -gt 100000 ]

# --- SYN flood from random spoofed sources -------------------------------------------------
lab_ns cl timeout 8 hping3 -q -S --rand-source -p 80 --flood 10.10.1.10 >/dev/null 2>&1 &
flood=$!
sleep 2
during=$(curls 20)
wait "$flood" || true
report
cookies=$(counter "syn cookies sent"); engaged=$(counter "proxy engaged"); proxied=$(counter "syn proxy established")
check "20 of 20 curl connections during the SYN flood ($during)" [ "$during" -eq 20 ]
check "the SYN proxy engaged ($engaged) and answered the flood with cookies ($cookies)" \
  bash -c "[ '${engaged:-0}' -ge 1 ] && [ '${cookies:-0}' -gt 10000 ]"
check "the clients' connections went through the proxy ($proxied proxied)" [ "${proxied:-0}" -ge 1 ]
lab_stop_fulcrum
check "no packet dropped as malformed" bash -c "! grep -qE 'bad_|trunc_' '$LAB_DIR/fulcrum.log'"
e2e_finish
