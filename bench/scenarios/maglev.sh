# maglev: the Maglev table build on the control side (bench/maglev_bench.cpp), M = 65537,
# 1,000 backends, weighted and equal weights (the paper's case), median of 50.
#   rows  Maglev build | weighted ms | equal weights ms | target <= 2 ms
log "maglev: table build, M = 65537, 1,000 backends"
"$BUILD/bench/maglev_bench" 65537 1000 50 | tee "$DIR/maglev"
sed -n 's/^maglev-json: //p' "$DIR/maglev" | python3 -c "import json,sys; d=json.load(sys.stdin); d['scenario']='maglev'; print(json.dumps(d))" >> "$OUT/results.jsonl"
mw=$(sed -n 's/.*"weighted_median_ms":\([0-9.]*\).*/\1/p' "$DIR/maglev"); me=$(sed -n 's/.*"equal_median_ms":\([0-9.]*\).*/\1/p' "$DIR/maglev")
row '| Maglev build M=65537, 1,000 backends (median) | %s ms weighted | %s ms equal weights (paper) | target <= 2 ms | |' "$mw" "$me"
