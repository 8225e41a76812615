# cps: TCP connections opened and closed (SYN, SYN-ACK, ACK, FIN, FIN-ACK, ACK), a closed
# loop of 256. TIME_WAIT keeps an lport 10 s: 256 laddrs (the most a config takes) give
# 15.4M pairs, the table 16M entries.
#   parameters  ROUNDS; BASELINE_BUILD=DIR (another commit's build directory): its Fulcrum
#               runs too, in alternating rounds, so a change's effect is read in one run
#   rows        TCP connections/s | Fulcrum | testpmd 5tswap | ratio (and the baseline build's)
log "cps: TCP open+close (SYN, SYN-ACK, ACK, FIN, FIN-ACK, ACK), closed loop of 256"
cfg=$(config_for 15000000 256 16000000)
cargs=(--mode cps --proto tcp --flows 15000000 --window 256 --duration "$SECONDS_PER_RUN")
fu=(); tp=(); fb=()
for r in $(seq 1 "$ROUNDS"); do
  start_fulcrum "$cfg"; run_gen "${cargs[@]}"
  fu+=("$(field done_mps)"); record '{"scenario":"cps","box":"fulcrum"}'
  if [ -n "${BASELINE_BUILD:-}" ]; then
    FULCRUM_BIN="$BASELINE_BUILD/src/fulcrum/fulcrum" start_fulcrum "$cfg"; run_gen "${cargs[@]}"
    fb+=("$(field done_mps)"); record '{"scenario":"cps","box":"fulcrum-baseline"}'
  fi
  start_testpmd; run_gen "${cargs[@]}"
  tp+=("$(field done_mps)"); record '{"scenario":"cps","box":"testpmd"}'
done
f=$(median "${fu[@]}"); t=$(median "${tp[@]}")
printf '  fulcrum %7.3f M conn/s   testpmd 5tswap %7.3f M conn/s   %s%%\n' "$f" "$t" "$(ratio "$f" "$t")"
row '| TCP connections/s (open+close, window 256) | %.0fk | %.0fk | %s%% | |' "$(kilo "$f")" "$(kilo "$t")" "$(ratio "$f" "$t")"
if [ -n "${BASELINE_BUILD:-}" ]; then
  b=$(median "${fb[@]}")
  printf '  baseline build (%s) %7.3f M conn/s   %s%%\n' "$BASELINE_BUILD" "$b" "$(ratio "$b" "$t")"
  row '| TCP connections/s, baseline build %s | %.0fk | %.0fk | %s%% | |' "$(basename "$(dirname "$BASELINE_BUILD")")" "$(kilo "$b")" "$(kilo "$t")" "$(ratio "$b" "$t")"
fi
