# forward: established flows, one way, as fast as the path takes them (Mpps).
#   parameters  FLOWS_LIST (1k 100k 1M 10M; --quick: 1k 1M), PROTOS (udp tcp), SIZES (64 512; --quick: 64)
#   baseline    testpmd 5tswap and io, once per (protocol, size): they keep no per-flow state
#               and the generator's cost does not depend on the flow count
#   rows        forward PROTO SIZE B, FLOWS flows | Fulcrum | 5tswap | ratio | io
#   leaves      $DIR/held: the largest run's flows, bytes per connection and RSS (held.sh)
log "forward: established flows through 1 worker, memif, $SECONDS_PER_RUN s per run ($MEM)"
biggest=0
for flows in $FLOWS_LIST; do [ "$flows" -gt "$biggest" ] && biggest=$flows; done
for proto in $PROTOS; do
  for size in $SIZES; do
    t5=(); tio=()
    for r in $(seq 1 "$ROUNDS"); do
      args=(--mode stream --proto "$proto" --flows 1000 --size "$size" --duration "$SECONDS_PER_RUN")
      start_testpmd 5tswap; run_gen "${args[@]}"
      t5+=("$(field done_mps)"); record '{"scenario":"forward","box":"testpmd"}'
      start_testpmd io; run_gen "${args[@]}"
      tio+=("$(field done_mps)"); record '{"scenario":"forward","box":"testpmd-io"}'
    done
    t=$(median "${t5[@]}"); tc=$(median "${tio[@]}")
    printf '  baselines %s %4s B: testpmd 5tswap %7.3f Mpps, io %7.3f Mpps\n' "$proto" "$size" "$t" "$tc"
    for flows in $FLOWS_LIST; do
      cfg=$(config_for "$flows")
      fu=()
      for r in $(seq 1 "$ROUNDS"); do
        start_fulcrum "$cfg"
        [ "$flows" = "$biggest" ] && RSS_PROBE=1
        run_gen --mode stream --proto "$proto" --flows "$flows" --size "$size" --duration "$SECONDS_PER_RUN"
        RSS_PROBE=""
        fu+=("$(field done_mps)"); record '{"scenario":"forward","box":"fulcrum"}'
        bpc=$(sed -n 's/.*, \([0-9]*\) bytes per connection.*/\1/p' "$DIR/mid.out")
        [ "$flows" = "$biggest" ] && [ -s "$DIR/rss" ] && echo "$flows ${bpc:-0} $(awk '{ print $2 }' "$DIR/rss")" > "$DIR/held"
      done
      f=$(median "${fu[@]}")
      printf '  %9s flows %s %4s B: fulcrum %7.3f Mpps = %s%% of 5tswap, %s%% of io\n' "$flows" "$proto" "$size" "$f" "$(ratio "$f" "$t")" "$(ratio "$f" "$tc")"
      row '| forward %s %s B, %s flows | %.2f Mpps | %.2f Mpps | %s%% | %.2f Mpps |' "$proto" "$size" "$flows" "$f" "$t" "$(ratio "$f" "$t")" "$tc"
    done
  done
done
