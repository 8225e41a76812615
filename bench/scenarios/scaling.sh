# scaling: 1 vs 2 workers on the same emulated RSS input. No generator on the path:
# net_pcap replays per-queue captures, split exactly as a NIC with Fulcrum's key and a
# 128-entry RETA would split them (fulcrum-gen --rss-queues). Each queue's capture holds
# its clients' UDP datagrams and the backends' replies to them, so half the frames are
# replies that must reach the worker owning their connection. The replies' lports come
# from a setup run of the same configuration (Fulcrum's tx captured): the replay's first
# pass makes the same choices in the same order, every later pass is established
# traffic. One core per worker (the control thread shares lcore 0's core and sleeps);
# testpmd 5tswap reads the same queue files with as many cores.
#   parameters  SCALING_FLOWS (20000) UDP 64 B flows; rss emulated vs off (the redirect ring)
#   rows        aggregate Mpps, the scaling over 1 worker, redirects/s; testpmd beside; then
#               the same on IPv6 flows (6->6: IPv6 clients, laddrs and backends; the client
#               frames from bench/ipv6_capture.py), 1 vs 2 workers with emulated RSS
sflows="${SCALING_FLOWS:-20000}"
smbufs=$(( sflows * 2 + 65536 ))
log "scaling: udp 64 B, $sflows flows, per-queue net_pcap replays (emulated RSS), 1 vs 2 workers, rss vs redirect"
python3 "$ROOT/bench/config.py" base "$sflows" 4 "$smbufs" > "$DIR/cfg-scaling.json"
lcores_for() { [ "$1" = 1 ] && echo "-l 0,1" || echo "--lcores 0@0,1@0,2@1"; }
pcap_vdev() { # pcap_vdev PREFIX QUEUES [tx]: rx_pcap per queue (looped), tx dropped or captured
  local v="net_pcap0" q
  for q in $(seq 0 $(( $2 - 1 ))); do v="$v,rx_pcap=$1.q$q"; done
  if [ "${3:-}" = tx ]; then for q in $(seq 0 $(( $2 - 1 ))); do v="$v,tx_pcap=$1.tx$q"; done; else v="$v,infinite_rx=1"; fi
  echo "$v"
}
scaling_fulcrum_run() { # scaling_fulcrum_run BASE WORKERS VDEV SECONDS [options]
  local base=$1 w=$2 vdev=$3 secs=$4; shift 4
  # shellcheck disable=SC2046,SC2086
  "${FULCRUM_BIN:-$BUILD/src/fulcrum/fulcrum}" $(lcores_for "$w") --no-pci --file-prefix "flbs$$" $MEM --log-level 'lib.eal:error' \
    --vdev "$vdev" -- --config "$base.json" --duration "$secs" "$@" || true
}
# The replay for WORKERS and RSS mode: client frames split by queue, a setup run to learn
# the lports, then the per-queue captures with the replies appended.
scaling_inputs() { # scaling_inputs WORKERS RSS: $DIR/sc-W-RSS.q*
  local w=$1 m=$2 base="$DIR/sc-$1-$2" caps="" q
  python3 "$ROOT/bench/config.py" scaling "$DIR/cfg-scaling.json" "$w" "$m" "$smbufs" > "$base.json"
  "$FGEN" -- --pcap "$base.setup" --rss-queues "$w" --mode stream --proto udp --flows "$sflows" --vip 10.0.0.10 \
    --vport 80 --client-ip 10.1.0.1 > /dev/null
  scaling_fulcrum_run "$base" "$w" "$(pcap_vdev "$base.setup" "$w" tx)" 3 > "$base.setup.out" 2>&1
  for q in $(seq 0 $(( w - 1 ))); do caps="$caps${caps:+,}$base.setup.tx$q"; done
  "$FGEN" -- --pcap "$base" --rss-queues "$w" --replies-from "$caps" --mode stream --proto udp --flows "$sflows" \
    --vip 10.0.0.10 --vport 80 --client-ip 10.1.0.1 > /dev/null
}
scaling_measure() { # scaling_measure BASE WORKERS JSON-FIELDS: one run of BASE's replay; prints "Mpps redirects/s"
  local base=$1 secs=$(( SECONDS_PER_RUN + 2 )) a r
  scaling_fulcrum_run "$base" "$2" "$(pcap_vdev "$base" "$2")" "$secs" --warmup 2 > "$base.out" 2>&1
  a=$(sed -n 's/.*rx \([0-9.]*\) Mpps, tx \([0-9.]*\) Mpps.*/\1/p' "$base.out")
  r=$(awk -v s="$secs" '/^worker [0-9]+ .*redirected out/ { for (i = 1; i < NF; i++) if ($i == "out" && $(i - 1) == "redirected") { v = $(i + 1); sub(",", "", v); n += v } }
                        END { printf "%.0f", n / s }' "$base.out")
  [ -n "$a" ] || { failed "scaling fulcrum $base"; a=0; tail -3 "$base.out" >&2; }
  echo "{\"scenario\":\"scaling\",\"box\":\"fulcrum\",$3,\"workers\":$2,\"done_mps\":$a,\"redirects_per_s\":$r}" >> "$OUT/results.jsonl"
  echo "$a $r"
}
scaling_fulcrum() { scaling_measure "$DIR/sc-$1-$2" "$1" "\"rss\":\"$2\""; } # scaling_fulcrum WORKERS RSS
scaling_testpmd() { # scaling_testpmd CORES (the rss captures of that many queues): prints Mpps
  local base="$DIR/sc-$1-emulated" a
  # shellcheck disable=SC2046,SC2086
  a=$( { timeout -s INT $((SECONDS_PER_RUN + 2)) dpdk-testpmd $(lcores_for "$1") --no-pci --file-prefix "flbs$$" $MEM \
    --log-level 'lib.eal:error' --vdev "$(pcap_vdev "$base" "$1")" -- --forward-mode=5tswap --rxq="$1" --txq="$1" \
    --nb-cores="$1" --total-num-mbufs="$smbufs" --stats-period 1 < "$DIR/stdin" 2>/dev/null || true; } | testpmd_rate)
  echo "{\"scenario\":\"scaling\",\"box\":\"testpmd\",\"workers\":$1,\"done_mps\":${a:-0}}" >> "$OUT/results.jsonl"
  echo "${a:-0}"
}
scaling_inputs 1 emulated; scaling_inputs 2 emulated; scaling_inputs 2 off
f1=(); f2=(); f2r=(); t1=(); t2=(); r2=(); r2r=()
for r in $(seq 1 "$ROUNDS"); do
  t1+=("$(scaling_testpmd 1)"); read -r a _ <<< "$(scaling_fulcrum 1 emulated)"; f1+=("$a")
  t2+=("$(scaling_testpmd 2)"); read -r a rd <<< "$(scaling_fulcrum 2 emulated)"; f2+=("$a"); r2+=("$rd")
  read -r a rd <<< "$(scaling_fulcrum 2 off)"; f2r+=("$a"); r2r+=("$rd")
done
a1=$(median "${f1[@]}"); a2=$(median "${f2[@]}"); a2r=$(median "${f2r[@]}"); b1=$(median "${t1[@]}"); b2=$(median "${t2[@]}")
x2=$(times "$a2" "$a1"); x2r=$(times "$a2r" "$a1"); xt=$(times "$b2" "$b1")
printf '  1 worker %.3f Mpps (testpmd 1 core %.3f); 2 workers rss %.3f Mpps x%s, %s redirects/s; redirect ring %.3f Mpps x%s, %s redirects/s (testpmd 2 cores %.3f, x%s)\n' \
  "$a1" "$b1" "$a2" "$x2" "$(median "${r2[@]}")" "$a2r" "$x2r" "$(median "${r2r[@]}")" "$b2" "$xt"
row '| scaling, udp 64 B, %s flows, per-queue replay: 1 worker | %.2f Mpps | %.2f Mpps (1 core) | %s%% | |' "$sflows" "$a1" "$b1" "$(ratio "$a1" "$b1")"
row '| 2 workers, RSS-aware lports (emulated RSS) | %.2f Mpps (x%s), %s redirects/s | %.2f Mpps (2 cores, x%s) | %s%% | |' "$a2" "$x2" "$(median "${r2[@]}")" "$b2" "$xt" "$(ratio "$a2" "$b2")"
row '| 2 workers, redirect ring (rss off) | %.2f Mpps (x%s), %s redirects/s | %.2f Mpps (2 cores) | %s%% | |' "$a2r" "$x2r" "$(median "${r2r[@]}")" "$b2" "$(ratio "$a2r" "$b2")"

# IPv6: 6->6 flows (RSS-aware lports on IPv6 laddrs: replies hash home, so 0 redirects/s).
python3 "$ROOT/bench/ipv6_capture.py" "$DIR/sc6-flows.pcap" "$sflows" 81
scaling_inputs6() { # scaling_inputs6 WORKERS: $DIR/sc6-W-emulated.q*
  local w=$1 base="$DIR/sc6-$1-emulated" caps="" q
  python3 "$ROOT/bench/config.py" scaling "$DIR/cfg-scaling.json" "$w" emulated "$smbufs" > "$base.v4.json"
  python3 "$ROOT/bench/config.py" ipv6 "$base.v4.json" > "$base.json"
  "$FGEN" -- --pcap "$base.setup" --rss-queues "$w" --frames-from "$DIR/sc6-flows.pcap" > /dev/null
  scaling_fulcrum_run "$base" "$w" "$(pcap_vdev "$base.setup" "$w" tx)" 3 > "$base.setup.out" 2>&1
  for q in $(seq 0 $(( w - 1 ))); do caps="$caps${caps:+,}$base.setup.tx$q"; done
  "$FGEN" -- --pcap "$base" --rss-queues "$w" --frames-from "$DIR/sc6-flows.pcap" --replies-from "$caps" > /dev/null
}
scaling_fulcrum6() { # scaling_fulcrum6 WORKERS
  local base="$DIR/sc6-$1-emulated"
  scaling_measure "$base" "$1" '"family":"6to6","rss":"emulated"'
  cp "$base.out" "$OUT/scaling6-$1-workers.out" # (its report: connections, hits, drops by reason)
}
scaling_inputs6 1; scaling_inputs6 2
g1=(); g2=(); q2=()
for r in $(seq 1 "$ROUNDS"); do
  read -r a _ <<< "$(scaling_fulcrum6 1)"; g1+=("$a")
  read -r a rd <<< "$(scaling_fulcrum6 2)"; g2+=("$a"); q2+=("$rd")
done
c1=$(median "${g1[@]}"); c2=$(median "${g2[@]}"); y2=$(times "$c2" "$c1")
printf '  IPv6 6->6: 1 worker %.3f Mpps; 2 workers rss %.3f Mpps x%s, %s redirects/s (IPv4 above: %.3f / %.3f Mpps)\n' \
  "$c1" "$c2" "$y2" "$(median "${q2[@]}")" "$a1" "$a2"
row '| scaling, udp 64 B, %s IPv6 flows (6->6), per-queue replay: 1 worker | %.2f Mpps | %.2f Mpps (IPv4, 1 worker, same run) | %s%% | |' "$sflows" "$c1" "$a1" "$(ratio "$c1" "$a1")"
row '| 2 workers, RSS-aware lports on IPv6 laddrs (emulated RSS) | %.2f Mpps (x%s), %s redirects/s | %.2f Mpps (IPv4, 2 workers) | %s%% | |' "$c2" "$y2" "$(median "${q2[@]}")" "$a2" "$(ratio "$c2" "$a2")"
