# updates: a UDP 64 B stream, 100k flows at 50% of the forward maximum (forward's UDP 64 B
# result, or 2 Mpps when forward did not run), with and without 100 SetBackendServers per
# second on the control socket (bench/updater.py).
#   rows  forwarding at 50% load with 100 updates/s | with | without (the baseline column)
log "updates: UDP 64 B stream, 100k flows at 50% of the forward maximum, with and without 100 updates/s"
half=$(python3 "$ROOT/bench/config.py" half "$OUT/results.jsonl" udp)
cfg=$(config_for 100000 8 200000)
upd_run() { # upd_run with|without: prints "Mpps lost" and leaves $DIR/upd-drops, $DIR/upd-line
  start_fulcrum "$cfg" --ctl-socket "$DIR/ctl.sock"
  local u="" drops
  echo "no updates" > "$DIR/upd-line"
  if [ "$1" = with ]; then
    python3 "$ROOT/bench/updater.py" "$DIR/ctl.sock" 100 > "$DIR/upd.out" 2>&1 &
    u=$!
  fi
  run_gen --mode stream --proto udp --flows 100000 --rate "$half" --duration "$SECONDS_PER_RUN"
  if [ -n "$u" ]; then kill "$u" 2>/dev/null; wait "$u" 2>/dev/null || true; tail -1 "$DIR/upd.out" > "$DIR/upd-line"; fi
  record "{\"scenario\":\"updates\",\"box\":\"fulcrum\",\"updates\":\"$1\",\"rate\":$half}"
  # Where Fulcrum lost them, from its exit report (tx_full: the generator's side of the
  # memif ring was full, i.e. the generator fell behind).
  drops=$(sed -n '/drops by reason/,/== listeners/p' "$DIR/mid.out" | awk '!/==|none/ { printf "%s%s %s", (n++ ? ", " : ""), $1, $2 }')
  echo "${drops:-none}" > "$DIR/upd-drops"
  echo "$(field done_mps) $(field lost)"
}
read -r w_mpps w_lost <<< "$(upd_run with)"; w_drops=$(cat "$DIR/upd-drops"); w_upd=$(cat "$DIR/upd-line")
read -r n_mpps n_lost <<< "$(upd_run without)"; n_drops=$(cat "$DIR/upd-drops")
printf '  at %s pps: with updates %s Mpps, lost %s (Fulcrum drops: %s; %s); without %s Mpps, lost %s (Fulcrum drops: %s)\n' \
  "$half" "$w_mpps" "$w_lost" "$w_drops" "$w_upd" "$n_mpps" "$n_lost" "$n_drops"
row '| forwarding at 50%% load with 100 updates/s (the baseline column: Fulcrum without updates) | %s Mpps, lost %s (drops: %s; %s) | %s Mpps, lost %s (drops: %s) | | |' \
  "$w_mpps" "$w_lost" "$w_drops" "$w_upd" "$n_mpps" "$n_lost" "$n_drops"
