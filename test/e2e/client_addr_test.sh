#!/usr/bin/env bash
# Backends see the client through full-NAT, with real servers:
#  1. nginx (`listen ... proxy_protocol`, access log with $proxy_protocol_addr) behind a
#     PROXY-v2 listener: 100 connections from each of two client addresses, each answered
#     with and logged under its own address; the same through a listener with SynProxy on;
#     1 MB down and 1 MB up (PUT) from each address, byte-exact, logged under it;
#  2. a UDP backend that parses the v2 header logs and answers each client's address;
#  3. TOA: a capture at the backend shows option 254 with the client's address and port
#     on the first segment after the SYN of every connection, and the backend's kernel
#     completes each connection (the request is answered).
# Health checks stay plain: nginx's backends are checked over HTTP on a plain port (8081).
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
python3 - "$ROOT/conf/demo.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
web = [{"ServerId": "i-ngx1", "ServerIp": "10.10.2.11", "Port": 8080},
       {"ServerId": "i-ngx2", "ServerIp": "10.10.2.12", "Port": 8080}]
c["vserver_groups"] = [
  {"VServerGroupId": "rsp-1", "VServerGroupName": "nginx", "BackendServers": web},
  {"VServerGroupId": "rsp-2", "VServerGroupName": "toa", "BackendServers": [{"ServerId": "i-web3", "ServerIp": "10.10.2.13", "Port": 8080}]},
  {"VServerGroupId": "rsp-3", "VServerGroupName": "udp", "BackendServers": [{"ServerId": "i-udp", "ServerIp": "10.10.2.11", "Port": 5353}]}]
health = {"HealthCheck": "on", "HealthCheckType": "http", "HealthCheckConnectPort": 8081, "HealthCheckURI": "/health",
          "HealthCheckInterval": 1, "HealthyThreshold": 2, "UnhealthyThreshold": 2}
c["listeners"] = [
  dict({"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080, "VServerGroupId": "rsp-1",
        "ProxyProtocolV2Enabled": "on"}, **health),
  {"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 82, "BackendServerPort": 8080, "VServerGroupId": "rsp-1",
   "ProxyProtocolV2Enabled": "on", "SynProxy": "on"},
  {"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 81, "BackendServerPort": 8080, "VServerGroupId": "rsp-2",
   "ToaEnabled": "on"},
  {"VIP": "10.10.1.10", "Protocol": "udp", "ListenerPort": 53, "BackendServerPort": 5353, "VServerGroupId": "rsp-3",
   "ProxyProtocolV2Enabled": "on"}]
json.dump(c, open(sys.argv[2], "w"))
PY

mkdir -p "$LAB_DIR/www/up" "$LAB_DIR/nginx-tmp"
head -c 1048576 /dev/urandom > "$LAB_DIR/www/big.bin"
head -c 1048576 /dev/urandom > "$LAB_DIR/up.bin"
cat > "$LAB_DIR/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $LAB_DIR/nginx.pid;
error_log $LAB_DIR/nginx-error.log info;
events { worker_connections 1024; }
http {
  log_format pp '\$proxy_protocol_addr \$proxy_protocol_port \$remote_addr \$request_method \$request_uri \$status \$body_bytes_sent \$request_length';
  client_body_temp_path $LAB_DIR/nginx-tmp/body;
  proxy_temp_path $LAB_DIR/nginx-tmp/proxy;
  fastcgi_temp_path $LAB_DIR/nginx-tmp/fastcgi;
  uwsgi_temp_path $LAB_DIR/nginx-tmp/uwsgi;
  scgi_temp_path $LAB_DIR/nginx-tmp/scgi;
  server {
    listen 10.10.2.11:8080 proxy_protocol;
    listen 10.10.2.12:8080 proxy_protocol;
    access_log $LAB_DIR/nginx-access.log pp;
    root $LAB_DIR/www;
    location = /who { return 200 "\$proxy_protocol_addr\n"; }
    location /up/ { dav_methods PUT; client_max_body_size 4m; }
  }
  server {
    listen 10.10.2.11:8081;
    listen 10.10.2.12:8081;
    access_log off;
    location = /health { return 200 "ok\n"; }
  }
}
EOF

