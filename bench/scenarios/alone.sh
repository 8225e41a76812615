# alone: the worker with no generator on the path: net_pcap replays a fulcrum-gen capture
# (one UDP datagram per flow, looped) into Fulcrum's one worker or testpmd 5tswap.
#   parameters  1k and 100k flows, UDP 64 B; ROUNDS
#   rows        worker alone (net_pcap replay), udp 64 B, FLOWS flows | Fulcrum | 5tswap | ratio
log "alone: one worker fed by net_pcap infinite_rx (no generator on the path), UDP 64 B"
for flows in 1000 100000; do
  config_for "$flows" > /dev/null
  # The capture's destination MAC: Fulcrum's net_pcap port answers to any (promiscuous).
  capture "$DIR/alone-$flows.pcap" udp "$flows"
  fa=(); ta=()
  for r in $(seq 1 "$ROUNDS"); do
    ta+=("$(alone testpmd "$flows")")
    fa+=("$(alone fulcrum "$flows")")
  done
  f=$(median "${fa[@]}"); t=$(median "${ta[@]}")
  printf '  %9s flows: fulcrum %7.3f Mpps   testpmd 5tswap %7.3f Mpps   %s%%\n' "$flows" "$f" "$t" "$(ratio "$f" "$t")"
  row '| worker alone (net_pcap replay), udp 64 B, %s flows | %.2f Mpps | %.2f Mpps | %s%% | |' "$flows" "$f" "$t" "$(ratio "$f" "$t")"
done
