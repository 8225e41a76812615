#!/usr/bin/env bash
# Live config updates with real traffic: SIGHUP applies new weights through the
# workers' rings (old snapshot freed after RCU), requests in flight never fail, and a
# rejected file changes nothing.
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
weights() { # weights W1 W2 W3: write the lab config with these weights
  python3 - "$ROOT/conf/demo.json" "$cfg" "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for b, w in zip(c["default_server_group"], sys.argv[3:]):
    b["Weight"] = int(w)
json.dump(c, open(sys.argv[2], "w"))
PY
}
reloads() { grep -c "$1" "$LAB_DIR/fulcrum.log" || true; }

weights 1 2 7
lab_up
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
lab_start_fulcrum "$cfg"

read -r a b c f < <(count 100)
check "before: shares follow 1/2/7 ($a/$b/$c, $f failed)" test "$a $b $c $f" = "10 20 70 0"

# Traffic keeps flowing while the weights change under it.
count 150 > "$LAB_DIR/during" &
bg=$!
sleep 0.5
weights 1 0 1
kill -HUP "$FULCRUM_PID"
wait "$bg"
read -r a b c f < "$LAB_DIR/during"
check "no request failed across the reload ($f failed of 150)" test "$f" -eq 0
for _ in $(seq 1 50); do [ "$(reloads 'snapshot generation 2')" -ge 1 ] && break; sleep 0.1; done
check "Fulcrum reports the new snapshot generation" grep -q "reloaded .*snapshot generation 2" "$LAB_DIR/fulcrum.log"

read -r a b c f < <(count 100)
check "after: web2 at weight 0 gets nothing, web1/web3 share evenly ($a/$b/$c, $f failed)" \
  bash -c "[ $b -eq 0 ] && [ $f -eq 0 ] && [ $a -ge 45 ] && [ $a -le 55 ]"

python3 -c "
import json; c = json.load(open('$cfg')); c['default_server_group'][0]['Weight'] = 500
json.dump(c, open('$cfg', 'w'))"
kill -HUP "$FULCRUM_PID"
for _ in $(seq 1 50); do [ "$(reloads 'reload rejected')" -ge 1 ] && break; sleep 0.1; done
check "a bad file is rejected with the field named" \
  grep -q "reload rejected, keeping the running config: field 'default_server_group\[0\].Weight'" "$LAB_DIR/fulcrum.log"
read -r a b c f < <(count 40)
check "the running config is untouched ($a/$b/$c, $f failed)" bash -c "[ $b -eq 0 ] && [ $f -eq 0 ] && [ $a -ge 15 ]"
lab_stop_fulcrum
check "clean stop after reloads" grep -q "rate over" "$LAB_DIR/fulcrum.log"
e2e_finish