lab_up
lab_ns sv nginx -c "$LAB_DIR/nginx.conf" -p "$LAB_DIR" 2>>"$LAB_DIR/nginx-error.log" &
LAB_PIDS+=($!)
lab_start_backends web3:10.10.2.13
lab_ns sv python3 "$ROOT/test/e2e/udp_proxy_v2.py" 10.10.2.11 5353 "$LAB_DIR/udp.log" &
LAB_PIDS+=($!)
# Ready when its plain port answers (its PROXY port would log the probe as a broken header).
for _ in $(seq 1 50); do lab_ns sv bash -c "echo > /dev/tcp/10.10.2.11/8081" 2>/dev/null && break; sleep 0.1; done
lab_start_fulcrum "$cfg"
sleep 3 # the health checks' first verdicts (interval 1 s, two in a row)

# who SRC PORT N: N connections (Connection: close) from SRC to VIP:PORT/who; prints how
# many answers named SRC.
who() {
  local urls=()
  for i in $(seq 1 "$3"); do urls+=("http://10.10.1.10:$2/who?c=$1&p=$2&i=$i"); done
  lab_ns cl curl -s --max-time 5 --interface "$1" -H 'Connection: close' "${urls[@]}" | grep -cx "$1" || true
}
for src in 10.10.1.2 10.10.1.3; do
  n=$(who "$src" 80 100)
  check "100 connections from $src through the PROXY-v2 listener: each answered with its own address ($n)" [ "$n" -eq 100 ]
  n=$(who "$src" 82 20)
  check "20 connections from $src through the PROXY-v2 listener with SynProxy on: each answered with its address ($n)" [ "$n" -eq 20 ]
done

want=$(sha256sum < "$LAB_DIR/www/big.bin" | cut -d' ' -f1)
for src in 10.10.1.2 10.10.1.3; do
  got=$(lab_ns cl curl -s --max-time 20 --interface "$src" "http://10.10.1.10/big.bin?c=$src" | sha256sum | cut -d' ' -f1)
  check "1 MB download to $src is byte-exact" [ "$got" = "$want" ]
  lab_ns cl curl -s --max-time 20 --interface "$src" -T "$LAB_DIR/up.bin" "http://10.10.1.10/up/$src.bin?c=$src" >/dev/null || true
  check "1 MB upload from $src is byte-exact on the backend" \
    cmp -s "$LAB_DIR/up.bin" "$LAB_DIR/www/up/$src.bin"
done

log="$LAB_DIR/nginx-access.log"
# Fields: proxy_protocol_addr port remote_addr method uri status bytes_sent request_length
for src in 10.10.1.2 10.10.1.3; do
  mine=$(awk -v s="$src" 'index($5, "c=" s) { n++ } END { print n + 0 }' "$log")
  right=$(awk -v s="$src" 'index($5, "c=" s) && $1 == s { n++ } END { print n + 0 }' "$log")
  check "nginx logged $src's 122 requests, every one under \$proxy_protocol_addr $src ($right of $mine)" \
    [ "$mine" -eq 122 -a "$right" -eq 122 ]
  check "nginx logged $src's 1 MB download and upload under its address" \
    bash -c "awk -v s=$src '\$1 == s && \$4 == \"GET\" && \$5 ~ /big.bin/ && \$7 == 1048576 { d++ }
                            \$1 == s && \$4 == \"PUT\" && \$8 > 1048576 && \$6 ~ /^20/ { u++ }
                            END { exit !(d == 1 && u == 1) }' '$log'"
