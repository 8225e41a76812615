#!/usr/bin/env bash
# The product's promises, end to end, each judged by what real servers and clients saw
# (backend access logs, client replies): weighted shares over 3,000 requests, listeners
# bound to different groups on one VIP, one server in two vserver groups, ENI secondary
# IPs, weight 0 under a live connection, ACL white/black lists, session persistence, UDP,
# and a backend that is also a client of its own VIP.
# (Master/slave failover: health_test.sh; ping only with a listener: tap_ping_test.sh;
# full-NAT sources and replies: fnat_http_test.sh.)
source "$(dirname "$0")/lab_prelude.sh"
SOCK="$LAB_DIR/ctl.sock"
load() { lab_ns cl python3 "$ROOT/test/e2e/http_load.py" "$@"; }
hits() { grep -c " $2 " "$LAB_DIR/$1.log" 2>/dev/null || true; } # hits LOGNAME PATH-SUBSTRING

python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
L = lambda port, **kw: dict(dict(VIP="10.10.1.10", Protocol="tcp", ListenerPort=port, BackendServerPort=8080), **kw)
be = lambda sid, ip, port, w=100: {"ServerId": sid, "ServerIp": ip, "Port": port, "Weight": w}
c["vserver_groups"] = [
    {"VServerGroupId": "rsp-1", "VServerGroupName": "api", "BackendServers": [be("i-web1", "10.10.2.11", 8081), be("i-web2", "10.10.2.12", 8081)]},
    {"VServerGroupId": "rsp-2", "VServerGroupName": "admin", "BackendServers": [be("i-web1", "10.10.2.11", 8082)]},
    {"VServerGroupId": "rsp-3", "VServerGroupName": "eni", "BackendServers": [
        {"ServerId": "eni-1", "Type": "eni", "ServerIp": ip, "Port": 8080} for ip in ("10.10.2.31", "10.10.2.32", "10.10.2.33")]},
]
c["listeners"] += [
    L(81, VServerGroupId="rsp-1"), L(82, VServerGroupId="rsp-2"), L(83, VServerGroupId="rsp-3"),
    L(84, AclStatus="on", AclType="white", AclEntries=["10.10.1.2/32"]),
    L(85, PersistenceTimeout=60),
    L(86, BackendServerPort=7007, ConnectionDrain="on", ConnectionDrainTimeout=600),
    dict(VIP="10.10.1.10", Protocol="udp", ListenerPort=53, BackendServerPort=5353),
]
json.dump(c, open(sys.argv[2], "w"))
PY

lab_up
lab_add_eni
lab_ns sv ip route add 10.10.1.0/24 via 10.10.2.1 # backends can be clients of the VIP too
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13 \
  api1:10.10.2.11:8081 api2:10.10.2.12:8081 admin1:10.10.2.11:8082 \
  eni-p:10.10.2.31@eni eni-s1:10.10.2.32@eni eni-s2:10.10.2.33@eni
for i in 1 2 3; do
  lab_ns sv python3 "$ROOT/test/e2e/tcp_echo.py" "10.10.2.1$i" 7007 "echo$i" "$LAB_DIR/echo$i.log" & LAB_PIDS+=($!)
  lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" "10.10.2.1$i" 5353 "udp$i" "$LAB_DIR/udp$i.log" & LAB_PIDS+=($!)
done
lab_start_fulcrum "$LAB_DIR/cfg.json" --ctl-socket "$SOCK"

