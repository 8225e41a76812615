#!/usr/bin/env bash
# Attacks from the client side, real kernel clients and servers: while (and right after)
# 300,000 one-datagram UDP flows from four client addresses fill Fulcrum's table, and
# while a spoofed SYN flood runs, new curl connections to the TCP listener all succeed;
# a blind RST with the right tuple leaves a long-lived connection working.
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
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 7000,
                       "BackendServerPort": 7000, "VServerGroupId": "echo"})
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "udp", "ListenerPort": 54,
                       "BackendServerPort": 5353, "IdleTimeout": 300})
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 8000,
                       "BackendServerPort": 8000, "VServerGroupId": "mute", "SynProxy": "on"})
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 5201,
                       "BackendServerPort": 5201, "VServerGroupId": "bulk"})
c["vserver_groups"] = [{"VServerGroupId": "echo", "VServerGroupName": "echo",
                        "BackendServers": [{"ServerId": "i-echo", "ServerIp": "10.10.2.11", "Port": 7000}]},
                       {"VServerGroupId": "mute", "VServerGroupName": "mute",
                        "BackendServers": [{"ServerId": "i-mute", "ServerIp": "10.10.2.12", "Port": 8000}]},
                       {"VServerGroupId": "bulk", "VServerGroupName": "bulk",
                        "BackendServers": [{"ServerId": "i-bulk", "ServerIp": "10.10.2.13", "Port": 5201}]}]
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
for a in 4 5 6; do lab_ns cl ip addr add "10.10.1.$a/24" dev cl0; done
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
for i in 11 12 13; do # DNS-like backends: every datagram answered
  lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" "10.10.2.$i" 5353 "udp$i" - &
  LAB_PIDS+=($!)
done
lab_ns sv python3 "$ROOT/test/e2e/tcp_echo.py" 10.10.2.11 7000 echo "$LAB_DIR/echo.log" &
LAB_PIDS+=($!)
lab_ns sv iperf3 -s -B 10.10.2.13 -p 5201 >/dev/null 2>&1 &
LAB_PIDS+=($!)
# The mute backend drops every SYN to port 8000: the SYN proxy's connections wait.
lab_ns sv nft -f - <<'NFT'
table inet hostile_mute {
  chain input { type filter hook input priority 0; tcp dport 8000 drop; }
}
NFT
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

# --- a blind RST: the right tuple, guessed sequence numbers --------------------------------
coproc LONG { lab_ns cl python3 -u "$ROOT/test/e2e/long_lived.py" 10.10.1.10 7000; }
read -r -t 5 cport <&"${LONG[0]}" || cport=""
echo first >&"${LONG[1]}"; read -r -t 5 first <&"${LONG[0]}" || first=""
check "a long-lived connection through the VIP echoes ($first, client port $cport)" [ "$first" = "echo first" ]
# Twenty resets an off-path attacker could send: the client's own tuple, random sequence
# numbers, with and without ACK (hping3 -R, -M seq, -A -L ack).
rst_pids=()
for i in $(seq 1 10); do
  lab_ns cl timeout 3 hping3 -q -c 1 -R -s "$cport" -k -p 7000 -M "$((RANDOM * 65536 + RANDOM))" 10.10.1.10 >/dev/null 2>&1 &
  rst_pids+=($!)
  lab_ns cl timeout 3 hping3 -q -c 1 -R -A -s "$cport" -k -p 7000 -M "$((RANDOM * 65536 + RANDOM))" \
    -L "$((RANDOM * 65536 + RANDOM))" 10.10.1.10 >/dev/null 2>&1 &
  rst_pids+=($!)
