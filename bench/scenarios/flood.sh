# flood: 1,000 established TCP flows carry 64 B data at 50% of the forward maximum
# (forward's TCP 64 B result, or 2 Mpps) while fulcrum-gen sends spoofed frames (sources
# in 172.16.0.0/12) as fast as its port takes them. Fulcrum's table holds 100k
# connections and one laddr (60k lports), so a UDP flood fills both. The same floods from
# IPv6 sources (2001:db8:99::/64) at an IPv6 VIP (6->4 to the same backends) beside them.
#   parameters  flood syn (SynProxy auto, off), udp (auto); syn6, udp6 likewise
#   rows        the flood's rate, established frames lost, Fulcrum's table at the end, flood
#               frames that reached a backend, cookies, evictions; the baseline: no flood
log "flood: spoofed SYN / UDP floods beside 1,000 established TCP flows at 50% load"
touch "$OUT/results.jsonl"
half_tcp=$(python3 "$ROOT/bench/config.py" half "$OUT/results.jsonl" tcp)
base=$(config_for 1000 1 100000)
python3 "$ROOT/bench/config.py" ipv6 "$base" > "$DIR/cfg-flood-base6.json" # the IPv6 VIP 2001:db8::10 beside
flood_run() { # flood_run none|syn|udp|syn6|udp6 auto|off: prints "Mpps-done lost table flood-Mpps at-backends cookies evicted"
  python3 "$ROOT/bench/config.py" flood "$DIR/cfg-flood-base6.json" "$2" > "$DIR/cfg-flood.json"
  start_fulcrum "$DIR/cfg-flood.json"
  run_gen --mode stream --proto tcp --flows 1000 --rate "$half_tcp" --duration "$SECONDS_PER_RUN" --flood "$1"
  record "{\"scenario\":\"flood\",\"box\":\"fulcrum\",\"syn_proxy\":\"$2\",\"rate\":$half_tcp}"
  local table cookies evicted
  table=$(sed -n 's/.*: table \([0-9]*\/[0-9]*\).*/\1/p' "$DIR/mid.out" | tail -1)
  cookies=$(sed -n 's/.* syn cookies sent \([0-9]*\),.*/\1/p' "$DIR/mid.out" | tail -1)
  evicted=$(sed -n 's/.* evicted \([0-9]*\),.*/\1/p' "$DIR/mid.out" | tail -1)
  echo "$(field done_mps) $(field lost) ${table:-?} $(field flood_mps) $(field flood_at_backends) ${cookies:-0} ${evicted:-0}"
}
read -r b_done b_lost b_table _ <<< "$(flood_run none auto)"
printf '  flood none proxy auto: established %s Mpps lost %s, table %s\n' "$b_done" "$b_lost" "$b_table"
for spec in "syn auto" "syn6 auto" "syn off" "syn6 off" "udp auto" "udp6 auto"; do
  # shellcheck disable=SC2086
  read -r done lost table fmps back cookies evicted <<< "$(flood_run $spec)"
  printf '  flood %-4s proxy %-4s: flood %s Mpps, established %s Mpps lost %s, table %s, at backends %s, cookies %s, evicted %s\n' \
    "${spec% *}" "${spec#* }" "$fmps" "$done" "$lost" "$table" "$back" "$cookies" "$evicted"
  row '| flood %s (SynProxy %s) beside 1,000 flows at %s pps | %s Mpps spoofed; established lost %s; table %s; at backends %s; cookies %s; evicted %s | no flood: lost %s, table %s | | |' \
    "${spec% *}" "${spec#* }" "$half_tcp" "$fmps" "$lost" "$table" "$back" "$cookies" "$evicted" "$b_lost" "$b_table"
done