# 1. Weights 1/2/7 over 3,000 requests, judged by the backends' own access logs.
out=$(load http://10.10.1.10/ 3000)
n1=$(wc -l < "$LAB_DIR/web1.log"); n2=$(wc -l < "$LAB_DIR/web2.log"); n3=$(wc -l < "$LAB_DIR/web3.log")
tot=$((n1 + n2 + n3))
check "3,000 requests answered, none failed at the client ($out)" \
  bash -c "[ $tot -eq 3000 ] && [[ '$out' != *failed* ]]"
check "access logs share 10/20/70 within 3 points: $n1/$n2/$n3" python3 -c "
import sys; n = [$n1, $n2, $n3]; t = sum(n)
sys.exit(0 if all(abs(100 * x / t - w) <= 3 for x, w in zip(n, (10, 20, 70))) else 1)"

# 2. Two listeners on one VIP: port 81 bound to vserver group rsp-1 (servers on 8081),
#    port 80 to the default group (8080); each log holds only its listener's requests.
out=$(load http://10.10.1.10:81/g81 200)
check "port 81 (vserver group) answered by api1/api2 only ($out)" \
  bash -c "[[ '$out' =~ ^api1\ [0-9]+\ api2\ [0-9]+$ ]]"
check "  the default group's logs hold no port-81 request" bash -c "! grep -q ' /g81 ' '$LAB_DIR'/web?.log"
check "  the vserver group's logs hold no port-80 request" bash -c "! grep -qv ' /g81 ' '$LAB_DIR'/api?.log"

# 3. One server in two vserver groups on different ports.
out82=$(load http://10.10.1.10:82/g82 20)
check "web1 in a second group (port 8082) serves port 82 ($out82)" test "$out82" = "admin1 20"
check "  and the same server's port-8081 log got none of them" bash -c "! grep -q ' /g82 ' '$LAB_DIR/api1.log'"

# 4. ENI: a primary and two secondary IPs of one interface are three backends.
out=$(load http://10.10.1.10:83/eni 90)
p=$(hits eni-p /eni); s1=$(hits eni-s1 /eni); s2=$(hits eni-s2 /eni)
check "requests reach the ENI's primary and each secondary IP (logs: $p/$s1/$s2 of 90)" \
  bash -c "[ $p -gt 0 ] && [ $s1 -gt 0 ] && [ $s2 -gt 0 ] && [ $((p + s1 + s2)) -eq 90 ] && [[ '$out' != *failed* ]]"

# 5. Weight 0 during a long-lived TCP connection (listener 86, ConnectionDrain on).
lab_ns cl python3 -c '
import socket, sys, time, os
s = socket.create_connection(("10.10.1.10", 86), timeout=5)
f = s.makefile("rwb", buffering=0)
f.write(b"first\n"); print(f.readline().decode().split()[0], flush=True)
while not os.path.exists(sys.argv[1]): time.sleep(0.1)
f.write(b"second\n"); print(f.readline().decode().split()[0], flush=True)' "$LAB_DIR/go" > "$LAB_DIR/long.out" 2>&1 &
client=$!
for _ in $(seq 1 50); do [ -s "$LAB_DIR/long.out" ] && break; sleep 0.1; done
first=$(head -1 "$LAB_DIR/long.out")
ip="10.10.2.1${first#echo}"; sid="i-web${first#echo}"
ctl SetBackendServers "{\"BackendServers\":[{\"ServerId\":\"$sid\",\"ServerIp\":\"$ip\",\"Weight\":0}]}" >/dev/null
others=$(for i in $(seq 1 12); do lab_ns cl python3 -c '
import socket; s = socket.create_connection(("10.10.1.10", 86), timeout=3); s.sendall(b"x\n"); print(s.recv(100).decode().split()[0])'; done | sort | uniq -c | tr '\n' ' ')
touch "$LAB_DIR/go"; wait "$client" || true
second=$(sed -n 2p "$LAB_DIR/long.out")
check "the long-lived connection on $first keeps working after its weight went to 0 (second reply: $second)" \
  test "$second" = "$first"
check "  new connections avoid $first: $others" bash -c "! grep -qw '$first' <<<'$others' && [ -n '$others' ]"

# 8. ACL on port 84: whitelist 10.10.1.2, then the same prefix as a blacklist.
a2=$(load http://10.10.1.10:84/ 3 10.10.1.2); a3=$(lab_ns cl python3 "$ROOT/test/e2e/http_load.py" http://10.10.1.10:84/ 2 10.10.1.3)
check "whitelist: 10.10.1.2 is served ($a2), 10.10.1.3 is not ($a3)" \
  bash -c "[[ '$a2' != *failed* ]] && [ '$a3' = 'failed 2' ]"
ctl SetLoadBalancerTCPListenerAttribute '{"VIP":"10.10.1.10","ListenerPort":84,"AclType":"black"}' >/dev/null
a2=$(load http://10.10.1.10:84/ 2 10.10.1.2); a3=$(load http://10.10.1.10:84/ 3 10.10.1.3)
check "blacklist: 10.10.1.2 is refused ($a2), 10.10.1.3 is served ($a3)" \
  bash -c "[ '$a2' = 'failed 2' ] && [[ '$a3' != *failed* ]]"

# 9. Session persistence on port 85: each client IP sticks to one backend.
for src in 10.10.1.2 10.10.1.3; do
  out=$(load http://10.10.1.10:85/p 15 "$src")
  check "client $src sticks to one backend over 15 connections ($out)" bash -c "[[ '$out' =~ ^web[123]\ 15$ ]]"
done

# 10. UDP request/response with real UDP servers.
r=$(udp_ask 10.10.1.2 10.10.1.10 53 hello)
check "UDP request answered through the VIP ($r)" bash -c "[[ '$r' =~ ^udp[123]\ 10\.10\.2\.10[01]\ hello$ ]]"

# 12. A backend that is also a client of its own VIP: with full-NAT the backend sees the
#     request from a laddr, so even a request scheduled to itself completes; no wedge.
self=$(lab_ns sv python3 "$ROOT/test/e2e/http_load.py" http://10.10.1.10/self 30 10.10.2.11)
check "backend web1 as a client of the VIP: 30 requests answered ($self)" bash -c "[[ '$self' != *failed* ]]"
check "  including ones scheduled back to web1 itself, which saw a laddr as the source" \
  bash -c "grep ' /self ' '$LAB_DIR/web1.log' | grep -qE '^10\.10\.2\.10[01] '"
out=$(load http://10.10.1.10/after 20)
check "ordinary clients are still served afterwards ($out)" bash -c "[[ '$out' != *failed* ]]"
e2e_finish
