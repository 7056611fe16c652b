#!/usr/bin/env bash
# Quality against time on the team week: the rota objective at several time
# limits for several seeds, the median per limit, and how far each median is
# above the longest limit's. Writes an SVG chart of the medians.
#
# Usage: scripts/quality-curve.sh [OUT_DIR]        (default /tmp/quality-curve)
#   LIMITS="1 2 5 10 30 60"  time limits in seconds (the last is the reference)
#   SEEDS="1 2 3 4 5"        seeds per limit
#   FIXTURE=fixtures/team_week.json
#   CAREFILL_BIN=path        a prebuilt carefill binary instead of building one
#
# Output: OUT_DIR/runs.csv (limit,seed,objective), OUT_DIR/curve.svg and a
# Markdown table on stdout. Takes the sum of LIMITS times the number of seeds
# (about 9 minutes with the defaults). Run it on a quiet machine: a time-limited
# search does less work when other processes take the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/quality-curve}
limits=(${LIMITS:-1 2 5 10 30 60})
seeds=(${SEEDS:-1 2 3 4 5})
fixture=${FIXTURE:-fixtures/team_week.json}
command -v jq >/dev/null 2>&1 || { echo "quality-curve: jq is required" >&2; exit 2; }
if [ -n "${CAREFILL_BIN:-}" ]; then
  bin=$CAREFILL_BIN
else
  cargo build --release --locked -p carefill-api >&2
  bin=target/release/carefill
fi
mkdir -p "$out"
echo "limit,seed,objective" >"$out/runs.csv"
for t in "${limits[@]}"; do
  for s in "${seeds[@]}"; do
    "$bin" solve "$fixture" --time-limit "$t" --seed "$s" --out "$out/rota.json" >/dev/null 2>&1
    echo "$t,$s,$(jq -r '.stats.objective' "$out/rota.json")" >>"$out/runs.csv"
  done
done
python3 - "$out" <<'EOF'
import csv, statistics, sys
out = sys.argv[1]
runs = {}
for r in csv.DictReader(open(f"{out}/runs.csv")):
    runs.setdefault(float(r["limit"]), []).append(float(r["objective"]))
limits = sorted(runs)
med = {t: statistics.median(runs[t]) for t in limits}
ref = med[limits[-1]]
print(f"| time limit | median objective | min - max | above the {limits[-1]:g} s median |")
print("|---:|---:|---:|---:|")
for t in limits:
    print(f"| {t:g} s | {med[t]:,.0f} | {min(runs[t]):,.0f} - {max(runs[t]):,.0f} | {100 * (med[t] - ref) / ref:+.2f}% |")
# A log-x line chart of the medians with the seeds' range as a band.
import math
W, H, L, R, T, B = 640, 360, 70, 20, 20, 50
lo = min(min(v) for v in runs.values()); hi = max(max(v) for v in runs.values())
pad = (hi - lo) * 0.08 or 1
lo, hi = lo - pad, hi + pad
x = lambda t: L + (math.log(t) - math.log(limits[0])) / (math.log(limits[-1]) - math.log(limits[0]) or 1) * (W - L - R)
y = lambda v: T + (hi - v) / (hi - lo) * (H - T - B)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="#333"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="#333"/>']
for t in limits:
    svg.append(f'<text x="{x(t):.1f}" y="{H-B+18}" text-anchor="middle">{t:g} s</text>')
for k in range(5):
    v = lo + (hi - lo) * k / 4
    svg.append(f'<text x="{L-6}" y="{y(v)+4:.1f}" text-anchor="end">{v:,.0f}</text>')
    svg.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{W-R}" y2="{y(v):.1f}" stroke="#eee"/>')
band = [(x(t), y(max(runs[t]))) for t in limits] + [(x(t), y(min(runs[t]))) for t in reversed(limits)]
svg.append('<polygon fill="#cfe3f7" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in band) + '"/>')
svg.append('<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="' + " ".join(f"{x(t):.1f},{y(med[t]):.1f}" for t in limits) + '"/>')
for t in limits:
    svg.append(f'<circle cx="{x(t):.1f}" cy="{y(med[t]):.1f}" r="3" fill="#1f5fa8"/>')
svg.append(f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">time limit (log scale); line: median over seeds, band: min-max</text>')
svg.append(f'<text x="14" y="{(T+H-B)/2}" transform="rotate(-90 14 {(T+H-B)/2})" text-anchor="middle">team-week objective (lower is better)</text>')
svg.append('</svg>')
open(f"{out}/curve.svg", "w").write("\n".join(svg) + "\n")
EOF
echo "wrote $out/runs.csv and $out/curve.svg" >&2
