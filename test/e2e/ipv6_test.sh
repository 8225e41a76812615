#!/usr/bin/env bash
# IPv6 end to end with real kernels on both sides (the namespace lab, dual-stack):
#   clients 2001:db8:1::2 -> VIP 2001:db8:1::10 (port "client" 2001:db8:1::1/64)
#   6->4: tcp/80 -> nginx on 10.10.2.11-13 (weights 1/2/7), the backends see IPv4 laddrs
#   6->6: tcp/81 -> nginx on [2001:db8:2::11] and [2001:db8:2::12] (weights 1/3),
#         from laddr 2001:db8:2::100 (port "servers" 2001:db8:2::1/64)
#   ENI:  tcp/82 -> an ENI's IPv6 primary 2001:db8:2::31 and secondary ::32, health-checked
#   MTU:  tcp/5202 -> an upload sink on 2001:db8:3::2 behind a router whose next hop carries 1400
#   edge: tcp/83 (6->4) and tcp/84 (6->6) with PROXY v2 -> nginx proxy_protocol on :8081,
#         which logs the IPv6 client's address; tcp/85: 6->6 behind SynProxy on
# curl -6 and wrk through the VIP, shares in nginx's own log, ping -6 only with a
# listener, a stopped IPv6 backend taken out by its health check and put back, a 1 MB
# upload that needs "packet too big" to cross Fulcrum, and IPv6 in telemetry, Prometheus
# and a dpdk-dumpcap filter.
source "$(dirname "$0")/lab_prelude.sh"
SOCK="$LAB_DIR/ctl.sock"

python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ports"][0]["address6"] = "2001:db8:1::1/64"
c["ports"][1]["address6"] = "2001:db8:2::1/64"
c["ports"][1]["gateway6"] = "2001:db8:2::11"  # the servers' namespace routes to 2001:db8:3::/64
c["vips"] += ["2001:db8:1::10", "2001:db8:1::11"]
c["local_addresses"].append("2001:db8:2::100")
hc = {"HealthCheck": "on", "HealthCheckType": "http", "HealthCheckURI": "/health", "HealthCheckInterval": 1,
      "HealthCheckConnectTimeout": 1, "HealthyThreshold": 2, "UnhealthyThreshold": 2}
c["vserver_groups"] = [
    {"VServerGroupId": "rsp-6", "VServerGroupName": "six", "BackendServers": [
        {"ServerId": "i-web1", "ServerIp": "2001:db8:2::11", "Port": 8080, "Weight": 1},
        {"ServerId": "i-web2", "ServerIp": "2001:db8:2::12", "Port": 8080, "Weight": 3}]},
    {"VServerGroupId": "rsp-eni", "VServerGroupName": "eni", "BackendServers": [
        {"ServerId": "eni-1", "Type": "eni", "ServerIp": ip, "Port": 8080} for ip in ("2001:db8:2::31", "2001:db8:2::32")]},
    {"VServerGroupId": "rsp-far", "VServerGroupName": "far", "BackendServers": [
        {"ServerId": "i-far", "ServerIp": "2001:db8:3::2", "Port": 5201}]},
    {"VServerGroupId": "rsp-pp4", "VServerGroupName": "pp4", "BackendServers": [
        {"ServerId": "i-web1", "ServerIp": "10.10.2.11", "Port": 8081}]},
    {"VServerGroupId": "rsp-pp6", "VServerGroupName": "pp6", "BackendServers": [
        {"ServerId": "i-web1", "ServerIp": "2001:db8:2::11", "Port": 8081}]}]
c["listeners"] += [
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080},
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 81, "BackendServerPort": 1, "VServerGroupId": "rsp-6"},
    dict(hc, VIP="2001:db8:1::10", Protocol="tcp", ListenerPort=82, BackendServerPort=1, VServerGroupId="rsp-eni"),
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 5202, "BackendServerPort": 1, "VServerGroupId": "rsp-far"},
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 83, "BackendServerPort": 1, "VServerGroupId": "rsp-pp4",
     "ProxyProtocolV2Enabled": "on"},
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 84, "BackendServerPort": 1, "VServerGroupId": "rsp-pp6",
     "ProxyProtocolV2Enabled": "on"},
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 85, "BackendServerPort": 1, "VServerGroupId": "rsp-6",
     "SynProxy": "on"}]
