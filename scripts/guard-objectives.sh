#!/usr/bin/env bash
# Behaviour guard for refactors: objectives of fixed-iteration runs without the MILP (deterministic),
# seeds 1-5, on the team week, Solomon R101 and Mankowska 25_1. A refactor must leave this output
# byte-identical: `scripts/guard-objectives.sh > /tmp/after.txt && diff docs/guard-objectives.txt /tmp/after.txt`.
# Usage: scripts/guard-objectives.sh [ITERATIONS] (default 3000); CAREFILL_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${1:-3000}
BIN=${CAREFILL_BIN:-target/release/carefill}
[ -x "$BIN" ] || cargo build --release --locked -p carefill-api >&2
BENCH=${CAREFILL_BENCHMARKS:-../shared/benchmarks}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for seed in 1 2 3 4 5; do
  "$BIN" solve fixtures/team_week.json --time-limit 3600 --seed "$seed" --iterations "$ITER" --no-milp \
    --out "$tmp/rota.json" 2>"$tmp/err"
  obj=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.4f" % r["stats"]["objective"], r["kpis"]["visits_placed"], r["kpis"]["travel_min"])' "$tmp/rota.json")
  echo "team_week seed $seed: $obj"
done
for seed in 1 2 3 4 5; do
  for inst in "solomon/R101.txt solomon" "mankowska/InstanzCPLEX_HCSRP_25_1.txt mankowska"; do
    set -- $inst
    line=$("$BIN" bench-instance "$BENCH/$1" --format "$2" --time-limit 3600 --seed "$seed" \
      --iterations "$ITER" --no-milp --json)
    echo "$(basename "$1" .txt) seed $seed: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.4f %.4f unplaced %s feasible %s" % (d["objective"], d["engine_objective"], d["unplaced"], d["feasible"]))' "$line")"
  done
done
