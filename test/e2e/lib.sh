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
