#!/usr/bin/env bash
# Health checks end to end: probes leave from a configured laddr through Fulcrum's own
# ports (the exception path), real servers are stopped and started, and new connections
# follow what the probes say. Interval 1 s, thresholds 2/2: a stopped backend must be
# down within 1 x 2 + 1 = 3 s, a restarted one up within 3 s (checked with 1 s slack
# for this shared machine; the measured times are printed).
source "$(dirname "$0")/lab_prelude.sh"
CTL="$BUILD/src/fulcrumctl/fulcrumctl"
SOCK="$LAB_DIR/ctl.sock"

python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["health_check_source"] = "10.10.2.101"
hc = {"HealthCheck": "on", "HealthCheckInterval": 1, "HealthCheckConnectTimeout": 1,
      "HealthyThreshold": 2, "UnhealthyThreshold": 2}
c["listeners"][0].update(hc, HealthCheckType="http", HealthCheckURI="/health", HealthCheckDomain="web.test")
for b in c["default_server_group"]: b["Weight"] = 1
c["master_slave_groups"] = [{"MasterSlaveServerGroupId": "rsp-1", "MasterSlaveBackendServers": [
    {"ServerId": "i-web4", "ServerIp": "10.10.2.14", "Port": 8080, "ServerType": "Master"},
    {"ServerId": "i-web5", "ServerIp": "10.10.2.15", "Port": 8080, "ServerType": "Slave"}]}]
c["vserver_groups"] = [{"VServerGroupId": "rsp-2", "BackendServers": [
    {"ServerId": "i-web1", "ServerIp": "10.10.2.11", "Port": 5353},
    {"ServerId": "i-web6", "ServerIp": "10.10.2.16", "Port": 5353}]}]
c["listeners"].append(dict(hc, VIP="10.10.1.10", Protocol="tcp", ListenerPort=81, BackendServerPort=8080,
                           MasterSlaveServerGroupId="rsp-1", HealthCheckType="http", HealthCheckURI="/health"))
c["listeners"].append(dict(hc, VIP="10.10.1.10", Protocol="udp", ListenerPort=53, BackendServerPort=5353,
                           VServerGroupId="rsp-2", HealthCheckReq="ping", HealthCheckExp="ping"))
json.dump(c, open(sys.argv[2], "w"))
PY

lab_up
for i in 14 15 16; do lab_ns sv ip addr add "10.10.2.$i/24" dev sv0; done
start_web() { lab_start_backends "$1:$2"; }
stop_web() { pkill -f "backend_server.py $1 8080 " || true; sleep 0.2; }
status() { # status IP PORT LISTENERPORT -> normal|abnormal|unavailable and the reason
  "$CTL" --socket "$SOCK" DescribeHealthStatus | python3 -c "
import json, sys
for b in json.load(sys.stdin)['BackendServers']:
    if b['ServerIp'] == '$1' and b['Port'] == $2 and b['ListenerPort'] == $3:
        print(b['ServerHealthStatus'], b.get('Reason', ''))"
}
# wait_status IP PORT LPORT WANT: seconds (tenths) until the status is WANT; 99 if never within 10 s
wait_status() {
  local start now
  start=$(date +%s.%N)
  for _ in $(seq 1 100); do
    if [ "$(status "$1" "$2" "$3" | awk '{print $1}')" = "$4" ]; then
      now=$(date +%s.%N); python3 -c "print(f'{$now - $start:.1f}')"; return 0
    fi
    sleep 0.1
  done
  echo 99
}
within() { python3 -c "import sys; sys.exit(0 if float('$1') <= float('$2') else 1)"; }

lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13 web4:10.10.2.14 web5:10.10.2.15
lab_ns sv python3 "$ROOT/test/e2e/udp_echo.py" 10.10.2.11 5353 udp1 "$LAB_DIR/udp1.log" &
LAB_PIDS+=($!)
lab_start_fulcrum "$LAB_DIR/cfg.json" --ctl-socket "$SOCK"
sleep 3

for ip in 10.10.2.11 10.10.2.12 10.10.2.13 10.10.2.14; do
  s=$(status $ip 8080 $([ $ip = 10.10.2.14 ] && echo 81 || echo 80))
  check "$ip:8080 starts normal ($s)" test "$s" = "normal "
done

# 3. UDP: the echo server passes the request/response check; a closed port fails by ICMP.
check "udp check with expected response passes: $(status 10.10.2.11 5353 53)" \
  bash -c "[ '$(status 10.10.2.11 5353 53)' = 'normal ' ]"
check "udp check on a closed port fails: $(status 10.10.2.16 5353 53)" \
  bash -c "[ '$(status 10.10.2.16 5353 53)' = 'abnormal icmp port unreachable' ]"
replies=$(for i in 1 2 3 4 5 6; do udp_ask 10.10.1.2 10.10.1.10 53 "hello$i" | awk '{print $1}'; done | sort | uniq -c)
check "udp requests reach the healthy backend only: $(echo $replies)" test "$(echo $replies)" = "6 udp1"

