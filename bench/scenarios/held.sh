# held: memory per connection with the largest flow count held (Fulcrum's own figure
# and the process's RSS). Reads what the forward scenario's largest run left in
# $DIR/held; alone (ONLY=held), it makes that run itself (UDP 64 B).
#   parameters  the largest of FLOWS_LIST
#   rows        concurrent connections held | FLOWS at B each (RSS MiB) | | target <= 128 B
if [ ! -s "$DIR/held" ]; then
  biggest=0
  for flows in $FLOWS_LIST; do [ "$flows" -gt "$biggest" ] && biggest=$flows; done
  start_fulcrum "$(config_for "$biggest")"
  RSS_PROBE=1 run_gen --mode stream --proto udp --flows "$biggest" --size 64 --duration "$SECONDS_PER_RUN"
  bpc=$(sed -n 's/.*, \([0-9]*\) bytes per connection.*/\1/p' "$DIR/mid.out")
  [ -s "$DIR/rss" ] && echo "$biggest ${bpc:-0} $(awk '{ print $2 }' "$DIR/rss")" > "$DIR/held"
fi
read -r held_flows bpc rss < "$DIR/held" || { held_flows=0 bpc=0 rss=0; failed "held: no RSS probe"; }
log "held: $held_flows connections (the largest forward run): Fulcrum's table $bpc B per connection, process RSS $((rss / 1024)) MiB"
row '| concurrent connections held | %s at %s B each (RSS %s MiB) | | target <= 128 B | |' "$held_flows" "$bpc" "$((rss / 1024))"
echo "{\"scenario\":\"held\",\"flows\":$held_flows,\"bytes_per_connection\":${bpc:-0},\"rss_kib\":${rss:-0}}" >> "$OUT/results.jsonl"
