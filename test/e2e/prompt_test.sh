#!/usr/bin/env bash
# The prompt on a running daemon with real traffic: a command file (-f) and an operator
# at a pseudo-terminal (-i: typing, TAB completion, help, a change, quit).
source "$(dirname "$0")/lab_prelude.sh"
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13

# 1. A command file, run once the ports are up; fulcrum.control starts at warning level
# (EAL --log-level), so the first change is not logged, and `set log` turns it back on.
cat > "$LAB_DIR/cmds.txt" <<'CMDS'
# checks for prompt_test.sh
show listeners
set weight default 10.10.2.12 0 3
set log fulcrum.control info
set weight default 10.10.2.13 0 0
show group default
show port info 1
CMDS
LAB_EAL_EXTRA="--log-level fulcrum.control:warning" lab_start_fulcrum "$ROOT/conf/demo.json" -f "$LAB_DIR/cmds.txt"
log="$LAB_DIR/fulcrum.log"
check "a DPDK log type per component: fulcrum.control at warning hid the first change's log line" \
  bash -c "! grep -q 'request 1 SetBackendServers applied' '$log'"
check "  and 'set log fulcrum.control info' at the prompt brought the next one back" \
  grep -q "fulcrum: request 2 SetBackendServers applied: snapshot generation 3" "$log"
check "-f echoes each command after the prompt" grep -qx "fulcrum> show listeners" "$log"
check "  show listeners: the VIP's listener with 3 of 3 backends up" grep -qE "tcp +10.10.1.10:80 +-> default +wrr +backends 3/3 up" "$log"
check "  set weight went through the actions path" grep -q "Success: SetBackendServers applied, snapshot generation 2" "$log"
check "  show port info 1 names the servers port and its exception interface" grep -q "exception path: fx1-servers" "$log"
read -r a b c f < <(count 20)
check "traffic follows the weight set from the command file ($a/$b/$c, $f failed)" bash -c "[ $c -eq 0 ] && [ $f -eq 0 ]"
lab_stop_fulcrum

# 2. An operator at a terminal.
cat > "$LAB_DIR/steps.json" <<'STEPS'
[["help\n", "show conn count"],
 ["sho\t", "show "],
 ["listeners\n", "backends 3/3 up"],
 ["show stats wor\t\n", "connections created"],
 ["show listener 10.10.1.10 tcp 80\n", "\"Scheduler\": \"wrr\""],
 ["add backend default i-web4 10.10.2.14 0 5\n", "AddBackendServers applied"],
 ["show backends\n", "10.10.2.14:8080"],
 ["remove backend default 10.10.2.99 0\n", "Error: no backend 10.10.2.99:0 in group 'default'"],
 ["show nonsense\n", "Bad arguments"],
 ["show conn count\n", "total: "],
 ["quit\n", "stopping Fulcrum"]]
STEPS
# shellcheck disable=SC2046
out=$(timeout 120 python3 "$ROOT/test/e2e/pty_prompt.py" "$LAB_DIR/steps.json" -- \
  ip netns exec "$LAB-lb" "$BUILD/src/fulcrum/fulcrum" -l 0,1 --file-prefix "${LAB}i" --no-pci $(eal_mem_args) \
  --log-level 'pmd.net.af_packet:warning' --log-level 'pmd.net.tap:critical' \
  --vdev net_af_packet0,iface=lbc --vdev net_af_packet1,iface=lbs -- --config "$ROOT/conf/demo.json" -i 2>&1) \
  && rc=0 || rc=$?
echo "$out"
check "the pseudo-terminal session passed every step ($(grep -c '^  ok' <<<"$out") ok)" test "$rc" -eq 0
e2e_finish
