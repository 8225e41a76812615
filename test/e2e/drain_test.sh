#!/usr/bin/env bash
# Connection drain seen by real kernel sockets on both ends. A backend taken out of its
# group (weight 0) keeps its established connection until ConnectionDrainTimeout, then
# Fulcrum resets it towards both sides: the client's and the server's recv() fail with
# ECONNRESET. With ConnectionDrain off the reset comes at once.
source "$(dirname "$0")/lab_prelude.sh"
SOCK="$LAB_DIR/ctl.sock"

python3 - "$ROOT/conf/demo.json" "$LAB_DIR/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
be = lambda sid, ip, port: {"ServerId": sid, "ServerIp": ip, "Port": port, "Weight": 100}
c["vserver_groups"] = [
    {"VServerGroupId": "rsp-1", "VServerGroupName": "drain-on", "BackendServers": [be("i-web1", "10.10.2.11", 7101)]},
    {"VServerGroupId": "rsp-2", "VServerGroupName": "drain-off", "BackendServers": [be("i-web2", "10.10.2.12", 7102)]},
]
L = lambda port, group, **kw: dict(dict(VIP="10.10.1.10", Protocol="tcp", ListenerPort=port, BackendServerPort=1,
                                        VServerGroupId=group), **kw)
c["listeners"] += [L(87, "rsp-1", ConnectionDrain="on", ConnectionDrainTimeout=10), L(88, "rsp-2")]
json.dump(c, open(sys.argv[2], "w"))
PY

# server IP PORT OUT: echo lines on one connection; OUT gets how the connection ended.
server() {
  lab_ns sv python3 -c '
import socket, sys
ip, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind((ip, port)); l.listen(1)
c, _ = l.accept()
try:
    while True:
        d = c.recv(100)
        if not d: end = "eof"; break
        c.sendall(d)
except Exception as e:
    end = type(e).__name__
open(out, "w").write(end + "\n")' "$@"
}
# client PORT GO OUT: one connection; one exchange, then a second once GO exists, then
# wait (at most 30 s) for the connection to end. OUT: "reply1 reply2 end seconds-after-GO".
client() {
  lab_ns cl python3 -c '
import os, socket, sys, time
port, go, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("10.10.1.10", port), timeout=5)
s.sendall(b"one\n"); r1 = s.recv(100).decode().strip()
open(out + ".ready", "w").write("")
while not os.path.exists(go): time.sleep(0.05)
t0 = time.time()
try:
    s.sendall(b"two\n"); r2 = s.recv(100).decode().strip() or "eof"
except Exception as e:
    r2 = type(e).__name__
s.settimeout(30)
try:
    d = s.recv(100); end = "eof" if not d else "data"
except Exception as e:
    end = type(e).__name__
open(out, "w").write(f"{r1} {r2} {end} {time.time() - t0:.1f}\n")' "$@"
}
wait_file() { for _ in $(seq 1 400); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

lab_up
server 10.10.2.11 7101 "$LAB_DIR/s1" & LAB_PIDS+=($!)
server 10.10.2.12 7102 "$LAB_DIR/s2" & LAB_PIDS+=($!)
sleep 0.5
lab_start_fulcrum "$LAB_DIR/cfg.json" --ctl-socket "$SOCK"

# 1. Drain on (10 s): weight 0 under a live connection.
client 87 "$LAB_DIR/go1" "$LAB_DIR/c1" & LAB_PIDS+=($!)
check "a connection through the drain-on listener is established" wait_file "$LAB_DIR/c1.ready"
ctl SetVServerGroupAttribute '{"VServerGroupId":"rsp-1","BackendServers":[{"ServerId":"i-web1","ServerIp":"10.10.2.11","Port":7101,"Weight":0}]}' >/dev/null
touch "$LAB_DIR/go1"
wait_file "$LAB_DIR/c1" || true
wait_file "$LAB_DIR/s1" || true
read -r r1 r2 end secs < "$LAB_DIR/c1" || true
check "the draining connection still carries data after weight 0 (replies: $r1, $r2)" test "${r1:-}/${r2:-}" = "one/two"
check "the client's recv() fails with ECONNRESET when the drain ends ($end after ${secs}s)" test "${end:-}" = ConnectionResetError
check "  not before the 10 s drain timeout, and not long after (${secs}s)" \
  python3 -c "import sys; sys.exit(0 if 9.5 <= ${secs:-0} <= 16 else 1)"
check "the server's recv() fails with ECONNRESET too ($(cat "$LAB_DIR/s1" 2>/dev/null))" \
  grep -qx ConnectionResetError "$LAB_DIR/s1"

# 2. Drain off: weight 0 resets the connection at once, both ways.
client 88 "$LAB_DIR/go2" "$LAB_DIR/c2" & LAB_PIDS+=($!)
check "a connection through the drain-off listener is established" wait_file "$LAB_DIR/c2.ready"
ctl SetVServerGroupAttribute '{"VServerGroupId":"rsp-2","BackendServers":[{"ServerId":"i-web2","ServerIp":"10.10.2.12","Port":7102,"Weight":0}]}' >/dev/null
sleep 0.5
touch "$LAB_DIR/go2"
wait_file "$LAB_DIR/c2" || true
wait_file "$LAB_DIR/s2" || true
read -r r1 r2 end secs < "$LAB_DIR/c2" || true
check "with drain off the client's connection is reset at once (second exchange: $r2, then $end)" \
  bash -c "[ '${r2:-}' = ConnectionResetError ] || [ '${end:-}' = ConnectionResetError ]"
check "  and the server's recv() fails with ECONNRESET ($(cat "$LAB_DIR/s2" 2>/dev/null))" \
  grep -qx ConnectionResetError "$LAB_DIR/s2"
lab_stop_fulcrum
check "the report counts both drained connections" bash -c "grep -E '^worker 0 ' '$LAB_DIR/fulcrum.log' | tail -1 | grep -q 'drained 2,'"
e2e_finish