done
check "nginx saw only Fulcrum's local addresses as peers" \
  bash -c "! awk '{ print \$3 }' '$log' | grep -vqE '^10\.10\.2\.10[01]$'"
check "nginx found no broken PROXY header" bash -c "! grep -q 'broken header' '$LAB_DIR/nginx-error.log'"

for src in 10.10.1.2 10.10.1.3; do
  for i in 1 2 3; do
    r=$(udp_ask "$src" 10.10.1.10 53 "ping$i")
    check "UDP datagram $i from $src: the backend parsed its address from the v2 header ($r)" \
      bash -c "[[ '$r' == $src:*\ ping$i ]]"
  done
done
check "the UDP backend logged 6 datagrams, each with a client address and the VIP, from a local address" \
  bash -c "[ \$(grep -cE '^10\.10\.1\.[23] [0-9]+ 10\.10\.1\.10 53 10\.10\.2\.10[01]$' '$LAB_DIR/udp.log') -eq 6 ]"

# TOA: capture at the backend's interface while ten connections from each address run.
lab_ns sv tcpdump -i sv0 -U --immediate-mode -s 256 -w "$LAB_DIR/toa.pcap" 'tcp and dst host 10.10.2.13 and dst port 8080' \
  2>"$LAB_DIR/tcpdump.err" &
dump=$!
for _ in $(seq 1 50); do grep -q "listening on" "$LAB_DIR/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
: > "$LAB_DIR/toa-clients"
for src in 10.10.1.2 10.10.1.3; do
  for i in $(seq 1 10); do
    out=$(lab_ns cl curl -s --max-time 3 --interface "$src" -w ' %{local_port}' "http://10.10.1.10:81/toa$i") || out=""
    [[ "$out" == web3\ * ]] && echo "$src:${out##* }" >> "$LAB_DIR/toa-clients"
  done
done
sleep 0.5
pkill -INT -f "$LAB_DIR/toa.pcap" || true # tcpdump itself: `ip netns exec` stands between
wait "$dump" 2>/dev/null || true
python3 "$ROOT/test/e2e/toa_pcap.py" "$LAB_DIR/toa.pcap" 10.10.2.13 8080 > "$LAB_DIR/toa-seen"
check "20 of 20 connections through the TOA listener answered by the backend's kernel and server" \
  [ "$(wc -l < "$LAB_DIR/toa-clients")" -eq 20 ]
check "the capture holds 20 connections from Fulcrum's local addresses" \
  bash -c "[ \$(grep -cE '^10\.10\.2\.10[01]:' '$LAB_DIR/toa-seen') -eq 20 ]"
check "each connection's first segment after the SYN carries option 254 with its client's address and port" \
  bash -c "diff <(sort '$LAB_DIR/toa-clients') <(awk '{ print \$2 }' '$LAB_DIR/toa-seen' | sort)"
check "the web server logged 20 TOA requests, all from local addresses (TOA is for the kernel module)" \
  bash -c "[ \$(grep -cE '^10\.10\.2\.10[01] .*/toa' '$LAB_DIR/web3.log') -eq 20 ]"

lab_stop_fulcrum
counter() { sed -n "s/.* $1 \([0-9]*\),.*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1; }
check "Fulcrum counted the PROXY v2 headers (TCP 242 + UDP 6 at least: $(counter 'proxy v2 headers'))" \
  [ "$(counter 'proxy v2 headers')" -ge 248 ]
check "Fulcrum counted TOA options ($(counter 'toa options'))" [ "$(counter 'toa options')" -ge 20 ]
check "no segment went without TOA for lack of room" [ "$(counter 'toa no room')" = 0 ]
check "no packet dropped as malformed" bash -c "! grep -qE 'bad_|trunc_' '$LAB_DIR/fulcrum.log'"
rm -rf "$LAB_DIR/www" "$LAB_DIR/up.bin" # the megabytes; the logs stay for a look
e2e_finish
