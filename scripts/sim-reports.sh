#!/usr/bin/env bash
# Regenerates the shipped brokerage-simulation reports in docs/simulation/:
# one directory per policy-comparison scenario (report.html with its SVG
# charts, report.json, summary.csv, runs.csv, fill_times.csv, daily.csv), and
# docs/simulation/summary.csv / summary.json joining every scenario's summary
# (a scenario column first). Each scenario runs its policies on the same
# seeds (common random numbers), so differences between policies are the
# policies'.
#
# Usage: scripts/sim-reports.sh [SEEDS [SCENARIO...]]   (default: 3 seeds, all four)
#   SCENARIO: sim_policy_small (the small county, one week: minutes),
#   sim_policy_comparison, sim_policy_winter, sim_policy_failure (the
#   Devon-like county, 28 days: each (policy, seed) is minutes of CPU).
# Needs a release build (it builds one if missing; CAREFILL_BIN=path uses that binary).
# The joint summary covers every scenario directory in docs/simulation/, run now or before.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-3}"
shift || true
bin=${CAREFILL_BIN:-target/release/carefill}
if [[ ! -x $bin ]]; then
    cargo build --release -p carefill-api
fi
out=docs/simulation
mkdir -p "$out"
scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
    scenarios=(sim_policy_small sim_policy_comparison sim_policy_winter sim_policy_failure)
fi
for s in "${scenarios[@]}"; do
    dir="$out/${s#sim_}"
    echo "== $s ($seeds seeds) -> $dir" >&2
    /usr/bin/time -f "$s: %e s wall, %M KB peak RSS" \
        "$bin" simulate "fixtures/$s.json" --seeds "$seeds" --out "$dir" 2>&1 | tee "$dir.txt"
done
# One table of every scenario's summary, and the same as JSON.
{
    echo "scenario,policy,metric,mean,lo,hi,n"
    for f in "$out"/*/summary.csv; do
        name=$(basename "$(dirname "$f")")
        tail -n +2 "$f" | sed "s/^/$name,/"
    done
} >"$out/summary.csv"
python3 - "$out" <<'EOF'
import csv, json, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/summary.csv")))
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
summary = {}
for r in rows:
    summary.setdefault(r["scenario"], {}).setdefault(r["policy"], {})[r["metric"]] = {
        "mean": num(r["mean"]), "lo": num(r["lo"]), "hi": num(r["hi"]), "n": int(r["n"] or 0)}
json.dump({"devon_targets": {"share_filled_within_90_min": 0.70, "share_filled_within_240_min": 0.97},
           "scenarios": summary}, open(f"{out}/summary.json", "w"), indent=1, sort_keys=True)
EOF
echo "wrote $out/summary.csv and $out/summary.json" >&2
