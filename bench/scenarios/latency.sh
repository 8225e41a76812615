# latency: UDP 64 B request/response round trips, 100k flows: the maximum first (closed
# loop of 256), then at 50% of it through Fulcrum and through testpmd 5tswap.
#   rows  round trip p50 / p99 / p99.9 at 50% load | Fulcrum | testpmd | p99 added
log "latency: UDP 64 B request/response, 100k flows; maximum first (closed loop of 256), then 50% of it"
cfg=$(config_for 100000 8 200000)
start_fulcrum "$cfg"; run_gen --mode rr --proto udp --flows 100000 --window 256 --duration "$SECONDS_PER_RUN"
max=$(field done_mps); record '{"scenario":"rr-max","box":"fulcrum"}'
rate=$(awk -v m="$max" 'BEGIN { printf "%.0f", m * 1e6 / 2 }')
[ "$rate" -gt 0 ] || { echo "bench: the maximum run failed; latency runs at 100k/s" >&2; rate=100000; }
lat_run() { # lat_run BOX: prints "p50 p99 p99.9 lost" of round trips at $rate
  if [ "$1" = fulcrum ]; then start_fulcrum "$cfg"; else start_testpmd; fi
  run_gen --mode rr --proto udp --flows 100000 --rate "$rate" --duration "$SECONDS_PER_RUN"
  record "{\"scenario\":\"latency\",\"box\":\"$1\",\"rate\":$rate}"
  echo "$(field lat_p50_us) $(field lat_p99_us) $(field lat_p999_us) $(field lost)"
}
read -r f50 f99 f999 flost <<< "$(lat_run fulcrum)"
read -r t50 t99 t999 tlost <<< "$(lat_run testpmd)"
printf '  max %.3f M round trips/s; at %s/s: fulcrum p50 %s p99 %s p99.9 %s us (lost %s), testpmd p50 %s p99 %s p99.9 %s us (lost %s)\n' \
  "$max" "$rate" "$f50" "$f99" "$f999" "$flost" "$t50" "$t99" "$t999" "$tlost"
added=$(awk -v a="$f99" -v b="$t99" 'BEGIN { printf "%.2f", a - b }')
row '| round trip p50 / p99 / p99.9 at 50%% load (%s/s) | %s / %s / %s us | %s / %s / %s us | p99 added %s us (two crossings) | |' \
  "$rate" "$f50" "$f99" "$f999" "$t50" "$t99" "$t999" "$added"
