#!/usr/bin/env bash
# 5,000 backends on the servers' link, each its own next hop: every one is resolved by
# ARP and served (round robin: one connection each), nothing refused for the neighbour
# table (neighbour_capacity's default of 8,192).
source "$(dirname "$0")/lab_prelude.sh"

cfg="$LAB_DIR/cfg.json"
python3 - "$ROOT/conf/demo.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ports"][1]["address"] = "10.20.0.1/16"
c["local_addresses"] = ["10.20.0.100"]
c["health_check_source"] = "10.20.0.100"
c["listeners"] = [{"VIP": "10.10.1.10", "Protocol": "tcp", "ListenerPort": 80, "BackendServerPort": 8080,
                   "Scheduler": "rr"}]
c["default_server_group"] = [{"ServerId": "i-%d" % k, "ServerIp": "10.20.%d.%d" % (1 + k // 250, 1 + k % 250)}
                             for k in range(5000)]
json.dump(c, open(sys.argv[2], "w"))
PY
lab_up
lab_ns sv ip addr flush dev sv0
python3 -c '
for k in range(5000): print("addr add 10.20.%d.%d/16 dev sv0" % (1 + k // 250, 1 + k % 250))' > "$LAB_DIR/addrs"
lab_ns sv ip -batch "$LAB_DIR/addrs"
lab_ns sv python3 "$ROOT/test/e2e/many_backends.py" serve "$LAB_DIR/served.log" &
LAB_PIDS+=($!)
lab_start_fulcrum "$cfg"

answered=$(lab_ns cl python3 "$ROOT/test/e2e/many_backends.py" connect 10.10.1.10 5000)
distinct=$(sort -u "$LAB_DIR/served.log" | wc -l)
kill -USR1 "$FULCRUM_PID"; sleep 0.5
full=$(sed -n "s/.*drop neigh_table_full *\([0-9][0-9]*\).*/\1/p" "$LAB_DIR/fulcrum.log" | tail -1)
check "5,000 connections answered through the VIP ($answered)" [ "${answered:-0}" -eq 5000 ]
check "by 5,000 distinct on-link backends, one each ($distinct)" [ "$distinct" -eq 5000 ]
check "none refused for the neighbour table (${full:-0})" [ "${full:-0}" -eq 0 ]
lab_stop_fulcrum
e2e_finish
