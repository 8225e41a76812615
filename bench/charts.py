#!/usr/bin/env python3
"""Draws scripts/bench's charts from DIR/results.jsonl with gnuplot (pngcairo).

  forward.png   Mpps vs concurrent flows, Fulcrum and dpdk-testpmd 5tswap, per protocol/size
  cps.png       TCP connections per second (open + close), both
  latency.png   round-trip percentiles at 50% load, both
"""
import json
import os
import subprocess
import sys

out = sys.argv[1]
rows = [json.loads(line) for line in open(os.path.join(out, "results.jsonl")) if line.strip()]


def median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else 0


def write(name, lines):
    path = os.path.join(out, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


plot = ['set terminal pngcairo size 900,540 font "DejaVu Sans,11"', "set grid", "set key outside right"]

# Mpps vs flows, one line per (box, proto, size).
series = {}
for r in rows:
    if r.get("scenario") == "forward" and "done_mps" in r:
        series.setdefault((r["box"], r["proto"], r["frame_size"]), {}).setdefault(r["flows"], []).append(r["done_mps"])
# The baselines keep no per-flow state and run once per (protocol, size): drawn flat
# across the flow counts Fulcrum was measured at.
all_flows = sorted({f for (box, _, _), by in series.items() if box == "fulcrum" for f in by})
for (box, proto, size), by_flows in series.items():
    if box != "fulcrum" and len(by_flows) == 1:
        only = next(iter(by_flows.values()))
        for f in all_flows:
            by_flows.setdefault(f, only)
if series:
    plots = []
    for i, ((box, proto, size), by_flows) in enumerate(sorted(series.items())):
        dat = write(f"forward-{box}-{proto}-{size}.dat", [f"{k} {median(v)}" for k, v in sorted(by_flows.items())])
        dash = "dt 1" if box == "fulcrum" else "dt 2"
        plots.append(f"'{dat}' using 1:2 with linespoints lw 2 {dash} title '{box} {proto} {size} B'")
    plot += [f"set output '{out}/forward.png'", "set logscale x", "set xlabel 'concurrent flows'",
             "set ylabel 'Mpps (one worker core)'", "set yrange [0:*]",
             "set title \"Established-flow forwarding: Fulcrum full-NAT vs dpdk-testpmd\"",
             "plot " + ", ".join(plots), "unset logscale x"]


def bars(name, title, ylabel, groups):
    """groups: list of (label, fulcrum value, testpmd value)."""
    if not groups:
        return []
    dat = write(f"{name}.dat", [f'"{g}" {f} {t}' for g, f, t in groups])
    return [f"set output '{out}/{name}.png'", "set style data histogram", "set style histogram cluster gap 1",
            "set style fill solid 0.8 border -1", "set boxwidth 0.9", "set xlabel ''", f"set ylabel '{ylabel}'",
            "set yrange [0:*]", f'set title "{title}"',
            f"plot '{dat}' using 2:xtic(1) title 'fulcrum', '' using 3 title 'testpmd 5tswap'"]


def pick(scenario, box, key):
    return median([r.get(key, 0) for r in rows if r.get("scenario") == scenario and r.get("box") == box])


cps = [("TCP open+close", pick("cps", "fulcrum", "done_mps") * 1000, pick("cps", "testpmd", "done_mps") * 1000)]
plot += bars("cps", "Connections per second through one core (closed loop of 256)", "thousand connections/s",
             cps if cps[0][1] or cps[0][2] else [])
lat = [(p, pick("latency", "fulcrum", k), pick("latency", "testpmd", k))
       for p, k in (("p50", "lat_p50_us"), ("p99", "lat_p99_us"), ("p99.9", "lat_p999_us"))]
plot += bars("latency", "UDP round trip at 50% of Fulcrum's maximum (two crossings)", "microseconds",
             lat if any(f or t for _, f, t in lat) else [])
subprocess.run(["gnuplot"], input="\n".join(plot) + "\n", text=True, check=True)
print("charts:", ", ".join(sorted(f for f in os.listdir(out) if f.endswith(".png"))))
