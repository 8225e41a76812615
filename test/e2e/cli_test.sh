#!/usr/bin/env bash
# The daemon's command line: --help documents every flag; bad configs get one clear
# error naming the field and exit code 2, without a crash.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$ROOT/test/e2e/lib.sh"
BIN="$BUILD/src/fulcrum/fulcrum"
DIR=$(mktemp -d /tmp/fulcrum-cli.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
EAL=(-l 0,1 --no-huge -m 256 --no-pci --file-prefix "flcli$$" --log-level "lib.eal:error")

help=$("$BIN" "${EAL[@]}" -- --help 2>&1)
for flag in --config --duration --warmup --stats-interval --help; do
  check "--help documents $flag" grep -q -- "$flag" <<<"$help"
done
run_bad() { # run_bad JSON expected-field-text
  echo "$1" > "$DIR/bad.json"
  out=$("$BIN" "${EAL[@]}" --vdev net_null0 -- --config "$DIR/bad.json" 2>&1); rc=$?
  check "exit 2 with: $2" test "$rc" -eq 2
  check "  message names it" grep -qF -- "$2" <<<"$out"
}
base='"ports":[{"name":"p","device":"net_null0","address":"10.0.0.1/24"}],"vips":["10.0.0.10"],"local_addresses":["10.0.0.100"]'
run_bad '{ not json' "is not valid JSON"
run_bad "{$base,\"listeners\":[{\"VIP\":\"10.0.0.10\",\"Protocol\":\"tcp\",\"ListenerPort\":70000,\"BackendServerPort\":80}]}" "listeners[0].ListenerPort': must be an integer 1-65535"
run_bad "{$base,\"listeners\":[{\"VIP\":\"10.0.0.99\",\"Protocol\":\"tcp\",\"ListenerPort\":80,\"BackendServerPort\":80}]}" "listeners[0].VIP': must be one of the instance's vips"
run_bad "{$base,\"default_server_group\":[{\"ServerId\":\"i-1\",\"ServerIp\":\"10.0.0.5\",\"Weight\":101}]}" "default_server_group[0].Weight': must be an integer 0-100"
run_bad "{\"ports\":[{\"name\":\"p\",\"device\":\"net_nope\",\"address\":\"10.0.0.1/24\"}],\"vips\":[],\"local_addresses\":[\"10.0.0.100\"]}" "ports[0].device': no DPDK port named 'net_nope'"
run_bad "{$base,\"bogus\":1}" "field 'bogus': is not a known field"
out=$("$BIN" "${EAL[@]}" -- 2>&1); rc=$?
check "missing --config: exit 2" test "$rc" -eq 2
check "missing --config is named" grep -qF "field '--config': is required" <<<"$out"
# Clean stop on SIGTERM: the final report is printed and the exit code is 0.
echo "{$base,\"workers\":1}" > "$DIR/ok.json"
"$BIN" "${EAL[@]}" --vdev net_null0 -- --config "$DIR/ok.json" > "$DIR/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "bytes per connection" "$DIR/run.log" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"; rc=$?
check "SIGTERM stops cleanly with exit 0" test "$rc" -eq 0
check "  and prints the final report" grep -q "== drops by reason ==" "$DIR/run.log"
e2e_finish
