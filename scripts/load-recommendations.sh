#!/usr/bin/env bash
# Recommendations under load (issue 19 §1): starts `carefill serve --demo` (release build) on
# 127.0.0.1:$PORT and runs wrk against POST /v1/recommendations?k=$K (broker key) with one demo
# referral (not referred) as the body, for $DURATION at 1 connection, then at 2 connections
# (2 wrk threads). Prints both wrk latency reports (p50/p90/p99: the 1-connection run is the
# top-k latency), the throughput ratio 2 connections / 1 connection, the machine's load, and the
# CPU time the server and wrk used per request in each run (both share the machine's cores).
# Needs wrk, jq, curl, python3 and /usr/bin/time.
# Usage: scripts/load-recommendations.sh   env: PORT=18183 DURATION=30s K=5 REFERRAL=0
#        CAREFILL_BIN=path (skip the release build and use that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/load-common.sh
PORT=${PORT:-18183}
DURATION=${DURATION:-30s}
K=${K:-5}
REFERRAL=${REFERRAL:-0}
load_require wrk jq curl python3 /usr/bin/time
load_binary
load_start_demo "$PORT"
load_machine
key=$(load_key broker)
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
curl -sf "${auth[@]}" "$base/v1/demo/referrals" >"$tmp/demo.json"
jq -c ".referrals[$REFERRAL]" "$tmp/demo.json" >"$tmp/body.json"
url="$base/v1/recommendations?k=$K"
# One request by hand first: it must answer 200 with recommendations.
curl -sf "${auth[@]}" -X POST --data-binary @"$tmp/body.json" "$url" |
  jq -c '{package, teams_checked, recommendations: (.recommendations | length), elapsed_ms}'
python3 - "$tmp/body.json" "$key" >"$tmp/post.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
print('wrk.method = "POST"')
print('wrk.body = %s' % json.dumps(body))
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["Authorization"] = "Bearer %s"' % sys.argv[2])
print('''done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end''')
PY
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
# wrk at $1 connections; then the server's and wrk's CPU milliseconds per request.
run() {
  local c=$1 s0 s1
  echo "== $c connection(s): wrk -t$c -c$c -d$DURATION --latency POST /v1/recommendations?k=$K"
  s0=$(load_cpu_s "$pid")
  load_timed wrk -t"$c" -c"$c" -d"$DURATION" --latency -s "$tmp/post.lua" "$url" \
    >"$tmp/c$c.txt" 2>"$tmp/c$c.time"
  s1=$(load_cpu_s "$pid")
  cat "$tmp/c$c.txt"
  local n wrk_s
  n=$(awk '/requests in/ {print $1}' "$tmp/c$c.txt")
  wrk_s=$(awk '/^cpu:/ {print $2 + $6}' "$tmp/c$c.time")
  echo "cpu per request: server $(python3 -c "print(round(($s1 - $s0) * 1000 / $n, 2))") ms," \
    "wrk $(python3 -c "print(round($wrk_s * 1000 / $n, 2))") ms ($n requests); $(load_machine)"
}
run 1
run 2
echo "throughput: 1 connection $(rps "$tmp/c1.txt") req/s, 2 connections $(rps "$tmp/c2.txt") req/s," \
  "ratio $(python3 -c "print(round($(rps "$tmp/c2.txt") / $(rps "$tmp/c1.txt"), 2))")"
