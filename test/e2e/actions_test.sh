#!/usr/bin/env bash
# The actions API over the control socket, with real traffic: fulcrumctl removes,
# adds and re-weights backends of the default server group; bad requests are refused
# with the field named and change nothing.
source "$(dirname "$0")/lab_prelude.sh"
CTL="$BUILD/src/fulcrumctl/fulcrumctl"
SOCK="$LAB_DIR/ctl.sock"

# The demo config plus a second listener (port 81) bound to a vserver group of web1/web3.
python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["vserver_groups"] = [{"VServerGroupId": "rsp-7", "VServerGroupName": "odd", "BackendServers": [
    {"ServerId": "i-web1", "ServerIp": "10.10.2.11", "Port": 8080},
    {"ServerId": "i-web3", "ServerIp": "10.10.2.13", "Port": 8080}]}]
c["listeners"].append({"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 81, "BackendServerPort": 8080,
                       "VServerGroupId": "rsp-7"})
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_start_fulcrum "$LAB_DIR/cfg.json" --ctl-socket "$SOCK"
names=$(for _ in $(seq 1 30); do lab_ns cl curl -s --max-time 3 http://10.10.1.10:81/ | awk '{print $1}'; done | sort | uniq -c)
check "the vserver-group listener (port 81) reaches only web1 and web3: $(echo $names)" \
  bash -c "! grep -q web2 <<<'$names' && [ \$(awk '{s+=\$1} END {print s}' <<<'$names') -eq 30 ]"
check "the control socket is mode 0600" test "$(stat -c %a "$SOCK")" = 600

out=$(ctl DescribeBackendServers)
check "DescribeBackendServers lists the three backends" test "$(grep -c '"ServerId"' <<<"$out")" -eq 3

ctl RemoveBackendServers '{"BackendServers":[{"ServerId":"i-web2","ServerIp":"10.10.2.12"}]}' >/dev/null
read -r a b c f < <(count 40)
check "after RemoveBackendServers web2 gets nothing ($a/$b/$c, $f failed)" bash -c "[ $b -eq 0 ] && [ $f -eq 0 ]"

# The public API sends BackendServers as a JSON string, with numbers as strings.
ctl AddBackendServers '{"BackendServers":"[{\"ServerId\":\"i-web2\",\"ServerIp\":\"10.10.2.12\",\"Weight\":\"7\"}]"}' >/dev/null
ctl SetBackendServers '{"BackendServers":[{"ServerId":"i-web3","ServerIp":"10.10.2.13","Weight":0}]}' >/dev/null
read -r a b c f < <(count 80)
check "after Add web2 (7) and Set web3 to 0: web2 ~7/8, web3 none ($a/$b/$c, $f failed)" \
  bash -c "[ $c -eq 0 ] && [ $f -eq 0 ] && [ $b -ge 65 ]"

# refused PATTERN ACTION JSON: the daemon answers with exit 1 and a message matching PATTERN
refused() {
  local out rc
  out=$(ctl "$2" "$3") && rc=0 || rc=$?
  [ "$rc" -eq 1 ] && grep -qF -- "$1" <<<"$out"
}
check "adding an existing backend is refused" \
  refused "is already in the group" AddBackendServers '{"BackendServers":[{"ServerId":"i-web1","ServerIp":"10.10.2.11"}]}'
check "weight 101 is refused naming the field" \
  refused "field 'BackendServers[0].Weight': must be an integer 0-100" SetBackendServers \
  '{"BackendServers":[{"ServerId":"i-web1","ServerIp":"10.10.2.11","Weight":101}]}'
check "a request with one bad entry is refused whole..." \
  refused "BackendServers[1]" AddBackendServers \
  '{"BackendServers":[{"ServerId":"i-new","ServerIp":"10.10.2.14"},{"ServerId":"i-web1","ServerIp":"10.10.2.11"}]}'
check "...and its good entry was not added" bash -c "! '$CTL' --socket '$SOCK' DescribeBackendServers | grep -q i-new"
check "an unknown action is refused" refused "field 'Action': must be one of" Bogus '{}'
check "SetBackendServers without Weight is refused" \
  refused "field 'BackendServers[0].Weight': is required to set a backend" SetBackendServers \
  '{"BackendServers":[{"ServerId":"i-web1","ServerIp":"10.10.2.11"}]}'
read -r a b c f < <(count 40)
check "traffic after the refusals is as before ($a/$b/$c, $f failed)" bash -c "[ $c -eq 0 ] && [ $f -eq 0 ]"
out=$(ctl CreateVServerGroup '{"VServerGroupName":"new","BackendServers":[{"ServerId":"i-web2","ServerIp":"10.10.2.12","Port":8080}]}')
check "CreateVServerGroup returns the next id" grep -q '"VServerGroupId": "rsp-8"' <<<"$out"
check "a group bound to a listener is not deleted" refused "is still bound to listener 10.10.1.10:81" DeleteVServerGroup '{"VServerGroupId":"rsp-7"}'
ctl DeleteVServerGroup '{"VServerGroupId":"rsp-8"}' >/dev/null
check "DescribeVServerGroups lists what is left" bash -c "'$CTL' --socket '$SOCK' DescribeVServerGroups | grep -q rsp-7 && ! '$CTL' --socket '$SOCK' DescribeVServerGroups | grep -q rsp-8"
# A listener made over the socket carries traffic at once, within its group.
ctl CreateLoadBalancerTCPListener '{"VIP":"10.10.1.10","ListenerPort":82,"BackendServerPort":8080,"VServerGroupId":"rsp-7"}' >/dev/null
names=$(for _ in $(seq 1 10); do lab_ns cl curl -s --max-time 3 http://10.10.1.10:82/ | awk '{print $1}'; done | sort | uniq -c)
check "a listener created over the socket answers within its group: $(echo $names)" \
  bash -c "! grep -q web2 <<<'$names' && [ \$(awk '{s+=\$1} END {print s}' <<<'$names') -eq 10 ]"
ctl DeleteLoadBalancerListener '{"VIP":"10.10.1.10","ListenerProtocol":"tcp","ListenerPort":82}' >/dev/null
check "a deleted listener no longer answers" bash -c "! ip netns exec '$LAB-cl' curl -s --max-time 2 http://10.10.1.10:82/ >/dev/null"
lab_stop_fulcrum
check "the socket is removed on exit" test ! -e "$SOCK"
e2e_finish
