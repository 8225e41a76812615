#!/usr/bin/env bash
# No stale tuples after a restart (docs/running.md "Restart"): the backends still hold
# the old process's laddr:lport pairs (TIME_WAIT for the thousands of connections they
# closed), and the new process's lport rotations go on where the old one's stood
# (--state-file + ".lports", written every second and at a clean stop), so new
# connections right after a restart under load never reuse a pair a backend holds, and
# all open at once (a reused pair meets the old connection's ACK: the client resets it
# and retries a second later).
#   1. SIGTERM (a clean stop) under load, start again: 100 new connections at once
#   2. SIGKILL under load (the file up to a second old), start again: the same
source "$(dirname "$0")/lab_prelude.sh"
STATE="$LAB_DIR/state.json"
URL=http://10.10.1.10/
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13

# The backends' TIME_WAIT pairs toward the laddrs, as "laddr lport backend:port".
held() { lab_ns sv ss -Htan state time-wait | awk '{ split($4, p, ":"); print p[1], p[2], $3 }' | sort -u; }
# The pairs the backends' logs record after line N of each ("laddr lport backend:8080").
new_pairs() { # new_pairs SKIP_FILE: lines past the counts saved in SKIP_FILE
  for n in web1:11 web2:12 web3:13; do
    local name=${n%%:*} ip=10.10.2.${n##*:} skip
    skip=$(awk -v n="$name" '$1 == n { print $2 }' "$1")
    tail -n +"$((skip + 1))" "$LAB_DIR/$name.log" | awk -v b="$ip:8080" '{ print $1, $2, b }'
  done | sort -u
}
log_marks() { for n in web1 web2 web3; do echo "$n $(wc -l < "$LAB_DIR/$n.log")"; done; }
load() { lab_ns cl python3 "$ROOT/test/e2e/http_load.py" "$URL" "$1" > /dev/null 2>&1; }

restart_round() { # restart_round LABEL SIGNAL
  load 3000 # the backends close each: 3,000 TIME_WAIT pairs on their side
  load 100000 & # and load through the restart
  local loader=$! sig=$2
  sleep 1
  held > "$LAB_DIR/held.txt"
  log_marks > "$LAB_DIR/marks.txt"
  kill -"$sig" "$FULCRUM_PID"
  local n=0
  while kill -0 "$FULCRUM_PID" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  wait "$FULCRUM_WRAPPER" 2>/dev/null || true
  FULCRUM_PID=""
  check "$1: the lport rotations were kept ($(stat -c %s "$STATE.lports" 2>/dev/null || echo no) bytes in $STATE.lports)" \
    test -s "$STATE.lports"
  lab_start_fulcrum "$ROOT/conf/demo.json" --state-file "$STATE"
  local r
  r=$(lab_ns cl python3 "$ROOT/test/e2e/burst.py" "$URL" 100)
  kill "$loader" 2>/dev/null || true; wait "$loader" 2>/dev/null || true
  echo "  $1: $(grep -o 'lports: .*' "$LAB_DIR/fulcrum.log" | head -1); backends held $(wc -l < "$LAB_DIR/held.txt") TIME_WAIT pairs; burst $r"
  check "$1: the new process says where its lports resumed" grep -q "lports: resumed from $STATE.lports ($3" "$LAB_DIR/fulcrum.log"
  check "$1: 100 new connections right after the start all answered, none retried ($r)" \
    test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["ok"], d["retried"])' "$r")" = "100 0"
  new_pairs "$LAB_DIR/marks.txt" > "$LAB_DIR/new.txt"
  local reused
  reused=$(comm -12 "$LAB_DIR/held.txt" "$LAB_DIR/new.txt" | wc -l)
  check "$1: of $(wc -l < "$LAB_DIR/new.txt") pairs used since, none was one a backend held in TIME_WAIT ($reused)" \
    test "$reused" = 0 -a "$(wc -l < "$LAB_DIR/held.txt")" -gt 1000 -a "$(wc -l < "$LAB_DIR/new.txt")" -ge 100
}

lab_start_fulcrum "$ROOT/conf/demo.json" --state-file "$STATE"
check "a first start without saved rotations begins them at random places" grep -q "lports: .*random places" "$LAB_DIR/fulcrum.log"
restart_round "SIGTERM" TERM "a clean stop"
restart_round "SIGKILL" KILL "not a clean stop"
e2e_finish
