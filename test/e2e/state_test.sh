#!/usr/bin/env bash
# Durability: changes made over the control socket are written to --state-file and
# survive a restart with real traffic showing it; a truncated state file stops the start
# with a clear error and is left as it was.
source "$(dirname "$0")/lab_prelude.sh"
CTL="$BUILD/src/fulcrumctl/fulcrumctl"
SOCK="$LAB_DIR/ctl.sock"
STATE="$LAB_DIR/state.json"

lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_start_fulcrum "$ROOT/conf/demo.json" --ctl-socket "$SOCK" --state-file "$STATE"
check "the state file exists from the start, mode 0600" test "$(stat -c %a "$STATE")" = 600
ctl SetBackendServers '{"BackendServers":[{"ServerId":"i-web3","ServerIp":"10.10.2.13","Weight":0}]}' >/dev/null
ctl CreateLoadBalancerTCPListener '{"VIP":"10.10.1.10","ListenerPort":81,"BackendServerPort":8080}' >/dev/null
check "the state file holds the new weight" python3 -c "
import json,sys; s=json.load(open('$STATE'))
sys.exit(0 if [b['Weight'] for b in s['default_server_group'] if b['ServerId']=='i-web3']==[0] else 1)"
check "no temporary file is left beside it" test ! -e "$STATE.tmp"
lab_stop_fulcrum

lab_start_fulcrum "$ROOT/conf/demo.json" --ctl-socket "$SOCK" --state-file "$STATE"
check "after the restart DescribeBackendServers still shows web3 at weight 0" \
  bash -c "'$CTL' --socket '$SOCK' DescribeBackendServers | python3 -c \"
import json,sys; r=json.load(sys.stdin); sys.exit(0 if [b['Weight'] for b in r['BackendServers'] if b['ServerId']=='i-web3']==[0] else 1)\""
read -r a b c f < <(count 30)
check "after the restart web3 gets no requests ($a/$b/$c, $f failed)" bash -c "[ $c -eq 0 ] && [ $f -eq 0 ]"
check "the listener made over the socket answers after the restart" \
  lab_ns cl curl -s --max-time 3 -o /dev/null http://10.10.1.10:81/
lab_stop_fulcrum

# A state file cut in half (a crash of a careless writer, a full disk...).
size=$(stat -c %s "$STATE")
head -c $((size / 2)) "$STATE" > "$LAB_DIR/cut.json"
cp "$LAB_DIR/cut.json" "$STATE"
BIN="$BUILD/src/fulcrum/fulcrum"
out=$("$BIN" -l 0,1 --no-huge -m 256 --no-pci --file-prefix "${LAB}st" --log-level lib.eal:error \
  --vdev net_af_packet0,iface=lo --vdev net_af_packet1,iface=lo -- --config "$ROOT/conf/demo.json" \
  --state-file "$STATE" 2>&1) && rc=0 || rc=$?
check "a truncated state file stops the start with exit 2" test "$rc" -eq 2
check "  the error names the file and says it is truncated" \
  grep -qF "field '--state-file': file '$STATE' is not valid JSON: it ends early (truncated?)" <<<"$out"
check "  and that it will not be overwritten" grep -qF "will not overwrite it" <<<"$out"
check "  the file is left as it was" cmp -s "$STATE" "$LAB_DIR/cut.json"
e2e_finish
