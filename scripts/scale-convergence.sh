#!/usr/bin/env bash
# How close a 1 s run gets to a 10 s run at ~800 stops: carefill on the team
# week and on generated 800-customer VRPTW instances, and PyVRP (the strongest
# VRPTW peer) on the same VRPTW instances, all on this machine.
#
# Usage: scripts/scale-convergence.sh [SEEDS...]      (default seeds: 1 2 3)
#   PEERS_PY=/path/to/python  a Python with pyvrp (default /tmp/peers/bin/python;
#   set up with: python3 -m venv /tmp/peers && /tmp/peers/bin/pip install pyvrp numpy).
#   Without it the PyVRP rows are skipped.
#   CAREFILL_BIN=path         a prebuilt carefill binary instead of building one.
#
# Prints one Markdown row per run: what, seed, objective at 1 s, at 10 s, and how
# far the 1 s result is above the 10 s one. Takes ~1 minute per seed.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
command -v jq >/dev/null 2>&1 || { echo "scale-convergence: jq is required" >&2; exit 2; }
if [ -n "${CAREFILL_BIN:-}" ]; then
  bin=$CAREFILL_BIN
else
  cargo build --release -p carefill-api >&2
  bin=target/release/carefill
fi
py=${PEERS_PY:-/tmp/peers/bin/python}
have_pyvrp=0
"$py" -c 'import pyvrp' 2>/dev/null && have_pyvrp=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

row() { # what seed a b
  awk -v w="$1" -v s="$2" -v a="$3" -v b="$4" \
    'BEGIN { printf "| %s | %s | %.1f | %.1f | %+.2f%% |\n", w, s, a, b, 100 * (a - b) / b }'
}
team() { # seconds seed
  "$bin" solve fixtures/team_week.json --time-limit "$1" --seed "$2" --out "$work/rota.json" >/dev/null 2>&1
  jq -r '.stats.objective' "$work/rota.json"
}
vrptw() { # file seconds
  "$bin" bench-instance "$1" --format solomon --time-limit "$2" --json | jq -r '.objective'
}
peer() { # file seconds
  "$py" scripts/peers-solomon.py pyvrp "$1" "$2" | awk '{ print $3 }'
}

echo "| run | seed | 1 s | 10 s | 1 s above 10 s |"
echo "|---|---|---|---|---|"
for s in "${seeds[@]}"; do
  row "carefill, team week (objective)" "$s" "$(team 1 "$s")" "$(team 10 "$s")"
done
for s in "${seeds[@]}"; do
  f="$work/G800_$s.txt"
  python3 scripts/gen-vrptw.py 800 "$s" >"$f"
  row "carefill, VRPTW 800 (distance)" "$s" "$(vrptw "$f" 1)" "$(vrptw "$f" 10)"
  if [ "$have_pyvrp" = 1 ]; then
    row "PyVRP, VRPTW 800 (distance)" "$s" "$(peer "$f" 1)" "$(peer "$f" 10)"
  fi
done
[ "$have_pyvrp" = 1 ] || echo "(PyVRP rows skipped: no pyvrp in $py)" >&2
