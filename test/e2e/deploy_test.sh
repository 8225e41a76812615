#!/usr/bin/env bash
# Deploy on a host (README "Deploy on a host"):
#   - meson install --destdir lists the programs, the example config, the environment
#     file, the state directory, the unit and fulcrum-setup
#   - dpkg-buildpackage builds the .deb; apt installs it; systemd-analyze verify passes
#   - the installed fulcrum --check passes on the demo configuration (lab devices) and
#     fails with exit 2 naming the field: a missing device, too many queues, more memory
#     than there is, a CPU the host lacks
#   - fulcrum-setup --check prints each item with PASS/FAIL and the fix
#   - the installed binaries carry real traffic through the namespace lab, started as the
#     unit starts them (EnvironmentFile, RuntimeDirectory, Type=notify readiness,
#     ExecReload, SIGTERM)
# The package build takes a few minutes (a portable release build without the tests).
source "$(dirname "$0")/lab_prelude.sh"
WORK=$(mktemp -d /tmp/fulcrum-deploy.XXXXXX)
SAVED="$WORK/saved"
mkdir -p "$SAVED"
for f in /etc/fulcrum/fulcrum.json /etc/default/fulcrum; do [ -f "$f" ] && cp -p "$f" "$SAVED/$(basename "$f")"; done
# The package is removed again unless it was installed before this test.
dpkg -s fulcrum >/dev/null 2>&1 && HAD_PACKAGE=1 || HAD_PACKAGE=0
restore() {
  [ -f "$SAVED/fulcrum.json" ] && cp -p "$SAVED/fulcrum.json" /etc/fulcrum/fulcrum.json
  [ -f "$SAVED/fulcrum" ] && cp -p "$SAVED/fulcrum" /etc/default/fulcrum
  rm -f /var/lib/fulcrum/state.json
  [ "$HAD_PACKAGE" = 1 ] || DEBIAN_FRONTEND=noninteractive apt-get purge -y -q fulcrum > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap 'lab_down; restore' EXIT

echo "== meson install --destdir"
meson install -C "$BUILD" --destdir "$WORK/dest" --no-rebuild --quiet >/dev/null
listed=$(cd "$WORK/dest" && find . \( -type f -o -type d -empty \) | sort)
for want in bin/fulcrum bin/fulcrumctl bin/fulcrum-gen sbin/fulcrum-setup etc/fulcrum/fulcrum.json etc/default/fulcrum \
            lib/systemd/system/fulcrum.service "var/(local/)?lib/fulcrum" share/doc/fulcrum/demo.json; do
  check "installs $want" grep -qE "/$want\$" <<< "$listed"
done

echo "== the Debian package"
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
t0=$SECONDS
(cd "$WORK/src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" > "$WORK/build.log" 2>&1) || tail -30 "$WORK/build.log"
deb=$(ls "$WORK"/fulcrum_*_amd64.deb 2>/dev/null | head -1)
check "dpkg-buildpackage built $(basename "${deb:-no .deb}") in $((SECONDS - t0)) s" test -n "$deb"
check "it depends on Debian's DPDK 22.11 runtime" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'librte-eal23 (>= 22.11)'"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "$deb" > "$WORK/apt.log" 2>&1 || tail -20 "$WORK/apt.log"
check "apt installed it" bash -c "dpkg -s fulcrum | grep -q '^Status: install ok installed'"
for f in /usr/bin/fulcrum /usr/bin/fulcrumctl /usr/bin/fulcrum-gen /usr/sbin/fulcrum-setup /etc/fulcrum/fulcrum.json \
         /etc/default/fulcrum /lib/systemd/system/fulcrum.service /var/lib/fulcrum; do
  check "the package put $f in place" test -e "$f"
done
check "the unit is not enabled or started by the install" bash -c '! test -e /etc/systemd/system/multi-user.target.wants/fulcrum.service'
rc=0; out=$(systemd-analyze verify /lib/systemd/system/fulcrum.service 2>&1) || rc=$?
check "systemd-analyze verify passes on the unit${out:+ ($out)}" test $rc -eq 0

echo "== the installed fulcrum --check"
lab_up
EAL="-l 0,1 --no-pci $(eal_mem_args) --file-prefix $LAB-chk --log-level pmd.net.af_packet:warning"
VDEVS="--vdev net_af_packet0,iface=lbc --vdev net_af_packet1,iface=lbs"
demo=/usr/share/doc/fulcrum/demo.json
# shellcheck disable=SC2086
rc=0; out=$(lab_ns lb /usr/bin/fulcrum $EAL $VDEVS -- --config $demo --check 2>/dev/null) || rc=$?
echo "$out" | sed 's/^/    /'
check "passes on the demo configuration (exit $rc)" test $rc -eq 0
# shellcheck disable=SC2086
bad_check() { # bad_check WHAT FIELD CONFIG [EAL...]: exit 2 and the field named
  local what=$1 field=$2 cfg=$3; shift 3
  rc=0; out=$(lab_ns lb /usr/bin/fulcrum "$@" -- --config "$cfg" --check 2>&1) || rc=$?
  echo "$out" | grep -E "FAIL|config error" | head -2 | sed 's/^/    /'
  check "$what: exit 2 naming field '$field' (exit $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -qF \"field '$field'\" <<< \"\$1\"" _ "$out"
}
python3 - "$demo" "$WORK" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
def variant(name, **kw):
    d = json.loads(json.dumps(c)); d.update(kw); json.dump(d, open(f"{sys.argv[2]}/{name}.json", "w"))
variant("missing", ports=[dict(c["ports"][0], device="net_null9"), c["ports"][1]])
variant("queues", workers=2)
variant("memory", mbufs=1 << 23)
variant("tables", conn_capacity=1 << 26, workers=3)
PY
# shellcheck disable=SC2086
bad_check "a device EAL was not given" "ports[0].device" "$WORK/missing.json" $EAL $VDEVS
# shellcheck disable=SC2086
bad_check "two workers on af_packet's single queue pair" "workers" "$WORK/queues.json" \
  --lcores 0@0,1@1,2@0 --no-pci $(eal_mem_args) --file-prefix "$LAB-chk" $VDEVS
# shellcheck disable=SC2086
bad_check "8M mbufs in the DPDK memory" "mbufs" "$WORK/memory.json" $EAL $VDEVS
# shellcheck disable=SC2086
bad_check "3 workers x 64M connections in the host's memory" "conn_capacity" "$WORK/tables.json" \
  --lcores 0@0,1@1,2@0,3@1 --no-pci $(eal_mem_args) --file-prefix "$LAB-chk" $VDEVS
# shellcheck disable=SC2086
bad_check "a CPU this host lacks" "-l" "$demo" -l 0,63 --no-pci $(eal_mem_args) --file-prefix "$LAB-chk" $VDEVS

echo "== fulcrum-setup --check on this machine"
rc=0; out=$(/usr/sbin/fulcrum-setup --check --config /etc/fulcrum/fulcrum.json --lcores 0-1 2>&1) || rc=$?
echo "$out" | sed 's/^/    /'
items=$(grep -cE '^  (PASS|FAIL|NOTE) ' <<< "$out")
fails=$(grep -cE '^  FAIL ' <<< "$out")
fixes=$(grep -cE '^        fix: ' <<< "$out")
check "it printed $items items ($fails failed), each failure with its fix" test "$items" -ge 7 -a "$fails" -eq "$fixes"
check "its exit status says whether any failed ($rc)" test "$rc" -eq $((fails > 0 ? 1 : 0))

echo "== fulcrum-setup on a device tree of the test's own"
# A PCI port whose kernel interface is up with an address (the management NIC named by
# mistake) and CPUs 2-3 isolated as the kernel writes it.
T="$WORK/sysfs"
mkdir -p "$T/bus/pci/devices/0000:01:00.0/net/fsmgmt0" "$T/devices/system/cpu"
echo "2-3" > "$T/devices/system/cpu/isolated"
ip netns add "$LAB-setup"
ip -n "$LAB-setup" link add fsmgmt0 type veth peer name fsmgmt1
ip -n "$LAB-setup" addr add 192.0.2.1/24 dev fsmgmt0
ip -n "$LAB-setup" link set fsmgmt0 up; ip -n "$LAB-setup" link set fsmgmt1 up
python3 - "$demo" "$WORK/pci.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["ports"][0]["device"] = "0000:01:00.0"
json.dump(c, open(sys.argv[2], "w"))
PY
out=$(ip netns exec "$LAB-setup" env FULCRUM_SETUP_SYSFS="$T" /usr/sbin/fulcrum-setup --check --config "$WORK/pci.json" --lcores 0@0,1@2,2@3 2>&1) || true
ip netns del "$LAB-setup"
echo "$out" | grep -E 'port |cpu isolation' | sed 's/^/    /'
check "a port that is up with an address is refused, not taken (the management NIC named by mistake)" \
  bash -c "grep -q 'FAIL  port client .*fsmgmt0, up with an address' <<< \"\$1\"" _ "$out"
check "isolated '2-3' is the workers' 2,3" bash -c "grep -q 'PASS  cpu isolation' <<< \"\$1\"" _ "$out"

echo "== the installed binaries through the lab, started as the unit starts them"
lab_start_backends web1:10.10.2.11 web2:10.10.2.12 web3:10.10.2.13
cp "$demo" /etc/fulcrum/fulcrum.json
cat > /etc/default/fulcrum <<EOF
FULCRUM_EAL_ARGS="-l 0,1 --no-pci $(eal_mem_args) --file-prefix $LAB-svc --log-level pmd.net.af_packet:warning --vdev net_af_packet0,iface=lbc,framecnt=8192 --vdev net_af_packet1,iface=lbs,framecnt=8192"
FULCRUM_OPTIONS="--metrics 9100"
EOF
rm -f /var/lib/fulcrum/state.json
python3 "$ROOT/test/e2e/unit_run.py" start /lib/systemd/system/fulcrum.service "$LAB-lb" "$WORK/unit.log" &
runner=$!
i=0; until grep -q '^READY=1' "$WORK/unit.log" 2>/dev/null || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
check "the service said READY=1 (Type=notify) after $((i / 10)).$((i % 10)) s" grep -q '^READY=1' "$WORK/unit.log"
grep '^STATUS=' "$WORK/unit.log" | sed 's/^/    /'
pid=$(awk '/^started/ {print $2}' "$WORK/unit.log")
check "the process runs /usr/bin/fulcrum" test "$(readlink "/proc/$pid/exe")" = /usr/bin/fulcrum
grep '^hardening' "$WORK/unit.log" | sed 's/^/    /'
# The unit's sandbox, as the service really runs (test/e2e/unit_run.py applies it).
check "under the unit's hardening: no new privileges, no module or clock capabilities" \
  bash -c "grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status &&
           (( (0x\$(awk '/^CapBnd/ {print \$2}' /proc/$pid/status) >> 16 & 1) == 0 )) &&
           (( (0x\$(awk '/^CapBnd/ {print \$2}' /proc/$pid/status) >> 25 & 1) == 0 ))"
check "under the unit's hardening: /usr and /etc read-only, /tmp its own" \
  bash -c "nsenter -t $pid -m findmnt -no OPTIONS /usr | grep -q '^ro' &&
           nsenter -t $pid -m findmnt -no OPTIONS /etc | grep -q '^ro' &&
           nsenter -t $pid -m findmnt -no FSTYPE /tmp | grep -q tmpfs"
check "/run/fulcrum is 0755 (RuntimeDirectoryMode): group members and the speaker reach it" \
  test "$(stat -c %a /run/fulcrum)" = 755
ok=0; for n in $(seq 1 30); do lab_ns cl curl -s --max-time 3 "http://10.10.1.10/r$n" | grep -q '^web' && ok=$((ok + 1)); done
check "30 of 30 requests answered through the installed fulcrum ($ok)" test "$ok" -eq 30
check "the installed fulcrumctl talks to /run/fulcrum/fulcrum.sock" \
  bash -c "/usr/bin/fulcrumctl --socket /run/fulcrum/fulcrum.sock DescribeNodeStatus | grep -q '\"Drain\"'"
check "the state file is in the StateDirectory" test -s /var/lib/fulcrum/state.json
python3 - <<'PY'
import json
p = "/etc/fulcrum/fulcrum.json"; c = json.load(open(p)); c["default_server_group"][0]["Weight"] = 5; json.dump(c, open(p, "w"))
PY
python3 "$ROOT/test/e2e/unit_run.py" reload /lib/systemd/system/fulcrum.service "$pid"
i=0; until /usr/bin/fulcrumctl --socket /run/fulcrum/fulcrum.sock DescribeBackendServers | grep -q '"Weight": 5' || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
check "ExecReload (SIGHUP) applied the edited configuration (web1's weight 5)" \
  bash -c "/usr/bin/fulcrumctl --socket /run/fulcrum/fulcrum.sock DescribeBackendServers | grep -q '\"Weight\": 5'"
kill -TERM "$pid"
wait "$runner"
check "SIGTERM (systemd's stop) ends it cleanly: STOPPING=1, exit 0" \
  bash -c "grep -q '^STOPPING=1' '$WORK/unit.log' && grep -q '^exit 0' '$WORK/unit.log'"

e2e_finish
