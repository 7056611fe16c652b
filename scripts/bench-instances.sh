#!/usr/bin/env bash
# Runs every benchmark instance of a folder through `carefill bench-instance` and prints a
# Markdown table of objective vs best known.
#
# Usage: scripts/bench-instances.sh DIR FORMAT TIME_LIMIT [EXTRA_ARGS...]
#   DIR         folder of instance files (*.txt), e.g. ../shared/benchmarks/solomon
#   FORMAT      solomon | mankowska
#   TIME_LIMIT  seconds per instance
#   EXTRA_ARGS  passed on to bench-instance, e.g. --objective vehicles
# Example: scripts/bench-instances.sh ../shared/benchmarks/mankowska mankowska 5
#
# Each run must print one JSON line with --json:
#   {"instance","objective","distance","vehicles","best_known","gap_pct","seconds"}
# Needs jq. CAREFILL_BIN=path uses a prebuilt binary instead of building one.
# A failing instance gets a row saying so; the script then exits 1.
set -euo pipefail

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 3 ] || usage
dir=$1
format=$2
limit=$3
shift 3
case "$format" in
  solomon | mankowska) ;;
  *) echo "bench-instances: FORMAT must be solomon or mankowska, got '$format'" >&2; usage ;;
esac
[ -d "$dir" ] || { echo "bench-instances: no such directory: $dir" >&2; exit 2; }
command -v jq >/dev/null 2>&1 || { echo "bench-instances: jq is required" >&2; exit 2; }

dir=$(cd "$dir" && pwd)
cd "$(dirname "$0")/.."
if [ -n "${CAREFILL_BIN:-}" ]; then
  bin=$CAREFILL_BIN # a prebuilt binary: skip the build
else
  cargo build --release -p carefill-api >&2
  bin="${CARGO_TARGET_DIR:-target}/release/carefill"
fi

mapfile -t files < <(find "$dir" -maxdepth 1 -type f -name '*.txt' | sort -V)
[ ${#files[@]} -gt 0 ] || { echo "bench-instances: no *.txt instances in $dir" >&2; exit 2; }

# Formats a JSON number to $1 decimals; null or missing gives "-".
num() {
  if [ -z "$2" ] || [ "$2" = "null" ]; then printf -- '-'; else printf "%.${1}f" "$2"; fi
}

echo "| instance | objective | best known | gap % | vehicles | seconds |"
echo "|---|---:|---:|---:|---:|---:|"
failed=0
gap_sum=0
gap_n=0
for f in "${files[@]}"; do
  name=$(basename "$f" .txt)
  if ! out=$("$bin" bench-instance "$f" --format "$format" --time-limit "$limit" --json "$@" 2>/tmp/bench-instances.$$.err); then
    echo "| $name | failed: $(tail -n1 /tmp/bench-instances.$$.err | tr '|' '/') | | | | |"
    failed=1
    continue
  fi
  line=$(printf '%s\n' "$out" | grep '^{' | tail -n1 || true)
  if [ -z "$line" ] || ! row=$(jq -r '[.instance, .objective, .best_known, .gap_pct, .vehicles, .seconds] | map(tostring) | @tsv' <<<"$line" 2>/dev/null); then
    echo "| $name | failed: no JSON line in the output | | | | |"
    failed=1
    continue
  fi
  IFS=$'\t' read -r inst obj best gap veh secs <<<"$row"
  echo "| $inst | $(num 3 "$obj") | $(num 3 "$best") | $(num 2 "$gap") | $veh | $(num 1 "$secs") |"
  if [ "$gap" != "null" ]; then
    gap_sum=$(awk -v a="$gap_sum" -v b="$gap" 'BEGIN { print a + b }')
    gap_n=$((gap_n + 1))
  fi
done
rm -f /tmp/bench-instances.$$.err
if [ "$gap_n" -gt 0 ]; then
  echo
  echo "Mean gap over $gap_n instance(s) with a best-known value: $(awk -v s="$gap_sum" -v n="$gap_n" 'BEGIN { printf "%.2f", s / n }') %"
fi
exit "$failed"