json.dump(c, open(sys.argv[2], "w"))
PY

lab_up
# The lab is IPv4-only by default: IPv6 on for the client's and the servers' kernels (the
# lb namespace's veth ends stay Fulcrum's: its kernel holds IPv6 only on Fulcrum's taps).
lab_v6_on cl cl0
lab_ns cl ip -6 addr add 2001:db8:1::2/64 dev cl0 nodad
lab_v6_on sv sv0
for i in 11 12; do lab_ns sv ip -6 addr add "2001:db8:2::$i/64" dev sv0 nodad; done
lab_ns sv sysctl -qw net.ipv6.conf.all.forwarding=1
lab_add_eni
lab_v6_on eni eni0
for i in 31 32; do lab_ns eni ip -6 addr add "2001:db8:2::$i/64" dev eni0 nodad; done
# The router's far side: 2001:db8:3::/64 behind a link of MTU 1400 at the router (an IPv6
# router forwards by its device's MTU, not a route's: the far host's own side stays 1500,
# so its MSS invites segments the hop cannot carry).
ip netns add "$LAB-far"
LAB_EXTRA_NS=(far) # lab_down kills what runs in it and removes it
ip link add rt1 netns "$LAB-sv" type veth peer name far0 netns "$LAB-far"
lab_v6_on sv rt1
lab_ns sv ip -6 addr add 2001:db8:3::1/64 dev rt1 nodad
lab_ns sv ip link set rt1 mtu 1400 up
lab_ns far ip link set lo up
lab_v6_on far far0
lab_ns far ip -6 addr add 2001:db8:3::2/64 dev far0 nodad
lab_ns far ip link set far0 up
lab_ns far ip -6 route add default via 2001:db8:3::1
lab_ns far ethtool -K far0 tx off >/dev/null
lab_ns sv ethtool -K rt1 tx off >/dev/null

mkdir -p "$LAB_DIR/nginx-tmp"
cat > "$LAB_DIR/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $LAB_DIR/nginx.pid;
error_log $LAB_DIR/nginx-error.log info;
events { worker_connections 1024; }
http {
  log_format who '\$server_addr \$remote_addr \$request_uri';
  access_log $LAB_DIR/nginx-access.log who;
  log_format pp '\$server_addr \$proxy_protocol_addr \$remote_addr \$request_uri';
  client_body_temp_path $LAB_DIR/nginx-tmp/body;
  proxy_temp_path $LAB_DIR/nginx-tmp/proxy;
  fastcgi_temp_path $LAB_DIR/nginx-tmp/fastcgi;
  uwsgi_temp_path $LAB_DIR/nginx-tmp/uwsgi;
  scgi_temp_path $LAB_DIR/nginx-tmp/scgi;
  server {
    listen 10.10.2.11:8080; listen 10.10.2.12:8080; listen 10.10.2.13:8080;
    listen [2001:db8:2::11]:8080; listen [2001:db8:2::12]:8080;
    location / { return 200 "\$server_addr \$remote_addr\n"; }
  }
  server {
    listen 10.10.2.11:8081 proxy_protocol; listen [2001:db8:2::11]:8081 proxy_protocol;
    access_log $LAB_DIR/nginx-pp.log pp;
    location / { return 200 "\$proxy_protocol_addr\n"; }
  }
}
EOF
lab_ns sv nginx -c "$LAB_DIR/nginx.conf" -p "$LAB_DIR" 2>>"$LAB_DIR/nginx-error.log" &
LAB_PIDS+=($!)
eni_start() { # eni_start NAME IP
  { lab_ns eni python3 "$ROOT/test/e2e/backend_server.py" "$2" 8080 "$1" "$LAB_DIR/$1.log"; } 2>>"$LAB_DIR/$1.err" &
  LAB_PIDS+=($!)
  for _ in $(seq 1 100); do lab_ns eni bash -c "echo > /dev/tcp/$2/8080" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
eni_start eni-p 2001:db8:2::31
eni_start eni-s 2001:db8:2::32
# The far backend counts what each connection uploads and answers with the count.
lab_ns far python3 -c '
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("2001:db8:3::2", 5201)); s.listen(8)
while True:
    c, _ = s.accept(); c.settimeout(30); n = 0
    try:
        while (b := c.recv(65536)): n += len(b)
        c.sendall(f"{n}\n".encode())
    except OSError: pass
    c.close()' &
