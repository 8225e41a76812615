# Helpers for end-to-end test scripts: assertions that count, and a closing line.
E2E_PASS=0
E2E_FAIL=0
check() { # check "description" command...
  local what="$1"; shift
  if "$@"; then E2E_PASS=$((E2E_PASS + 1)); echo "  ok   $what"
  else E2E_FAIL=$((E2E_FAIL + 1)); echo "  FAIL $what"; fi
}
e2e_finish() {
  echo "$(basename "$0"): $E2E_PASS passed, $E2E_FAIL failed"
  [ "$E2E_FAIL" -eq 0 ]
}

# count N: N HTTP requests from the lab's client to the VIP; prints "web1 web2 web3 failed"
# by the backend name each reply carries (needs scripts/lab.sh).
count() {
  local a=0 b=0 c=0 f=0 name
  for _ in $(seq 1 "$1"); do
    name=$(lab_ns cl curl -s --max-time 3 http://10.10.1.10/ | awk '{print $1}') || name=""
    case "$name" in web1) a=$((a + 1));; web2) b=$((b + 1));; web3) c=$((c + 1));; *) f=$((f + 1));; esac
  done
  echo "$a $b $c $f"
}

# udp_ask SRC DST PORT PAYLOAD: one UDP request from the lab's client namespace; prints
# the reply ("" when none came within 3 s).
udp_ask() {
  lab_ns cl python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.bind((sys.argv[1], 0)); s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
print(s.recvfrom(200)[0].decode())' "$@" 2>/dev/null || true
}

# ctl ACTION [JSON]: fulcrumctl against the lab daemon's control socket ($SOCK, by
# default $LAB_DIR/ctl.sock; start Fulcrum with --ctl-socket "$SOCK").
ctl() { "$BUILD/src/fulcrumctl/fulcrumctl" --socket "${SOCK:-$LAB_DIR/ctl.sock}" "$@"; }
