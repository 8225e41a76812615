#!/usr/bin/env bash
# The hostile-traffic suite for IPv6 clients, real kernel clients and servers (as
# hostile_test.sh does for IPv4): one-datagram UDP flows from four IPv6 client addresses
# fill Fulcrum's table while new curl -6 connections to another listener all succeed;
# a spoofed SYN flood from random sources of a lab /64 engages the IPv6 SYN proxy while
# new curl -6 connections all succeed. The floods come from test/e2e/flood6.py on a raw
# socket (hping3 has no IPv6).
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
python3 - "$ROOT/conf/demo.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["conn_capacity"] = 65536
c["ports"][0]["address6"] = "2001:db8:1::1/64"
# Internet-facing: replies to sources off the link leave through a gateway (the client
# namespace), one neighbour for all of them.
c["ports"][0]["gateway6"] = "2001:db8:1::2"
c["ports"][1]["address6"] = "2001:db8:2::1/64"
c["vips"].append("2001:db8:1::10")
c["local_addresses"].append("2001:db8:2::100")
c["vserver_groups"] = [{"VServerGroupId": "six", "VServerGroupName": "six", "BackendServers": [
    {"ServerId": "i-six1", "ServerIp": "2001:db8:2::11", "Port": 8080},
    {"ServerId": "i-six2", "ServerIp": "2001:db8:2::12", "Port": 8080}]},
    {"VServerGroupId": "dns6", "VServerGroupName": "dns6", "BackendServers": [
    {"ServerId": "i-dns6", "ServerIp": "2001:db8:2::11", "Port": 5353}]}]
c["listeners"] += [
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 1, "VServerGroupId": "six"},
    {"VIP": "2001:db8:1::10", "Protocol": "udp", "ListenerPort": 53, "BackendServerPort": 1, "VServerGroupId": "dns6",
     "IdleTimeout": 300}]
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
lab_v6_on cl cl0
for a in 2 3 4 5 6; do lab_ns cl ip -6 addr add "2001:db8:1::$a/64" dev cl0 nodad; done
lab_v6_on sv sv0
for i in 11 12; do lab_ns sv ip -6 addr add "2001:db8:2::$i/64" dev sv0 nodad; done
lab_start_backends six1:[2001:db8:2::11] six2:[2001:db8:2::12]
lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" 2001:db8:2::11 5353 udp6 - &
LAB_PIDS+=($!)
lab_start_fulcrum "$cfg"

VIP6=2001:db8:1::10
curls() { # curls N: how many of N new IPv6 connections to the TCP listener got an answer
  local ok=0
  for _ in $(seq 1 "$1"); do
    lab_ns cl curl -6 -s --max-time 5 -o /dev/null -w '%{http_code}\n' "http://[$VIP6]/" | grep -q 200 && ok=$((ok + 1))
  done
  echo "$ok"
}
counter() { sed -n "s/.* $1 \([0-9]*\),.*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1; }
report() { kill -USR1 "$FULCRUM_PID"; sleep 0.5; }
check "curl -6 through the VIP before any flood (20 of $(curls 20))" [ "$(curls 20)" -eq 20 ]
# The VIP's MAC as the client's kernel resolved it (Fulcrum's NA).
mac=$(lab_ns cl ip -6 neigh show "$VIP6" dev cl0 | awk '{print $3}')
check "the client's kernel resolved the VIP by Neighbour Discovery ($mac)" bash -c "[[ '$mac' =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]]"

# --- UDP: one-datagram flows from four IPv6 client addresses (up to 60 s; stopped once the
# curls are done) -------------------------------------------------------------------------
lab_ns cl python3 "$ROOT/test/e2e/flood6.py" udp cl0 "$mac" "$VIP6" 53 60 \
  2001:db8:1::3 2001:db8:1::4 2001:db8:1::5 2001:db8:1::6 > "$LAB_DIR/udp_flood.out" &
flood=$!
sleep 1
during=$(curls 20)
running=0
kill -0 "$flood" 2>/dev/null && running=1
pkill -f "flood6.py udp" || true
wait "$flood" || true
after=$(curls 20)
report
created=$(counter "connections created"); evicted=$(counter "connections evicted")
table=$(sed -n 's/.*: table \([0-9]*\)\/.*/\1/p' "$LAB_DIR/fulcrum.log" | tail -1)
check "20 of 20 curl -6 connections during the UDP flood ($during; the flood still running after them: $running)" \
  bash -c "[ '$during' -eq 20 ] && [ '$running' -eq 1 ]"
check "20 of 20 right after it ($after)" [ "$after" -eq 20 ]
check "the flood ($(cat "$LAB_DIR/udp_flood.out") datagrams) made over 100,000 IPv6 flows ($created) and filled the table ($table of 65,536)" \
  bash -c "[ '${created:-0}' -gt 100000 ] && [ '${table:-0}' -gt 60000 ]"
check "room came from unassured flows ($evicted evicted)" [ "${evicted:-0}" -gt 30000 ]

# --- SYN flood from random sources of 2001:db8:99::/64 (off-link: through gateway6) ------
lab_ns cl python3 "$ROOT/test/e2e/flood6.py" syn cl0 "$mac" "$VIP6" 80 8 2001:db8:99:: > "$LAB_DIR/syn_flood.out" &
flood=$!
sleep 2
during=$(curls 20)
wait "$flood" || true
report
cookies=$(counter "syn cookies sent"); engaged=$(counter "proxy engaged"); proxied=$(counter "syn proxy established")
check "20 of 20 curl -6 connections during the spoofed SYN flood ($during; $(cat "$LAB_DIR/syn_flood.out") SYNs)" \
  [ "$during" -eq 20 ]
check "the SYN proxy engaged on the IPv6 listener ($engaged) and answered the flood with cookies ($cookies)" \
  bash -c "[ '${engaged:-0}' -ge 1 ] && [ '${cookies:-0}' -gt 10000 ]"
check "the clients' connections went through the proxy ($proxied proxied)" [ "${proxied:-0}" -ge 1 ]
lab_stop_fulcrum
check "no packet dropped as malformed" bash -c "! grep -qE 'bad_|trunc_' '$LAB_DIR/fulcrum.log'"
check "no neighbour table overflow from the spoofed sources" bash -c "! grep -q 'neigh_table_full' '$LAB_DIR/fulcrum.log'"
e2e_finish