LAB_PIDS+=($!)
for _ in $(seq 1 50); do lab_ns sv bash -c "echo > /dev/tcp/2001:db8:2::12/8080" 2>/dev/null && break; sleep 0.1; done
lab_start_fulcrum "$LAB_DIR/cfg.json" --ctl-socket "$SOCK" --metrics 127.0.0.1:9100
sleep 3 # the ENI group's first health verdicts (interval 1 s, two in a row)

VIP6='[2001:db8:1::10]'
hits() { grep -c "^$1 .* $2" "$LAB_DIR/nginx-access.log" || true; } # hits SERVER_ADDR URI-PREFIX

# 1. curl -6: 6->4 and 6->6, shares by weight in nginx's log
fails=0
for i in $(seq 1 200); do lab_ns cl curl -6 -s --max-time 3 -o /dev/null -f "http://$VIP6/four/$i" || fails=$((fails + 1)); done
check "200 of 200 curl -6 requests to tcp/80 answered by IPv4 backends (6->4; $fails failed)" [ "$fails" -eq 0 ]
a=$(hits 10.10.2.11 /four/); b=$(hits 10.10.2.12 /four/); c=$(hits 10.10.2.13 /four/)
check "6->4 shares follow weights 1/2/7 in nginx's log ($a/$b/$c of 200)" bash -c "[ $a -eq 20 ] && [ $b -eq 40 ] && [ $c -eq 140 ]"
check "6->4: nginx sees only the IPv4 laddrs as clients" \
  bash -c "! grep ' /four/' '$LAB_DIR/nginx-access.log' | awk '{print \$2}' | grep -vqE '^10\.10\.2\.10[01]$'"
fails=0
for i in $(seq 1 200); do lab_ns cl curl -6 -s --max-time 3 -o /dev/null -f "http://$VIP6:81/six/$i" || fails=$((fails + 1)); done
check "200 of 200 curl -6 requests to tcp/81 answered by IPv6 backends (6->6; $fails failed)" [ "$fails" -eq 0 ]
a=$(hits 2001:db8:2::11 /six/); b=$(hits 2001:db8:2::12 /six/)
check "6->6 shares follow weights 1/3 in nginx's log ($a/$b of 200)" bash -c "[ $a -eq 50 ] && [ $b -eq 150 ]"
check "6->6: nginx sees only the IPv6 laddr as client" \
  bash -c "! grep ' /six/' '$LAB_DIR/nginx-access.log' | awk '{print \$2}' | grep -vqx '2001:db8:2::100'"

# 2. wrk over both kinds
for p in 80 81; do
  out=$(lab_ns cl wrk -t1 -c8 -d2s "http://$VIP6:$p/wrk" 2>&1 || true)
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  errs=$(echo "$out" | grep -cE "Socket errors|Non-2xx" || true)
  check "wrk to $VIP6:$p: ${n:-0} requests, no errors" bash -c "[ '${n:-0}' -gt 100 ] && [ '$errs' -eq 0 ]"
done

# 3. The ENI's primary and secondary IPv6 addresses each serve
for i in $(seq 1 20); do lab_ns cl curl -6 -s --max-time 3 -o /dev/null "http://$VIP6:82/eni/$i" || true; done
p=$(grep -c /eni/ "$LAB_DIR/eni-p.log" || true); s=$(grep -c /eni/ "$LAB_DIR/eni-s.log" || true)
check "the ENI's primary and secondary IPv6 addresses each serve ($p/$s of 20)" bash -c "[ $p -eq 10 ] && [ $s -eq 10 ]"

# 4. ping -6: the VIP with listeners answers, the one without does not
check "ping -6 to the VIP with listeners is answered" bash -c "ip netns exec '$LAB-cl' ping -6 -c 1 -W 2 2001:db8:1::10 >/dev/null"
check "ping -6 to a VIP without listeners is not" bash -c "! ip netns exec '$LAB-cl' ping -6 -c 2 -W 1 2001:db8:1::11 >/dev/null"

