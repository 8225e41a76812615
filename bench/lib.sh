# The benchmark helpers scripts/bench and its scenarios (bench/scenarios/*.sh) share.
# Sourced after scripts/common.sh; scripts/bench sets DIR (scratch), OUT (results), MEM,
# GEN_MEM, ZC, FGEN, SECONDS_PER_RUN, ROUNDS. A helper prints its result on stdout (or
# into $DIR/last.json for the generator); failed runs and table rows go to files, so a
# helper may run in a $(...) subshell.

RUN_FILE="$DIR/run"; echo 0 > "$RUN_FILE"
next_run() { local n; n=$(( $(cat "$RUN_FILE") + 1 )); echo "$n" > "$RUN_FILE"; echo "$n"; }
failed() { printf '%s\n' "$*" >> "$DIR/failed"; }           # a run that gave no result
row() { printf "$@" >> "$DIR/rows"; echo >> "$DIR/rows"; }  # a line of the summary table
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0) ? 100 * a / b : 0 }'; }
times() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
kilo() { awk -v a="$1" 'BEGIN { print a * 1000 }'; }
# ONLY="flood cps" runs those scenarios alone (development); the default is all of them.
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

# The base config for FLOWS concurrent flows (60,000 lports per laddr, a few to spare);
# prints its path.
config_for() { # config_for FLOWS [LADDRS CAPACITY]
  local f="$DIR/cfg-$1${2:+-$2-$3}.json"
  [ -f "$f" ] || python3 "$ROOT/bench/config.py" base "$1" "${2:-$(( $1 / 60000 + 4 ))}" "${3:-$(( $1 + $1 / 16 + 65536 ))}" > "$f"
  echo "$f"
}

wait_for() { # wait_for FILE PATTERN SECONDS (PATTERN: alternatives joined by \|)
  # Bash alone reads the file: a grep forked every 100 ms would land on the cores the
  # generator and the middle box are measured on.
  local i text alt
  for i in $(seq 1 $(( $3 * 4 ))); do
    text=""; [ -f "$1" ] && { IFS= read -r -d "" text < "$1" || true; } # read's status is 1 at EOF
    while IFS= read -r alt; do [[ "$text" == *"$alt"* ]] && return 0; done <<< "${2//\\|/$'\n'}"
    sleep 0.25
  done
  echo "bench: no '$2' in $1 after $3 s:" >&2; tail -5 "$1" >&2; return 1
}
memif_args() { # memif_args ROLE: the two --vdev arguments of one side of the current run
  local s="$DIR/run$(cat "$RUN_FILE")"
  if [ "$1" = server ]; then
    echo "--vdev net_memif0,role=server,socket=$s-0.sock,id=0 --vdev net_memif1,role=server,socket=$s-1.sock,id=0"
  else
    echo "--vdev net_memif0,role=client,socket=$s-0.sock,id=0,mac=02:00:00:00:01:01$ZC --vdev net_memif1,role=client,socket=$s-1.sock,id=0,mac=02:00:00:00:02:01$ZC"
  fi
}
start_fulcrum() { # start_fulcrum CONFIG [fulcrum options]: the middle box (FULCRUM_BIN: another build's)
  next_run > /dev/null
  local cfg=$1; shift
  rm -f "$DIR/mid.out" # wait_for must not read the previous run's output
  # shellcheck disable=SC2046,SC2086
  "${FULCRUM_BIN:-$BUILD/src/fulcrum/fulcrum}" -l 0,1 --no-pci --file-prefix "flb$$" $MEM --log-level 'lib.eal:error' \
    $(memif_args server) -- --config "$cfg" "$@" > "$DIR/mid.out" 2>&1 &
  echo $! > "$DIR/mid.pid"
  wait_for "$DIR/mid.out" "bytes per connection" 60
}
start_testpmd() { # start_testpmd MODE (5tswap | io)
  next_run > /dev/null
  rm -f "$DIR/mid.out"
  # Its main lcore waits on a silent stdin (a FIFO scripts/bench holds open), so it does
  # not compete with the generator for lcore 0.
  # shellcheck disable=SC2046,SC2086
  stdbuf -oL dpdk-testpmd -l 0,1 --no-pci --file-prefix "flb$$" $MEM --log-level 'lib.eal:error' \
    $(memif_args server) -- --forward-mode="${1:-5tswap}" < "$DIR/stdin" > "$DIR/mid.out" 2>&1 &
  echo $! > "$DIR/mid.pid"
  # Its memif ports come up when the generator connects (testpmd checks links meanwhile).
  wait_for "$DIR/mid.out" "Checking link statuses" 60
}
stop() { # stop PIDFILE: SIGINT, wait
  local p; p=$(cat "$1" 2>/dev/null || true); rm -f "$1"
  [ -n "$p" ] && { kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; }
  return 0
}
# Run the generator against the middle box, then stop both; the JSON line of the run is
# left in $DIR/last.json (an empty object when the run failed).
run_gen() { # run_gen [fulcrum-gen options]
  rm -f "$DIR/gen.out"
  # shellcheck disable=SC2046,SC2086
  "$FGEN" -l 0 --no-pci --file-prefix "flbg$$" $GEN_MEM --log-level 'lib.eal:error' $(memif_args client) -- \
    --client-port net_memif0 --server-port net_memif1 --vport 80 --hold "$@" > "$DIR/gen.out" 2>&1 &
  echo $! > "$DIR/gen.pid"
  wait_for "$DIR/gen.out" "fulcrum-gen-json\|did not finish\|error\|failed" 400 || true
  grep -h "flows open" "$DIR/gen.out" >&2 || true
  sleep 0.2
  if [ -n "${RSS_PROBE:-}" ]; then grep VmRSS "/proc/$(pgrep -f "file-prefix flb$$ " | head -1)/status" > "$DIR/rss" 2>/dev/null || true; fi
  # A memif peer must not vanish while the other forwards: the generator holds (--hold),
  # the middle box goes first.
  stop "$DIR/mid.pid"; stop "$DIR/gen.pid"
  sed -n 's/^fulcrum-gen-json: //p' "$DIR/gen.out" > "$DIR/last.json"
  if [ ! -s "$DIR/last.json" ]; then
    # A failed run is a failure of the bench, not a 0 in the table.
    echo "{}" > "$DIR/last.json"; sed 's/^/    gen: /' "$DIR/gen.out" | tail -3 >&2
    failed "fulcrum-gen $*"
  elif ! python3 -c "import json,sys; sys.exit(0 if json.load(open('$DIR/last.json')).get('done_mps', 0) > 0 else 1)"; then
    failed "fulcrum-gen $* (completed nothing)" # a 0 in the table is a failure too
  fi
}
field() { python3 -c "import json,sys; print(json.load(open('$DIR/last.json')).get('$1', 0))"; }
record() { # record SCENARIO-JSON-FIELDS: the last run's line, with these fields, into results.jsonl
  python3 -c "import json,sys; d=json.load(open('$DIR/last.json')); d.update(json.loads(sys.argv[1])); print(json.dumps(d))" "$1" >> "$OUT/results.jsonl"
}
# testpmd's median Rx rate (Mpps) over its per-second stats, the first two dropped.
testpmd_rate() { awk '/Rx-pps:/ { n++; if (n > 2) printf "%.3f\n", $2 / 1e6 }' | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }

