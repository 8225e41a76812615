#!/usr/bin/env bash
# Hostile clients of the control socket and the metrics port against the running daemon
# with traffic: malformed and oversized requests, clients that hang up, stay silent,
# trickle or never read, and a non-root peer. Each gets its answer or is refused; the
# daemon stays up; a well-formed request timed every 50 ms throughout is answered within
# 100 ms; traffic never stops.
source "$(dirname "$0")/lab_prelude.sh"

lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
SOCK="$LAB_DIR/ctl.sock"
lab_start_fulcrum "$ROOT/conf/demo.json" --ctl-socket "$SOCK" --metrics 9109

# Traffic all along: one request after the other, counting failures.
( fails=0; n=0
  while [ ! -f "$LAB_DIR/stop" ]; do
    lab_ns cl curl -s --max-time 2 -o /dev/null http://10.10.1.10/ || fails=$((fails + 1)); n=$((n + 1))
  done
  echo "$n $fails" > "$LAB_DIR/traffic" ) &
traffic=$!

chmod 711 "$LAB_DIR" # (the non-root case must reach the socket itself, not stop at the directory)
lab_ns lb python3 "$ROOT/test/e2e/ctl_clients.py" "$SOCK" 9109 > "$LAB_DIR/clients.out" 2>&1 || true
touch "$LAB_DIR/stop"; wait "$traffic" || true
cat "$LAB_DIR/clients.out"
summary=$(sed -n 's/^summary: //p' "$LAB_DIR/clients.out")
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$summary" "$1"; }
read -r requests failed < "$LAB_DIR/traffic"

check "the daemon is still up" kill -0 "$FULCRUM_PID"
for c in "non-string Action" "missing Action" "wrong types" "invalid UTF-8" "100k-deep nesting" "10 MB request" \
         "wrong type in every field kind (42 requests)"; do
  got=$(field "d['cases'].get('$c')")
  check "$c: InvalidParameter ($got)" [ "$got" = InvalidParameter ]
done
check "20 clients that hang up before the reply: the daemon carries on" [ "$(field "d['cases'].get('20 clients that hang up before the reply')")" = done ]
got=$(field "d['cases'].get('100 silent clients')")
check "100 silent clients each told, after the 2 s deadline, that no request came whole ($got)" [ "$got" = "100 answered" ]
got=$(field "d['cases'].get('trickling client (1 byte / 100 ms)')")
check "a trickling client is answered at its deadline, not waited for ($got)" [ "$got" = InvalidParameter ]
got=$(field "d['cases'].get('metrics clients that never read, then a scrape')")
check "metrics clients that never read do not stop the next scrape ($got)" [ "$got" = 200 ]
got=$(field "d['cases'].get('70 idle metrics clients, then a scrape')")
check "70 idle metrics clients (the port takes 64) do not keep a scrape out ($got)" [ "$got" = 200 ]
got=$(field "d['cases'].get('non-root peer')")
check "a non-root peer is refused by the socket's mode, and by SO_PEERCRED when the mode is loosened ($got)" \
  [ "$got" = "EACCES; with the socket opened to all: Forbidden" ]
probes=$(field "d['probes']"); pfail=$(field "d['probe_failures']"); pmax=$(field "d['probe_max_ms']")
check "a well-formed request every 50 ms was always answered ($probes probes, $pfail failed)" [ "$pfail" -eq 0 ]
check "within 100 ms each (worst $pmax ms)" awk -v m="$pmax" 'BEGIN { exit !(m < 100) }'
check "traffic never stopped ($requests requests, $failed failed)" bash -c "[ '$requests' -gt 10 ] && [ '$failed' -eq 0 ]"
check "metrics listen on loopback only by default" bash -c "ip netns exec '$LAB-lb' ss -ltn | grep -q '127.0.0.1:9109'"
lab_stop_fulcrum
check "no request escaped as a crash (no InternalError logged)" bash -c "! grep -q 'failed inside Fulcrum' '$LAB_DIR/fulcrum.log'"
e2e_finish
