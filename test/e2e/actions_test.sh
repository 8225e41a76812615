#!/usr/bin/env bash
# The actions API over the control socket, with real traffic: fulcrumctl removes,
# adds and re-weights backends of the default server group; bad requests are refused
# with the field named and change nothing.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$ROOT/scripts/lab.sh"
source "$ROOT/test/e2e/lib.sh"
trap lab_down EXIT
CTL="$BUILD/src/fulcrumctl/fulcrumctl"
SOCK="$LAB_DIR/ctl.sock"
ctl() { "$CTL" --socket "$SOCK" "$@"; }

lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_start_fulcrum "$ROOT/conf/demo.json" --ctl-socket "$SOCK"
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
lab_stop_fulcrum
check "the socket is removed on exit" test ! -e "$SOCK"
e2e_finish
