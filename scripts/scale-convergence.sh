#!/usr/bin/env bash
# How close short runs get to a long run at ~800 stops: carefill on the team
# week and on generated 800-customer VRPTW instances, and PyVRP (the strongest
# VRPTW peer) on the same VRPTW instances, all on this machine. It tells whether
# a convergence target for the team week asks more than a peer does on plain
# VRPTW of the same size.
#
# Usage: scripts/scale-convergence.sh [SEEDS...]      (default seeds: 1 2 3)
#   LIMITS="1 10"  time limits in seconds, shortest first; the last is the
#                  reference the others are compared with (default "1 10").
#   PEERS_PY=/path/to/python  a Python with pyvrp (default /tmp/peers/bin/python;
#   set up with: python3 -m venv /tmp/peers && /tmp/peers/bin/pip install pyvrp numpy).
#   Without it the PyVRP rows are skipped.
#   CAREFILL_BIN=path         a prebuilt carefill binary instead of building one.
#   TEAM_WEEK=0               skip the team-week rows.
#
# Prints one Markdown row per run: what, seed, the objective at each limit, and
# how far each shorter limit's result is above the last one's.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
read -r -a limits <<<"${LIMITS:-1 10}"
[ ${#limits[@]} -ge 2 ] || { echo "scale-convergence: LIMITS needs two or more limits" >&2; exit 2; }
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

row() { # what seed value... (the last value is the reference)
  local what=$1 seed=$2
  shift 2
  awk -v w="$what" -v s="$seed" -v vals="$*" 'BEGIN {
    n = split(vals, v, " "); ref = v[n]; out = "| " w " | " s
    for (i = 1; i <= n; i++) out = out sprintf(" | %.1f", v[i])
    for (i = 1; i < n; i++) out = out sprintf(" | %+.2f%%", 100 * (v[i] - ref) / ref)
    print out " |" }'
}
team() { # seconds seed
  "$bin" solve fixtures/team_week.json --time-limit "$1" --seed "$2" --out "$work/rota.json" >/dev/null 2>&1
  jq -r '.stats.objective' "$work/rota.json"
}
vrptw() { # file seconds seed
  "$bin" bench-instance "$1" --format solomon --time-limit "$2" --seed "$3" --json | jq -r '.objective'
}
peer() { # file seconds
  "$py" scripts/peers-solomon.py pyvrp "$1" "$2" | awk '{ print $3 }'
}
each() { # function args-before-limit... ; runs it at every limit
  local fn=$1 arg=$2 seed=$3 out=()
  for t in "${limits[@]}"; do
    case $fn in
      team) out+=("$(team "$t" "$seed")") ;;
      vrptw) out+=("$(vrptw "$arg" "$t" "$seed")") ;;
      peer) out+=("$(peer "$arg" "$t")") ;;
    esac
  done
  echo "${out[*]}"
}

last=${limits[${#limits[@]} - 1]}
header="| run | seed"
rule="|---|---"
for t in "${limits[@]}"; do header+=" | $t s"; rule+="|---:"; done
for t in "${limits[@]::${#limits[@]}-1}"; do header+=" | $t s above $last s"; rule+="|---:"; done
echo "$header |"
echo "$rule|"
if [ "${TEAM_WEEK:-1}" != 0 ]; then
  for s in "${seeds[@]}"; do
    # shellcheck disable=SC2046
    row "carefill, team week (objective)" "$s" $(each team - "$s")
  done
fi
for s in "${seeds[@]}"; do
  f="$work/G800_$s.txt"
  python3 scripts/gen-vrptw.py 800 "$s" >"$f"
  # shellcheck disable=SC2046
  row "carefill, VRPTW 800 (distance)" "$s" $(each vrptw "$f" "$s")
  if [ "$have_pyvrp" = 1 ]; then
    # shellcheck disable=SC2046
    row "PyVRP, VRPTW 800 (distance)" "$s" $(each peer "$f" "$s")
  fi
done
[ "$have_pyvrp" = 1 ] || echo "(PyVRP rows skipped: no pyvrp in $py)" >&2
