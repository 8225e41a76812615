# ipv6: the worker alone (net_pcap replay, as "alone") on IPv6 flows beside IPv4 flows, in
# one run: 6->4 (IPv6 clients, IPv4 laddrs and backends, headers translated) and 6->6
# (IPv6 laddrs and backends), and what an IPv6 connection holds.
#   parameters  1k and 100k flows, UDP, 64-byte client frames; ROUNDS
#   rows        worker alone, udp 64 B, FLOWS flows, KIND | Fulcrum IPv6 | Fulcrum IPv4 (the same build, run) | ratio
#               and, at 1k flows, KIND with PROXY v2 on (the 52-byte AF_INET6 header on every
#               datagram) beside it off, alternating in the same run
log "ipv6: one worker fed by net_pcap (UDP, 64 B frames): IPv6 flows (6->4, 6->6) beside IPv4 flows"
for flows in 1000 100000; do
  config_for "$flows" > /dev/null
  python3 "$ROOT/bench/config.py" ipv6 "$DIR/cfg-$flows.json" > "$DIR/cfg6-$flows.json"
  [ -f "$DIR/alone-$flows.pcap" ] || capture "$DIR/alone-$flows.pcap" udp "$flows"
  python3 "$ROOT/bench/ipv6_capture.py" "$DIR/v6to4-$flows.pcap" "$flows" 80
  python3 "$ROOT/bench/ipv6_capture.py" "$DIR/v6to6-$flows.pcap" "$flows" 81
  for kind in 6to4 6to6; do
    va=(); fa=()
    for r in $(seq 1 "$ROUNDS"); do
      fa+=("$(alone fulcrum "$flows" "$DIR/cfg6-$flows.json" "$DIR/alone-$flows.pcap" "$flows" '"family":"ipv4"')")
      va+=("$(alone fulcrum "$flows" "$DIR/cfg6-$flows.json" "$DIR/v$kind-$flows.pcap" "$flows" "\"family\":\"$kind\"")")
    done
    v=$(median "${va[@]}"); f=$(median "${fa[@]}")
    printf '  %9s flows %s: %7.3f Mpps   IPv4 %7.3f Mpps   %s%%\n' "$flows" "$kind" "$v" "$f" "$(ratio "$v" "$f")"
    row '| worker alone, udp 64 B, %s flows, %s | %.2f Mpps | %.2f Mpps (IPv4) | %s%% | |' "$flows" "$kind" "$v" "$f" "$(ratio "$v" "$f")"
  done
done
# What a connection holds: Fulcrum's own start-up line (the table's allocation divided out).
held6=$(sed -n 's/.*an IPv6 connection takes \([0-9]*\) bytes.*/\1/p' "$DIR/alone.out" | head -1)
held4=$(sed -n 's/.*, \([0-9]*\) bytes per connection.*/\1/p' "$DIR/alone.out" | head -1)
printf '  bytes per connection held: IPv6 %s, IPv4 %s\n' "${held6:-?}" "${held4:-?}"
row '| bytes per connection held, IPv6 (pool entry beside the 64-byte one) | %s B | %s B (IPv4) | | |' "${held6:-?}" "${held4:-?}"
# PROXY v2 for IPv6 clients: every datagram grows by the 52-byte AF_INET6 header; IPv4
# clients' (the 28-byte AF_INET one) beside, in the same alternation.
python3 "$ROOT/bench/config.py" client_addr "$DIR/cfg6-1000.json" ProxyProtocolV2Enabled > "$DIR/cfg6pp-1000.json"
for kind in 6to4 6to6; do
  va=(); fa=(); pa=()
  for r in $(seq 1 "$ROUNDS"); do
    fa+=("$(alone fulcrum 1000 "$DIR/cfg6-1000.json" "$DIR/v$kind-1000.pcap" 1000 "\"family\":\"$kind\",\"client_addr\":\"off\"")")
    va+=("$(alone fulcrum 1000 "$DIR/cfg6pp-1000.json" "$DIR/v$kind-1000.pcap" 1000 "\"family\":\"$kind\",\"client_addr\":\"proxy_v2\"")")
    pa+=("$(alone fulcrum 1000 "$DIR/cfg6pp-1000.json" "$DIR/alone-1000.pcap" 1000 '"family":"ipv4","client_addr":"proxy_v2"')")
  done
  v=$(median "${va[@]}"); f=$(median "${fa[@]}"); p4=$(median "${pa[@]}")
  printf '       1000 flows %s PROXY v2 on: %7.3f Mpps   off %7.3f Mpps   %s%%   (IPv4 clients, on: %7.3f Mpps)\n' "$kind" "$v" "$f" "$(ratio "$v" "$f")" "$p4"
  row '| worker alone, udp 64 B, 1000 flows, %s, PROXY v2 on (the baseline column: off, same run) | %.2f Mpps | %.2f Mpps | %s%% | IPv4 clients with PROXY v2 on: %.2f Mpps |' "$kind" "$v" "$f" "$(ratio "$v" "$f")" "$p4"
done