done
for p in "${rst_pids[@]}"; do wait "$p" || true; done
sleep 10 # past the 3 s a CLOSE entry lives
echo second >&"${LONG[1]}"; read -r -t 5 second <&"${LONG[0]}" || second=""
check "10 s after 20 blind resets it still echoes ($second)" [ "$second" = "echo second" ]
exec {LONG[1]}>&-
report
oow=$(sed -n "s/.* tcp out of window \([0-9]*\),.*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1)
check "the resets were counted out of window, not acted on (${oow:-0})" [ "${oow:-0}" -ge 20 ]

# --- 10,000 proxied clients whose backend drops SYNs, beside a bulk transfer --------------
# Each sends three segments after the handshake: 40,000 frames the proxy would hold, over
# twice the pool's 16,384 mbufs. Its budget (an eighth of the pool) refuses the rest, so
# the unrelated transfer keeps its mbufs and its throughput.
lab_ns cl iperf3 -J -c 10.10.1.10 -p 5201 -t 12 -i 1 > "$LAB_DIR/bulk.json" 2>/dev/null &
bulk=$!
sleep 4
held=$(lab_ns cl python3 "$ROOT/test/e2e/held_flood.py" 10.10.1.10 8000 10000 6)
wait "$bulk" || true
read -r before during < <(python3 - "$LAB_DIR/bulk.json" <<'PY'
import json, sys
iv = [i["sum"]["bits_per_second"] for i in json.load(open(sys.argv[1]))["intervals"]]
print(int(sum(iv[1:4]) / 3), int(sum(iv[6:10]) / 4))  # seconds 1-3 alone; 6-9 with 10,000 clients waiting
PY
)
report
backlog=$(sed -n "s/.*drop syn_proxy_backlog *\([0-9][0-9]*\).*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1)
echo "  bulk transfer: $((before / 1000000)) Mbit/s alone, $((during / 1000000)) Mbit/s with $held clients waiting; held over budget: ${backlog:-0}"
check "10,000 clients completed the proxy's handshake and wait for a backend that drops SYNs ($held)" [ "${held:-0}" -ge 9000 ]
check "the proxy's budget refused what it could not hold (${backlog:-0} frames)" [ "${backlog:-0}" -gt 0 ]
check "an unrelated transfer kept its throughput ($((during / 1000000)) vs $((before / 1000000)) Mbit/s, at least half)" \
  [ "$during" -ge $((before / 2)) ]

# --- spoofed query pairs 2 s apart: conntrack's stream, not Fulcrum's ---------------------
# 5,000 flows from 10.10.1.6, each a datagram, its answer, a datagram 2.2 s later and its
# answer. By conntrack's rule each is a stream (assured, never evicted, 300 s); by
# Fulcrum's it is not (both ways 10 s on), so the flood below may take their room.
listener_new() { # listener_new PORT: the UDP listener's new connections in the last report
  grep -E "^udp 10\.10\.1\.10:$1 +[0-9]" "$LAB_DIR/fulcrum.log" | tail -1 | awk '{print $3}'
}
pairs() { lab_ns cl hping3 -q -2 -a 10.10.1.6 -s 30000 -p 54 -c 5000 -i u100 10.10.1.10 >/dev/null 2>&1 || true; }
pairs; sleep 2.2; pairs
report

# --- UDP: 75,000 datagrams from each of four addresses, source port +1 each --------------
# (64,512 distinct ports per address: ~258,000 distinct flows, 300,000 datagrams)
flood_pids=()
for a in 2 3 4 5; do
  lab_ns cl hping3 -q -2 -a "10.10.1.$a" -s 1024 -p 53 -c 75000 -i u20 10.10.1.10 >/dev/null 2>&1 &
  flood_pids+=($!)
done
sleep 0.5
during=$(curls 20)
running=0 # the curls must have run while the flood did
for p in "${flood_pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
for p in "${flood_pids[@]}"; do wait "$p" || true; done
after=$(curls 20)
report
created=$(counter "connections created"); evicted=$(counter "connections evicted")
table=$(sed -n 's/.*: table \([0-9]*\)\/.*/\1/p' "$LAB_DIR/fulcrum.log" | tail -1)
check "20 of 20 curl connections during the UDP flood ($during; $running of 4 flooders still running after them)" \
  bash -c "[ '$during' -eq 20 ] && [ '$running' -ge 1 ]"
check "20 of 20 right after it ($after)" [ "$after" -eq 20 ]
check "the flood made over 200,000 flows ($created) and filled the table ($table of 65,536)" \
  bash -c "[ '$created' -gt 200000 ] && [ '$table' -gt 60000 ]"
check "room came from unassured flows ($evicted evicted)" [ "${evicted:-0}" -gt 100000 ]
# The pairs' third datagrams: new flows, so the flood had evicted them (not streams).
report
before_third=$(listener_new 54)
pairs
report
third=$(( $(listener_new 54) - before_third ))
check "the 5,000 spoofed query pairs were not streams: the flood took their room, a third datagram opens each anew ($third new)" \
  bash -c "[ '$third' -ge 4500 ] && [ '$third' -le 5000 ]"

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

# --- a table of 1,024 entries full of established connections ------------------------------
python3 - "$cfg" "$LAB_DIR/small.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["conn_capacity"] = 1024
json.dump(c, open(sys.argv[2], "w"))
PY
lab_start_fulcrum "$LAB_DIR/small.json"
mapfile -t full < <(lab_ns cl python3 "$ROOT/test/e2e/table_full.py" 10.10.1.10 7000 1024)
report
table_full=$(sed -n "s/.*drop table_full *\([0-9][0-9]*\).*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1)
check "1,024 established connections fill the table (${full[0]:-none})" [ "${full[0]:-}" = "opened 1024" ]
check "one more is refused cleanly: its SYNs dropped and counted (${full[1]:-none}, table_full ${table_full:-0})" \
  bash -c "[ '${full[1]:-}' = 'refused yes' ] && [ '${table_full:-0}' -ge 1 ]"
check "within 1 s of half of them closing a new one is answered (${full[2]:-none})" \
  bash -c "[[ '${full[2]:-}' == after_close_s\ 0.* ]]"
lab_stop_fulcrum
e2e_finish