# One process, no generator: net_pcap replays a fulcrum-gen capture (looped with
# infinite_rx) into Fulcrum's one worker or testpmd 5tswap, tx dropped. net_pcap holds the
# whole capture in mbufs (FRAMES of them), so flow counts stay at 100k. Prints Mpps.
alone() { # alone BOX FLOWS [CONFIG [PCAP [FRAMES [TAG]]]]
  local cfg=${3:-$DIR/cfg-$2.json} pcap=${4:-$DIR/alone-$2.pcap} a
  local vdev="net_pcap0,rx_pcap=$pcap,infinite_rx=1" mbufs=$(( ${5:-$2} + 65536 ))
  if [ "$1" = fulcrum ]; then
    python3 "$ROOT/bench/config.py" alone "$cfg" "$mbufs" > "$DIR/alone.json"
    # shellcheck disable=SC2086
    "${FULCRUM_BIN:-$BUILD/src/fulcrum/fulcrum}" -l 0,1 --no-pci --file-prefix "flba$$" $MEM --log-level 'lib.eal:error' \
      --vdev "$vdev" -- --config "$DIR/alone.json" --duration "$SECONDS_PER_RUN" --warmup 2 > "$DIR/alone.out" 2>&1 || true
    a=$(sed -n 's/.*rx \([0-9.]*\) Mpps, tx \([0-9.]*\) Mpps.*/\2/p' "$DIR/alone.out")
  else
    # shellcheck disable=SC2086
    a=$( { timeout -s INT $((SECONDS_PER_RUN + 2)) dpdk-testpmd -l 0,1 --no-pci --file-prefix "flba$$" $MEM \
      --log-level 'lib.eal:error' --vdev "$vdev" -- --forward-mode=5tswap --total-num-mbufs="$mbufs" \
      --stats-period 1 < "$DIR/stdin" 2>/dev/null || true; } | testpmd_rate)
  fi
  [ -n "$a" ] || failed "alone $1 $2 flows"
  echo "{\"scenario\":\"alone\",\"box\":\"$1\",\"flows\":$2,\"done_mps\":${a:-0}${6:+,$6}}" >> "$OUT/results.jsonl"
  echo "${a:-0}"
}
# A capture of FLOWS flows' client frames for alone() (UDP: one datagram per flow).
capture() { # capture FILE PROTO FLOWS [DATA_FRAMES]
  "$FGEN" -- --pcap "$1" --mode stream --proto "$2" --flows "$3" --vip 10.0.0.10 --vport 80 --client-ip 10.1.0.1 \
    ${4:+--pcap-frames "$4"} > /dev/null
}
