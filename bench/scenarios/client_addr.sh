# client_addr: 64 B flows with ProxyProtocolV2Enabled (TCP, UDP) or ToaEnabled (TCP) on,
# beside the same listeners with both off, alternating within each round (at least three).
# With either on, a connection has a 16-byte side entry that each client packet reads; a
# UDP datagram also grows by the 28-byte header. Measured two ways:
#  - the worker alone (net_pcap replay, steady: no generator on the path); the TCP capture
#    is every flow's SYN and ACK then eight data segments each, with sequence numbers
#    moving on (TOA goes on the ACK and the first segment only): TCP at 1k and 10k flows,
#    UDP at 1k and 100k (the captures live in mbufs, 10 frames per TCP flow);
#  - through the generator on memif, TCP at CLIENT_ADDR_MEMIF_FLOWS (1M) flows (its
#    backends count the header segments apart from data).
#   rows  HOW PROTO 64 B, FLOWS flows, MODE on (the baseline column: off, same run)
ca_rounds=$(( ROUNDS > 3 ? ROUNDS : 3 ))
ca_configs() { # ca_configs FLOWS: the base config and one per client-address field
  local base; base=$(config_for "$1")
  for m in ProxyProtocolV2Enabled ToaEnabled; do python3 "$ROOT/bench/config.py" client_addr "$base" "$m" > "$DIR/cfg-$1-$m.json"; done
  cp "$base" "$DIR/cfg-$1-off.json"
}
ca_rows() { # ca_rows FLOWS HOW: table rows from ca[proto:mode]
  local proto off on mode
  for proto in tcp udp; do
    [ -n "${ca[$proto:off]:-}" ] || continue
    # shellcheck disable=SC2086
    off=$(median ${ca[$proto:off]})
    for mode in ProxyProtocolV2Enabled ToaEnabled; do
      [ -n "${ca[$proto:$mode]:-}" ] || continue
      # shellcheck disable=SC2086
      on=$(median ${ca[$proto:$mode]})
      printf '  %9s flows %s 64 B %s: %s on %7.3f Mpps, off %7.3f Mpps (%s%%)\n' "$1" "$proto" "$2" "${mode%Enabled}" "$on" "$off" "$(ratio "$on" "$off")"
      row '| %s %s 64 B, %s flows, %s on (the baseline column: off, same run) | %.2f Mpps | %.2f Mpps | %s%% | |' \
        "$2" "$proto" "$1" "${mode%Enabled}" "$on" "$off" "$(ratio "$on" "$off")"
    done
  done
}
log "client_addr: 64 B flows, PROXY v2 and TOA vs off: worker alone (1k, 100k flows), memif (TCP, 1M flows)"
for spec in 1000:tcp,udp 10000:tcp 100000:udp; do
  flows=${spec%%:*} protos=${spec#*:}
  ca_configs "$flows"
  runs=()
  [[ "$protos" == *tcp* ]] && runs+=(tcp:off tcp:ProxyProtocolV2Enabled tcp:ToaEnabled)
  [[ "$protos" == *udp* ]] && runs+=(udp:off udp:ProxyProtocolV2Enabled)
  for proto in ${protos//,/ }; do
    data=0; [ "$proto" = tcp ] && data=$(( 8 * flows ))
    capture "$DIR/ca-$proto-$flows.pcap" "$proto" "$flows" "$data"
  done
  declare -A ca=()
  for r in $(seq 1 "$ca_rounds"); do
    for run in "${runs[@]}"; do
      proto=${run%%:*} mode=${run#*:} frames=$flows
      [ "$proto" = tcp ] && frames=$(( 10 * flows ))
      a=$(alone fulcrum "$flows" "$DIR/cfg-$flows-$mode.json" "$DIR/ca-$proto-$flows.pcap" "$frames" "\"client_addr\":\"$proto:$mode\"")
      ca[$run]="${ca[$run]:-} $a"
    done
  done
  ca_rows "$flows" "worker alone"
  unset ca
done
for flows in ${CLIENT_ADDR_MEMIF_FLOWS:-1000000}; do
  ca_configs "$flows"
  declare -A ca=()
  for r in $(seq 1 "$ca_rounds"); do
    for mode in off ProxyProtocolV2Enabled ToaEnabled; do
      start_fulcrum "$DIR/cfg-$flows-$mode.json"
      run_gen --mode stream --proto tcp --flows "$flows" --size 64 --duration "$SECONDS_PER_RUN"
      ca[tcp:$mode]="${ca[tcp:$mode]:-} $(field done_mps)"
      record "{\"scenario\":\"client_addr\",\"box\":\"fulcrum\",\"client_addr\":\"$mode\"}"
    done
  done
  ca_rows "$flows" "memif"
  unset ca
done
