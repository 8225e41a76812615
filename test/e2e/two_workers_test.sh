#!/usr/bin/env bash
# Two workers (sharing one CPU here) on two-queue af_packet ports: the kernel's fanout
# spreads packets over both queues by its own hash, which Fulcrum cannot program, so
# each port says it steers replies by the redirect ring: replies often land on the
# worker that does not own the connection and are sent home by lport owner. 200 real
# curl connections to real servers, then 200 IPv6 ones (100 6->6 over an IPv6 laddr, 100
# 6->4); the report names each port's mode.
source "$(dirname "$0")/lab_prelude.sh"

python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["workers"] = 2
c["ports"][0]["address6"] = "2001:db8:1::1/64"
c["ports"][1]["address6"] = "2001:db8:2::1/64"
c["vips"].append("2001:db8:1::10")
c["local_addresses"].append("2001:db8:2::100")
c["vserver_groups"] = [{"VServerGroupId": "rsp-6", "VServerGroupName": "six", "BackendServers": [
    {"ServerId": "i-six1", "ServerIp": "2001:db8:2::11", "Port": 8080},
    {"ServerId": "i-six2", "ServerIp": "2001:db8:2::12", "Port": 8080}]}]
c["listeners"] += [
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 1, "VServerGroupId": "rsp-6"},
    {"VIP": "2001:db8:1::10", "Protocol": "tcp", "ListenerPort": 81, "BackendServerPort": 8080}]
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
lab_v6_on cl cl0
lab_ns cl ip -6 addr add 2001:db8:1::2/64 dev cl0 nodad
lab_v6_on sv sv0
for i in 11 12; do lab_ns sv ip -6 addr add "2001:db8:2::$i/64" dev sv0 nodad; done
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13 six1:[2001:db8:2::11] six2:[2001:db8:2::12]
LAB_LCORES="--lcores 0@0,1@1,2@1" LAB_AFP_OPTS=",qpairs=2" lab_start_fulcrum "$LAB_DIR/cfg.json"
check "Fulcrum runs two workers" grep -q "^fulcrum: 2 worker(s)" "$LAB_DIR/fulcrum.log"
fails=0
for _ in $(seq 1 200); do lab_ns cl curl -s --max-time 3 http://10.10.1.10/ >/dev/null || fails=$((fails + 1)); done
check "200 of 200 requests answered ($fails failed)" test "$fails" -eq 0
for port in 80 81; do
  fails=0
  for _ in $(seq 1 100); do lab_ns cl curl -6 -s --max-time 3 "http://[2001:db8:1::10]:$port/" >/dev/null || fails=$((fails + 1)); done
  check "100 of 100 IPv6 requests to tcp/$port answered ($([ $port = 80 ] && echo '6->6' || echo '6->4'); $fails failed)" test "$fails" -eq 0
done
six=$(cat "$LAB_DIR/six1.log" "$LAB_DIR/six2.log" 2>/dev/null | wc -l)
check "the IPv6 backends served the 6->6 requests ($six of 100)" test "$six" -eq 100
check "the start-up log says how each port steers replies, and why" \
  grep -q "port servers: replies steered by redirect (rss: no RSS over IPv4 TCP and UDP ports; flow: " "$LAB_DIR/fulcrum.log"
lab_stop_fulcrum
created() { sed -n "s/^worker $1 .*connections created \([0-9]*\).*/\1/p" "$LAB_DIR/fulcrum.log"; }
redir() { sed -n "s/^worker $1 .*redirected out \([0-9]*\), redirected in \([0-9]*\).*/\1 \2/p" "$LAB_DIR/fulcrum.log"; }
c0=$(created 0); c1=$(created 1)
check "both workers own connections ($c0 + $c1 = 400)" bash -c "[ $c0 -gt 0 ] && [ $c1 -gt 0 ] && [ $((c0 + c1)) -eq 400 ]"
for p in client servers; do
  check "the report shows port $p's steering (redirect)" grep -q "^port $p .*replies steered by redirect" "$LAB_DIR/fulcrum.log"
done
read -r o0 i0 <<<"$(redir 0)"; read -r o1 i1 <<<"$(redir 1)"
# Each redirect sent is received, but for the few still in a ring when the workers stop.
check "misdelivered replies were redirected to their owner (w0 out $o0 in $i0, w1 out $o1 in $i1)" \
  bash -c "[ $((o0 + o1)) -gt 0 ] && [ $i1 -le $o0 ] && [ $((o0 - i1)) -le 3 ] && [ $i0 -le $o1 ] && [ $((o1 - i0)) -le 3 ]"
check "nothing dropped for a missing connection" bash -c "! grep -q 'no_conn' '$LAB_DIR/fulcrum.log'"
e2e_finish