# The exception path both ways: a service of the LB host's own kernel answers a client on
# the port address, and the host's kernel reaches a backend from a laddr.
lab_ns lb python3 -m http.server --bind 10.10.1.1 2222 >/dev/null 2>&1 &
LAB_PIDS+=($!)
sleep 1
check "a client reaches the LB host's own service on the port address (exception path in)" \
  lab_ns cl curl -s --max-time 3 -o /dev/null http://10.10.1.1:2222/
check "the LB host's kernel pings a backend through Fulcrum's port" lab_ns lb ping -c 1 -W 2 10.10.2.13
check "and connects from a laddr (bound source 10.10.2.100, port 61500)" \
  bash -c "ip netns exec '$LAB-lb' curl -s --max-time 3 --interface 10.10.2.100 --local-port 61500 http://10.10.2.13:8080/ | grep -q 'web3 10.10.2.100'"

# 6. Probes leave from the configured laddr, from the probe port range.
check "probes reach web1 from 10.10.2.101 only, from ports >= 61000, as KeepAliveClient" python3 -c "
import sys
lines = [l.split() for l in open('$LAB_DIR/web1.log') if ' /health ' in l]
ok = lines and all(l[0] == '10.10.2.101' and int(l[1]) >= 61000 and l[3] == 'KeepAliveClient' for l in lines)
sys.exit(0 if ok else 1)"

# 2. HTTP code class: web1 answers 503 on /health while its port is open.
echo 503 > "$LAB_DIR/web1.log.health"
t=$(wait_status 10.10.2.11 8080 80 abnormal)
check "web1 answering 503 on /health is abnormal within 3 s (took ${t}s)" within "$t" 4
check "  its status says why: $(status 10.10.2.11 8080 80)" test "$(status 10.10.2.11 8080 80)" = "abnormal http 503"
read -r a b c f < <(count 20)
check "  and gets no new requests ($a/$b/$c, $f failed)" bash -c "[ $a -eq 0 ] && [ $f -eq 0 ]"
rm "$LAB_DIR/web1.log.health"
t=$(wait_status 10.10.2.11 8080 80 normal)
check "  back to normal within 3 s once it answers 200 (took ${t}s)" within "$t" 4

# 1. A stopped backend is taken out and put back.
stop_web 10.10.2.12
t=$(wait_status 10.10.2.12 8080 80 abnormal)
check "stopped web2 is abnormal within 3 s (took ${t}s)" within "$t" 4
check "  its status says why: $(status 10.10.2.12 8080 80)" test "$(status 10.10.2.12 8080 80)" = "abnormal connect refused"
read -r a b c f < <(count 30)
check "  new requests never reach it ($a/$b/$c, $f failed)" bash -c "[ $b -eq 0 ] && [ $f -eq 0 ]"
start_web web2 10.10.2.12
t=$(wait_status 10.10.2.12 8080 80 normal)
check "restarted web2 is normal within 3 s (took ${t}s)" within "$t" 4
read -r a b c f < <(count 30)
check "  and receives requests again ($a/$b/$c, $f failed)" bash -c "[ $b -gt 0 ] && [ $f -eq 0 ]"

# 4. Master/slave failover and failback; the slave is never probed.
who81() { lab_ns cl curl -s --max-time 3 http://10.10.1.10:81/ | awk '{print $1}'; }
check "master/slave listener sends to the master (web4)" test "$(who81)" = web4
stop_web 10.10.2.14
wait_status 10.10.2.14 8080 81 abnormal >/dev/null
check "with the master stopped, new connections go to the slave (web5)" test "$(who81)" = web5
start_web web4 10.10.2.14
wait_status 10.10.2.14 8080 81 normal >/dev/null
check "with the master back, new connections go to it again" test "$(who81)" = web4
check "the slave saw no probes (its log has no /health)" bash -c "! grep -q ' /health ' '$LAB_DIR/web5.log'"
check "DescribeHealthStatus shows the slave as not checked" \
  bash -c "[ '$(status 10.10.2.15 8080 81)' = 'unavailable slave: not checked' ]"

# 5. Every backend down: a client gets a reset at once, not a hang.
stop_web 10.10.2.11; stop_web 10.10.2.12; stop_web 10.10.2.13
for ip in 10.10.2.11 10.10.2.12 10.10.2.13; do wait_status "$ip" 8080 80 abnormal >/dev/null; done
start=$(date +%s.%N)
rc=0; lab_ns cl curl -s --max-time 5 http://10.10.1.10/ >/dev/null || rc=$?
took=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
check "with every backend down curl is refused (exit $rc, 7 = refused), not left to time out" test "$rc" -eq 7
check "  promptly: ${took}s" within "$took" 1
check "the log says the listener has no backend up" grep -q "listener tcp 10.10.1.10:80 has no backend up" "$LAB_DIR/fulcrum.log"
lab_stop_fulcrum
check "the final report counts the resets as no_backend" grep -Eq "^ +no_backend +[1-9][0-9]* " "$LAB_DIR/fulcrum.log"
e2e_finish