# 5. Health: a stopped IPv6 backend goes out, and comes back once it serves again
status() { # status IP -> normal|abnormal
  "$BUILD/src/fulcrumctl/fulcrumctl" --socket "$SOCK" DescribeHealthStatus | python3 -c "
import json, sys
for b in json.load(sys.stdin)['BackendServers']:
    if b['ServerIp'] == '$1' and b['ListenerPort'] == 82: print(b['ServerHealthStatus'])"
}
wait_status() { for _ in $(seq 1 60); do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
check "both ENI addresses start normal ($(status 2001:db8:2::31)/$(status 2001:db8:2::32))" \
  bash -c "[ '$(status 2001:db8:2::31)' = normal ] && [ '$(status 2001:db8:2::32)' = normal ]"
pkill -f "backend_server.py 2001:db8:2::32 8080 " || true
check "a stopped IPv6 backend is marked abnormal within 6 s" wait_status 2001:db8:2::32 abnormal
before=$(grep -c /down/ "$LAB_DIR/eni-p.log" || true)
fails=0
for i in $(seq 1 10); do lab_ns cl curl -6 -s --max-time 3 -o /dev/null -f "http://$VIP6:82/down/$i" || fails=$((fails + 1)); done
after=$(grep -c /down/ "$LAB_DIR/eni-p.log" || true)
check "while it is down, every request goes to the other ($((after - before)) of 10, $fails failed)" \
  bash -c "[ $((after - before)) -eq 10 ] && [ $fails -eq 0 ]"
eni_start eni-s 2001:db8:2::32
check "restarted, it is normal again within 6 s" wait_status 2001:db8:2::32 normal
for i in $(seq 1 10); do lab_ns cl curl -6 -s --max-time 3 -o /dev/null "http://$VIP6:82/back/$i" || true; done
check "and serves again ($(grep -c /back/ "$LAB_DIR/eni-s.log" || true) of 10)" \
  [ "$(grep -c /back/ "$LAB_DIR/eni-s.log" || true)" -ge 4 ]

# 6. At the edge: PROXY v2 tells nginx the IPv6 client over 6->4 and 6->6; the SYN proxy
# carries real kernels' connections (window scale, SACK, no timestamps).
for port in 83 84; do
  fails=0
  for i in $(seq 1 10); do
    lab_ns cl curl -6 -sf --max-time 5 "http://$VIP6:$port/pp$port/$i" >/dev/null || fails=$((fails + 1))
  done
  check "10 of 10 curl -6 requests through PROXY v2 on tcp/$port ($fails failed)" [ "$fails" -eq 0 ]
done
pp() { grep -c "^$1 2001:db8:1::2 $2 /pp$3/" "$LAB_DIR/nginx-pp.log" || true; } # pp SERVER CONN-SRC PORT
check "6->4: nginx (proxy_protocol) logs the IPv6 client for each request from the IPv4 laddr ($(pp 10.10.2.11 '10\.10\.2\.10[01]' 83) of 10)" \
  [ "$(pp 10.10.2.11 '10\.10\.2\.10[01]' 83)" -eq 10 ]
check "6->6: nginx (proxy_protocol) logs the IPv6 client for each request from the IPv6 laddr ($(pp 2001:db8:2::11 2001:db8:2::100 84) of 10)" \
  [ "$(pp 2001:db8:2::11 2001:db8:2::100 84)" -eq 10 ]
fails=0
for i in $(seq 1 20); do
  lab_ns cl curl -6 -sf --max-time 5 "http://$VIP6:85/proxied/$i" >/dev/null || fails=$((fails + 1))
done
check "20 of 20 curl -6 requests through the IPv6 SYN proxy on tcp/85 ($fails failed)" [ "$fails" -eq 0 ]
big=$(lab_ns cl curl -6 -s --max-time 10 -o /dev/null -w '%{http_code}' -d @<(head -c 300000 /dev/zero) "http://$VIP6:85/post" || true)
check "a 300 KB POST through the IPv6 SYN proxy gets its answer ($big)" [ "$big" = 200 ]

# 7. 1 MB uploaded to a backend behind the 1400-byte hop: the router's "packet too big"
# reaches the client through Fulcrum (as the VIP's), which then sends smaller segments.
up=$(lab_ns cl timeout 30 python3 -c '
import socket
c = socket.create_connection(("2001:db8:1::10", 5202), timeout=25)
c.sendall(bytes(1048576)); c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode().strip() or 0)' 2>/dev/null || echo 0)
check "a 1 MB upload behind a 1400-byte IPv6 hop completes (the backend counted $up bytes)" [ "$up" -eq 1048576 ]
pmtu=$(lab_ns cl ip -6 route get 2001:db8:1::10 | grep -o 'mtu [0-9]*' || true)
check "the client learned the smaller path MTU from Fulcrum's packet too big (${pmtu:-none})" \
  bash -c "[ '$pmtu' = 'mtu 1400' ]"

# 8. Observability: telemetry and Prometheus name the IPv6 listeners and backends (keys
# and labels as docs/observability.md says), and dpdk-dumpcap's filter picks IPv6 out.
telemetry() { printf '%s\n' "$1" | timeout 10 dpdk-telemetry.py -f "$LAB" 2>/dev/null | grep "^{"; }
key=tcp_2001_db8_1__10_81 # tcp, 2001:db8:1::10, 81 in telemetry's letters
tel() { telemetry /fulcrum/listeners | python3 -c "import json,sys; print(json.load(sys.stdin)['/fulcrum/listeners']['$key']['new_connections'])"; }
n1=$(tel || echo none)
for i in $(seq 1 10); do lab_ns cl curl -6 -sf --max-time 5 "http://$VIP6:81/obs/$i" >/dev/null || true; done
sleep 0.5 # the control loop publishes every 200 ms
n2=$(tel || echo none)
check "telemetry /fulcrum/listeners counts 10 new IPv6 connections on $key ($n1 -> $n2)" \
  bash -c "[ '$n1' != none ] && [ \$(( $n2 - $n1 )) -eq 10 ]"
lab_ns lb curl -s --max-time 3 http://127.0.0.1:9100/metrics > "$LAB_DIR/metrics.txt"
check "Prometheus labels the IPv6 listener" \
  grep -qE '^fulcrum_listener_new_connections_total\{listener="tcp \[2001:db8:1::10\]:81",group="[^"]+"\} [1-9]' "$LAB_DIR/metrics.txt"
check "  and its IPv6 backend" \
  grep -qE '^fulcrum_backend_packets_total\{listener="tcp \[2001:db8:1::10\]:81",group="[^"]+",server_id="i-web2",address="\[2001:db8:2::12\]:8080",direction="in"\} [1-9]' "$LAB_DIR/metrics.txt"
if [[ "$(eal_mem_args)" == *no-huge* ]]; then
  echo "  SKIP dpdk-dumpcap: no hugepages here (FULCRUM_NO_HUGE or none free); a --no-huge primary cannot be attached to"
else
  timeout 30 dpdk-dumpcap --file-prefix="$LAB" -i net_af_packet0 -f 'ip6 and tcp port 81' -c 10 -w "$LAB_DIR/cap6.pcapng" \
    > "$LAB_DIR/dumpcap6.log" 2>&1 &
  dc=$!
  for _ in $(seq 1 50); do grep -q "Capturing on" "$LAB_DIR/dumpcap6.log" && break; sleep 0.1; done
  for i in $(seq 1 5); do # IPv4 and IPv6 requests side by side: only the IPv6 ones may be caught
    lab_ns cl curl -sf --max-time 5 "http://10.10.1.10/cap4/$i" >/dev/null || true
    lab_ns cl curl -6 -sf --max-time 5 "http://$VIP6:81/cap6/$i" >/dev/null || true
  done
  rc=0; wait "$dc" || rc=$?
  caught=$(tcpdump -nn -r "$LAB_DIR/cap6.pcapng" 2>/dev/null)
  check "dpdk-dumpcap -f 'ip6 and tcp port 81' caught $(wc -l <<<"$caught") packets, all IPv6 to or from the VIP's tcp/81 ($rc)" \
    bash -c "[ '$rc' -eq 0 ] && [ \$(wc -l <<<'$caught') -ge 10 ] && ! grep -qv 'IP6 2001:db8:1::\(2\|10\)\.[0-9]* > 2001:db8:1::\(10\.81\|2\.[0-9]*\):' <<<'$caught'"
fi

lab_stop_fulcrum
check "ICMPv6 errors were forwarded" grep -qE "icmp errors forwarded [1-9]" "$LAB_DIR/fulcrum.log"
check "no packet dropped as malformed" bash -c "! grep -qE 'bad_|trunc_' '$LAB_DIR/fulcrum.log'"
e2e_finish
